# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""platform_facts gathering for real on this machine, through AnsibleModule's own argument handling."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from unittest import mock

import pytest
from ansible.module_utils import _internal as module_utils_internal
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.homelab.vaultwarden.plugins.modules import platform_facts

# Debian name -> platform, written out here so the module's table is checked, not reused.
DEBIAN_TO_PLATFORM = {"amd64": "linux/amd64", "arm64": "linux/arm64", "armhf": "linux/arm/v7", "i386": "linux/386"}
DOCKER = shutil.which("docker")
MODULE = "ansible_collections.homelab.vaultwarden.plugins.modules.platform_facts"


def run_main(capsys, args):
    """Run the module's main() as Ansible does (arguments through AnsibleModule), return its JSON result."""
    # A real module process starts with no warnings and not as the controller; once a test in this
    # session has imported controller code, module warnings would go to Display instead of the result.
    with patch_module_args(args), mock.patch.dict(module_warnings._global_warnings, clear=True), \
            mock.patch.object(module_utils_internal, "is_controller", False):
        with pytest.raises(SystemExit) as info:
            platform_facts.main()
    result = json.loads(capsys.readouterr().out)
    result["_rc"] = info.value.code
    return result


def warning_texts(result):
    # ansible-core 2.19 sends warnings as structured events, older releases as plain strings
    return [w if isinstance(w, str) else w["event"]["msg"] for w in result.get("warnings", [])]


def fake_docker(tmp_path, body):
    script = tmp_path / "docker"
    script.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    script.chmod(0o755)
    return str(script)


def this_machines_debian_architecture():
    if shutil.which("dpkg") is None:
        pytest.skip("needs a Debian-family machine")
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


def test_gather_reads_this_machine():
    raw = platform_facts.gather(gather_docker=False)
    assert raw["kernel_machine"] == platform.machine()
    assert raw["dpkg_architecture"] == this_machines_debian_architecture()
    assert raw["apk_architecture"] is None
    assert raw["elf_header"][:4] == b"\x7fELF" and len(raw["elf_header"]) == 64
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        assert raw["cpuinfo"] == handle.read()
    assert raw["docker"] is None


def test_main_on_this_machine(capsys):
    result = run_main(capsys, {})
    assert result["_rc"] == 0
    assert result["changed"] is False
    facts = result["ansible_facts"]["docker_platform"]
    assert facts["platform"] == DEBIAN_TO_PLATFORM[this_machines_debian_architecture()]
    assert facts["kernel_machine"] == platform.machine()
    assert facts["userspace_source"] == "dpkg"
    assert facts["userspace_bits"] == (64 if sys.maxsize > 2 ** 32 else 32)
    if DOCKER is None:
        pytest.skip("no docker CLI on this machine")
    server = subprocess.run([DOCKER, "version", "--format", "{{.Server.Os}}/{{.Server.Arch}} {{.Server.Version}}"],
                            capture_output=True, text=True, check=False)
    if server.returncode != 0:
        assert facts["docker"]["reachable"] is False
        return
    server_platform, server_version = server.stdout.split()
    docker = facts["docker"]
    assert (docker["present"], docker["reachable"]) == (True, True)
    assert docker["server_version"] == server_version
    assert docker["server_platform"] == server_platform
    assert docker["matches_host"] is (server_platform == facts["platform"])
    assert docker["server_kernel_machine"] == subprocess.run(
        [DOCKER, "info", "--format", "{{.Architecture}}"], capture_output=True, text=True, check=True).stdout.strip()


def test_check_mode_reports_the_same_and_changes_nothing(capsys):
    normal = run_main(capsys, {"gather_docker": False})
    checked = run_main(capsys, {"gather_docker": False, "_ansible_check_mode": True})
    assert checked["_rc"] == 0 and checked["changed"] is False
    assert checked["ansible_facts"] == normal["ansible_facts"]


@pytest.mark.parametrize("command, missing", [
    ("/nonexistent/bin/docker", "no executable '/nonexistent/bin/docker' found"),
    ("docker-command-that-does-not-exist", "no executable 'docker-command-that-does-not-exist' found on PATH"),
])
def test_without_docker(capsys, command, missing):
    result = run_main(capsys, {"docker_command": command})
    assert result["_rc"] == 0 and result["changed"] is False
    facts = result["ansible_facts"]["docker_platform"]
    assert facts["platform"] == DEBIAN_TO_PLATFORM[this_machines_debian_architecture()]
    assert facts["docker"]["present"] is False
    assert facts["docker"]["reachable"] is False
    assert facts["docker"]["error"] == missing
    assert any("Docker is not available on this host (%s)" % missing in w for w in warning_texts(result))


@pytest.mark.skipif(DOCKER is None, reason="needs the docker CLI")
def test_unreachable_daemon_with_the_real_cli(capsys, tmp_path):
    socket = tmp_path / "no-daemon.sock"
    result = run_main(capsys, {"docker_host": "unix://%s" % socket})
    assert result["_rc"] == 0
    docker = result["ansible_facts"]["docker_platform"]["docker"]
    assert docker["present"] is True and docker["reachable"] is False
    assert docker["client_version"]  # the CLI still answers for itself
    assert str(socket) in docker["error"]
    assert any("the Docker daemon did not answer" in w for w in warning_texts(result))


def test_gather_docker_false_runs_no_docker_command(capsys, tmp_path):
    marker = tmp_path / "ran"
    command = fake_docker(tmp_path, "touch '%s'\n" % marker)
    result = run_main(capsys, {"gather_docker": False, "docker_command": command})
    assert result["ansible_facts"]["docker_platform"]["docker"]["gathered"] is False
    assert not marker.exists()
    run_main(capsys, {"docker_command": command})
    assert marker.exists()


# A daemon of another platform cannot be had on this machine; this CLI stand-in prints what an
# arm64 Engine 20.10 prints, so the module's handling of the answer runs for real.
ARM64_VERSION = json.dumps({"Client": {"Version": "20.10.24", "Os": "linux", "Arch": "amd64"},
                            "Server": {"Version": "20.10.24", "Os": "linux", "Arch": "arm64", "KernelVersion": "6.1.0-rpi7-rpi-v8"}})
ARM64_DAEMON = """
case "$1" in
  version) echo '%s' ;;
  info) echo aarch64 ;;
esac
""" % ARM64_VERSION


@pytest.mark.parametrize("mode", ["warn", "ignore", "fail"])
def test_daemon_mismatch(capsys, tmp_path, mode):
    result = run_main(capsys, {"docker_command": fake_docker(tmp_path, ARM64_DAEMON), "daemon_mismatch": mode})
    facts = result["ansible_facts"]["docker_platform"]
    disagreement = facts["docker"]["disagreement"]
    assert facts["docker"]["server_platform"] == "linux/arm64"
    assert facts["docker"]["server_kernel_machine"] == "aarch64"
    assert facts["docker"]["matches_host"] is False
    assert "the Docker daemon runs linux/arm64" in disagreement
    assert disagreement in facts["warnings"]
    if mode == "fail":
        assert result["_rc"] == 1 and result["failed"] is True
        assert result["msg"].startswith(disagreement)
        assert "daemon_mismatch=warn" in result["msg"]
    else:
        assert result["_rc"] == 0 and result["changed"] is False
        assert (disagreement in warning_texts(result)) is (mode == "warn")


def test_a_hanging_docker_is_given_up_after_the_timeout(capsys, tmp_path):
    result = run_main(capsys, {"docker_command": fake_docker(tmp_path, "sleep 20\n"), "timeout": 1})
    docker = result["ansible_facts"]["docker_platform"]["docker"]
    assert docker["present"] is True and docker["reachable"] is False
    assert "did not answer within 1 seconds" in docker["error"]


def test_timeout_must_be_positive(capsys):
    result = run_main(capsys, {"timeout": 0, "gather_docker": False})
    assert result["_rc"] == 1
    assert result["msg"] == "timeout must be at least 1 second, got 0"


def test_unknown_option_is_refused(capsys):
    result = run_main(capsys, {"docker_hots": "unix:///run/docker.sock"})
    assert result["_rc"] == 1
    assert "docker_hots" in result["msg"]


def test_runs_as_a_separate_process_with_json_arguments():
    collections = os.path.dirname(os.path.dirname(os.path.dirname(platform_facts.__file__.rsplit("/plugins/", 1)[0])))
    proc = subprocess.run(
        [sys.executable, "-m", MODULE],
        input=json.dumps({"ANSIBLE_MODULE_ARGS": {"gather_docker": False}}),
        capture_output=True, text=True, check=False, cwd=collections, timeout=60,
        env=dict(os.environ, PYTHONPATH=collections),
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["changed"] is False
    assert result["ansible_facts"]["docker_platform"]["platform"] == DEBIAN_TO_PLATFORM[this_machines_debian_architecture()]
