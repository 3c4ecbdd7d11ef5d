# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health gate's decisions: waiting for a starting database, admin retries, the read-back verdict, failure
evidence."""

import json
import struct

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import health_gate as hg

URL = "http://127.0.0.1:8080/alive"


def vw(running=True, restarting=False, restarts=0, exit_code=0, status=None, health=None):
    state = {"Running": running, "Restarting": restarting, "ExitCode": exit_code,
             "Status": status or ("restarting" if restarting else "running" if running else "exited")}
    if health:
        state["Health"] = {"Status": health}
    return {"Name": "/vaultwarden", "State": state, "RestartCount": restarts}


def db(health="healthy", running=True, restarting=False, exit_code=0):
    container = vw(running, restarting, 0, exit_code, health=health)
    container["Name"] = "/vaultwarden-db"
    return container


@pytest.mark.parametrize("error, now, database, verdict, why", [
    ((503, 2.0), 11.9, False, "wait", None),                              # answering 503 for 9.9 s: not yet
    ((503, 2.0), 12.0, False, "fail", "answered 503 for 10 s without a break"),
    ((500, 30.0), 44.0, False, "fail", "answered 500 for 14 s"),           # before the deadline: no need to wait for it
    ((503, 2.0), 12.0, db("starting"), "wait", "vaultwarden-db is starting"),   # its database is not up yet
    (None, 12.0, False, "wait", None),                                    # no error streak (no answer yet)
])
def test_a_server_that_answers_an_error_fails_after_the_grace_not_the_timeout(error, now, database, verdict, why):
    got, reason, _exit = hg.poll_verdict(vw(), False, None, now, 5.0, 45.0, URL, 45, database, error, 10.0)
    assert got == verdict
    assert (why is None and reason is None) or (why in reason), reason


# Times: the wait started at 0, gives up at 45 (deadline), settle 5.
@pytest.mark.parametrize("container, answered, first, now, database, verdict, why", [
    (vw(), True, 1.0, 6.5, False, "check", None),                         # answered and settled
    (vw(), True, 1.0, 3.0, False, "wait", None),                          # still settling
    (vw(), False, None, 10.0, False, "wait", None),
    (vw(), False, None, 45.0, False, "fail", "did not answer 200 within 45 s"),
    (vw(), True, 44.0, 46.0, False, "wait", None),                        # answered late: the settle still counts
    (vw(running=False, exit_code=1), False, None, 2.0, False, "fail", "exited with code 1"),
    (vw(restarting=True, restarts=1, exit_code=101), False, None, 2.0, False, "fail", "crashed and is restarting (exit code 101)"),
    (None, False, None, 1.0, False, "fail", "does not exist"),
    # A managed database that is still starting: vaultwarden is not judged yet, even when it restarts meanwhile.
    (vw(), False, None, 10.0, db("starting"), "wait", "vaultwarden-db is starting"),
    (vw(), True, 1.0, 20.0, db("starting"), "wait", "vaultwarden-db is starting"),
    (vw(restarting=True, restarts=1, exit_code=1), False, None, 10.0, db("starting"), "wait", "starting"),
    (vw(restarting=True, restarts=1, exit_code=1), False, None, 45.0, db("starting"), "fail", "vaultwarden restarts"),
    (vw(), False, None, 45.0, db("starting"), "fail", "vaultwarden-db is starting after 45 s"),
    (vw(), True, 1.0, 6.5, db("healthy"), "check", None),
    (vw(), True, 1.0, 6.5, db(None), "check", None),                      # no health check: running is ready
    (vw(), False, None, 3.0, db(running=False, exit_code=1, health="unhealthy"), "fail", "vaultwarden-db is exited (exit code 1)"),
    (vw(), False, None, 3.0, db("unhealthy"), "fail", "vaultwarden-db is unhealthy"),
    (vw(), False, None, 3.0, None, "fail", "database container does not exist"),
])
def test_poll_verdict(container, answered, first, now, database, verdict, why):
    got, reason, _exit = hg.poll_verdict(container, answered, first, now, 5.0, 45.0, URL, 45, database)
    assert got == verdict
    if why is None:
        assert reason is None
    else:
        assert why in reason


def test_a_crash_reports_its_exit_code_a_running_server_none():
    assert hg.poll_verdict(vw(running=False, exit_code=3), False, None, 1.0, 5.0, 45.0, URL, 45)[2] == 3
    assert hg.poll_verdict(vw(), False, None, 45.0, 5.0, 45.0, URL, 45)[2] is None


# attempt = failed attempts so far; remaining = seconds left of the timeout.
@pytest.mark.parametrize("status, attempt, remaining, retry_after, verdict, value", [
    (429, 1, 30.0, None, "retry", 1.0),
    (429, 2, 30.0, None, "retry", 2.0),
    (429, 3, 30.0, None, "retry", 4.0),
    (429, 8, 30.0, None, "retry", 10.0),               # the backoff is capped
    (429, 1, 30.0, 7, "retry", 7.0),                   # the server's Retry-After
    (503, 1, 30.0, None, "retry", 1.0),
    (500, 2, 30.0, None, "retry", 2.0),
    (None, 1, 30.0, None, "retry", 1.0),               # no answer
    (429, 4, 5.0, None, "fail", "rate-limited"),       # 8 s more would pass the timeout
    (502, 1, 0.5, None, "fail", "HTTP 502 1 time(s)"),
    (401, 1, 30.0, None, "fail", "refuses the admin token"),
    (404, 1, 30.0, None, "fail", "admin page is disabled"),
])
def test_admin_attempts_are_retried_or_reported(status, attempt, remaining, retry_after, verdict, value):
    got, detail = hg.admin_attempt("the admin login", status, attempt, remaining, retry_after)
    assert got == verdict
    if verdict == "retry":
        assert detail == value
    else:
        assert value in detail and "the admin login" in detail


DEFAULT = {"kdf": 0, "kdfIterations": 600000, "kdfMemory": None, "kdfParallelism": None}
OWN = {"kdf": 0, "kdfIterations": 650000, "kdfMemory": None, "kdfParallelism": None}
ON_DEFAULT = {"users": 2, "email": "first@example.org", "kdf_type": 0, "kdf_iterations": 600000}
ON_OWN = dict(ON_DEFAULT, kdf_iterations=650000)
LISTED = [{"email": "first@example.org"}, {"email": "second@example.org"}]
BLANK = [{"email": ""}, {"email": ""}]


@pytest.mark.parametrize("summary, known, admin_token, users, admin_problem, fine, conclusive, says", [
    # The user's own KDF: prelogin alone tells.
    (ON_OWN, OWN, False, None, None, True, True, None),
    (ON_OWN, DEFAULT, False, None, None, False, True, "650000"),               # 1.99.2 empty-reads
    # The server's default KDF: prelogin of a server that reads nothing back looks the same.
    (ON_DEFAULT, DEFAULT, False, None, None, True, False, "not proven"),
    (ON_DEFAULT, DEFAULT, True, LISTED, None, True, True, None),
    (ON_DEFAULT, DEFAULT, True, BLANK, None, False, True, "empty e-mail"),       # 1.99.2 empty-reads
    (ON_DEFAULT, DEFAULT, True, LISTED[:1], None, False, True, "lists 1 users, the vault holds 2"),
    (ON_DEFAULT, DEFAULT, True, None, "HTTP 429 3 time(s)", False, True, "could not be read: HTTP 429"),
    (ON_OWN, OWN, True, None, "HTTP 503", False, True, "could not be read"),     # an admin error is never a pass
    ({"users": 0, "email": None}, {}, False, None, None, True, True, "no user"),
])
def test_read_back_verdict(summary, known, admin_token, users, admin_problem, fine, conclusive, says):
    problem, proven, note = hg.read_back_verdict(summary, known, DEFAULT, users, admin_problem, admin_token)
    assert (problem is None) is fine
    assert proven is conclusive
    if says:
        assert says in (problem or note)


def frame(stream, text):
    data = text.encode()
    return bytes([stream, 0, 0, 0]) + struct.pack(">I", len(data)) + data


def test_the_log_is_demultiplexed_and_cut_to_its_last_lines():
    data = frame(1, "one\ntwo\n") + frame(2, "[ERROR] three\n") + frame(1, "four\n")
    assert hg.demux_log(data, 3) == ["two", "[ERROR] three", "four"]
    assert hg.demux_log(b"plain tty output\nlast\n", 1) == ["last"]
    assert hg.demux_log(b"", 5) == []


def test_evidence_holds_state_exit_code_and_log_but_no_environment():
    container = vw(running=False, exit_code=101)
    config = {"Image": "vaultwarden/server:1.99.2", "Env": ["ADMIN_TOKEN=secret", "DATABASE_URL=mysql://u:pw@db/x"]}
    container.update(Id="abc", Image="sha256:1", Config=config)
    files = hg.evidence_files(container, ["a", "b"])
    assert sorted(files) == ["failed-container.json", "failed-container.log"]
    state = json.loads(files["failed-container.json"])
    assert state["exit_code"] == 101 and state["image_name"] == "vaultwarden/server:1.99.2" and state["name"] == "vaultwarden"
    assert "secret" not in files["failed-container.json"] and "pw@" not in files["failed-container.json"]
    assert files["failed-container.log"] == "a\nb\n"


@pytest.mark.parametrize("container, exit_says", [
    (vw(running=False, exit_code=101), "Exit code: 101"),
    (vw(restarting=True, restarts=2, exit_code=1), "Exit code: 1."),
    (vw(), "Exit code: none (it still runs)"),
    (None, "none (no container)"),
])
def test_the_failure_message_has_exit_code_and_last_own_lines(container, exit_says):
    lines = ["[INFO] starting", '127.0.0.1 "GET /alive HTTP/1.1" 200', "[ERROR] Can't connect", "[ERROR] giving up"]
    message = hg.failure_message("vaultwarden", "it exited with code 101", container, lines, "/backups/x")
    assert exit_says in message
    assert "[ERROR] Can't connect | [ERROR] giving up" in message and "GET /alive" not in message
    assert "/backups/x (failed-container.json, failed-container.log)" in message
