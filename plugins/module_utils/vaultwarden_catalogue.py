# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bitwarden_rs / vaultwarden container image catalogue, as data.

Every fact lives here once; ``image_select`` only reads these tables. Each row carries its ``evidence``: where
upstream's own files say so (``TAG:PATH[:LINE]``, read with ``git show TAG:PATH`` on dani-garcia/vaultwarden), or
the issue that records it. A row whose fact the upstream files do not pin down carries ``uncertain`` (why), and every
selection or refusal that rests on it says so. ``tools/upstream/extract.py`` reads what each release tag published;
``tests/unit`` walks the selection against that record, so a wrong row fails a test.

Version ranges are half-open: ``since`` is the first version a row applies to, ``until`` the first version it no
longer applies to (``None``: still true today).

No list of released versions is kept on purpose: any well-formed ``X.Y.Z`` is placed by range, so a release newer
than this file (or a test world's own ``1.99.0``) is selectable without an update. The one release whose tag is
not ``X.Y.Z`` is listed in ``RELEASE_TAGS``.
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

# Releases whose git and Docker tag is not X.Y.Z. Selection takes the tag as written and refuses the X.Y.Z form,
# which was never pushed.
RELEASE_TAGS = (
    {"tag": "1.14", "version": "1.14.0",
     "evidence": "git tag 1.14 (2020-03-09), the release after 1.13.1; there is no tag 1.14.0"},
)

# Before 1.16.0, Docker Hub automated builds pushed the images; which Dockerfile became which tag lived in Docker
# Hub's build settings, not in the repository.
_DOCKER_HUB_RULES = ("before 1.16.0 Docker Hub's build settings, which are not in the repository, named the tags; "
                     "'X.Y.Z' and 'X.Y.Z-alpine' for the amd64 Dockerfiles a release carries are the fact sheet's names")

# Eras of the project's Docker images. Moving tags (latest/testing) always belong to the current era
# (the one without ``until``). ``channels`` lists the moving tags an era published.
ERAS = (
    {"name": "mprasil", "since": "0.0.0", "until": "1.9.1", "channels": ("latest",),
     "note": "community images by mprasil before the project published its own",
     "evidence": "0.9.0:README.md:38 to 1.9.0:README.md:37 (docker pull mprasil/bitwarden:latest)"},
    {"name": "bitwarden_rs", "since": "1.9.1", "until": "1.21.0", "channels": ("latest", "testing"),
     "evidence": "1.9.1:README.md:37 (docker pull bitwardenrs/server:latest)",
     "uncertain": "when the 'testing' tag first appeared is not recorded (the fact sheet says 1.16.0)"},
    {"name": "vaultwarden", "since": "1.21.0", "until": None, "channels": ("latest", "testing"),
     "note": "renamed on 2021-04-29",
     "evidence": "1.21.0:README.md:35 (docker pull vaultwarden/server:latest)"},
)

# Docker Hub repository per database and version range. A database missing for a version means that
# no image for it was published then.
REPOSITORIES = (
    {"database": "sqlite", "since": "0.0.0", "until": "1.9.1", "repository": "mprasil/bitwarden",
     "evidence": "0.9.0:README.md:38 to 1.9.0:README.md:37"},
    {"database": "sqlite", "since": "1.9.1", "until": "1.21.0", "repository": "bitwardenrs/server",
     "evidence": "1.9.1:README.md:37"},
    {"database": "sqlite", "since": "1.21.0", "until": None, "repository": "vaultwarden/server",
     "evidence": "1.21.0:README.md:35"},
    # 1.10.0 added the mysql cargo feature and docker/*/mysql/Dockerfile; 1.11.0 the PostgreSQL ones.
    {"database": "mysql", "since": "1.10.0", "until": "1.16.0", "repository": "bitwardenrs/server-mysql",
     "evidence": "1.10.0:docker/amd64/mysql/Dockerfile:29 (ARG DB=mysql)",
     "uncertain": "the repository name is first written in 1.16.0:hooks/arches.sh; for 1.10.0 to 1.15.x it rests on "
                  "Docker Hub's build settings, which are not in the repository"},
    {"database": "mysql", "since": "1.16.0", "until": "1.17.0", "repository": "bitwardenrs/server-mysql",
     "evidence": "1.16.0:hooks/arches.sh:13 (*-mysql)"},
    # From 1.17.0 one image carries every backend; DATABASE_URL picks it.
    {"database": "mysql", "since": "1.17.0", "until": "1.21.0", "repository": "bitwardenrs/server",
     "evidence": "1.17.0:docker/amd64/Dockerfile:24 (ARG DB=sqlite,mysql,postgresql)"},
    {"database": "mysql", "since": "1.21.0", "until": None, "repository": "vaultwarden/server",
     "evidence": "1.21.0:README.md:35"},
    {"database": "postgresql", "since": "1.16.0", "until": "1.17.0", "repository": "bitwardenrs/server-postgresql",
     "evidence": "1.16.0:hooks/arches.sh:17 (*-postgresql)"},
    {"database": "postgresql", "since": "1.11.0", "until": "1.16.0", "repository": "bitwardenrs/server-postgresql",
     "evidence": "1.11.0:docker/amd64/postgresql/Dockerfile:29 (ARG DB=postgresql)",
     "uncertain": "the repository name is first written in 1.16.0:hooks/arches.sh; for 1.11.0 to 1.15.x it rests on "
                  "Docker Hub's build settings, which are not in the repository (the fact sheet dated the first "
                  "PostgreSQL image 1.13.0; 1.11.0 already carries docker/amd64/postgresql/Dockerfile)"},
    {"database": "postgresql", "since": "1.17.0", "until": "1.21.0", "repository": "bitwardenrs/server",
     "evidence": "1.17.0:docker/amd64/Dockerfile:24 (ARG DB=sqlite,mysql,postgresql)"},
    {"database": "postgresql", "since": "1.21.0", "until": None, "repository": "vaultwarden/server",
     "evidence": "1.21.0:README.md:35"},
)

DEFAULT_REGISTRY = "docker.io"
# Registries that mirror the Docker Hub repository under their own path. Any other registry host is
# taken to be a private mirror using Docker Hub's repository paths.
MIRRORS = {
    "ghcr.io": {"since": "1.28.0", "repositories": {"vaultwarden/server": "dani-garcia/vaultwarden"},
                "evidence": "1.28.0:.github/workflows/release.yml:64 (GHCR_REPO); 1.28.0:README.md:7"},
    "quay.io": {"since": "1.28.0", "repositories": {"vaultwarden/server": "vaultwarden/server"},
                "evidence": "1.28.0:.github/workflows/release.yml:67 (QUAY_REPO); 1.28.0:README.md:9"},
}

# Published platforms per version range, variant and database: rows cover every version of each
# (variant, database) without gaps. A row without platforms says why in ``reason``. Before 1.16.0 the ARM
# builds had their own tags (see LEGACY_TAGS), so the regular tags were amd64 only.
AMD64, ARM64, ARMV7, ARMV6 = "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"
_FOUR = (AMD64, ARM64, ARMV7, ARMV6)
_BACKENDS = ("mysql", "postgresql")
ARCHITECTURES = (
    # --- Debian ---
    {"since": "0.0.0", "until": "1.16.0", "variant": "debian", "databases": ("sqlite",), "platforms": (AMD64,),
     "evidence": "0.9.0:Dockerfile, 1.10.0:docker/amd64/sqlite/Dockerfile (amd64; ARM as per-architecture tags)",
     "uncertain": _DOCKER_HUB_RULES},
    {"since": "0.0.0", "until": "1.10.0", "variant": "debian", "databases": ("mysql",), "platforms": (),
     "reason": "there was no MySQL build before 1.10.0",
     "evidence": "1.10.0:Cargo.toml:16 adds the mysql feature, 1.10.0:docker/amd64/mysql/Dockerfile"},
    {"since": "0.0.0", "until": "1.11.0", "variant": "debian", "databases": ("postgresql",), "platforms": (),
     "reason": "there was no PostgreSQL build before 1.11.0",
     "evidence": "1.11.0:Cargo.toml:17 adds the postgresql feature, 1.11.0:docker/amd64/postgresql/Dockerfile"},
    {"since": "1.10.0", "until": "1.16.0", "variant": "debian", "databases": ("mysql",), "platforms": (AMD64,),
     "evidence": "1.10.0:docker/amd64/mysql/Dockerfile:29 (ARG DB=mysql)", "uncertain": _DOCKER_HUB_RULES},
    {"since": "1.11.0", "until": "1.16.0", "variant": "debian", "databases": ("postgresql",), "platforms": (AMD64,),
     "evidence": "1.11.0:docker/amd64/postgresql/Dockerfile:29 (ARG DB=postgresql)", "uncertain": _DOCKER_HUB_RULES},
    {"since": "1.16.0", "until": "1.17.0", "variant": "debian", "databases": ("sqlite",), "platforms": _FOUR,
     "evidence": "1.16.0:hooks/arches.sh:5 (amd64 arm32v6 arm32v7 arm64v8), 1.16.0:hooks/push (manifest list)"},
    {"since": "1.16.0", "until": "1.16.2", "variant": "debian", "databases": _BACKENDS, "platforms": (AMD64,),
     "evidence": "1.16.0:hooks/arches.sh:13-20 (*-mysql, *-postgresql: arches=(amd64))"},
    {"since": "1.16.2", "until": "1.16.3", "variant": "debian", "databases": _BACKENDS, "platforms": (),
     "reason": "1.16.2's hooks/push tags a missing arm32v6 image as latest-arm32v6 for these repositories, so its "
               "`set -ex` ended the push before the manifest lists (1.16.3 pushes that tag for the SQLite image only)",
     "evidence": "1.16.2:hooks/push:47 and :16 (set -ex); 1.16.3:hooks/push (if [[ ${DOCKER_REPO} == *server ]])",
     "uncertain": "derived from the script; the failed Docker Hub build itself is not recorded"},
    {"since": "1.16.3", "until": "1.17.0", "variant": "debian", "databases": _BACKENDS, "platforms": (AMD64,),
     "evidence": "1.16.3:hooks/arches.sh (*-mysql, *-postgresql: arches=(amd64))"},
    {"since": "1.17.0", "until": None, "variant": "debian", "databases": DATABASES, "platforms": _FOUR,
     "evidence": "1.17.0:hooks/arches.sh and docker/*/Dockerfile (ARG DB=sqlite,mysql,postgresql); "
                 "1.30.0:docker/docker-bake.hcl:96 (debian-multi); 1.35.0:.github/workflows/release.yml (matrix.arch)"},
    # --- Alpine ---
    {"since": "0.0.0", "until": "1.1.0", "variant": "alpine", "databases": DATABASES, "platforms": (),
     "reason": "the first Alpine Dockerfile is in 1.1.0",
     "evidence": "no Dockerfile.alpine in 0.9.0 to 1.0.0; 1.1.0:Dockerfile.alpine"},
    {"since": "1.1.0", "until": "1.16.0", "variant": "alpine", "databases": ("sqlite",), "platforms": (AMD64,),
     "evidence": "1.1.0:Dockerfile.alpine, 1.10.0:docker/amd64/sqlite/Dockerfile.alpine", "uncertain": _DOCKER_HUB_RULES},
    {"since": "1.1.0", "until": "1.10.0", "variant": "alpine", "databases": ("mysql",), "platforms": (),
     "reason": "there was no MySQL build before 1.10.0", "evidence": "1.10.0:docker/amd64/mysql/Dockerfile.alpine"},
    {"since": "1.1.0", "until": "1.11.0", "variant": "alpine", "databases": ("postgresql",), "platforms": (),
     "reason": "there was no PostgreSQL build before 1.11.0",
     "evidence": "1.11.0:docker/amd64/postgresql/Dockerfile.alpine"},
    {"since": "1.10.0", "until": "1.16.0", "variant": "alpine", "databases": ("mysql",), "platforms": (AMD64,),
     "evidence": "1.10.0:docker/amd64/mysql/Dockerfile.alpine:28 (ARG DB=mysql)", "uncertain": _DOCKER_HUB_RULES},
    {"since": "1.11.0", "until": "1.16.0", "variant": "alpine", "databases": ("postgresql",), "platforms": (AMD64,),
     "evidence": "1.11.0:docker/amd64/postgresql/Dockerfile.alpine:28 (ARG DB=postgresql)",
     "uncertain": _DOCKER_HUB_RULES},
    {"since": "1.16.0", "until": "1.17.0", "variant": "alpine", "databases": DATABASES, "platforms": (AMD64,),
     "evidence": "1.16.0:hooks/arches.sh:26-29 (*alpine: arches=(amd64)), docker/amd64/<db>/Dockerfile.alpine"},
    {"since": "1.17.0", "until": "1.24.0", "variant": "alpine", "databases": ("sqlite",), "platforms": (AMD64, ARMV7),
     "evidence": "1.17.0:hooks/arches.sh:12-19 (*alpine: amd64 arm32v7), 1.23.1:hooks/arches.sh (amd64 armv7)"},
    {"since": "1.17.0", "until": "1.24.0", "variant": "alpine", "databases": ("mysql",), "platforms": (),
     "reason": "the Alpine builds of 1.17.0 to 1.23.x have no MySQL backend",
     "evidence": "1.17.0:docker/amd64/Dockerfile.alpine:24 (ARG DB=sqlite), "
                 "1.23.1:docker/amd64/Dockerfile.buildx.alpine:33 (ARG DB=sqlite,postgresql), "
                 "1.23.1:docker/armv7/Dockerfile.buildx.alpine:34 (ARG DB=sqlite,vendored_openssl)"},
    {"since": "1.17.0", "until": "1.18.0", "variant": "alpine", "databases": ("postgresql",), "platforms": (),
     "reason": "the Alpine build of 1.17.0 has no PostgreSQL backend",
     "evidence": "1.17.0:docker/amd64/Dockerfile.alpine:24 and docker/arm32v7/Dockerfile.alpine (ARG DB=sqlite)"},
    {"since": "1.18.0", "until": "1.24.0", "variant": "alpine", "databases": ("postgresql",), "platforms": (AMD64,),
     "evidence": "1.18.0:docker/amd64/Dockerfile.alpine:24 (ARG DB=sqlite,postgresql); the arm/v7 Alpine build "
                 "stays SQLite only (1.18.0:docker/arm32v7/Dockerfile.alpine ARG DB=sqlite)"},
    {"since": "1.24.0", "until": None, "variant": "alpine", "databases": DATABASES, "platforms": _FOUR,
     "evidence": "1.24.0:hooks/arches.sh:9 (no Alpine subset), 1.24.0:docker/armv6/Dockerfile.buildx.alpine:61 "
                 "(ARG DB=sqlite,mysql,postgresql,...); 1.30.0:docker/docker-bake.hcl:146 (alpine-multi)"},
)

# Platforms upstream can build locally but never published; named in refusals.
UNPUBLISHED_PLATFORMS = ("linux/386", "linux/ppc64le", "linux/s390x")
UNPUBLISHED_EVIDENCE = "1.31.0:docker/docker-bake.hcl:128 (unsupported targets, never baked by the release workflow)"

# Tags per channel and variant. Moving tags are read at the newest release: 'latest-alpine' is pushed since
# 1.30.0 (1.30.0:docker/docker-bake.hcl generate_tags with BASE_TAGS=latest,X.Y.Z); the older alias 'alpine'
# went missing in 1.30.0 and 1.35.0, so selection never serves it.
CHANNEL_TAGS = {
    ("latest", "debian"): "latest",
    ("latest", "alpine"): "latest-alpine",
    ("testing", "debian"): "testing",
    ("testing", "alpine"): "testing-alpine",
}
MOVING_TAG_ALIASES = {"alpine": ("latest", "alpine")}
VARIANT_TAG_SUFFIX = {"debian": "", "alpine": "-alpine"}

# moby/moby#41017: Docker before 20.10.0 on an ARMv6 board pulls the arm/v7 image out of a manifest
# list. Upstream published single-architecture '-arm32v6' tags of the Debian SQLite image as a work-around
# (from 1.17.0 that image carries every backend) and dropped them in 1.28.0.
ARM32V6_WORKAROUND = {
    "suffix": "arm32v6",
    "since": "1.16.1",
    "until": "1.28.0",
    "variants": ("debian",),
    "repositories": ("bitwardenrs/server", "vaultwarden/server"),
    "platform": "linux/arm/v6",
    "docker_fixed_in": "20.10.0",
    "issue": "moby/moby#41017",
    "evidence": "1.16.1:hooks/push:94 (the arm32v6 tag is not deleted), 1.19.0:hooks/push:131 (re-pushed for "
                "non-Alpine tags), 1.19.0:hooks/push:112 (fixed in Docker 20.10.0), 1.28.0:hooks/push (gone)",
}

# Per-architecture tags from before the multi-arch images. The moving ones were removed from Docker Hub on
# 2021-01-14; versioned forms were still listed later, and when they went is not recorded.
LEGACY_TAGS_RETIRED = "2021-01-14"
LEGACY_TAGS_UNCERTAIN = ("the moving per-architecture tags were removed on 2021-01-14; when the versioned ones "
                         "went is not recorded, and they get no fixes")
MULTIARCH_SINCE = "1.16.0"
LEGACY_TAGS = {
    "raspberry": {"was_for": "armv7hf (Raspberry Pi 2 and newer, 32-bit OS)", "platform": "linux/arm/v7",
                  "since": "1.1.0", "until": "1.16.0", "evidence": "1.1.0:Dockerfile.armv7 to "
                  "1.15.1:docker/armv7/*/Dockerfile; tag names from Docker Hub's build settings"},
    "armv6": {"was_for": "Raspberry Pi 1 / Zero", "platform": "linux/arm/v6",
              "since": "1.8.0", "until": "1.16.0", "evidence": "1.8.0:Dockerfile.armv6 to 1.15.1:docker/armv6/*/Dockerfile"},
    "aarch64": {"was_for": "ARMv8 with a 64-bit OS", "platform": "linux/arm64",
                "since": "1.3.0", "until": "1.16.0",
                "evidence": "1.3.0:Dockerfile.aarch64 to 1.15.1:docker/aarch64/*/Dockerfile"},
}

# Releases whose image is known not to work; selection refuses them and names the work-around.
KNOWN_BAD_RELEASES = (
    {"version": "1.25.0", "variant": "debian", "platforms": ("linux/arm/v6",), "fixed_in": "1.25.1",
     "issue": "dani-garcia/vaultwarden#2490", "problem": "the Debian arm/v6 image cannot start (the bullseye base "
     "lacks the dynamic linker symlink)",
     "evidence": "commit 21b433c5 'Fix armv6 issue with bullseye images' (Resolves #2490), first in 1.25.1"},
    {"version": "1.29.2", "variant": "debian", "platforms": ("linux/arm/v6",), "fixed_in": None,
     "issue": "dani-garcia/vaultwarden#3839", "problem": "the Debian arm/v6 image does not start",
     "evidence": "issue dani-garcia/vaultwarden#3839 (no commit names the fix)"},
)

# Releases whose binary carries file capabilities: run as a non-root user, the container must keep them
# (with --cap-drop=ALL, add them back), or the kernel refuses to start the binary.
NON_ROOT_CAPABILITIES = (
    {"since": "1.28.0", "until": "1.28.1", "variants": VARIANTS, "capabilities": ("NET_BIND_SERVICE",),
     "issue": "dani-garcia/vaultwarden#3386",
     "evidence": "1.28.0:docker/amd64/Dockerfile.buildkit:86 (setcap cap_net_bind_service=+ep, in every "
                 "Dockerfile.buildkit[.alpine] the release workflow builds with DOCKER_BUILDKIT=1); reverted by "
                 "commit fc43608e, first in 1.28.1"},
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


def release_version(text):
    """The version of a release tag: ``'1.30.0'`` -> ``(1, 30, 0)``, ``'1.14'`` -> ``(1, 14, 0)``; else ``None``.

    Use it to order the ``version`` that selection returns: that is the release's tag, not always X.Y.Z.
    """
    for row in RELEASE_TAGS:
        if row["tag"] == text:
            return _bound(row["version"])
    return parse_version(text)


def release_tag(version):
    """How upstream tagged the release ``version`` (a tuple): ``(1, 14, 0)`` -> ``'1.14'``."""
    for row in RELEASE_TAGS:
        if _bound(row["version"]) == version:
            return row["tag"]
    return format_version(version)


def misspelled_release(text):
    """The RELEASE_TAGS row whose never-pushed X.Y.Z spelling ``text`` is (``'1.14.0'``), else ``None``."""
    for row in RELEASE_TAGS:
        if row["version"] == text:
            return row
    return None


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


def repository_row(database, version):
    for row in REPOSITORIES:
        if row["database"] == database and in_range(version, row):
            return row
    return None


def repository_for(database, version):
    """Docker Hub repository of ``database``'s image at ``version``, or ``None`` when none was published."""
    row = repository_row(database, version)
    return row["repository"] if row else None


def first_version_with_database(database):
    return min(_bound(row["since"]) for row in REPOSITORIES if row["database"] == database)


def architecture_row(version, variant, database):
    """The ARCHITECTURES row for a release's ``variant`` image with ``database``; rows cover every version."""
    for row in ARCHITECTURES:
        if row["variant"] == variant and database in row["databases"] and in_range(version, row):
            return row
    raise AssertionError("ARCHITECTURES must cover every version")  # pragma: no cover


def platforms_for(version, variant, database):
    return architecture_row(version, variant, database)["platforms"]


def first_version_with_platform(variant, database, platform):
    """Earliest version whose ``variant``/``database`` image has ``platform``; ``None`` if never."""
    return next_version_with_platform(variant, database, platform, None)


def next_version_with_platform(variant, database, platform, after):
    """The first version after ``after`` (a tuple, or ``None`` for any) whose image has ``platform``; else ``None``."""
    candidates = [_bound(row["since"]) for row in ARCHITECTURES
                  if row["variant"] == variant and database in row["databases"] and platform in row["platforms"]
                  and (after is None or _bound(row["since"]) > after)]
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


def first_arm32v6_version(database):
    """The first release whose '-arm32v6' tag carries ``database`` (the Debian image of the main repository)."""
    rule = ARM32V6_WORKAROUND
    starts = [_bound(rule["since"])] + [_bound(row["since"]) for row in REPOSITORIES if row["database"] == database]
    for version in sorted(set(starts)):
        if in_range(version, rule) and arm32v6_workaround_applies(version, "debian", repository_for(database, version)):
            return version
    return None


def known_bad_release(version, variant, platform):
    for row in KNOWN_BAD_RELEASES:
        if _bound(row["version"]) == version and row["variant"] == variant and platform in row["platforms"]:
            return row
    return None


def non_root_capabilities(version, variant):
    """Capabilities the image's binary needs when the container runs as a non-root user, with the row saying why."""
    for row in NON_ROOT_CAPABILITIES:
        if variant in row["variants"] and in_range(version, row):
            return row
    return None
