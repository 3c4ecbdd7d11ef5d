# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installed role with Podman on this machine (Podman 4.3.1 from Debian, its API service started by
tools/bootstrap.sh), against the test world's registry: the image of each platform pulled and run under QEMU, what the
server itself reports, hardening seen from inside, the generated unit, idempotence, an update that keeps the data, a
broken release rolled back, and removal.

No systemd runs here: the units are generated and read, not started. Each platform pulls through its own loopback
alias of the registry, so the one Podman store keeps one image per tag and platform (as a fleet has one per host).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import pytest

pytestmark = [pytest.mark.ansible, pytest.mark.world]

SOCKET = "unix:///run/podman/podman.sock"
PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: homelab.vaultwarden.vaultwarden
"""
# platform, registry alias, port, what `uname -m` says inside
PLATFORMS = {
    "amd64": ("linux/amd64", "127.0.0.1:5000", 18401, "x86_64"),
    "arm64": ("linux/arm64", "127.0.0.2:5000", 18402, "aarch64"),
    "armv6": ("linux/arm/v6", "127.0.0.4:5000", 18403, "armv6l"),
}


def _podman(*args):
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=False,
                          env=dict(os.environ, CONTAINER_HOST=SOCKET))


def _get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as response:
        return json.loads(response.read().decode() or "null")


def _post_item(port, name):
    request = urllib.request.Request("http://127.0.0.1:%d/api/standin/items" % port, method="POST",
                                     data=json.dumps({"name": name}).encode(), headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture
def podman_deployment(run_playbook, tmp_path, request):
    if _podman("info").returncode != 0:
        pytest.fail("Podman's API service is not running at %s (bash tools/bootstrap.sh starts it)" % SOCKET)
    platform, registry, port, machine = PLATFORMS[request.param]
    try:
        urllib.request.urlopen("http://%s/v2/" % registry, timeout=5).close()
    except OSError as exc:
        pytest.fail("the test world's registry is not running (python3 -m tools.world build): %s" % exc)
    name = "vwp-functional-%s-%d" % (request.param, os.getpid())
    variables = {
        "vaultwarden_engine": "podman",
        "vaultwarden_registry": registry,
        "vaultwarden_platform": platform,
        "vaultwarden_version": "1.35.1",
        "vaultwarden_container_name": name,
        "vaultwarden_base_dir": str(tmp_path / "vaultwarden"),
        "vaultwarden_podman_unit_dir": str(tmp_path / "units"),
        "vaultwarden_http_port": port,
        "vaultwarden_healthcheck_interval": "2s",
        "vaultwarden_healthcheck_start_period": "5s",
        "vaultwarden_health_timeout": 90,
        # QEMU, not the image, decides which CPU is emulated: an ARMv6 one, where ARMv7 code dies of SIGILL.
        "vaultwarden_env": {"QEMU_CPU": "arm1176"} if request.param == "armv6" else {},
    }
    (tmp_path / "units").mkdir()
    yield name, variables, machine, tmp_path / "units"
    run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_state="absent", vaultwarden_purge_data=True))
    _podman("rm", "-f", name)


def _changed(result):
    return [r["task"] for r in result.results if r["result"].get("changed")]


def _check_runs(name, port, machine, version, by_digest=False):
    inspect = json.loads(_podman("container", "inspect", name).stdout)[0]
    info = _get(port, "/api/standin")
    assert (info["machine"], info["version"]) == (machine, version), info
    # A rollback starts the previous image by the digest it was recorded with, not by its tag.
    assert "@sha256:" in inspect["ImageName"] if by_digest else inspect["ImageName"].endswith(":" + version), inspect
    assert _get(port, "/alive")
    return inspect


@pytest.mark.parametrize("podman_deployment", ["amd64", "arm64"], indirect=True)
def test_the_platforms_image_runs_on_podman(run_playbook, podman_deployment):
    name, variables, machine, units = podman_deployment
    result = run_playbook(PLAY, extra_vars=variables)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    _check_runs(name, variables["vaultwarden_http_port"], machine, "1.35.1")
    again = run_playbook(PLAY, extra_vars=variables)
    assert again.returncode == 0 and _changed(again) == [], _changed(again)


@pytest.mark.parametrize("podman_deployment", ["armv6"], indirect=True)
def test_arm_v6_on_podman_hardened_updated_and_rolled_back(run_playbook, podman_deployment):
    name, variables, machine, units = podman_deployment
    port = variables["vaultwarden_http_port"]
    result = run_playbook(PLAY, extra_vars=variables)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    inspect = _check_runs(name, port, machine, "1.35.1")

    # Hardening as seen from inside: a non-root uid, no capability, no new privileges, a read-only root, an init.
    inside = _podman("exec", name, "sh", "-c", "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
                     "touch /probe 2>&1 || true; tr '\\0' ' ' </proc/1/cmdline").stdout
    assert inside.splitlines()[0] == "10001", inside
    assert "CapEff:\t0000000000000000" in inside and "NoNewPrivs:\t1" in inside, inside
    assert "Read-only file system" in inside, inside
    assert inside.splitlines()[-1].startswith("/run/podman-init"), inside

    # The unit systemd would run: the same container, created anew at each start, pinned to the platform.
    unit = (units / ("container-%s.service" % name)).read_text()
    for line in ("--platform linux/arm/v6", "--read-only", "--cap-drop ALL", "--security-opt no-new-privileges",
                 "--user 10001:10001", "--init", "--name %s" % name, "Restart=always", "WantedBy=default.target"):
        assert line in unit, (line, unit)

    again = run_playbook(PLAY, extra_vars=variables)
    assert again.returncode == 0 and _changed(again) == [], _changed(again)
    assert json.loads(_podman("container", "inspect", name).stdout)[0]["Id"] == inspect["Id"]

    _post_item(port, "before-update")
    updated = run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_version="1.37.1"))
    assert updated.returncode == 0, updated.stdout[-3000:]
    _check_runs(name, port, machine, "1.37.1")
    assert "before-update" in [item["name"] for item in _get(port, "/api/standin/items")]

    # A release that never becomes healthy: the backup taken before it is restored and 1.37.1 runs again.
    broken = run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_version="1.99.0"))
    assert broken.returncode != 0
    assert "ROLLED BACK" in broken.stdout and "1.99.0" in broken.stdout, broken.stdout[-3000:]
    _check_runs(name, port, machine, "1.37.1", by_digest=True)
    assert "before-update" in [item["name"] for item in _get(port, "/api/standin/items")]

    removed = run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_version="1.37.1", vaultwarden_state="absent"))
    assert removed.returncode == 0, removed.stdout[-3000:]
    assert _podman("container", "exists", name).returncode == 1
    assert not (units / ("container-%s.service" % name)).exists()
