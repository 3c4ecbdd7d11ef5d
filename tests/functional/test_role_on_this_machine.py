# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installed role on this machine, against the test world's registry: secrets, check mode, removal."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import pytest

pytestmark = [pytest.mark.ansible, pytest.mark.world]

REGISTRY = "127.0.0.1:5000"
TOKEN = "functional-admin-token-5b1d"
SMTP_PASSWORD = "smtp-password-9c3e"
PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: homelab.vaultwarden.server
"""


def _inspect(name):
    proc = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=False)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


@pytest.fixture
def deployment(run_playbook, tmp_path):
    try:
        urllib.request.urlopen("http://%s/v2/" % REGISTRY, timeout=5).close()
    except OSError as exc:
        pytest.fail("the test world's registry is not running (python3 -m tools.world build): %s" % exc)
    name = "vwtest-functional-%d" % os.getpid()
    variables = {
        "vaultwarden_registry": REGISTRY,
        "vaultwarden_version": "1.37.1",
        "vaultwarden_container_name": name,
        "vaultwarden_base_dir": str(tmp_path / "vaultwarden"),
        "vaultwarden_http_port": 18290,
        "vaultwarden_admin_token": TOKEN,
        "vaultwarden_secret_env": {"SMTP_PASSWORD": SMTP_PASSWORD},
        "vaultwarden_healthcheck_interval": "2s",
        "vaultwarden_healthcheck_start_period": "5s",
    }
    yield name, variables
    run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_state="absent", vaultwarden_purge_data=True))
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_deploy_keeps_secrets_out_of_logs_and_off_the_host(run_playbook, deployment):
    name, variables = deployment
    result = run_playbook(PLAY, extra_vars=variables, env={"ANSIBLE_VERBOSITY": "3"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # -e carries the secrets on the command line, so only the task output is searched
    leaks = [item["task"] for item in result.results
             if TOKEN in json.dumps(item["result"]) or SMTP_PASSWORD in json.dumps(item["result"])]
    assert not leaks, "secrets in the output of: %s" % leaks

    container = _inspect(name)
    env = dict(item.split("=", 1) for item in container["Config"]["Env"])
    assert env["ADMIN_TOKEN"].startswith("$argon2id$") and TOKEN not in env["ADMIN_TOKEN"]
    assert env["SMTP_PASSWORD"] == SMTP_PASSWORD
    assert container["State"]["Health"]["Status"] == "healthy"
    assert container["HostConfig"]["PortBindings"]["80/tcp"][0]["HostIp"] == "127.0.0.1"

    with urllib.request.urlopen("http://127.0.0.1:18290/api/standin", timeout=10) as response:
        info = json.load(response)
    assert (info["version"], info["machine"], info["database"]) == ("1.37.1", os.uname().machine, "sqlite")

    again = run_playbook(PLAY, extra_vars=variables)
    assert again.returncode == 0, again.stdout[-3000:]
    assert sum(host.get("changed", 0) for host in again.stats.values()) == 0, "second run is not idempotent"
    assert _inspect(name)["Id"] == container["Id"]


def test_check_mode_changes_nothing(run_playbook, deployment):
    name, variables = deployment
    first = run_playbook(PLAY, extra_vars=variables)
    assert first.returncode == 0, first.stdout[-3000:]
    before = _inspect(name)
    preview = run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_version="1.37.2"), check=True, diff=True)
    assert preview.returncode == 0, preview.stdout[-3000:]
    assert preview.task("homelab.vaultwarden.server : Run the vaultwarden container " + name)["changed"] is True
    after = _inspect(name)
    assert (after["Id"], after["Image"]) == (before["Id"], before["Image"])
    backups = os.path.join(variables["vaultwarden_base_dir"], "backups")
    assert not os.path.exists(backups) or not os.listdir(backups)


def test_absent_removes_the_container_and_keeps_the_data(run_playbook, deployment):
    name, variables = deployment
    assert run_playbook(PLAY, extra_vars=variables).returncode == 0
    removed = run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_state="absent"))
    assert removed.returncode == 0, removed.stdout[-3000:]
    assert _inspect(name) is None
    assert os.path.isfile(os.path.join(variables["vaultwarden_base_dir"], "data", "db.sqlite3"))
