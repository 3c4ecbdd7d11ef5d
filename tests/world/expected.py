# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the test world must serve, written from the image facts (not from tools/world/layout.py).

A set of platforms means a manifest list with exactly those platforms; a plain string means a
single-platform image (no list), as the legacy upstream tags were.
"""

from __future__ import annotations

AMD64 = "linux/amd64"
ARM64 = "linux/arm64/v8"
ARMV7 = "linux/arm/v7"
ARMV6 = "linux/arm/v6"
FOUR = frozenset({AMD64, ARM64, ARMV7, ARMV6})
ALPINE_EARLY = frozenset({AMD64, ARMV7})

VAULTWARDEN_VERSIONS = ("1.21.0", "1.24.0", "1.27.0", "1.28.0", "1.30.0", "1.30.1", "1.32.0", "1.35.0", "1.35.1",
                        "1.37.1", "1.37.2")
BROKEN_VERSIONS = ("1.99.0", "1.99.1", "1.99.2")   # never healthy, crashes, reads the vault back empty
ARM32V6_VERSIONS = ("1.21.0", "1.24.0", "1.27.0")     # the work-around existed for 1.16.1 - 1.27.x only


def _vaultwarden() -> dict:
    tags = {}
    for version in VAULTWARDEN_VERSIONS + BROKEN_VERSIONS:
        tags[version] = FOUR
        tags[version + "-alpine"] = ALPINE_EARLY if version == "1.21.0" else FOUR
    for version in ARM32V6_VERSIONS:
        tags[version + "-arm32v6"] = ARMV6
    tags.update({"latest": FOUR, "latest-alpine": FOUR, "alpine": FOUR, "testing": FOUR, "testing-alpine": FOUR})
    return tags


EXPECTED_TAGS = {
    "vaultwarden/server": _vaultwarden(),
    "bitwardenrs/server": {
        "1.15.1": AMD64,
        "1.15.1-alpine": AMD64,
        "raspberry": ARMV7, "1.15.1-raspberry": ARMV7,
        "armv6": ARMV6, "1.15.1-armv6": ARMV6,
        "aarch64": ARM64, "1.15.1-aarch64": ARM64,
        "1.16.3": FOUR, "1.16.3-arm32v6": ARMV6, "1.16.3-alpine": frozenset({AMD64}),
        "1.20.0": FOUR, "1.20.0-arm32v6": ARMV6, "1.20.0-alpine": ALPINE_EARLY,
        "latest": FOUR, "alpine": ALPINE_EARLY,
    },
    "bitwardenrs/server-mysql": {"1.16.3": frozenset({AMD64}), "latest": frozenset({AMD64})},
    "bitwardenrs/server-postgresql": {"1.16.3": frozenset({AMD64}), "latest": frozenset({AMD64})},
    "library/mariadb": {"10.11": frozenset({AMD64, ARM64}), "10": frozenset({AMD64, ARM64})},
    "library/postgres": {"15": frozenset({AMD64, ARM64}), "15-bookworm": frozenset({AMD64, ARM64})},
    "library/caddy": {"2": frozenset({AMD64, ARM64}), "latest": frozenset({AMD64, ARM64})},
    "homelab/fleet-host": {"bookworm": FOUR},
}

# Which release each tag carries by default (checked with /api/version and the OCI version label).
EXPECTED_VERSION = {
    ("vaultwarden/server", "latest"): "1.37.1",
    ("vaultwarden/server", "latest-alpine"): "1.37.1",
    ("vaultwarden/server", "alpine"): "1.37.1",
    ("vaultwarden/server", "testing"): "1.37.2",
    ("vaultwarden/server", "testing-alpine"): "1.37.2",
    ("bitwardenrs/server", "latest"): "1.20.0",
    ("bitwardenrs/server", "raspberry"): "1.15.1",
}

# Database backends each image was built with upstream.
EXPECTED_BACKENDS = {
    ("bitwardenrs/server", "1.15.1"): {"sqlite"},
    ("bitwardenrs/server", "1.16.3"): {"sqlite"},
    ("bitwardenrs/server", "1.20.0"): {"sqlite", "mysql", "postgresql"},
    ("bitwardenrs/server-mysql", "1.16.3"): {"mysql"},
    ("bitwardenrs/server-postgresql", "1.16.3"): {"postgresql"},
    ("vaultwarden/server", "1.21.0"): {"sqlite", "mysql", "postgresql"},
    ("vaultwarden/server", "1.37.2"): {"sqlite", "mysql", "postgresql"},
}

# uname -m inside a container of each platform on this x86_64 machine (arm/v6 with QEMU_CPU=arm1176).
MACHINE = {AMD64: "x86_64", ARM64: "aarch64", ARMV7: "armv7l", ARMV6: "armv6l"}
