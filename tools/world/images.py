# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-architecture images built with buildah: one debootstrap rootfs per architecture and small layers on it.

Every image is exported (docker v2s2, gzip layers) to ``<cache>/export/<name>-<key>/`` with buildah's
``dir:`` transport; the publisher assembles registry tags from those exports. An export that is complete
for its key is never rebuilt.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import json
import os
import shutil
import threading
from dataclasses import dataclass

from . import config
from .util import WorldError, log, run, step

DB_ARCHES = ("amd64", "arm64")
APT_ENV = "DEBIAN_FRONTEND=noninteractive"
NO_SERVICES = "#!/bin/sh\n# Packages must not start services while an image is built.\nexit 101\n"


def buildah(*args: str, logfile: str | None = None, capture: bool = False):
    argv = ["buildah", "--root", config.path("containers", "storage"), "--runroot", config.path("containers", "run"),
            "--storage-driver", "overlay"] + list(args)
    return run(argv, logfile=logfile, capture=capture or logfile is None)


def image_exists(name: str) -> bool:
    argv = ["buildah", "--root", config.path("containers", "storage"), "--runroot", config.path("containers", "run"),
            "--storage-driver", "overlay", "inspect", "--type", "image", name]
    return run(argv, check=False, capture=True).returncode == 0


_KEYS: dict = {}


@dataclass(frozen=True)
class Build:
    kind: str   # base | standin | fleet | mariadb | postgres
    arch: config.Arch

    @property
    def key(self) -> str:
        # Computed once per process: inspect.getsource re-reads an edited file with the old line numbers.
        if (self.kind, self.arch.debian) not in _KEYS:
            _KEYS[(self.kind, self.arch.debian)] = self._compute_key()
        return _KEYS[(self.kind, self.arch.debian)]

    def _compute_key(self) -> str:
        """Hash of everything the image is made from: suite, mirror, architecture, packages, recipe source, files."""
        base = config.key(config.SUITE, config.MIRROR, self.arch.debian, " ".join(config.BASE_PACKAGES), config.BUILDER_REVISION,
                          inspect.getsource(build_base), inspect.getsource(_tidy_rootfs), inspect.getsource(_configure))
        if self.kind == "base":
            return base
        prefix = {"standin": "", "mariadb": "mariadb-", "postgres": "postgres-", "fleet": None}[self.kind]
        inputs = [] if prefix is None else [f for f in config.source_files("standin" if self.kind == "standin" else "dbimages")
                                            if os.path.basename(f).startswith(prefix)]
        packages = {"standin": (), "fleet": config.FLEET_PACKAGES, "mariadb": config.MARIADB_PACKAGES,
                    "postgres": config.POSTGRES_PACKAGES}[self.kind]
        recipe = inspect.getsource(getattr(_Layers, self.kind)) + inspect.getsource(build_layer) + inspect.getsource(_apt_install)
        return config.key(base, self.kind, " ".join(packages), recipe, config.file_digest(*inputs) if inputs else "")

    @property
    def image(self) -> str:
        return "localhost/world-%s:%s-%s" % (self.kind, self.arch.debian, self.key)

    @property
    def export_dir(self) -> str:
        return config.path("export", "%s-%s-%s" % (self.kind, self.arch.debian, self.key))

    @property
    def logfile(self) -> str:
        return config.path("logs", "%s-%s.log" % (self.kind, self.arch.debian))

    def exported(self) -> bool:
        return os.path.exists(os.path.join(self.export_dir, ".complete"))


def all_builds(db_arches=DB_ARCHES) -> list[Build]:
    builds = []
    for arch in config.ARCHES.values():
        builds.append(Build("standin", arch))
        builds.append(Build("fleet", arch))
        if arch.debian in db_arches:
            builds.append(Build("mariadb", arch))
            builds.append(Build("postgres", arch))
    return builds


# --- base: debootstrap straight into a scratch container's mount -------------------------------------

def build_base(build: Build) -> None:
    arch = build.arch
    ctr = buildah("from", "--arch", arch.architecture, *(["--variant", arch.variant] if arch.variant else []),
                  "--name", "world-base-%s-%s" % (arch.debian, build.key), "scratch").stdout.strip()
    try:
        mount = buildah("mount", ctr).stdout.strip()
        run(["debootstrap", "--variant=minbase", "--arch=" + arch.debian, "--include=" + ",".join(config.BASE_PACKAGES),
             config.SUITE, mount, config.MIRROR], logfile=build.logfile)
        _tidy_rootfs(mount)
        _configure(ctr, arch, [], labels={"org.homelab.world.key": build.key})
        buildah("commit", "--format", "docker", "--rm", ctr, build.image, logfile=build.logfile)
    except BaseException:
        buildah("rm", ctr, logfile=build.logfile)
        raise


def _tidy_rootfs(mount: str) -> None:
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        directory = os.path.join(mount, sub)
        for name in os.listdir(directory):
            target = os.path.join(directory, name)
            if os.path.isfile(target) and (name.endswith(".deb") or "_dists_" in name):
                os.unlink(target)
    for name in ("var/log/bootstrap.log", "var/log/dpkg.log", "var/log/apt/term.log"):
        target = os.path.join(mount, name)
        if os.path.exists(target):
            os.unlink(target)


def _configure(ctr: str, arch: config.Arch, options: list[str], labels: dict[str, str]) -> None:
    argv = ["config", "--os", "linux", "--arch", arch.architecture]
    if arch.variant:
        argv += ["--variant", arch.variant]
    for name, value in sorted(labels.items()):
        argv += ["--label", "%s=%s" % (name, value)]
    buildah(*(argv + options + [ctr]))


# --- layers ------------------------------------------------------------------------------------------

def _apt_install(ctr: str, build: Build, script: str) -> None:
    mount = buildah("mount", ctr).stdout.strip()
    policy = os.path.join(mount, "usr/sbin/policy-rc.d")
    with open(policy, "w") as handle:
        handle.write(NO_SERVICES)
    os.chmod(policy, 0o755)
    command = "set -e; export %s; apt-get update -q; %s; apt-get clean; rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log" % (
        APT_ENV, script)
    buildah("run", "--isolation", "chroot", "--network", "host", ctr, "--", "/bin/sh", "-c", command, logfile=build.logfile)
    os.unlink(policy)


def _install(packages) -> str:
    return "apt-get install -y -q --no-install-recommends " + " ".join(packages)


def _copy(ctr: str, build: Build, source: str, destination: str, mode: int = 0o755) -> None:
    buildah("copy", "--chown", "0:0", "--chmod", "%o" % mode, ctr, source, destination, logfile=build.logfile)


def build_layer(build: Build) -> None:
    base = Build("base", build.arch)
    ctr = buildah("from", base.image).stdout.strip()
    try:
        labels = {"org.homelab.world.key": build.key, "org.homelab.world.kind": build.kind}
        options = getattr(_Layers, build.kind)(ctr, build)
        _configure(ctr, build.arch, options, labels)
        buildah("commit", "--format", "docker", "--rm", ctr, build.image, logfile=build.logfile)
    except BaseException:
        buildah("rm", ctr, logfile=build.logfile)
        raise


class _Layers:
    @staticmethod
    def standin(ctr: str, build: Build) -> list[str]:
        source = os.path.join(config.PACKAGE_DIR, "standin")
        _copy(ctr, build, os.path.join(source, "vaultwarden.py"), "/vaultwarden", 0o644)  # run by start.sh
        _copy(ctr, build, os.path.join(source, "start.sh"), "/start.sh")
        _copy(ctr, build, os.path.join(source, "healthcheck.sh"), "/healthcheck.sh")
        return ["--env", "ROCKET_ADDRESS=0.0.0.0", "--env", "ROCKET_PORT=80", "--env", "ROCKET_PROFILE=release",
                "--env", "PYTHONDONTWRITEBYTECODE=1", "--env", "VW_STANDIN_PLATFORM=" + build.arch.platform,
                "--volume", "/data", "--port", "80", "--workingdir", "/",
                "--entrypoint", '["/start.sh"]',
                # "CMD <path>" is buildah's spelling of the exec form ["CMD", "/healthcheck.sh"].
                "--healthcheck", "CMD /healthcheck.sh", "--healthcheck-interval", "60s", "--healthcheck-timeout", "10s"]

    @staticmethod
    def fleet(ctr: str, build: Build) -> list[str]:
        _apt_install(ctr, build, _install(config.FLEET_PACKAGES))
        return ["--cmd", '["sleep", "infinity"]', "--workingdir", "/"]

    @staticmethod
    def mariadb(ctr: str, build: Build) -> list[str]:
        _apt_install(ctr, build, _install(config.MARIADB_PACKAGES)
                     + "; rm -rf /var/lib/mysql; mkdir -p /var/lib/mysql /run/mysqld; chown mysql:mysql /var/lib/mysql /run/mysqld")
        source = os.path.join(config.PACKAGE_DIR, "dbimages")
        _copy(ctr, build, os.path.join(source, "mariadb-entrypoint.sh"), "/usr/local/bin/docker-entrypoint.sh")
        _copy(ctr, build, os.path.join(source, "mariadb-healthcheck.sh"), "/usr/local/bin/healthcheck.sh")
        _copy(ctr, build, os.path.join(source, "mariadb-world.cnf"), "/etc/mysql/mariadb.conf.d/99-world.cnf", 0o644)
        return ["--volume", "/var/lib/mysql", "--port", "3306", "--entrypoint", '["docker-entrypoint.sh"]',
                "--cmd", '["mariadbd"]', "--workingdir", "/"]

    @staticmethod
    def postgres(ctr: str, build: Build) -> list[str]:
        # postgresql-common must not create a "main" cluster: the entrypoint initialises PGDATA on first start.
        _apt_install(ctr, build, _install(["postgresql-common"])
                     + "; sed -ri 's/#?(create_main_cluster) .*$/\\1 = false/' /etc/postgresql-common/createcluster.conf; "
                     + _install(config.POSTGRES_PACKAGES)
                     + "; mkdir -p /var/run/postgresql /var/lib/postgresql/data; chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql"
                     + "; chmod 2777 /var/run/postgresql; chmod 700 /var/lib/postgresql/data")
        source = os.path.join(config.PACKAGE_DIR, "dbimages")
        _copy(ctr, build, os.path.join(source, "postgres-entrypoint.sh"), "/usr/local/bin/docker-entrypoint.sh")
        return ["--env", "PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env", "PGDATA=/var/lib/postgresql/data", "--env", "PG_MAJOR=15",
                "--volume", "/var/lib/postgresql/data", "--port", "5432", "--entrypoint", '["docker-entrypoint.sh"]',
                "--cmd", '["postgres"]', "--stop-signal", "SIGINT", "--workingdir", "/"]


def export(build: Build) -> None:
    if os.path.exists(build.export_dir):
        shutil.rmtree(build.export_dir)
    os.makedirs(os.path.dirname(build.export_dir), exist_ok=True)
    buildah("push", "--format", "docker", build.image, "dir:" + build.export_dir, logfile=build.logfile)
    with open(os.path.join(build.export_dir, ".complete"), "w") as handle:
        handle.write(build.image + "\n")


# --- orchestration -----------------------------------------------------------------------------------

class Builder:
    """Runs base builds first (the slow qemu debootstraps), then each architecture's layers, in --jobs threads."""

    def __init__(self, jobs: int):
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs))
        self.lock = threading.Lock()
        self.futures: list[concurrent.futures.Future] = []
        self.base_ready: dict[str, threading.Event] = {}

    def _submit(self, fn, *args):
        with self.lock:
            self.futures.append(self.pool.submit(fn, *args))

    def _base(self, arch: config.Arch, layers: list[Build]) -> None:
        base = Build("base", arch)
        if not image_exists(base.image):
            title = "rootfs %s (debootstrap %s%s)" % (arch.debian, config.SUITE, ", under qemu" if arch.qemu else "")
            with step(title):
                build_base(base)
        for layer in layers:
            self._submit(self._layer, layer)

    def _layer(self, build: Build) -> None:
        with step("image %s for %s" % (build.kind, build.arch.platform)):
            if not image_exists(build.image):
                build_layer(build)
            export(build)

    def run(self, builds: list[Build]) -> None:
        todo = [b for b in builds if not b.exported()]
        if not todo:
            log("all %d images are cached (nothing to build)" % len(builds))
            return
        # Slowest architectures first so that both workers stay busy until the end.
        order = ["arm64", "armhf", "armel", "amd64"]
        for debian in order:
            layers = [b for b in todo if b.arch.debian == debian]
            if layers:
                # Heaviest layers first.
                layers.sort(key=lambda b: ["mariadb", "postgres", "fleet", "standin"].index(b.kind))
                self._submit(self._base, config.ARCHES[debian], layers)
        errors = []
        while True:
            with self.lock:
                pending = [f for f in self.futures if not f.done()]
                done = [f for f in self.futures if f.done()]
            for future in done:
                if future.exception() is not None and future not in errors:
                    errors.append(future)
            if not pending:
                break
            concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
        self.pool.shutdown()
        if errors:
            raise WorldError("%d image build(s) failed: %s" % (len(errors), "; ".join(str(f.exception()) for f in errors)))


def remove_working_containers() -> None:
    """Remove buildah working containers left behind by an interrupted build (they pin old images)."""
    if not os.path.isdir(config.path("containers", "storage")):
        return
    names = buildah("containers", "--format", "{{.ContainerName}}", capture=True).stdout.split()
    stale = [name for name in names if name.startswith("world-")]
    if stale:
        buildah("rm", *stale, logfile=config.path("logs", "prune.log"))
        log("removed %d working container(s) left by an interrupted build" % len(stale))


def prune() -> None:
    """Remove exports and buildah images of earlier inputs (they are never used again)."""
    builds = all_builds()
    keep_exports = {os.path.basename(b.export_dir) for b in builds}
    export_root = config.path("export")
    for name in sorted(os.listdir(export_root)) if os.path.isdir(export_root) else []:
        if name not in keep_exports:
            shutil.rmtree(os.path.join(export_root, name), ignore_errors=True)
    keep_images = {b.image for b in builds} | {Build("base", a).image for a in config.ARCHES.values()}
    listed = buildah("images", "--format", "{{.Name}}:{{.Tag}}", capture=True).stdout.split()
    stale = [name for name in listed if name.startswith("localhost/world-") and name not in keep_images]
    if stale:
        buildah("rmi", *stale, logfile=config.path("logs", "prune.log"))
        log("removed %d outdated image(s) from the build cache" % len(stale))


def read_export(build: Build) -> tuple[dict, dict]:
    """The manifest and image config of an export."""
    with open(os.path.join(build.export_dir, "manifest.json")) as handle:
        manifest = json.load(handle)
    with open(os.path.join(build.export_dir, manifest["config"]["digest"].split(":", 1)[1])) as handle:
        image_config = json.load(handle)
    if manifest.get("mediaType") != "application/vnd.docker.distribution.manifest.v2+json":
        raise WorldError("export %s is not a docker v2s2 image; delete it and build again" % build.export_dir)
    return manifest, image_config


def blob_path(build: Build, digest: str) -> str:
    return os.path.join(build.export_dir, digest.split(":", 1)[1])
