# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vaultwarden_lock module run for real (a subprocess fed JSON arguments, as Ansible runs it), and races
between processes for one lock."""

from __future__ import annotations

import ast
import glob
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

# module_runner.py sits beside this file.
import module_runner as runner  # pylint: disable=import-error

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
MODULE = "ansible_collections.homelab.vaultwarden.plugins.modules.vaultwarden_lock"
HOST_FILES = ("plugins/modules/vaultwarden_lock.py", "plugins/module_utils/host_lock.py")
PYTHON38 = next(iter(sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8*/bin/python"))) + glob.glob("/usr/bin/python3.8")), None)

# One contender: waits for the starting gun, then tries to take the lock once (timeout 0). Reading the lease
# is slowed down (a slow disk) so that every contender judges the lock before any of them acts, unless the
# judgement and the action are one critical section.
CONTENDER = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, sys.argv[1])
    from ansible_collections.homelab.vaultwarden.plugins.module_utils import host_lock
    path, owner, gun = sys.argv[2:5]
    real_read = host_lock.read_lease
    def slow_read(*args):
        lease = real_read(*args)
        time.sleep(0.05)
        return lease
    host_lock.read_lease = slow_read
    while not os.path.exists(gun):
        time.sleep(0.001)
    try:
        result = host_lock.acquire(path, owner, timeout=0, stale_after=600)
        print(json.dumps({"owner": owner, "acquired": result["acquired"], "broken": result["broken"]}))
    except host_lock.LockError as error:
        print(json.dumps({"owner": owner, "acquired": False, "error": str(error)}))
""")


def module_command(args, check_mode=False):
    module_args = dict(args)
    if check_mode:
        module_args["_ansible_check_mode"] = True
    return [sys.executable, "-m", MODULE, json.dumps({"ANSIBLE_MODULE_ARGS": module_args})]


def parse(completed_stdout, returncode):
    try:
        result = json.loads(completed_stdout)
    except ValueError:
        raise AssertionError("module printed no JSON (rc %d): %s" % (returncode, completed_stdout))
    result["rc"] = returncode
    return result


def run_module(args, check_mode=False):
    completed = subprocess.run(module_command(args, check_mode), capture_output=True, text=True, check=False,
                               env=dict(os.environ, PYTHONPATH=COLLECTIONS), cwd=ROOT, timeout=120)
    return parse(completed.stdout, completed.returncode)


warnings_of = runner.warnings_of


def state_of(directory):
    state = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as handle:
            state[name] = (handle.read(), os.stat(os.path.join(directory, name)).st_mtime_ns)
    return state


def race(tmp_path, contenders):
    lock = str(tmp_path / ".lock")
    gun = str(tmp_path / "go")
    processes = [subprocess.Popen([sys.executable, "-c", CONTENDER, COLLECTIONS, lock, "run-%d" % index, gun],
                                  stdout=subprocess.PIPE, text=True) for index in range(contenders)]
    time.sleep(0.5)   # every contender imported the code and spins on the gun
    open(gun, "w").close()
    outcomes = []
    for process in processes:
        stdout, _stderr = process.communicate(timeout=60)
        assert process.returncode == 0
        outcomes.append(json.loads(stdout))
    os.unlink(gun)
    return lock, outcomes


@pytest.mark.parametrize("round_", range(3))
def test_racing_processes_exactly_one_wins(tmp_path, round_):
    lock, outcomes = race(tmp_path, 8)
    winners = [outcome["owner"] for outcome in outcomes if outcome["acquired"]]
    assert len(winners) == 1, outcomes
    with open(lock) as handle:
        assert json.load(handle)["owner"] == winners[0]
    for outcome in outcomes:
        if not outcome["acquired"]:
            assert "is held by owner %r" % winners[0] in outcome["error"]


def test_racing_to_break_one_expired_lease_exactly_one_wins(tmp_path):
    with open(str(tmp_path / ".lock"), "w") as handle:
        json.dump({"format": "homelab.vaultwarden.lock", "owner": "crashed-run", "host": "h", "pid": 1,
                   "acquired_at": "2020-01-01T00:00:00Z", "expires_at": "2020-01-01T01:00:00Z"}, handle)
    lock, outcomes = race(tmp_path, 8)
    winners = [outcome for outcome in outcomes if outcome["acquired"]]
    assert len(winners) == 1, outcomes
    assert winners[0]["broken"]["owner"] == "crashed-run"
    assert [outcome for outcome in outcomes if outcome.get("broken")] == winners, "the expired lease is broken once"
    with open(lock) as handle:
        assert json.load(handle)["owner"] == winners[0]["owner"]


def test_two_module_runs_at_once_one_wins(tmp_path):
    lock = str(tmp_path / ".lock")
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    processes = [subprocess.Popen(module_command({"path": lock, "owner": owner}), stdout=subprocess.PIPE, text=True,
                                  env=env, cwd=ROOT) for owner in ("play-a", "play-b")]
    results = []
    for process in processes:
        stdout, _stderr = process.communicate(timeout=120)
        results.append(parse(stdout, process.returncode))
    winners = [result for result in results if result["rc"] == 0]
    losers = [result for result in results if result["rc"] != 0]
    assert len(winners) == 1 and len(losers) == 1, results
    winner = winners[0]["lease"]["owner"]
    assert winners[0]["changed"] is True and winners[0]["acquired"] is True
    assert losers[0]["failed"] is True and "is held by owner %r" % winner in losers[0]["msg"]
    assert "state=released force=true path=%s" % lock in losers[0]["msg"]


def test_a_second_run_waits_for_the_first_to_release(tmp_path):
    lock = str(tmp_path / ".lock")
    assert run_module({"path": lock, "owner": "play-a"})["rc"] == 0
    waiting = subprocess.Popen(module_command({"path": lock, "owner": "play-b", "timeout": 30}), stdout=subprocess.PIPE,
                               text=True, env=dict(os.environ, PYTHONPATH=COLLECTIONS), cwd=ROOT)
    time.sleep(2)
    assert waiting.poll() is None, "play-b must be waiting"
    released = run_module({"path": lock, "owner": "play-a", "state": "released"})
    assert released["rc"] == 0 and released["released"] is True
    stdout, _stderr = waiting.communicate(timeout=60)
    result = parse(stdout, waiting.returncode)
    assert result["rc"] == 0 and result["acquired"] is True
    assert result["waited"] >= 1.5
    with open(lock) as handle:
        assert json.load(handle)["owner"] == "play-b"


def test_acquire_renew_release_through_the_module(tmp_path):
    lock = str(tmp_path / ".lock")
    first = run_module({"path": lock, "owner": "play-a", "stale_after": 120})
    assert first["rc"] == 0 and first["changed"] is True and first["lease"]["owner"] == "play-a"
    again = run_module({"path": lock, "owner": "play-a", "stale_after": 120})
    assert again["rc"] == 0 and again["changed"] is False and again["renewed"] is True
    other = run_module({"path": lock, "owner": "play-b", "state": "released"})
    assert other["rc"] == 0 and other["changed"] is False and other["released"] is False
    assert other["holder"]["owner"] == "play-a"
    mine = run_module({"path": lock, "owner": "play-a", "state": "released"})
    assert mine["rc"] == 0 and mine["changed"] is True
    assert os.listdir(str(tmp_path)) == []


def test_an_expired_lock_is_broken_with_a_warning(tmp_path):
    lock = str(tmp_path / ".lock")
    with open(lock, "w") as handle:
        json.dump({"format": "homelab.vaultwarden.lock", "owner": "crashed-run", "host": "h", "pid": 1,
                   "acquired_at": "2020-01-01T00:00:00Z", "expires_at": "2020-01-01T01:00:00Z"}, handle)
    result = run_module({"path": lock, "owner": "play-b"})
    assert result["rc"] == 0 and result["acquired"] is True
    assert result["broken"]["owner"] == "crashed-run"
    assert any("broke the expired lock %s of owner 'crashed-run'" % lock in warning for warning in warnings_of(result))


def test_check_mode_changes_nothing(tmp_path):
    lock = str(tmp_path / ".lock")
    would = run_module({"path": lock, "owner": "play-a"}, check_mode=True)
    assert would["rc"] == 0 and would["changed"] is True and would["acquired"] is False
    assert os.listdir(str(tmp_path)) == []
    assert run_module({"path": lock, "owner": "play-a"})["rc"] == 0
    before = state_of(str(tmp_path))
    held = run_module({"path": lock, "owner": "play-b", "timeout": 60}, check_mode=True)
    assert held["rc"] == 0 and held["changed"] is False and held["holder"]["owner"] == "play-a"
    released = run_module({"path": lock, "owner": "play-a", "state": "released"}, check_mode=True)
    assert released["rc"] == 0 and released["changed"] is True and released["released"] is False
    assert state_of(str(tmp_path)) == before


@pytest.mark.parametrize("args, message", [
    ({"path": "/tmp/x.lock"}, "state is acquired but all of the following are missing: owner"),
    ({"path": "/tmp/x.lock", "state": "released"}, "force is False but all of the following are missing: owner"),
    ({"path": "/tmp/x.lock", "owner": "a", "force": True}, "force=true only applies to state=released"),
    ({"path": "/tmp/x.lock", "owner": "a", "state": "taken"}, "value of state must be one of: acquired, released, got: taken"),
    ({"path": "/nonexistent-dir/x.lock", "owner": "a"}, "the directory /nonexistent-dir of lock file /nonexistent-dir/x.lock does not exist"),
    ({"path": "/tmp/x.lock", "owner": "a", "timeout": -5}, "timeout -5 must be a number of seconds of at least 0"),
    ({"path": "/tmp/x.lock", "owner": "", "timeout": 1}, "owner '' is not a usable lock owner"),
])
def test_bad_arguments_fail_with_the_fix(args, message):
    result = run_module(args)
    assert result["rc"] != 0 and result["failed"] is True
    assert message in result["msg"]
    assert not os.path.exists("/tmp/x.lock")


@pytest.mark.parametrize("relpath", HOST_FILES)
def test_host_side_code_parses_as_python_3_6(relpath):
    with open(os.path.join(ROOT, relpath)) as handle:
        ast.parse(handle.read(), filename=relpath, feature_version=(3, 6))


@pytest.mark.ansible
@pytest.mark.skipif(PYTHON38 is None, reason="needs a Python 3.8 interpreter (pyenv or /usr/bin/python3.8)")
def test_runs_under_python_3_8_through_ansible(tmp_path):
    lock = str(tmp_path / ".lock")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    for state, expected in (("acquired", '"acquired": true'), ("released", '"released": true')):
        completed = subprocess.run(
            ["ansible", "localhost", "-c", "local", "-e", "ansible_python_interpreter=%s" % PYTHON38, "-o",
             "-m", "homelab.vaultwarden.vaultwarden_lock", "-a", "path=%s owner=py38 state=%s" % (lock, state)],
            capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert expected in completed.stdout
    assert os.listdir(str(tmp_path)) == []
