# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vaultwarden_backup module run for real: a subprocess fed JSON arguments, as Ansible runs it."""

from __future__ import annotations

import ast
import glob
import hashlib
import json
import os
import re
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest

# module_runner.py sits beside this file.
import module_runner as runner  # pylint: disable=import-error

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
MODULE = "ansible_collections.homelab.vaultwarden.plugins.modules.vaultwarden_backup"
MODULES_INFO = MODULE + "_info"
HOST_FILES = ("plugins/modules/vaultwarden_backup.py", "plugins/module_utils/backup.py")
PYTHON38 = next(iter(sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python"))) + glob.glob("/usr/bin/python3.8")), None)

# A stand-in for the vaultwarden server: commits batches of 10 rows plus a counter in one transaction,
# so any consistent snapshot has rows == counter and only whole batches.
WRITER = textwrap.dedent("""
    import os, sqlite3, sys, time
    db, stop, progress = sys.argv[1:4]
    connection = sqlite3.connect(db, timeout=60)
    commits = 0
    while not os.path.exists(stop):
        with connection:
            batch = connection.execute("SELECT n FROM counter").fetchone()[0] // 10
            connection.executemany("INSERT INTO ciphers (batch, data) VALUES (?, ?)", [(batch, os.urandom(200))] * 10)
            connection.execute("UPDATE counter SET n = n + 10")
        commits += 1
        with open(progress, "a") as handle:
            handle.write("%f\\n" % time.time())
    connection.close()
""")


def run_module(args, check_mode=False, python=None, preexec_fn=None):
    return runner.run_module("vaultwarden_backup", args, check_mode, python=python, preexec_fn=preexec_fn)


warnings_of = runner.warnings_of


def make_data_dir(root, journal_mode="wal", padding_rows=0):
    data = os.path.join(str(root), "data")
    os.makedirs(os.path.join(data, "attachments", "cipher-1"))
    os.makedirs(os.path.join(data, "sends", "send-1"))
    connection = sqlite3.connect(os.path.join(data, "db.sqlite3"))
    connection.execute("PRAGMA journal_mode=%s" % journal_mode)
    connection.executescript("""
        CREATE TABLE ciphers (id INTEGER PRIMARY KEY, batch INTEGER NOT NULL, data BLOB);
        CREATE TABLE counter (n INTEGER NOT NULL);
        INSERT INTO counter VALUES (0);
        CREATE TABLE padding (id INTEGER PRIMARY KEY, data BLOB);
    """)
    with connection:
        connection.executemany("INSERT INTO padding (data) VALUES (?)", ((os.urandom(4000),) for _count in range(padding_rows)))
    connection.close()
    files = {
        "config.json": b'{"admin_token": "secret-admin-token-value"}',
        "rsa_key.pem": os.urandom(1200),
        "rsa_key.pub.pem": os.urandom(400),
        "attachments/cipher-1/att-1": os.urandom(300000),
        "sends/send-1/file": os.urandom(5000),
    }
    for relpath, content in files.items():
        with open(os.path.join(data, relpath), "wb") as handle:
            handle.write(content)
    return data


def consistent_count(path):
    connection = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = connection.execute("SELECT count(*) FROM ciphers").fetchone()[0]
        counter = connection.execute("SELECT n FROM counter").fetchone()[0]
        torn = connection.execute("SELECT batch FROM ciphers GROUP BY batch HAVING count(*) != 10").fetchall()
    finally:
        connection.close()
    assert rows == counter and torn == [], "not a transaction-consistent snapshot: rows %d, counter %d" % (rows, counter)
    return counter


def tree_state(root):
    state = {}
    for current, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(current, name)
            info = os.lstat(path)
            digest = None
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            state[os.path.relpath(path, root)] = (stat.S_IMODE(info.st_mode), digest)
    return state


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_backup_while_a_separate_process_writes(tmp_path, journal_mode):
    data = make_data_dir(tmp_path, journal_mode, padding_rows=8000)   # ~33 MB, so the copy overlaps many commits
    db = os.path.join(data, "db.sqlite3")
    stop = str(tmp_path / "stop")
    progress = str(tmp_path / "progress")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, db, stop, progress])
    try:
        deadline = time.time() + 30
        while (not os.path.exists(progress) or len(read(progress).splitlines()) < 20) and time.time() < deadline:
            time.sleep(0.02)
        started = time.time()
        result = run_module({"data_dir": data, "backup_dir": str(tmp_path / "backups"), "label": "live"})
        finished = time.time()
        time.sleep(0.1)
    finally:
        open(stop, "w").close()
        writer.wait(timeout=60)
    assert writer.returncode == 0
    assert result["rc"] == 0, result
    assert result["changed"] is True
    commit_times = [float(line) for line in read(progress).split()]
    assert any(started < moment < finished for moment in commit_times), "the writer must commit while the module runs"
    copied = consistent_count(os.path.join(result["backup_path"], "db.sqlite3"))
    final = consistent_count(db)
    assert 200 <= copied < final
    assert result["manifest"]["sqlite"]["integrity_check"] == "ok"
    assert "secret-admin-token-value" not in json.dumps(result), "secrets never appear in the result"


def test_backup_restore_round_trip(tmp_path):
    data = make_data_dir(tmp_path)
    backups = str(tmp_path / "backups")
    original = tree_state(data)
    taken = run_module({"data_dir": data, "backup_dir": backups, "label": "1.32.0-to-1.35.1"})
    assert taken["rc"] == 0 and taken["changed"] is True
    path = taken["backup_path"]
    assert os.path.basename(path).endswith("Z-1.32.0-to-1.35.1")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(path, "config.json")).st_mode) == 0o600

    # what an upgraded server does to the data directory
    connection = sqlite3.connect(os.path.join(data, "db.sqlite3"))
    with connection:
        connection.execute("CREATE TABLE newer_schema (x)")
        connection.execute("UPDATE counter SET n = 999")
    connection.close()
    with open(os.path.join(data, "config.json"), "wb") as handle:
        handle.write(b"{}")
    os.makedirs(os.path.join(data, "attachments", "cipher-9"))
    with open(os.path.join(data, "attachments", "cipher-9", "x"), "wb") as handle:
        handle.write(b"newer")

    restored = run_module({"state": "restore", "backup_path": path, "data_dir": data})
    assert restored["rc"] == 0, restored
    assert restored["changed"] is True
    now = {relpath: value for relpath, value in tree_state(data).items() if not relpath.startswith(".pre-restore-")}
    for relpath, value in original.items():
        if not relpath.startswith("db.sqlite3"):
            assert now[relpath] == value, relpath
    assert read(os.path.join(data, "db.sqlite3")) == read(os.path.join(path, "db.sqlite3"))
    assert "attachments/cipher-9" not in now
    assert read(os.path.join(restored["moved_aside"], "attachments", "cipher-9", "x")) == b"newer"

    again = run_module({"state": "restore", "backup_path": path, "data_dir": data})
    assert again["rc"] == 0 and again["changed"] is False


def test_check_mode_changes_nothing(tmp_path):
    data = make_data_dir(tmp_path)
    backups = str(tmp_path / "backups")
    for _count in range(2):
        assert run_module({"data_dir": data, "backup_dir": backups, "retention": 0})["rc"] == 0
    path = sorted(os.listdir(backups))[0]
    with open(os.path.join(data, "config.json"), "wb") as handle:
        handle.write(b"{}")
    before = (tree_state(data), tree_state(backups))

    backup_result = run_module({"data_dir": data, "backup_dir": backups, "retention": 1}, check_mode=True)
    restore_result = run_module({"state": "restore", "backup_path": os.path.join(backups, path), "data_dir": data}, check_mode=True)

    assert (tree_state(data), tree_state(backups)) == before
    assert backup_result["changed"] is True and backup_result["backup_path"] is None
    assert len(backup_result["pruned"]) == 2
    assert restore_result["changed"] is True
    # the live database is not byte-identical to its SQLite copy (header counters), so it is part of the restore
    assert sorted(restore_result["restored"]) == [os.path.join(data, "config.json"), os.path.join(data, "db.sqlite3")]


def test_failure_mid_copy_leaves_no_partial_backup(tmp_path):
    """A file size limit makes writing the 300 kB attachment fail (EFBIG) halfway through the backup."""
    data = make_data_dir(tmp_path)
    backups = str(tmp_path / "backups")
    os.makedirs(backups)

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000))

    result = run_module({"data_dir": data, "backup_dir": backups}, preexec_fn=limit_file_size)
    assert result["rc"] != 0
    assert result["failed"] is True
    assert "File too large" in result["msg"] and "temporary backup directory was removed" in result["msg"]
    assert os.listdir(backups) == [], "neither a partial backup nor its temporary directory may stay"


def test_corrupt_backup_is_refused_and_nothing_changes(tmp_path):
    data = make_data_dir(tmp_path)
    path = run_module({"data_dir": data, "backup_dir": str(tmp_path / "backups")})["backup_path"]
    with open(os.path.join(path, "rsa_key.pem"), "r+b") as handle:
        handle.write(b"\x00\x01")
    with open(os.path.join(data, "config.json"), "wb") as handle:
        handle.write(b"{}")
    before = tree_state(data)
    result = run_module({"state": "restore", "backup_path": path, "data_dir": data})
    assert result["rc"] != 0 and result["failed"] is True
    assert "rsa_key.pem: sha256" in result["msg"] and "refusing to restore" in result["msg"]
    assert tree_state(data) == before


@pytest.mark.parametrize("args, message", [
    ({"state": "backup", "data_dir": "/srv/data"}, "backup_dir"),
    ({"state": "restore", "data_dir": "/srv/data"}, "backup_path"),
    ({"data_dir": "/srv/data", "backup_dir": "/srv/b", "mode": "0600"}, "denies the owner rwx"),
    ({"data_dir": "/srv/data", "backup_dir": "/srv/b", "pre_restore_retention": -1}, "pre_restore_retention -1 must be 0"),
    ({"data_dir": "/srv/data", "backup_dir": "/srv/b", "label": "../x"}, "cannot be part of a directory name"),
    ({"data_dir": "/srv/data", "backup_dir": "/srv/b", "database": "mongodb"}, "mongodb"),
])
def test_bad_arguments_fail_with_the_fix(args, message):
    result = run_module(args)
    assert result["rc"] != 0 and result["failed"] is True
    assert message in result["msg"]


@pytest.mark.parametrize("mode", ["0777", "0750", 511])
def test_a_mode_wider_than_owner_only_is_refused_and_nothing_changes(tmp_path, mode):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    os.chmod(str(backups), 0o1777)
    before = (tree_state(data), tree_state(str(tmp_path)))
    result = run_module({"data_dir": data, "backup_dir": str(backups), "mode": mode})
    assert result["rc"] != 0 and result["failed"] is True
    assert repr(mode) in result["msg"], "names the value"
    assert "gives the group or others access to backups, which hold the whole vault" in result["msg"], "says why"
    assert "remove mode from the task (or set it to '0700')" in result["msg"], "says the fix"
    assert (tree_state(data), tree_state(str(tmp_path))) == before
    assert stat.S_IMODE(os.stat(str(backups)).st_mode) == 0o1777


def test_a_world_writable_backup_root_is_tightened_and_reported(tmp_path):
    data = make_data_dir(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    os.chmod(str(backups), 0o1777)
    result = run_module({"data_dir": data, "backup_dir": str(backups)})
    assert result["rc"] == 0, result
    assert result["tightened"] == [str(backups)]
    assert any("had mode 1777" in warning for warning in warnings_of(result))
    assert stat.S_IMODE(os.stat(str(backups)).st_mode) == 0o700
    for current, _dirnames, filenames in os.walk(result["backup_path"]):
        assert stat.S_IMODE(os.stat(current).st_mode) == 0o700
        for name in filenames:
            assert stat.S_IMODE(os.stat(os.path.join(current, name)).st_mode) == 0o600


def test_the_dump_is_moved_into_the_backup(tmp_path):
    data = make_data_dir(tmp_path)
    dumps = tmp_path / "dumps"
    dumps.mkdir(mode=0o700)
    (dumps / "vaultwarden.sql").write_bytes(b"-- MariaDB dump with every cipher")
    os.chmod(str(dumps / "vaultwarden.sql"), 0o644)
    result = run_module({"data_dir": data, "backup_dir": str(tmp_path / "backups"), "database": "mysql",
                         "extra_files": [str(dumps / "vaultwarden.sql")], "move_extra_files": True})
    assert result["rc"] == 0, result
    assert result["extra_files_removed"] == [str(dumps / "vaultwarden.sql")]
    assert os.listdir(str(dumps)) == []
    copy = os.path.join(result["backup_path"], "extra", "vaultwarden.sql")
    assert read(copy) == b"-- MariaDB dump with every cipher"
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600


# Holds an exclusive lock on a rollback-journal database, so that a backup waits inside the copy.
LOCKER = textwrap.dedent("""
    import os, sqlite3, sys, time
    db, ready, stop = sys.argv[1:4]
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    open(ready, "w").close()
    while not os.path.exists(stop):
        time.sleep(0.02)
    connection.execute("ROLLBACK")
""")


def test_a_killed_backup_leaves_a_temporary_directory_the_next_run_removes(tmp_path):
    data = make_data_dir(tmp_path, journal_mode="delete")
    backups = str(tmp_path / "backups")
    ready, stop = str(tmp_path / "ready"), str(tmp_path / "stop")
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, os.path.join(data, "db.sqlite3"), ready, stop])
    try:
        deadline = time.time() + 30
        while not os.path.exists(ready) and time.time() < deadline:
            time.sleep(0.02)
        env = dict(os.environ, PYTHONPATH=COLLECTIONS)
        killed = subprocess.Popen([sys.executable, "-m", MODULE, json.dumps({"ANSIBLE_MODULE_ARGS": {"data_dir": data, "backup_dir": backups}})],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        owner_files = []
        while not owner_files and time.time() < deadline:
            owner_files = glob.glob(os.path.join(backups, ".tmp-vaultwarden-backup-*", ".owner.json"))
            time.sleep(0.02)
        time.sleep(0.2)   # the copy is now waiting for the lock
        assert killed.poll() is None, "the backup must still be running when it is killed"
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
    finally:
        open(stop, "w").close()
        locker.wait(timeout=30)
    [owner_file] = owner_files
    leftover = os.path.dirname(owner_file)
    assert json.loads(read(owner_file))["pid"] == killed.pid
    assert os.path.isdir(leftover), "SIGKILL leaves the temporary directory behind"

    info = subprocess.run([sys.executable, "-m", MODULES_INFO, json.dumps({"ANSIBLE_MODULE_ARGS": {"backup_dir": backups}})],
                          capture_output=True, text=True, check=False, env=dict(os.environ, PYTHONPATH=COLLECTIONS), cwd=ROOT)
    assert [(entry["path"], entry["state"]) for entry in json.loads(info.stdout)["leftovers"]] == [(leftover, "dead")]

    result = run_module({"data_dir": data, "backup_dir": backups})
    assert result["rc"] == 0, result
    assert result["leftovers_removed"] == [leftover]
    assert any(leftover in warning and "its process %d is gone" % killed.pid in warning for warning in warnings_of(result))
    assert os.listdir(backups) == [os.path.basename(result["backup_path"])]


def test_a_full_disk_is_named_not_blamed_on_the_database(tmp_path):
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % mounted.stderr.strip())
    try:
        data = make_data_dir(tmp_path, padding_rows=500)     # a 2 MB database
        backups = str(mountpoint / "backups")
        result = run_module({"data_dir": data, "backup_dir": backups})
        assert result["rc"] != 0 and result["failed"] is True
        assert result["msg"].startswith("no space left on %s (" % backups), result["msg"]
        free, needed = [int(number) for number in re.search(r"\((\d+) bytes free, backup needs about (\d+)\)", result["msg"]).groups()]
        assert free <= 1024 * 1024 < needed
        assert "database" not in result["msg"].split(";")[0]
        assert os.listdir(str(mountpoint)) == []
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def test_a_manifest_leading_outside_data_dir_is_refused(tmp_path):
    data = make_data_dir(tmp_path)
    path = run_module({"data_dir": data, "backup_dir": str(tmp_path / "backups")})["backup_path"]
    manifest = json.loads(read(os.path.join(path, "manifest.json")))
    manifest["sqlite"]["relative_path"] = "../x"
    with open(os.path.join(path, "manifest.json"), "w") as handle:
        json.dump(manifest, handle)
    with open(os.path.join(data, "config.json"), "wb") as handle:
        handle.write(b"{}")
    before = (tree_state(data), sorted(os.listdir(str(tmp_path))))
    result = run_module({"state": "restore", "backup_path": path, "data_dir": data})
    assert result["rc"] != 0 and result["failed"] is True
    assert "unsafe sqlite.relative_path '../x'" in result["msg"] and "refusing to restore" in result["msg"]
    assert (tree_state(data), sorted(os.listdir(str(tmp_path)))) == before


def test_state_list_is_refused_now_that_vaultwarden_backup_info_lists(tmp_path):
    data = make_data_dir(tmp_path)
    backups = str(tmp_path / "backups")
    before = tree_state(data)
    result = run_module({"state": "list", "data_dir": data, "backup_dir": backups})
    assert result["rc"] != 0 and result["failed"] is True
    assert "value of state must be one of: backup, restore, got: list" in result["msg"]
    assert not os.path.exists(backups), "a refused state must not fall through to taking a backup"
    assert tree_state(data) == before


def test_fresh_install_is_not_a_change(tmp_path):
    result = run_module({"data_dir": str(tmp_path / "data"), "backup_dir": str(tmp_path / "backups")})
    assert result["rc"] == 0
    assert result["changed"] is False and result["backup_path"] is None
    assert "nothing to back up" in result["msg"]


@pytest.mark.parametrize("relpath", HOST_FILES)
def test_host_side_code_parses_as_python_3_8(relpath):
    with open(os.path.join(ROOT, relpath)) as handle:
        ast.parse(handle.read(), filename=relpath, feature_version=(3, 8))


@pytest.mark.ansible
@pytest.mark.skipif(PYTHON38 is None, reason="needs a Python 3.8 interpreter (pyenv or /usr/bin/python3.8)")
def test_runs_under_python_3_8_through_ansible(tmp_path):
    """The real path: ansible packs the module with its module_utils and runs it with the host's Python 3.8."""
    data = make_data_dir(tmp_path)
    backups = str(tmp_path / "backups")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    completed = subprocess.run(
        ["ansible", "localhost", "-c", "local", "-e", "ansible_python_interpreter=%s" % PYTHON38, "-o",
         "-m", "homelab.vaultwarden.vaultwarden_backup", "-a", "data_dir=%s backup_dir=%s label=py38" % (data, backups)],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert '"changed": true' in completed.stdout
    [name] = os.listdir(backups)
    assert name.endswith("Z-py38")
    consistent_count(os.path.join(backups, name, "db.sqlite3"))
