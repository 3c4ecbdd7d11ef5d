# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installing Debian packages into a rootfs: the host's apt resolves and downloads, the rootfs's own dpkg installs.

* **Package lists**: one ``apt-get update`` per architecture and build run, on the host (``<cache>/apt/<arch>``);
  every install of that run reads the same lists, so a base and its layers see one snapshot of the mirror.
* **Downloads**: ``<cache>/debs`` keeps every package downloaded (superseded versions are dropped). Each install
  gets a private archive directory of hard links to it, bind-mounted on the rootfs's ``/var/cache/apt/archives``, so
  architecture-independent packages are downloaded once for all architectures and rebuilds download nothing, and
  no package file ever lands in an image.
* **dpkg** runs chrooted in the rootfs (``DPkg::Chroot-Directory``), under qemu for a foreign architecture, with the
  host tools of ``native.py`` first on its ``PATH``; apt itself (dependency resolution, decompressing the lists) is
  the host's. The rootfs's ``/proc``, ``/dev`` and ``/sys`` are mounted in a private mount namespace that ends with
  the command, so nothing stays mounted whatever happens.
* **The base rootfs** is made by ``mmdebstrap`` (Debian's multi-mirror debootstrap; ``--variant=minbase`` like
  the ``debootstrap --variant=minbase`` it replaces) from the same lists and downloads, with the host tools added
  right after the essential packages are extracted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading

from . import config, native
from .util import WorldError, log

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MERGED_USR_HOOKS = "/usr/share/mmdebstrap/hooks/merged-usr"
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive",
             "HOME": "/root"}
# apt honours these; nothing else of the caller's environment reaches apt, dpkg or maintainer scripts.
CLEAN_ENV.update({name: os.environ[name] for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                                                      "NO_PROXY") if os.environ.get(name)})

# Runs natively in a new mount namespace: mounts the rootfs's /proc, /dev, /sys (unless told not to) and bind mounts,
# then execs the command. Everything is unmounted when the namespace ends.
NAMESPACE_SCRIPT = r'''
set -e
root=$1; system=$2; shift 2
if [ "$system" = yes ]; then
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --rbind /sys "$root/sys"
fi
while [ "$1" != "--" ]; do mount --bind "$1" "$root$2"; shift 2; done
shift
exec "$@"
'''


def namespace_argv(root: str, argv: list[str], binds=(), system: bool = True) -> list[str]:
    pairs = []
    for source, target in binds:
        pairs += [source, target]
    return (["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", NAMESPACE_SCRIPT, "sh", root,
             "yes" if system else "no"] + pairs + ["--"] + list(argv))


def chroot_runner(root: str, use_kit: bool):
    """A function running a command chrooted in root (stdin text or None) that returns the CompletedProcess."""
    def run_in_root(argv, input_text):
        env = dict(CLEAN_ENV, PATH=native.PATH if use_kit else CLEAN_ENV["PATH"])
        return subprocess.run(namespace_argv(root, ["chroot", root] + list(argv)), input=input_text if input_text is not None else "",
                              text=True, capture_output=True, env=env, check=False)
    return run_in_root


def chroot_checked(root: str, argv, logfile: str, use_kit: bool = False) -> None:
    result = chroot_runner(root, use_kit)(argv, None)
    with open(logfile, "a") as out:
        out.write("\n$ chroot %s %s\n%s%s" % (root, " ".join(argv), result.stdout, result.stderr))
    if result.returncode != 0:
        raise WorldError("%s failed in %s (%d): %s; see %s" % (" ".join(argv), root, result.returncode,
                                                               result.stderr.strip()[-300:], logfile))


# --- lists and downloads -----------------------------------------------------------------------------

def sources_file() -> str:
    name = config.path("apt", "sources.list")
    text = "deb [signed-by=%s] %s %s main\n" % (KEYRING, config.MIRROR, config.SUITE)
    try:
        with open(name) as handle:
            if handle.read() == text:
                return name
    except OSError:
        pass
    os.makedirs(os.path.dirname(name), exist_ok=True)
    with open(name, "w") as handle:
        handle.write(text)
    return name


def _base_options(arch: config.Arch, lists: str) -> list[str]:
    return [
        'APT::Architecture "%s";' % arch.debian,
        'APT::Architectures "%s";' % arch.debian,
        'Dir::Etc::SourceList "%s";' % sources_file(),
        'Dir::Etc::SourceParts "%s";' % _empty_dir(),
        'Dir::State::Lists "%s";' % lists,
        'Dir::Cache::pkgcache "";',
        'Dir::Cache::srcpkgcache "";',
        'Acquire::Languages "none";',
        'Acquire::Retries "3";',
    ]


def _empty_dir() -> str:
    name = config.path("apt", "empty")
    os.makedirs(name, exist_ok=True)
    return name


class Lists:
    """``apt-get update`` once per architecture and run."""

    def __init__(self):
        self.lock = threading.Lock()
        self.locks: dict[str, threading.Lock] = {}
        self.done: set[str] = set()

    def ensure(self, arch: config.Arch, logfile: str) -> str:
        with self.lock:
            lock = self.locks.setdefault(arch.debian, threading.Lock())
        base = config.path("apt", arch.debian)
        lists = os.path.join(base, "lists")
        with lock:
            if arch.debian in self.done:
                return lists
            if not os.path.exists(KEYRING):
                raise WorldError("%s is missing; install Debian's archive keyring: apt-get install debian-archive-keyring" % KEYRING)
            for sub in ("lists/partial", "state", "cache/archives/partial"):
                os.makedirs(os.path.join(base, sub), exist_ok=True)
            os.makedirs(os.path.dirname(logfile), exist_ok=True)
            conf = os.path.join(base, "update.conf")
            with open(conf, "w") as handle:
                # Not the host's apt configuration: no AppStream metadata, lists stored as the installs expect.
                handle.write("\n".join(_base_options(arch, lists) + [
                    'Dir::Etc::Parts "%s";' % _empty_dir(),
                    'Dir::Etc::Main "%s";' % os.path.join(_empty_dir(), "apt.conf"),
                    'Dir::State "%s";' % os.path.join(base, "state"),
                    'Dir::State::status "%s";' % os.path.join(base, "state", "status"),
                    'Dir::Cache "%s";' % os.path.join(base, "cache"),
                ]) + "\n")
            open(os.path.join(base, "state", "status"), "a").close()
            env = dict(CLEAN_ENV, APT_CONFIG=conf)
            with open(logfile, "a") as out:
                out.write("\n$ apt-get update (%s, host apt)\n" % arch.debian)
                out.flush()
                result = subprocess.run(["apt-get", "update", "-q", "--error-on=any"], env=env, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, check=False)
            if result.returncode != 0:
                raise WorldError("apt-get update for %s from %s failed (%d); see %s (is the mirror reachable? "
                                 "set $VW_WORLD_MIRROR to another one)" % (arch.debian, config.MIRROR, result.returncode, logfile))
            self.done.add(arch.debian)
            return lists


LISTS = Lists()
_DEB = re.compile(r"^(?P<name>[^_]+)_(?P<version>[^_]+)_(?P<arch>[^_]+)\.deb$")


class Pool:
    """Downloaded packages, shared by every install through hard links."""

    def __init__(self):
        self.lock = threading.Lock()
        self.dir = config.path("debs")

    def link_into(self, target: str, arch: config.Arch) -> None:
        os.makedirs(self.dir, exist_ok=True)
        with self.lock:
            for name in os.listdir(self.dir):
                match = _DEB.match(name)
                if match and match.group("arch") in (arch.debian, "all"):
                    os.link(os.path.join(self.dir, name), os.path.join(target, name))

    def harvest(self, source: str) -> int:
        """Keep what an install downloaded; returns the number of new files."""
        added = 0
        with self.lock:
            for name in os.listdir(source):
                if _DEB.match(name) and not os.path.exists(os.path.join(self.dir, name)):
                    os.link(os.path.join(source, name), os.path.join(self.dir, name))
                    added += 1
        return added

    def prune(self) -> int:
        """Drop superseded versions (the mirror moved on); returns how many files went."""
        groups: dict[tuple, list[tuple[str, str]]] = {}
        if not os.path.isdir(self.dir):
            return 0
        for name in os.listdir(self.dir):
            match = _DEB.match(name)
            if match:
                groups.setdefault((match.group("name"), match.group("arch")), []).append(
                    (match.group("version").replace("%3a", ":"), name))
        removed = 0
        for versions in groups.values():
            if len(versions) < 2:
                continue
            newest = versions[0]
            for candidate in versions[1:]:
                if subprocess.run(["dpkg", "--compare-versions", candidate[0], "gt", newest[0]], check=False,
                                  stdin=subprocess.DEVNULL).returncode == 0:
                    newest = candidate
            for version, name in versions:
                if name != newest[1]:
                    os.unlink(os.path.join(self.dir, name))
                    removed += 1
        return removed


POOL = Pool()


class RunDir:
    """A private archive directory for one install, pre-filled from the pool; the new downloads go back to it."""

    def __init__(self, arch: config.Arch, label: str):
        os.makedirs(config.path("tmp"), exist_ok=True)
        self.path = tempfile.mkdtemp(prefix="%s-%s-" % (label, arch.debian), dir=config.path("tmp"))
        self.archives = os.path.join(self.path, "archives")
        os.makedirs(os.path.join(self.archives, "partial"))
        POOL.link_into(self.archives, arch)

    def bytes_downloaded(self) -> int:
        total = 0
        for sub in (self.archives, os.path.join(self.archives, "partial")):
            for entry in os.scandir(sub):
                if entry.is_file() and (sub != self.archives or entry.stat().st_nlink == 1):
                    total += entry.stat().st_size
        return total

    def close(self) -> int:
        added = POOL.harvest(self.archives)
        shutil.rmtree(self.path, ignore_errors=True)
        return added


# --- apt-get install into a rootfs -------------------------------------------------------------------

class _Watch:
    """Reads apt's output and status descriptor; tells the progress step how far the install is."""

    NEWLY = re.compile(r"(\d+) upgraded, (\d+) newly installed")

    def __init__(self, step, logfile: str):
        self.step = step
        self.logfile = logfile
        self.total = 0
        self.unpacked = 0
        self.configured = 0
        self.download = None

    def output(self, stream) -> None:
        with open(self.logfile, "a") as out:
            for line in stream:
                out.write(line)
                match = self.NEWLY.search(line)
                if match:
                    self.total = int(match.group(1)) + int(match.group(2))
                    self._show()

    def status(self, stream) -> None:
        for line in stream:
            parts = line.rstrip("\n").split(":", 3)
            if len(parts) < 4:
                continue
            kind, _package, percent, message = parts
            if kind == "dlstatus":
                try:
                    self.download = float(percent)
                except ValueError:
                    pass
            elif kind == "pmstatus":
                if message.startswith("Unpacking "):
                    self.unpacked += 1
                elif message.startswith("Installed "):
                    self.configured += 1
            self._show()

    def _show(self) -> None:
        if self.step is None:
            return
        if self.configured or self.unpacked:
            phase = "configured" if self.configured else "unpacked"
            self.step.update(done=self.configured or self.unpacked, total=self.total or None,
                             unit="packages %s" % phase, detail="")
        elif self.download is not None:
            self.step.update(detail="downloading %.0f%%" % self.download)


def apt_install(root: str, arch: config.Arch, packages, logfile: str, step=None, use_kit: bool = False) -> None:
    """apt-get install --no-install-recommends PACKAGES into root (dpkg chrooted there)."""
    lists = LISTS.ensure(arch, logfile)
    run_dir = RunDir(arch, "install")
    try:
        conf = os.path.join(run_dir.path, "apt.conf")
        with open(conf, "w") as handle:
            handle.write("\n".join(['Dir "%s";' % root] + _base_options(arch, lists) + [
                'DPkg::Chroot-Directory "%s";' % root,
                'Dir::Bin::dpkg "/usr/bin/dpkg";',
                'DPkg::Path "%s";' % (native.PATH if use_kit else CLEAN_ENV["PATH"]),
                'Dpkg::Use-Pty "false";',
            ]) + "\n")
        os.makedirs(os.path.join(root, "var/cache/apt/archives"), exist_ok=True)
        read_end, write_end = os.pipe()
        argv = namespace_argv(root, ["apt-get", "-o", "APT::Status-Fd=%d" % write_end, "install", "-y", "-q",
                                     "--no-install-recommends"] + list(packages),
                              binds=[(run_dir.archives, "/var/cache/apt/archives")])
        with open(logfile, "a") as out:
            out.write("\n$ apt-get install %s (host apt, dpkg in %s)\n" % (" ".join(packages), root))
        watch = _Watch(step, logfile)
        try:
            process = subprocess.Popen(argv, env=dict(CLEAN_ENV, APT_CONFIG=conf), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(write_end,), text=True)
        finally:
            os.close(write_end)
        status = os.fdopen(read_end)
        readers = [threading.Thread(target=watch.output, args=(process.stdout,), daemon=True),
                   threading.Thread(target=watch.status, args=(status,), daemon=True)]
        for reader in readers:
            reader.start()
        process.wait()
        for reader in readers:
            reader.join(timeout=10)   # a stray process still holding the pipes must not hang the build
        if process.returncode != 0:
            raise WorldError("apt-get install %s failed for %s (%d); see %s" % (" ".join(packages), arch.debian,
                                                                                process.returncode, logfile))
    finally:
        run_dir.close()


# --- a native interpreter for byte-compiling foreign images ---------------------------------------

_COMPILER_LOCK = threading.Lock()


def python_compiler(version: str | None, logfile: str) -> str | None:
    """The amd64 build of python3.11 at exactly ``version`` (the image's), unpacked from Debian's packages into
    ``<cache>/native/``; None (the image's own interpreter is used) when it cannot be had."""
    if not version:
        return None
    name = native.TARGET_PYTHON
    target = config.path("native", "%s_%s" % (name, version.replace(":", "%3a")))
    python = os.path.join(target, "usr/bin", name)
    with _COMPILER_LOCK:
        if os.path.exists(python):
            return python
        amd64 = config.ARCHES["amd64"]
        packages = ["%s-minimal=%s" % (name, version), "lib%s-minimal=%s" % (name, version), "lib%s-stdlib=%s" % (name, version)]
        try:
            files = download(amd64, packages, logfile)
            tmp = target + ".tmp%d" % os.getpid()
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            for deb in files:
                subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True, stdin=subprocess.DEVNULL, capture_output=True)
            probe = subprocess.run([os.path.join(tmp, "usr/bin", name), "-E", "-S", "-c", "import py_compile, importlib.util; "
                                    "print(importlib.util.MAGIC_NUMBER == %r)" % native.MAGIC],
                                   capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
            if probe.stdout.strip() != "True":
                raise WorldError("the unpacked %s does not run or is not CPython 3.11: %s" % (name, probe.stderr.strip()[-300:]))
            os.replace(tmp, target)
        except (WorldError, OSError, subprocess.CalledProcessError) as error:
            log("byte-compiling under qemu: no native %s %s (%s)" % (name, version, error))
            return None
        return python


def download(arch: config.Arch, specs, logfile: str) -> list[str]:
    """Download packages (``name=version``) of ``arch`` into the pool; returns their paths there."""
    lists = LISTS.ensure(arch, logfile)
    run_dir = RunDir(arch, "download")
    try:
        conf = os.path.join(run_dir.path, "apt.conf")
        state = os.path.join(run_dir.path, "state")
        os.makedirs(state)
        open(os.path.join(state, "status"), "w").close()
        with open(conf, "w") as handle:
            handle.write("\n".join(_base_options(arch, lists) + [
                'Dir::Etc::Parts "%s";' % _empty_dir(),
                'Dir::Etc::Main "%s";' % os.path.join(_empty_dir(), "apt.conf"),
                'Dir::State "%s";' % state,
                'Dir::State::status "%s";' % os.path.join(state, "status"),
                'Dir::Cache "%s";' % run_dir.path,
            ]) + "\n")
        with open(logfile, "a") as out:
            out.write("\n$ apt-get download %s (%s)\n" % (" ".join(specs), arch.debian))
            out.flush()
            result = subprocess.run(["apt-get", "download", "-q"] + list(specs), cwd=run_dir.archives, env=dict(CLEAN_ENV, APT_CONFIG=conf),
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            raise WorldError("apt-get download %s failed (%d); see %s" % (" ".join(specs), result.returncode, logfile))
        names = [name for name in os.listdir(run_dir.archives) if any(
            name.startswith(spec.split("=")[0] + "_" + spec.split("=")[1].replace(":", "%3a") + "_") for spec in specs)]
    finally:
        run_dir.close()
    return [os.path.join(POOL.dir, name) for name in sorted(names)]


# --- the base rootfs ---------------------------------------------------------------------------------

def _hook_script(run_dir: RunDir, name: str, lines: list[str]) -> str:
    script = os.path.join(run_dir.path, name)
    with open(script, "w") as handle:
        handle.write("set -e\nroot=\"$1\"\n" + "\n".join(lines) + "\n")
    return "sh %s \"$1\"" % script


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def mmdebstrap(root: str, arch: config.Arch, packages, logfile: str, step=None, use_kit: bool = False) -> None:
    """The minbase rootfs of ``arch`` with ``packages`` into the empty directory root."""
    lists = LISTS.ensure(arch, logfile)
    run_dir = RunDir(arch, "rootfs")
    try:
        for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        argv = ["mmdebstrap", "--mode=root", "--variant=minbase", "--format=directory", "--architectures=" + arch.debian,
                "--include=" + ",".join(packages),
                # check/empty: the bind-mount points exist; update: the run's lists are mounted; the downloads and
                # lists are kept (they are mounted, not part of the image); /run is left as debootstrap left it.
                "--skip=check/empty,check/qemu,update,essential/unlink,cleanup/apt/lists,cleanup/apt/cache,cleanup/run"]
        argv += ["--dpkgopt=" + option for option in config.DPKG_EXCLUDES]
        # merged /usr as debootstrap sets it up (directory symlinks and usr-is-merged), not by the usrmerge package,
        # which would pull perl into every image.
        argv.append("--hook-dir=%s" % MERGED_USR_HOOKS)
        if use_kit:
            tree = native.KIT.prepare()
            copies = []
            for relative in native.KIT_PATHS:
                copies.append("if [ -e \"$root/%s\" ]; then echo \"/%s exists in the rootfs: no room for the host tools\" >&2; exit 1; fi"
                              % (relative, relative))
                copies.append("cp -a %s/%s \"$root/%s\"" % (tree, relative, relative))
            argv.append("--extract-hook=" + _hook_script(run_dir, "extract.sh", copies))
            stub_dir = os.path.join(run_dir.path, "stubs")
            native.write_stubs(stub_dir, native.PYTHON_STUBS)
            saved = "\"$root/%s\"" % native.SAVED_DIVERSIONS
            copy = "if [ -e \"$root/%s\" ]; then cp -p \"$root/%s\" %s/; fi"
            lines = ["mkdir -p %s" % saved] + [copy % (name, name, saved) for name in native.DIVERSIONS]
            lines += ["chroot \"$root\" %s" % " ".join(_quote(a) for a in command) for command in native.stub_commands(native.PYTHON_STUBS)]
            for path, (_text, mode) in native.PYTHON_STUBS.items():
                lines.append("mkdir -p \"$root%s\"" % os.path.dirname(path))
                lines.append("cp %s \"$root%s\"" % (stub_dir + path, path))
                lines.append("chmod %o \"$root%s\"" % (mode, path))
            argv.append("--essential-hook=" + _hook_script(run_dir, "essential.sh", lines))
            argv.append("--aptopt=DPkg::Path \"%s\"" % native.PATH)
        argv += [config.SUITE, root, config.MIRROR]
        env = dict(CLEAN_ENV, PATH=(native.PATH if use_kit else CLEAN_ENV["PATH"]), TMPDIR=run_dir.path)
        with open(logfile, "a") as out:
            out.write("\n$ %s\n" % " ".join(argv))
            out.flush()
            watcher = _RootfsWatch(step, root, logfile, run_dir) if step is not None else None
            if watcher:
                step.poll = watcher.poll
            result = subprocess.run(namespace_argv(root, argv, system=False,
                                                   binds=[(run_dir.archives, "/var/cache/apt/archives"), (lists, "/var/lib/apt/lists")]),
                                    env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=False)
        if watcher:
            watcher.poll(step)
            step.poll = None
        if result.returncode != 0:
            raise WorldError("mmdebstrap (%s) failed (%d); see %s" % (arch.debian, result.returncode, logfile))
        apt_conf = os.path.join(root, "etc/apt/apt.conf.d/99mmdebstrap")
        if os.path.exists(apt_conf):
            os.unlink(apt_conf)   # only held the build's DPkg::Path
    finally:
        run_dir.close()


class _RootfsWatch:
    """How far mmdebstrap is: its last "I:" line and the packages dpkg has installed so far."""

    def __init__(self, step, root: str, logfile: str, run_dir: RunDir):
        self.step, self.root, self.logfile, self.run_dir = step, root, logfile, run_dir
        self.offset = os.path.getsize(logfile) if os.path.exists(logfile) else 0
        self.phase = "starting"

    def poll(self, step) -> None:
        with open(self.logfile, errors="replace") as handle:
            handle.seek(self.offset)
            for line in handle.read().splitlines():
                if line.startswith("I: ") and "..." in line:
                    self.phase = line[3:].split("...")[0].strip()
            self.offset = handle.tell()
        # dpkg writes each package's file list when it unpacks it (the status file lags behind, in updates/).
        info = os.path.join(self.root, "var/lib/dpkg/info")
        unpacked = sum(1 for name in os.listdir(info) if name.endswith(".list")) if os.path.isdir(info) else 0
        detail = self.phase
        if self.phase.startswith("downloading"):
            detail += " (%s)" % _mb(self.run_dir.bytes_downloaded())
        step.update(detail=detail, done=unpacked, unit="packages unpacked")


def _mb(count: int) -> str:
    return "%.1f MB" % (count / 1e6)
