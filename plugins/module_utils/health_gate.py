# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions of the health gate (vaultwarden_health), pure and standard library only.

- poll_verdict: one look at the containers and at /alive -> wait, check the vault, or fail (a managed database that is
  still starting is waited for before vaultwarden is judged).
- admin_attempt: whether a failed admin login / user list read is retried (rate limit, server error, no answer) and
  after how long, or reported.
- read_back_verdict: whether what the server read back proves the vault reads (prelogin of the known user against the
  server's answer for an unknown user, the admin API's user list).
- failure evidence: the files kept next to the backup and the failure message with the exit code and the last lines.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import struct

from ansible_collections.homelab.vaultwarden.plugins.module_utils.vault_summary import (
    judge_admin_users,
    judge_prelogin,
    same_kdf,
)

WAIT, CHECK, FAIL = "wait", "check", "fail"
# Answers of an admin login or user list worth another try: no answer, the login rate limit, a server error.
RETRYABLE_STATUS = (429, 500, 502, 503, 504)
ADMIN_BACKOFF_FIRST = 1.0
ADMIN_BACKOFF_MAX = 10.0
EVIDENCE_STATE = "failed-container.json"
EVIDENCE_LOG = "failed-container.log"
MESSAGE_LINES = 5


def _health(state):
    return ((state or {}).get("Health") or {}).get("Status")


def database_verdict(database):
    """(verdict, reason) for the managed database container: WAIT while it starts, FAIL when it is not there or stopped,
    None when it is ready (healthy, or running without a health check)."""
    if database is None:
        return FAIL, "its database container does not exist"
    state = database.get("State") or {}
    name = (database.get("Name") or "").lstrip("/") or "the database container"
    if not state.get("Running") or state.get("Restarting"):
        return FAIL, ("its database container %s is %s (exit code %s), so vaultwarden cannot reach its vault; see "
                      "`docker logs %s`" % (name, state.get("Status"), state.get("ExitCode"), name))
    health = _health(state)
    if health in (None, "healthy"):
        return None, None
    if health == "unhealthy":
        return FAIL, "its database container %s is unhealthy; see `docker logs %s`" % (name, name)
    return WAIT, "its database container %s is %s" % (name, health)


def poll_verdict(container, answered, first_answer, now, settle, deadline, url, timeout, database=False,
                 error=None, error_grace=10.0):
    """(verdict, reason, exit_code) of one poll.

    container: the engine's inspect of vaultwarden (None when missing); answered: /alive gave 200 now;
    first_answer: when it first did (None before); deadline: when the wait gives up (started + timeout);
    database: the inspect of the managed database container, None when it is missing, False without one;
    error: (HTTP status, since when) while /alive has answered with an error status without a break (None otherwise).
    A server that answers /alive with an error for error_grace seconds runs but is broken: waiting for the timeout
    would only delay the rollback.
    """
    if container is None:
        return FAIL, "the container does not exist", None
    state = container.get("State") or {}
    db_wait = None
    if database is not False:
        db_verdict, db_reason = database_verdict(database)
        if db_verdict == FAIL:
            return FAIL, db_reason, state.get("ExitCode") if not state.get("Running") else None
        if db_verdict == WAIT:
            db_wait = db_reason
    if db_wait is None and answered and first_answer is not None and now - first_answer >= settle:
        return CHECK, None, None
    if state.get("Restarting") or container.get("RestartCount", 0) > 0:
        if db_wait:   # vaultwarden gives up on a database that is not up yet, and its restart policy starts it again
            if now < deadline:
                return WAIT, db_wait, None
            why = "%s after %d s, and vaultwarden restarts (exit code %s)" % (db_wait, timeout, state.get("ExitCode"))
            return FAIL, why, None
        return FAIL, "it crashed and is restarting (exit code %s)" % state.get("ExitCode"), state.get("ExitCode")
    if not state.get("Running"):
        return FAIL, "it exited with code %s" % state.get("ExitCode"), state.get("ExitCode")
    if error is not None and db_wait is None and now - error[1] >= error_grace:
        return FAIL, "%s answered %s for %d s without a break (it runs but says it is not alive)" % (
            url, error[0], now - error[1]), None
    if now >= deadline + (settle if first_answer is not None and db_wait is None else 0):
        if db_wait:
            return FAIL, "%s after %d s" % (db_wait, timeout), None
        return FAIL, "%s did not answer 200 within %d s (state %s, health %s)" % (
            url, timeout, state.get("Status"), _health(state)), None
    return WAIT, db_wait, None


def admin_attempt(what, status, attempt, remaining, retry_after=None, detail=None):
    """After a failed admin request: ('retry', seconds) or ('fail', why).

    status: the HTTP status (None when the server did not answer); attempt: failed attempts so far (1 after the first);
    remaining: seconds left of the gate's timeout; retry_after: the server's Retry-After in seconds, if any.
    """
    said = "HTTP %s" % status if status is not None else "no answer"
    if detail:
        said = "%s (%s)" % (said, detail)
    if status is not None and status not in RETRYABLE_STATUS:
        fix = {401: "the new server refuses the admin token: check vaultwarden_admin_token (an Argon2 PHC string in "
                    "ADMIN_TOKEN needs release 1.28.0 or later)",
               404: "the admin page is disabled or missing on the new server"}.get(status, "see its log")
        return FAIL, "%s answered %s; %s" % (what, said, fix)
    delay = min(ADMIN_BACKOFF_MAX, ADMIN_BACKOFF_FIRST * (2 ** max(0, attempt - 1)))
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    if delay > remaining:
        why = "%s answered %s %d time(s) within the gate's timeout" % (what, said, attempt)
        if status == 429:
            why += ("; the admin login is rate-limited (ADMIN_RATELIMIT_SECONDS / ADMIN_RATELIMIT_MAX_BURST): wait "
                    "for it to refill or raise vaultwarden_health_timeout, then run again")
        return FAIL, why
    return "retry", delay


def read_back_verdict(summary, known, unknown, admin_users=None, admin_problem=None, admin_token=False):
    """(problem or None, conclusive, note) of what the server read back of the vault.

    known / unknown: the server's prelogin for the known user and for an address that is no user;
    admin_users: the admin API's user list (with admin_token); admin_problem: why it could not be read.
    A known user on the server's default KDF answers prelogin exactly as an unknown address does, also from a server
    that reads the vault back empty: then only the admin API proves the read-back.
    """
    if not summary or not summary.get("email"):
        return None, True, "the vault had no user before the change"
    problem = judge_prelogin(summary, known or {})
    if problem:
        return problem, True, None
    conclusive = not same_kdf(known or {}, unknown or {})
    if admin_token:
        if admin_problem:
            return "the admin API could not be read: %s" % admin_problem, True, None
        problem = judge_admin_users(summary, admin_users)
        if problem:
            return problem, True, None
        return None, True, None
    if conclusive:
        return None, True, None
    return None, False, (
        "%s uses the server's default KDF settings, which the server also answers for an address that is no user, and no "
        "admin token is set: that the new server reads the vault back is not proven (only the vault's counts are "
        "compared). Set vaultwarden_admin_token so the gate reads the user list through the admin API."
        % summary["email"])


def demux_log(data, lines):
    """The last lines of a container's output; without a TTY the engine frames every chunk (1 byte stream, 3 zero
    bytes, 4 bytes big-endian length)."""
    data = data or b""
    chunks = []
    offset = 0
    while offset + 8 <= len(data) and data[offset:offset + 1] in (b"\0", b"\1", b"\2") \
            and data[offset + 1:offset + 4] == b"\0\0\0":
        size = struct.unpack(">I", data[offset + 4:offset + 8])[0]
        chunks.append(data[offset + 8:offset + 8 + size])
        offset += 8 + size
    raw = b"".join(chunks) if chunks else data
    return raw.decode("utf-8", "replace").splitlines()[-lines:] if lines > 0 else []


def evidence_files(container, lines):
    """{file name: content} kept after a failure: the container's state (no environment, no secrets) and its log."""
    container = container or {}
    state = dict(container.get("State") or {})
    summary = {"name": (container.get("Name") or "").lstrip("/"), "id": container.get("Id"),
               "image": container.get("Image"), "image_name": (container.get("Config") or {}).get("Image"),
               "restart_count": container.get("RestartCount"), "exit_code": state.get("ExitCode"), "state": state}
    return {EVIDENCE_STATE: json.dumps(summary, indent=2, sort_keys=True) + "\n",
            EVIDENCE_LOG: "\n".join(lines) + ("\n" if lines else "")}


def failure_message(name, reason, container, lines, evidence_dir=None):
    """The gate's failure message: why, the exit code, the server's last own lines (not this wait's /alive requests)."""
    state = (container or {}).get("State") or {}
    if not container:
        exit_code = "none (no container)"
    elif state.get("Running") and not state.get("Restarting"):
        exit_code = "none (it still runs)"
    else:
        exit_code = state.get("ExitCode")
    said = [line.strip() for line in lines or [] if line.strip() and '"GET /alive' not in line
            and "GET /alive " not in line]
    message = "%s did not become healthy: %s. Exit code: %s. Last log lines: %s" % (
        name, reason, exit_code,
        " | ".join(said[-MESSAGE_LINES:]) or "(none)")
    if evidence_dir:
        message += ". Its state and log are kept in %s (%s, %s)" % (evidence_dir, EVIDENCE_STATE, EVIDENCE_LOG)
    return message
