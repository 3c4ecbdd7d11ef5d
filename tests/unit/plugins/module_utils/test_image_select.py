# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image selection and tag judgement, table-driven from upstream's release tags.

The expectations here are written from what each release tag's own build files say (the fact sheet's
corrected facts), not read from the catalogue, so a wrong catalogue row fails a test. The last section walks
every release tag of tests/unit/fixtures/upstream/vaultwarden-releases.json through the selection.
"""

from __future__ import annotations

import itertools
import os

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import vaultwarden_catalogue as catalogue
from ansible_collections.homelab.vaultwarden.plugins.module_utils.image_select import (
    ImageSelectionError,
    parse_docker_version,
    select_image,
    tag_info,
)
from tools.upstream import compare as upstream

AMD64, ARM64, ARMV7, ARMV6 = "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"
FOUR = {AMD64, ARM64, ARMV7, ARMV6}
NEVER = ("linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64", "linux/arm/v5", "linux/mips64le")


# --- selections that succeed -------------------------------------------------------------------

# Fragments of the warnings a selection must carry, one per warning, in order.
UNCERTAIN = "rests on an uncertain fact"
UNCERTAIN_REPOSITORY = "the repository %s " + UNCERTAIN
MOBY = "docker_version is unknown"


def _expected(repository, tag, platform, era, channel="pinned", version=None, variant="debian", database="sqlite",
              registry="docker.io", warnings=(), capabilities=()):
    return {
        "repository": repository,
        "tag": tag,
        "ref": "%s/%s:%s" % (registry, repository, tag),
        "platform": platform,
        "pull": "missing" if channel == "pinned" else "always",
        "era": era,
        "channel": channel,
        "version": version if channel == "pinned" else None,
        "variant": variant,
        "database": database,
        "warnings": list(warnings),
        "non_root_capabilities": list(capabilities),
    }


SELECTIONS = [
    # moving tags: always the current era, pulled every time
    (dict(platform="linux/amd64"),
     _expected("vaultwarden/server", "latest", AMD64, "vaultwarden", "latest")),
    (dict(platform="armv7l", variant="alpine"),
     _expected("vaultwarden/server", "latest-alpine", ARMV7, "vaultwarden", "latest", variant="alpine")),
    (dict(platform="aarch64", version="testing"),
     _expected("vaultwarden/server", "testing", ARM64, "vaultwarden", "testing")),
    (dict(platform="armv6l", version="testing", variant="alpine", database="postgres"),
     _expected("vaultwarden/server", "testing-alpine", ARMV6, "vaultwarden", "testing", variant="alpine",
               database="postgresql", warnings=[MOBY])),
    (dict(platform="arm64", version=None),
     _expected("vaultwarden/server", "latest", ARM64, "vaultwarden", "latest")),
    (dict(platform="amd64", version=" LATEST "),
     _expected("vaultwarden/server", "latest", AMD64, "vaultwarden", "latest")),
    # era boundaries 1.9.0 / 1.9.1, 1.20.x / 1.21.0
    # before 1.16.0 Docker Hub's build settings (not in the repository) named the tags: a warning says so
    (dict(platform="amd64", version="1.9.0"),
     _expected("mprasil/bitwarden", "1.9.0", AMD64, "mprasil", version="1.9.0", warnings=[UNCERTAIN])),
    (dict(platform="amd64", version="1.9.0", variant="alpine"),
     _expected("mprasil/bitwarden", "1.9.0-alpine", AMD64, "mprasil", version="1.9.0", variant="alpine",
               warnings=[UNCERTAIN])),
    (dict(platform="amd64", version="1.1.0", variant="alpine"),
     _expected("mprasil/bitwarden", "1.1.0-alpine", AMD64, "mprasil", version="1.1.0", variant="alpine",
               warnings=[UNCERTAIN])),
    (dict(platform="amd64", version="1.9.1"),
     _expected("bitwardenrs/server", "1.9.1", AMD64, "bitwarden_rs", version="1.9.1", warnings=[UNCERTAIN])),
    # the release after 1.13.1 is tagged '1.14' (git and Docker), not '1.14.0'
    (dict(platform="amd64", version="1.14"),
     _expected("bitwardenrs/server", "1.14", AMD64, "bitwarden_rs", version="1.14", warnings=[UNCERTAIN])),
    (dict(platform="amd64", version="1.14", variant="alpine", database="postgresql"),
     _expected("bitwardenrs/server-postgresql", "1.14-alpine", AMD64, "bitwarden_rs", version="1.14",
               variant="alpine", database="postgresql",
               warnings=[UNCERTAIN_REPOSITORY % "bitwardenrs/server-postgresql", UNCERTAIN])),
    (dict(platform="amd64", version="1.20.0"),
     _expected("bitwardenrs/server", "1.20.0", AMD64, "bitwarden_rs", version="1.20.0")),
    (dict(platform="amd64", version="1.21.0"),
     _expected("vaultwarden/server", "1.21.0", AMD64, "vaultwarden", version="1.21.0")),
    # -mysql from 1.10.0 and -postgresql from 1.11.0 (their Dockerfiles), separate images up to 1.16.x, one
    # image from 1.17.0; the repository names are first written in 1.16.0:hooks/arches.sh
    (dict(platform="amd64", version="1.10.0", database="mysql"),
     _expected("bitwardenrs/server-mysql", "1.10.0", AMD64, "bitwarden_rs", version="1.10.0", database="mysql",
               warnings=[UNCERTAIN_REPOSITORY % "bitwardenrs/server-mysql", UNCERTAIN])),
    (dict(platform="amd64", version="1.12.0", database="MariaDB", variant="alpine"),
     _expected("bitwardenrs/server-mysql", "1.12.0-alpine", AMD64, "bitwarden_rs", version="1.12.0",
               database="mysql", variant="alpine", warnings=[UNCERTAIN_REPOSITORY % "bitwardenrs/server-mysql",
                                                             UNCERTAIN])),
    (dict(platform="amd64", version="1.11.0", database="postgres"),
     _expected("bitwardenrs/server-postgresql", "1.11.0", AMD64, "bitwarden_rs", version="1.11.0",
               database="postgresql", warnings=[UNCERTAIN_REPOSITORY % "bitwardenrs/server-postgresql", UNCERTAIN])),
    (dict(platform="amd64", version="1.16.3", database="postgresql", variant="alpine"),
     _expected("bitwardenrs/server-postgresql", "1.16.3-alpine", AMD64, "bitwarden_rs", version="1.16.3",
               variant="alpine", database="postgresql")),
    (dict(platform="amd64", version="1.16.3", database="mysql"),
     _expected("bitwardenrs/server-mysql", "1.16.3", AMD64, "bitwarden_rs", version="1.16.3", database="mysql")),
    # 1.16.2's push of the Debian -mysql/-postgresql images stopped early; its Alpine ones went out
    (dict(platform="amd64", version="1.16.2", database="mysql", variant="alpine"),
     _expected("bitwardenrs/server-mysql", "1.16.2-alpine", AMD64, "bitwarden_rs", version="1.16.2",
               database="mysql", variant="alpine")),
    (dict(platform="armhf", version="1.17.0", database="mysql"),
     _expected("bitwardenrs/server", "1.17.0", ARMV7, "bitwarden_rs", version="1.17.0", database="mysql")),
    (dict(platform="arm32v6", version="1.17.0", database="pgsql"),
     _expected("bitwardenrs/server", "1.17.0", ARMV6, "bitwarden_rs", version="1.17.0", database="postgresql",
               warnings=[MOBY])),
    (dict(platform="arm64", version="1.21.0", database="postgres"),
     _expected("vaultwarden/server", "1.21.0", ARM64, "vaultwarden", version="1.21.0", database="postgresql")),
    # multi-arch from 1.16.0 (Debian SQLite image)
    (dict(platform="arm/v7", version="1.16.0"),
     _expected("bitwardenrs/server", "1.16.0", ARMV7, "bitwarden_rs", version="1.16.0")),
    (dict(platform="armel", version="1.16.0"),
     _expected("bitwardenrs/server", "1.16.0", ARMV6, "bitwarden_rs", version="1.16.0", warnings=[MOBY])),
    # Alpine arm/v7 (SQLite) from 1.17.0, PostgreSQL on amd64 from 1.18.0, everything from 1.24.0
    (dict(platform="amd64", version="1.18.0", variant="alpine", database="postgresql"),
     _expected("bitwardenrs/server", "1.18.0-alpine", AMD64, "bitwarden_rs", version="1.18.0", variant="alpine",
               database="postgresql")),
    (dict(platform="linux/arm", version="1.23.1", variant="alpine"),
     _expected("vaultwarden/server", "1.23.1-alpine", ARMV7, "vaultwarden", version="1.23.1", variant="alpine")),
    (dict(platform="armv6l", version="1.24.0", variant="alpine"),
     _expected("vaultwarden/server", "1.24.0-alpine", ARMV6, "vaultwarden", version="1.24.0", variant="alpine",
               warnings=[MOBY])),
    (dict(platform="arm64v8", version="1.24.0", variant="alpine"),
     _expected("vaultwarden/server", "1.24.0-alpine", ARM64, "vaultwarden", version="1.24.0", variant="alpine")),
    # -arm32v6 tags for old Docker on arm/v6: 1.16.1 to 1.27.x, Debian, the SQLite image (all backends from 1.17)
    (dict(platform="armv6l", version="1.16.1", docker_version="19.03.13"),
     _expected("bitwardenrs/server", "1.16.1-arm32v6", ARMV6, "bitwarden_rs", version="1.16.1")),
    (dict(platform="armv6l", version="1.20.0", database="mysql", docker_version="18.09.1"),
     _expected("bitwardenrs/server", "1.20.0-arm32v6", ARMV6, "bitwarden_rs", version="1.20.0", database="mysql")),
    (dict(platform="armv6l", version="1.27.0", docker_version="19.03.15"),
     _expected("vaultwarden/server", "1.27.0-arm32v6", ARMV6, "vaultwarden", version="1.27.0")),
    (dict(platform="armv6l", version="1.27.0", docker_version="19.03"),
     _expected("vaultwarden/server", "1.27.0-arm32v6", ARMV6, "vaultwarden", version="1.27.0")),
    # ... not needed with Docker 20.10.0+, or when the Docker version is unknown
    (dict(platform="armv6l", version="1.27.0", docker_version="20.10.0"),
     _expected("vaultwarden/server", "1.27.0", ARMV6, "vaultwarden", version="1.27.0")),
    (dict(platform="armv6l", version="1.27.0", docker_version="20.10.24+dfsg1"),
     _expected("vaultwarden/server", "1.27.0", ARMV6, "vaultwarden", version="1.27.0")),
    (dict(platform="armv6l", version="1.27.0", docker_version=""),
     _expected("vaultwarden/server", "1.27.0", ARMV6, "vaultwarden", version="1.27.0", warnings=[MOBY])),
    (dict(platform="armv6l", version="latest", docker_version="28.0.1"),
     _expected("vaultwarden/server", "latest", ARMV6, "vaultwarden", "latest")),
    (dict(platform="armv6l", version="1.28.0", docker_version="20.10.24"),
     _expected("vaultwarden/server", "1.28.0", ARMV6, "vaultwarden", version="1.28.0",
               capabilities=["NET_BIND_SERVICE"])),
    # old Docker on other platforms is irrelevant
    (dict(platform="armv7l", version="1.30.0", docker_version="18.09.1"),
     _expected("vaultwarden/server", "1.30.0", ARMV7, "vaultwarden", version="1.30.0")),
    # mirrors from 1.28.0
    (dict(platform="amd64", version="1.28.0", registry="ghcr.io"),
     _expected("dani-garcia/vaultwarden", "1.28.0", AMD64, "vaultwarden", version="1.28.0", registry="ghcr.io",
               capabilities=["NET_BIND_SERVICE"])),
    (dict(platform="arm64", version="latest", registry="GHCR.IO", variant="alpine"),
     _expected("dani-garcia/vaultwarden", "latest-alpine", ARM64, "vaultwarden", "latest", variant="alpine",
               registry="ghcr.io")),
    (dict(platform="amd64", version="1.32.0", registry="index.docker.io"),
     _expected("vaultwarden/server", "1.32.0", AMD64, "vaultwarden", version="1.32.0")),
    # any other host is a private mirror with Docker Hub's paths, for every era
    (dict(platform="amd64", version="1.9.0", registry="127.0.0.1:5000"),
     _expected("mprasil/bitwarden", "1.9.0", AMD64, "mprasil", version="1.9.0", registry="127.0.0.1:5000",
               warnings=[UNCERTAIN])),
    (dict(platform="amd64", version="1.16.0", database="mysql", registry="registry.lan"),
     _expected("bitwardenrs/server-mysql", "1.16.0", AMD64, "bitwarden_rs", version="1.16.0", database="mysql",
               registry="registry.lan")),
    (dict(platform="amd64", registry="localhost"),
     _expected("vaultwarden/server", "latest", AMD64, "vaultwarden", "latest", registry="localhost")),
    # the test world's deliberately broken releases are ordinary pins
    (dict(platform="amd64", version="1.99.0", registry="127.0.0.1:5000"),
     _expected("vaultwarden/server", "1.99.0", AMD64, "vaultwarden", version="1.99.0", registry="127.0.0.1:5000")),
    (dict(platform="armv6l", version="1.99.1", registry="127.0.0.1:5000"),
     _expected("vaultwarden/server", "1.99.1", ARMV6, "vaultwarden", version="1.99.1", registry="127.0.0.1:5000",
               warnings=[MOBY])),
    # the known-bad 1.25.0 and 1.29.2 Debian arm/v6 images: Alpine is the work-around and is allowed
    (dict(platform="armv6l", version="1.29.2", variant="alpine", docker_version="24.0.7"),
     _expected("vaultwarden/server", "1.29.2-alpine", ARMV6, "vaultwarden", version="1.29.2", variant="alpine")),
    (dict(platform="armv6l", version="1.25.0", variant="alpine", docker_version="20.10.5"),
     _expected("vaultwarden/server", "1.25.0-alpine", ARMV6, "vaultwarden", version="1.25.0", variant="alpine")),
    (dict(platform="armv6l", version="1.25.1", docker_version="19.03.13"),
     _expected("vaultwarden/server", "1.25.1-arm32v6", ARMV6, "vaultwarden", version="1.25.1")),
    (dict(platform="armv7l", version="1.29.2"),
     _expected("vaultwarden/server", "1.29.2", ARMV7, "vaultwarden", version="1.29.2")),
    # 1.28.0's binary carries cap_net_bind_service (setcap): a non-root container must keep NET_BIND_SERVICE
    (dict(platform="arm64", version="1.28.0", variant="alpine"),
     _expected("vaultwarden/server", "1.28.0-alpine", ARM64, "vaultwarden", version="1.28.0", variant="alpine",
               capabilities=["NET_BIND_SERVICE"])),
    (dict(platform="amd64", version="1.28.0", registry="quay.io"),
     _expected("vaultwarden/server", "1.28.0", AMD64, "vaultwarden", version="1.28.0", registry="quay.io",
               capabilities=["NET_BIND_SERVICE"])),
    (dict(platform="amd64", version="1.28.1"),
     _expected("vaultwarden/server", "1.28.1", AMD64, "vaultwarden", version="1.28.1")),
]


@pytest.mark.parametrize("kwargs, expected", SELECTIONS)
def test_select_image(kwargs, expected):
    chosen = select_image(**kwargs)
    fragments = expected.pop("warnings")
    warnings = chosen.pop("warnings")
    assert chosen == expected
    assert len(warnings) == len(fragments), warnings
    for warning, fragment in zip(warnings, fragments):
        assert fragment in warning


@pytest.mark.parametrize("kwargs, fragments", [
    (dict(platform="amd64", version="1.9.0"),
     ["the debian image of 1.9.0 for linux/amd64 rests on an uncertain fact",
      "Docker Hub's build settings, which are not in the repository"]),
    (dict(platform="amd64", version="1.13.0", database="mysql"),
     ["the repository bitwardenrs/server-mysql rests on an uncertain fact",
      "first written in 1.16.0:hooks/arches.sh"]),
    (dict(platform="amd64", version="1.12.0", database="postgresql"),
     ["the fact sheet dated the first PostgreSQL image 1.13.0"]),
    (dict(platform="armv6l", version="latest"),
     ["docker_version is unknown", "Docker older than 20.10.0", "'latest'", "moby/moby#41017", "pass docker_version"]),
])
def test_warnings_say_what_the_choice_rests_on(kwargs, fragments):
    text = " | ".join(select_image(**kwargs)["warnings"])
    for fragment in fragments:
        assert fragment in text


def test_platform_is_canonical_whatever_the_spelling():
    spellings = {"x86_64": AMD64, "amd64": AMD64, "aarch64": ARM64, "arm64": ARM64, "linux/arm64/v8": ARM64,
                 "armhf": ARMV7, "arm32v7": ARMV7, "linux/arm": ARMV7, "armv7l": ARMV7,
                 "armel": ARMV6, "armv6l": ARMV6, "arm32v6": ARMV6, "LINUX/ARM/V6": ARMV6}
    for spelling, platform in spellings.items():
        assert select_image(spelling, "1.32.0")["platform"] == platform


# --- every version range x variant x database x platform ---------------------------------------

# What the release tags' own files say, written out: representative versions of each range.
PUBLISHED = {
    ("1.0.0", "debian", "sqlite"): {AMD64},
    ("1.0.0", "alpine", "sqlite"): set(),
    ("1.9.0", "debian", "sqlite"): {AMD64},
    ("1.9.0", "alpine", "sqlite"): {AMD64},
    ("1.15.1", "debian", "sqlite"): {AMD64},
    ("1.15.1", "alpine", "sqlite"): {AMD64},
    ("1.15.1", "debian", "mysql"): {AMD64},
    ("1.15.1", "alpine", "postgresql"): {AMD64},
    ("1.10.0", "debian", "mysql"): {AMD64},
    ("1.11.0", "alpine", "postgresql"): {AMD64},
    ("1.14", "debian", "sqlite"): {AMD64},
    ("1.16.0", "debian", "sqlite"): FOUR,
    ("1.16.1", "debian", "mysql"): {AMD64},
    ("1.16.1", "debian", "postgresql"): {AMD64},
    ("1.16.1", "alpine", "sqlite"): {AMD64},
    ("1.16.1", "alpine", "mysql"): {AMD64},
    ("1.16.2", "debian", "mysql"): set(),
    ("1.16.2", "debian", "postgresql"): set(),
    ("1.16.2", "alpine", "postgresql"): {AMD64},
    ("1.17.0", "debian", "sqlite"): FOUR,
    ("1.17.0", "debian", "mysql"): FOUR,
    ("1.17.0", "alpine", "sqlite"): {AMD64, ARMV7},
    ("1.17.0", "alpine", "mysql"): set(),
    ("1.17.0", "alpine", "postgresql"): set(),
    ("1.18.0", "alpine", "postgresql"): {AMD64},
    ("1.20.0", "alpine", "postgresql"): {AMD64},
    ("1.20.0", "alpine", "mysql"): set(),
    ("1.23.1", "debian", "postgresql"): FOUR,
    ("1.23.1", "alpine", "sqlite"): {AMD64, ARMV7},
    ("1.23.1", "alpine", "mysql"): set(),
    ("1.24.0", "debian", "sqlite"): FOUR,
    ("1.24.0", "alpine", "sqlite"): FOUR,
    ("1.24.0", "alpine", "mysql"): FOUR,
    ("1.37.2", "alpine", "postgresql"): FOUR,
    ("latest", "debian", "sqlite"): FOUR,
    ("latest", "alpine", "mysql"): FOUR,
    ("testing", "alpine", "sqlite"): FOUR,
}
MATRIX = [(version, variant, database, platform, platform in platforms)
          for (version, variant, database), platforms in sorted(PUBLISHED.items())
          for platform in sorted(FOUR) + list(NEVER)]


@pytest.mark.parametrize("version, variant, database, platform, published", MATRIX)
def test_every_variant_and_architecture(version, variant, database, platform, published):
    if published:
        assert select_image(platform, version, database, variant)["platform"] == platform
    else:
        with pytest.raises(ImageSelectionError) as error:
            select_image(platform, version, database, variant)
        message = str(error.value)
        assert "has no image for %s" % platform in message or "was never published" in message
        assert "Use " in message or "; use a host of" in message or "build the image yourself" in message


# --- refusals, each naming the fix -------------------------------------------------------------

REFUSALS = [
    # legacy per-architecture tags
    (dict(platform="armv7l", version="raspberry"),
     ["'raspberry'", "per-architecture tag", "removed on 2021-01-14", "when the versioned ones went is not recorded",
      "'latest' with platform linux/arm/v7"]),
    (dict(platform="armv6l", version="armv6"),
     ["removed on 2021-01-14", "'latest' with platform linux/arm/v6", "'X.Y.Z-arm32v6' (1.16.1 to 1.27.x)"]),
    (dict(platform="aarch64", version="aarch64"),
     ["removed on 2021-01-14", "'latest' with platform linux/arm64"]),
    (dict(platform="aarch64", version="1.15.1-aarch64"),
     ["per-architecture", "'1.16.0' or newer with platform linux/arm64", "1.15.1 has no multi-architecture image"]),
    # versioned per-architecture tags exist only where the release carried that Dockerfile
    (dict(platform="armv7l", version="1.16.0-raspberry"),
     ["'1.16.0-raspberry' was never published", "1.1.0 to 1.15.x", "'1.16.0' with platform linux/arm/v7"]),
    (dict(platform="aarch64", version="1.2.0-aarch64"),
     ["never published", "1.3.0 to 1.15.x", "1.3.0:Dockerfile.aarch64", "'1.16.0' or newer with platform linux/arm64"]),
    # the release after 1.13.1 is tagged '1.14'; '1.14.0' was never pushed
    (dict(platform="amd64", version="1.14.0"),
     ["'1.14.0' was never tagged", "as '1.14'", "git tag 1.14", "use version='1.14'"]),
    (dict(platform="amd64", version="1.14.0-alpine"),
     ["'1.14.0-alpine' was never published", "use '1.14-alpine'"]),
    # tag suffixes given as a version
    (dict(platform="amd64", version="1.30.0-alpine"), ["version='1.30.0'", "variant='alpine'"]),
    (dict(platform="amd64", version="latest-alpine"), ["version='latest'", "variant='alpine'"]),
    (dict(platform="amd64", version="testing-alpine"), ["version='testing'", "variant='alpine'"]),
    (dict(platform="amd64", version="alpine"), ["version='latest'", "variant='alpine'"]),
    (dict(platform="armv6l", version="1.20.0-arm32v6"), ["version='1.20.0'", "docker_version", "20.10.0"]),
    (dict(platform="armv6l", version="1.30.0-arm32v6"),
     ["'1.30.0-arm32v6' was never published", "1.16.1 to 1.27.x", "use '1.30.0' with platform linux/arm/v6"]),
    (dict(platform="armv6l", version="latest-arm32v6"),
     ["stopped moving", "dropped in 1.28.0", "version='latest' with Docker 20.10.0 or newer", "1.16.1 to 1.27.x"]),
    # malformed versions
    (dict(platform="amd64", version="v1.30.0"), ["'v1.30.0'", "no 'v' prefix", "use '1.30.0'"]),
    (dict(platform="amd64", version="1.30"), ["'1.30'", "no X.Y or X aliases", "the one release tagged X.Y is '1.14'",
                                              "'1.30.0'"]),
    (dict(platform="amd64", version="1.13"), ["no X.Y or X aliases", "'1.13.0'"]),
    (dict(platform="amd64", version="1"), ["no X.Y or X aliases", "'1.0.0'"]),
    (dict(platform="amd64", version=1.30), ["read as a number", "quote"]),
    (dict(platform="amd64", version="1.030.0"), ["leading zeros", "'1.30.0'"]),
    (dict(platform="amd64", version="stable"), ["'stable'", "'latest', 'testing' or a full X.Y.Z"]),
    (dict(platform="amd64", version="1.30.0-beta"), ["'1.30.0-beta'", "'latest', 'testing' or a full X.Y.Z"]),
    (dict(platform="amd64", version="latest-raspberry"), ["'latest-raspberry'", "X.Y.Z"]),
    # databases before their first image: MySQL from 1.10.0, PostgreSQL from 1.11.0
    (dict(platform="amd64", version="1.9.0", database="mysql"),
     ["mprasil 1.9.0 has no mysql image", "version 1.10.0 or newer", "database 'sqlite'"]),
    (dict(platform="amd64", version="1.9.0", database="postgresql"),
     ["no postgresql image", "1.11.0", "database 'sqlite'"]),
    (dict(platform="amd64", version="1.9.1", database="mariadb"),
     ["bitwarden_rs 1.9.1 has no mysql image", "1.10.0"]),
    (dict(platform="amd64", version="1.10.0", database="postgres"),
     ["bitwarden_rs 1.10.0 has no postgresql image", "use version 1.11.0 or newer"]),
    # images that were never published
    (dict(platform="amd64", version="1.0.0", variant="alpine"),
     ["mprasil/bitwarden:1.0.0-alpine (alpine, sqlite) was never published", "first Alpine Dockerfile is in 1.1.0",
      "variant 'debian' (tag '1.0.0')", "version 1.1.0 or newer"]),
    (dict(platform="amd64", version="1.20.0", variant="alpine", database="mysql"),
     ["bitwardenrs/server:1.20.0-alpine (alpine, mysql) was never published", "no MySQL backend",
      "1.17.0:docker/amd64/Dockerfile.alpine:24 (ARG DB=sqlite)", "variant 'debian' (tag '1.20.0')",
      "database 'sqlite'", "version 1.24.0 or newer"]),
    (dict(platform="amd64", version="1.17.0", variant="alpine", database="postgresql"),
     ["no PostgreSQL backend", "version 1.18.0 or newer"]),
    (dict(platform="armv7l", version="1.20.0", variant="alpine", database="postgresql"),
     ["1.20.0-alpine (alpine, postgresql) has no image for linux/arm/v7", "published for linux/amd64",
      "variant 'debian'", "database 'sqlite'", "version 1.24.0 or newer"]),
    (dict(platform="amd64", version="1.16.2", database="mysql"),
     ["bitwardenrs/server-mysql:1.16.2 (debian, mysql) was never published", "`set -ex`",
      "1.16.2:hooks/push:47", "uncertain fact", "variant 'alpine' (tag '1.16.2-alpine')", "version 1.16.3 or newer"]),
    # unknown choices
    (dict(platform="amd64", database="mongodb"), ["database 'mongodb'", "mariadb", "postgresql", "sqlite"]),
    (dict(platform="amd64", variant="ubuntu"), ["variant 'ubuntu'", "alpine, debian"]),
    # platforms
    (dict(platform="windows/amd64"), ["Linux images", "linux/amd64"]),
    (dict(platform="i386"), ["linux/386", "never published", "build the image yourself"]),
    (dict(platform="ppc64le", version="1.32.0"), ["linux/ppc64le", "never published"]),
    (dict(platform="riscv64"), ["linux/riscv64", "No vaultwarden image was ever published", "use a host of"]),
    (dict(platform="sparc"), ["unknown platform", "'sparc'"]),
    (dict(platform="armv7l", version="1.15.1"),
     ["bitwardenrs/server:1.15.1", "linux/arm/v7", "'raspberry'", "2021-01-14", "uncertain fact",
      "version 1.16.0 or newer"]),
    (dict(platform="armv6l", version="1.23.1", variant="alpine"),
     ["vaultwarden/server:1.23.1-alpine", "linux/arm/v6", "variant 'debian'", "version 1.24.0 or newer"]),
    (dict(platform="arm64", version="1.17.0", variant="alpine"),
     ["linux/arm64", "variant 'debian'", "version 1.24.0 or newer"]),
    (dict(platform="armv7l", version="1.16.0", database="mysql"),
     ["bitwardenrs/server-mysql:1.16.0", "linux/arm/v7", "version 1.17.0 or newer", "database 'sqlite'"]),
    (dict(platform="aarch64", version="1.16.1", database="postgresql"),
     ["bitwardenrs/server-postgresql:1.16.1", "version 1.17.0 or newer", "database 'sqlite'"]),
    (dict(platform="arm64", version="1.15.1", variant="alpine"),
     ["version 1.16.0 or newer with variant 'debian'", "version 1.24.0 or newer"]),
    # mirrors before 1.28.0
    (dict(platform="amd64", version="1.27.0", registry="ghcr.io"),
     ["'ghcr.io'", "from 1.28.0", "registry 'docker.io'", "version 1.28.0 or newer"]),
    (dict(platform="amd64", version="1.20.0", registry="quay.io"), ["'quay.io'", "1.28.0"]),
    # registries that are no host
    (dict(platform="amd64", registry="https://ghcr.io/"), ["without 'https://'", "'ghcr.io'"]),
    (dict(platform="amd64", registry="myregistry"), ["Docker Hub namespace", "'myregistry:5000'"]),
    (dict(platform="amd64", registry="registry.lan/vaultwarden"), ["host[:port]"]),
    # Docker < 20.10.0 on arm/v6 (moby/moby#41017)
    (dict(platform="armv6l", version="latest", docker_version="19.03.13"),
     ["Docker 19.03.13", "moby/moby#41017", "Upgrade Docker to 20.10.0", "1.16.1 to 1.27.x", "X.Y.Z-arm32v6"]),
    (dict(platform="armv6l", version="testing", docker_version="19.03.13"),
     ["moby/moby#41017", "Upgrade Docker to 20.10.0"]),
    (dict(platform="armv6l", version="1.28.0", docker_version="19.03.13"),
     ["vaultwarden 1.28.0", "no single-architecture '-arm32v6' tag", "Upgrade Docker"]),
    (dict(platform="armv6l", version="1.16.0", docker_version="19.03.13"),
     ["vaultwarden 1.16.0", "Upgrade Docker", "1.16.1 to 1.27.x"]),
    (dict(platform="armv6l", version="1.24.0", variant="alpine", docker_version="19.03.13"),
     ["(alpine, sqlite)", "use variant 'debian', served as '1.24.0-arm32v6'"]),
    (dict(platform="armv6l", version="1.16.0", database="postgresql", docker_version="19.03.13"),
     ["bitwardenrs/server-postgresql:1.16.0", "linux/arm/v6", "version 1.17.0 or newer"]),
    (dict(platform="armv6l", version="latest", database="mysql", docker_version="18.09"),
     ["Upgrade Docker", "pin a version from 1.17.0 to 1.27.x with variant 'debian'"]),
    (dict(platform="armv6l", version="1.16.1", database="mysql", docker_version="19.03.13"),
     ["bitwardenrs/server-mysql:1.16.1", "linux/arm/v6"]),
    # malformed docker_version
    (dict(platform="armv6l", docker_version="twenty"), ["docker_version 'twenty'", "'20.10.24'"]),
    (dict(platform="amd64", docker_version=20.10), ["read as a number", "quote it"]),
    # known-bad releases
    (dict(platform="armv6l", version="1.29.2"),
     ["1.29.2", "known-bad", "dani-garcia/vaultwarden#3839", "variant 'alpine' (tag '1.29.2-alpine')",
      "another release"]),
    (dict(platform="armv6l", version="1.25.0", docker_version="20.10.24"),
     ["1.25.0 (debian) on linux/arm/v6 is a known-bad release", "dani-garcia/vaultwarden#2490", "21b433c5",
      "version 1.25.1 or newer", "variant 'alpine' (tag '1.25.0-alpine')"]),
    # ... also as the -arm32v6 tag for old Docker, where Alpine is no way out
    (dict(platform="armv6l", version="1.25.0", docker_version="19.03.13"),
     ["known-bad", "#2490", "version 1.25.1 or newer"]),
]


@pytest.mark.parametrize("kwargs, fragments", REFUSALS)
def test_refusals_name_the_fix(kwargs, fragments):
    with pytest.raises(ImageSelectionError) as error:
        select_image(**kwargs)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_old_docker_on_arm_v6_has_no_alpine_way_out_of_a_known_bad_release():
    with pytest.raises(ImageSelectionError) as error:
        select_image("armv6l", "1.25.0", docker_version="19.03.13")
    assert "variant 'alpine'" not in str(error.value)


def test_refusals_are_value_errors():
    with pytest.raises(ValueError):
        select_image("armv7l", "raspberry")


# --- tag judgement -----------------------------------------------------------------------------

def _info(tag, version=None, variant="debian", channel="pinned", arch_suffix=None, legacy=False, replacement=None,
          problems=()):
    return {
        "tag": tag, "version": version, "variant": variant, "channel": channel, "arch_suffix": arch_suffix,
        "legacy": legacy, "replacement": replacement, "retired": "2021-01-14" if legacy else None,
        "official_naming": not problems, "official_naming_problems": list(problems),
    }


LATEST_WORD = "only the tag 'latest' may contain the word 'latest'"
ARCH_NAME = "official images publish one tag for every architecture"

TAGS = [
    _info("latest", channel="latest"),
    _info("testing", channel="testing"),
    _info("alpine", variant="alpine", channel="latest"),
    _info("latest-alpine", variant="alpine", channel="latest",
          problems=[LATEST_WORD + " (the official form is 'alpine')"]),
    _info("testing-alpine", variant="alpine", channel="testing"),
    _info("1.32.0", version="1.32.0"),
    _info("1.32.0-alpine", version="1.32.0", variant="alpine"),
    _info("1.99.1", version="1.99.1"),
    _info("1.16.1-arm32v6", version="1.16.1", arch_suffix="arm32v6",
          problems=["names the architecture 'arm32v6': " + ARCH_NAME
                    + " and keep single-architecture images in namespaces such as 'arm32v6/<image>'"]),
    _info("raspberry", channel="latest", arch_suffix="raspberry", legacy=True,
          replacement="'latest' with platform linux/arm/v7"),
    _info("1.15.1-raspberry", version="1.15.1", arch_suffix="raspberry", legacy=True,
          replacement="'1.16.0' or newer with platform linux/arm/v7 (1.15.1 has no multi-architecture image)"),
    _info("1.15.1-armv6", version="1.15.1", arch_suffix="armv6", legacy=True,
          replacement="'1.16.0' or newer with platform linux/arm/v6 (1.15.1 has no multi-architecture image) on Docker "
                      "20.10.0 or newer, or 'X.Y.Z-arm32v6' (1.16.1 to 1.27.x) on older Docker",
          problems=["names the architecture 'armv6': " + ARCH_NAME
                    + " and keep single-architecture images in namespaces such as 'arm32v6/<image>'"]),
    _info("1.14", version="1.14"),
    _info("1.14-alpine", version="1.14", variant="alpine"),
    _info("1.14-raspberry", version="1.14", arch_suffix="raspberry", legacy=True,
          replacement="'1.16.0' or newer with platform linux/arm/v7 (1.14 has no multi-architecture image)"),
]


@pytest.mark.parametrize("expected", TAGS, ids=[row["tag"] for row in TAGS])
def test_tag_info(expected):
    assert tag_info(expected["tag"]) == expected


@pytest.mark.parametrize("tag, channel, problems", [
    ("latest-arm32v6", "latest", 2),
    ("testing-arm32v6", "testing", 1),
])
def test_frozen_arm32v6_moving_tags(tag, channel, problems):
    info = tag_info(tag)
    assert (info["channel"], info["arch_suffix"], info["variant"], info["legacy"]) == (channel, "arm32v6", "debian", False)
    assert len(info["official_naming_problems"]) == problems
    assert info["official_naming"] is False


@pytest.mark.parametrize("tag, legacy_platform", [
    ("armv6", "linux/arm/v6"),
    ("aarch64", "linux/arm64"),
    ("1.14-aarch64", "linux/arm64"),
])
def test_legacy_tags_name_their_replacement(tag, legacy_platform):
    info = tag_info(tag)
    assert info["legacy"] is True
    assert info["retired"] == "2021-01-14"
    assert "platform %s" % legacy_platform in info["replacement"]
    assert info["official_naming"] is False  # each names an architecture


@pytest.mark.parametrize("tag, fragments", [
    ("v1.30.0", ["no 'v' prefix", "'1.30.0'"]),
    ("1.30", ["no X.Y or X aliases"]),
    ("foo", ["not a vaultwarden tag", "'latest', 'testing'"]),
    ("", ["not a vaultwarden tag"]),
    ("1.30.0-arm32v6", ["never published", "1.16.1 to 1.27.x", "'1.30.0' with platform linux/arm/v6"]),
    ("1.16.0-arm32v6", ["never published", "1.16.1 to 1.27.x"]),
    ("1.14.0", ["'1.14.0' was never published", "as '1.14'", "use '1.14'"]),
    ("1.14.0-alpine", ["never published", "use '1.14-alpine'"]),
    ("1.20.0-armv6", ["never published", "1.8.0 to 1.15.x", "'1.20.0' with platform linux/arm/v6",
                      "'1.20.0-arm32v6' on older Docker"]),
    ("1.2.0-aarch64", ["never published", "1.3.0 to 1.15.x"]),
    ("1.0.0-raspberry", ["never published", "1.1.0 to 1.15.x"]),
    ("1.30.0-alpine-arm32v6", ["not a vaultwarden tag"]),
    ("alpine-latest", ["not a vaultwarden tag"]),
    ("Latest", ["not a vaultwarden tag"]),
    (None, ["must be a string"]),
])
def test_tag_info_refuses_non_tags(tag, fragments):
    with pytest.raises(ImageSelectionError) as error:
        tag_info(tag)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_every_selected_tag_is_a_tag_tag_info_understands():
    """Selection and judgement agree: what select_image returns, tag_info reads back."""
    for version, variant, platform, docker in itertools.product(
            ("latest", "testing", "1.14", "1.16.1", "1.20.0", "1.27.0", "1.32.0"), ("debian", "alpine"),
            ("linux/amd64", "linux/arm/v6"), (None, "19.03.13")):
        try:
            chosen = select_image(platform, version, variant=variant, docker_version=docker)
        except ImageSelectionError:
            continue
        info = tag_info(chosen["tag"])
        assert info["channel"] == chosen["channel"]
        assert info["variant"] == chosen["variant"]
        assert info["version"] == chosen["version"]
        assert info["legacy"] is False


# --- Docker versions ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    (None, None),
    ("", None),
    ("20.10.24", (20, 10, 24)),
    ("20.10.24+dfsg1", (20, 10, 24)),
    ("19.03.13", (19, 3, 13)),
    ("17.09.0-ce", (17, 9, 0)),
    ("28.0", (28, 0, 0)),
    ("v24.0.7", (24, 0, 7)),
    ("1.13.1", (1, 13, 1)),
])
def test_parse_docker_version(text, expected):
    assert parse_docker_version(text) == expected


@pytest.mark.parametrize("text", ["twenty", "20", "20.10.x", "20.10.24 beta", 20.1])
def test_parse_docker_version_refuses(text):
    with pytest.raises(ImageSelectionError):
        parse_docker_version(text)


# --- the catalogue is the one place to correct a fact ------------------------------------------

def test_correcting_the_arm32v6_range_in_the_catalogue_changes_selection(monkeypatch):
    request = dict(platform="armv6l", version="1.28.0", docker_version="19.03.13")
    with pytest.raises(ImageSelectionError):
        select_image(**request)
    monkeypatch.setitem(catalogue.ARM32V6_WORKAROUND, "until", "1.29.0")
    assert select_image(**request)["tag"] == "1.28.0-arm32v6"
    assert tag_info("1.28.0-arm32v6")["arch_suffix"] == "arm32v6"


def test_a_channel_missing_from_the_current_era_is_refused(monkeypatch):
    current = dict(catalogue.ERAS[-1], channels=("latest",))
    monkeypatch.setattr(catalogue, "ERAS", catalogue.ERAS[:-1] + (current,))
    assert select_image("amd64", "latest")["tag"] == "latest"
    with pytest.raises(ImageSelectionError) as error:
        select_image("amd64", "testing")
    assert "published no 'testing' tag" in str(error.value)
    assert "pin a version X.Y.Z" in str(error.value)


def test_a_new_known_bad_release_is_refused_once_listed(monkeypatch):
    assert select_image("armv6l", "1.99.0", registry="127.0.0.1:5000")["tag"] == "1.99.0"
    row = {"version": "1.99.0", "variant": "debian", "platforms": ("linux/arm/v6",), "issue": "test#1",
           "problem": "it crashes", "fixed_in": "1.99.1"}
    monkeypatch.setattr(catalogue, "KNOWN_BAD_RELEASES", catalogue.KNOWN_BAD_RELEASES + (row,))
    with pytest.raises(ImageSelectionError) as error:
        select_image("armv6l", "1.99.0", registry="127.0.0.1:5000")
    assert "it crashes (test#1); use version 1.99.1 or newer (fixed there) or variant 'alpine'" in str(error.value)


# --- ground truth: every release tag upstream published --------------------------------------------

UPSTREAM = upstream.load()
UPSTREAM_GIT_DIR = os.environ.get("VAULTWARDEN_GIT_DIR", "/work/.mirror/dani-garcia+vaultwarden/repo")


def test_the_record_covers_upstream_from_the_first_to_the_newest_release():
    tags = [release["tag"] for release in UPSTREAM["releases"]]
    assert (tags[0], tags[-1], len(tags)) == ("0.9.0", "1.37.2", UPSTREAM["source"]["release_tags"])
    assert "1.14" in tags and "1.14.0" not in tags
    schemes = dict((release["tag"], release["scheme"]) for release in UPSTREAM["releases"])
    assert (schemes["1.15.1"], schemes["1.16.0"], schemes["1.29.2"], schemes["1.30.0"]) == (
        "dockerfiles", "hooks", "hooks", "bake")
    for release in UPSTREAM["releases"]:
        for push in release["pushes"]:
            assert push["evidence"] and all(path in release["dockerfiles"] for path in push["images"].values())


def test_selection_agrees_with_every_release_upstream_published(capsys):
    """Every release tag x platform x variant x database x registry x Docker version, against the record."""
    report = upstream.compare(UPSTREAM, select_image, ImageSelectionError)
    with capsys.disabled():
        print("\nupstream check: %d comparisons (%s), %d accepted, %d refused, %d disagreements" % (
            report["comparisons"], ", ".join("%d %s" % (n, name) for name, n in report["dimensions"].items()),
            report["accepted"], report["refused"], len(report["disagreements"])))
    assert report["dimensions"] == {"releases": 88, "platforms": 7, "variants": 2, "databases": 3, "registries": 4,
                                    "docker_versions": 6}
    assert report["comparisons"] == 88 * 7 * 2 * 3 * 4 * 6
    assert report["accepted"] > 20000 and report["refused"] > 20000
    assert report["disagreements"] == []


# The fact sheet's old errors, put back into the catalogue one at a time: the upstream check must catch each.
def _rows(table, match, **changes):
    return tuple(dict(row, **changes) if all(row.get(key) == value for key, value in match.items()) else row
                 for row in getattr(catalogue, table))


MUTATIONS = [
    ("MySQL images only from 1.13.0",
     lambda: {"REPOSITORIES": _rows("REPOSITORIES", {"database": "mysql", "since": "1.10.0"}, since="1.13.0")},
     ("1.10.0", "1.12.0"), "refused what upstream published"),
    ("Alpine images before 1.1.0",
     lambda: {"ARCHITECTURES": _rows("ARCHITECTURES", {"variant": "alpine", "since": "0.0.0"}, platforms=("linux/amd64",))},
     ("1.0.0",), "which upstream never published"),
    ("Alpine MySQL/PostgreSQL in 1.17.0 to 1.23.x",
     lambda: {"ARCHITECTURES": _rows("ARCHITECTURES", {"variant": "alpine", "since": "1.17.0", "databases": ("sqlite",)},
                                     databases=catalogue.DATABASES)},
     ("1.17.0", "1.20.0"), "which upstream never published"),
    ("no 1.14 tag",
     lambda: {"RELEASE_TAGS": ()}, ("1.14",), "refused what upstream published"),
    ("1.25.0 arm/v6 not known to be broken",
     lambda: {"KNOWN_BAD_RELEASES": catalogue.KNOWN_BAD_RELEASES[1:]}, ("1.25.0",), "known-broken"),
    ("1.28.0's capability not recorded",
     lambda: {"NON_ROOT_CAPABILITIES": ()}, ("1.28.0",), "non_root_capabilities"),
    ("-arm32v6 tags from 1.16.0",
     lambda: {"ARM32V6_WORKAROUND": dict(catalogue.ARM32V6_WORKAROUND, since="1.16.0")}, ("1.16.0",),
     "which upstream never published"),
    ("no uncertainty before 1.16.0",
     lambda: {"ARCHITECTURES": tuple(dict((k, v) for k, v in row.items() if k != "uncertain")
                                     for row in catalogue.ARCHITECTURES)},
     ("1.5.0",), "uncertain push"),
]


@pytest.mark.parametrize("name, changes, tags, problem", MUTATIONS, ids=[row[0] for row in MUTATIONS])
def test_the_upstream_check_catches_the_old_errors(monkeypatch, name, changes, tags, problem):
    assert upstream.compare(UPSTREAM, select_image, ImageSelectionError, tags=tags)["disagreements"] == []
    for table, value in changes().items():
        monkeypatch.setattr(catalogue, table, value)
    disagreements = upstream.compare(UPSTREAM, select_image, ImageSelectionError, tags=tags)["disagreements"]
    assert disagreements, name
    assert any(problem in text for _request, text in disagreements), disagreements[:3]


def test_the_upstream_check_catches_a_push_missing_from_the_record():
    import copy

    data = copy.deepcopy(UPSTREAM)
    release = [release for release in data["releases"] if release["tag"] == "1.30.0"][0]
    release["pushes"] = [push for push in release["pushes"] if not (push["variant"] == "alpine"
                                                                    and push["registry"] == "quay.io")]
    disagreements = upstream.compare(data, select_image, ImageSelectionError, tags=("1.30.0",))["disagreements"]
    assert disagreements
    assert all(request[2] == "alpine" and request[4] == "quay.io" for request, _text in disagreements)


@pytest.mark.skipif(not os.path.isdir(UPSTREAM_GIT_DIR),
                    reason="no clone of dani-garcia/vaultwarden (set VAULTWARDEN_GIT_DIR to check the evidence)")
def test_every_path_the_catalogue_cites_exists_upstream():
    tables = dict((name, getattr(catalogue, name)) for name in dir(catalogue) if name.isupper())
    assert upstream.verify_evidence(UPSTREAM_GIT_DIR, tables) == []


def _tiny_upstream(tmp_path):
    """A git repository with tag 1.30.0 holding a 5-line hooks/arches.sh, standing in for the vaultwarden clone."""
    import subprocess

    work = tmp_path / "work"
    (work / "hooks").mkdir(parents=True)
    (work / "hooks" / "arches.sh").write_text("".join("line %d\n" % n for n in range(1, 6)))
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com")
    for argv in (["init", "-q"], ["add", "."], ["commit", "-qm", "r"], ["tag", "1.30.0"]):
        subprocess.run(["git", "-C", str(work)] + argv, check=True, env=env, capture_output=True)
    sha = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    return str(work / ".git"), sha


@pytest.mark.parametrize("evidence,problem", [
    ("1.30.0:hooks/arches.sh", None),
    ("1.30.0:hooks/arches.sh:5", None),
    ("see 1.30.0:hooks/arches.sh:2-4, and more", None),
    ("1.30.0:hooks/arches.sh:6", "has no line 6, it has 5"),
    ("1.30.0:hooks/arches.sh:3-9", "has no line 9, it has 5"),     # a range is checked to its end
    ("1.30.0:hooks/arches.sh:4-2", "is an empty range"),
    ("1.30.0:hooks/push", "does not exist"),
    ("1.29.0:hooks/arches.sh", "does not exist"),
    ("commit 0123456789abcdef0123456789abcdef01234567", "does not exist"),
])
def test_the_evidence_check_reads_tags_paths_lines_and_ranges(tmp_path, evidence, problem):
    git_dir, sha = _tiny_upstream(tmp_path)
    problems = upstream.verify_evidence(git_dir, {"ROW": [{"evidence": evidence}, "commit " + sha]})
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems
