# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one architecture table of homelab.vaultwarden.

Every spelling of a machine architecture that the collection meets (``uname -m``, Debian's
``dpkg --print-architecture``, Go/OCI ``GOARCH`` and platform strings, bashbrew's official-images
names, Alpine's ``apk --print-arch``) is normalised here to one canonical OCI platform, and the
canonical platform is turned back into each ecosystem's name.

Decisions (each one is a fact the rest of the collection relies on):

* ``linux/arm64`` has no variant; ``arm64/v8`` is accepted and means the same (the OCI image
  spec and containerd drop the default ``v8``).
* ``linux/amd64`` has no variant; ``amd64/v1`` is the baseline and is accepted. ``amd64/v2``..``v4``
  are refused: no image this collection pulls is published per x86-64 micro-architecture level,
  and Docker 20.10 does not match on them.
* A bare ``arm`` (and the daemon's Go ``GOARCH=arm``) means ``linux/arm/v7``, as in containerd.
* Debian ``armel`` means ``linux/arm/v6`` (the Raspberry Pi 1 / Zero convention containerd uses),
  although Debian builds armel for ARMv5TE; ``to_debian('linux/arm/v5')`` is therefore ``armel`` too.
* ``armv8l`` (a 32-bit kernel or personality on an ARMv8 CPU) and ``arm/v8`` are kept as
  ``linux/arm/v8``, a real OCI platform that bashbrew has no name for. No vaultwarden image is
  published for it; ``platform_facts`` reports such hosts as ``linux/arm/v7`` because their
  userspace is armhf.
* ``mips64`` (uname cannot tell the byte order) means ``linux/mips64le``, the only MIPS platform
  of the official images.
* Alpine spells architectures differently and ``armhf`` there is ARMv6 (hard float), so Alpine
  names are a separate small table (``from_alpine``), never mixed with Debian's ``armhf``.

Runs on managed hosts: standard library only, Python 3.8 syntax.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import namedtuple


class PlatformError(ValueError):
    """A spelling that names no platform this collection knows, or a name an ecosystem lacks."""


Platform = namedtuple("Platform", "os architecture variant")

# One row per canonical platform: its names in each ecosystem (None when the ecosystem has no
# name for it), the pointer width of its userspace, and every bare spelling that means it.
_Row = namedtuple("_Row", "platform bashbrew debian uname bits spellings")

_ROWS = (
    _Row(Platform("linux", "amd64", ""), "amd64", "amd64", "x86_64", 64,
         ("amd64", "x86_64", "x86-64")),
    _Row(Platform("linux", "arm64", ""), "arm64v8", "arm64", "aarch64", 64,
         ("arm64", "aarch64", "arm64v8", "armv8")),
    _Row(Platform("linux", "arm", "v8"), None, "armhf", "armv8l", 32,
         ("armv8l",)),
    _Row(Platform("linux", "arm", "v7"), "arm32v7", "armhf", "armv7l", 32,
         ("arm", "armhf", "armv7l", "armv7", "arm32v7")),
    _Row(Platform("linux", "arm", "v6"), "arm32v6", "armel", "armv6l", 32,
         ("armel", "armv6l", "armv6", "arm32v6")),
    _Row(Platform("linux", "arm", "v5"), "arm32v5", "armel", "armv5tel", 32,
         ("armv5tel", "armv5tejl", "armv5l", "armv5", "arm32v5")),
    _Row(Platform("linux", "386", ""), "i386", "i386", "i686", 32,
         ("386", "i386", "i486", "i586", "i686", "x86")),
    _Row(Platform("linux", "ppc64le", ""), "ppc64le", "ppc64el", "ppc64le", 64,
         ("ppc64le", "ppc64el")),
    _Row(Platform("linux", "s390x", ""), "s390x", "s390x", "s390x", 64,
         ("s390x",)),
    _Row(Platform("linux", "riscv64", ""), "riscv64", "riscv64", "riscv64", 64,
         ("riscv64",)),
    _Row(Platform("linux", "mips64le", ""), "mips64le", "mips64el", "mips64", 64,
         ("mips64le", "mips64el", "mips64")),
    _Row(Platform("windows", "amd64", ""), "windows-amd64", None, None, 64,
         ("windows-amd64",)),
)

# Alpine's apk names; its armhf is built for ARMv6 (Raspberry Pi 1 / Zero), armv7 for ARMv7.
ALPINE_ARCHITECTURES = {
    "x86_64": Platform("linux", "amd64", ""),
    "x86": Platform("linux", "386", ""),
    "aarch64": Platform("linux", "arm64", ""),
    "armv7": Platform("linux", "arm", "v7"),
    "armhf": Platform("linux", "arm", "v6"),
    "ppc64le": Platform("linux", "ppc64le", ""),
    "s390x": Platform("linux", "s390x", ""),
    "riscv64": Platform("linux", "riscv64", ""),
}

_OPERATING_SYSTEMS = ("linux", "windows")
_ARM_VARIANTS = ("v5", "v6", "v7", "v8")
# Variants that only restate the architecture's baseline, so they are dropped.
_BASELINE_VARIANTS = {"arm64": "v8", "amd64": "v1"}
_DEFAULT_ARM_VARIANT = "v7"

_ROW_BY_PLATFORM = dict((row.platform, row) for row in _ROWS)


def _build_spelling_index():
    index = {}
    for row in _ROWS:
        for spelling in row.spellings:
            if spelling in index and index[spelling] != row.platform:
                raise AssertionError("spelling %r is claimed by two platforms" % spelling)
            index[spelling] = row.platform
    return index


_PLATFORM_BY_SPELLING = _build_spelling_index()


def canonical_platforms():
    """Every canonical platform of the table, in table order."""
    return tuple(row.platform for row in _ROWS)


def accepted_spellings():
    """Every spelling ``normalize_platform`` accepts (lower case; input is case-insensitive)."""
    spellings = set(_PLATFORM_BY_SPELLING)
    for row in _ROWS:
        canonical = platform_string(row.platform)
        spellings.add(canonical)
        if row.platform.os == "linux":
            # os/arch and arch/variant forms without the other part
            spellings.add(canonical[len("linux/"):])
    spellings.update(("linux/arm", "linux/arm64/v8", "arm64/v8", "linux/amd64/v1", "amd64/v1"))
    return tuple(sorted(spellings))


def _refuse(spelling, why):
    bare = sorted(_PLATFORM_BY_SPELLING)
    canonical = [platform_string(p) for p in canonical_platforms()]
    raise PlatformError(
        "unknown platform or architecture %r: %s. Use a platform string os/arch[/variant] such as %s, "
        "or one of these architecture names: %s. To learn a host's real platform, run the "
        "homelab.vaultwarden.platform_facts module on it."
        % (spelling, why, ", ".join(canonical), ", ".join(bare)))


def _normalize_variant(spelling, architecture, variant):
    variant = variant.strip()
    if variant.isdigit():
        variant = "v" + variant
    if not variant:
        _refuse(spelling, "the variant after the last '/' is empty")
    if architecture == "arm":
        if variant not in _ARM_VARIANTS:
            _refuse(spelling, "32-bit ARM variants are %s" % ", ".join(_ARM_VARIANTS))
        return variant
    if _BASELINE_VARIANTS.get(architecture) == variant:
        return ""
    if architecture == "amd64":
        _refuse(spelling, "x86-64 micro-architecture levels (v2-v4) are not published as separate images; use linux/amd64")
    _refuse(spelling, "%s has no variant %r" % (architecture, variant))
    return None  # not reached: _refuse raises


def _resolve(spelling, os_name, arch_spelling, variant):
    if os_name == "windows":
        if arch_spelling not in ("amd64", "x86_64", "x86-64") or variant is not None:
            _refuse(spelling, "the only Windows platform known here is windows/amd64")
        return Platform("windows", "amd64", "")
    platform = _PLATFORM_BY_SPELLING.get(arch_spelling)
    if platform is None or platform.os != "linux":
        _refuse(spelling, "%r is not an architecture name" % arch_spelling)
    if variant is None:
        return platform
    wanted = _normalize_variant(spelling, platform.architecture, variant)
    if platform.architecture == "arm" and arch_spelling != "arm" and wanted != platform.variant:
        # armhf/armv6l/arm32v7... already name a variant; a different explicit one is a contradiction
        _refuse(spelling, "%r already means %s, which contradicts variant %r"
                % (arch_spelling, platform_string(platform), wanted))
    return Platform(platform.os, platform.architecture, wanted)


def normalize_platform(spelling):
    """Any spelling of a platform or architecture -> the canonical ``Platform``.

    Accepts a ``Platform`` (returned as is after validation) or a string, case-insensitive,
    surrounding whitespace ignored: bare architecture names (uname, Debian, Go, bashbrew) and
    platform strings ``os/arch``, ``arch/variant`` and ``os/arch/variant``.
    """
    if isinstance(spelling, Platform):
        if spelling in _ROW_BY_PLATFORM:
            return spelling
        spelling = "/".join(part for part in spelling if part)
    if not isinstance(spelling, str):
        raise PlatformError("a platform must be a string such as 'linux/arm/v7', not %r (%s)"
                            % (spelling, type(spelling).__name__))
    text = spelling.strip().lower()
    if not text:
        _refuse(spelling, "it is empty")
    parts = [part.strip() for part in text.split("/")]
    if len(parts) == 1:
        if parts[0] in _OPERATING_SYSTEMS:
            _refuse(spelling, "it names an operating system but no architecture")
        platform = _PLATFORM_BY_SPELLING.get(parts[0])
        if platform is None:
            _refuse(spelling, "it is not an architecture name")
        return platform
    if len(parts) == 2:
        if parts[0] in _OPERATING_SYSTEMS:
            return _resolve(spelling, parts[0], parts[1], None)
        if parts[0] not in _PLATFORM_BY_SPELLING and parts[1] in _PLATFORM_BY_SPELLING:
            _refuse(spelling, "the operating system %r is not one of %s" % (parts[0], ", ".join(_OPERATING_SYSTEMS)))
        return _resolve(spelling, "linux", parts[0], parts[1])
    if len(parts) == 3:
        if parts[0] not in _OPERATING_SYSTEMS:
            _refuse(spelling, "the operating system %r is not one of %s" % (parts[0], ", ".join(_OPERATING_SYSTEMS)))
        return _resolve(spelling, parts[0], parts[1], parts[2])
    _refuse(spelling, "a platform string has at most three parts, os/arch/variant")
    return None  # not reached: _refuse raises


def platform_string(spelling):
    """Canonical OCI platform string: ``linux/amd64``, ``linux/arm64``, ``linux/arm/v7``."""
    platform = normalize_platform(spelling)
    return "/".join(part for part in platform if part)


def _row(spelling):
    return _ROW_BY_PLATFORM[normalize_platform(spelling)]


def to_bashbrew(spelling):
    """bashbrew (official-images) architecture name: ``amd64``, ``arm64v8``, ``arm32v6``, ``windows-amd64``."""
    row = _row(spelling)
    if row.bashbrew is None:
        raise PlatformError(
            "bashbrew has no architecture name for %s (%r): it names 32-bit ARM images by the oldest CPU they "
            "run on, and images for 32-bit ARMv8 are published as arm32v7; use linux/arm/v7"
            % (platform_string(row.platform), spelling))
    return row.bashbrew


def to_debian(spelling):
    """Debian (dpkg) architecture name: ``amd64``, ``arm64``, ``armhf``, ``armel``, ``i386``, ``ppc64el``."""
    row = _row(spelling)
    if row.debian is None:
        raise PlatformError(
            "Debian has no architecture name for %s (%r): Debian only builds Linux systems; "
            "use a linux/... platform such as linux/amd64" % (platform_string(row.platform), spelling))
    return row.debian


def to_uname(spelling):
    """``uname -m`` machine name a Linux kernel of this platform reports: ``x86_64``, ``aarch64``, ``armv7l``."""
    row = _row(spelling)
    if row.uname is None:
        raise PlatformError(
            "%s (%r) has no uname machine name: `uname -m` describes Linux kernels; "
            "use a linux/... platform such as linux/amd64" % (platform_string(row.platform), spelling))
    return row.uname


def platform_bits(spelling):
    """Pointer width (32 or 64) of the userspace of this platform."""
    return _row(spelling).bits


def from_alpine(apk_architecture):
    """Alpine ``apk --print-arch`` name -> canonical ``Platform`` (Alpine's armhf is ARMv6)."""
    key = (apk_architecture or "").strip().lower()
    try:
        return ALPINE_ARCHITECTURES[key]
    except KeyError:
        raise PlatformError(
            "unknown Alpine architecture %r: `apk --print-arch` names known here are %s; "
            "other Alpine ports have no vaultwarden image"
            % (apk_architecture, ", ".join(sorted(ALPINE_ARCHITECTURES)))) from None
