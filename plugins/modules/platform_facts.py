#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: platform_facts
short_description: Detect the container platform a host really runs (linux/amd64, linux/arm/v6, ...)
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Gathers the raw facts of the host with the Python standard library only (C(uname -m),
    C(dpkg --print-architecture) or C(apk --print-arch), the ELF header of the Python interpreter,
    C(/proc/cpuinfo), C(/proc/device-tree/model), and optionally C(docker version) and C(docker info))
    and decides the OCI platform of the images the host must run.
  - The host's B(userspace) decides the platform, so a Raspberry Pi OS 32-bit system on a 64-bit
    kernel is C(linux/arm/v7), not C(linux/arm64).
  - For 32-bit ARM the kernel and C(/proc/cpuinfo) lower the variant to what the CPU runs, so a
    Raspberry Pi 1 or Zero is C(linux/arm/v6) even with an armhf userspace (Raspbian's armhf is
    built for ARMv6) and although its kernel reports C(CPU architecture) 7.
  - The Docker daemon is only a cross-check. C(docker version) reports the daemon's Go architecture
    without an ARM variant, so an C(arm) daemon on an ARM host is given the host's variant.
    A daemon running another platform (an emulated test fleet sharing one amd64 daemon, or
    C(DOCKER_HOST) pointing at another machine) is reported according to O(daemon_mismatch).
  - Works without Docker; C(docker_platform.docker.present) and C(docker_platform.docker.reachable)
    then say what is missing.
options:
  gather_docker:
    description:
      - Ask the Docker CLI about the daemon (C(docker version), C(docker info)).
      - When V(false), C(docker_platform.docker.gathered) is V(false) and no docker command runs.
    type: bool
    default: true
  docker_command:
    description:
      - Name (looked up on E(PATH)) or path of the Docker CLI.
    type: str
    default: docker
  docker_host:
    description:
      - Daemon address passed to the CLI as E(DOCKER_HOST), for example V(unix:///run/docker.sock).
      - When unset, the CLI's own default (and any E(DOCKER_HOST) of the remote environment) applies.
    type: str
  timeout:
    description:
      - Seconds to wait for each command (dpkg, apk, docker) before giving up on it.
    type: int
    default: 10
  daemon_mismatch:
    description:
      - What to do when the Docker daemon runs another platform than the host's userspace.
      - V(warn) emits a warning, V(ignore) only records it in C(docker_platform.warnings) and
        C(docker_platform.docker.disagreement), V(fail) fails the task.
    type: str
    choices: [warn, ignore, fail]
    default: warn
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Linux hosts (it reads C(/proc)); other POSIX hosts fall back to C(uname -m) and the ELF header.
  facts:
    support: full
    description: Sets C(ansible_facts.docker_platform).
notes:
  - Detection itself is pure Python in C(plugins/module_utils/platform_detect.py); this module only gathers inputs.
  - The ARM variant of 32-bit userspaces is never reported above v7, because 32-bit ARMv8 images are published as arm/v7.
seealso:
  - module: ansible.builtin.setup
  - module: community.docker.docker_host_info
"""

EXAMPLES = r"""
- name: Learn the platform of the host's containers
  homelab.vaultwarden.platform_facts:

- name: Show it
  ansible.builtin.debug:
    msg: "{{ ansible_facts.docker_platform.platform }} ({{ ansible_facts.docker_platform.bashbrew }})"

- name: Detect without asking Docker (Docker not installed yet)
  homelab.vaultwarden.platform_facts:
    gather_docker: false

- name: Refuse hosts whose daemon runs another platform (not an emulated test fleet)
  homelab.vaultwarden.platform_facts:
    docker_host: unix:///run/docker.sock
    daemon_mismatch: fail
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    docker_platform:
      description: The host's platform and how it was decided.
      returned: always
      type: dict
      contains:
        platform:
          description: Canonical OCI platform of the host's userspace; pin image pulls and containers to it.
          type: str
          sample: linux/arm/v6
        os:
          description: OS part of the platform.
          type: str
          sample: linux
        architecture:
          description: Architecture part (Go GOARCH spelling).
          type: str
          sample: arm
        variant:
          description: Variant part, empty string when the platform has none.
          type: str
          sample: v6
        bashbrew:
          description: Official-images (bashbrew) architecture name of the platform.
          type: str
          sample: arm32v6
        debian:
          description: Debian architecture name of the platform.
          type: str
          sample: armel
        kernel_machine:
          description: C(uname -m) of the kernel.
          type: str
          sample: armv6l
        userspace_bits:
          description: Pointer width of the userspace, 32 or 64.
          type: int
          sample: 32
        userspace_source:
          description: What decided the userspace, V(dpkg), V(apk), V(elf) (the Python interpreter's ELF header) or V(kernel) (last resort).
          type: str
          sample: dpkg
        userspace_architecture:
          description: The architecture as that source spells it.
          type: str
          sample: armhf
        cpu_variant:
          description: ARM variant the CPU supports (lowest of uname, /proc/cpuinfo and the Raspberry Pi SoC), null on other CPUs.
          type: str
          sample: v6
        cpu_model:
          description: CPU model name from /proc/cpuinfo, null when absent.
          type: str
          sample: ARMv6-compatible processor rev 7 (v6l)
        board:
          description: Board name (cpuinfo C(Model), the device tree, or a decoded Raspberry Pi revision code), null when unknown.
          type: str
          sample: Raspberry Pi Zero W Rev 1.1
        soc:
          description: Raspberry Pi SoC decoded from the revision code, null for other boards.
          type: str
          sample: BCM2835
        docker:
          description: What the Docker CLI and daemon report.
          type: dict
          contains:
            gathered:
              description: Whether Docker was asked (O(gather_docker)).
              type: bool
            present:
              description: The docker CLI was found; null when not gathered.
              type: bool
            reachable:
              description: The daemon answered; null when not gathered.
              type: bool
            client_version:
              description: CLI version.
              type: str
              sample: 28.2.2
            client_platform:
              description: C(Os/Arch) of the CLI binary.
              type: str
              sample: linux/amd64
            server_version:
              description: Daemon (Engine) version.
              type: str
              sample: 20.10.24+dfsg1
            server_os:
              description: Daemon GOOS.
              type: str
              sample: linux
            server_arch:
              description: Daemon GOARCH, without a variant.
              type: str
              sample: arm
            server_platform:
              description: Canonical platform of the daemon; an V(arm) daemon on an ARM host takes the host's variant.
              type: str
              sample: linux/arm/v6
            server_kernel_machine:
              description: The daemon kernel's C(uname -m) (C(docker info) Architecture).
              type: str
              sample: armv6l
            server_kernel_version:
              description: The daemon kernel's version.
              type: str
            client_api_version:
              description:
                - The API version the CLI speaks; E(DOCKER_API_VERSION) in the module's environment pins it (a client
                  speaking an old engine's level to a newer daemon).
              type: str
              sample: "1.40"
            server_api_version:
              description: The highest API version the daemon speaks.
              type: str
              sample: "1.41"
            server_min_api_version:
              description: The lowest API version the daemon accepts.
              type: str
              sample: "1.12"
            api_version:
              description:
                - The API level spoken with this daemon, the lower of C(client_api_version) and
                  C(server_api_version). C(platform) on create needs 1.41
                  (Docker 20.10) and on pull 1.32; the role plans with this value.
              type: str
              sample: "1.40"
            matches_host:
              description: The daemon's platform equals the host's platform; null when unknown.
              type: bool
            disagreement:
              description: The warning text when the daemon runs another platform, else null.
              type: str
            error:
              description: Why the CLI or daemon could not be asked, else null.
              type: str
        warnings:
          description: Everything doubtful that was noticed (daemon disagreement, missing Docker, emulation).
          type: list
          elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.vaultwarden.plugins.module_utils.platform_gather import gather
from ansible_collections.homelab.vaultwarden.plugins.module_utils.platform_detect import detect_platform
from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import PlatformError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            gather_docker=dict(type="bool", default=True),
            docker_command=dict(type="str", default="docker"),
            docker_host=dict(type="str"),
            timeout=dict(type="int", default=10),
            daemon_mismatch=dict(type="str", default="warn", choices=["warn", "ignore", "fail"]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 second, got %d" % params["timeout"])
    raw = gather(params["gather_docker"], params["docker_command"], params["docker_host"], params["timeout"])
    try:
        facts = detect_platform(**raw)
    except PlatformError as exc:
        module.fail_json(msg=str(exc), kernel_machine=raw["kernel_machine"],
                         dpkg_architecture=raw["dpkg_architecture"], apk_architecture=raw["apk_architecture"])
        return
    disagreement = facts["docker"]["disagreement"]
    if disagreement and params["daemon_mismatch"] == "fail":
        module.fail_json(msg="%s (set daemon_mismatch=warn to accept this)" % disagreement,
                         ansible_facts=dict(docker_platform=facts))
    for warning in facts["warnings"]:
        if warning != disagreement or params["daemon_mismatch"] == "warn":
            module.warn(warning)
    module.exit_json(changed=False, ansible_facts=dict(docker_platform=facts))


if __name__ == "__main__":
    main()
