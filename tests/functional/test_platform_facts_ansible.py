# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""platform_facts and the platform filters, called by ansible-playbook from the installed collection."""

from __future__ import annotations

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.ansible

DEBIAN_TO_PLATFORM = {"amd64": "linux/amd64", "arm64": "linux/arm64", "armhf": "linux/arm/v7", "i386": "linux/386"}
DEBIAN_TO_BASHBREW = {"amd64": "amd64", "arm64": "arm64v8", "armhf": "arm32v7", "i386": "i386"}


@pytest.fixture(scope="module")
def debian_architecture():
    if shutil.which("dpkg") is None:
        pytest.skip("needs a Debian-family machine")
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


PLAYBOOK = """
- hosts: localhost
  gather_facts: true
  tasks:
    - name: detect
      homelab.vaultwarden.platform_facts:

    - name: detect without docker
      homelab.vaultwarden.platform_facts:
        docker_command: /nonexistent/docker

    - name: use the filters
      ansible.builtin.set_fact:
        from_fact: "{{ ansible_facts.docker_platform | homelab.vaultwarden.docker_platform }}"
        bashbrew_from_fact: "{{ ansible_facts.docker_platform | homelab.vaultwarden.bashbrew_arch }}"
        debian_from_fact: "{{ ansible_facts.docker_platform.platform | homelab.vaultwarden.debian_arch }}"
        from_ansible_architecture: "{{ ansible_facts.architecture | homelab.vaultwarden.docker_platform }}"
        spellings: "{{ ['armhf', 'ARMV6L', 'linux/arm64/v8', 'arm32v5', 'windows-amd64'] | map('homelab.vaultwarden.docker_platform') | list }}"
        bashbrew_names: "{{ ['linux/arm64', 'armel', 'i686'] | map('homelab.vaultwarden.bashbrew_arch') | list }}"
        debian_names: "{{ ['linux/arm/v7', 'ppc64le', 'mips64le'] | map('homelab.vaultwarden.debian_arch') | list }}"

    - name: the kernel machine is what setup calls the architecture
      ansible.builtin.assert:
        that:
          - ansible_facts.docker_platform.kernel_machine == ansible_facts.architecture

    - name: refuse an unknown spelling
      ansible.builtin.debug:
        msg: "{{ 'sparc64' | homelab.vaultwarden.docker_platform }}"
      ignore_errors: true

    - name: refuse windows for debian
      ansible.builtin.debug:
        msg: "{{ 'windows/amd64' | homelab.vaultwarden.debian_arch }}"
      ignore_errors: true
"""


def test_module_and_filters_through_ansible(run_playbook, debian_architecture):
    run = run_playbook(PLAYBOOK)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    detect = run.task("detect")
    assert detect["changed"] is False
    facts = detect["ansible_facts"]["docker_platform"]
    assert facts["platform"] == DEBIAN_TO_PLATFORM[debian_architecture]
    assert facts["debian"] == debian_architecture
    assert facts["bashbrew"] == DEBIAN_TO_BASHBREW[debian_architecture]
    assert facts["userspace_source"] == "dpkg"
    if shutil.which("docker") and subprocess.run(["docker", "version"], capture_output=True, check=False).returncode == 0:
        assert facts["docker"]["reachable"] is True
        server = subprocess.run(["docker", "version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"],
                                capture_output=True, text=True, check=True).stdout.strip()
        assert facts["docker"]["server_platform"] == server

    without = run.task("detect without docker")["ansible_facts"]["docker_platform"]
    assert without["platform"] == facts["platform"]
    assert (without["docker"]["present"], without["docker"]["reachable"]) == (False, False)
    assert any("Docker is not available" in w for w in without["warnings"])
    assert "Docker is not available on this host" in run.stdout  # the module's warning reached Ansible's output

    filtered = run.task("use the filters")["ansible_facts"]
    assert filtered["from_fact"] == facts["platform"]
    assert filtered["bashbrew_from_fact"] == facts["bashbrew"]
    assert filtered["debian_from_fact"] == debian_architecture
    assert filtered["from_ansible_architecture"] == facts["platform"]
    assert filtered["spellings"] == ["linux/arm/v7", "linux/arm/v6", "linux/arm64", "linux/arm/v5", "windows/amd64"]
    assert filtered["bashbrew_names"] == ["arm64v8", "arm32v6", "i386"]
    assert filtered["debian_names"] == ["armhf", "ppc64el", "mips64el"]

    refused = run.task("refuse an unknown spelling")
    assert refused["failed"] is True
    assert "docker_platform: unknown platform or architecture 'sparc64'" in refused["msg"]
    assert "homelab.vaultwarden.platform_facts" in refused["msg"]
    windows = run.task("refuse windows for debian")
    assert windows["failed"] is True
    assert "Debian has no architecture name for windows/amd64" in windows["msg"]


def test_check_mode_through_ansible(run_playbook, debian_architecture):
    run = run_playbook("""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: detect in check mode
      homelab.vaultwarden.platform_facts:
        gather_docker: false
""", check=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = run.task("detect in check mode")
    assert result["changed"] is False
    facts = result["ansible_facts"]["docker_platform"]
    assert facts["platform"] == DEBIAN_TO_PLATFORM[debian_architecture]
    assert facts["docker"]["gathered"] is False


def test_daemon_mismatch_fail_through_ansible(run_playbook, tmp_path, debian_architecture):
    # Stands in for a CLI whose daemon runs s390x: no such daemon can exist on this machine.
    cli = tmp_path / "docker-s390x"
    cli.write_text("#!/bin/sh\ncase \"$1\" in version) echo '{\"Client\":{\"Version\":\"20.10.24\",\"Os\":\"linux\",\"Arch\":\"amd64\"},"
                   "\"Server\":{\"Version\":\"20.10.24\",\"Os\":\"linux\",\"Arch\":\"s390x\"}}';; info) echo s390x;; esac\n",
                   encoding="utf-8")
    cli.chmod(0o755)
    run = run_playbook("""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: detect strictly
      homelab.vaultwarden.platform_facts:
        docker_command: {cli}
        daemon_mismatch: fail
""".format(cli=cli))
    assert run.returncode != 0
    result = run.task("detect strictly")
    assert result["failed"] is True
    assert "the Docker daemon runs linux/s390x" in result["msg"]
    assert "this host's userspace is %s" % DEBIAN_TO_PLATFORM[debian_architecture] in result["msg"]
