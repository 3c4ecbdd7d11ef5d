# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure detection: host scenarios built from real-looking raw observations."""

from __future__ import annotations

import json
import os
import struct
import sys

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils.platform_detect import (
    DetectionError,
    DockerProbe,
    cpuinfo_arm_variant,
    decode_pi_revision,
    detect_platform,
    effective_api_version,
    elf_userspace_platform,
    kernel_arm_variant,
    parse_cpuinfo,
    parse_docker_version,
    parse_elf_header,
)
from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import Platform, PlatformError

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "cpuinfo")


def cpuinfo(name):
    with open(os.path.join(FIXTURES, name + ".txt"), encoding="utf-8") as handle:
        return handle.read()


PI_ZERO_W = cpuinfo("raspberry-pi-zero-w")
PI_1_B = cpuinfo("raspberry-pi-1-model-b-kernel-3.6")
PI_3_B = cpuinfo("raspberry-pi-3-model-b-armv7l")
PI_4_B = cpuinfo("raspberry-pi-4-model-b-aarch64")
PI_5 = cpuinfo("raspberry-pi-5-model-b")
SHEEVAPLUG = cpuinfo("marvell-sheevaplug-armv5")
XEON = cpuinfo("x86_64-xeon-server")
ATOM = cpuinfo("i686-atom-n270")

EM_386, EM_ARM, EM_X86_64, EM_AARCH64, EM_PPC64, EM_SPARCV9 = 3, 40, 62, 183, 21, 43
# e_flags as `readelf -h /usr/bin/python3` prints them: "Version5 EABI, hard-float ABI" / "soft-float ABI"
ARMHF_FLAGS = 0x05000400
ARMEL_FLAGS = 0x05000200


def elf(machine, bits, little=True, flags=0):
    """An ELF executable header laid out as the ELF specification says (what the module reads)."""
    order = "<" if little else ">"
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1 if little else 2, 1, 0]) + b"\x00" * 8
    if bits == 32:
        return ident + struct.pack(order + "HHIIIIIHHHHHH", 3, machine, 1, 0x1000, 52, 0, flags, 52, 32, 9, 40, 0, 0)
    return ident + struct.pack(order + "HHIQQQIHHHHHH", 3, machine, 1, 0x1000, 64, 0, flags, 64, 56, 13, 64, 0, 0)


with open(os.path.realpath(sys.executable), "rb") as _handle:
    THIS_PYTHON_ELF = _handle.read(64)


def docker_version(server_arch, server_os="linux", version="20.10.24+dfsg1", kernel="6.1.0-rpi7-rpi-v8", client_arch=None):
    """`docker version --format '{{json .}}'` output in the shape Engine 20.10 prints it."""
    client_arch = client_arch or server_arch
    return json.dumps({
        "Client": {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41", "DefaultAPIVersion": "1.41", "GitCommit": "297e128",
                   "GoVersion": "go1.19.8", "Os": server_os, "Arch": client_arch, "BuildTime": "Thu May  7 21:09:36 2026",
                   "Context": "default", "Experimental": True},
        "Server": {"Platform": {"Name": ""},
                   "Components": [{"Name": "Engine", "Version": version,
                                   "Details": {"ApiVersion": "1.41", "Arch": server_arch, "KernelVersion": kernel,
                                               "MinAPIVersion": "1.12", "Os": server_os}},
                                  {"Name": "containerd", "Version": "1.6.20~ds1", "Details": {"GitCommit": "1.6.20~ds1-1+deb12u3"}}],
                   "Version": version, "ApiVersion": "1.41", "MinAPIVersion": "1.12", "GitCommit": "5d6db84", "GoVersion": "go1.19.8",
                   "Os": server_os, "Arch": server_arch, "KernelVersion": kernel},
    })


# What this very machine printed (Docker CLI 28 against Engine 20.10).
REAL_AMD64_DOCKER_VERSION = (
    '{"Client":{"Version":"28.2.2","ApiVersion":"1.41","DefaultAPIVersion":"1.50","GitCommit":"e6534b4","GoVersion":"go1.24.3",'
    '"Os":"linux","Arch":"amd64","BuildTime":"Fri May 30 12:07:14 2025","Context":"default"},"Server":{"Platform":{"Name":""},'
    '"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64",'
    '"BuildTime":"Thu May  7 21:09:36 2026","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8",'
    '"KernelVersion":"6.18.44-fc-v782","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"containerd","Version":"1.6.20~ds1",'
    '"Details":{"GitCommit":"1.6.20~ds1-1+deb12u3"}}],"Version":"20.10.24+dfsg1","ApiVersion":"1.41","MinAPIVersion":"1.12",'
    '"GitCommit":"5d6db84","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64","KernelVersion":"6.18.44-fc-v782",'
    '"BuildTime":"2026-05-07T21:09:36.000000000+00:00"}}'
)
# The CLI prints the client half and `Server: null` when the daemon is down (and exits 1).
UNREACHABLE_DOCKER_VERSION = (
    '{"Client":{"Platform":{"Name":""},"Version":"20.10.24+dfsg1","ApiVersion":"1.41","DefaultAPIVersion":"1.41",'
    '"GitCommit":"297e128","GoVersion":"go1.19.8","Os":"linux","Arch":"arm","BuildTime":"Thu May  7 21:09:36 2026",'
    '"Context":"default","Experimental":true},"Server":null}'
)
DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"


def daemon(arch, kernel_machine, os_name="linux"):
    return DockerProbe(True, docker_version(arch, os_name), kernel_machine, None)


SCENARIOS = [
    dict(
        id="amd64 server",
        given=dict(kernel_machine="x86_64", dpkg_architecture="amd64", cpuinfo=XEON, docker=DockerProbe(True, REAL_AMD64_DOCKER_VERSION, "x86_64", None)),
        want=dict(platform="linux/amd64", variant="", bashbrew="amd64", debian="amd64", userspace_bits=64, userspace_source="dpkg",
                  cpu_variant=None, cpu_model="Intel(R) Xeon(R) CPU E5-2630 v4 @ 2.20GHz", board=None, soc=None),
        docker=dict(present=True, reachable=True, server_version="20.10.24+dfsg1", client_version="28.2.2", server_platform="linux/amd64",
                    server_kernel_machine="x86_64", matches_host=True),
        warnings=[],
    ),
    dict(
        id="Raspberry Pi OS 64-bit on a Pi 4",
        given=dict(kernel_machine="aarch64", dpkg_architecture="arm64", cpuinfo=PI_4_B, docker=daemon("arm64", "aarch64")),
        want=dict(platform="linux/arm64", architecture="arm64", variant="", bashbrew="arm64v8", debian="arm64", userspace_bits=64,
                  board="Raspberry Pi 4 Model B Rev 1.4", soc="BCM2711", cpu_variant="v8"),
        docker=dict(server_platform="linux/arm64", matches_host=True),
        warnings=[],
    ),
    dict(
        id="Raspberry Pi OS 32-bit on a 64-bit kernel (Pi 4) is arm/v7, not arm64",
        given=dict(kernel_machine="aarch64", dpkg_architecture="armhf", cpuinfo=PI_4_B, docker=daemon("arm", "aarch64")),
        want=dict(platform="linux/arm/v7", architecture="arm", variant="v7", bashbrew="arm32v7", debian="armhf", userspace_bits=32,
                  kernel_machine="aarch64", cpu_variant="v8", userspace_architecture="armhf"),
        docker=dict(server_arch="arm", server_platform="linux/arm/v7", server_kernel_machine="aarch64", matches_host=True),
        warnings=[],
    ),
    dict(
        id="Raspberry Pi OS 32-bit on a Pi 3 with an armv7l kernel",
        given=dict(kernel_machine="armv7l", dpkg_architecture="armhf", cpuinfo=PI_3_B, docker=daemon("arm", "armv7l")),
        want=dict(platform="linux/arm/v7", cpu_variant="v7", board="Raspberry Pi 3 Model B Rev 1.2", soc="BCM2837",
                  cpu_model="ARMv7 Processor rev 4 (v7l)"),
        docker=dict(server_platform="linux/arm/v7", matches_host=True),
        warnings=[],
    ),
    dict(
        id="Pi Zero W with Raspbian armhf is arm/v6",
        given=dict(kernel_machine="armv6l", dpkg_architecture="armhf", cpuinfo=PI_ZERO_W, docker=daemon("arm", "armv6l")),
        want=dict(platform="linux/arm/v6", variant="v6", bashbrew="arm32v6", debian="armel", userspace_bits=32, userspace_source="dpkg",
                  userspace_architecture="armhf", cpu_variant="v6", board="Raspberry Pi Zero W Rev 1.1", soc="BCM2835"),
        docker=dict(server_arch="arm", server_platform="linux/arm/v6", matches_host=True),
        warnings=[],
    ),
    dict(
        id="Pi Zero W whose kernel name alone would say v7: cpuinfo's ARMv6 model name decides",
        given=dict(kernel_machine="armv7l", dpkg_architecture="armhf", cpuinfo=PI_ZERO_W),
        want=dict(platform="linux/arm/v6", cpu_variant="v6"),
        warnings=[],
    ),
    dict(
        id="Pi 1 Model B, kernel 3.6 (old Processor line, no Model line), Docker not asked",
        given=dict(kernel_machine="armv6l", dpkg_architecture="armhf", cpuinfo=PI_1_B),
        want=dict(platform="linux/arm/v6", cpu_model="ARMv6-compatible processor rev 7 (v6l)", board="Raspberry Pi Model B Rev 2.0",
                  soc="BCM2835"),
        docker=dict(gathered=False, present=None, reachable=None, server_platform=None),
        warnings=[],
    ),
    dict(
        id="Pi 5 with Raspberry Pi OS 64-bit",
        given=dict(kernel_machine="aarch64", dpkg_architecture="arm64", cpuinfo=PI_5, docker=daemon("arm64", "aarch64")),
        want=dict(platform="linux/arm64", board="Raspberry Pi 5 Model B Rev 1.0", soc="BCM2712"),
        warnings=[],
    ),
    dict(
        id="i686 netbook",
        given=dict(kernel_machine="i686", dpkg_architecture="i386", cpuinfo=ATOM, docker=daemon("386", "i686")),
        want=dict(platform="linux/386", architecture="386", bashbrew="i386", debian="i386", userspace_bits=32,
                  cpu_model="Intel(R) Atom(TM) CPU N270   @ 1.60GHz", board=None),
        docker=dict(server_platform="linux/386", matches_host=True),
        warnings=[],
    ),
    dict(
        id="i386 userspace on an x86_64 kernel",
        given=dict(kernel_machine="x86_64", dpkg_architecture="i386", cpuinfo=XEON),
        want=dict(platform="linux/386", kernel_machine="x86_64", userspace_bits=32),
        warnings=[],
    ),
    dict(
        id="no Docker installed",
        given=dict(kernel_machine="x86_64", dpkg_architecture="amd64", cpuinfo=XEON,
                   docker=DockerProbe(False, None, None, "no executable 'docker' found on PATH")),
        want=dict(platform="linux/amd64"),
        docker=dict(gathered=True, present=False, reachable=False, server_platform=None, matches_host=None,
                    error="no executable 'docker' found on PATH"),
        warnings=["Docker is not available on this host (no executable 'docker' found on PATH)"],
    ),
    dict(
        id="Docker installed, daemon down",
        given=dict(kernel_machine="armv6l", dpkg_architecture="armhf", cpuinfo=PI_ZERO_W,
                   docker=DockerProbe(True, UNREACHABLE_DOCKER_VERSION, None, DAEMON_DOWN)),
        want=dict(platform="linux/arm/v6"),
        docker=dict(present=True, reachable=False, client_version="20.10.24+dfsg1", client_platform="linux/arm", server_version=None,
                    matches_host=None),
        warnings=["the Docker daemon did not answer (%s)" % DAEMON_DOWN],
    ),
    dict(
        id="emulated Pi Zero (QEMU_CPU=arm1176, armel) sharing the amd64 daemon",
        given=dict(kernel_machine="armv6l", dpkg_architecture="armel", cpuinfo=XEON,
                   docker=DockerProbe(True, REAL_AMD64_DOCKER_VERSION, "x86_64", None)),
        want=dict(platform="linux/arm/v6", cpu_variant="v6", board=None),
        docker=dict(server_platform="linux/amd64", server_kernel_machine="x86_64", matches_host=False),
        warnings=["the Docker daemon runs linux/amd64 (docker version: Os=linux Arch=amd64, kernel x86_64) but this host's userspace "
                  "is linux/arm/v6",
                  "/proc/cpuinfo describes a non-ARM CPU (Intel(R) Xeon(R) CPU E5-2630 v4 @ 2.20GHz) under an ARM kernel"],
    ),
    dict(
        id="emulated arm64 host sharing the amd64 daemon",
        given=dict(kernel_machine="aarch64", dpkg_architecture="arm64", cpuinfo=XEON,
                   docker=DockerProbe(True, REAL_AMD64_DOCKER_VERSION, "x86_64", None)),
        want=dict(platform="linux/arm64"),
        docker=dict(matches_host=False),
        warnings=["but this host's userspace is linux/arm64"],
    ),
    dict(
        id="arm64 Docker static binaries on Raspberry Pi OS 32-bit with a 64-bit kernel",
        given=dict(kernel_machine="aarch64", dpkg_architecture="armhf", cpuinfo=PI_4_B, docker=daemon("arm64", "aarch64")),
        want=dict(platform="linux/arm/v7"),
        docker=dict(server_platform="linux/arm64", matches_host=False),
        warnings=["the Docker daemon runs linux/arm64"],
    ),
    dict(
        id="DOCKER_HOST pointing at a Windows daemon",
        given=dict(kernel_machine="x86_64", dpkg_architecture="amd64", docker=daemon("amd64", "x86_64", os_name="windows")),
        want=dict(platform="linux/amd64"),
        docker=dict(server_platform="windows/amd64", matches_host=False),
        warnings=["the Docker daemon runs windows/amd64"],
    ),
    dict(
        id="daemon of an architecture the table does not know",
        given=dict(kernel_machine="x86_64", dpkg_architecture="amd64", docker=daemon("loong64", "loongarch64")),
        want=dict(platform="linux/amd64"),
        docker=dict(reachable=True, server_arch="loong64", server_platform=None, matches_host=None),
        warnings=["the Docker daemon reports a platform this collection does not know"],
    ),
    dict(
        id="Alpine (armhf = ARMv6) on a Pi Zero",
        given=dict(kernel_machine="armv6l", apk_architecture="armhf", cpuinfo=PI_ZERO_W),
        want=dict(platform="linux/arm/v6", userspace_source="apk", userspace_architecture="armhf"),
        warnings=[],
    ),
    dict(
        id="Alpine armhf on a Pi 4 stays arm/v6 (the userspace is the ceiling)",
        given=dict(kernel_machine="aarch64", apk_architecture="armhf", cpuinfo=PI_4_B),
        want=dict(platform="linux/arm/v6", userspace_source="apk", cpu_variant="v8"),
        warnings=[],
    ),
    dict(
        id="Alpine armv7 on a Pi 3",
        given=dict(kernel_machine="armv7l", apk_architecture="armv7", cpuinfo=PI_3_B),
        want=dict(platform="linux/arm/v7", userspace_source="apk"),
        warnings=[],
    ),
    dict(
        id="Alpine x86_64",
        given=dict(kernel_machine="x86_64", apk_architecture="x86_64", cpuinfo=XEON),
        want=dict(platform="linux/amd64", userspace_source="apk", userspace_architecture="x86_64"),
        warnings=[],
    ),
    dict(
        id="no dpkg/apk: ELF hard-float on a Pi Zero",
        given=dict(kernel_machine="armv6l", elf_header=elf(EM_ARM, 32, flags=ARMHF_FLAGS), cpuinfo=PI_ZERO_W),
        want=dict(platform="linux/arm/v6", userspace_source="elf", userspace_bits=32),
        warnings=[],
    ),
    dict(
        id="no dpkg/apk: ELF hard-float on a 64-bit kernel",
        given=dict(kernel_machine="aarch64", elf_header=elf(EM_ARM, 32, flags=ARMHF_FLAGS), cpuinfo=PI_4_B),
        want=dict(platform="linux/arm/v7", userspace_source="elf", userspace_architecture="linux/arm/v7"),
        warnings=[],
    ),
    dict(
        id="no dpkg/apk: ELF soft-float (armel) on an ARMv5 SheevaPlug",
        given=dict(kernel_machine="armv5tel", elf_header=elf(EM_ARM, 32, flags=ARMEL_FLAGS), cpuinfo=SHEEVAPLUG),
        want=dict(platform="linux/arm/v5", bashbrew="arm32v5", debian="armel", cpu_variant="v5", board=None,
                  cpu_model="Feroceon 88FR131 rev 1 (v5l)"),
        warnings=[],
    ),
    dict(
        id="Debian armel on an ARMv5 SheevaPlug",
        given=dict(kernel_machine="armv5tel", dpkg_architecture="armel", cpuinfo=SHEEVAPLUG),
        want=dict(platform="linux/arm/v5", userspace_source="dpkg"),
        warnings=[],
    ),
    dict(
        id="no dpkg/apk: ELF aarch64",
        given=dict(kernel_machine="aarch64", elf_header=elf(EM_AARCH64, 64), cpuinfo=PI_5),
        want=dict(platform="linux/arm64", userspace_source="elf", userspace_bits=64),
        warnings=[],
    ),
    dict(
        id="no dpkg/apk: the real ELF header of this test's Python",
        given=dict(kernel_machine="x86_64", elf_header=THIS_PYTHON_ELF),
        want=dict(platform="linux/amd64", userspace_source="elf"),
        warnings=[],
    ),
    dict(
        id="unusable dpkg answer falls through to the ELF header",
        given=dict(kernel_machine="x86_64", dpkg_architecture="x32", elf_header=elf(EM_X86_64, 64)),
        want=dict(platform="linux/amd64", userspace_source="elf"),
        warnings=["dpkg reports architecture 'x32', which is not usable"],
    ),
    dict(
        id="only the kernel is known (armv7l)",
        given=dict(kernel_machine="armv7l"),
        want=dict(platform="linux/arm/v7", userspace_source="kernel", userspace_architecture="armv7l"),
        warnings=["no dpkg, apk or ELF information: the platform linux/arm/v7 comes from the kernel"],
    ),
    dict(
        id="only the kernel is known (armv8l): 32-bit ARM is reported at most v7",
        given=dict(kernel_machine="armv8l"),
        want=dict(platform="linux/arm/v7", userspace_source="kernel", cpu_variant="v8"),
        warnings=["comes from the kernel"],
    ),
    dict(
        id="userspace that cannot run on the kernel",
        given=dict(kernel_machine="x86_64", dpkg_architecture="arm64"),
        want=dict(platform="linux/arm64"),
        warnings=["the userspace (arm64 from dpkg) cannot run natively on this kernel (uname -m x86_64)"],
    ),
    dict(
        id="non-Pi board named by the device tree",
        given=dict(kernel_machine="aarch64", dpkg_architecture="arm64", device_tree_model="Hardkernel ODROID-C4\x00",
                   cpuinfo="processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
                           "CPU variant\t: 0x0\nCPU part\t: 0xd05\nCPU revision\t: 0\nRevision\t: 0000\n"),
        want=dict(platform="linux/arm64", board="Hardkernel ODROID-C4", soc=None),
        warnings=[],
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_scenarios(scenario):
    facts = detect_platform(**scenario["given"])
    for key, value in scenario["want"].items():
        assert facts[key] == value, key
    for key, value in scenario.get("docker", {}).items():
        assert facts["docker"][key] == value, "docker." + key
    assert len(facts["warnings"]) == len(scenario["warnings"]), facts["warnings"]
    for expected in scenario["warnings"]:
        assert any(expected in warning for warning in facts["warnings"]), (expected, facts["warnings"])


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_facts_are_consistent_with_the_platform(scenario):
    facts = detect_platform(**scenario["given"])
    parts = facts["platform"].split("/")
    assert [facts["os"], facts["architecture"]] == parts[:2]
    assert facts["variant"] == (parts[2] if len(parts) == 3 else "")
    expected_keys = {"platform", "os", "architecture", "variant", "bashbrew", "debian", "kernel_machine", "userspace_bits",
                     "userspace_source", "userspace_architecture", "cpu_variant", "cpu_model", "board", "soc", "docker", "warnings"}
    assert set(facts) == expected_keys
    assert facts["userspace_source"] in ("dpkg", "apk", "elf", "kernel")
    json.dumps(facts)  # facts must survive Ansible's JSON transport


def test_disagreement_is_also_recorded_on_its_own():
    facts = detect_platform("armv7l", dpkg_architecture="armhf", docker=DockerProbe(True, REAL_AMD64_DOCKER_VERSION, "x86_64", None))
    assert facts["docker"]["disagreement"] in facts["warnings"]
    assert "Pin the image platform to linux/arm/v7" in facts["docker"]["disagreement"]


def test_nothing_known_is_an_error_that_says_what_to_do():
    with pytest.raises(DetectionError, match="pass the platform explicitly"):
        detect_platform("")


def test_unknown_kernel_without_userspace_is_an_error():
    with pytest.raises(DetectionError) as info:
        detect_platform("sparc64")
    assert "'sparc64'" in str(info.value)
    assert isinstance(info.value, PlatformError) and isinstance(info.value, ValueError)


# --- the pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize("text, model_name, cpu_architecture, hardware, revision, model, is_arm, variant", [
    (PI_ZERO_W, "ARMv6-compatible processor rev 7 (v6l)", "7", "BCM2835", "9000c1", "Raspberry Pi Zero W Rev 1.1", True, "v6"),
    (PI_1_B, "ARMv6-compatible processor rev 7 (v6l)", "7", "BCM2708", "000e", None, True, "v6"),
    (PI_3_B, "ARMv7 Processor rev 4 (v7l)", "7", "BCM2835", "a02082", "Raspberry Pi 3 Model B Rev 1.2", True, "v7"),
    (PI_4_B, None, "8", "BCM2835", "c03114", "Raspberry Pi 4 Model B Rev 1.4", True, "v8"),
    (PI_5, None, "8", None, "d04170", "Raspberry Pi 5 Model B Rev 1.0", True, "v8"),
    (SHEEVAPLUG, "Feroceon 88FR131 rev 1 (v5l)", "5TE", "Marvell SheevaPlug Reference Board", "0000", None, True, "v5"),
    (XEON, "Intel(R) Xeon(R) CPU E5-2630 v4 @ 2.20GHz", None, None, None, None, False, None),
    (ATOM, "Intel(R) Atom(TM) CPU N270   @ 1.60GHz", None, None, None, None, False, None),
    ("", None, None, None, None, None, False, None),
])
def test_parse_cpuinfo(text, model_name, cpu_architecture, hardware, revision, model, is_arm, variant):
    info = parse_cpuinfo(text)
    assert info.model_name == model_name
    assert info.cpu_architecture == cpu_architecture
    assert info.hardware == hardware
    assert info.revision == revision
    assert info.model == model
    assert info.is_arm is is_arm
    assert cpuinfo_arm_variant(info) == variant


@pytest.mark.parametrize("text, variant", [
    ("CPU architecture: AArch64\n", "v8"),
    # the model name alone must beat "CPU architecture: 7" (containerd's Raspberry Pi rule)
    ("model name\t: ARMv6-compatible processor rev 7\nCPU architecture: 7\n", "v6"),
    ("CPU architecture: 6TEJ\n", "v6"),
    ("CPU architecture: 4T\n", None),
    ("model name\t: ARMv7 Processor rev 5 (v7l)\nCPU architecture: 7\n", "v7"),
])
def test_cpuinfo_variant_edge_cases(text, variant):
    assert cpuinfo_arm_variant(parse_cpuinfo(text)) == variant


@pytest.mark.parametrize("machine, variant", [
    ("armv5tel", "v5"), ("armv5tejl", "v5"), ("armv6l", "v6"), ("armv7l", "v7"), ("armv8l", "v8"), ("aarch64", "v8"),
    ("x86_64", None), ("i686", None), ("", None), (None, None),
])
def test_kernel_arm_variant(machine, variant):
    assert kernel_arm_variant(machine) == variant


@pytest.mark.parametrize("revision, board, soc", [
    ("9000c1", "Raspberry Pi Zero W Rev 1.1", "BCM2835"),
    ("900092", "Raspberry Pi Zero Rev 1.2", "BCM2835"),
    ("a02082", "Raspberry Pi 3 Model B Rev 1.2", "BCM2837"),
    ("a020d3", "Raspberry Pi 3 Model B+ Rev 1.3", "BCM2837"),
    ("a01041", "Raspberry Pi 2 Model B Rev 1.1", "BCM2836"),
    ("c03114", "Raspberry Pi 4 Model B Rev 1.4", "BCM2711"),
    ("902120", "Raspberry Pi Zero 2 W Rev 1.0", "BCM2837"),
    ("d04170", "Raspberry Pi 5 Rev 1.0", "BCM2712"),
    ("000e", "Raspberry Pi Model B Rev 2.0", "BCM2835"),
    ("0002", "Raspberry Pi Model B Rev 1.0", "BCM2835"),
    ("1000002", "Raspberry Pi Model B Rev 1.0", "BCM2835"),  # warranty bit set
    ("0010", "Raspberry Pi Model B Plus Rev 1.2", "BCM2835"),
])
def test_decode_pi_revision(revision, board, soc):
    assert decode_pi_revision(revision) == (board, soc)


@pytest.mark.parametrize("revision", ["0000", "", None, "zz", "ff0ff0"])
def test_decode_pi_revision_unknown(revision):
    assert decode_pi_revision(revision) is None


@pytest.mark.parametrize("header, platform", [
    (elf(EM_X86_64, 64), Platform("linux", "amd64", "")),
    (elf(EM_386, 32), Platform("linux", "386", "")),
    (elf(EM_AARCH64, 64), Platform("linux", "arm64", "")),
    (elf(EM_ARM, 32, flags=ARMHF_FLAGS), Platform("linux", "arm", "v7")),
    (elf(EM_ARM, 32, flags=ARMEL_FLAGS), Platform("linux", "arm", "v6")),
    (elf(EM_PPC64, 64), Platform("linux", "ppc64le", "")),
    (THIS_PYTHON_ELF, Platform("linux", "amd64", "")),
])
def test_elf_userspace_platform(header, platform):
    assert elf_userspace_platform(parse_elf_header(header)) == platform


def test_parse_elf_header_fields():
    ident = parse_elf_header(elf(EM_ARM, 32, flags=ARMHF_FLAGS))
    assert ident == (32, True, EM_ARM, ARMHF_FLAGS)
    big = parse_elf_header(elf(EM_PPC64, 64, little=False))
    assert (big.bits, big.little_endian, big.machine) == (64, False, EM_PPC64)


@pytest.mark.parametrize("header, message", [
    (b"", "not an ELF binary"),
    (b"#!/bin/sh\n" + b"\x00" * 60, "not an ELF binary"),
    (b"\x7fELF\x03\x01" + b"\x00" * 58, "unknown class byte 3"),
    (b"\x7fELF\x02\x03" + b"\x00" * 58, "unknown data-encoding byte 3"),
    (elf(EM_X86_64, 64)[:40], "truncated"),
])
def test_parse_elf_header_refuses_garbage(header, message):
    with pytest.raises(DetectionError, match=message):
        parse_elf_header(header)


@pytest.mark.parametrize("header", [elf(EM_SPARCV9, 64, little=False), elf(EM_X86_64, 32), elf(EM_PPC64, 64, little=False)])
def test_elf_of_unsupported_machines_is_refused(header):
    with pytest.raises(DetectionError, match="has no vaultwarden image"):
        elf_userspace_platform(parse_elf_header(header))


def test_parse_docker_version_real_output():
    parsed = parse_docker_version(REAL_AMD64_DOCKER_VERSION)
    assert parsed == {
        "client_version": "28.2.2", "client_os": "linux", "client_arch": "amd64",
        "server_version": "20.10.24+dfsg1", "server_os": "linux", "server_arch": "amd64",
        "server_kernel_version": "6.18.44-fc-v782",
        "client_api_version": "1.41", "server_api_version": "1.41", "server_min_api_version": "1.12",
    }
    assert parse_docker_version(json.loads(REAL_AMD64_DOCKER_VERSION)) == parsed


@pytest.mark.parametrize("client,server,expected", [
    ("1.41", "1.41", "1.41"),
    ("1.40", "1.41", "1.40"),     # DOCKER_API_VERSION=1.40 in the module's environment: an old engine's level
    ("1.50", "1.39", "1.39"),     # a new CLI negotiates down to an 18.09 daemon
    ("1.9", "1.25", "1.9"),       # compared as numbers, not as text
    (None, "1.41", "1.41"),
    ("1.41", None, "1.41"),
    (None, None, None),
    ("garbage", "1.40", "1.40"),
])
def test_effective_api_version(client, server, expected):
    assert effective_api_version(client, server) == expected


def test_detection_reports_the_api_level_a_pinned_client_speaks():
    data = json.loads(REAL_AMD64_DOCKER_VERSION)
    data["Client"]["ApiVersion"] = "1.39"
    facts = detect_platform("x86_64", dpkg_architecture="amd64",
                            docker=DockerProbe(True, json.dumps(data), "x86_64", None))
    docker = facts["docker"]
    assert (docker["client_api_version"], docker["server_api_version"], docker["server_min_api_version"],
            docker["api_version"]) == ("1.39", "1.41", "1.12", "1.39")


def test_parse_docker_version_engine_component_only():
    data = json.loads(docker_version("arm"))
    for key in ("Version", "Os", "Arch", "KernelVersion"):
        del data["Server"][key]
    parsed = parse_docker_version(data)
    assert (parsed["server_version"], parsed["server_os"], parsed["server_arch"]) == ("20.10.24+dfsg1", "linux", "arm")


@pytest.mark.parametrize("output", ["", None, "not json", "Error response from daemon: oops", "{broken"])
def test_parse_docker_version_garbage(output):
    assert parse_docker_version(output) == {}


def test_parse_docker_version_unreachable():
    parsed = parse_docker_version(UNREACHABLE_DOCKER_VERSION)
    assert parsed["client_arch"] == "arm"
    assert parsed["server_version"] is None and parsed["server_arch"] is None
