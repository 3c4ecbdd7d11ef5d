# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image selection and tag judgement, table-driven from the fact sheet (docs/vaultwarden-images.md).

The expectations here are written from the fact sheet, not read from the catalogue, so a wrong
catalogue row fails a test.
"""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils.image_select import (
    ImageSelectionError,
    parse_docker_version,
    select_image,
    tag_info,
)

AMD64, ARM64, ARMV7, ARMV6 = "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"
FOUR = {AMD64, ARM64, ARMV7, ARMV6}
NEVER = ("linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64", "linux/arm/v5", "linux/mips64le")


# --- selections that succeed -------------------------------------------------------------------

def _expected(repository, tag, platform, era, channel="pinned", version=None, variant="debian", database="sqlite",
              registry="docker.io"):
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
               database="postgresql")),
    (dict(platform="arm64", version=None),
     _expected("vaultwarden/server", "latest", ARM64, "vaultwarden", "latest")),
    (dict(platform="amd64", version=" LATEST "),
     _expected("vaultwarden/server", "latest", AMD64, "vaultwarden", "latest")),
    # era boundaries 1.9.0 / 1.9.1, 1.20.x / 1.21.0
    (dict(platform="amd64", version="1.9.0"),
     _expected("mprasil/bitwarden", "1.9.0", AMD64, "mprasil", version="1.9.0")),
    (dict(platform="amd64", version="1.9.0", variant="alpine"),
     _expected("mprasil/bitwarden", "1.9.0-alpine", AMD64, "mprasil", version="1.9.0", variant="alpine")),
    (dict(platform="amd64", version="1.9.1"),
     _expected("bitwardenrs/server", "1.9.1", AMD64, "bitwarden_rs", version="1.9.1")),
    (dict(platform="amd64", version="1.20.0"),
     _expected("bitwardenrs/server", "1.20.0", AMD64, "bitwarden_rs", version="1.20.0")),
    (dict(platform="amd64", version="1.21.0"),
     _expected("vaultwarden/server", "1.21.0", AMD64, "vaultwarden", version="1.21.0")),
    # -mysql / -postgresql: from 1.13.0, separate images up to 1.16.x, one image from 1.17.0
    (dict(platform="amd64", version="1.13.0", database="mysql"),
     _expected("bitwardenrs/server-mysql", "1.13.0", AMD64, "bitwarden_rs", version="1.13.0", database="mysql")),
    (dict(platform="amd64", version="1.13.0", database="MariaDB"),
     _expected("bitwardenrs/server-mysql", "1.13.0", AMD64, "bitwarden_rs", version="1.13.0", database="mysql")),
    (dict(platform="amd64", version="1.16.3", database="postgresql", variant="alpine"),
     _expected("bitwardenrs/server-postgresql", "1.16.3-alpine", AMD64, "bitwarden_rs", version="1.16.3",
               variant="alpine", database="postgresql")),
    (dict(platform="armhf", version="1.17.0", database="mysql"),
     _expected("bitwardenrs/server", "1.17.0", ARMV7, "bitwarden_rs", version="1.17.0", database="mysql")),
    (dict(platform="arm32v6", version="1.17.0", database="pgsql"),
     _expected("bitwardenrs/server", "1.17.0", ARMV6, "bitwarden_rs", version="1.17.0", database="postgresql")),
    (dict(platform="arm64", version="1.21.0", database="postgres"),
     _expected("vaultwarden/server", "1.21.0", ARM64, "vaultwarden", version="1.21.0", database="postgresql")),
    # multi-arch from 1.16.0 (Debian SQLite image)
    (dict(platform="arm/v7", version="1.16.0"),
     _expected("bitwardenrs/server", "1.16.0", ARMV7, "bitwarden_rs", version="1.16.0")),
    (dict(platform="armel", version="1.16.0"),
     _expected("bitwardenrs/server", "1.16.0", ARMV6, "bitwarden_rs", version="1.16.0")),
    # Alpine arm/v7 from 1.17.0, everything from 1.24.0
    (dict(platform="linux/arm", version="1.23.1", variant="alpine"),
     _expected("vaultwarden/server", "1.23.1-alpine", ARMV7, "vaultwarden", version="1.23.1", variant="alpine")),
    (dict(platform="armv6l", version="1.24.0", variant="alpine"),
     _expected("vaultwarden/server", "1.24.0-alpine", ARMV6, "vaultwarden", version="1.24.0", variant="alpine")),
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
     _expected("vaultwarden/server", "1.27.0", ARMV6, "vaultwarden", version="1.27.0")),
    (dict(platform="armv6l", version="latest", docker_version="28.0.1"),
     _expected("vaultwarden/server", "latest", ARMV6, "vaultwarden", "latest")),
    (dict(platform="armv6l", version="1.28.0", docker_version="20.10.24"),
     _expected("vaultwarden/server", "1.28.0", ARMV6, "vaultwarden", version="1.28.0")),
    # old Docker on other platforms is irrelevant
    (dict(platform="armv7l", version="1.30.0", docker_version="18.09.1"),
     _expected("vaultwarden/server", "1.30.0", ARMV7, "vaultwarden", version="1.30.0")),
    # mirrors from 1.28.0
    (dict(platform="amd64", version="1.28.0", registry="ghcr.io"),
     _expected("dani-garcia/vaultwarden", "1.28.0", AMD64, "vaultwarden", version="1.28.0", registry="ghcr.io")),
    (dict(platform="arm64", version="latest", registry="GHCR.IO", variant="alpine"),
     _expected("dani-garcia/vaultwarden", "latest-alpine", ARM64, "vaultwarden", "latest", variant="alpine",
               registry="ghcr.io")),
    (dict(platform="amd64", version="1.28.0", registry="quay.io"),
     _expected("vaultwarden/server", "1.28.0", AMD64, "vaultwarden", version="1.28.0", registry="quay.io")),
    (dict(platform="amd64", version="1.32.0", registry="index.docker.io"),
     _expected("vaultwarden/server", "1.32.0", AMD64, "vaultwarden", version="1.32.0")),
    # any other host is a private mirror with Docker Hub's paths, for every era
    (dict(platform="amd64", version="1.9.0", registry="127.0.0.1:5000"),
     _expected("mprasil/bitwarden", "1.9.0", AMD64, "mprasil", version="1.9.0", registry="127.0.0.1:5000")),
    (dict(platform="amd64", version="1.16.0", database="mysql", registry="registry.lan"),
     _expected("bitwardenrs/server-mysql", "1.16.0", AMD64, "bitwarden_rs", version="1.16.0", database="mysql",
               registry="registry.lan")),
    (dict(platform="amd64", registry="localhost"),
     _expected("vaultwarden/server", "latest", AMD64, "vaultwarden", "latest", registry="localhost")),
    # the test world's deliberately broken releases are ordinary pins
    (dict(platform="amd64", version="1.99.0", registry="127.0.0.1:5000"),
     _expected("vaultwarden/server", "1.99.0", AMD64, "vaultwarden", version="1.99.0", registry="127.0.0.1:5000")),
    (dict(platform="armv6l", version="1.99.1", registry="127.0.0.1:5000"),
     _expected("vaultwarden/server", "1.99.1", ARMV6, "vaultwarden", version="1.99.1", registry="127.0.0.1:5000")),
    # the known-bad 1.29.2 Debian arm/v6 image: Alpine is the work-around and is allowed
    (dict(platform="armv6l", version="1.29.2", variant="alpine"),
     _expected("vaultwarden/server", "1.29.2-alpine", ARMV6, "vaultwarden", version="1.29.2", variant="alpine")),
    (dict(platform="armv7l", version="1.29.2"),
     _expected("vaultwarden/server", "1.29.2", ARMV7, "vaultwarden", version="1.29.2")),
]


@pytest.mark.parametrize("kwargs, expected", SELECTIONS)
def test_select_image(kwargs, expected):
    assert select_image(**kwargs) == expected


def test_platform_is_canonical_whatever_the_spelling():
    spellings = {"x86_64": AMD64, "amd64": AMD64, "aarch64": ARM64, "arm64": ARM64, "linux/arm64/v8": ARM64,
                 "armhf": ARMV7, "arm32v7": ARMV7, "linux/arm": ARMV7, "armv7l": ARMV7,
                 "armel": ARMV6, "armv6l": ARMV6, "arm32v6": ARMV6, "LINUX/ARM/V6": ARMV6}
    for spelling, platform in spellings.items():
        assert select_image(spelling, "1.32.0")["platform"] == platform


# --- every version range x variant x database x platform ---------------------------------------

# The fact sheet's section 3, written out: representative versions of each range.
PUBLISHED = {
    ("1.9.0", "debian", "sqlite"): {AMD64},
    ("1.9.0", "alpine", "sqlite"): {AMD64},
    ("1.15.1", "debian", "sqlite"): {AMD64},
    ("1.15.1", "alpine", "sqlite"): {AMD64},
    ("1.15.1", "debian", "mysql"): {AMD64},
    ("1.15.1", "alpine", "postgresql"): {AMD64},
    ("1.16.0", "debian", "sqlite"): FOUR,
    ("1.16.1", "debian", "mysql"): {AMD64},
    ("1.16.1", "debian", "postgresql"): {AMD64},
    ("1.16.1", "alpine", "sqlite"): {AMD64},
    ("1.16.1", "alpine", "mysql"): {AMD64},
    ("1.17.0", "debian", "sqlite"): FOUR,
    ("1.17.0", "debian", "mysql"): FOUR,
    ("1.17.0", "alpine", "sqlite"): {AMD64, ARMV7},
    ("1.20.0", "alpine", "postgresql"): {AMD64, ARMV7},
    ("1.23.1", "debian", "postgresql"): FOUR,
    ("1.23.1", "alpine", "sqlite"): {AMD64, ARMV7},
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
        assert "has no image for %s" % platform in message
        assert "Use " in message or "build the image yourself" in message or "ever published" in message


# --- refusals, each naming the fix -------------------------------------------------------------

REFUSALS = [
    # legacy per-architecture tags
    (dict(platform="armv7l", version="raspberry"),
     ["'raspberry'", "retired on 2021-01-14", "'latest' with platform linux/arm/v7"]),
    (dict(platform="armv6l", version="armv6"),
     ["retired on 2021-01-14", "'latest' with platform linux/arm/v6", "'X.Y.Z-arm32v6' (1.16.1 to 1.27.x)"]),
    (dict(platform="aarch64", version="aarch64"),
     ["retired on 2021-01-14", "'latest' with platform linux/arm64"]),
    (dict(platform="aarch64", version="1.15.1-aarch64"),
     ["retired", "'1.16.0' or newer with platform linux/arm64", "1.15.1 has no multi-architecture image"]),
    (dict(platform="armv7l", version="1.16.0-raspberry"),
     ["retired", "'1.16.0' with platform linux/arm/v7"]),
    # tag suffixes given as a version
    (dict(platform="amd64", version="1.30.0-alpine"), ["version='1.30.0'", "variant='alpine'"]),
    (dict(platform="amd64", version="latest-alpine"), ["version='latest'", "variant='alpine'"]),
    (dict(platform="amd64", version="testing-alpine"), ["version='testing'", "variant='alpine'"]),
    (dict(platform="amd64", version="alpine"), ["version='latest'", "variant='alpine'"]),
    (dict(platform="armv6l", version="1.20.0-arm32v6"), ["version='1.20.0'", "docker_version", "20.10.0"]),
    (dict(platform="armv6l", version="latest-arm32v6"),
     ["stopped moving", "dropped in 1.28.0", "version='latest' with Docker 20.10.0 or newer", "1.16.1 to 1.27.x"]),
    # malformed versions
    (dict(platform="amd64", version="v1.30.0"), ["'v1.30.0'", "no 'v' prefix", "use '1.30.0'"]),
    (dict(platform="amd64", version="1.30"), ["'1.30'", "no X.Y or X aliases", "'1.30.0'"]),
    (dict(platform="amd64", version="1"), ["no X.Y or X aliases", "'1.0.0'"]),
    (dict(platform="amd64", version=1.30), ["read as a number", "quote"]),
    (dict(platform="amd64", version="1.030.0"), ["leading zeros", "'1.30.0'"]),
    (dict(platform="amd64", version="stable"), ["'stable'", "'latest', 'testing' or a full X.Y.Z"]),
    (dict(platform="amd64", version="1.30.0-beta"), ["'1.30.0-beta'", "'latest', 'testing' or a full X.Y.Z"]),
    (dict(platform="amd64", version="latest-raspberry"), ["'latest-raspberry'", "X.Y.Z"]),
    # databases before their first image
    (dict(platform="amd64", version="1.9.0", database="mysql"),
     ["mprasil 1.9.0 has no mysql image", "version 1.13.0 or newer", "database 'sqlite'"]),
    (dict(platform="amd64", version="1.9.0", database="postgresql"),
     ["no postgresql image", "1.13.0", "database 'sqlite'"]),
    (dict(platform="amd64", version="1.12.9", database="mariadb"),
     ["bitwarden_rs 1.12.9 has no mysql image", "1.13.0"]),
    # unknown choices
    (dict(platform="amd64", database="mongodb"), ["database 'mongodb'", "mariadb", "postgresql", "sqlite"]),
    (dict(platform="amd64", variant="ubuntu"), ["variant 'ubuntu'", "alpine, debian"]),
    # platforms
    (dict(platform="windows/amd64"), ["Linux images", "linux/amd64"]),
    (dict(platform="i386"), ["linux/386", "never published", "build the image yourself"]),
    (dict(platform="ppc64le", version="1.32.0"), ["linux/ppc64le", "never published"]),
    (dict(platform="riscv64"), ["linux/riscv64", "no vaultwarden image was ever published"]),
    (dict(platform="sparc"), ["unknown platform", "'sparc'"]),
    (dict(platform="armv7l", version="1.15.1"),
     ["bitwardenrs/server:1.15.1", "linux/arm/v7", "'raspberry'", "2021-01-14", "version 1.16.0 or newer"]),
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
     ["(alpine)", "use variant 'debian', served as '1.24.0-arm32v6'"]),
    (dict(platform="armv6l", version="1.16.1", database="mysql", docker_version="19.03.13"),
     ["bitwardenrs/server-mysql:1.16.1", "linux/arm/v6"]),
    # malformed docker_version
    (dict(platform="armv6l", docker_version="twenty"), ["docker_version 'twenty'", "'20.10.24'"]),
    (dict(platform="amd64", docker_version=20.10), ["read as a number", "quote it"]),
    # known-bad release
    (dict(platform="armv6l", version="1.29.2"),
     ["1.29.2", "known-bad", "dani-garcia/vaultwarden#3839", "variant 'alpine'"]),
]


@pytest.mark.parametrize("kwargs, fragments", REFUSALS)
def test_refusals_name_the_fix(kwargs, fragments):
    with pytest.raises(ImageSelectionError) as error:
        select_image(**kwargs)
    for fragment in fragments:
        assert fragment in str(error.value)


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
    _info("1.20.0-armv6", version="1.20.0", arch_suffix="armv6", legacy=True,
          replacement="'1.20.0' with platform linux/arm/v6 on Docker 20.10.0 or newer, or '1.20.0-arm32v6' on older Docker",
          problems=["names the architecture 'armv6': " + ARCH_NAME
                    + " and keep single-architecture images in namespaces such as 'arm32v6/<image>'"]),
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
    ("1.14.0-aarch64", "linux/arm64"),
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
            ("latest", "testing", "1.16.1", "1.20.0", "1.27.0", "1.32.0"), ("debian", "alpine"),
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
    from ansible_collections.homelab.vaultwarden.plugins.module_utils import vaultwarden_catalogue as catalogue

    request = dict(platform="armv6l", version="1.28.0", docker_version="19.03.13")
    with pytest.raises(ImageSelectionError):
        select_image(**request)
    monkeypatch.setitem(catalogue.ARM32V6_WORKAROUND, "until", "1.29.0")
    assert select_image(**request)["tag"] == "1.28.0-arm32v6"
    assert tag_info("1.28.0-arm32v6")["arch_suffix"] == "arm32v6"


def test_a_channel_missing_from_the_current_era_is_refused(monkeypatch):
    from ansible_collections.homelab.vaultwarden.plugins.module_utils import vaultwarden_catalogue as catalogue

    current = dict(catalogue.ERAS[-1], channels=("latest",))
    monkeypatch.setattr(catalogue, "ERAS", catalogue.ERAS[:-1] + (current,))
    assert select_image("amd64", "latest")["tag"] == "latest"
    with pytest.raises(ImageSelectionError) as error:
        select_image("amd64", "testing")
    assert "published no 'testing' tag" in str(error.value)
    assert "pin a version X.Y.Z" in str(error.value)


def test_a_new_known_bad_release_is_refused_once_listed(monkeypatch):
    from ansible_collections.homelab.vaultwarden.plugins.module_utils import vaultwarden_catalogue as catalogue

    assert select_image("armv6l", "1.99.0", registry="127.0.0.1:5000")["tag"] == "1.99.0"
    row = {"version": "1.99.0", "variant": "debian", "platforms": ("linux/arm/v6",), "issue": "test#1",
           "problem": "it crashes", "instead": "1.99.1"}
    monkeypatch.setattr(catalogue, "KNOWN_BAD_RELEASES", catalogue.KNOWN_BAD_RELEASES + (row,))
    with pytest.raises(ImageSelectionError) as error:
        select_image("armv6l", "1.99.0", registry="127.0.0.1:5000")
    assert "it crashes (test#1); use 1.99.1" in str(error.value)
