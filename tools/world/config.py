# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths, addresses and build inputs of the test world; every cache key is derived from these."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(PACKAGE_DIR))
# Outside the checkout, so that a fresh clone on the same machine (CI) reuses what was built; keyed by inputs.
CACHE_DIR = os.path.abspath(os.environ.get("VW_WORLD_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "homelab-vaultwarden", "world"))

REGISTRY_HOST = "127.0.0.1"


def _registry_port() -> int:
    # Another port lets a second world (an experiment, another cache) run beside the one the tests use.
    text = os.environ.get("VW_WORLD_REGISTRY_PORT", "5000")
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SystemExit("VW_WORLD_REGISTRY_PORT=%r is not a TCP port; set it to a number from 1 to 65535 "
                         "(default 5000, the port the tests and the README use)" % text)
    return int(text)


REGISTRY_PORT = _registry_port()
REGISTRY = "%s:%d" % (REGISTRY_HOST, REGISTRY_PORT)
# Loopback aliases of the same registry: one per emulated fleet host sharing the machine's daemon (docs/testing.md)
REGISTRY_ALIASES = tuple("127.0.0.%d:%d" % (n, REGISTRY_PORT) for n in (2, 3, 4))

SUITE = "bookworm"
MIRROR = os.environ.get("VW_WORLD_MIRROR", "http://deb.debian.org/debian")

# Bumped by hand when the way images are assembled changes without any input file changing.
BUILDER_REVISION = "4"

# python3: Debian's own interpreter byte-compiles the images' Python modules on the host (see native.py).
HOST_APT_PACKAGES = ("buildah", "docker-registry", "qemu-user-static", "binfmt-support", "mmdebstrap", "skopeo", "python3",
                     "debian-archive-keyring")

# What Debian's slim images (debian:bookworm-slim, the base of the official vaultwarden image) leave out: the
# images install no documentation, manual pages or translations, so there is less to unpack, commit and push.
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/groff/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/lintian/*",
    "path-exclude=/usr/share/linda/*",
    "path-exclude=/usr/share/locale/*",
)

# What the stand-in needs (python3 + the database drivers upstream links in), plus openssl for rsa_key.pem.
# python3-argon2 needs python3-cffi-backend, a virtual package's provider, named explicitly.
BASE_PACKAGES = ("python3", "python3-pymysql", "python3-psycopg2", "python3-argon2", "python3-cffi-backend", "openssl")
FLEET_PACKAGES = ("python3-docker", "docker.io")
MARIADB_PACKAGES = ("mariadb-server", "mariadb-client")
POSTGRES_PACKAGES = ("postgresql-15", "postgresql-client-15")
# The stand-in for the Caddy Official Image (the HTTPS front door): Debian's own build of the same server.
CADDY_PACKAGES = ("caddy",)


@dataclass(frozen=True)
class Arch:
    debian: str        # Debian architecture of the rootfs
    architecture: str  # OCI architecture
    variant: str       # OCI variant ('' for amd64)
    fleet_tag: str     # tag of homelab-vw-host in the local engine
    qemu: bool         # runs under qemu-user on this x86_64 machine

    @property
    def platform(self) -> str:
        return "/".join(p for p in ("linux", self.architecture, self.variant) if p)


# Debian armel stands for linux/arm/v6 (the Raspberry Pi 1/Zero convention of the collection's design).
ARCHES = {
    "amd64": Arch("amd64", "amd64", "", "amd64", False),
    "arm64": Arch("arm64", "arm64", "v8", "arm64", True),
    "armhf": Arch("armhf", "arm", "v7", "armv7", True),
    "armel": Arch("armel", "arm", "v6", "armv6", True),
}
PLATFORM_TO_DEBIAN = {a.platform: a.debian for a in ARCHES.values()}

FLEET_IMAGE = "homelab-vw-host"
FLEET_REPOSITORY = "homelab/fleet-host"
FLEET_TAG = "bookworm"


def path(*parts: str) -> str:
    return os.path.join(CACHE_DIR, *parts)


def file_digest(*paths: str) -> str:
    """Digest of the files' contents and their names relative to the package, so that two checkouts at different
    paths share one cache."""
    digest = hashlib.sha256()
    for relative, name in sorted((os.path.relpath(name, PACKAGE_DIR), name) for name in paths):
        digest.update(relative.encode())
        with open(name, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def key(*inputs: str) -> str:
    """Short, stable cache key over the given inputs."""
    return hashlib.sha256("\0".join(inputs).encode()).hexdigest()[:16]


def source_files(subdir: str) -> list[str]:
    root = os.path.join(PACKAGE_DIR, subdir)
    return [os.path.join(root, name) for name in sorted(os.listdir(root))
            if not name.startswith((".", "__")) and os.path.isfile(os.path.join(root, name))]
