# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bitwarden_rs / vaultwarden container image catalogue, as data.

Every fact of docs/vaultwarden-images.md lives here once; ``image_select`` only reads these tables.
Version ranges are half-open: ``since`` is the first version a row applies to, ``until`` the first
version it no longer applies to (``None``: still true today). Rows marked ``uncertain`` are facts the
upstream history does not pin down; correct them here and every caller follows.

No list of released versions is kept on purpose: any well-formed ``X.Y.Z`` is placed by range, so a
release newer than this file (or a test world's own ``1.99.0``) is selectable without an update.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


# Image variants and the database backends a vaultwarden image can talk to.
VARIANTS = ("debian", "alpine")
DEFAULT_VARIANT = "debian"

DATABASES = ("sqlite", "mysql", "postgresql")
DEFAULT_DATABASE = "sqlite"
# MariaDB speaks the MySQL protocol: vaultwarden's "mysql" backend and image serve both.
DATABASE_ALIASES = {
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "pgsql": "postgresql",
}

# Moving channels; a pinned version is the third channel.
CHANNELS = ("latest", "testing")
PINNED = "pinned"
# Moving tags follow the newest release, so their rules are read at a version above any release.
MOVING_TAG_VERSION = (10 ** 9, 0, 0)

# Eras of the project's Docker images. Moving tags (latest/testing) always belong to the current era
# (the one without ``until``). ``channels`` lists the moving tags an era published.
ERAS = (
    {"name": "mprasil", "since": "0.0.0", "until": "1.9.1", "channels": ("latest",),
     "note": "community images by mprasil before the project published its own"},
    {"name": "bitwarden_rs", "since": "1.9.1", "until": "1.21.0", "channels": ("latest", "testing"),
     "uncertain": "when the 'testing' tag first appeared is not recorded"},
    {"name": "vaultwarden", "since": "1.21.0", "until": None, "channels": ("latest", "testing"),
     "note": "renamed on 2021-04-29"},
)

# Docker Hub repository per database and version range. A database missing for a version means that
# no image for it was published then.
REPOSITORIES = (
    {"database": "sqlite", "since": "0.0.0", "until": "1.9.1", "repository": "mprasil/bitwarden"},
    {"database": "sqlite", "since": "1.9.1", "until": "1.21.0", "repository": "bitwardenrs/server"},
    {"database": "sqlite", "since": "1.21.0", "until": None, "repository": "vaultwarden/server"},
    {"database": "mysql", "since": "1.13.0", "until": "1.17.0", "repository": "bitwardenrs/server-mysql",
     "uncertain": "pushes of the -mysql image continued for a while after 1.17.0 (historical)"},
    # From 1.17.0 one image carries every backend; DATABASE_URL picks it.
    {"database": "mysql", "since": "1.17.0", "until": "1.21.0", "repository": "bitwardenrs/server"},
    {"database": "mysql", "since": "1.21.0", "until": None, "repository": "vaultwarden/server"},
    {"database": "postgresql", "since": "1.13.0", "until": "1.17.0", "repository": "bitwardenrs/server-postgresql",
     "uncertain": "pushes of the -postgresql image continued for a while after 1.17.0 (historical)"},
    {"database": "postgresql", "since": "1.17.0", "until": "1.21.0", "repository": "bitwardenrs/server"},
    {"database": "postgresql", "since": "1.21.0", "until": None, "repository": "vaultwarden/server"},
)

DEFAULT_REGISTRY = "docker.io"
# Registries that mirror the Docker Hub repository under their own path. Any other registry host is
# taken to be a private mirror using Docker Hub's repository paths.
MIRRORS = {
    "ghcr.io": {"since": "1.28.0", "repositories": {"vaultwarden/server": "dani-garcia/vaultwarden"}},
    "quay.io": {"since": "1.28.0", "repositories": {"vaultwarden/server": "vaultwarden/server"}},
}

# Published platforms per version range, variant and database. Before 1.16.0 the ARM builds had
# their own tags (see LEGACY_TAGS), so the regular tags were amd64 only.
_FOUR = ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6")
ARCHITECTURES = (
    {"since": "0.0.0", "until": "1.16.0", "variant": "debian", "databases": DATABASES, "platforms": ("linux/amd64",)},
    {"since": "0.0.0", "until": "1.16.0", "variant": "alpine", "databases": DATABASES, "platforms": ("linux/amd64",),
     "uncertain": "the first release with an Alpine image is not recorded"},
    {"since": "1.16.0", "until": "1.17.0", "variant": "debian", "databases": ("sqlite",), "platforms": _FOUR},
    {"since": "1.16.0", "until": "1.17.0", "variant": "debian", "databases": ("mysql", "postgresql"),
     "platforms": ("linux/amd64",)},
    {"since": "1.16.0", "until": "1.17.0", "variant": "alpine", "databases": DATABASES, "platforms": ("linux/amd64",)},
    {"since": "1.17.0", "until": "1.24.0", "variant": "debian", "databases": DATABASES, "platforms": _FOUR},
    {"since": "1.17.0", "until": "1.24.0", "variant": "alpine", "databases": DATABASES,
     "platforms": ("linux/amd64", "linux/arm/v7")},
    {"since": "1.24.0", "until": None, "variant": "debian", "databases": DATABASES, "platforms": _FOUR},
    {"since": "1.24.0", "until": None, "variant": "alpine", "databases": DATABASES, "platforms": _FOUR},
)

# Platforms upstream can build locally but never published; named in refusals.
UNPUBLISHED_PLATFORMS = ("linux/386", "linux/ppc64le", "linux/s390x")

# Tags per channel and variant. 'alpine' is an older alias of 'latest-alpine' that went missing in
# 1.30.0 and 1.35.0, so selection uses 'latest-alpine', which every release carried.
CHANNEL_TAGS = {
    ("latest", "debian"): "latest",
    ("latest", "alpine"): "latest-alpine",
    ("testing", "debian"): "testing",
    ("testing", "alpine"): "testing-alpine",
}
MOVING_TAG_ALIASES = {"alpine": ("latest", "alpine")}
VARIANT_TAG_SUFFIX = {"debian": "", "alpine": "-alpine"}

# moby/moby#41017: Docker before 20.10.0 on an ARMv6 board pulls the arm/v7 image out of a manifest
# list. Upstream published single-architecture '-arm32v6' tags of the SQLite image as a work-around
# (from 1.17.0 that image carries every backend) and dropped them once Docker 20.10.0 fixed the bug.
ARM32V6_WORKAROUND = {
    "suffix": "arm32v6",
    "since": "1.16.1",
    "until": "1.28.0",
    "variants": ("debian",),
    "repositories": ("bitwardenrs/server", "vaultwarden/server"),
    "platform": "linux/arm/v6",
    "docker_fixed_in": "20.10.0",
    "issue": "moby/moby#41017",
}

# Per-architecture tags from before the multi-arch images, removed from Docker Hub on 2021-01-14.
LEGACY_TAGS_RETIRED = "2021-01-14"
MULTIARCH_SINCE = "1.16.0"
LEGACY_TAGS = {
    "raspberry": {"was_for": "armv7hf (Raspberry Pi 2 and newer, 32-bit OS)", "platform": "linux/arm/v7"},
    "armv6": {"was_for": "Raspberry Pi 1 / Zero", "platform": "linux/arm/v6"},
    "aarch64": {"was_for": "ARMv8 with a 64-bit OS", "platform": "linux/arm64"},
}

# Releases whose image is known not to work; selection refuses them with the work-around.
KNOWN_BAD_RELEASES = (
    {"version": "1.29.2", "variant": "debian", "platforms": ("linux/arm/v6",),
     "issue": "dani-garcia/vaultwarden#3839", "problem": "the Debian arm/v6 image does not start",
     "instead": "variant 'alpine' (tag '1.29.2-alpine') or another release"},
)


def parse_version(text):
    """``'1.30.0'`` -> ``(1, 30, 0)``; ``None`` for anything that is not a plain X.Y.Z."""
    parts = text.split(".")
    if len(parts) != 3:
        return None
    for part in parts:
        # Leading zeros make a different tag ('1.030.0' is not '1.30.0').
        if not part.isdigit() or not part.isascii() or (len(part) > 1 and part[0] == "0"):
            return None
    return tuple(int(part) for part in parts)


def format_version(version):
    return ".".join(str(number) for number in version)


_BOUNDS = {None: None}


def _bound(text):
    """A row's since/until as a tuple; the rows are constant, so each is parsed once."""
    if text not in _BOUNDS:
        _BOUNDS[text] = parse_version(text)
    return _BOUNDS[text]


def in_range(version, row):
    """Whether a version tuple falls in a row's [since, until) range."""
    until = _bound(row["until"])
    return _bound(row["since"]) <= version and (until is None or version < until)


def describe_range(since, until):
    """``('1.16.1', '1.28.0')`` -> ``'1.16.1 to 1.27.x'``: how people name release ranges."""
    if until is None:
        return "%s or newer" % since
    major, minor, patch = parse_version(until)
    if patch == 0 and minor > 0:
        last = "%d.%d.x" % (major, minor - 1)
    else:
        last = "versions before %s" % until
    if parse_version(since) == (0, 0, 0):
        return "up to %s" % last
    return "%s to %s" % (since, last)


def era_for(version):
    for era in ERAS:
        if in_range(version, era):
            return era
    raise AssertionError("ERAS must cover every version")  # pragma: no cover


def current_era():
    return ERAS[-1]


def repository_for(database, version):
    """Docker Hub repository of ``database``'s image at ``version``, or ``None`` when none was published."""
    for row in REPOSITORIES:
        if row["database"] == database and in_range(version, row):
            return row["repository"]
    return None


def first_version_with_database(database):
    return min(_bound(row["since"]) for row in REPOSITORIES if row["database"] == database)


def platforms_for(version, variant, database):
    for row in ARCHITECTURES:
        if row["variant"] == variant and database in row["databases"] and in_range(version, row):
            return row["platforms"]
    return ()


def first_version_with_platform(variant, database, platform):
    """Earliest version whose ``variant``/``database`` image has ``platform``; ``None`` if never."""
    candidates = [_bound(row["since"]) for row in ARCHITECTURES
                  if row["variant"] == variant and database in row["databases"] and platform in row["platforms"]]
    return min(candidates) if candidates else None


def published_platforms():
    """Every platform any vaultwarden image was ever published for."""
    seen = []
    for row in ARCHITECTURES:
        for platform in row["platforms"]:
            if platform not in seen:
                seen.append(platform)
    return tuple(seen)


def arm32v6_workaround_applies(version, variant, repository):
    rule = ARM32V6_WORKAROUND
    return variant in rule["variants"] and repository in rule["repositories"] and in_range(version, rule)


def known_bad_release(version, variant, platform):
    for row in KNOWN_BAD_RELEASES:
        if parse_version(row["version"]) == version and row["variant"] == variant and platform in row["platforms"]:
            return row
    return None
