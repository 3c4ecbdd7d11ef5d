# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tag layout of the test world's registry, as data (facts: docs/vaultwarden-images.md of the brief).

Every tag is a Docker v2s2 manifest list, except the single-architecture tags that were plain images upstream
(the ≤ 1.15 per-architecture tags and the ``-arm32v6`` work-around tags).
"""

from __future__ import annotations

from dataclasses import dataclass, field

AMD64, ARM64, ARMV7, ARMV6 = "linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/arm/v6"
ALL_FOUR = (AMD64, ARM64, ARMV7, ARMV6)
ALL_BACKENDS = ("sqlite", "mysql", "postgresql")


@dataclass(frozen=True)
class Image:
    """One single-platform stand-in image."""
    repository: str
    version: str
    variant: str            # debian | alpine
    platform: str
    backends: tuple
    fault: str = ""         # '' | unhealthy | crash | empty-reads


@dataclass(frozen=True)
class Tag:
    repository: str
    tag: str
    images: tuple           # of Image; a manifest list unless single
    single: bool = False    # a plain single-platform image (legacy upstream tags)


@dataclass(frozen=True)
class Release:
    version: str
    debian: tuple = ALL_FOUR
    alpine: tuple = ALL_FOUR
    backends: tuple = ALL_BACKENDS
    arm32v6: bool = False        # X.Y.Z-arm32v6 (1.16.1 - 1.27.x, Debian SQLite image)
    alpine_tag: bool = True      # whether the release workflow moved `alpine` (it did not for 1.30.0 and 1.35.0)
    fault: str = ""


# vaultwarden/server, oldest first. Alpine was amd64 + arm/v7 until 1.23.x, all four from 1.24.0.
VAULTWARDEN_RELEASES = (
    Release("1.21.0", alpine=(AMD64, ARMV7), arm32v6=True),
    Release("1.24.0", arm32v6=True),
    Release("1.27.0", arm32v6=True),
    Release("1.28.0"),
    Release("1.30.0", alpine_tag=False),
    Release("1.30.1"),
    Release("1.32.0"),
    Release("1.35.0", alpine_tag=False),
    Release("1.35.1"),
    Release("1.37.1"),
    Release("1.37.2"),
)
# Broken on purpose, for rollback tests: never healthy (/alive answers 503), exits 1 a second after start, and
# healthy but reading every text value back empty (the vault looks empty: libmariadb's CONC-821 regression).
BROKEN_RELEASES = (Release("1.99.0", fault="unhealthy"), Release("1.99.1", fault="crash"),
                   Release("1.99.2", fault="empty-reads"))
VAULTWARDEN_LATEST = "1.37.1"    # tests move `latest` to 1.37.2 to see an update
VAULTWARDEN_TESTING = "1.37.2"

# bitwardenrs/server: 1.15.1 had one tag per architecture, 1.16.x the first manifest lists (SQLite only
# before 1.17.0), 1.17+ one image for all backends.
BITWARDENRS_LEGACY = "1.15.1"
LEGACY_TAGS = (("", AMD64), ("raspberry", ARMV7), ("armv6", ARMV6), ("aarch64", ARM64))
BITWARDENRS_RELEASES = (
    Release("1.16.3", alpine=(AMD64,), backends=("sqlite",), arm32v6=True),
    Release("1.20.0", alpine=(AMD64, ARMV7), arm32v6=True),
)
BITWARDENRS_BACKEND_IMAGES = (("bitwardenrs/server-mysql", "mysql"), ("bitwardenrs/server-postgresql", "postgresql"))
BITWARDENRS_BACKEND_VERSION = "1.16.3"

# Real database servers from Debian bookworm, tagged as the official images whose major matches.
DB_PLATFORMS = (AMD64, ARM64)
DATABASE_TAGS = {
    "library/mariadb": ("mariadb", ("10.11", "10")),
    "library/postgres": ("postgres", ("15", "15-bookworm")),
}
# The HTTPS front door: Debian bookworm's caddy (2.6) as the Caddy Official Image's major tags.
PROXY_TAGS = {
    "library/caddy": ("caddy", ("2", "latest")),
}
# Every Debian-built stand-in for a Docker Official Image: repository -> (image kind, tags), on DB_PLATFORMS.
OFFICIAL_TAGS = dict(DATABASE_TAGS, **PROXY_TAGS)
FLEET_PLATFORMS = ALL_FOUR

# Where the moving tags point by default, and their alpine aliases.
MOVING_ALIASES = {"latest": ("latest-alpine", "alpine"), "testing": ("testing-alpine",)}


def version_key(version: str) -> tuple:
    return tuple(int(part) for part in version.split("."))


def _images(repository: str, release: Release, variant: str, platforms) -> tuple:
    return tuple(Image(repository, release.version, variant, p, release.backends, release.fault) for p in platforms)


@dataclass
class Layout:
    tags: list = field(default_factory=list)

    def add(self, repository: str, tag: str, images, single: bool = False) -> None:
        self.tags.append(Tag(repository, tag, tuple(images), single))

    def add_release(self, repository: str, release: Release) -> None:
        self.add(repository, release.version, _images(repository, release, "debian", release.debian))
        if release.alpine:
            self.add(repository, release.version + "-alpine", _images(repository, release, "alpine", release.alpine))
        if release.arm32v6:
            self.add(repository, release.version + "-arm32v6", _images(repository, release, "debian", (ARMV6,)), single=True)

    def find(self, repository: str, tag: str) -> Tag:
        for item in self.tags:
            if item.repository == repository and item.tag == tag:
                return item
        raise KeyError("%s:%s" % (repository, tag))


def release_of(version: str, releases=VAULTWARDEN_RELEASES + BROKEN_RELEASES) -> Release:
    for release in releases:
        if release.version == version:
            return release
    raise KeyError(version)


def default_layout() -> Layout:
    layout = Layout()
    repo = "vaultwarden/server"
    for release in VAULTWARDEN_RELEASES + BROKEN_RELEASES:
        layout.add_release(repo, release)
    latest = release_of(VAULTWARDEN_LATEST)
    layout.add(repo, "latest", layout.find(repo, latest.version).images)
    layout.add(repo, "latest-alpine", layout.find(repo, latest.version + "-alpine").images)
    # `alpine` stays on the newest release up to `latest` whose workflow pushed it.
    alpine_release = [r for r in VAULTWARDEN_RELEASES if r.alpine_tag and version_key(r.version) <= version_key(latest.version)][-1]
    layout.add(repo, "alpine", layout.find(repo, alpine_release.version + "-alpine").images)
    layout.add(repo, "testing", layout.find(repo, VAULTWARDEN_TESTING).images)
    layout.add(repo, "testing-alpine", layout.find(repo, VAULTWARDEN_TESTING + "-alpine").images)

    repo = "bitwardenrs/server"
    legacy = Release(BITWARDENRS_LEGACY, backends=("sqlite",))
    for suffix, platform in LEGACY_TAGS:
        image = _images(repo, legacy, "debian", (platform,))
        if suffix:
            layout.add(repo, suffix, image, single=True)
            layout.add(repo, "%s-%s" % (legacy.version, suffix), image, single=True)
        else:
            layout.add(repo, legacy.version, image, single=True)
    layout.add(repo, legacy.version + "-alpine", _images(repo, legacy, "alpine", (AMD64,)), single=True)
    for release in BITWARDENRS_RELEASES:
        layout.add_release(repo, release)
    newest = BITWARDENRS_RELEASES[-1].version
    layout.add(repo, "latest", layout.find(repo, newest).images)
    layout.add(repo, "alpine", layout.find(repo, newest + "-alpine").images)

    for repo, backend in BITWARDENRS_BACKEND_IMAGES:
        release = Release(BITWARDENRS_BACKEND_VERSION, debian=(AMD64,), alpine=(), backends=(backend,))
        layout.add_release(repo, release)
        layout.add(repo, "latest", layout.find(repo, release.version).images)
    return layout


def versions(repository: str) -> list[str]:
    layout = default_layout()
    return sorted({i.version for t in layout.tags if t.repository == repository for i in t.images},
                  key=version_key)
