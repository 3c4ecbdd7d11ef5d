# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vaultwarden_facts run as Ansible runs it: an engine below community.docker's API floor is reported, not hidden."""

from __future__ import annotations

import os

import pytest
import yaml

import module_runner as runner  # pylint: disable=import-error
from ansible_collections.homelab.vaultwarden.plugins.module_utils import planner
from ansible_collections.homelab.vaultwarden.plugins.module_utils.planner import PlanError


def request():
    with open(os.path.join(runner.ROOT, "roles", "vaultwarden", "defaults", "main.yml")) as handle:
        return planner.derive_request(yaml.safe_load(handle))


def libraries():
    folder = os.path.join(runner.ROOT, "roles", "vaultwarden", "files", "official-images")
    result = {}
    for name in ("mariadb", "mysql", "postgres"):
        with open(os.path.join(folder, name)) as handle:
            result[name] = handle.read()
    return result


def test_an_engine_below_api_1_25_is_reachable_and_refused_by_the_planner_naming_the_minimum():
    # Pinning the client to 1.24 is what an engine of Docker 1.12 negotiates to; community.docker refuses it itself.
    result = runner.run_module("vaultwarden_facts", {"api_version": "1.24", "docker_host": "unix:///nonexistent/docker.sock"})
    assert result["rc"] == 0, result
    engine = result["engine"]
    assert engine["reachable"] is True and engine["api_version"] == "1.24"
    assert "Minimum version required is 1.25" in engine["error"]
    with pytest.raises(PlanError) as refused:
        planner.plan_pull(request(), {"platform": {"platform": "linux/amd64"}, "engine": engine, "containers": {}}, libraries())
    message = str(refused.value)
    assert "1.24" in message and "1.25" in message and "Upgrade the Docker engine" in message
    assert "Install Docker" not in message


def test_a_missing_engine_is_unreachable_and_refused_as_missing():
    result = runner.run_module("vaultwarden_facts", {"docker_host": "unix:///nonexistent/docker.sock"})
    assert result["rc"] == 0, result
    assert result["engine"]["reachable"] is False and result["engine"]["api_version"] is None
    with pytest.raises(PlanError, match="no reachable Docker engine"):
        planner.plan_pull(request(), {"platform": {"platform": "linux/amd64"}, "engine": result["engine"], "containers": {}},
                          libraries())


def test_dump_leftovers_and_an_empty_data_dir_are_reported_and_planned_away(tmp_path):
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    for name in ("restore.sql", "vaultwarden.sql.tmp", "notes.txt"):
        (dumps / name).write_text("-- vault\n")
    (dumps / "sub.sql.tmp").mkdir()           # not a regular file: never listed, never removed
    data = tmp_path / "data"
    data.mkdir()
    result = runner.run_module("vaultwarden_facts", {
        "docker_host": "unix:///nonexistent/docker.sock", "dumps_dir": str(dumps), "networks": ["vaultwarden-net"],
        "ownership": {"path": str(data), "uid": os.getuid(), "gid": os.getgid()}})
    assert result["rc"] == 0, result
    assert result["dumps"] == {"exists": True, "files": ["notes.txt", "restore.sql", "vaultwarden.sql.tmp"]}
    assert result["ownership"]["exists"] and result["ownership"]["empty"]
    assert result["networks"] == {"vaultwarden-net": {"exists": False}}
    req = dict(request(), _dump_dir=str(dumps))
    assert planner._dump_leftovers(req, result) == [str(dumps / "restore.sql"), str(dumps / "vaultwarden.sql.tmp")]
