# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health gate's read-back check and admin retries against the vaultwarden stand-in run as a local process (no
Docker), and its failure evidence as the module writes it."""

from __future__ import annotations

import importlib.util
import json
import os
import time

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import vault_summary as vs
from ansible_collections.homelab.vaultwarden.plugins.modules import vaultwarden_health as health

_SPEC = importlib.util.spec_from_file_location(
    "standin_process", os.path.join(os.path.dirname(__file__), "..", "..", "world", "test_standin_process.py"))
standin_process = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(standin_process)
rsa_key = standin_process.rsa_key      # the fixtures that start stand-in processes
standin = standin_process.standin
register = standin_process.register
admin_login = standin_process.admin_login

TOKEN = "plain-admin-token"


def upgraded(standin, kdf, admin_token=None, fault="empty-reads", domain=None):
    """A vault written by 1.37.2, summarized as the role does before the change, then served by 1.99.2 (with the
    stand-in's fault: it starts, answers /alive and reads every text column back empty)."""
    env = {"SIGNUPS_ALLOWED": "true"}
    good = standin("1.37.2", env=env)
    assert register(good, "alice@example.com", kdf=kdf)[0] == 200
    assert register(good, "bob@example.com", kdf=(0, 600000, None, None))[0] == 200
    good.stop()
    summary = vs.summarize_sqlite(os.path.join(good.data, "db.sqlite3"))
    env = {"VW_STANDIN_FAULT": fault, "ADMIN_TOKEN": admin_token or None, "DOMAIN": domain}
    return standin("1.99.2", data=good.data, env=env), summary


@pytest.mark.parametrize("kdf, fault, admin_token, fine, conclusive, says", [
    # The user's own iterations: prelogin tells an empty read (600000, the default) from the real one.
    ((0, 650000, None, None), "empty-reads", None, False, True, "650000"),
    ((0, 650000, None, None), "", None, True, True, None),
    # The default iterations: prelogin cannot tell, so the admin API decides, or the gate says it is not proven.
    ((0, 600000, None, None), "empty-reads", TOKEN, False, True, "empty e-mail"),
    ((0, 600000, None, None), "", TOKEN, True, True, None),
    ((0, 600000, None, None), "empty-reads", None, True, False, "not proven"),
    ((0, 600000, None, None), "", None, True, False, "not proven"),
])
def test_the_gate_reads_the_vault_back_through_the_server(standin, kdf, fault, admin_token, fine, conclusive, says):
    server, summary = upgraded(standin, kdf, admin_token, fault)
    problem, seen, note = health.check_vault(server.url, summary, admin_token, time.time() + 20)
    assert (problem is None) is fine, (problem, seen)
    assert seen["conclusive"] is conclusive
    if says:
        assert says in (problem or note)


def test_the_secure_session_cookie_of_an_https_domain_is_sent_back_over_the_host_port(standin):
    """DOMAIN https://... makes the admin cookie Secure; the gate reads the published port over plain HTTP."""
    server, summary = upgraded(standin, (0, 600000, None, None), TOKEN, fault="", domain="https://vw.example.invalid")
    problem, seen, _note = health.check_vault(server.url, summary, TOKEN, time.time() + 5)
    assert problem is None and seen["admin_users"] == 2


def test_a_rate_limited_admin_login_is_retried_within_the_timeout(standin):
    server, summary = upgraded(standin, (0, 600000, None, None), fault="")
    server.stop()
    limited = standin("1.99.2", data=server.data, env={"ADMIN_TOKEN": TOKEN, "ADMIN_RATELIMIT_SECONDS": "2",
                                                       "ADMIN_RATELIMIT_MAX_BURST": "1"})
    assert admin_login(limited, TOKEN)[0] == 200            # someone logged in just before: the next one gets 429
    assert admin_login(limited, TOKEN)[0] == 429
    started = time.monotonic()
    problem, seen, _note = health.check_vault(limited.url, summary, TOKEN, time.time() + 20)
    assert problem is None and seen["admin_users"] == 2
    assert time.monotonic() - started >= 1.0, "the gate waited for the limit to refill"


def test_a_rate_limit_that_outlasts_the_timeout_is_a_failure_not_a_pass(standin):
    server, summary = upgraded(standin, (0, 600000, None, None), fault="")
    server.stop()
    limited = standin("1.99.2", data=server.data, env={"ADMIN_TOKEN": TOKEN, "ADMIN_RATELIMIT_SECONDS": "300",
                                                       "ADMIN_RATELIMIT_MAX_BURST": "1"})
    assert admin_login(limited, TOKEN)[0] == 200
    problem, seen, _note = health.check_vault(limited.url, summary, TOKEN, time.time() + 3)
    assert problem and "HTTP 429" in problem and "rate-limited" in problem, problem
    assert str(seen["admin_users"]).startswith("not read")


def test_a_refused_admin_token_is_a_failure(standin):
    server, summary = upgraded(standin, (0, 600000, None, None), admin_token=TOKEN, fault="")
    problem, _seen, _note = health.check_vault(server.url, summary, "not-the-token", time.time() + 20)
    assert problem and "HTTP 401" in problem and "vaultwarden_admin_token" in problem


def test_an_admin_login_that_redirects_to_the_domain_is_not_followed(standin):
    """Before 1.26.0 a login answers 303 to DOMAIN/admin (here a name the host cannot reach) with the cookie."""
    old = standin("1.24.0", env={"SIGNUPS_ALLOWED": "true"})
    assert register(old, "carol@example.com", kdf=(0, 100000, None, None), pascal=True, path="/api/accounts/register")[0] == 200
    old.stop()
    summary = vs.summarize_sqlite(os.path.join(old.data, "db.sqlite3"))
    server = standin("1.24.0", data=old.data, env={"ADMIN_TOKEN": TOKEN, "DOMAIN": "https://vw.example.invalid"})
    problem, seen, _note = health.check_vault(server.url, summary, TOKEN, time.time() + 5)
    assert problem is None and seen["admin_users"] == 1 and seen["conclusive"]


def test_the_failure_evidence_is_written_next_to_the_backup(tmp_path):
    container = {"Name": "/vaultwarden", "Id": "abc", "RestartCount": 2, "Image": "sha256:1",
                 "Config": {"Image": "vaultwarden/server:1.99.1", "Env": ["ADMIN_TOKEN=s3cret"]},
                 "State": {"Status": "restarting", "Running": True, "Restarting": True, "ExitCode": 101}}
    evidence = str(tmp_path / "backups" / "20260101T000000Z-1.37.2-to-1.99.1")
    health._evidence(evidence, container, ["[ERROR] panicked at src/main.rs", "[ERROR] exit"])
    assert sorted(os.listdir(evidence)) == ["failed-container.json", "failed-container.log"]
    assert oct(os.stat(evidence).st_mode & 0o777) == "0o700"
    for name in os.listdir(evidence):
        assert oct(os.stat(os.path.join(evidence, name)).st_mode & 0o777) == "0o600"
    with open(os.path.join(evidence, "failed-container.json")) as handle:
        text = handle.read()
    assert json.loads(text)["exit_code"] == 101 and "s3cret" not in text
    with open(os.path.join(evidence, "failed-container.log")) as handle:
        assert handle.read() == "[ERROR] panicked at src/main.rs\n[ERROR] exit\n"


def test_the_gate_uses_only_this_runs_registered_results():
    assert health.own({"run_id": "a", "summary": {}}, "a") == {"run_id": "a", "summary": {}}
    assert health.own({"run_id": "a"}, "b") == {} and health.own({"run_id": "a"}, None) == {}
