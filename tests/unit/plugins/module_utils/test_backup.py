# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of real data directories with real SQLite databases, some of them written to during the backup."""

from __future__ import annotations

import datetime
import errno
import hashlib
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import backup
from ansible_collections.homelab.vaultwarden.plugins.module_utils.backup import BackupError

T0 = datetime.datetime(2026, 4, 25, 10, 15, 0, tzinfo=datetime.timezone.utc)


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


# ---------------------------------------------------------------------------------------------
# A vaultwarden-like data directory


def create_database(path, journal_mode="wal", padding_rows=0, padding_size=4096):
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=%s" % journal_mode)
    connection.executescript("""
        CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY, run_on TIMESTAMP);
        INSERT INTO __diesel_schema_migrations VALUES ('20230910133000', NULL), ('20240313170000', NULL);
        CREATE TABLE ciphers (id INTEGER PRIMARY KEY, batch INTEGER NOT NULL, data BLOB);
        CREATE TABLE counter (n INTEGER NOT NULL);
        INSERT INTO counter VALUES (0);
        CREATE TABLE padding (id INTEGER PRIMARY KEY, data BLOB);
    """)
    with connection:
        connection.executemany("INSERT INTO padding (data) VALUES (?)",
                               ((os.urandom(padding_size),) for _count in range(padding_rows)))
    connection.close()


def make_data_dir(root, journal_mode="wal", padding_rows=0, icon_cache=True):
    data = root / "data"
    (data / "attachments" / "cipher-1").mkdir(parents=True)
    (data / "sends" / "send-1").mkdir(parents=True)
    (data / "attachments" / "empty-cipher").mkdir()
    create_database(str(data / "db.sqlite3"), journal_mode, padding_rows)
    (data / "config.json").write_text('{"admin_token": "$argon2id$secret", "smtp_password": "hunter2"}')
    (data / "rsa_key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\n" + os.urandom(64))
    (data / "attachments" / "cipher-1" / "a1").write_bytes(os.urandom(70000))
    (data / "attachments" / "cipher-1" / "a2").write_bytes(b"")
    (data / "sends" / "send-1" / "s1").write_bytes(os.urandom(1000))
    if icon_cache:
        (data / "icon_cache").mkdir()
        (data / "icon_cache" / "example.com.png").write_bytes(b"PNG")
    os.chmod(data / "config.json", 0o640)
    return data


def write_batches(path, batches, batch_size=10):
    connection = sqlite3.connect(path, timeout=30)
    for _count in range(batches):
        _write_batch(connection, batch_size)
    connection.close()


def _write_batch(connection, batch_size=10):
    with connection:
        number = connection.execute("SELECT n FROM counter").fetchone()[0] // batch_size
        connection.executemany("INSERT INTO ciphers (batch, data) VALUES (?, ?)",
                               [(number, os.urandom(200)) for _count in range(batch_size)])
        connection.execute("UPDATE counter SET n = n + ?", (batch_size,))


def database_content(path):
    connection = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return {
            "ciphers": connection.execute("SELECT id, batch, data FROM ciphers ORDER BY id").fetchall(),
            "counter": connection.execute("SELECT n FROM counter").fetchone()[0],
            "padding": connection.execute("SELECT count(*) FROM padding").fetchone()[0],
        }
    finally:
        connection.close()


def assert_consistent(path, batch_size=10):
    connection = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = connection.execute("SELECT count(*) FROM ciphers").fetchone()[0]
        counter = connection.execute("SELECT n FROM counter").fetchone()[0]
        torn = connection.execute("SELECT batch, count(*) FROM ciphers GROUP BY batch HAVING count(*) != ?", (batch_size,)).fetchall()
    finally:
        connection.close()
    assert rows == counter, "rows and counter come from different transactions"
    assert torn == [], "a transaction was copied half"
    return counter


def tree_state(root):
    """Every path under root with its type, mode and content hash: 'nothing changed' means equal states."""
    state = {}
    if not os.path.lexists(root):
        return state
    for current, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(current, name)
            info = os.lstat(path)
            digest = None
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            state[os.path.relpath(path, root)] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), digest)
    return state


def file_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


# ---------------------------------------------------------------------------------------------
# Option validation


@pytest.mark.parametrize("value", ["0700", "700", "0o700", 0o700, 448])
def test_parse_mode_accepts_only_owner_only(value):
    assert backup.parse_mode(value) == 0o700
    assert backup.file_mode_for(backup.parse_mode(value)) == 0o600


@pytest.mark.parametrize("value, reason", [
    ("0750", "gives the group or others access to backups, which hold the whole vault"),
    ("0777", "gives the group or others access"),
    (0o777, "gives the group or others access"),
    ("0701", "gives the group or others access"),
    ("0600", "denies the owner rwx"), ("0500", "denies the owner rwx"),
    ("rwx", "not an octal permission"), ("0800", "not an octal permission"), (True, "not an octal permission"),
    ("01777", "outside 0000-0777"), (-1, "outside 0000-0777"),
])
def test_parse_mode_refuses_naming_value_reason_and_fix(value, reason):
    with pytest.raises(BackupError) as raised:
        backup.parse_mode(value)
    message = str(raised.value)
    assert repr(value) in message, "the message names the value"
    assert reason in message
    assert "remove mode from the task (or set it to '0700')" in message


@pytest.mark.parametrize("mode", ["0750", "0777"])
def test_wide_mode_is_refused_before_anything_is_written(tmp_path, mode):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    os.chmod(backups, 0o755)
    before = (tree_state(str(data)), tree_state(str(tmp_path)))
    with pytest.raises(BackupError, match="gives the group or others access"):
        backup.create_backup(str(data), str(backups), mode=mode)
    assert (tree_state(str(data)), tree_state(str(tmp_path))) == before
    assert stat.S_IMODE(os.stat(backups).st_mode) == 0o755, "a refused run does not even tighten"


@pytest.mark.parametrize("label", ["1.32.0-to-1.35.1", "pre_upgrade", "a", "v1+build.2", "X" * 64])
def test_valid_labels(label):
    assert backup.validate_label(label) == label


@pytest.mark.parametrize("label", ["../evil", "a/b", "-leading", ".hidden", "with space", "X" * 65, "ünï"])
def test_invalid_labels_are_refused_naming_the_rule(label):
    with pytest.raises(BackupError, match="cannot be part of a directory name"):
        backup.validate_label(label)


def test_unknown_database_is_refused_listing_choices(tmp_path):
    with pytest.raises(BackupError, match="sqlite, mysql, postgresql"):
        backup.create_backup(str(tmp_path / "data"), str(tmp_path / "backups"), database="mongodb")


def test_backup_dir_inside_data_dir_is_refused(tmp_path):
    data = make_data_dir(tmp_path)
    with pytest.raises(BackupError, match="inside data_dir"):
        backup.create_backup(str(data), str(data / "backups"))
    assert not (data / "backups").exists()


def test_negative_retention_is_refused(tmp_path):
    data = make_data_dir(tmp_path)
    with pytest.raises(BackupError, match="retention -1"):
        backup.create_backup(str(data), str(tmp_path / "backups"), retention=-1)


def test_missing_extra_file_is_refused(tmp_path):
    data = make_data_dir(tmp_path)
    with pytest.raises(BackupError, match="does not exist"):
        backup.create_backup(str(data), str(tmp_path / "backups"), extra_files=[str(tmp_path / "dump.sql")])
    assert not (tmp_path / "backups").exists()


def test_extra_files_with_the_same_name_are_refused(tmp_path):
    data = make_data_dir(tmp_path)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "dump.sql").write_text("--")
    with pytest.raises(BackupError, match="share the name 'dump.sql'"):
        backup.create_backup(str(data), str(tmp_path / "backups"), extra_files=[str(tmp_path / "a" / "dump.sql"), str(tmp_path / "b" / "dump.sql")])


# ---------------------------------------------------------------------------------------------
# Taking a backup


def test_backup_copies_the_vaultwarden_files_with_a_manifest(tmp_path):
    data = make_data_dir(tmp_path, journal_mode="delete")
    write_batches(str(data / "db.sqlite3"), 3)
    result = backup.create_backup(str(data), str(tmp_path / "backups"), label="1.32.0-to-1.35.1", now=T0)

    path = result["backup_path"]
    assert result["changed"] is True
    assert os.path.basename(path) == "20260425T101500Z-1.32.0-to-1.35.1"
    manifest = json.loads(file_bytes(os.path.join(path, "manifest.json")))
    assert manifest == result["manifest"]
    assert manifest["format"] == backup.MANIFEST_FORMAT
    assert manifest["created_at"] == "2026-04-25T10:15:00.000000Z"
    assert manifest["label"] == "1.32.0-to-1.35.1"
    assert manifest["data_dir"] == str(data)
    assert manifest["database"] == "sqlite"
    assert manifest["sqlite"]["integrity_check"] == "ok"
    assert manifest["sqlite"]["schema_version"] == "20240313170000"
    assert manifest["sqlite"]["page_count"] * manifest["sqlite"]["page_size"] == os.path.getsize(os.path.join(path, "db.sqlite3"))
    by_path = {record["path"]: record for record in manifest["files"]}
    assert sorted(by_path) == ["attachments/cipher-1/a1", "attachments/cipher-1/a2", "config.json", "db.sqlite3",
                               "rsa_key.pem", "sends/send-1/s1"]
    for relpath, record in by_path.items():
        content = file_bytes(os.path.join(path, relpath))
        assert record["size"] == len(content)
        assert record["sha256"] == hashlib.sha256(content).hexdigest()
        if relpath != "db.sqlite3":
            assert content == file_bytes(os.path.join(str(data), relpath))
    assert by_path["config.json"]["mode"] == "0640"
    assert {record["path"] for record in manifest["directories"]} >= {"attachments/empty-cipher", "sends"}
    assert os.path.isdir(os.path.join(path, "attachments", "empty-cipher"))
    assert result["missing"] == []
    assert manifest["total_size"] == sum(record["size"] for record in manifest["files"])
    assert database_content(os.path.join(path, "db.sqlite3")) == database_content(str(data / "db.sqlite3"))
    assert not os.path.exists(os.path.join(path, "icon_cache")), "icon_cache is opt-in"


def assert_private(path):
    for current, _dirnames, filenames in os.walk(path):
        assert stat.S_IMODE(os.stat(current).st_mode) == 0o700, current
        for name in filenames:
            assert stat.S_IMODE(os.stat(os.path.join(current, name)).st_mode) == 0o600, os.path.join(current, name)


def test_backup_is_always_private_whatever_the_umask_and_source_modes(tmp_path):
    data = make_data_dir(tmp_path)
    os.chmod(data / "attachments" / "cipher-1" / "a1", 0o666)
    os.chmod(data / "attachments", 0o777)
    (tmp_path / "dump.sql").write_text("--")
    os.chmod(tmp_path / "dump.sql", 0o644)
    old_umask = os.umask(0)
    try:
        result = backup.create_backup(str(data), str(tmp_path / "new" / "backups"), extra_files=[str(tmp_path / "dump.sql")])
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "backups").st_mode) == 0o700
    assert_private(result["backup_path"])
    assert result["tightened"] == [], "a root this run created is not reported as tightened"


@pytest.mark.parametrize("old_mode", [0o1777, 0o755, 0o2770, 0o711])
def test_existing_backup_root_is_tightened_and_reported(tmp_path, old_mode):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    os.chmod(backups, old_mode)
    result = backup.create_backup(str(data), str(backups))
    assert stat.S_IMODE(os.stat(backups).st_mode) == 0o700
    assert result["tightened"] == [str(backups)]
    assert any("had mode %04o" % old_mode in warning and "tightened it to 0700" in warning for warning in result["warnings"])
    again = backup.create_backup(str(data), str(backups))
    assert again["tightened"] == []


def test_backups_of_earlier_versions_are_narrowed(tmp_path):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    old = backup.create_backup(str(data), str(backups), now=at(0))["backup_path"]
    os.chmod(os.path.join(old, "config.json"), 0o640)     # what mode: '0750' made in 0.1.0
    os.chmod(os.path.join(old, "attachments"), 0o750)
    os.chmod(old, 0o750)
    check = backup.create_backup(str(data), str(backups), now=at(1), check_mode=True)
    assert check["tightened"] == [old]
    assert stat.S_IMODE(os.stat(old).st_mode) == 0o750, "check mode changes nothing"
    result = backup.create_backup(str(data), str(backups), now=at(1))
    assert result["tightened"] == [old]
    assert_private(old)
    assert backup.verify_backup(old)["format"] == backup.MANIFEST_FORMAT


def test_check_mode_reports_the_tightening_without_doing_it(tmp_path):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    os.chmod(backups, 0o1777)
    result = backup.create_backup(str(data), str(backups), check_mode=True)
    assert result["tightened"] == [str(backups)]
    assert any("would be tightened" in warning for warning in result["warnings"])
    assert stat.S_IMODE(os.stat(backups).st_mode) == 0o1777
    assert os.listdir(str(backups)) == []


@pytest.mark.parametrize("shared", ["/tmp", "/var/tmp", "/"])
def test_shared_system_directories_are_refused_as_backup_root(tmp_path, shared):
    data = make_data_dir(tmp_path)
    before = stat.S_IMODE(os.stat(shared).st_mode)
    with pytest.raises(BackupError) as raised:
        backup.create_backup(str(data), shared)
    message = str(raised.value)
    assert "backup_dir %s is a directory shared by other users" % shared in message
    assert "use a subdirectory such as %s" % os.path.join(shared, "vaultwarden-backups") in message
    assert stat.S_IMODE(os.stat(shared).st_mode) == before


def test_backup_skips_and_lists_what_is_missing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text("{}")
    result = backup.create_backup(str(data), str(tmp_path / "backups"), include_icon_cache=True)
    assert result["changed"] is True
    assert result["missing"] == ["db.sqlite3", "rsa_key*", "attachments/", "sends/", "icon_cache/"]
    assert result["manifest"]["missing"] == result["missing"]
    assert result["manifest"]["sqlite"] is None


def test_icon_cache_on_request(tmp_path):
    data = make_data_dir(tmp_path)
    result = backup.create_backup(str(data), str(tmp_path / "backups"), include_icon_cache=True)
    assert file_bytes(os.path.join(result["backup_path"], "icon_cache", "example.com.png")) == b"PNG"


@pytest.mark.parametrize("prepare", ["absent", "empty", "empty-dirs"])
def test_fresh_install_backs_up_nothing(tmp_path, prepare):
    data = tmp_path / "data"
    if prepare != "absent":
        data.mkdir()
    if prepare == "empty-dirs":
        (data / "attachments").mkdir()
        (data / "sends").mkdir()
    result = backup.create_backup(str(data), str(tmp_path / "backups"))
    assert result["changed"] is False
    assert result["backup_path"] is None
    assert "nothing to back up" in result["msg"]
    assert not (tmp_path / "backups").exists()


def test_backups_in_the_same_second_get_distinct_names(tmp_path):
    data = make_data_dir(tmp_path)
    paths = [backup.create_backup(str(data), str(tmp_path / "backups"), label="x", now=T0)["backup_path"] for _count in range(3)]
    assert [os.path.basename(path) for path in paths] == ["20260425T101500Z-x", "20260425T101500Z.2-x", "20260425T101500Z.3-x"]
    assert [entry["path"] for entry in backup.list_backups(str(tmp_path / "backups"))] == paths[::-1]


def test_extra_files_and_directories_are_stored_under_extra(tmp_path):
    data = make_data_dir(tmp_path)
    (tmp_path / "dump.sql").write_text("CREATE TABLE users;")
    (tmp_path / "dumpdir").mkdir()
    (tmp_path / "dumpdir" / "part1.sql").write_text("INSERT 1;")
    result = backup.create_backup(str(data), str(tmp_path / "backups"), database="postgresql",
                                  extra_files=[str(tmp_path / "dump.sql"), str(tmp_path / "dumpdir")])
    path = result["backup_path"]
    assert file_bytes(os.path.join(path, "extra", "dump.sql")) == b"CREATE TABLE users;"
    assert file_bytes(os.path.join(path, "extra", "dumpdir", "part1.sql")) == b"INSERT 1;"
    assert not os.path.exists(os.path.join(path, "db.sqlite3")), "postgresql backups carry no SQLite copy"
    assert result["manifest"]["sqlite"] is None
    assert [extra["path"] for extra in result["manifest"]["extra_files"]] == ["extra/dump.sql", "extra/dumpdir"]


def test_custom_sqlite_path(tmp_path):
    data = make_data_dir(tmp_path)
    os.rename(data / "db.sqlite3", data / "vault.db")
    result = backup.create_backup(str(data), str(tmp_path / "backups"), sqlite_path=str(data / "vault.db"))
    assert result["manifest"]["sqlite"]["file"] == "vault.db"
    assert result["manifest"]["sqlite"]["relative_path"] == "vault.db"
    assert os.path.isfile(os.path.join(result["backup_path"], "vault.db"))


def test_check_mode_changes_nothing(tmp_path):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    for minute in range(3):
        backup.create_backup(str(data), str(backups), now=at(minute))
    before = (tree_state(str(data)), tree_state(str(backups)))

    result = backup.create_backup(str(data), str(backups), retention=2, check_mode=True, now=at(10))

    assert (tree_state(str(data)), tree_state(str(backups))) == before
    assert result["changed"] is True
    assert result["backup_path"] is None
    assert str(backups / "20260425T102500Z") in result["msg"]
    assert {item["path"] for item in result["planned"]} == {"db.sqlite3", "config.json", "rsa_key.pem", "attachments", "sends"}
    assert result["pruned"] == [str(backups / "20260425T101600Z"), str(backups / "20260425T101500Z")]


# ---------------------------------------------------------------------------------------------
# SQLite online consistency


def test_wal_content_not_yet_checkpointed_is_in_the_backup(tmp_path):
    data = make_data_dir(tmp_path, journal_mode="wal")
    server = sqlite3.connect(str(data / "db.sqlite3"))
    try:
        server.execute("PRAGMA wal_autocheckpoint=0")
        for _count in range(5):
            _write_batch(server)
        assert os.path.getsize(str(data / "db.sqlite3-wal")) > 0, "the rows must still live in the WAL only"
        result = backup.create_backup(str(data), str(tmp_path / "backups"))
        copy = os.path.join(result["backup_path"], "db.sqlite3")
        assert not os.path.exists(copy + "-wal"), "the backup holds a self-contained database file"
        assert assert_consistent(copy) == 50
        assert result["manifest"]["sqlite"]["journal_mode"] == "wal"
        assert os.path.getsize(str(data / "db.sqlite3-wal")) > 0, "the live WAL was not checkpointed by the backup"
    finally:
        server.close()


def test_sidecars_created_by_the_read_only_open_match_the_database(tmp_path):
    data = make_data_dir(tmp_path, journal_mode="wal")
    os.chmod(data / "db.sqlite3", 0o640)
    assert not (data / "db.sqlite3-shm").exists()
    backup.create_backup(str(data), str(tmp_path / "backups"))
    for suffix in ("-wal", "-shm"):
        sidecar = data / ("db.sqlite3" + suffix)
        if sidecar.exists():
            assert stat.S_IMODE(os.stat(sidecar).st_mode) == 0o640


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_backup_while_another_thread_writes_is_a_consistent_snapshot(tmp_path, journal_mode):
    data = make_data_dir(tmp_path, journal_mode=journal_mode, padding_rows=6000)  # ~25 MB: the copy takes a while
    db_path = str(data / "db.sqlite3")
    stop = threading.Event()
    commits = []
    errors = []

    def server():
        connection = sqlite3.connect(db_path, timeout=60)
        try:
            while not stop.is_set():
                _write_batch(connection)
                commits.append(time.monotonic())
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    writer = threading.Thread(target=server)
    writer.start()
    try:
        while len(commits) < 20:
            time.sleep(0.01)
        started = time.monotonic()
        result = backup.create_backup(str(data), str(tmp_path / "backups"))
        finished = time.monotonic()
        time.sleep(0.05)
    finally:
        stop.set()
        writer.join()
    assert errors == []
    assert any(started < commit < finished for commit in commits), "the writer must have committed during the backup"
    copied = assert_consistent(os.path.join(result["backup_path"], "db.sqlite3"))
    final = assert_consistent(db_path)
    assert 200 <= copied <= final
    assert copied < final, "the writer kept going after the snapshot"
    assert result["manifest"]["sqlite"]["integrity_check"] == "ok"


def test_damaged_source_database_is_refused_and_leaves_no_backup(tmp_path):
    data = make_data_dir(tmp_path, journal_mode="delete", padding_rows=50)
    db_path = str(data / "db.sqlite3")
    connection = sqlite3.connect(db_path)
    root_page, page_size = connection.execute(
        "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master WHERE name = 'padding'").fetchone()
    connection.close()
    with open(db_path, "r+b") as handle:
        handle.seek((root_page - 1) * page_size)   # the b-tree header of the padding table
        handle.write(b"\x0d\xff\xff\x00\x40" + b"\xee" * 200)
    with pytest.raises(BackupError, match="integrity_check") as raised:
        backup.create_backup(str(data), str(tmp_path / "backups"))
    assert "restore an earlier backup" in str(raised.value)
    assert os.listdir(str(tmp_path / "backups")) == []


def test_file_that_is_not_a_database_is_refused(tmp_path):
    data = make_data_dir(tmp_path)
    (data / "db.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BackupError, match="db.sqlite3"):
        backup.create_backup(str(data), str(tmp_path / "backups"))
    assert os.listdir(str(tmp_path / "backups")) == []


# ---------------------------------------------------------------------------------------------
# Atomicity


@pytest.mark.parametrize("fail_at", [1, 3, 5])
def test_failure_mid_copy_leaves_no_partial_backup(tmp_path, monkeypatch, fail_at):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    earlier = backup.create_backup(str(data), str(backups), now=at(0))["backup_path"]
    before = tree_state(str(backups))
    real_copy = backup._copy_file
    calls = []

    def failing_copy(source, dest, mode):
        calls.append(source)
        if len(calls) == fail_at:
            real_copy(source, dest, mode)   # a file half-written in the temporary directory
            raise OSError(errno.EIO, "Input/output error", source)
        return real_copy(source, dest, mode)

    monkeypatch.setattr(backup, "_copy_file", failing_copy)
    with pytest.raises(OSError, match="Input/output error"):
        backup.create_backup(str(data), str(backups), now=at(1), retention=1)
    assert len(calls) == fail_at
    assert tree_state(str(backups)) == before, "neither a partial backup nor a temporary directory may stay"
    assert os.path.isdir(earlier), "retention must not run after a failed backup"


# ---------------------------------------------------------------------------------------------
# Listing and retention


def _foreign_backup_dir(backups):
    os.makedirs(os.path.join(backups, "notes"))
    with open(os.path.join(backups, "notes", "keep.txt"), "w") as handle:
        handle.write("mine")
    os.makedirs(os.path.join(backups, "20200101T000000Z-other-tool"))
    with open(os.path.join(backups, "20200101T000000Z-other-tool", "manifest.json"), "w") as handle:
        json.dump({"format": "someone-else", "files": []}, handle)
    os.makedirs(os.path.join(backups, "20200101T000001Z-broken"))
    with open(os.path.join(backups, "20200101T000001Z-broken", "manifest.json"), "w") as handle:
        handle.write("{not json")
    with open(os.path.join(backups, "README"), "w") as handle:
        handle.write("backups live here")
    os.makedirs(os.path.join(backups, backup.TEMP_PREFIX + "interrupted"))


def test_retention_keeps_the_newest_and_touches_nothing_else(tmp_path):
    data = make_data_dir(tmp_path)
    other = make_data_dir(tmp_path / "other")
    backups = str(tmp_path / "backups")
    other_backup = backup.create_backup(str(other), backups, now=at(-100))["backup_path"]
    _foreign_backup_dir(backups)
    created = [backup.create_backup(str(data), backups, now=at(minute), retention=0)["backup_path"] for minute in range(6)]
    os.symlink(created[0], os.path.join(backups, "link-to-oldest"))
    foreign = {name: tree_state(os.path.join(backups, name)) for name in
               ("notes", "20200101T000000Z-other-tool", "20200101T000001Z-broken", backup.TEMP_PREFIX + "interrupted")}

    result = backup.create_backup(str(data), backups, now=at(6), retention=3)

    assert result["pruned"] == created[3::-1]
    remaining = [entry["path"] for entry in backup.list_backups(backups, data_dir=str(data))]
    assert remaining == [result["backup_path"], created[5], created[4]]
    assert os.path.isdir(other_backup), "another data directory's backups are not counted nor pruned"
    for name, state in foreign.items():
        assert tree_state(os.path.join(backups, name)) == state, name
    assert file_bytes(os.path.join(backups, "README")) == b"backups live here"
    assert os.path.islink(os.path.join(backups, "link-to-oldest"))
    [leftover] = backup.find_leftovers(backups, backup.TEMP_PREFIX)
    assert leftover["path"] == os.path.join(backups, backup.TEMP_PREFIX + "interrupted")
    assert leftover["state"] == "young", "without an owner file a fresh temporary directory may still be in use"
    assert any("interrupted is a temporary directory of another run, kept" in warning for warning in result["warnings"])


def test_retention_zero_keeps_everything(tmp_path):
    data = make_data_dir(tmp_path)
    for minute in range(4):
        assert backup.create_backup(str(data), str(tmp_path / "b"), now=at(minute), retention=0)["pruned"] == []
    assert len(backup.list_backups(str(tmp_path / "b"))) == 4


def test_retention_rechecks_the_manifest_before_deleting(tmp_path, monkeypatch):
    data = make_data_dir(tmp_path)
    backups = str(tmp_path / "backups")
    first = backup.create_backup(str(data), backups, now=at(0))["backup_path"]
    backup.create_backup(str(data), backups, now=at(1))
    real_list = backup.list_backups

    def list_then_lose_manifest(*args, **kwargs):
        entries = real_list(*args, **kwargs)
        os.unlink(os.path.join(first, "manifest.json"))   # someone reused the directory meanwhile
        return entries

    monkeypatch.setattr(backup, "list_backups", list_then_lose_manifest)
    backup.prune_backups(backups, 1, data_dir=str(data))
    assert os.path.isdir(first)


def test_list_backups_newest_first_with_manifests(tmp_path):
    data = make_data_dir(tmp_path)
    backups = str(tmp_path / "backups")
    _foreign_backup_dir(backups)
    for minute, label in ((5, "b"), (1, "a"), (9, None)):
        backup.create_backup(str(data), backups, label=label, now=at(minute))
    listed = backup.list_backups(backups)
    assert [entry["name"] for entry in listed] == ["20260425T102400Z", "20260425T102000Z-b", "20260425T101600Z-a"]
    assert [entry["label"] for entry in listed] == [None, "b", "a"]
    assert all(entry["manifest"]["format"] == backup.MANIFEST_FORMAT for entry in listed)
    assert backup.list_backups(str(tmp_path / "nowhere")) == []


# ---------------------------------------------------------------------------------------------
# Verification and restore


@pytest.fixture
def backed_up(tmp_path):
    data = make_data_dir(tmp_path)
    write_batches(str(data / "db.sqlite3"), 4)
    (data / "rsa_key.pub.pem").write_bytes(b"PUBLIC")
    original = {relpath: file_bytes(os.path.join(str(data), relpath))
                for relpath in ("config.json", "rsa_key.pem", "rsa_key.pub.pem", "attachments/cipher-1/a1",
                                "attachments/cipher-1/a2", "sends/send-1/s1")}
    original_db = database_content(str(data / "db.sqlite3"))
    result = backup.create_backup(str(data), str(tmp_path / "backups"), now=T0)
    return data, result["backup_path"], original, original_db


def _mutate(data):
    """What a newer server (or time) does to a data directory after the backup."""
    write_batches(str(data / "db.sqlite3"), 2)
    (data / "config.json").write_text('{"admin_token": "changed"}')
    (data / "rsa_key.der").write_bytes(b"NEWER SERVER KEY")
    os.unlink(data / "rsa_key.pub.pem")
    (data / "attachments" / "cipher-2").mkdir()
    (data / "attachments" / "cipher-2" / "new").write_bytes(b"new attachment")
    os.unlink(data / "sends" / "send-1" / "s1")
    (data / "db.sqlite3-wal").write_bytes(b"stale wal of the newer database")


def test_verify_accepts_an_intact_backup(backed_up):
    _data, path, _original, _db = backed_up
    assert backup.verify_backup(path)["format"] == backup.MANIFEST_FORMAT


@pytest.mark.parametrize("damage, message", [
    (lambda path: open(os.path.join(path, "attachments", "cipher-1", "a1"), "r+b").write(b"X"), "attachments/cipher-1/a1: sha256"),
    (lambda path: open(os.path.join(path, "config.json"), "ab").write(b" "), "config.json: size"),
    (lambda path: os.unlink(os.path.join(path, "rsa_key.pem")), "rsa_key.pem: missing"),
    (lambda path: os.rmdir(os.path.join(path, "attachments", "empty-cipher")), "attachments/empty-cipher/: directory missing"),
    (lambda path: os.unlink(os.path.join(path, "manifest.json")), "not a homelab.vaultwarden backup"),
])
def test_damaged_backup_is_refused_and_restore_changes_nothing(backed_up, damage, message):
    data, path, _original, _db = backed_up
    _mutate(data)
    before = tree_state(str(data))
    damage(path)
    with pytest.raises(BackupError, match=message):
        backup.restore_backup(path, str(data))
    assert tree_state(str(data)) == before


@pytest.mark.parametrize("evil", ["../../etc/passwd", "/etc/passwd", "attachments/../../x", "manifest.json"])
def test_manifest_paths_outside_the_backup_are_refused(backed_up, evil):
    data, path, _original, _db = backed_up
    manifest_path = os.path.join(path, "manifest.json")
    manifest = json.loads(file_bytes(manifest_path))
    manifest["files"][1]["path"] = evil
    with open(manifest_path, "w") as handle:
        json.dump(manifest, handle)
    before = tree_state(str(data))
    with pytest.raises(BackupError, match="unsafe file path"):
        backup.restore_backup(path, str(data))
    assert tree_state(str(data)) == before


def test_restore_round_trip_is_byte_for_byte_and_keeps_what_it_replaced(backed_up):
    data, path, original, original_db = backed_up
    _mutate(data)
    newer_db = database_content(str(data / "db.sqlite3"))
    result = backup.restore_backup(path, str(data), now=at(30))

    assert result["changed"] is True
    for relpath, content in original.items():
        assert file_bytes(os.path.join(str(data), relpath)) == content, relpath
    for record in result["manifest"]["files"]:
        assert file_bytes(os.path.join(str(data), record["path"])) == file_bytes(os.path.join(path, record["path"])), record["path"]
    assert stat.S_IMODE(os.stat(data / "config.json").st_mode) == 0o640, "original modes come back"
    assert not (data / "db.sqlite3-wal").exists(), "a stale WAL would be replayed into the restored database"
    assert database_content(str(data / "db.sqlite3")) == original_db
    assert_consistent(str(data / "db.sqlite3"))
    assert not (data / "rsa_key.der").exists()
    assert not (data / "attachments" / "cipher-2").exists()
    assert (data / "attachments" / "empty-cipher").is_dir()
    assert file_bytes(data / "icon_cache" / "example.com.png") == b"PNG", "not in the backup, not the restore's business"

    aside = data / ".pre-restore-20260425T104500Z"
    assert result["moved_aside"] == str(aside)
    assert file_bytes(aside / "config.json") == b'{"admin_token": "changed"}'
    assert file_bytes(aside / "rsa_key.der") == b"NEWER SERVER KEY"
    assert file_bytes(aside / "db.sqlite3-wal") == b"stale wal of the newer database"
    assert file_bytes(aside / "attachments" / "cipher-2" / "new") == b"new attachment"
    os.unlink(aside / "db.sqlite3-wal")   # the WAL belongs to the moved database only while both sit together
    assert database_content(str(aside / "db.sqlite3")) == newer_db
    assert sorted(result["restored"]) == sorted(str(data / name) for name in
                                                ("db.sqlite3", "config.json", "rsa_key.pub.pem", "attachments", "sends"))
    assert not (aside / "rsa_key.pem").exists(), "an unchanged file is left in place"
    assert not [name for name in os.listdir(str(data)) if name.startswith(backup.STAGING_PREFIX)]


def test_restore_is_idempotent(backed_up):
    data, path, _original, _db = backed_up
    _mutate(data)
    assert backup.restore_backup(path, str(data), now=at(30))["changed"] is True
    before = tree_state(str(data))
    again = backup.restore_backup(path, str(data), now=at(31))
    assert again["changed"] is False
    assert again["restored"] == []
    assert tree_state(str(data)) == before


def test_restore_check_mode_changes_nothing(backed_up):
    data, path, _original, _db = backed_up
    _mutate(data)
    before = tree_state(str(data))
    result = backup.restore_backup(path, str(data), check_mode=True, now=at(30))
    assert tree_state(str(data)) == before
    assert result["changed"] is True
    assert str(data / "config.json") in result["restored"]
    assert str(data / "db.sqlite3-wal") in result["moved"]
    assert result["moved_aside"] == str(data / ".pre-restore-20260425T104500Z")


def test_restore_into_a_new_host(backed_up, tmp_path):
    _data, path, original, original_db = backed_up
    target = tmp_path / "new-host" / "data"
    result = backup.restore_backup(path, str(target))
    assert result["moved_aside"] is None
    for relpath, content in original.items():
        assert file_bytes(os.path.join(str(target), relpath)) == content
    assert database_content(str(target / "db.sqlite3")) == original_db


def test_failed_swap_rolls_back(backed_up, monkeypatch):
    data, path, _original, _db = backed_up
    _mutate(data)
    before = tree_state(str(data))
    real_move = backup._move
    moves = []

    def failing_move(source, dest):
        moves.append(dest)
        if backup.STAGING_PREFIX in source and len([m for m in moves if backup.PRE_RESTORE_PREFIX not in m]) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", dest)
        return real_move(source, dest)

    monkeypatch.setattr(backup, "_move", failing_move)
    with pytest.raises(BackupError) as raised:
        backup.restore_backup(path, str(data), now=at(30))
    assert "no space left on %s (" % data in str(raised.value)
    assert "the data directory was put back as it was" in str(raised.value)
    assert tree_state(str(data)) == before, "the emptied pre-restore directory is removed too"


def test_restore_of_a_postgresql_backup_returns_the_dump(tmp_path):
    data = make_data_dir(tmp_path)
    (tmp_path / "dump.sql").write_text("COPY users;")
    path = backup.create_backup(str(data), str(tmp_path / "backups"), database="postgresql",
                                extra_files=[str(tmp_path / "dump.sql")])["backup_path"]
    db_before = file_bytes(data / "db.sqlite3")
    (data / "config.json").write_text("{}")
    result = backup.restore_backup(path, str(data))
    assert result["extra_files"] == [os.path.join(path, "extra", "dump.sql")]
    assert file_bytes(data / "db.sqlite3") == db_before, "a postgresql backup does not own db.sqlite3"
    assert not (data / "extra").exists()
    assert file_bytes(data / "config.json") != b"{}"


# ---------------------------------------------------------------------------------------------
# Every manifest path stays inside its root, symbolic links resolved


def rewrite_manifest(path, change):
    manifest_path = os.path.join(path, "manifest.json")
    manifest = json.loads(file_bytes(manifest_path))
    change(manifest)
    with open(manifest_path, "w") as handle:
        json.dump(manifest, handle)


@pytest.mark.parametrize("change, message", [
    (lambda m: m["sqlite"].update(relative_path="../x"), "unsafe sqlite.relative_path '../x'"),
    (lambda m: m["sqlite"].update(relative_path="/etc/x"), "unsafe sqlite.relative_path '/etc/x'"),
    (lambda m: m["sqlite"].update(file="../../x"), "sqlite.file '../../x' is not a file of the backup"),
    (lambda m: m["extra_files"].append({"path": "../../etc/passwd"}), "unsafe extra file path '../../etc/passwd'"),
    (lambda m: m["extra_files"].append({"path": "db.sqlite3"}), "unsafe extra file path 'db.sqlite3'"),
    (lambda m: m["directories"].append({"path": "../outside"}), "unsafe directory path '../outside'"),
])
def test_manifest_paths_leading_out_are_refused_and_nothing_changes(backed_up, tmp_path, change, message):
    data, path, _original, _db = backed_up
    _mutate(data)
    rewrite_manifest(path, change)
    before = (tree_state(str(data)), sorted(os.listdir(str(tmp_path))))
    with pytest.raises(BackupError) as raised:
        backup.restore_backup(path, str(data), now=at(30))
    assert message in str(raised.value)
    assert "refusing to restore it" in str(raised.value) and "restore an older backup" in str(raised.value)
    assert (tree_state(str(data)), sorted(os.listdir(str(tmp_path)))) == before
    assert not (tmp_path / "x").exists()


def test_relative_path_through_a_symlink_in_data_dir_is_refused(backed_up, tmp_path):
    data, path, _original, _db = backed_up
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "db.sqlite3").write_bytes(b"not yours")
    os.symlink(str(outside), str(data / "sub"))
    rewrite_manifest(path, lambda m: m["sqlite"].update(relative_path="sub/db.sqlite3"))
    before = (tree_state(str(data)), tree_state(str(outside)))
    with pytest.raises(BackupError) as raised:
        backup.restore_backup(path, str(data), now=at(30))
    message = str(raised.value)
    assert "sqlite.relative_path 'sub/db.sqlite3'" in message
    assert "resolves to %s" % (outside / "db.sqlite3") in message
    assert "outside data_dir %s" % data in message
    assert "replace the link by the real file" in message and "nothing was changed" in message
    assert (tree_state(str(data)), tree_state(str(outside))) == before


def test_a_data_dir_entry_that_links_out_is_refused(backed_up, tmp_path):
    data, path, _original, _db = backed_up
    outside = tmp_path / "secret-config.json"
    outside.write_bytes(b"someone else's file")
    os.unlink(data / "config.json")
    os.symlink(str(outside), str(data / "config.json"))
    before = tree_state(str(data))
    with pytest.raises(BackupError, match="path 'config.json' of the backup resolves to %s" % outside):
        backup.restore_backup(path, str(data), now=at(30))
    assert tree_state(str(data)) == before
    assert file_bytes(outside) == b"someone else's file"


def test_a_directory_of_the_backup_that_links_out_is_refused(backed_up, tmp_path):
    data, path, _original, _db = backed_up
    _mutate(data)
    # same files, but reached through a link: verification must not read (nor restore) outside the backup
    shutil_copy = tmp_path / "copied-sends"
    os.rename(os.path.join(path, "sends"), str(shutil_copy))
    os.symlink(str(shutil_copy), os.path.join(path, "sends"))
    before = tree_state(str(data))
    with pytest.raises(BackupError, match="'sends/send-1/s1' leads outside the backup through a symbolic link"):
        backup.restore_backup(path, str(data), now=at(30))
    assert tree_state(str(data)) == before


def test_an_explicit_sqlite_path_outside_data_dir_is_the_callers_choice(backed_up, tmp_path):
    data, path, _original, original_db = backed_up
    target = tmp_path / "elsewhere" / "vault.db"
    target.parent.mkdir()
    result = backup.restore_backup(path, str(data), sqlite_path=str(target), now=at(30))
    assert str(target) in result["restored"]
    assert database_content(str(target)) == original_db


def test_backup_dir_inside_data_dir_through_a_symlink_is_refused(tmp_path):
    data = make_data_dir(tmp_path)
    os.symlink(str(data), str(tmp_path / "link"))
    before = tree_state(str(data))
    with pytest.raises(BackupError) as raised:
        backup.create_backup(str(data), str(tmp_path / "link" / "backups"))
    message = str(raised.value)
    assert "backup_dir %s is inside data_dir %s" % (tmp_path / "link" / "backups", data) in message
    assert "resolving symbolic links" in message and "put backups beside the data directory" in message
    assert tree_state(str(data)) == before


def test_data_dir_given_as_a_link_with_backups_inside_is_refused(tmp_path):
    data = make_data_dir(tmp_path)
    os.symlink(str(data), str(tmp_path / "link"))
    with pytest.raises(BackupError, match="is inside data_dir"):
        backup.create_backup(str(tmp_path / "link"), str(data / "backups"))
    assert not (data / "backups").exists()


# ---------------------------------------------------------------------------------------------
# Leftovers of killed runs


def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def leftover(directory, name, owner=None, age=0):
    path = os.path.join(str(directory), backup.TEMP_PREFIX + name)
    os.makedirs(os.path.join(path, "attachments"))
    with open(os.path.join(path, "config.json"), "w") as handle:
        handle.write('{"admin_token": "copy of a secret"}')
    if owner is not None:
        with open(os.path.join(path, backup.OWNER_NAME), "w") as handle:
            json.dump(owner, handle)
    if age:
        moment = time.time() - age
        for entry in (os.path.join(path, backup.OWNER_NAME), path):
            if os.path.exists(entry):
                os.utime(entry, (moment, moment))
    return path


def test_leftover_of_a_dead_run_is_removed_and_reported(tmp_path):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    owner = dict(backup.owner_record(), pid=dead_pid(), start_ticks=None)
    gone = leftover(backups, "dead", owner)
    reused = leftover(backups, "reused", dict(backup.owner_record(), start_ticks=backup.owner_record()["start_ticks"] + 1))
    rebooted = leftover(backups, "rebooted", dict(backup.owner_record(), boot_id="another-boot"))
    alive = leftover(backups, "alive", backup.owner_record())
    result = backup.create_backup(str(data), str(backups))
    assert sorted(result["leftovers_removed"]) == sorted([gone, reused, rebooted])
    for path in (gone, reused, rebooted):
        assert not os.path.exists(path)
    assert os.path.isdir(alive), "the owner is still running"
    assert any(gone in warning and "removed" in warning and "is gone" in warning for warning in result["warnings"])
    assert any(alive in warning and "kept because its process %d is still running" % os.getpid() in warning
               for warning in result["warnings"])
    assert result["backup_path"] and os.path.isdir(result["backup_path"])


def test_leftover_without_owner_is_removed_only_when_old(tmp_path):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    old = leftover(backups, "old", age=backup.LEFTOVER_MAX_AGE + 60)
    young = leftover(backups, "young", age=60)
    other_host = leftover(backups, "other-host", dict(backup.owner_record(), host="another-host"), age=60)
    old_other_host = leftover(backups, "old-other-host", dict(backup.owner_record(), host="another-host"),
                              age=backup.LEFTOVER_MAX_AGE + 60)
    result = backup.create_backup(str(data), str(backups))
    assert sorted(result["leftovers_removed"]) == sorted([old, old_other_host])
    assert os.path.isdir(young) and os.path.isdir(other_host)
    assert any(other_host in warning and "another host (another-host)" in warning for warning in result["warnings"])


def test_leftover_cleaning_never_touches_what_is_not_ours(tmp_path):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    target = tmp_path / "precious"
    target.mkdir()
    (target / "keep").write_text("keep")
    old = time.time() - 10 * backup.LEFTOVER_MAX_AGE
    os.symlink(str(target), str(backups / (backup.TEMP_PREFIX + "link")))
    (backups / (backup.TEMP_PREFIX + "file")).write_text("a file, not our directory")
    (backups / "tmp-vaultwarden-backup-not-hidden").mkdir()
    for name in (backup.TEMP_PREFIX + "file", "tmp-vaultwarden-backup-not-hidden"):
        os.utime(str(backups / name), (old, old))
    before = tree_state(str(target))
    result = backup.create_backup(str(data), str(backups))
    assert result["leftovers_removed"] == []
    assert tree_state(str(target)) == before
    assert os.path.islink(str(backups / (backup.TEMP_PREFIX + "link")))
    assert (backups / (backup.TEMP_PREFIX + "file")).exists() and (backups / "tmp-vaultwarden-backup-not-hidden").is_dir()


def test_leftover_cleaning_in_check_mode_only_reports(tmp_path):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    gone = leftover(backups, "dead", dict(backup.owner_record(), pid=dead_pid(), start_ticks=None))
    before = tree_state(str(backups))
    result = backup.create_backup(str(data), str(backups), check_mode=True)
    assert result["leftovers_removed"] == [gone]
    assert any("would be removed" in warning for warning in result["warnings"])
    assert tree_state(str(backups)) == before


def test_a_killed_restore_leaves_staging_that_the_next_run_removes(backed_up):
    data, path, _original, _db = backed_up
    staging = os.path.join(str(data), backup.STAGING_PREFIX + "killed")
    os.makedirs(os.path.join(staging, "000"))
    with open(os.path.join(staging, backup.OWNER_NAME), "w") as handle:
        json.dump(dict(backup.owner_record(), pid=dead_pid(), start_ticks=None), handle)
    result = backup.restore_backup(path, str(data), now=at(30))
    assert result["leftovers_removed"] == [staging]
    assert not os.path.exists(staging)


def test_a_running_backup_writes_its_owner_and_publishes_without_it(tmp_path, monkeypatch):
    data = make_data_dir(tmp_path)
    seen = []
    real_fill = backup._fill_backup

    def spy(temp_dir, *args):
        seen.append(json.loads(file_bytes(os.path.join(temp_dir, backup.OWNER_NAME))))
        seen.append(backup.leftover_state(temp_dir))
        return real_fill(temp_dir, *args)

    monkeypatch.setattr(backup, "_fill_backup", spy)
    result = backup.create_backup(str(data), str(tmp_path / "backups"))
    assert seen[0]["pid"] == os.getpid() and seen[0]["host"] == socket.gethostname()
    assert seen[1][0] == "alive"
    assert not os.path.exists(os.path.join(result["backup_path"], backup.OWNER_NAME))
    assert stat.S_IMODE(os.stat(tmp_path / "backups").st_mode) == 0o700


# ---------------------------------------------------------------------------------------------
# Pre-restore copies


def test_only_the_newest_pre_restore_copies_are_kept(backed_up):
    data, path, _original, _db = backed_up
    asides = []
    for minute in range(3):
        (data / "config.json").write_text('{"round": %d}' % minute)
        result = backup.restore_backup(path, str(data), now=at(30 + minute))
        asides.append(result["moved_aside"])
        assert result["pre_restore_pruned"] == (asides[-2:-1] if minute else [])
    remaining = sorted(name for name in os.listdir(str(data)) if name.startswith(backup.PRE_RESTORE_PREFIX))
    assert remaining == [os.path.basename(asides[-1])]
    assert file_bytes(os.path.join(asides[-1], "config.json")) == b'{"round": 2}'
    marker = json.loads(file_bytes(os.path.join(asides[-1], backup.PRE_RESTORE_MARKER)))
    assert marker["format"] == backup.PRE_RESTORE_FORMAT and marker["backup_path"] == path


@pytest.mark.parametrize("retention, kept", [(0, 3), (2, 2)])
def test_pre_restore_retention(backed_up, retention, kept):
    data, path, _original, _db = backed_up
    for minute in range(3):
        (data / "config.json").write_text('{"round": %d}' % minute)
        backup.restore_backup(path, str(data), now=at(30 + minute), pre_restore_retention=retention)
    assert len(backup.list_pre_restore(str(data))) == kept


def test_pre_restore_copies_we_did_not_mark_are_never_removed(backed_up, tmp_path):
    data, path, _original, _db = backed_up
    by_hand = data / ".pre-restore-20200101T000000Z"          # an earlier version made it, or someone by hand
    by_hand.mkdir()
    (by_hand / "db.sqlite3").write_bytes(b"old vault")
    lookalike = data / ".pre-restore-notes"
    lookalike.mkdir()
    for minute in range(3):
        (data / "config.json").write_text('{"round": %d}' % minute)
        backup.restore_backup(path, str(data), now=at(30 + minute))
    assert file_bytes(by_hand / "db.sqlite3") == b"old vault"
    assert lookalike.is_dir()
    result = backup.create_backup(str(data), str(tmp_path / "backups"))
    assert any(str(by_hand) in warning and "never removed automatically" in warning for warning in result["warnings"])


def test_backup_prunes_pre_restore_copies_too_and_check_mode_only_reports(backed_up, tmp_path):
    data, path, _original, _db = backed_up
    for minute in range(2):
        (data / "config.json").write_text('{"round": %d}' % minute)
        backup.restore_backup(path, str(data), now=at(30 + minute), pre_restore_retention=0)
    [newest, oldest] = [entry["path"] for entry in backup.list_pre_restore(str(data))]
    before = tree_state(str(data))
    check = backup.create_backup(str(data), str(tmp_path / "backups"), check_mode=True)
    assert check["pre_restore_pruned"] == [oldest]
    assert tree_state(str(data)) == before
    result = backup.create_backup(str(data), str(tmp_path / "backups"))
    assert result["pre_restore_pruned"] == [oldest]
    assert not os.path.exists(oldest) and os.path.isdir(newest)


# ---------------------------------------------------------------------------------------------
# Dumps moved into the backup


def test_move_extra_files_leaves_no_plain_dump_behind(tmp_path):
    data = make_data_dir(tmp_path)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "vaultwarden.sql").write_text("INSERT INTO users VALUES ('secret');")
    os.chmod(dumps / "vaultwarden.sql", 0o644)
    (dumps / "parts").mkdir()
    (dumps / "parts" / "1.sql").write_text("-- part")
    result = backup.create_backup(str(data), str(tmp_path / "backups"), database="mysql", move_extra_files=True,
                                  extra_files=[str(dumps / "vaultwarden.sql"), str(dumps / "parts")])
    assert result["extra_files_removed"] == [str(dumps / "vaultwarden.sql"), str(dumps / "parts")]
    assert os.listdir(str(dumps)) == []
    copy = os.path.join(result["backup_path"], "extra", "vaultwarden.sql")
    assert file_bytes(copy) == b"INSERT INTO users VALUES ('secret');"
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
    assert file_bytes(os.path.join(result["backup_path"], "extra", "parts", "1.sql")) == b"-- part"
    assert backup.verify_backup(result["backup_path"])


def test_without_move_extra_files_the_dump_stays(tmp_path):
    data = make_data_dir(tmp_path)
    (tmp_path / "dump.sql").write_text("--")
    result = backup.create_backup(str(data), str(tmp_path / "backups"), extra_files=[str(tmp_path / "dump.sql")])
    assert result["extra_files_removed"] == []
    assert (tmp_path / "dump.sql").exists()


def test_a_dump_that_changed_during_the_backup_is_not_removed(tmp_path, monkeypatch):
    data = make_data_dir(tmp_path)
    dump = tmp_path / "dump.sql"
    dump.write_text("first dump")
    real_publish = backup._publish

    def publish_while_a_new_dump_lands(*args):
        dump.write_text("a newer dump, not in the backup")
        return real_publish(*args)

    monkeypatch.setattr(backup, "_publish", publish_while_a_new_dump_lands)
    result = backup.create_backup(str(data), str(tmp_path / "backups"), extra_files=[str(dump)], move_extra_files=True)
    assert result["extra_files_removed"] == []
    assert file_bytes(dump) == b"a newer dump, not in the backup"
    assert any("changed while it was backed up" in warning and str(dump) in warning for warning in result["warnings"])


def test_move_extra_files_check_mode_only_reports(tmp_path):
    data = make_data_dir(tmp_path)
    (tmp_path / "dump.sql").write_text("--")
    result = backup.create_backup(str(data), str(tmp_path / "backups"), extra_files=[str(tmp_path / "dump.sql")],
                                  move_extra_files=True, check_mode=True)
    assert result["extra_files_removed"] == [str(tmp_path / "dump.sql")]
    assert (tmp_path / "dump.sql").exists()
    assert not (tmp_path / "backups").exists()


@pytest.mark.parametrize("inside", ["data", "backups"])
def test_move_extra_files_refuses_files_of_data_dir_or_backups(tmp_path, inside):
    data = make_data_dir(tmp_path)
    (tmp_path / "backups").mkdir(mode=0o700)
    victim = data / "config.json" if inside == "data" else tmp_path / "backups" / "notes.txt"
    victim.write_text("keep me")
    before = (tree_state(str(data)), tree_state(str(tmp_path / "backups")))
    with pytest.raises(BackupError) as raised:
        backup.create_backup(str(data), str(tmp_path / "backups"), extra_files=[str(victim)], move_extra_files=True)
    message = str(raised.value)
    assert "extra file %s is inside" % victim in message
    assert "move_extra_files would delete it" in message and "set move_extra_files to false" in message
    assert (tree_state(str(data)), tree_state(str(tmp_path / "backups"))) == before


# ---------------------------------------------------------------------------------------------
# A full disk is named as such


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 1 MiB filesystem (tmpfs); needs mount rights (root), else the test is skipped."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mountpoint)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % mounted.stderr.strip())
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def assert_names_the_disk_not_the_database(message, where):
    assert message.startswith("no space left on %s (" % where), message
    assert re.search(r"\((\d+) bytes free(?: now)?, (backup|restore) needs about (\d+)", message), message
    assert "healthy vaultwarden database" not in message and "SQLite backup of" not in message


def test_full_disk_is_refused_before_starting(tmp_path, tiny_disk):
    data = make_data_dir(tmp_path, padding_rows=600)          # ~2.5 MB database
    backups = tiny_disk / "backups"
    with pytest.raises(BackupError) as raised:
        backup.create_backup(str(data), str(backups))
    message = str(raised.value)
    assert_names_the_disk_not_the_database(message, backups)
    free, needed = [int(number) for number in re.search(r"\((\d+) bytes free, backup needs about (\d+)", message).groups()]
    assert free <= 1024 * 1024 < needed
    assert "lower retention or set backup_dir to a larger disk" in message and "no backup was started" in message
    assert os.listdir(str(tiny_disk)) == []


@pytest.mark.parametrize("big", ["database", "attachment"])
def test_disk_filling_up_during_the_copy_blames_the_disk(tmp_path, tiny_disk, monkeypatch, big):
    """The estimate is made to fit, so the kernel's real ENOSPC (SQLITE_FULL for the database copy) is hit."""
    data = make_data_dir(tmp_path, padding_rows=600 if big == "database" else 0)
    if big == "attachment":
        (data / "attachments" / "cipher-1" / "big").write_bytes(os.urandom(2 * 1024 * 1024))
    monkeypatch.setattr(backup, "_estimate_size", lambda items: 1000)
    backups = tiny_disk / "backups"
    with pytest.raises(BackupError) as raised:
        backup.create_backup(str(data), str(backups))
    message = str(raised.value)
    assert_names_the_disk_not_the_database(message, backups)
    assert "the temporary backup directory was removed" in message
    assert os.listdir(str(backups)) == []
    assert_consistent(str(data / "db.sqlite3"))


def test_restore_onto_a_full_disk_changes_nothing(backed_up, tmp_path, tiny_disk):
    _data, path, _original, _db = backed_up
    with open(os.path.join(path, "attachments", "cipher-1", "a1"), "rb") as handle:
        assert handle.read()
    target = tiny_disk / "data"
    target.mkdir()
    (target / "filler").write_bytes(os.urandom(1000 * 1024))
    before = tree_state(str(target))
    with pytest.raises(BackupError) as raised:
        backup.restore_backup(path, str(target))
    assert_names_the_disk_not_the_database(str(raised.value), target)
    assert "nothing was changed" in str(raised.value)
    assert tree_state(str(target)) == before


def test_full_disk_without_mount_rights(tmp_path, monkeypatch):
    """The same message when ENOSPC comes from a write (simulated), for machines where tmpfs cannot be mounted."""
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"

    def full(source, dest, mode):
        raise OSError(errno.ENOSPC, "No space left on device", dest)

    monkeypatch.setattr(backup, "_copy_file", full)
    with pytest.raises(BackupError) as raised:
        backup.create_backup(str(data), str(backups), database="postgresql")
    assert_names_the_disk_not_the_database(str(raised.value), backups)
    assert os.listdir(str(backups)) == []
    monkeypatch.setattr(backup, "free_bytes", lambda path: 10)
    with pytest.raises(BackupError, match=r"\(10 bytes free, backup needs about \d+\)"):
        backup.create_backup(str(data), str(backups))
