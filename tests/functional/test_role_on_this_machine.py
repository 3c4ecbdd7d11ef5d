# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installed role on this machine, against the test world's registry: secrets, check mode, removal."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.parse
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
    - role: homelab.vaultwarden.vaultwarden
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
    subprocess.run(["docker", "rm", "-f", name, name + "-db"], capture_output=True, check=False)
    subprocess.run(["docker", "network", "rm", name + "-net"], capture_output=True, check=False)


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
    # Secrets are files read through <NAME>_FILE: docker inspect holds none of them.
    assert env["ADMIN_TOKEN_FILE"] == "/run/secrets/admin_token" and "ADMIN_TOKEN" not in env
    assert env["SMTP_PASSWORD_FILE"] == "/run/secrets/env_SMTP_PASSWORD" and "SMTP_PASSWORD" not in env
    assert TOKEN not in json.dumps(container) and SMTP_PASSWORD not in json.dumps(container)
    secrets = os.path.join(variables["vaultwarden_base_dir"], "secrets")
    assert oct(os.stat(secrets).st_mode & 0o777) == "0o700"
    with open(os.path.join(secrets, "admin_token")) as handle:
        stored = handle.read()
    assert stored.startswith("$argon2id$") and TOKEN not in stored
    with open(os.path.join(secrets, "env_SMTP_PASSWORD")) as handle:
        assert handle.read() == SMTP_PASSWORD
    for entry in os.listdir(secrets):
        assert oct(os.stat(os.path.join(secrets, entry)).st_mode & 0o777) == "0o600", entry
    # Files the role wrote hold no plain token.
    for directory, dummy, files in os.walk(variables["vaultwarden_base_dir"]):
        for entry in files:
            with open(os.path.join(directory, entry), "rb") as handle:
                assert TOKEN.encode() not in handle.read(), entry
    # The server reads the admin token from its file: the token logs in, another does not.
    for token, status in ((TOKEN, 200), ("not-the-token", 401)):
        request = urllib.request.Request("http://127.0.0.1:18290/admin", data=urllib.parse.urlencode(
            {"token": token}).encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                got = response.status
        except urllib.error.HTTPError as exc:
            got = exc.code
        assert got == status, token == TOKEN
    assert container["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"

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
    assert preview.task("homelab.vaultwarden.vaultwarden : Run the container " + name)["changed"] is True
    after = _inspect(name)
    assert (after["Id"], after["Image"]) == (before["Id"], before["Image"])
    backups = os.path.join(variables["vaultwarden_base_dir"], "backups")
    assert not os.path.exists(backups) or not os.listdir(backups)


def test_check_mode_on_a_fresh_host_succeeds_and_changes_nothing(run_playbook, deployment, host_snapshot, tmp_path):
    name, variables = deployment
    before = host_snapshot(tmp_path)
    preview = run_playbook(PLAY, extra_vars=variables, check=True)
    assert preview.returncode == 0, preview.stdout[-3000:]
    lock = preview.task("homelab.vaultwarden.vaultwarden : Take the deployment's lock")
    assert "would acquire" in lock["msg"] and "does not exist yet" in lock["msg"], lock
    assert host_snapshot(tmp_path) == before
    assert not os.path.exists(variables["vaultwarden_base_dir"]) and _inspect(name) is None


def test_absent_removes_the_container_and_keeps_the_data(run_playbook, deployment):
    name, variables = deployment
    assert run_playbook(PLAY, extra_vars=variables).returncode == 0
    removed = run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_state="absent"))
    assert removed.returncode == 0, removed.stdout[-3000:]
    assert _inspect(name) is None
    assert os.path.isfile(os.path.join(variables["vaultwarden_base_dir"], "data", "db.sqlite3"))


def test_the_modules_speak_the_api_level_pinned_in_the_environment(run_playbook, deployment):
    """DOCKER_API_VERSION=1.29 (Docker 17.05, Synology DSM) in the modules' environment: the plan is made for that
    level (no platform on pull below 1.32, none on create below 1.41), every module speaks it, and the right image
    runs. The daemon itself is this machine's (20.10): what an old daemon does on its own is not covered."""
    name, variables = deployment
    variables = dict(variables, vaultwarden_admin_token="")
    result = run_playbook(PLAY, extra_vars=variables, env={"DOCKER_API_VERSION": "1.29"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    planned = result.task("homelab.vaultwarden.vaultwarden : Validate, detect the host and plan what to pull")
    assert planned["facts"]["engine"]["api_version"] == "1.29"
    engine = planned["plan"]["engine"]
    assert engine["api_version_arg"] == "1.29" and not engine["platform_on_pull"] and not engine["platform_on_create"]
    assert all(pull["platform"] is None for pull in planned["plan"]["pull"])
    container = _inspect(name)
    assert container["State"]["Running"]
    image = json.loads(subprocess.run(["docker", "image", "inspect", container["Image"]], capture_output=True, text=True,
                                      check=True).stdout)[0]
    assert (image["Os"], image["Architecture"]) == ("linux", "amd64")
    again = run_playbook(PLAY, extra_vars=variables, env={"DOCKER_API_VERSION": "1.29"})
    assert again.returncode == 0 and again.stats["localhost"]["changed"] == 0, again.stdout[-3000:]


def test_secrets_with_a_managed_database_stay_out_of_the_output_the_files_and_the_engine(run_playbook, deployment):
    """-vvv, an admin token and a managed PostgreSQL: the token is nowhere in plain (output, files, docker inspect);
    the generated database password is only in its 0600 secret files (its own and the URL vaultwarden reads)."""
    name, variables = deployment
    variables = dict(variables, vaultwarden_database="postgresql")
    result = run_playbook(PLAY, extra_vars=variables, env={"ANSIBLE_VERBOSITY": "3"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "<ESTABLISH LOCAL CONNECTION" in output or "ESTABLISH LOCAL CONNECTION" in output, "not run at -vvv"
    base = variables["vaultwarden_base_dir"]
    secrets = os.path.join(base, "secrets")
    with open(os.path.join(secrets, "database_password")) as handle:
        password = handle.read().strip()
    assert len(password) >= 20
    for secret in (TOKEN, SMTP_PASSWORD, password):
        # -e carries the token on the command line, which -vvv does not echo: the whole output is searched.
        assert secret not in output, "a secret in the -vvv output"
    holders = []
    for directory, dummy, files in os.walk(base):
        for entry in files:
            path = os.path.join(directory, entry)
            with open(path, "rb") as handle:
                content = handle.read()
            assert TOKEN.encode() not in content, path
            if password.encode() in content:
                holders.append(os.path.relpath(path, base))
                assert oct(os.stat(path).st_mode & 0o777) == "0o600", path
    assert sorted(holders) == ["secrets/database_password", "secrets/database_url"], holders
    for container in (_inspect(name), _inspect(name + "-db")):
        dumped = json.dumps(container)
        assert container is not None and TOKEN not in dumped and password not in dumped, container["Name"]
    env = dict(item.split("=", 1) for item in _inspect(name)["Config"]["Env"])
    assert env["DATABASE_URL_FILE"] == "/run/secrets/database_url" and "DATABASE_URL" not in env
    with urllib.request.urlopen("http://127.0.0.1:18290/api/standin", timeout=10) as response:
        assert json.load(response)["database"] == "postgresql"
