# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vaultwarden_backup_info module run for real: a subprocess fed JSON arguments, as Ansible runs it.

The backups it lists are taken with the real vaultwarden_backup module, so the two stay in step.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys

import pytest

# module_runner.py sits beside this file.
import module_runner as runner  # pylint: disable=import-error

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
MODULES = "ansible_collections.homelab.vaultwarden.plugins.modules."
INFO_FILE = "plugins/modules/vaultwarden_backup_info.py"
PYTHON38 = next(iter(sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python"))) + glob.glob("/usr/bin/python3.8")), None)


def run(module, args, check_mode=False):
    return runner.run_module(module, args, check_mode)


def info(args, check_mode=False):
    return run("vaultwarden_backup_info", args, check_mode)


def backup(args):
    result = run("vaultwarden_backup", args)
    assert result["rc"] == 0 and result["backup_path"], result
    return result


def make_data_dir(root, name="data"):
    data = os.path.join(str(root), name)
    os.makedirs(os.path.join(data, "attachments", "cipher-1"))
    connection = sqlite3.connect(os.path.join(data, "db.sqlite3"))
    with connection:
        connection.execute("CREATE TABLE ciphers (id INTEGER PRIMARY KEY, data BLOB)")
        connection.execute("INSERT INTO ciphers (data) VALUES (?)", (os.urandom(500),))
    connection.close()
    for relpath, content in {"config.json": b'{"admin_token": "secret-admin-token-value"}',
                             "rsa_key.pem": os.urandom(1200),
                             "attachments/cipher-1/att-1": os.urandom(3000)}.items():
        with open(os.path.join(data, relpath), "wb") as handle:
            handle.write(content)
    return data


def tree_state(root):
    state = {}
    for current, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(current, name)
            info_ = os.lstat(path)
            digest = None
            if stat.S_ISREG(info_.st_mode):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            state[os.path.relpath(path, root)] = (stat.S_IMODE(info_.st_mode), digest, info_.st_mtime_ns)
    return state


@pytest.fixture
def two_servers(tmp_path):
    """Backups of two data directories in one backup_dir, plus things that are not backups."""
    first = make_data_dir(tmp_path, "first")
    second = make_data_dir(tmp_path, "second")
    backups = str(tmp_path / "backups")
    taken = [backup({"data_dir": first, "backup_dir": backups, "label": "a", "retention": 0}),
             backup({"data_dir": second, "backup_dir": backups, "label": "other", "retention": 0}),
             backup({"data_dir": first, "backup_dir": backups, "label": "b", "retention": 0})]
    os.makedirs(os.path.join(backups, "notes"))
    with open(os.path.join(backups, "notes", "manifest.json"), "w") as handle:
        json.dump({"format": "something.else", "format_version": 1, "files": []}, handle)
    os.makedirs(os.path.join(backups, ".tmp-vaultwarden-backup-interrupted"))
    return {"first": first, "second": second, "backups": backups, "taken": taken}


@pytest.mark.parametrize("check_mode", [False, True], ids=["normal", "check_mode"])
def test_lists_every_backup_newest_first_and_changes_nothing(two_servers, check_mode):
    backups = two_servers["backups"]
    taken = two_servers["taken"]
    before = tree_state(backups)

    result = info({"backup_dir": backups}, check_mode=check_mode)

    assert result["rc"] == 0, result
    assert result["changed"] is False
    assert [entry["path"] for entry in result["backups"]] == [taken[2]["backup_path"], taken[1]["backup_path"], taken[0]["backup_path"]]
    assert [entry["label"] for entry in result["backups"]] == ["b", "other", "a"]
    assert [entry["manifest"] for entry in result["backups"]] == [taken[2]["manifest"], taken[1]["manifest"], taken[0]["manifest"]]
    newest = result["backups"][0]
    assert newest["name"] == os.path.basename(taken[2]["backup_path"])
    assert newest["data_dir"] == two_servers["first"]
    assert newest["database"] == "sqlite"
    assert newest["created_at"] == taken[2]["manifest"]["created_at"]
    assert newest["total_size"] == taken[2]["manifest"]["total_size"] > 0
    assert result["msg"] == "3 backup(s) in %s, 1 leftover(s)" % backups
    assert result["leftovers"] == [{"path": os.path.join(backups, ".tmp-vaultwarden-backup-interrupted"),
                                    "kind": "backup_temporary", "state": "young",
                                    "reason": result["leftovers"][0]["reason"]}]
    assert "may still be running" in result["leftovers"][0]["reason"]
    assert "secret-admin-token-value" not in json.dumps(result), "file contents never appear in the result"
    assert tree_state(backups) == before


@pytest.mark.parametrize("server, labels", [("first", ["b", "a"]), ("second", ["other"])])
def test_data_dir_keeps_only_that_servers_backups(two_servers, server, labels):
    result = info({"backup_dir": two_servers["backups"], "data_dir": two_servers[server]})
    assert result["rc"] == 0 and result["changed"] is False
    assert [entry["label"] for entry in result["backups"]] == labels
    assert {entry["data_dir"] for entry in result["backups"]} == {two_servers[server]}


def test_data_dir_is_compared_as_an_absolute_normalised_path(two_servers):
    relative = os.path.relpath(two_servers["second"], ROOT) + "/"
    result = info({"backup_dir": two_servers["backups"], "data_dir": relative})
    assert [entry["label"] for entry in result["backups"]] == ["other"]


def test_missing_backup_dir_lists_nothing_and_is_not_created(tmp_path):
    missing = str(tmp_path / "never-backed-up")
    result = info({"backup_dir": missing}, check_mode=True)
    assert result["rc"] == 0 and result["changed"] is False
    assert result["backups"] == []
    assert result["msg"] == "0 backup(s) in %s" % missing
    assert not os.path.exists(missing)


def test_a_listed_path_restores(two_servers):
    """The documented workflow: restore backups[0].path as returned by the info module."""
    first = two_servers["first"]
    with open(os.path.join(first, "config.json"), "wb") as handle:
        handle.write(b"{}")
    newest = info({"backup_dir": two_servers["backups"], "data_dir": first})["backups"][0]
    restored = run("vaultwarden_backup", {"state": "restore", "backup_path": newest["path"], "data_dir": first})
    assert restored["rc"] == 0, restored
    assert os.path.join(first, "config.json") in restored["restored"]
    with open(os.path.join(first, "config.json"), "rb") as handle:
        assert handle.read() == b'{"admin_token": "secret-admin-token-value"}'


def test_leftovers_of_restores_are_listed_with_data_dir(two_servers):
    first = two_servers["first"]
    newest = info({"backup_dir": two_servers["backups"], "data_dir": first})["backups"][0]
    for content in (b"{}", b'{"again": 1}'):
        with open(os.path.join(first, "config.json"), "wb") as handle:
            handle.write(content)
        restored = run("vaultwarden_backup", {"state": "restore", "backup_path": newest["path"], "data_dir": first,
                                              "pre_restore_retention": 0})
        assert restored["rc"] == 0, restored
    os.makedirs(os.path.join(first, ".pre-restore-20200101T000000Z"))
    staging = os.path.join(first, ".restore-staging-killed")
    os.makedirs(staging)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with open(os.path.join(staging, ".owner.json"), "w") as handle:
        json.dump({"pid": dead.pid, "host": socket.gethostname()}, handle)
    before = tree_state(first)

    result = info({"backup_dir": two_servers["backups"], "data_dir": first})

    assert tree_state(first) == before
    kinds = [(entry["kind"], entry["state"], os.path.basename(entry["path"])) for entry in result["leftovers"]]
    assert kinds[:2] == [("backup_temporary", "young", ".tmp-vaultwarden-backup-interrupted"),
                         ("restore_staging", "dead", ".restore-staging-killed")]
    pre_restore = [kind for kind in kinds if kind[0] == "pre_restore"]
    assert [state for _kind, state, _name in pre_restore] == ["ours", "ours", "unmarked"]
    assert pre_restore[-1][2] == ".pre-restore-20200101T000000Z"
    assert result["msg"].endswith(", 5 leftover(s)")


@pytest.mark.parametrize("args, message", [
    ({}, "missing required arguments: backup_dir"),
    ({"data_dir": "/srv/data"}, "missing required arguments: backup_dir"),
    ({"backup_dir": "/srv/b", "state": "list"}, "Unsupported parameters"),
])
def test_bad_arguments_fail(args, message):
    result = info(args)
    assert result["rc"] != 0 and result["failed"] is True
    assert message in result["msg"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
def test_unreadable_backup_dir_fails_with_the_fix(tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    backups.chmod(0o300)
    try:
        result = info({"backup_dir": str(backups)})
    finally:
        backups.chmod(0o700)
    assert result["rc"] != 0 and result["failed"] is True
    assert str(backups) in result["msg"] and "Permission denied" in result["msg"] and "become" in result["msg"]


def test_host_side_code_parses_as_python_3_8():
    with open(os.path.join(ROOT, INFO_FILE)) as handle:
        ast.parse(handle.read(), filename=INFO_FILE, feature_version=(3, 8))


@pytest.mark.ansible
def test_runs_in_check_mode_through_ansible(two_servers):
    """The real path: ansible packs the module with its module_utils and runs it (check mode, host Python 3.8 when present)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    completed = subprocess.run(
        ["ansible", "localhost", "-c", "local", "-e", "ansible_python_interpreter=%s" % (PYTHON38 or sys.executable), "-o", "--check",
         "-m", "homelab.vaultwarden.vaultwarden_backup_info", "-a", "backup_dir=%s" % two_servers["backups"]],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads(completed.stdout.split(" => ", 1)[1])
    assert result["changed"] is False
    assert [entry["label"] for entry in result["backups"]] == ["b", "other", "a"]
