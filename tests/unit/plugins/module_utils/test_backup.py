# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of real data directories with real SQLite databases, some of them written to during the backup."""

from __future__ import annotations

import datetime
import errno
import hashlib
import json
import os
import sqlite3
import stat
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


@pytest.mark.parametrize("value, expected", [
    ("0700", 0o700), ("700", 0o700), ("0750", 0o750), ("0o770", 0o770), (0o700, 0o700), (448, 0o700), ("0777", 0o777),
])
def test_parse_mode_accepts_octal(value, expected):
    assert backup.parse_mode(value) == expected


@pytest.mark.parametrize("value, reason", [
    ("0600", "owner rwx"), ("rwx", "octal"), ("0800", "octal"), ("01777", "outside"), (-1, "outside"), (True, "octal"),
    ("0500", "owner rwx"),
])
def test_parse_mode_refuses_with_the_fix(value, reason):
    with pytest.raises(BackupError, match=reason) as raised:
        backup.parse_mode(value)
    assert "0700" in str(raised.value)


@pytest.mark.parametrize("dir_mode, file_mode", [(0o700, 0o600), (0o750, 0o640), (0o777, 0o666), (0o711, 0o600)])
def test_files_get_the_directory_mode_without_execute(dir_mode, file_mode):
    assert backup.file_mode_for(dir_mode) == file_mode


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


def test_backup_is_private_by_default_and_follows_mode(tmp_path):
    data = make_data_dir(tmp_path)
    for mode, dirs, files in (("0700", 0o700, 0o600), ("0750", 0o750, 0o640)):
        path = backup.create_backup(str(data), str(tmp_path / mode), mode=mode)["backup_path"]
        for current, dirnames, filenames in os.walk(path):
            assert stat.S_IMODE(os.stat(current).st_mode) == dirs
            for name in filenames:
                assert stat.S_IMODE(os.stat(os.path.join(current, name)).st_mode) == files, name


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
    assert backup.stale_temporaries(backups) == [os.path.join(backups, backup.TEMP_PREFIX + "interrupted")]


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
    with pytest.raises(OSError, match="No space left"):
        backup.restore_backup(path, str(data), now=at(30))
    after = {relpath: value for relpath, value in tree_state(str(data)).items() if not relpath.startswith(backup.PRE_RESTORE_PREFIX)}
    assert after == before


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
