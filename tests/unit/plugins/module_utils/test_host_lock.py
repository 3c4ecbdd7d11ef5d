# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease logic of the host lock, on real files, with a clock the tests move."""

from __future__ import annotations

import ast
import glob
import json
import os
import stat
import subprocess

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import host_lock
from ansible_collections.homelab.vaultwarden.plugins.module_utils.host_lock import LockError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PYTHON36 = next(iter(sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.6*/bin/python")))), None)
T0 = 1777111200.0   # 2026-04-25T10:00:00Z


class Clock(object):
    """time.time and time.sleep for the lock: sleeping moves the clock, and may let something happen meanwhile."""

    def __init__(self, now=T0, during_sleep=None):
        self.now = now
        self.sleeps = []
        self.during_sleep = during_sleep

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        if self.during_sleep:
            self.during_sleep(len(self.sleeps))


def snapshot(path):
    if not os.path.lexists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read(), os.stat(path).st_mtime_ns


def directory_state(directory):
    return {name: snapshot(os.path.join(directory, name)) for name in sorted(os.listdir(directory))}


def lease_of(path):
    with open(path) as handle:
        return json.load(handle)


def take(path, owner, clock=None, **kwargs):
    clock = clock or Clock()
    return host_lock.acquire(str(path), owner, clock=clock.time, sleep=clock.sleep, **kwargs)


def plant(path, owner, expires_at, acquired_at="2026-04-25T09:00:00Z", host="other-host"):
    with open(str(path), "w") as handle:
        json.dump({"format": host_lock.LEASE_FORMAT, "owner": owner, "host": host, "pid": 4242,
                   "acquired_at": acquired_at, "expires_at": expires_at}, handle)


# ---------------------------------------------------------------------------------------------
# Acquire


def test_acquire_creates_a_lease(tmp_path):
    path = tmp_path / ".lock"
    result = take(path, "run-1", stale_after=600)
    assert result["changed"] is True and result["acquired"] is True and result["renewed"] is False
    lease = lease_of(path)
    assert lease == result["lease"]
    assert lease["format"] == host_lock.LEASE_FORMAT
    assert lease["owner"] == "run-1" and lease["pid"] == os.getpid() and lease["host"]
    assert lease["acquired_at"] == "2026-04-25T10:00:00Z"
    assert lease["expires_at"] == "2026-04-25T10:10:00Z"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert result["broken"] is None and result["warnings"] == []
    assert os.listdir(str(tmp_path)) == [".lock"], "nothing but the lease is left on the host"


def test_acquire_is_re_entrant_and_renews_the_lease(tmp_path):
    path = tmp_path / ".lock"
    take(path, "run-1", stale_after=600)
    later = Clock(T0 + 300)
    again = take(path, "run-1", clock=later, stale_after=600)
    assert again["changed"] is False, "holding the lock already is not a change"
    assert again["acquired"] is True and again["renewed"] is True
    lease = lease_of(path)
    assert lease["acquired_at"] == "2026-04-25T10:00:00Z"
    assert lease["renewed_at"] == "2026-04-25T10:05:00Z"
    assert lease["expires_at"] == "2026-04-25T10:15:00Z"
    assert os.listdir(str(tmp_path)) == [".lock"]


def test_another_owner_is_refused_naming_the_holder_and_the_fix(tmp_path):
    path = tmp_path / ".lock"
    plant(path, "run-1", "2026-04-25T10:30:00Z")
    before = directory_state(str(tmp_path))
    with pytest.raises(LockError) as raised:
        take(path, "run-2")
    message = str(raised.value)
    assert "lock %s is held by owner 'run-1' (host other-host, pid 4242, acquired at 2026-04-25T09:00:00Z)" % path in message
    assert "expires at 2026-04-25T10:30:00Z, in 1800 s" in message
    assert "did not wait (timeout 0)" in message
    assert "state=released force=true path=%s" % path in message and "or delete the file" in message
    assert directory_state(str(tmp_path)) == before


def test_waits_for_the_holder_to_release(tmp_path):
    path = tmp_path / ".lock"
    plant(path, "run-1", "2026-04-25T10:30:00Z")
    clock = Clock(during_sleep=lambda count: os.unlink(str(path)) if count == 3 else None)
    result = take(path, "run-2", clock=clock, timeout=60)
    assert result["acquired"] is True and lease_of(path)["owner"] == "run-2"
    assert clock.sleeps == [host_lock.POLL_SECONDS] * 3
    assert result["waited"] == 3.0
    assert result["broken"] is None
    # The role plans again after a contended lock: what it decided before the wait may be done already.
    assert result["contended"] is True
    assert take(tmp_path / ".other", "run-3")["contended"] is False


def test_gives_up_after_the_timeout(tmp_path):
    path = tmp_path / ".lock"
    plant(path, "run-1", "2026-04-25T10:30:00Z")
    before = directory_state(str(tmp_path))
    clock = Clock()
    with pytest.raises(LockError, match=r"waited 5 s \(timeout 5 s\)"):
        take(path, "run-2", clock=clock, timeout=5)
    assert sum(clock.sleeps) == 5
    assert directory_state(str(tmp_path)) == before


def test_an_expired_lease_is_broken_with_a_warning(tmp_path):
    path = tmp_path / ".lock"
    plant(path, "crashed-run", "2026-04-25T09:50:00Z")
    result = take(path, "run-2")
    assert result["acquired"] is True and result["changed"] is True
    assert result["broken"]["owner"] == "crashed-run"
    assert lease_of(path)["owner"] == "run-2"
    [warning] = result["warnings"]
    assert "broke the expired lock %s of owner 'crashed-run'" % path in warning
    assert "expired at 2026-04-25T09:50:00Z, 600 s ago" in warning


def test_a_lease_that_expires_while_waiting_is_broken(tmp_path):
    path = tmp_path / ".lock"
    plant(path, "run-1", "2026-04-25T10:00:03Z")
    clock = Clock()
    result = take(path, "run-2", clock=clock, timeout=60)
    assert result["acquired"] is True and result["broken"]["owner"] == "run-1"
    assert sum(clock.sleeps) == 3


@pytest.mark.parametrize("content, problem", [
    ("", "not JSON"),
    ("{half", "not JSON"),
    ('{"owner": "x"}', "not a homelab.vaultwarden.lock lease"),
    ('{"format": "homelab.vaultwarden.lock", "owner": "x", "expires_at": "soon"}', "expires_at 'soon' unreadable"),
])
def test_an_unreadable_lock_file_is_held_until_stale_after(tmp_path, content, problem):
    path = tmp_path / ".lock"
    path.write_text(content)
    os.utime(str(path), (T0 - 100, T0 - 100))
    before = directory_state(str(tmp_path))
    with pytest.raises(LockError) as raised:
        take(path, "run-2", stale_after=600)
    assert "held by an unreadable lease (%s" % problem in str(raised.value)
    assert "in 500 s" in str(raised.value)
    assert directory_state(str(tmp_path)) == before
    result = take(path, "run-2", clock=Clock(T0 + 600), stale_after=600)
    assert result["acquired"] is True
    assert result["broken"]["problem"].startswith(problem)
    assert "broke the expired lock" in result["warnings"][0]


def test_a_lease_without_owner_is_never_taken_for_ours(tmp_path):
    path = tmp_path / ".lock"
    path.write_text("garbage")
    with pytest.raises(LockError):
        take(path, "garbage")


# ---------------------------------------------------------------------------------------------
# Check mode


def test_check_mode_acquire_changes_nothing(tmp_path):
    path = tmp_path / ".lock"
    result = take(path, "run-1", check_mode=True)
    assert result["changed"] is True and result["acquired"] is False
    assert result["msg"] == "would acquire lock %s for owner 'run-1'" % path
    assert os.listdir(str(tmp_path)) == []


def test_check_mode_on_a_fresh_host_would_acquire_and_creates_no_directory(tmp_path):
    # The real run creates the deployment's directory before it takes the lock: check mode must not fail there.
    path = tmp_path / "base" / ".lock"
    result = take(path, "run-1", check_mode=True)
    assert result["changed"] is True and result["acquired"] is False and result["lease"]["owner"] == "run-1"
    assert "would acquire lock %s" % path in result["msg"] and "does not exist yet" in result["msg"]
    released = host_lock.release(str(path), owner="run-1", check_mode=True)
    assert released == {"changed": False, "released": False, "holder": None, "msg": "lock %s is not held" % path}
    assert os.listdir(str(tmp_path)) == []
    # Without check mode the missing directory is still refused, naming it.
    with pytest.raises(LockError) as refused:
        take(path, "run-1")
    assert "the directory %s of lock file %s does not exist" % (tmp_path / "base", path) in str(refused.value)


def test_check_mode_does_not_wait_nor_fail_for_another_holder(tmp_path):
    path = tmp_path / ".lock"
    plant(path, "run-1", "2026-04-25T10:30:00Z")
    before = directory_state(str(tmp_path))
    clock = Clock()
    result = take(path, "run-2", clock=clock, timeout=300, check_mode=True)
    assert clock.sleeps == []
    assert result["changed"] is False and result["acquired"] is False
    assert result["holder"]["owner"] == "run-1"
    assert "a real run would wait up to 300 s" in result["msg"]
    assert "check mode does not wait" in result["warnings"][0]
    assert directory_state(str(tmp_path)) == before


@pytest.mark.parametrize("owner, expires_at, expected", [
    ("crashed-run", "2026-04-25T09:50:00Z", "would break the expired lock"),
    ("run-2", "2026-04-25T10:30:00Z", "would renew"),
])
def test_check_mode_break_and_renew_change_nothing(tmp_path, owner, expires_at, expected):
    path = tmp_path / ".lock"
    plant(path, owner, expires_at)
    before = directory_state(str(tmp_path))
    result = take(path, "run-2", check_mode=True)
    assert expected in " ".join(result["warnings"] + [result["msg"]])
    assert directory_state(str(tmp_path)) == before


# ---------------------------------------------------------------------------------------------
# Release


def test_release_removes_only_our_lease(tmp_path):
    path = tmp_path / ".lock"
    take(path, "run-1")
    other = host_lock.release(str(path), "run-2")
    assert other["changed"] is False and other["released"] is False
    assert "held by owner 'run-1'" in other["msg"] and "not by owner 'run-2'; left alone" in other["msg"]
    assert lease_of(path)["owner"] == "run-1"
    mine = host_lock.release(str(path), "run-1")
    assert mine["changed"] is True and mine["released"] is True and mine["holder"]["owner"] == "run-1"
    assert not path.exists()
    again = host_lock.release(str(path), "run-1")
    assert again["changed"] is False and again["msg"] == "lock %s is not held" % path


def test_release_leaves_an_expired_lease_of_another_owner(tmp_path):
    path = tmp_path / ".lock"
    plant(path, "crashed-run", "2020-01-01T00:00:00Z")
    assert host_lock.release(str(path), "run-2")["changed"] is False
    assert path.exists(), "breaking expired leases is acquire's job, with its warning"


@pytest.mark.parametrize("content", ["garbage", None])
def test_force_releases_whoever_holds_it(tmp_path, content):
    path = tmp_path / ".lock"
    if content is None:
        plant(path, "run-1", "2026-04-25T10:30:00Z")
    else:
        path.write_text(content)
    result = host_lock.release(str(path), force=True)
    assert result["changed"] is True and result["released"] is True
    assert "(force)" in result["msg"]
    assert not path.exists()


def test_release_in_check_mode_changes_nothing(tmp_path):
    path = tmp_path / ".lock"
    take(path, "run-1")
    before = directory_state(str(tmp_path))
    result = host_lock.release(str(path), "run-1", check_mode=True)
    assert result["changed"] is True and result["released"] is False
    assert result["msg"].startswith("would release lock %s" % path)
    assert directory_state(str(tmp_path)) == before


# ---------------------------------------------------------------------------------------------
# Refusals: the value, why, and the fix; nothing on disk changes


@pytest.mark.parametrize("owner, reason, fix", [
    ("", "is not a usable lock owner", "pass a non-empty id of this run"),
    ("   ", "is not a usable lock owner", "pass a non-empty id of this run"),
    (None, "is not a usable lock owner", "pass a non-empty id of this run"),
    ("x" * 201, "longer than 200 characters", "pass a short one-line id"),
    ("run\n2", "holds control characters", "pass a short one-line id"),
])
def test_bad_owner_is_refused(tmp_path, owner, reason, fix):
    with pytest.raises(LockError) as raised:
        take(tmp_path / ".lock", owner)
    message = str(raised.value)
    assert repr(owner)[:20] in message and reason in message and fix in message
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("option, value", [("timeout", -1), ("stale_after", 0), ("stale_after", True)])
def test_bad_seconds_are_refused(tmp_path, option, value):
    with pytest.raises(LockError, match="%s %r must be a number of seconds of at least" % (option, value)):
        take(tmp_path / ".lock", "run-1", **{option: value})
    assert os.listdir(str(tmp_path)) == []


def test_missing_directory_is_refused(tmp_path):
    path = tmp_path / "not-yet" / ".lock"
    with pytest.raises(LockError) as raised:
        take(path, "run-1")
    message = str(raised.value)
    assert "the directory %s of lock file %s does not exist" % (path.parent, path) in message
    assert "create it before taking the lock" in message
    assert not path.parent.exists()


def test_a_directory_as_lock_path_is_refused(tmp_path):
    with pytest.raises(LockError, match="lock path %s is a directory; pass the path of a file in it, e.g. %s"
                       % (tmp_path, tmp_path / ".lock")):
        take(tmp_path, "run-1")
    assert os.listdir(str(tmp_path)) == []


# ---------------------------------------------------------------------------------------------
# Hosts with old Pythons


def test_parses_as_python_3_6():
    relpath = "plugins/module_utils/host_lock.py"
    with open(os.path.join(ROOT, relpath)) as handle:
        ast.parse(handle.read(), filename=relpath, feature_version=(3, 6))


@pytest.mark.skipif(PYTHON36 is None, reason="needs a Python 3.6 interpreter (pyenv)")
def test_runs_under_python_3_6(tmp_path):
    script = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('host_lock', sys.argv[1])\n"
        "lock = importlib.util.module_from_spec(spec); spec.loader.exec_module(lock)\n"
        "print(lock.acquire(sys.argv[2], 'py36')['acquired'], lock.release(sys.argv[2], 'py36')['released'])\n")
    completed = subprocess.run([PYTHON36, "-c", script, os.path.join(ROOT, "plugins/module_utils/host_lock.py"),
                                str(tmp_path / ".lock")], capture_output=True, text=True, check=False, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["True", "True"]
