# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Consistent backups of a vaultwarden data directory: create, verify, list, prune, restore.

Runs on the managed host, which may be a Raspberry Pi Zero with a bare Python 3.8, so this file
uses the standard library only.

A backup is a directory ``<backup_dir>/<UTC YYYYmmddTHHMMSSZ>[.<n>][-<label>]/`` holding copies of
the data directory's files and a ``manifest.json`` that lists every file with its size and sha256.
Only directories whose manifest carries ``MANIFEST_FORMAT`` are ever treated as backups (listed,
pruned or restored from); anything else in ``backup_dir`` is left alone.
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
import sqlite3
import stat
import tempfile

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

_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_NAME_RE = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)(?:\.(?P<seq>\d+))?(?:-(?P<label>.+))?$")
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
    """Directory mode from an octal string ('0700', '750') or an int (YAML's unquoted 0700 is 448)."""
    if isinstance(value, bool):
        raise BackupError("mode %r is not an octal permission; use a quoted octal string such as '0700'" % (value,))
    if isinstance(value, int):
        mode = value
    else:
        text = str(value).strip()
        if text.startswith("0o"):
            text = text[2:]
        try:
            mode = int(text, 8)
        except ValueError:
            raise BackupError("mode %r is not an octal permission; use a quoted octal string such as '0700'" % (value,))
    if mode < 0 or mode > 0o777:
        raise BackupError("mode %r is outside 0000-0777; use a quoted octal string such as '0700'" % (value,))
    if mode & 0o700 != 0o700:
        raise BackupError("mode %r denies the owner rwx on backup directories, so backups could not be written or read back; "
                          "use '0700' (or '0750' to let the group read)" % (value,))
    return mode


def file_mode_for(dir_mode):
    """Files get the directory mode without execute bits (0700 -> 0600, 0750 -> 0640)."""
    return dir_mode & 0o666


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


def create_backup(data_dir, backup_dir, label=None, database="sqlite", sqlite_path=None, extra_files=None,
                  include_icon_cache=False, retention=5, mode=DEFAULT_DIR_MODE, check_mode=False, now=None):
    """Take a backup of ``data_dir`` into a new directory under ``backup_dir``, then apply retention.

    Returns a dict: changed, backup_path, manifest, pruned, missing, warnings, msg.
    """
    label = validate_label(label)
    dir_mode = parse_mode(mode)
    if retention is None or retention < 0:
        raise BackupError("retention %r must be 0 (keep every backup) or a positive number of backups to keep" % (retention,))
    data_dir = os.path.abspath(data_dir)
    backup_dir = os.path.abspath(backup_dir)
    if backup_dir == data_dir or backup_dir.startswith(data_dir + os.sep):
        raise BackupError("backup_dir %s is inside data_dir %s, so every backup would contain the previous ones; "
                          "put backups beside the data directory, e.g. %s" % (backup_dir, data_dir, data_dir.rstrip(os.sep) + "-backups"))
    items, missing, sqlite_relative = plan_backup(data_dir, database, sqlite_path, extra_files, include_icon_cache)
    result = {"changed": False, "backup_path": None, "manifest": None, "pruned": [], "missing": missing, "warnings": []}
    if not _has_content(items):
        result["msg"] = "nothing to back up in %s (fresh install?): none of the vaultwarden files exist yet" % data_dir
        return result

    now = now or utc_now()
    if check_mode:
        name = _backup_name(now.strftime(STAMP_FORMAT), 1, label)
        result.update(changed=True, planned=[item.as_dict() for item in items],
                      pruned=prune_backups(backup_dir, retention, data_dir=data_dir, check_mode=True, pending_new=1),
                      msg="would back up %d item(s) of %s into %s" % (len(items), data_dir, os.path.join(backup_dir, name)))
        return result

    file_mode = file_mode_for(dir_mode)
    if not os.path.isdir(backup_dir):
        os.makedirs(backup_dir, dir_mode)
    temp_dir = tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=backup_dir)
    try:
        os.chmod(temp_dir, dir_mode)
        manifest = _fill_backup(temp_dir, items, data_dir, database, sqlite_relative, label, now, file_mode, dir_mode, result["warnings"])
        manifest["missing"] = missing
        _write_manifest(temp_dir, manifest, file_mode)
        final = _publish(temp_dir, backup_dir, now.strftime(STAMP_FORMAT), label)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    result.update(changed=True, backup_path=final, manifest=manifest,
                  pruned=prune_backups(backup_dir, retention, data_dir=data_dir),
                  msg="backed up %d file(s), %d byte(s) of %s into %s"
                  % (len(manifest["files"]), manifest["total_size"], data_dir, final))
    return result


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


def stale_temporaries(backup_dir):
    """Leftovers of interrupted backups; never deleted automatically (another backup may be running)."""
    if not os.path.isdir(backup_dir):
        return []
    return sorted(os.path.join(backup_dir, name) for name in os.listdir(backup_dir) if name.startswith(TEMP_PREFIX))


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
    for record in manifest.get("directories") or []:
        relpath = record.get("path") if isinstance(record, dict) else None
        if not _is_safe_relpath(relpath):
            problems.append("unsafe directory path %r in the manifest" % (relpath,))
        elif not os.path.isdir(_join(backup_path, relpath)) or os.path.islink(_join(backup_path, relpath)):
            problems.append("%s/: directory missing" % relpath)
    for record in manifest["files"]:
        relpath = record.get("path") if isinstance(record, dict) else None
        if not _is_safe_relpath(relpath) or relpath == MANIFEST_NAME:
            problems.append("unsafe file path %r in the manifest" % (relpath,))
            continue
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
    if problems:
        shown = problems[:_MAX_REPORTED_PROBLEMS]
        more = len(problems) - len(shown)
        raise BackupError("backup %s is corrupt, refusing to restore it: %s%s; "
                          "restore an older backup (homelab.vaultwarden.vaultwarden_backup_info lists them)"
                          % (backup_path, "; ".join(shown), " (and %d more)" % more if more else ""))
    return manifest


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
    sqlite_info = manifest.get("sqlite")
    if sqlite_info or manifest.get("database") == "sqlite":
        relative = (sqlite_info or {}).get("relative_path") or SQLITE_DEFAULT_NAME
        db_target = os.path.abspath(sqlite_path) if sqlite_path else _join(data_dir, relative)
        db_source = sqlite_info["file"] if sqlite_info else None
        units.append(_Unit(db_target, db_source, "database"))
        for suffix in SQLITE_SIDECAR_SUFFIXES:
            units.append(_Unit(db_target + suffix, None, "database"))
        tops.pop(db_source, None)
    names = set(tops)
    names.update([CONFIG_NAME] + list(TREE_NAMES))
    if os.path.isdir(data_dir):
        names.update(name for name in os.listdir(data_dir) if name.startswith(RSA_KEY_PREFIX))
    for name in sorted(names):
        units.append(_Unit(os.path.join(data_dir, name), name if name in tops else None, tops.get(name, "other")))
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


def restore_backup(backup_path, data_dir, sqlite_path=None, check_mode=False, now=None):
    """Replace the vaultwarden files of ``data_dir`` with a verified backup. The server must be stopped.

    Whatever the restore replaces or must remove is moved into ``<data_dir>/.pre-restore-<UTC stamp>/``,
    never deleted. Returns a dict: changed, restored, moved_aside, moved, extra_files, msg.
    """
    backup_path = os.path.abspath(backup_path)
    data_dir = os.path.abspath(data_dir)
    manifest = verify_backup(backup_path)
    units = _restore_units(manifest, data_dir, sqlite_path)
    pending = [unit for unit in units if not _unit_is_current(unit, backup_path)]
    extras = [_join(backup_path, extra["path"]) for extra in manifest.get("extra_files") or []]
    result = {"changed": False, "restored": [], "moved_aside": None, "moved": [], "extra_files": extras,
              "manifest": manifest}
    if not pending:
        result["msg"] = "%s already matches backup %s" % (data_dir, backup_path)
        return result
    restored = [unit.target for unit in pending if unit.source is not None]
    present = [unit.target for unit in pending if _lexists(unit.target)]
    now = now or utc_now()
    aside_dir = os.path.join(data_dir, PRE_RESTORE_PREFIX + now.strftime(STAMP_FORMAT))
    if check_mode:
        result.update(changed=True, restored=restored, moved=present, moved_aside=aside_dir if present else None,
                      msg="would restore %d path(s) of %s from %s" % (len(restored), data_dir, backup_path))
        return result

    if not os.path.isdir(data_dir):
        os.makedirs(data_dir, DEFAULT_DIR_MODE)
        _apply_stat(data_dir, manifest.get("data_dir_stat") or {})
    staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=data_dir)
    moved = []      # (original, aside copy)
    placed = []     # targets filled from staging
    try:
        staged = {}
        for index, unit in enumerate(pending):
            if unit.source is not None:
                staged[unit.target] = _stage(backup_path, manifest, unit, staging, index)
        if present:
            aside_dir = _unique_dir(aside_dir)
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
    except BaseException:
        _roll_back(placed, moved)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    _fsync_dir(data_dir)
    kept = "; previous files kept in %s" % aside_dir if moved else ""
    result.update(changed=True, restored=placed, moved=[original for original, _aside in moved],
                  moved_aside=aside_dir if moved else None,
                  msg="restored %d path(s) of %s from %s%s" % (len(placed), data_dir, backup_path, kept))
    return result


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
