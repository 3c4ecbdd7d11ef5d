# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consistent backups of a vaultwarden data directory: create, verify, list, prune, restore.

Runs on the managed host, which may be a Raspberry Pi Zero with a bare Python 3.8, so this file
uses the standard library only.

A backup is a directory ``<backup_dir>/<UTC YYYYmmddTHHMMSSZ>[.<n>][-<label>]/`` holding copies of
the data directory's files and a ``manifest.json`` that lists every file with its size and sha256.
Only directories whose manifest carries ``MANIFEST_FORMAT`` are ever treated as backups (listed,
pruned or restored from); anything else in ``backup_dir`` is left alone.

Backups hold the whole vault, so they are always 0600 files in 0700 directories, and the backup root is
tightened to 0700. Every path a manifest names is confined to its root after resolving symbolic links.
Housekeeping only ever deletes what this code created and can prove it created: backup directories
with our manifest, ``.pre-restore-*`` directories with our marker, and temporary directories whose
owner file names a process that is gone (or, without one, that are older than ``LEFTOVER_MAX_AGE``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import tempfile
import time

try:
    from urllib.request import pathname2url
except ImportError:  # pragma: no cover - Python 2 is not a supported target
    from urllib import pathname2url

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "homelab.vaultwarden.backup"
MANIFEST_VERSION = 1

DATABASES = ("sqlite", "mysql", "postgresql")
SQLITE_DEFAULT_NAME = "db.sqlite3"
SQLITE_SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")
CONFIG_NAME = "config.json"
RSA_KEY_PREFIX = "rsa_key"
TREE_NAMES = ("attachments", "sends")
ICON_CACHE_NAME = "icon_cache"
EXTRA_DIR = "extra"

TEMP_PREFIX = ".tmp-vaultwarden-backup-"
STAGING_PREFIX = ".restore-staging-"
PRE_RESTORE_PREFIX = ".pre-restore-"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
DEFAULT_DIR_MODE = 0o700
FILE_MODE = 0o600
OWNER_NAME = ".owner.json"
PRE_RESTORE_MARKER = ".homelab-vaultwarden-pre-restore.json"
PRE_RESTORE_FORMAT = "homelab.vaultwarden.pre-restore"
DEFAULT_PRE_RESTORE_RETENTION = 1
# A temporary directory without a readable owner file (written by an older version, or killed in the
# instant between removing the file and publishing) is only removed once no backup can still be filling it.
LEFTOVER_MAX_AGE = 24 * 3600
# Directories shared by every user: tightening them to 0700 would break the system, and anyone could race us there.
SHARED_DIRS = ("/", "/tmp", "/var/tmp", "/dev/shm", "/var", "/home", "/srv", "/opt", "/mnt", "/media")

_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_NAME_RE = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)(?:\.(?P<seq>\d+))?(?:-(?P<label>.+))?$")
_PRE_RESTORE_RE = re.compile(r"^\.pre-restore-\d{8}T\d{6}Z(?:\.\d+)?$")
_CHUNK = 1024 * 1024
_MAX_REPORTED_PROBLEMS = 10


class BackupError(ValueError):
    """A backup or restore was refused or failed; the message says what to do."""


_UTC = datetime.timezone.utc


def utc_now():
    return datetime.datetime.now(tz=_UTC)


# ---------------------------------------------------------------------------------------------
# Options


def parse_mode(value):
    """The ``mode`` option: only ``0700`` is accepted, written as an octal string or an int (YAML's 0700 is 448).

    Backups hold the whole vault (the database, config.json with the admin token, the token signing keys),
    so no group or other bit is ever allowed; the option stays only so that tasks passing '0700' keep working.
    """
    if isinstance(value, bool):
        raise BackupError("mode %r is not an octal permission; backups are always 0700 directories with 0600 files: "
                          "remove mode from the task (or set it to '0700')" % (value,))
    if isinstance(value, int):
        mode = value
    else:
        text = str(value).strip()
        if text.startswith("0o"):
            text = text[2:]
        try:
            mode = int(text, 8)
        except ValueError:
            raise BackupError("mode %r is not an octal permission; backups are always 0700 directories with 0600 files: "
                              "remove mode from the task (or set it to '0700')" % (value,))
    if mode < 0 or mode > 0o777:
        raise BackupError("mode %r is outside 0000-0777; backups are always 0700 directories with 0600 files: "
                          "remove mode from the task (or set it to '0700')" % (value,))
    if mode & 0o077:
        raise BackupError("mode %r (%04o) gives the group or others access to backups, which hold the whole vault "
                          "(database, config.json with the admin token, rsa_key*); backups are always 0700 directories "
                          "with 0600 files: remove mode from the task (or set it to '0700')" % (value, mode))
    if mode != 0o700:
        raise BackupError("mode %r (%04o) denies the owner rwx on backup directories, so backups could not be written or "
                          "read back; remove mode from the task (or set it to '0700')" % (value, mode))
    return mode


def file_mode_for(dir_mode):
    """Files get the directory mode without execute bits: 0700 -> 0600."""
    return dir_mode & 0o666


def validate_retention(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BackupError("%s %r must be 0 (keep every one) or a positive number to keep" % (name, value))
    return value


def validate_label(label):
    if label is None or label == "":
        return None
    if not _LABEL_RE.match(label):
        raise BackupError("label %r cannot be part of a directory name; use 1-64 characters from A-Z a-z 0-9 . _ + - "
                          "starting with a letter or digit, e.g. '1.32.0-to-1.35.1'" % (label,))
    return label


def validate_database(database):
    if database not in DATABASES:
        raise BackupError("database %r is not supported; use one of %s" % (database, ", ".join(DATABASES)))
    return database


# ---------------------------------------------------------------------------------------------
# Low-level file helpers


def _sha256_file(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def _copy_file(source, dest, mode):
    """Copy a regular file, hashing on the way; the copy is created exclusively with ``mode``."""
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as reader:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as writer:
            # umask must not widen or narrow what the caller asked for
            os.fchmod(writer.fileno(), mode)
            while True:
                chunk = reader.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
    return size, digest.hexdigest()


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mkdir(path, mode):
    os.mkdir(path, mode)
    os.chmod(path, mode)


def _stat_record(path):
    info = os.lstat(path)
    return {"mode": "%04o" % stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}


def _is_safe_relpath(relpath):
    if not relpath or not isinstance(relpath, str) or relpath.startswith("/") or "\\" in relpath or "\x00" in relpath:
        return False
    parts = relpath.split("/")
    return all(part not in ("", ".", "..") for part in parts)


def _join(root, relpath):
    return os.path.join(root, *relpath.split("/"))


def _lexists(path):
    return os.path.lexists(path)


def _remove_path(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif _lexists(path):
        os.unlink(path)


def _within(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _resolves_within(root, relpath):
    """The real path of ``root/relpath`` when it stays inside the real ``root``, else None.

    realpath, not abspath: a symbolic link anywhere on the way (even the last component) must not lead out.
    """
    real_root = os.path.realpath(root)
    real = os.path.realpath(_join(real_root, relpath))
    return real if _within(real, real_root) else None


def _existing_ancestor(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def free_bytes(path):
    """Bytes this process can still write on the filesystem of ``path`` (root may use the reserved blocks)."""
    info = os.statvfs(_existing_ancestor(path))
    blocks = info.f_bfree if os.geteuid() == 0 else info.f_bavail
    return blocks * info.f_frsize


def _is_disk_full(error):
    if isinstance(error, (OSError, IOError)):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(error, sqlite3.Error):
        # SQLITE_FULL is 13; Python < 3.11 has no sqlite_errorcode, only the message
        return getattr(error, "sqlite_errorcode", None) == 13 or "database or disk is full" in str(error)
    return False


def _no_space_message(what, where, needed, outcome):
    free = free_bytes(where)
    if free < needed:
        return "no space left on %s (%d bytes free, %s needs about %d); %s" % (where, free, what, needed, outcome)
    # the estimate fit, yet writing failed: the copy grew or something else filled the filesystem meanwhile
    return ("no space left on %s (%d bytes free now, %s needs about %d, but the filesystem ran full while it was "
            "written); %s" % (where, free, what, needed, outcome))


# ---------------------------------------------------------------------------------------------
# Who made a temporary directory, and is it still working in it


def _read_text(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (OSError, IOError):
        return None


def _boot_id():
    text = _read_text("/proc/sys/kernel/random/boot_id")
    return text.strip() if text else None


def _start_ticks(pid):
    """Start time of ``pid`` since boot (Linux): tells a live owner from a new process that reuses its pid."""
    text = _read_text("/proc/%d/stat" % pid)
    if not text:
        return None
    try:
        return int(text.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def owner_record():
    pid = os.getpid()
    return {"pid": pid, "host": socket.gethostname(), "boot_id": _boot_id(), "start_ticks": _start_ticks(pid),
            "started_at": time.time()}


def _write_owner(directory):
    fd = os.open(os.path.join(directory, OWNER_NAME), os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        json.dump(owner_record(), handle)


def _process_state(pid, start_ticks):
    try:
        os.kill(pid, 0)
    except OSError as error:
        if error.errno == errno.ESRCH:
            return "dead"
        if error.errno != errno.EPERM:   # EPERM: it exists, owned by someone else
            return "unknown"
    current = _start_ticks(pid)
    if start_ticks is not None and current is not None and current != start_ticks:
        return "dead"   # the pid was reused
    return "alive"


def leftover_state(path, now=None):
    """Judge a temporary directory: ('alive' | 'dead' | 'stale' | 'young', why)."""
    now = time.time() if now is None else now
    owner = None
    text = _read_text(os.path.join(path, OWNER_NAME))
    if text:
        try:
            owner = json.loads(text)
        except ValueError:
            owner = None
    if isinstance(owner, dict) and isinstance(owner.get("pid"), int) and owner.get("host") == socket.gethostname():
        mine = _boot_id()
        if owner.get("boot_id") and mine and owner["boot_id"] != mine:
            return "dead", "its process %d ran before the host rebooted" % owner["pid"]
        state = _process_state(owner["pid"], owner.get("start_ticks"))
        if state == "dead":
            return "dead", "its process %d is gone" % owner["pid"]
        if state == "alive":
            return "alive", "its process %d is still running" % owner["pid"]
    touched = [os.path.join(path, name) for name in (".", OWNER_NAME)]
    try:
        age = now - max(os.lstat(entry).st_mtime for entry in touched if _lexists(entry))
    except (OSError, ValueError):
        age = 0
    where = "another host (%s)" % owner.get("host") if isinstance(owner, dict) and owner.get("host") else "an unknown process"
    if age > LEFTOVER_MAX_AGE:
        return "stale", "made by %s and untouched for %d s" % (where, age)
    return "young", "made by %s %d s ago; it may still be running" % (where, age)


def find_leftovers(directory, prefix, now=None):
    """Our temporary directories in ``directory`` (names starting with ``prefix``), each judged."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not name.startswith(prefix) or os.path.islink(path) or not os.path.isdir(path):
            continue
        state, why = leftover_state(path, now)
        found.append({"path": path, "state": state, "reason": why, "removable": state in ("dead", "stale")})
    return found


def clean_leftovers(directory, prefix, check_mode=False, now=None):
    """Remove the temporary directories of runs that are gone. Returns (removed, kept) lists of dicts."""
    removed = []
    kept = []
    for entry in find_leftovers(directory, prefix, now):
        if not entry["removable"]:
            kept.append(entry)
            continue
        if not check_mode:
            try:
                shutil.rmtree(entry["path"])
            except OSError as error:
                entry["reason"] += "; removing it failed: %s" % error
                kept.append(entry)
                continue
        removed.append(entry)
    return removed, kept


# ---------------------------------------------------------------------------------------------
# What to back up


class _Item(object):
    """One top-level thing to back up: a file or a directory tree."""

    def __init__(self, kind, source, name, restore_to):
        self.kind = kind              # database | config | rsa_key | attachments | sends | icon_cache | extra
        self.source = source          # absolute path on the host
        self.name = name              # path inside the backup, '/'-separated
        self.restore_to = restore_to  # path relative to data_dir, None when not restored into data_dir

    def as_dict(self):
        return {"kind": self.kind, "source": self.source, "path": self.name}


def default_sqlite_path(data_dir):
    return os.path.join(data_dir, SQLITE_DEFAULT_NAME)


def plan_backup(data_dir, database="sqlite", sqlite_path=None, extra_files=None, include_icon_cache=False):
    """Decide what a backup of ``data_dir`` holds. Returns (items, missing, sqlite_relative)."""
    validate_database(database)
    data_dir = os.path.abspath(data_dir)
    items = []
    missing = []
    sqlite_relative = None

    if database == "sqlite":
        db_path = os.path.abspath(sqlite_path) if sqlite_path else default_sqlite_path(data_dir)
        relative = os.path.relpath(db_path, data_dir)
        sqlite_relative = relative.replace(os.sep, "/") if not relative.startswith("..") else None
        if os.path.isfile(db_path):
            items.append(_Item("database", db_path, os.path.basename(db_path), sqlite_relative or SQLITE_DEFAULT_NAME))
        else:
            missing.append(db_path if sqlite_path else SQLITE_DEFAULT_NAME)

    config_path = os.path.join(data_dir, CONFIG_NAME)
    if os.path.isfile(config_path):
        items.append(_Item("config", config_path, CONFIG_NAME, CONFIG_NAME))
    else:
        missing.append(CONFIG_NAME)

    rsa_names = []
    if os.path.isdir(data_dir):
        rsa_names = sorted(name for name in os.listdir(data_dir)
                           if name.startswith(RSA_KEY_PREFIX) and os.path.isfile(os.path.join(data_dir, name)))
    for name in rsa_names:
        items.append(_Item("rsa_key", os.path.join(data_dir, name), name, name))
    if not rsa_names:
        missing.append(RSA_KEY_PREFIX + "*")

    tree_names = list(TREE_NAMES) + ([ICON_CACHE_NAME] if include_icon_cache else [])
    for name in tree_names:
        path = os.path.join(data_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            items.append(_Item(name, path, name, name))
        else:
            missing.append(name + "/")

    seen_extra = {}
    for extra in extra_files or []:
        path = os.path.abspath(extra)
        if not _lexists(path):
            raise BackupError("extra file %r does not exist; create it before the backup (e.g. the database dump) "
                              "or remove it from extra_files" % (extra,))
        base = os.path.basename(path.rstrip(os.sep))
        if base in seen_extra:
            raise BackupError("extra files %r and %r share the name %r inside the backup; rename one of them"
                              % (seen_extra[base], extra, base))
        seen_extra[base] = extra
        items.append(_Item("extra", path, EXTRA_DIR + "/" + base, None))
    return items, missing, sqlite_relative


def _has_content(items):
    """A fresh install has empty directories at most; only real files make a backup worth taking."""
    for item in items:
        if os.path.isdir(item.source):
            for _root, _dirs, files in os.walk(item.source):
                if files:
                    return True
        else:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# SQLite


def _sqlite_readonly_uri(path):
    return "file:%s?mode=ro" % pathname2url(os.path.abspath(path))


def _open_sqlite_source(path):
    """Open the live database read-only: the server may be writing; we must never write to it."""
    try:
        connection = sqlite3.connect(_sqlite_readonly_uri(path), uri=True, timeout=60)
        connection.execute("PRAGMA schema_version").fetchone()
        return connection
    except sqlite3.DatabaseError as error:
        raise BackupError("cannot open SQLite database %s read-only (%s); check that it is a vaultwarden database "
                          "and readable by the backup user" % (path, error))


def _match_owner(created, reference):
    """Sidecars a read-only connection had to create must stay usable by the server's user."""
    try:
        info = os.stat(reference)
    except OSError:
        return
    for path in created:
        try:
            if os.geteuid() == 0:
                os.chown(path, info.st_uid, info.st_gid)
            os.chmod(path, stat.S_IMODE(info.st_mode))
        except OSError:
            pass


def snapshot_sqlite(source, dest):
    """Consistent online copy of ``source`` into the new file ``dest`` and its verification.

    The sqlite3 backup API copies every page inside one read transaction (pages=-1), so the copy is
    one consistent snapshot, WAL content included, while the server keeps writing (WAL mode) or
    waits on its busy timeout for the copy to finish (rollback journal mode).
    """
    sidecars = [source + suffix for suffix in ("-wal", "-shm")]
    preexisting = set(path for path in sidecars if _lexists(path))
    src = _open_sqlite_source(source)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst, pages=-1)
            integrity = [row[0] for row in dst.execute("PRAGMA integrity_check")]
            info = {
                "page_count": dst.execute("PRAGMA page_count").fetchone()[0],
                "page_size": dst.execute("PRAGMA page_size").fetchone()[0],
                "journal_mode": dst.execute("PRAGMA journal_mode").fetchone()[0],
                "integrity_check": "ok" if integrity == ["ok"] else "; ".join(integrity[:5]),
                "schema_version": _diesel_schema_version(dst),
            }
        finally:
            dst.close()
    except sqlite3.DatabaseError as error:
        if _is_disk_full(error):
            # the destination is full: the source is fine, and the caller names the filesystem and the sizes
            raise OSError(errno.ENOSPC, "writing the SQLite copy failed: %s" % error, dest)
        raise BackupError("SQLite backup of %s failed (%s); check that the file is a healthy vaultwarden database" % (source, error))
    finally:
        src.close()
        _match_owner([path for path in sidecars if path not in preexisting and _lexists(path)], source)
    if info["integrity_check"] != "ok":
        raise BackupError("the SQLite copy of %s failed PRAGMA integrity_check (%s); the source database is damaged: "
                          "repair it (sqlite3 .recover) or restore an earlier backup" % (source, info["integrity_check"]))
    return info


def _diesel_schema_version(connection):
    """Newest migration vaultwarden applied: tells which server versions can open this database."""
    try:
        row = connection.execute("SELECT max(version) FROM __diesel_schema_migrations").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


# ---------------------------------------------------------------------------------------------
# Creating a backup


def _copy_tree(source_root, dest_root, name, kind, file_mode, dir_mode, files, directories, warnings):
    for current, dirnames, filenames in os.walk(source_root):
        dirnames.sort()
        relative_dir = os.path.relpath(current, source_root)
        prefix = name if relative_dir == "." else name + "/" + relative_dir.replace(os.sep, "/")
        _mkdir(_join(dest_root, prefix), dir_mode)
        record = {"path": prefix, "kind": kind}
        record.update(_stat_record(current))
        directories.append(record)
        for dirname in list(dirnames):
            if os.path.islink(os.path.join(current, dirname)):
                dirnames.remove(dirname)
                warnings.append("skipped symbolic link %s" % os.path.join(current, dirname))
        for filename in sorted(filenames):
            _copy_one(os.path.join(current, filename), dest_root, prefix + "/" + filename, kind, file_mode, files, warnings)


def _copy_one(source, dest_root, relpath, kind, file_mode, files, warnings):
    info = os.lstat(source)
    if not stat.S_ISREG(info.st_mode):
        warnings.append("skipped %s: not a regular file" % source)
        return
    size, digest = _copy_file(source, _join(dest_root, relpath), file_mode)
    record = {"path": relpath, "kind": kind, "size": size, "sha256": digest, "mtime": info.st_mtime}
    record.update(_stat_record(source))
    files.append(record)


def _backup_name(stamp, sequence, label):
    name = stamp if sequence < 2 else "%s.%d" % (stamp, sequence)
    return name + "-" + label if label else name


def check_backup_dir(data_dir, backup_dir):
    """Refuse a backup root inside the data directory (through symbolic links too) or a directory shared by everyone."""
    real_data = os.path.realpath(data_dir)
    real_backup = os.path.realpath(backup_dir)
    if _within(real_backup, real_data):
        via = "" if (real_data, real_backup) == (data_dir, backup_dir) else " (%s, resolving symbolic links)" % real_backup
        raise BackupError("backup_dir %s is inside data_dir %s%s, so every backup would contain the previous ones and the "
                          "server's container would see them; put backups beside the data directory, e.g. %s"
                          % (backup_dir, data_dir, via, data_dir.rstrip(os.sep) + "-backups"))
    if real_backup in SHARED_DIRS:
        raise BackupError("backup_dir %s is a directory shared by other users and programs; backups must live in a "
                          "directory of their own that is tightened to 0700: use a subdirectory such as %s"
                          % (backup_dir, os.path.join(backup_dir, "vaultwarden-backups")))


def _tighten(path, mode, check_mode):
    """Narrow ``path`` to exactly ``mode``; returns the mode it had when that was different, else None."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return None
    before = stat.S_IMODE(info.st_mode)
    if before == mode:
        return None
    if not check_mode:
        os.chmod(path, mode)
    return before


def tighten_backups(backup_dir, check_mode=False):
    """The backup root and every backup in it (ours only) to 0700 directories and 0600 files.

    Backups taken by earlier versions with a wider ``mode`` are narrowed too. Returns (tightened paths, warnings).
    """
    tightened = []
    warnings = []
    if not os.path.isdir(backup_dir):
        return tightened, warnings
    before = _tighten(backup_dir, DEFAULT_DIR_MODE, check_mode)
    if before is not None:
        tightened.append(backup_dir)
        warnings.append("backup_dir %s had mode %04o; %s to 0700 because backups hold the whole vault"
                        % (backup_dir, before, "it would be tightened" if check_mode else "tightened it"))
    owner = os.stat(backup_dir).st_uid
    if owner != os.geteuid():
        warnings.append("backup_dir %s belongs to uid %d, not to the user taking the backups (uid %d); that user can read "
                        "every backup: chown it to uid %d" % (backup_dir, owner, os.geteuid(), os.geteuid()))
    for entry in list_backups(backup_dir):
        narrowed = False
        for current, _dirnames, filenames in os.walk(entry["path"]):
            if _tighten(current, DEFAULT_DIR_MODE, check_mode) is not None:
                narrowed = True
            for name in filenames:
                path = os.path.join(current, name)
                if os.path.isfile(path) and not os.path.islink(path) and _tighten(path, FILE_MODE, check_mode) is not None:
                    narrowed = True
        if narrowed:
            tightened.append(entry["path"])
    return tightened, warnings


def _housekeeping(result, backup_dir, data_dir, pre_restore_retention, check_mode):
    """Tighten the backups, remove the leftovers of killed runs, keep few pre-restore copies; fills ``result``."""
    tightened, warnings = tighten_backups(backup_dir, check_mode)
    result["tightened"] = tightened
    result["warnings"].extend(warnings)
    removed, kept = clean_leftovers(backup_dir, TEMP_PREFIX, check_mode)
    staging_removed, staging_kept = clean_leftovers(data_dir, STAGING_PREFIX, check_mode)
    result["leftovers_removed"] = [entry["path"] for entry in removed + staging_removed]
    for entry in removed + staging_removed:
        result["warnings"].append("%s %s left over from an interrupted run (%s)"
                                  % (entry["path"], "would be removed:" if check_mode else "removed:", entry["reason"]))
    for entry in kept + staging_kept:
        result["warnings"].append(_kept_warning(entry))
    pruned, unmarked = prune_pre_restore(data_dir, pre_restore_retention, check_mode)
    result["pre_restore_pruned"] = pruned
    for path in unmarked:
        result["warnings"].append("%s looks like a pre-restore copy but carries no %s marker (an earlier version or someone "
                                  "else made it), so it is never removed automatically; it holds a copy of the vault: "
                                  "delete it once you no longer need it" % (path, PRE_RESTORE_MARKER))
    return bool(tightened or result["leftovers_removed"] or pruned)


def _kept_warning(entry):
    if entry["state"] == "alive":
        later = "a later run removes it once that process is gone"
    elif entry["state"] == "young":
        later = "a later run removes it once it is %d s old" % LEFTOVER_MAX_AGE
    else:
        later = "remove it by hand once no backup or restore is running"
    return "%s is a temporary directory of another run, kept because %s; %s" % (entry["path"], entry["reason"], later)


def _estimate_size(items):
    """Bytes a backup of ``items`` takes, from the sources (the SQLite copy is about the size of the main file)."""
    total = 0
    for item in items:
        if os.path.isdir(item.source) and not os.path.islink(item.source):
            for current, _dirnames, filenames in os.walk(item.source):
                for name in filenames:
                    try:
                        total += os.lstat(os.path.join(current, name)).st_size
                    except OSError:
                        pass
        else:
            try:
                total += os.lstat(item.source).st_size
            except OSError:
                pass
    return total


def create_backup(data_dir, backup_dir, label=None, database="sqlite", sqlite_path=None, extra_files=None,
                  include_icon_cache=False, retention=5, mode=DEFAULT_DIR_MODE, check_mode=False, now=None,
                  move_extra_files=False, pre_restore_retention=DEFAULT_PRE_RESTORE_RETENTION):
    """Take a backup of ``data_dir`` into a new directory under ``backup_dir``, then apply retention.

    Returns a dict: changed, backup_path, manifest, pruned, missing, tightened, leftovers_removed,
    pre_restore_pruned, extra_files_removed, warnings, msg.
    """
    label = validate_label(label)
    dir_mode = parse_mode(mode)
    validate_retention("retention", retention)
    validate_retention("pre_restore_retention", pre_restore_retention)
    data_dir = os.path.abspath(data_dir)
    backup_dir = os.path.abspath(backup_dir)
    check_backup_dir(data_dir, backup_dir)
    items, missing, sqlite_relative = plan_backup(data_dir, database, sqlite_path, extra_files, include_icon_cache)
    if move_extra_files:
        _check_movable(items, data_dir, backup_dir)
    result = {"changed": False, "backup_path": None, "manifest": None, "pruned": [], "missing": missing,
              "extra_files_removed": [], "warnings": []}
    housekept = _housekeeping(result, backup_dir, data_dir, pre_restore_retention, check_mode)
    if not _has_content(items):
        result["changed"] = housekept
        result["msg"] = "nothing to back up in %s (fresh install?): none of the vaultwarden files exist yet" % data_dir
        return result

    now = now or utc_now()
    needed = _estimate_size(items)
    free = free_bytes(backup_dir)
    if free < needed:
        raise BackupError(_no_space_message("backup", backup_dir, needed,
                                            "free space there, lower retention or set backup_dir to a larger disk; "
                                            "no backup was started"))
    if check_mode:
        name = _backup_name(now.strftime(STAMP_FORMAT), 1, label)
        result.update(changed=True, planned=[item.as_dict() for item in items],
                      pruned=prune_backups(backup_dir, retention, data_dir=data_dir, check_mode=True, pending_new=1),
                      extra_files_removed=[item.source for item in items if item.kind == "extra"] if move_extra_files else [],
                      msg="would back up %d item(s) of %s into %s" % (len(items), data_dir, os.path.join(backup_dir, name)))
        return result

    file_mode = file_mode_for(dir_mode)
    if not os.path.isdir(backup_dir):
        os.makedirs(backup_dir, dir_mode)
        os.chmod(backup_dir, dir_mode)
    temp_dir = None
    try:
        temp_dir = tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=backup_dir)
        os.chmod(temp_dir, dir_mode)
        _write_owner(temp_dir)
        manifest = _fill_backup(temp_dir, items, data_dir, database, sqlite_relative, label, now, file_mode, dir_mode, result["warnings"])
        manifest["missing"] = missing
        _write_manifest(temp_dir, manifest, file_mode)
        os.unlink(os.path.join(temp_dir, OWNER_NAME))
        final = _publish(temp_dir, backup_dir, now.strftime(STAMP_FORMAT), label)
    except BaseException as error:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
        if _is_disk_full(error):
            raise BackupError(_no_space_message("backup", backup_dir, needed,
                                                "free space there, lower retention or set backup_dir to a larger disk; "
                                                "the temporary backup directory was removed (%s)" % error))
        raise
    if move_extra_files:
        result["extra_files_removed"] = _remove_extra_sources(items, manifest, result["warnings"])
    result.update(changed=True, backup_path=final, manifest=manifest,
                  pruned=prune_backups(backup_dir, retention, data_dir=data_dir),
                  msg="backed up %d file(s), %d byte(s) of %s into %s"
                  % (len(manifest["files"]), manifest["total_size"], data_dir, final))
    return result


def _check_movable(items, data_dir, backup_dir):
    """move_extra_files deletes the sources: never one of vaultwarden's own files or a backup."""
    for item in items:
        if item.kind != "extra":
            continue
        real = os.path.realpath(item.source)
        for root, name in ((data_dir, "data_dir"), (backup_dir, "backup_dir")):
            if _within(real, os.path.realpath(root)):
                raise BackupError("extra file %s is inside %s %s, and move_extra_files would delete it after the backup; "
                                  "dump the database outside %s (e.g. a dumps directory beside it) or set "
                                  "move_extra_files to false" % (item.source, name, root, name))


def _tree_signature(path):
    """(relative path, size, mtime) of every regular file under ``path``: what was copied, if nothing changed since."""
    def entry(full, relative):
        info = os.lstat(full)
        if stat.S_ISREG(info.st_mode):
            return (relative, info.st_size, info.st_mtime)
        return (relative, -1, -1.0)   # never copied, so it never matches: such a tree is not deleted

    if not os.path.isdir(path) or os.path.islink(path):
        return [entry(path, "")]
    signature = []
    for current, dirnames, filenames in os.walk(path):
        for name in list(dirnames):
            if os.path.islink(os.path.join(current, name)):
                dirnames.remove(name)
                filenames.append(name)
        for name in filenames:
            full = os.path.join(current, name)
            signature.append(entry(full, os.path.relpath(full, path).replace(os.sep, "/")))
    return sorted(signature)


def _remove_extra_sources(items, manifest, warnings):
    """Delete the extra files that are now safely in the backup, unless they changed after they were copied."""
    removed = []
    records = [record for record in manifest["files"] if record.get("kind") == "extra"]
    for item in items:
        if item.kind != "extra":
            continue
        copied = sorted((record["path"][len(item.name):].lstrip("/"), record["size"], record["mtime"])
                        for record in records if record["path"] == item.name or record["path"].startswith(item.name + "/"))
        try:
            current = _tree_signature(item.source)
        except OSError as error:
            warnings.append("extra file %s was not removed after the backup: %s" % (item.source, error))
            continue
        if current != copied:
            warnings.append("extra file %s changed while it was backed up (or holds something that is not a regular file), "
                            "so it was not removed; delete it yourself once you no longer need it" % item.source)
            continue
        try:
            _remove_path(item.source)
        except OSError as error:
            warnings.append("extra file %s is in the backup but removing it failed: %s; delete it yourself" % (item.source, error))
            continue
        removed.append(item.source)
    return removed


def _fill_backup(temp_dir, items, data_dir, database, sqlite_relative, label, now, file_mode, dir_mode, warnings):
    files = []
    directories = []
    sqlite_info = None
    if any(item.kind == "extra" for item in items):
        _mkdir(os.path.join(temp_dir, EXTRA_DIR), dir_mode)
    for item in items:
        if item.kind == "database":
            dest = _join(temp_dir, item.name)
            sqlite_info = snapshot_sqlite(item.source, dest)
            os.chmod(dest, file_mode)
            size, digest = _sha256_file(dest)
            record = {"path": item.name, "kind": "database", "size": size, "sha256": digest}
            record.update(_stat_record(item.source))
            files.append(record)
            sqlite_info.update(file=item.name, source=item.source, relative_path=sqlite_relative)
        elif os.path.isdir(item.source) and not os.path.islink(item.source):
            _copy_tree(item.source, temp_dir, item.name, item.kind, file_mode, dir_mode, files, directories, warnings)
        else:
            _copy_one(item.source, temp_dir, item.name, item.kind, file_mode, files, warnings)
    extras = [{"source": item.source, "path": item.name} for item in items if item.kind == "extra"]
    return {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "label": label,
        "data_dir": data_dir,
        "data_dir_stat": _stat_record(data_dir),
        "database": database,
        "sqlite": sqlite_info,
        "extra_files": extras,
        "files": files,
        "directories": directories,
        "total_size": sum(record["size"] for record in files),
    }


def _write_manifest(directory, manifest, file_mode):
    path = os.path.join(directory, MANIFEST_NAME)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), file_mode)
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_dir(directory)


def _publish(temp_dir, backup_dir, stamp, label):
    """Rename the finished temporary directory to its final, unique name (rename is atomic)."""
    for sequence in range(1, 1000):
        final = os.path.join(backup_dir, _backup_name(stamp, sequence, label))
        if _lexists(final):
            continue
        try:
            os.rename(temp_dir, final)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue
            raise
        _fsync_dir(backup_dir)
        return final
    raise BackupError("more than 999 backups named %s* exist in %s; remove old ones or use a label" % (stamp, backup_dir))


# ---------------------------------------------------------------------------------------------
# Listing and retention


def read_manifest(backup_path):
    """The manifest of a backup directory, or None when the directory is not one of ours."""
    if os.path.islink(backup_path) or not os.path.isdir(backup_path):
        return None
    path = os.path.join(backup_path, MANIFEST_NAME)
    try:
        with open(path, "r") as handle:
            manifest = json.load(handle)
    except (OSError, IOError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return None
    if not isinstance(manifest.get("format_version"), int) or not isinstance(manifest.get("files"), list):
        return None
    return manifest


def _sort_key(entry):
    match = _NAME_RE.match(entry["name"])
    sequence = int(match.group("seq") or 1) if match else 0
    return (str(entry["manifest"].get("created_at") or ""), sequence, entry["name"])


def list_backups(backup_dir, data_dir=None):
    """Our backups in ``backup_dir``, newest first; with ``data_dir`` only those taken from it."""
    backup_dir = os.path.abspath(backup_dir)
    if not os.path.isdir(backup_dir):
        return []
    wanted = os.path.abspath(data_dir) if data_dir else None
    entries = []
    for name in os.listdir(backup_dir):
        if name.startswith("."):
            continue
        path = os.path.join(backup_dir, name)
        manifest = read_manifest(path)
        if manifest is None:
            continue
        if wanted is not None and manifest.get("data_dir") != wanted:
            continue
        entries.append({"name": name, "path": path, "created_at": manifest.get("created_at"),
                        "label": manifest.get("label"), "data_dir": manifest.get("data_dir"),
                        "database": manifest.get("database"), "total_size": manifest.get("total_size"),
                        "manifest": manifest})
    entries.sort(key=_sort_key, reverse=True)
    return entries


def prune_backups(backup_dir, retention, data_dir=None, check_mode=False, pending_new=0):
    """Delete all but the ``retention`` newest backups of ``data_dir``; 0 keeps everything.

    Only directories carrying our manifest (and taken from the same data_dir) are candidates.
    ``pending_new`` counts backups about to be created (check mode) against the limit.
    """
    if not retention:
        return []
    keep = max(retention - pending_new, 0)
    doomed = [entry["path"] for entry in list_backups(backup_dir, data_dir)[keep:]]
    if not check_mode:
        for path in doomed:
            # checked again right before deleting: never remove anything that is not ours
            if read_manifest(path) is not None:
                shutil.rmtree(path)
    return doomed


def _read_marker(path):
    if os.path.islink(path) or not os.path.isdir(path):
        return None
    text = _read_text(os.path.join(path, PRE_RESTORE_MARKER))
    try:
        marker = json.loads(text) if text else None
    except ValueError:
        return None
    return marker if isinstance(marker, dict) and marker.get("format") == PRE_RESTORE_FORMAT else None


def list_pre_restore(data_dir):
    """``.pre-restore-*`` directories in ``data_dir``, newest first; ``ours`` when our marker is inside."""
    if not data_dir or not os.path.isdir(data_dir):
        return []
    entries = []
    for name in os.listdir(data_dir):
        path = os.path.join(data_dir, name)
        if not _PRE_RESTORE_RE.match(name) or os.path.islink(path) or not os.path.isdir(path):
            continue
        marker = _read_marker(path)
        entries.append({"path": path, "name": name, "ours": marker is not None,
                        "created_at": str(marker.get("created_at") or "") if marker else "",
                        "backup_path": marker.get("backup_path") if marker else None})

    def key(entry):
        # .pre-restore-<stamp>.<n>: the sequence orders copies made within one second
        stamp, _dot, sequence = entry["name"][len(PRE_RESTORE_PREFIX):].partition(".")
        return (entry["created_at"], stamp, int(sequence or 1))

    entries.sort(key=key, reverse=True)
    return entries


def prune_pre_restore(data_dir, retention, check_mode=False, pending_new=0):
    """Keep the ``retention`` newest pre-restore copies we made (0 keeps all). Returns (pruned, unmarked).

    ``pending_new`` counts copies about to be made (check mode) against the limit.
    """
    entries = list_pre_restore(data_dir)
    ours = [entry for entry in entries if entry["ours"]]
    unmarked = [entry["path"] for entry in entries if not entry["ours"]]
    doomed = [entry["path"] for entry in ours[max(retention - pending_new, 0):]] if retention else []
    if not check_mode:
        for path in doomed:
            # checked again right before deleting: never remove anything that is not ours
            if _read_marker(path) is not None:
                shutil.rmtree(path)
    return doomed, unmarked


# ---------------------------------------------------------------------------------------------
# Verification


def verify_backup(backup_path):
    """Check every file of a backup against its manifest; return the manifest or raise BackupError."""
    backup_path = os.path.abspath(backup_path)
    manifest = read_manifest(backup_path)
    if manifest is None:
        raise BackupError("%s is not a homelab.vaultwarden backup (no readable %s with format %r); "
                          "pick one listed by homelab.vaultwarden.vaultwarden_backup_info" % (backup_path, MANIFEST_NAME, MANIFEST_FORMAT))
    if manifest["format_version"] > MANIFEST_VERSION:
        raise BackupError("backup %s has manifest format_version %s, newer than this collection reads (%d); "
                          "upgrade homelab.vaultwarden to restore it" % (backup_path, manifest["format_version"], MANIFEST_VERSION))
    problems = []
    directories = manifest.get("directories") or []
    if not isinstance(directories, list):
        problems.append("directories is %r, not a list" % (directories,))
        directories = []
    for record in directories:
        relpath = record.get("path") if isinstance(record, dict) else None
        if not _is_safe_relpath(relpath):
            problems.append("unsafe directory path %r in the manifest" % (relpath,))
        elif _resolves_within(backup_path, relpath) is None:
            problems.append("directory path %r leads outside the backup through a symbolic link" % (relpath,))
        elif not os.path.isdir(_join(backup_path, relpath)) or os.path.islink(_join(backup_path, relpath)):
            problems.append("%s/: directory missing" % relpath)
    listed = set()
    for record in manifest["files"]:
        relpath = record.get("path") if isinstance(record, dict) else None
        if not _is_safe_relpath(relpath) or relpath == MANIFEST_NAME:
            problems.append("unsafe file path %r in the manifest" % (relpath,))
            continue
        if _resolves_within(backup_path, relpath) is None:
            problems.append("file path %r leads outside the backup through a symbolic link" % (relpath,))
            continue
        listed.add(relpath)
        path = _join(backup_path, relpath)
        if os.path.islink(path) or not os.path.isfile(path):
            problems.append("%s: missing" % relpath)
            continue
        try:
            size, digest = _sha256_file(path)
        except (OSError, IOError) as error:
            problems.append("%s: unreadable (%s)" % (relpath, error))
            continue
        if size != record.get("size"):
            problems.append("%s: size %d, manifest says %s" % (relpath, size, record.get("size")))
        elif digest != record.get("sha256"):
            problems.append("%s: sha256 differs from the manifest" % relpath)
    problems.extend(_manifest_reference_problems(backup_path, manifest, listed))
    if problems:
        shown = problems[:_MAX_REPORTED_PROBLEMS]
        more = len(problems) - len(shown)
        raise BackupError("backup %s is corrupt, refusing to restore it: %s%s; "
                          "restore an older backup (homelab.vaultwarden.vaultwarden_backup_info lists them)"
                          % (backup_path, "; ".join(shown), " (and %d more)" % more if more else ""))
    return manifest


def _manifest_reference_problems(backup_path, manifest, listed):
    """The manifest's other paths: the SQLite copy and the extra files must be files the manifest lists."""
    problems = []
    sqlite_info = manifest.get("sqlite")
    if sqlite_info is not None:
        if not isinstance(sqlite_info, dict):
            problems.append("sqlite is %r, not a mapping" % (sqlite_info,))
        else:
            if sqlite_info.get("file") not in listed:
                problems.append("sqlite.file %r is not a file of the backup" % (sqlite_info.get("file"),))
            relative = sqlite_info.get("relative_path")
            if relative is not None and not _is_safe_relpath(relative):
                problems.append("unsafe sqlite.relative_path %r in the manifest" % (relative,))
    extras = manifest.get("extra_files") or []
    if not isinstance(extras, list):
        return problems + ["extra_files is %r, not a list" % (extras,)]
    for extra in extras:
        relpath = extra.get("path") if isinstance(extra, dict) else None
        if not _is_safe_relpath(relpath) or not relpath.startswith(EXTRA_DIR + "/"):
            problems.append("unsafe extra file path %r in the manifest" % (relpath,))
        elif _resolves_within(backup_path, relpath) is None:
            problems.append("extra file path %r leads outside the backup through a symbolic link" % (relpath,))
    return problems


# ---------------------------------------------------------------------------------------------
# Restore


class _Unit(object):
    """One top-level path of the data directory that a restore replaces as a whole."""

    def __init__(self, target, relpath_in_backup, kind):
        self.target = target                    # absolute path in the data directory (or the sqlite path)
        self.source = relpath_in_backup         # top-level path inside the backup, None = must not exist afterwards
        self.kind = kind


def _restore_units(manifest, data_dir, sqlite_path):
    """Every path the restore owns: what the backup has, plus what it lacks but a newer data_dir may hold."""
    tops = {}
    for record in manifest["files"] + (manifest.get("directories") or []):
        if record.get("kind") == "extra":
            continue
        top = record["path"].split("/", 1)[0]
        tops.setdefault(top, record.get("kind"))
    units = []
    confined = []   # (what, path relative to data_dir)
    sqlite_info = manifest.get("sqlite")
    if sqlite_info or manifest.get("database") == "sqlite":
        relative = (sqlite_info or {}).get("relative_path") or SQLITE_DEFAULT_NAME
        db_target = os.path.abspath(sqlite_path) if sqlite_path else _join(data_dir, relative)
        db_source = sqlite_info["file"] if sqlite_info else None
        units.append(_Unit(db_target, db_source, "database"))
        for suffix in SQLITE_SIDECAR_SUFFIXES:
            units.append(_Unit(db_target + suffix, None, "database"))
        if not sqlite_path:   # sqlite_path is the caller's own choice, wherever it is
            confined.extend(("sqlite.relative_path %r" % relative, relative + suffix) for suffix in ("",) + SQLITE_SIDECAR_SUFFIXES)
        tops.pop(db_source, None)
    names = set(tops)
    names.update([CONFIG_NAME] + list(TREE_NAMES))
    if os.path.isdir(data_dir):
        names.update(name for name in os.listdir(data_dir) if name.startswith(RSA_KEY_PREFIX))
    for name in sorted(names):
        units.append(_Unit(os.path.join(data_dir, name), name if name in tops else None, tops.get(name, "other")))
        confined.append(("path %r" % name, name))
    for what, relative in confined:
        if _resolves_within(data_dir, relative) is None:
            raise BackupError("refusing to restore: %s of the backup resolves to %s, outside data_dir %s (through a symbolic "
                              "link or '..'), and a restore only writes inside data_dir; replace the link by the real file "
                              "or directory (or pass sqlite_path for the database) and run again; nothing was changed"
                              % (what, os.path.realpath(_join(data_dir, relative)), data_dir))
    return units


def _tree_digest(path):
    """Content fingerprint of a file or directory tree: relative paths and sha256 of every file."""
    if os.path.islink(path) or not _lexists(path):
        return None
    if not os.path.isdir(path):
        return ("file", _sha256_file(path)[1])
    entries = []
    for current, dirnames, filenames in os.walk(path):
        dirnames.sort()
        relative = os.path.relpath(current, path)
        entries.append(("dir", relative))
        for filename in sorted(filenames):
            entries.append((os.path.join(relative, filename), _sha256_file(os.path.join(current, filename))[1]))
    return ("tree", tuple(entries))


def _unit_is_current(unit, backup_path):
    if unit.source is None:
        return not _lexists(unit.target)
    return _tree_digest(unit.target) == _tree_digest(_join(backup_path, unit.source))


def _apply_stat(path, record):
    try:
        os.chmod(path, int(record["mode"], 8))
        if os.geteuid() == 0:
            os.lchown(path, int(record["uid"]), int(record["gid"]))
    except (KeyError, ValueError, TypeError, OSError):
        pass


def _stage(backup_path, manifest, unit, staging, index):
    """Copy one unit from the backup into the staging area, checking each file against the manifest again."""
    staged = os.path.join(staging, "%03d" % index)
    records = dict((record["path"], record) for record in manifest["files"])
    directories = dict((record["path"], record) for record in manifest.get("directories") or [])
    source_root = _join(backup_path, unit.source)
    if os.path.isdir(source_root):
        for current, dirnames, filenames in os.walk(source_root):
            dirnames.sort()
            relative = os.path.relpath(current, source_root)
            relpath = unit.source if relative == "." else unit.source + "/" + relative.replace(os.sep, "/")
            target_dir = staged if relative == "." else os.path.join(staged, relative)
            _mkdir(target_dir, 0o700)
            for filename in sorted(filenames):
                _stage_file(os.path.join(current, filename), os.path.join(target_dir, filename), records.get(relpath + "/" + filename))
            _apply_stat(target_dir, directories.get(relpath, {"mode": "0755"}))
    else:
        _stage_file(source_root, staged, records.get(unit.source))
    return staged


def _stage_file(source, dest, record):
    if record is None:
        raise BackupError("backup file %s is not listed in the manifest; refusing to restore an altered backup" % source)
    size, digest = _copy_file(source, dest, 0o600)
    if size != record["size"] or digest != record["sha256"]:
        raise BackupError("backup file %s changed while it was being restored; nothing was replaced, retry" % source)
    _apply_stat(dest, record)
    if "mtime" in record:
        try:
            os.utime(dest, (record["mtime"], record["mtime"]))
        except (OSError, TypeError, ValueError):
            pass


def _move(source, dest):
    try:
        os.rename(source, dest)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        shutil.move(source, dest)


def _aside_name(unit, data_dir):
    relative = os.path.relpath(unit.target, data_dir)
    return relative if not relative.startswith("..") else os.path.basename(unit.target)


def _restore_size(pending, backup_path):
    total = 0
    for unit in pending:
        if unit.source is None:
            continue
        source = _join(backup_path, unit.source)
        if os.path.isdir(source):
            for current, _dirnames, filenames in os.walk(source):
                total += sum(os.lstat(os.path.join(current, name)).st_size for name in filenames)
        else:
            total += os.lstat(source).st_size
    return total


def restore_backup(backup_path, data_dir, sqlite_path=None, check_mode=False, now=None,
                   pre_restore_retention=DEFAULT_PRE_RESTORE_RETENTION):
    """Replace the vaultwarden files of ``data_dir`` with a verified backup. The server must be stopped.

    Whatever the restore replaces or must remove is moved into ``<data_dir>/.pre-restore-<UTC stamp>/``
    (marked as ours); of those copies the ``pre_restore_retention`` newest are kept (0 keeps all).
    Returns a dict: changed, restored, moved_aside, moved, extra_files, pre_restore_pruned,
    leftovers_removed, warnings, msg.
    """
    validate_retention("pre_restore_retention", pre_restore_retention)
    backup_path = os.path.abspath(backup_path)
    data_dir = os.path.abspath(data_dir)
    manifest = verify_backup(backup_path)
    units = _restore_units(manifest, data_dir, sqlite_path)
    pending = [unit for unit in units if not _unit_is_current(unit, backup_path)]
    extras = [_join(backup_path, extra["path"]) for extra in manifest.get("extra_files") or []]
    result = {"changed": False, "restored": [], "moved_aside": None, "moved": [], "extra_files": extras,
              "manifest": manifest, "pre_restore_pruned": [], "leftovers_removed": [], "warnings": []}
    removed, kept = clean_leftovers(data_dir, STAGING_PREFIX, check_mode)
    result["leftovers_removed"] = [entry["path"] for entry in removed]
    for entry in kept:
        result["warnings"].append(_kept_warning(entry))
    if not pending:
        pruned, _unmarked = prune_pre_restore(data_dir, pre_restore_retention, check_mode)
        result.update(changed=bool(pruned or removed), pre_restore_pruned=pruned,
                      msg="%s already matches backup %s" % (data_dir, backup_path))
        return result
    restored = [unit.target for unit in pending if unit.source is not None]
    present = [unit.target for unit in pending if _lexists(unit.target)]
    now = now or utc_now()
    aside_dir = os.path.join(data_dir, PRE_RESTORE_PREFIX + now.strftime(STAMP_FORMAT))
    needed = _restore_size(pending, backup_path)
    if os.path.isdir(data_dir) and free_bytes(data_dir) < needed:
        raise BackupError(_no_space_message("restore", data_dir, needed,
                                            "the restore stages the backup there first: free space and run again; "
                                            "nothing was changed"))
    if check_mode:
        pruned, _unmarked = prune_pre_restore(data_dir, pre_restore_retention, True, pending_new=1 if present else 0)
        result.update(changed=True, restored=restored, moved=present, moved_aside=aside_dir if present else None,
                      pre_restore_pruned=pruned,
                      msg="would restore %d path(s) of %s from %s" % (len(restored), data_dir, backup_path))
        return result

    if not os.path.isdir(data_dir):
        os.makedirs(data_dir, DEFAULT_DIR_MODE)
        _apply_stat(data_dir, manifest.get("data_dir_stat") or {})
    moved = []      # (original, aside copy)
    placed = []     # targets filled from staging
    staging = None
    made_aside = None
    try:
        staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=data_dir)
        _write_owner(staging)
        staged = {}
        for index, unit in enumerate(pending):
            if unit.source is not None:
                staged[unit.target] = _stage(backup_path, manifest, unit, staging, index)
        if present:
            aside_dir = made_aside = _unique_dir(aside_dir)
            _write_marker(aside_dir, backup_path, data_dir, now)
            for unit in pending:
                if _lexists(unit.target):
                    aside = os.path.join(aside_dir, _aside_name(unit, data_dir))
                    parent = os.path.dirname(aside)
                    if not os.path.isdir(parent):
                        os.makedirs(parent, DEFAULT_DIR_MODE)
                    _move(unit.target, aside)
                    moved.append((unit.target, aside))
        for unit in pending:
            if unit.target in staged:
                _move(staged[unit.target], unit.target)
                placed.append(unit.target)
    except BaseException as error:
        _roll_back(placed, moved)
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
        if made_aside and not [name for name in os.listdir(made_aside) if name != PRE_RESTORE_MARKER]:
            shutil.rmtree(made_aside, ignore_errors=True)
        if _is_disk_full(error):
            raise BackupError(_no_space_message("restore", data_dir, needed,
                                                "the data directory was put back as it was: free space there and run "
                                                "again (%s)" % error))
        raise
    shutil.rmtree(staging, ignore_errors=True)
    _fsync_dir(data_dir)
    pruned, _unmarked = prune_pre_restore(data_dir, pre_restore_retention)
    kept = "; previous files kept in %s" % aside_dir if moved else ""
    result.update(changed=True, restored=placed, moved=[original for original, _aside in moved],
                  moved_aside=aside_dir if moved else None, pre_restore_pruned=pruned,
                  msg="restored %d path(s) of %s from %s%s" % (len(placed), data_dir, backup_path, kept))
    return result


def _write_marker(directory, backup_path, data_dir, now):
    """Proof that this pre-restore copy is ours, so that pruning may delete it one day."""
    fd = os.open(os.path.join(directory, PRE_RESTORE_MARKER), os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        json.dump({"format": PRE_RESTORE_FORMAT, "created_at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                   "backup_path": backup_path, "data_dir": data_dir}, handle)


def _unique_dir(path):
    candidate = path
    for sequence in range(2, 1000):
        try:
            _mkdir(candidate, DEFAULT_DIR_MODE)
            return candidate
        except OSError as error:
            if error.errno != errno.EEXIST:
                raise
        candidate = "%s.%d" % (path, sequence)
    raise BackupError("too many %s* directories; remove old pre-restore copies" % path)


def _roll_back(placed, moved):
    """Put the data directory back the way it was after a failed swap."""
    for target in reversed(placed):
        try:
            _remove_path(target)
        except OSError:
            pass
    for original, aside in reversed(moved):
        try:
            _move(aside, original)
        except OSError:
            pass
