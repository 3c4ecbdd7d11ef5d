# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures that exercise the collection the way users get it: built, installed, called by Ansible.

``installed_collection`` builds the tarball with ``ansible-galaxy collection build`` and installs it
with ``ansible-galaxy collection install`` into a temporary collections path. ``run_playbook`` runs
``ansible-playbook`` against localhost from a scratch directory (so the checkout's ansible.cfg and its
``.cache/collections`` symlink cannot be picked up by accident) with the json callback, and returns
the per-task results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _galaxy_version():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip()
    raise AssertionError("galaxy.yml has no version")


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    proc = subprocess.run(
        ["ansible-galaxy", "collection", "build", ROOT, "--output-path", str(out), "--force"],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarball = out / "homelab-vaultwarden-{0}.tar.gz".format(_galaxy_version())
    assert tarball.is_file(), proc.stdout
    return tarball


@pytest.fixture(scope="session")
def installed_collection(tmp_path_factory, collection_tarball):
    """A collections path holding the installed tarball (dependencies come from the ansible bundle)."""
    path = tmp_path_factory.mktemp("collections")
    proc = subprocess.run(
        ["ansible-galaxy", "collection", "install", str(collection_tarball), "-p", str(path), "--no-deps", "--force"],
        capture_output=True, text=True, check=False, cwd=str(path), stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = path / "ansible_collections" / "homelab" / "vaultwarden"
    assert (installed / "MANIFEST.json").is_file(), "install did not produce MANIFEST.json"
    return path


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    results: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def task(self, name, host=None):
        """The result dict of the task called ``name`` (first match, optionally for one host)."""
        for item in self.results:
            if item["task"] == name and (host is None or item["host"] == host):
                return item["result"]
        raise KeyError("no task named {0!r} in {1}".format(name, [r["task"] for r in self.results]))


def _parse_json_callback(stdout):
    start = stdout.find("{")
    if start < 0:
        return [], {}
    data = json.loads(stdout[start:])
    results = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                results.append({"task": task["task"]["name"], "host": host, "result": result})
    return results, data.get("stats", {})


@pytest.fixture
def run_playbook(installed_collection, tmp_path):
    """Run a playbook text against localhost (local connection) with the installed collection."""

    def run(playbook_text, extra_vars=None, inventory=None, check=False, diff=False, env=None):
        playbook = tmp_path / "playbook.yml"
        playbook.write_text(playbook_text, encoding="utf-8")
        cmd = ["ansible-playbook", str(playbook)]
        if inventory is None:
            cmd += ["-i", "localhost,", "-c", "local"]
        else:
            inv = tmp_path / "inventory.yml"
            inv.write_text(inventory, encoding="utf-8")
            cmd += ["-i", str(inv)]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        run_env = dict(os.environ)
        run_env.pop("ANSIBLE_CONFIG", None)
        run_env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(installed_collection),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_NOCOLOR": "1",
        })
        if env:
            run_env.update(env)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=str(tmp_path), env=run_env,
                              stdin=subprocess.DEVNULL)
        results, stats = _parse_json_callback(proc.stdout)
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, results, stats)

    return run
