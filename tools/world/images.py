# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-architecture images built with buildah: one minbase rootfs per architecture and small layers on it.

Packages are installed by the host's apt with each rootfs's own dpkg (install.py); for a foreign architecture,
what does not depend on the machine runs natively (native.py). Every image is exported (docker v2s2, gzip layers)
to ``<cache>/export/<name>-<key>/`` with buildah's ``dir:`` transport; the publisher assembles registry tags from
those exports. An export that is complete for its key is never rebuilt.
"""

from __future__ import annotations

import heapq
import inspect
import json
import os
import shutil
import threading
from dataclasses import dataclass

from . import config, install, native
from .progress import megabytes
from .util import WorldError, log, run, step

DB_ARCHES = ("amd64", "arm64")
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
    kind: str   # base | standin | fleet | mariadb | postgres | caddy
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
                          " ".join(config.DPKG_EXCLUDES), _recipe_source(),
                          inspect.getsource(build_base), inspect.getsource(_tidy_rootfs), inspect.getsource(_configure))
        if self.kind == "base":
            return base
        prefix = {"standin": "", "mariadb": "mariadb-", "postgres": "postgres-", "fleet": None, "caddy": None}[self.kind]
        inputs = [] if prefix is None else [f for f in config.source_files("standin" if self.kind == "standin" else "dbimages")
                                            if os.path.basename(f).startswith(prefix)]
        packages = {"standin": (), "fleet": config.FLEET_PACKAGES, "mariadb": config.MARIADB_PACKAGES,
                    "postgres": config.POSTGRES_PACKAGES, "caddy": config.CADDY_PACKAGES}[self.kind]
        recipe = (inspect.getsource(getattr(_Layers, self.kind)) + inspect.getsource(build_layer) + inspect.getsource(_apt_install)
                  + inspect.getsource(_finish_install))
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
            builds.append(Build("caddy", arch))
    return builds


def _recipe_source() -> str:
    """The modules that decide what ends up in a rootfs (the progress display and the publisher do not)."""
    return "".join(inspect.getsource(module) for module in (install, native))


# --- base: mmdebstrap straight into a scratch container's mount --------------------------------------

def build_base(build: Build, progress=None) -> None:
    arch = build.arch
    ctr = buildah("from", "--arch", arch.architecture, *(["--variant", arch.variant] if arch.variant else []),
                  "--name", "world-base-%s-%s" % (arch.debian, build.key), "scratch").stdout.strip()
    try:
        mount = buildah("mount", ctr).stdout.strip()
        use_kit = arch.qemu and native.KIT.prepare() is not None
        snapshot = native.python_cache_snapshot(mount)
        install.mmdebstrap(mount, arch, config.BASE_PACKAGES, build.logfile, progress, use_kit)
        if use_kit:
            _finish_install(mount, build, native.PYTHON_STUBS, snapshot, progress)
        _tidy_rootfs(mount)
        _apt_archives(mount)
        _configure(ctr, arch, [], labels={"org.homelab.world.key": build.key})
        if progress is not None:
            progress.update(detail="committing")
        buildah("commit", "--format", "docker", "--rm", ctr, build.image, logfile=build.logfile)
        if progress is not None:
            progress.update(detail="")
    except BaseException:
        buildah("rm", ctr, logfile=build.logfile)
        raise


def _tidy_rootfs(mount: str) -> None:
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        directory = os.path.join(mount, sub)
        for name in os.listdir(directory) if os.path.isdir(directory) else []:
            target = os.path.join(directory, name)
            if os.path.isfile(target) and (name.endswith(".deb") or "_dists_" in name):
                os.unlink(target)
    for name in ("var/log/bootstrap.log", "var/log/dpkg.log", "var/log/apt/term.log", "var/log/apt/history.log",
                 "var/log/apt/eipp.log.xz", "var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin"):
        target = os.path.join(mount, name)
        if os.path.exists(target):
            os.unlink(target)


def _apt_archives(mount: str) -> None:
    """apt's own directories as debootstrap left them (the build's downloads and lists were mounted over them)."""
    archives = os.path.join(mount, "var/cache/apt/archives")
    os.makedirs(os.path.join(archives, "partial"), exist_ok=True)
    os.chmod(os.path.join(archives, "partial"), 0o700)
    with open(os.path.join(mount, "etc/passwd")) as handle:
        apt_uid = [int(line.split(":")[2]) for line in handle if line.startswith("_apt:")]
    if apt_uid:
        os.chown(os.path.join(archives, "partial"), apt_uid[0], 0)
    if not os.path.exists(os.path.join(archives, "lock")):
        open(os.path.join(archives, "lock"), "w").close()
        os.chmod(os.path.join(archives, "lock"), 0o640)
    os.makedirs(os.path.join(mount, "var/lib/apt/lists/partial"), exist_ok=True)


def _configure(ctr: str, arch: config.Arch, options: list[str], labels: dict[str, str]) -> None:
    argv = ["config", "--os", "linux", "--arch", arch.architecture]
    if arch.variant:
        argv += ["--variant", arch.variant]
    for name, value in sorted(labels.items()):
        argv += ["--label", "%s=%s" % (name, value)]
    buildah(*(argv + options + [ctr]))


# --- layers ------------------------------------------------------------------------------------------

def _apt_install(ctr: str, build: Build, actions, stubs=None, progress=None) -> None:
    """Run actions in the container's rootfs: ("apt", [packages]) installs, ("sh", command) runs a shell command.

    Services must not start (policy-rc.d). For a foreign architecture the host tools are put in first; the
    byte-compilation (and any other file in ``stubs``: {path: (text, mode)}) is stubbed during the installs."""
    mount = buildah("mount", ctr).stdout.strip()
    policy = os.path.join(mount, "usr/sbin/policy-rc.d")
    with open(policy, "w") as handle:
        handle.write(NO_SERVICES)
    os.chmod(policy, 0o755)
    use_kit = build.arch.qemu and native.install_kit(mount)
    stubs = dict(stubs or {})
    if use_kit:
        stubs.update(native.PYTHON_STUBS)
    snapshot = native.python_cache_snapshot(mount)
    snapshot["diversions"] = native.diversion_snapshot(mount)
    for command in native.stub_commands(stubs):
        install.chroot_checked(mount, command, build.logfile, use_kit)
    native.write_stubs(mount, stubs)
    for kind, what in actions:
        if kind == "apt":
            install.apt_install(mount, build.arch, what, build.logfile, progress, use_kit)
        else:
            install.chroot_checked(mount, ["/bin/sh", "-c", "set -e; " + what], build.logfile, use_kit)
    _finish_install(mount, build, stubs, snapshot, progress, use_kit)
    os.unlink(policy)
    _tidy_rootfs(mount)


def _finish_install(mount: str, build: Build, stubs: dict, snapshot: dict, progress=None, use_kit: bool = True) -> None:
    """Put the stubbed files back, byte-compile what was recorded, remove the host tools."""
    native.remove_stubs(mount, stubs)
    for command in native.unstub_commands(stubs):
        install.chroot_checked(mount, command, build.logfile, use_kit)
    diversions = snapshot.pop("diversions", None)
    if stubs:
        native.restore_diversion_backup(mount, diversions or native.saved_diversions(mount), stubs)
    native.restore_python_cache(snapshot)
    if native.recorded_calls(mount):
        if progress is not None:
            progress.update(detail="byte-compiling Python modules")
        python = install.python_compiler(native.image_python_version(mount), build.logfile)
        outcome = native.replay_python(mount, build.arch.debian, install.chroot_runner(mount, use_kit), build.logfile,
                                       python)
        log("%s %s: byte-compiled %d Python module(s) with the %s" % (build.kind, build.arch.debian, outcome["compiled"], outcome["where"]))
    if use_kit:
        native.remove_kit(mount)


def _copy(ctr: str, build: Build, source: str, destination: str, mode: int = 0o755) -> None:
    buildah("copy", "--chown", "0:0", "--chmod", "%o" % mode, ctr, source, destination, logfile=build.logfile)


def build_layer(build: Build, progress=None) -> None:
    base = Build("base", build.arch)
    ctr = buildah("from", "--name", "world-%s-%s-%s" % (build.kind, build.arch.debian, build.key), base.image).stdout.strip()
    try:
        labels = {"org.homelab.world.key": build.key, "org.homelab.world.kind": build.kind}
        options = getattr(_Layers, build.kind)(ctr, build, progress)
        _configure(ctr, build.arch, options, labels)
        if progress is not None:
            progress.update(detail="committing")
        buildah("commit", "--format", "docker", "--rm", ctr, build.image, logfile=build.logfile)
        if progress is not None:
            progress.update(detail="")
    except BaseException:
        buildah("rm", ctr, logfile=build.logfile)
        raise


# The MariaDB postinst initialises /var/lib/mysql (a minute of mariadbd under qemu); the layer deletes that
# directory right after (the entrypoint initialises the volume), so the initialisation is skipped.
MARIADB_STUBS = {"/usr/bin/mysql_install_db": ("#!/bin/sh\n# homelab.vaultwarden test world: skipped while the image is built\nexit 0\n", 0o755)}


class _Layers:
    @staticmethod
    def standin(ctr: str, build: Build, _progress=None) -> list[str]:
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
    def fleet(ctr: str, build: Build, progress=None) -> list[str]:
        _apt_install(ctr, build, [("apt", config.FLEET_PACKAGES)], progress=progress)
        return ["--cmd", '["sleep", "infinity"]', "--workingdir", "/"]

    @staticmethod
    def mariadb(ctr: str, build: Build, progress=None) -> list[str]:
        _apt_install(ctr, build, [("apt", config.MARIADB_PACKAGES),
                                  ("sh", "rm -rf /var/lib/mysql; mkdir -p /var/lib/mysql /run/mysqld; "
                                         "chown mysql:mysql /var/lib/mysql /run/mysqld")],
                     stubs=MARIADB_STUBS, progress=progress)
        source = os.path.join(config.PACKAGE_DIR, "dbimages")
        _copy(ctr, build, os.path.join(source, "mariadb-entrypoint.sh"), "/usr/local/bin/docker-entrypoint.sh")
        _copy(ctr, build, os.path.join(source, "mariadb-healthcheck.sh"), "/usr/local/bin/healthcheck.sh")
        _copy(ctr, build, os.path.join(source, "mariadb-world.cnf"), "/etc/mysql/mariadb.conf.d/99-world.cnf", 0o644)
        return ["--volume", "/var/lib/mysql", "--port", "3306", "--entrypoint", '["docker-entrypoint.sh"]',
                "--cmd", '["mariadbd"]', "--workingdir", "/"]

    @staticmethod
    def postgres(ctr: str, build: Build, progress=None) -> list[str]:
        # postgresql-common must not create a "main" cluster: the entrypoint initialises PGDATA on first start.
        _apt_install(ctr, build, [
            ("apt", ["postgresql-common"]),
            ("sh", "sed -ri 's/#?(create_main_cluster) .*$/\\1 = false/' /etc/postgresql-common/createcluster.conf"),
            ("apt", config.POSTGRES_PACKAGES),
            ("sh", "mkdir -p /var/run/postgresql /var/lib/postgresql/data; chown -R postgres:postgres /var/run/postgresql "
                   "/var/lib/postgresql; chmod 2777 /var/run/postgresql; chmod 700 /var/lib/postgresql/data"),
        ], progress=progress)
        source = os.path.join(config.PACKAGE_DIR, "dbimages")
        _copy(ctr, build, os.path.join(source, "postgres-entrypoint.sh"), "/usr/local/bin/docker-entrypoint.sh")
        return ["--env", "PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env", "PGDATA=/var/lib/postgresql/data", "--env", "PG_MAJOR=15",
                "--volume", "/var/lib/postgresql/data", "--port", "5432", "--entrypoint", '["docker-entrypoint.sh"]',
                "--cmd", '["postgres"]', "--stop-signal", "SIGINT", "--workingdir", "/"]

    @staticmethod
    def caddy(ctr: str, build: Build, progress=None) -> list[str]:
        # What the official image's Dockerfile sets up: /config and /data (XDG homes, certificates in /data/caddy),
        # the default Caddyfile and page, and the binary allowed to bind 80/443 as any user (a file capability).
        _apt_install(ctr, build, [("apt", config.CADDY_PACKAGES),
                                  ("sh", "mkdir -p /config/caddy /data/caddy /etc/caddy /usr/share/caddy /srv")],
                     progress=progress)
        mount = buildah("mount", ctr).stdout.strip()
        run(["setcap", "cap_net_bind_service=+ep", os.path.join(mount, "usr/bin/caddy")], logfile=build.logfile)
        version = _installed_version(mount, "caddy").split("-")[0]
        return ["--env", "XDG_CONFIG_HOME=/config", "--env", "XDG_DATA_HOME=/data", "--env", "CADDY_VERSION=v" + version,
                "--label", "org.opencontainers.image.version=v" + version,
                "--label", "org.opencontainers.image.title=Caddy (Debian's caddy package, homelab.vaultwarden test world)",
                "--volume", "/config", "--volume", "/data",
                "--port", "80/tcp", "--port", "443/tcp", "--port", "443/udp", "--port", "2019/tcp", "--workingdir", "/srv",
                "--entrypoint", "[]",
                "--cmd", '["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]']


def _installed_version(mount: str, package: str) -> str:
    """The upstream version of an installed package, from the rootfs's dpkg status (2.6.2-5 -> 2.6.2-5)."""
    with open(os.path.join(mount, "var/lib/dpkg/status")) as handle:
        for paragraph in handle.read().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in paragraph.splitlines() if ": " in line and not line[0].isspace())
            if fields.get("Package") == package:
                return fields["Version"]
    raise WorldError("%s is not installed in %s" % (package, mount))


def export(build: Build, progress=None) -> None:
    if os.path.exists(build.export_dir):
        shutil.rmtree(build.export_dir)
    os.makedirs(os.path.dirname(build.export_dir), exist_ok=True)
    if progress is not None:
        layers = len(json.loads(buildah("inspect", "--type", "image", build.image).stdout)["Docker"]["rootfs"]["diff_ids"])
        start = os.path.getsize(build.logfile) if os.path.exists(build.logfile) else 0
        progress.update(detail="exporting", done=0, total=layers, unit="layers compressed")
        progress.poll = lambda step: _export_progress(step, build, start)
    # gzip level 1: a third less CPU than the default for ~10% larger layers, which only travel over loopback.
    buildah("push", "--format", "docker", "--compression-format", "gzip", "--compression-level", "1", build.image,
            "dir:" + build.export_dir, logfile=build.logfile)
    if progress is not None:
        progress.poll = None
        _export_progress(progress, build, start, finished=True)
    with open(os.path.join(build.export_dir, ".complete"), "w") as handle:
        handle.write(build.image + "\n")


def _export_progress(step, build: Build, start: int, finished: bool = False) -> None:
    with open(build.logfile, errors="replace") as handle:
        handle.seek(start)
        started = handle.read().count("Copying blob")
    written = 0
    if os.path.isdir(build.export_dir):
        written = sum(entry.stat().st_size for entry in os.scandir(build.export_dir) if entry.is_file())
    done = started if finished else max(0, started - 1)
    step.update(detail="%s written to the export" % megabytes(written), done=done)


# --- orchestration -----------------------------------------------------------------------------------

# Rough durations (seconds, 2 cores) for the order of a cold build without recorded timings: longest first.
DEFAULT_ESTIMATES = {"mariadb": 140, "postgres": 140, "fleet": 120, "caddy": 40, "standin": 15}


class Builder:
    """Runs each architecture's base first, then its layers, in --jobs threads. Ready work is taken longest first
    (estimates from the previous build's timings), so that the longest chain (arm64's base and its database
    layers) is not left waiting behind short jobs at the end."""

    def __init__(self, jobs: int, timings=None):
        self.jobs = max(1, jobs)
        self.timings = timings
        self.ready = threading.Condition()
        self.queue: list = []
        self.sequence = 0
        self.running = 0
        self.errors: list[BaseException] = []
        self.finished = 0

    def _estimate(self, key: str, default: float) -> float:
        recorded = self.timings.get(key).get("seconds") if self.timings is not None else None
        return recorded or default

    def _submit(self, priority: float, fn, *args) -> None:
        with self.ready:
            heapq.heappush(self.queue, (priority, self.sequence, fn, args))
            self.sequence += 1
            self.ready.notify()

    def _worker(self) -> None:
        while True:
            with self.ready:
                while not self.queue and self.running:
                    self.ready.wait()
                if not self.queue:
                    self.ready.notify_all()
                    return
                _priority, _sequence, fn, args = heapq.heappop(self.queue)
                self.running += 1
            try:
                fn(*args)
            except BaseException as error:  # pylint: disable=broad-except  # reported once all workers are done
                with self.ready:
                    self.errors.append(error)
            finally:
                with self.ready:
                    self.running -= 1
                    self.ready.notify_all()

    def _base(self, arch: config.Arch, layers: list[Build]) -> None:
        base = Build("base", arch)
        if not image_exists(base.image):
            title = "rootfs %s (mmdebstrap %s%s)" % (arch.debian, config.SUITE, ", dpkg under qemu" if arch.qemu else "")
            with step(title, key="rootfs %s" % arch.debian) as progress:
                build_base(base, progress)
        for layer in layers:
            key = "image %s %s" % (layer.kind, arch.debian)
            default = DEFAULT_ESTIMATES[layer.kind] * (1 if arch.qemu else 0.4)
            self._submit(-self._estimate(key, default), self._layer, layer)

    def _layer(self, build: Build) -> None:
        with step("image %s for %s" % (build.kind, build.arch.platform), key="image %s %s" % (build.kind, build.arch.debian)) as progress:
            if not image_exists(build.image):
                build_layer(build, progress)
            export(build, progress)
        with self.ready:
            self.finished += 1

    def _overall(self, step_) -> None:
        step_.update(done=self.finished)

    def run(self, builds: list[Build]) -> int:
        """Build what the cache lacks; returns the number of images built."""
        todo = [b for b in builds if not b.exported()]
        if not todo:
            log("all %d images are cached (nothing to build)" % len(builds))
            return 0
        os.makedirs(config.path("logs"), exist_ok=True)
        with step("images (%d of %d to build, --jobs %d)" % (len(todo), len(builds), self.jobs),
                  key="images %d" % len(todo), poll=self._overall) as overall:
            overall.update(done=0, total=len(todo), unit="images built")
            # Bases before any layer, the slowest architectures first.
            for order, debian in enumerate(["arm64", "armhf", "armel", "amd64"]):
                layers = [b for b in todo if b.arch.debian == debian]
                if layers:
                    self._submit(-1e9 + order, self._base, config.ARCHES[debian], layers)
            workers = [threading.Thread(target=self._worker, name="world-build-%d" % n, daemon=True) for n in range(self.jobs)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            if self.errors:
                raise WorldError("%d image build(s) failed: %s" % (len(self.errors), "; ".join(str(e) for e in self.errors)))
            overall.update(done=self.finished)
        removed = install.POOL.prune()
        if removed:
            log("dropped %d superseded package file(s) from %s" % (removed, install.POOL.dir))
        return len(todo)


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
