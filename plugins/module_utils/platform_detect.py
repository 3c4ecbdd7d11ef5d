# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure platform detection: raw observations of a host -> the ``docker_platform`` facts.

Nothing here reads files or runs commands; ``plugins/modules/platform_facts.py`` gathers the raw
inputs and these functions decide. The rules:

* The host's **userspace** decides the platform (dpkg, else apk, else the ELF header of the
  running Python, else -- with a warning -- the kernel). A Raspberry Pi OS 32-bit system on a
  64-bit kernel has ``uname -m`` = aarch64, but its Docker daemon and tools are armhf binaries.
* For 32-bit ARM the userspace gives a ceiling (armhf: v7, armel / ELF soft-float / Alpine armhf: v6)
  and the CPU can only lower it: the lowest of ``uname -m``, ``/proc/cpuinfo`` and the Raspberry Pi
  SoC wins. Raspbian's armhf is built for ARMv6, so armhf on a Pi Zero is linux/arm/v6. No 32-bit
  userspace is reported above v7 (images for 32-bit ARMv8 are published as arm/v7).
* ARMv6 Raspberry Pi kernels report ``CPU architecture: 7``; the model name
  ``ARMv6-compatible processor`` is trusted over it (containerd applies the same rule).
* The Docker daemon is a cross-check only. ``docker version`` reports the daemon's Go GOOS/GOARCH
  without an ARM variant, and containerd picks the variant from the same CPU, so an ``arm`` daemon on
  an ARM host takes the host's variant. ``docker info`` reports the daemon kernel's ``uname -m``.
  A disagreement is a warning, not an error: an emulated test fleet shares one amd64 daemon, and
  DOCKER_HOST may point at another machine.

Runs on managed hosts: standard library only, Python 3.8 syntax.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import struct
from collections import namedtuple

from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import (
    Platform,
    PlatformError,
    from_alpine,
    normalize_platform,
    platform_bits,
    platform_string,
    to_bashbrew,
    to_debian,
)


class DetectionError(PlatformError):
    """The raw observations do not allow deciding a platform."""


ElfIdent = namedtuple("ElfIdent", "bits little_endian machine flags")
CpuInfo = namedtuple("CpuInfo", "is_arm model_name cpu_architecture hardware revision model")
PiRevision = namedtuple("PiRevision", "board soc")
# present: the docker CLI was found; version_output: stdout of `docker version --format '{{json .}}'`
# (text or parsed dict); info_architecture: `docker info --format '{{.Architecture}}'`; error: why not.
DockerProbe = namedtuple("DockerProbe", "present version_output info_architecture error")

_ARM = "arm"
# 32-bit ARM userspaces stop at the ARMv7 ABI; arm/v8 images are published as arm/v7.
_HIGHEST_32BIT_ARM_VARIANT = "v7"

_EM_386 = 3
_EM_MIPS = 8
_EM_PPC64 = 21
_EM_S390 = 22
_EM_ARM = 40
_EM_X86_64 = 62
_EM_AARCH64 = 183
_EM_RISCV = 243
_EF_ARM_ABI_FLOAT_HARD = 0x400

# (e_machine, bits, little endian) -> platform of the userspace that binary belongs to
_ELF_PLATFORMS = {
    (_EM_X86_64, 64, True): Platform("linux", "amd64", ""),
    (_EM_386, 32, True): Platform("linux", "386", ""),
    (_EM_AARCH64, 64, True): Platform("linux", "arm64", ""),
    (_EM_PPC64, 64, True): Platform("linux", "ppc64le", ""),
    (_EM_S390, 64, False): Platform("linux", "s390x", ""),
    (_EM_RISCV, 64, True): Platform("linux", "riscv64", ""),
    (_EM_MIPS, 64, True): Platform("linux", "mips64le", ""),
}

# Architectures a kernel runs natively besides its own (compat mode).
_KERNEL_COMPAT = {
    "amd64": ("amd64", "386"),
    "arm64": ("arm64", "arm"),
}

# Raspberry Pi revision codes, new style (bit 23 set): type field -> board name.
_PI_TYPES = {
    0x00: "Raspberry Pi Model A", 0x01: "Raspberry Pi Model B", 0x02: "Raspberry Pi Model A+",
    0x03: "Raspberry Pi Model B+", 0x04: "Raspberry Pi 2 Model B", 0x06: "Raspberry Pi Compute Module",
    0x08: "Raspberry Pi 3 Model B", 0x09: "Raspberry Pi Zero", 0x0a: "Raspberry Pi Compute Module 3",
    0x0c: "Raspberry Pi Zero W", 0x0d: "Raspberry Pi 3 Model B+", 0x0e: "Raspberry Pi 3 Model A+",
    0x10: "Raspberry Pi Compute Module 3+", 0x11: "Raspberry Pi 4 Model B", 0x12: "Raspberry Pi Zero 2 W",
    0x13: "Raspberry Pi 400", 0x14: "Raspberry Pi Compute Module 4", 0x15: "Raspberry Pi Compute Module 4S",
    0x17: "Raspberry Pi 5", 0x18: "Raspberry Pi Compute Module 5", 0x19: "Raspberry Pi 500",
    0x1a: "Raspberry Pi Compute Module 5 Lite",
}
# processor field -> (SoC, ARM variant of its CPU)
_PI_SOCS = {0: ("BCM2835", "v6"), 1: ("BCM2836", "v7"), 2: ("BCM2837", "v8"), 3: ("BCM2711", "v8"), 4: ("BCM2712", "v8")}
# Old-style codes (all BCM2835, ARMv6): code -> board name.
_PI_OLD_CODES = {
    0x2: "Raspberry Pi Model B Rev 1.0", 0x3: "Raspberry Pi Model B Rev 1.0",
    0x4: "Raspberry Pi Model B Rev 2.0", 0x5: "Raspberry Pi Model B Rev 2.0", 0x6: "Raspberry Pi Model B Rev 2.0",
    0x7: "Raspberry Pi Model A Rev 2.0", 0x8: "Raspberry Pi Model A Rev 2.0", 0x9: "Raspberry Pi Model A Rev 2.0",
    0xd: "Raspberry Pi Model B Rev 2.0", 0xe: "Raspberry Pi Model B Rev 2.0", 0xf: "Raspberry Pi Model B Rev 2.0",
    0x10: "Raspberry Pi Model B Plus Rev 1.2", 0x11: "Raspberry Pi Compute Module Rev 1.0",
    0x12: "Raspberry Pi Model A Plus Rev 1.1", 0x13: "Raspberry Pi Model B Plus Rev 1.2",
    0x14: "Raspberry Pi Compute Module Rev 1.0", 0x15: "Raspberry Pi Model A Plus Rev 1.1",
}


def parse_elf_header(data):
    """The identity of an ELF binary from its first 64 bytes (class, byte order, machine, flags)."""
    data = bytes(data or b"")
    if len(data) < 20 or data[:4] != b"\x7fELF":
        raise DetectionError("not an ELF binary (got %d bytes starting %r); pass the first 64 bytes of an executable"
                             % (len(data), data[:4]))
    bits = {1: 32, 2: 64}.get(data[4])
    if bits is None:
        raise DetectionError("ELF header has an unknown class byte %d (1 = 32-bit, 2 = 64-bit)" % data[4])
    little_endian = {1: True, 2: False}.get(data[5])
    if little_endian is None:
        raise DetectionError("ELF header has an unknown data-encoding byte %d (1 = little, 2 = big endian)" % data[5])
    order = "<" if little_endian else ">"
    flags_offset = 36 if bits == 32 else 48
    if len(data) < flags_offset + 4:
        raise DetectionError("ELF header is truncated: %d bytes, a %d-bit header has %d"
                             % (len(data), bits, 52 if bits == 32 else 64))
    machine = struct.unpack_from(order + "H", data, 18)[0]
    flags = struct.unpack_from(order + "I", data, flags_offset)[0]
    return ElfIdent(bits, little_endian, machine, flags)


def elf_userspace_platform(ident):
    """The userspace platform an ELF identity belongs to; 32-bit ARM: hard float -> v7, soft float -> v6."""
    if ident.machine == _EM_ARM and ident.bits == 32 and ident.little_endian:
        # armhf binaries carry the EABI hard-float flag; armel (soft float) ones do not.
        return Platform("linux", _ARM, "v7" if ident.flags & _EF_ARM_ABI_FLOAT_HARD else "v6")
    platform = _ELF_PLATFORMS.get((ident.machine, ident.bits, ident.little_endian))
    if platform is None:
        raise DetectionError(
            "the ELF binary is for machine %d, %d-bit, %s endian, which has no vaultwarden image "
            "(known: x86-64, i386, AArch64, 32-bit ARM, ppc64le, s390x, riscv64, mips64le)"
            % (ident.machine, ident.bits, "little" if ident.little_endian else "big"))
    return platform


def parse_cpuinfo(text):
    """The fields of ``/proc/cpuinfo`` that matter (first CPU block plus the board lines)."""
    fields = {}
    board_model = None
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        # Case matters only here: x86 CPUs have a numeric "model", Raspberry Pi kernels add "Model".
        if key == "Model" and board_model is None:
            board_model = value.strip()
        key = key.lower()
        if key and key not in fields:
            fields[key] = value.strip()
    model_name = fields.get("model name")
    processor = fields.get("processor", "")
    if not model_name and processor and not processor.isdigit():
        # Kernels before 3.8 print the ARM model as "Processor : ARMv6-compatible processor ..."
        model_name = processor
    is_arm = "cpu architecture" in fields or "cpu implementer" in fields or (model_name or "").lower().startswith("arm")
    return CpuInfo(
        is_arm=is_arm,
        model_name=model_name or None,
        cpu_architecture=fields.get("cpu architecture") or None,
        hardware=fields.get("hardware") or None,
        revision=fields.get("revision") or None,
        model=board_model or None,
    )


def cpuinfo_arm_variant(info):
    """ARM variant of the CPU described by ``parse_cpuinfo``, or None when it is not an ARM CPU."""
    if not info.is_arm:
        return None
    model = (info.model_name or "").lower()
    if model.startswith("armv6-compatible"):
        # Raspberry Pi 1 / Zero kernels say "CPU architecture: 7" for their ARMv6 (ARM1176) core.
        return "v6"
    suffix = re.search(r"\(v(\d)[a-z]*\)", model)
    if suffix:
        return _clamp_arm_variant(int(suffix.group(1)))
    arch = (info.cpu_architecture or "").lower()
    if arch.startswith("aarch64"):
        return "v8"
    digits = re.match(r"(\d+)", arch)
    if digits:
        return _clamp_arm_variant(int(digits.group(1)))
    return None


def _clamp_arm_variant(number):
    if number < 5:
        return None
    return "v%d" % min(number, 8)


def kernel_arm_variant(kernel_machine):
    """ARM variant implied by ``uname -m`` (armv6l -> v6, aarch64 -> v8), None for other machines."""
    machine = (kernel_machine or "").strip().lower()
    if machine in ("aarch64", "arm64"):
        return "v8"
    match = re.match(r"armv(\d)", machine)
    if match:
        return _clamp_arm_variant(int(match.group(1)))
    return None


def decode_pi_revision(revision):
    """Board name and SoC from a Raspberry Pi revision code (``Revision`` line of /proc/cpuinfo)."""
    try:
        code = int((revision or "").strip(), 16)
    except ValueError:
        return None
    if code & (1 << 23):
        board = _PI_TYPES.get((code >> 4) & 0xFF)
        soc = _PI_SOCS.get((code >> 12) & 0xF)
        if board is None:
            return None
        return PiRevision("%s Rev 1.%d" % (board, code & 0xF), soc[0] if soc else None)
    board = _PI_OLD_CODES.get(code & 0xFFFF)
    if board is None:
        return None
    return PiRevision(board, "BCM2835")


def _pi_soc_variant(soc):
    for name, variant in _PI_SOCS.values():
        if name == soc:
            return variant
    return None


def _looks_like_pi(info, device_tree_model):
    texts = (info.model, info.hardware, device_tree_model)
    return any(text and ("raspberry" in text.lower() or text.upper().startswith("BCM")) for text in texts)


def parse_docker_version(output):
    """Client/server facts from ``docker version --format '{{json .}}'`` (text or the parsed dict)."""
    if isinstance(output, dict):
        data = output
    else:
        text = (output or "").strip()
        start = text.find("{")
        if start < 0:
            return {}
        try:
            data = json.loads(text[start:])
        except ValueError:
            return {}
    client = data.get("Client") or {}
    server = data.get("Server") or {}
    engine = {}
    for component in server.get("Components") or []:
        if (component.get("Name") or "").lower() == "engine":
            engine = component.get("Details") or {}
            engine = dict(engine, Version=component.get("Version"))
    return {
        "client_version": client.get("Version"),
        "client_os": client.get("Os"),
        "client_arch": client.get("Arch"),
        "server_version": server.get("Version") or engine.get("Version"),
        "server_os": server.get("Os") or engine.get("Os"),
        "server_arch": server.get("Arch") or engine.get("Arch"),
        "server_kernel_version": server.get("KernelVersion") or engine.get("KernelVersion"),
        "client_api_version": client.get("ApiVersion"),
        "server_api_version": server.get("ApiVersion") or engine.get("ApiVersion"),
        "server_min_api_version": server.get("MinAPIVersion") or engine.get("MinAPIVersion"),
    }


def _api_key(version):
    try:
        return tuple(int(part) for part in str(version).split("."))
    except ValueError:
        return None


def effective_api_version(client_api_version, server_api_version):
    """The API level the client speaks to this daemon: the lower of the two (a pinned DOCKER_API_VERSION lowers the
    client's), or whichever is known."""
    known = [v for v in (client_api_version, server_api_version) if v and _api_key(v) is not None]
    return min(known, key=_api_key) if known else None


def _userspace(kernel_machine, dpkg_architecture, apk_architecture, elf_header, warnings):
    """(platform, source, raw name) of the host's userspace, from the most reliable source present."""
    if dpkg_architecture:
        try:
            return normalize_platform(dpkg_architecture), "dpkg", dpkg_architecture.strip()
        except PlatformError as exc:
            warnings.append("dpkg reports architecture %r, which is not usable (%s); trying the next source"
                            % (dpkg_architecture, exc))
    if apk_architecture:
        try:
            return from_alpine(apk_architecture), "apk", apk_architecture.strip()
        except PlatformError as exc:
            warnings.append("apk reports architecture %r, which is not usable (%s); trying the next source"
                            % (apk_architecture, exc))
    if elf_header:
        try:
            platform = elf_userspace_platform(parse_elf_header(elf_header))
            return platform, "elf", platform_string(platform)
        except PlatformError as exc:
            warnings.append("the ELF header of the Python interpreter is not usable (%s); trying the kernel" % exc)
    if not kernel_machine:
        raise DetectionError("no source tells this host's architecture: uname -m is empty and there is no "
                             "dpkg, apk or readable ELF binary; pass the platform explicitly instead")
    try:
        platform = normalize_platform(kernel_machine)
    except PlatformError as exc:
        raise DetectionError("cannot tell this host's platform: %s" % exc) from exc
    warnings.append("no dpkg, apk or ELF information: the platform %s comes from the kernel (uname -m %s), "
                    "which is wrong for a 32-bit userspace on a 64-bit kernel"
                    % (platform_string(platform), kernel_machine))
    return platform, "kernel", kernel_machine


def _kernel_platform(kernel_machine):
    try:
        return normalize_platform(kernel_machine)
    except PlatformError:
        return None


def _docker_facts(probe, host, warnings):
    facts = {
        "gathered": probe is not None,
        "present": None,
        "reachable": None,
        "client_version": None,
        "client_platform": None,
        "server_version": None,
        "server_os": None,
        "server_arch": None,
        "server_platform": None,
        "server_kernel_machine": None,
        "server_kernel_version": None,
        "client_api_version": None,
        "server_api_version": None,
        "server_min_api_version": None,
        "api_version": None,
        "matches_host": None,
        "disagreement": None,
        "error": None,
    }
    if probe is None:
        return facts
    facts["present"] = bool(probe.present)
    facts["error"] = probe.error or None
    if not probe.present:
        facts["reachable"] = False
        warnings.append("Docker is not available on this host (%s); the platform is decided from the host alone. "
                        "Install Docker (20.10 or newer) before deploying vaultwarden" % (probe.error or "no docker command"))
        return facts
    version = parse_docker_version(probe.version_output)
    facts["client_version"] = version.get("client_version")
    facts["client_api_version"] = version.get("client_api_version")
    if version.get("client_os") and version.get("client_arch"):
        facts["client_platform"] = "%s/%s" % (version["client_os"], version["client_arch"])
    facts["reachable"] = bool(version.get("server_version") or version.get("server_arch"))
    if not facts["reachable"]:
        warnings.append("the Docker daemon did not answer (%s); the platform is decided from the host alone. "
                        "Start the daemon or fix docker_host / DOCKER_HOST" % (probe.error or "no server section in docker version"))
        return facts
    facts.update(
        server_version=version.get("server_version"),
        server_os=version.get("server_os"),
        server_arch=version.get("server_arch"),
        server_kernel_version=version.get("server_kernel_version"),
        server_kernel_machine=(probe.info_architecture or "").strip() or None,
        server_api_version=version.get("server_api_version"),
        server_min_api_version=version.get("server_min_api_version"),
        api_version=effective_api_version(version.get("client_api_version"), version.get("server_api_version")),
    )
    try:
        server = normalize_platform("%s/%s" % (facts["server_os"], facts["server_arch"]))
    except PlatformError as exc:
        warnings.append("the Docker daemon reports a platform this collection does not know (%s)" % exc)
        return facts
    if server.architecture == _ARM and host.architecture == _ARM:
        # GOARCH carries no variant; containerd derives it from the CPU, as this detection does.
        server = host
    facts["server_platform"] = platform_string(server)
    facts["matches_host"] = server == host
    if not facts["matches_host"]:
        facts["disagreement"] = (
            "the Docker daemon runs %s (docker version: Os=%s Arch=%s, kernel %s) but this host's userspace is %s. "
            "Expected on an emulated test fleet sharing one daemon or when DOCKER_HOST points at another machine; "
            "otherwise check the Docker installation. Pin the image platform to %s so the daemon pulls this host's image"
            % (facts["server_platform"], facts["server_os"], facts["server_arch"],
               facts["server_kernel_machine"] or "unknown", platform_string(host), platform_string(host)))
        warnings.append(facts["disagreement"])
    return facts


def detect_platform(kernel_machine, dpkg_architecture=None, apk_architecture=None, elf_header=None,
                    cpuinfo=None, device_tree_model=None, docker=None):
    """Decide the host's platform from raw observations; returns the ``docker_platform`` fact dict.

    kernel_machine: ``uname -m``; dpkg_architecture: ``dpkg --print-architecture``;
    apk_architecture: ``apk --print-arch``; elf_header: first 64 bytes of the running Python;
    cpuinfo: text of ``/proc/cpuinfo``; device_tree_model: ``/proc/device-tree/model``;
    docker: a ``DockerProbe`` or None when Docker was not asked.
    """
    warnings = []
    kernel_machine = (kernel_machine or "").strip()
    platform, source, raw = _userspace(kernel_machine, dpkg_architecture, apk_architecture, elf_header, warnings)

    kernel = _kernel_platform(kernel_machine)
    if kernel is not None and platform.architecture not in _KERNEL_COMPAT.get(kernel.architecture, (kernel.architecture,)):
        warnings.append("the userspace (%s from %s) cannot run natively on this kernel (uname -m %s): "
                        "this host runs under emulation or reports inconsistent facts; the userspace decides"
                        % (raw, source, kernel_machine))

    info = parse_cpuinfo(cpuinfo)
    tree_model = (device_tree_model or "").replace("\x00", "").strip() or None
    pi = decode_pi_revision(info.revision) if _looks_like_pi(info, tree_model) else None

    cpu_variant = None
    if platform.architecture == _ARM:
        signals = [kernel_arm_variant(kernel_machine), cpuinfo_arm_variant(info), _pi_soc_variant(pi.soc) if pi else None]
        known = [variant for variant in signals if variant]
        cpu_variant = min(known) if known else None
        if cpuinfo and not info.is_arm and kernel_arm_variant(kernel_machine):
            warnings.append("/proc/cpuinfo describes a non-ARM CPU (%s) under an ARM kernel (uname -m %s): "
                            "user-mode emulation; the ARM variant comes from uname -m only"
                            % (info.model_name or "unknown model", kernel_machine))
        variant = min(platform.variant, _HIGHEST_32BIT_ARM_VARIANT)
        if cpu_variant:
            variant = min(variant, cpu_variant)
        platform = Platform(platform.os, platform.architecture, variant)
    elif platform.architecture == "arm64":
        cpu_variant = "v8"

    docker_facts = _docker_facts(docker, platform, warnings)
    try:
        bashbrew = to_bashbrew(platform)
    except PlatformError:
        bashbrew = None
    try:
        debian = to_debian(platform)
    except PlatformError:
        debian = None
    return {
        "platform": platform_string(platform),
        "os": platform.os,
        "architecture": platform.architecture,
        "variant": platform.variant,
        "bashbrew": bashbrew,
        "debian": debian,
        "kernel_machine": kernel_machine or None,
        "userspace_bits": platform_bits(platform),
        "userspace_source": source,
        "userspace_architecture": raw,
        "cpu_variant": cpu_variant,
        "cpu_model": info.model_name,
        "board": info.model or tree_model or (pi.board if pi else None),
        "soc": pi.soc if pi else None,
        "docker": docker_facts,
        "warnings": warnings,
    }
