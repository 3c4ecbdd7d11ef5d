# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What need not run under emulation while a foreign architecture's packages are installed.

Measured on arm64 (``docker.io python3-docker`` on the base, CPU seconds, qemu-user 7.2): 130 s when everything runs
under qemu, 41 s with the host tools below. Under qemu every program started costs ~45 ms of CPU before it does any
work (ca-certificates' scripts alone start ~1500 of them), and dpkg-deb decompresses ~7x slower. So, during an
install, and removed before the layer is committed:

* **Host tools on the PATH of dpkg and its maintainer scripts** (``/.vw-native/bin`` first, their ELF interpreter
  rewritten to the host's loader copied to ``/.vw-native``, the host's libraries in ``/usr/lib/x86_64-linux-gnu``,
  paths no foreign Debian rootfs uses): text and file
  utilities, ``dpkg-deb``/``dpkg-split`` (decompression) and ``openssl`` (``rehash``). Their results do not depend on
  the machine. Shells, perl, python, dpkg itself, ldconfig and everything that reports the machine (``uname``,
  ``arch``, ``getconf``) stay the image's own, under emulation. A tree built this way is identical to one built
  entirely under qemu (checked file by file, contents, modes and owners; only ldconfig's aux-cache differs, as
  between any two builds).
* **Python byte-compilation** (``py3compile`` and the stdlib's ``py_compile.py`` calls of the python3.11 postinsts)
  is recorded by stubs put in place with ``dpkg-divert`` and replayed afterwards, with py3compile's file selection,
  by the amd64 build of the very same python3.11 package version as the image's (extracted from Debian's packages
  into the cache, install.py): bytecode and pyc headers do not depend on the machine, and the same compiler version
  writes the same bytes. If that interpreter cannot be had, the replay runs in the image under qemu.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import re
import shutil
import struct
import subprocess
import threading

from . import config
from .util import WorldError, log

BIN = ".vw-native/bin"
CALLS = "/.vw-native/python-calls"
PATH = "/%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" % BIN
HOST_LOADER = "/lib64/ld-linux-x86-64.so.2"
# The tools' ELF interpreter is rewritten to this path (no longer than the original): a real /lib64 directory would
# make the rootfs "not merged-/usr" for usr-is-merged's preinst.
LOADER = b"/.vw-native/ld-x86-64.so.2"
HOST_LIBDIR = "usr/lib/x86_64-linux-gnu"   # searched by the host loader by default; unused by foreign rootfs
KIT_PATHS = (".vw-native", HOST_LIBDIR)

# Programs that maintainer scripts start by name and whose output does not depend on the machine.
TOOLS = (
    "basename", "cat", "chgrp", "chmod", "chown", "cmp", "comm", "cp", "cut", "date", "diff", "dirname", "env", "expr",
    "false", "find", "grep", "gzip", "head", "id", "install", "ln", "ls", "md5sum", "mkdir", "mktemp", "mv", "od",
    "readlink", "realpath", "rm", "rmdir", "sed", "sha256sum", "sleep", "sort", "stat", "tail", "tar", "tee", "test",
    "touch", "tr", "true", "uniq", "wc", "xargs", "[",
    "dpkg-deb", "dpkg-split",   # dpkg runs them by name: decompression of every package
    "openssl",                  # update-ca-certificates: openssl rehash
)

SUFFIX = ".vw-world"        # where dpkg-divert puts a stubbed file during an install
TARGET_PYTHON = "python3.11"
PY3COMPILE = "/usr/bin/py3compile"
PY_COMPILE = "/usr/lib/%s/py_compile.py" % TARGET_PYTHON
CACHE_TAG = "cpython-311"
MAGIC = (3495).to_bytes(2, "little") + b"\r\n"   # importlib.util.MAGIC_NUMBER of every CPython 3.11

PY3COMPILE_STUB = """#!/bin/sh
# homelab.vaultwarden test world: recorded here, byte-compiled after the install (tools/world/native.py)
{ printf py3compile; for arg in "$@"; do printf '\\t%s' "$arg"; done; printf '\\n'; } >> CALLS
""".replace("CALLS", CALLS)

PY_COMPILE_STUB = '''# homelab.vaultwarden test world: run as a program, records what to byte-compile after the install
# (tools/world/native.py); imported, it is the real module.
import sys
if __name__ == "__main__":
    files = sys.argv[1:]
    if files == ["-"]:
        files = [line.rstrip("\\n") for line in sys.stdin]
    with open("CALLS", "a") as calls:
        calls.write("\\t".join(["py_compile", "-O" if sys.flags.optimize else "-"] + files) + "\\n")
    sys.exit(0)
with open(__file__ + "SUFFIX") as _real:
    exec(compile(_real.read(), __file__ + "SUFFIX", "exec"))
'''.replace("CALLS", CALLS).replace("SUFFIX", SUFFIX)


def in_root(root: str, path: str, _depth: int = 0) -> str:
    """``path`` as a program chrooted in ``root`` sees it: symbolic links are followed inside root (an absolute
    link target is relative to root), never out to the host. Returns the host path (root + resolved path)."""
    parts = [part for part in path.split("/") if part and part != "."]
    resolved = ""
    for index, part in enumerate(parts):
        if part == "..":
            resolved = resolved.rsplit("/", 1)[0]
            continue
        candidate = resolved + "/" + part
        if os.path.islink(root + candidate):
            if _depth > 40:
                raise OSError("too many levels of symbolic links resolving %s in %s" % (path, root))
            target = os.readlink(root + candidate)
            rest = "/".join(parts[index + 1:])
            joined = (target if target.startswith("/") else resolved + "/" + target) + ("/" + rest if rest else "")
            return in_root(root, joined, _depth + 1)
        resolved = candidate
    return root + (resolved or "/")


# Runs under the native python3.11 (root = the rootfs) or, as a fallback, under the image's (root = "").
COMPILE_SCRIPT = "import os\n" + inspect.getsource(in_root).replace(": str", "").replace(" -> str", "").replace(": int", "") + r'''
import importlib.util, json, py_compile, sys
os.umask(0o022)
root, jobs = json.load(sys.stdin)
compiled, failed = 0, []
for path, optimize in jobs:
    cfile = importlib.util.cache_from_source(path, optimization=1 if optimize else "")
    cfile = os.path.join(in_root(root, os.path.dirname(os.path.dirname(cfile))), "__pycache__", os.path.basename(cfile))
    try:
        py_compile.compile(in_root(root, path), cfile=cfile, dfile=path, doraise=True, optimize=1 if optimize else 0,
                           invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
        compiled += 1
    except py_compile.PyCompileError as error:
        failed.append(error.msg)
print(json.dumps({"compiled": compiled, "failed": failed}))
'''

# debpython's PUBLIC_DIR_RE: the public directories py3compile -p compiles.
PUBLIC_DIR = re.compile(r".*?/usr/lib/python(\d(?:.\d+)?)/(site|dist)-packages")


# --- host tools ----------------------------------------------------------------------------------------

class Kit:
    """The host tools, their libraries and the loader, laid out as they go into a rootfs; built once per run."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tree: str | None = None
        self.reason = ""

    def prepare(self) -> str | None:
        with self.lock:
            if self.tree is None and not self.reason:
                try:
                    self.tree = self._build()
                except (OSError, WorldError, subprocess.SubprocessError) as error:
                    self.reason = str(error)
                    log("host tools are not used in foreign installs (everything runs under qemu): %s" % error)
            return self.tree

    @staticmethod
    def _sources() -> dict:
        found = {}
        for name in TOOLS:
            for directory in ("/usr/bin", "/bin", "/usr/sbin", "/sbin"):
                candidate = os.path.join(directory, name)
                if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                    with open(candidate, "rb") as handle:
                        if handle.read(4) == b"\x7fELF":
                            found[name] = os.path.realpath(candidate)
                    break
        return found

    def _build(self) -> str:
        if platform.machine() != "x86_64" or not os.path.exists(HOST_LOADER):
            raise WorldError("this host is %s without %s; the host tools are x86_64 programs" % (platform.machine(), HOST_LOADER))
        sources = self._sources()
        missing = sorted(set(TOOLS) - set(sources))
        if missing:
            log("host tools not found (they stay emulated): %s" % " ".join(missing))
        digest = hashlib.sha256(LOADER + repr(KIT_PATHS).encode())
        for name, source in sorted(sources.items()):
            stat = os.stat(source)
            digest.update(("%s %s %d %d\n" % (name, source, stat.st_size, stat.st_mtime_ns)).encode())
        tree = config.path("native", digest.hexdigest()[:16])
        if os.path.isdir(tree):
            return tree
        libraries = set()
        for source in sources.values():
            listed = subprocess.run(["ldd", source], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL).stdout
            libraries.update(re.findall(r"=> (/\S+) \(", listed))
        tmp = tree + ".tmp%d" % os.getpid()
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(os.path.join(tmp, BIN))
        os.makedirs(os.path.join(tmp, HOST_LIBDIR))
        for name, source in sources.items():
            shutil.copy2(source, os.path.join(tmp, BIN, name))
            set_interpreter(os.path.join(tmp, BIN, name), LOADER)
        for library in libraries:
            shutil.copy2(library, os.path.join(tmp, HOST_LIBDIR, os.path.basename(library)))
        shutil.copy2(os.path.realpath(HOST_LOADER), tmp + LOADER.decode())
        os.makedirs(os.path.dirname(tree), exist_ok=True)
        os.replace(tmp, tree)
        return tree


def set_interpreter(filename: str, interpreter: bytes) -> bool:
    """Rewrite the PT_INTERP path of a 64-bit little-endian ELF executable in place; False if it has none."""
    with open(filename, "r+b") as handle:
        header = handle.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            raise WorldError("%s is not a 64-bit little-endian ELF file" % filename)
        phoff = struct.unpack_from("<Q", header, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        for index in range(phnum):
            handle.seek(phoff + index * phentsize)
            entry = handle.read(phentsize)
            if struct.unpack_from("<I", entry, 0)[0] != 3:   # PT_INTERP
                continue
            offset, size = struct.unpack_from("<Q", entry, 8)[0], struct.unpack_from("<Q", entry, 32)[0]
            if len(interpreter) + 1 > size:
                raise WorldError("%s: the interpreter path %s does not fit in %d bytes" % (filename, interpreter, size))
            handle.seek(offset)
            handle.write(interpreter + b"\0" * (size - len(interpreter)))
            return True
    return False


KIT = Kit()


def install_kit(root: str) -> bool:
    """Put the host tools into a foreign rootfs; False (and nothing changed) when they cannot be used there."""
    tree = KIT.prepare()
    if tree is None:
        return False
    taken = [p for p in KIT_PATHS if os.path.lexists(os.path.join(root, p))]
    if taken:
        log("host tools not used in %s: it has %s already" % (root, ", ".join("/" + p for p in taken)))
        return False
    for relative in KIT_PATHS:   # new directories only: the rootfs's own keep their metadata
        shutil.copytree(os.path.join(tree, relative), os.path.join(root, relative), symlinks=True)
    return True


def remove_kit(root: str) -> None:
    for relative in KIT_PATHS:
        target = os.path.join(root, relative)
        if os.path.islink(target) or os.path.isfile(target):
            os.unlink(target)
        elif os.path.isdir(target):
            shutil.rmtree(target)


# --- stubs during an install -------------------------------------------------------------------------

def stub_commands(stubs: dict) -> list[list[str]]:
    """Commands (to run chrooted in the rootfs) that divert each path aside; the stub files are written separately."""
    return [["dpkg-divert", "--quiet", "--local", "--rename", "--divert", path + SUFFIX, "--add", path] for path in sorted(stubs)]


def unstub_commands(stubs: dict) -> list[list[str]]:
    return [["dpkg-divert", "--quiet", "--local", "--rename", "--divert", path + SUFFIX, "--remove", path] for path in sorted(stubs)]


def write_stubs(root: str, stubs: dict) -> None:
    for path, (text, mode) in stubs.items():
        target = in_root(root, os.path.dirname(path)) + "/" + os.path.basename(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as handle:
            handle.write(text)
        os.chmod(target, mode)


def remove_stubs(root: str, stubs: dict) -> None:
    for path in stubs:
        target = in_root(root, os.path.dirname(path)) + "/" + os.path.basename(path)
        if os.path.lexists(target):
            os.unlink(target)


PYTHON_STUBS = {PY3COMPILE: (PY3COMPILE_STUB, 0o755), PY_COMPILE: (PY_COMPILE_STUB, 0o644)}
DIVERSIONS = ("var/lib/dpkg/diversions", "var/lib/dpkg/diversions-old")
SAVED_DIVERSIONS = ".vw-native/diversions.before"


def diversion_snapshot(root: str) -> dict:
    """dpkg's diversion files before the stubs are added (dpkg keeps the previous state in diversions-old)."""
    snapshot = {}
    for name in DIVERSIONS:
        try:
            with open(os.path.join(root, name), "rb") as handle:
                snapshot[name] = handle.read()
        except FileNotFoundError:
            snapshot[name] = None
    return snapshot


def saved_diversions(root: str) -> dict:
    """The snapshot the base build's essential hook saved in the rootfs before adding its diversions."""
    snapshot = {}
    for name in DIVERSIONS:
        try:
            with open(os.path.join(root, SAVED_DIVERSIONS, os.path.basename(name)), "rb") as handle:
                snapshot[name] = handle.read()
        except FileNotFoundError:
            snapshot[name] = None
    return snapshot


def restore_diversion_backup(root: str, snapshot: dict, stubs: dict) -> None:
    """After the stubs' diversions are removed, dpkg's backup (diversions-old) still lists them: put back what
    it held before, or, if the install changed the diversions meanwhile, drop the stubs' records from it."""
    current = diversion_snapshot(root)
    backup = os.path.join(root, DIVERSIONS[1])
    if current[DIVERSIONS[0]] == snapshot.get(DIVERSIONS[0]):
        data = snapshot.get(DIVERSIONS[1])
    else:
        lines = (current[DIVERSIONS[1]] or b"").decode().split("\n")
        records = [lines[i:i + 3] for i in range(0, len(lines) - 2, 3)]
        data = "".join("\n".join(r) + "\n" for r in records if r[0] not in stubs).encode()
    if data is None:
        if os.path.exists(backup):
            os.unlink(backup)
    elif data != current[DIVERSIONS[1]]:
        with open(backup, "wb") as handle:
            handle.write(data)


def python_cache_snapshot(root: str) -> dict:
    """The stub module's own pyc must not outlive the build: remember py_compile's cache files as they are."""
    snapshot = {}
    for target in (in_root(root, cache_file(PY_COMPILE, False)), in_root(root, cache_file(PY_COMPILE, True))):
        try:
            with open(target, "rb") as handle:
                snapshot[target] = handle.read()
        except OSError:
            snapshot[target] = None
    return snapshot


def restore_python_cache(snapshot: dict) -> None:
    for target, data in snapshot.items():
        try:
            with open(target, "rb") as handle:
                now = handle.read()
        except OSError:
            now = None
        if now == data:
            continue
        if data is None:
            os.unlink(target)
        else:
            with open(target, "wb") as handle:
                handle.write(data)


# --- byte-compilation replay -------------------------------------------------------------------------

def recorded_calls(root: str) -> list[list[str]]:
    try:
        with open(root + CALLS) as handle:
            return [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def _package_files(root: str, package: str, arch: str) -> list[str]:
    info = os.path.join(root, "var/lib/dpkg/info")
    name = package.split(":")[0]
    for candidate in ("%s:%s.list" % (name, arch), "%s.list" % name):
        try:
            with open(os.path.join(info, candidate)) as handle:
                return [line.rstrip("\n") for line in handle]
        except FileNotFoundError:
            continue
    raise WorldError("py3compile was asked for package %s, but %s has no file list for it" % (package, info))


def cache_file(path: str, optimize: bool) -> str:
    """importlib.util.cache_from_source for the image's python3.11, whatever python runs this tool."""
    directory, name = os.path.split(path)
    return os.path.join(directory, "__pycache__", "%s.%s%s.pyc" % (name[:-3], CACHE_TAG, ".opt-1" if optimize else ""))


def _up_to_date(root: str, path: str, optimize: bool) -> bool:
    """py3compile's check: a cache file whose header has the right magic and the source's mtime is kept."""
    cfile = cache_file(path, optimize)
    try:
        expect = struct.pack("<4sLL", MAGIC, 0, int(os.stat(in_root(root, path)).st_mtime) & 0xFFFFFFFF)
        with open(in_root(root, cfile), "rb") as handle:
            return handle.read(12) == expect
    except OSError:
        return False


def py3compile_jobs(root: str, arch: str, args: list[str]):
    """The files ``py3compile ARGS`` compiles (debpython 3.11's selection), or None for a form not replayed here."""
    package, directories, excludes, force, optimize = None, [], [], False, False
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-p", "--package") and rest:
            package = rest.pop(0)
        elif arg in ("-X", "--exclude") and rest:
            excludes.append(re.compile(rest.pop(0)))
        elif arg in ("-f", "--force"):
            force = True
        elif arg == "-O":
            optimize = True
        elif arg in ("-q", "--quiet", "-v", "--verbose"):
            continue
        elif not arg.startswith("-"):
            directories.append(arg)
        else:
            return None   # -V and anything newer: the image's own py3compile replays it
    bcep = os.path.join(root, "usr/share/python3/bcep")
    if package is None or (os.path.isdir(bcep) and any(not n.startswith(".") for n in os.listdir(bcep))):
        return None
    files = [f for f in _package_files(root, package, arch) if f.endswith(".py")]
    selected = []
    if directories:
        for directory in directories:
            prefix = directory.rstrip("/") + "/"
            if not os.path.exists(in_root(root, directory)):
                continue
            for path in files:
                if not path.startswith(directory):
                    continue
                relative = path[len(prefix):]
                if any(p.match(path) or p.match(relative) for p in excludes):
                    continue
                selected.append(path)
    else:
        version = TARGET_PYTHON[len("python"):]
        for path in files:
            match = PUBLIC_DIR.match(path)
            if match and match.group(1) in (version.split(".", maxsplit=1)[0], version):
                selected.append(path)
    return [(path, optimize) for path in selected if force or not _up_to_date(root, path, optimize)]


def _debian_version(status_file: str, package: str) -> str | None:
    try:
        with open(status_file) as handle:
            stanzas = handle.read().split("\n\n")
    except OSError:
        return None
    for stanza in stanzas:
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" "))
        if fields.get("Package") == package and fields.get("Status", "").endswith(" installed"):
            return fields.get("Version")
    return None


def image_python_version(root: str) -> str | None:
    return _debian_version(os.path.join(root, "var/lib/dpkg/status"), TARGET_PYTHON + "-minimal")


def compile_jobs(root: str, jobs, chroot_run, logfile: str, python: str | None = None) -> dict:
    """Compile (path, optimize) jobs with ``python`` (a native build of the image's python3.11) or, without one,
    with the image's own interpreter under qemu."""
    if not jobs:
        return {"compiled": 0, "failed": [], "where": "nothing to do"}
    if python is not None:
        result = subprocess.run([python, "-E", "-S", "-c", COMPILE_SCRIPT], input=json.dumps([root, jobs]), text=True,
                                capture_output=True, check=False, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
        where = "amd64 build of the image's %s, natively" % TARGET_PYTHON
    else:
        result = chroot_run(["/usr/bin/" + TARGET_PYTHON, "-E", "-S", "-c", COMPILE_SCRIPT], json.dumps(["", jobs]))
        where = "image's %s under qemu" % TARGET_PYTHON
    with open(logfile, "a") as out:
        out.write("\n# byte-compiled %d file(s) with the %s\n%s" % (len(jobs), where, result.stderr))
    if result.returncode != 0:
        raise WorldError("byte-compiling %d file(s) with the %s failed (%d): %s; see %s" % (
            len(jobs), where, result.returncode, result.stderr.strip()[-500:], logfile))
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    outcome["where"] = where
    if outcome["failed"]:
        with open(logfile, "a") as out:
            out.write("".join("# not compiled (as under Debian): %s\n" % m for m in outcome["failed"]))
    return outcome


def replay_python(root: str, arch: str, chroot_run, logfile: str, python: str | None = None) -> dict:
    """Byte-compile what the stubs recorded. Call after the stubs are gone and the real files are back."""
    jobs, emulated = [], []
    for call in recorded_calls(root):
        if call[0] == "py_compile":
            optimize = call[1] == "-O"
            jobs.extend((path, optimize) for path in call[2:] if path)
        elif call[0] == "py3compile":
            selected = py3compile_jobs(root, arch, call[1:])
            if selected is None:
                emulated.append(call[1:])
            else:
                jobs.extend(selected)
    seen, unique = set(), []
    for job in jobs:
        if job not in seen:
            seen.add(job)
            unique.append(tuple(job))
    outcome = compile_jobs(root, unique, chroot_run, logfile, python)
    for args in emulated:
        result = chroot_run([PY3COMPILE] + args, None)
        if result.returncode != 0:
            raise WorldError("py3compile %s failed in %s (%d): %s" % (" ".join(args), root, result.returncode, result.stderr.strip()))
    outcome["emulated_calls"] = len(emulated)
    return outcome
