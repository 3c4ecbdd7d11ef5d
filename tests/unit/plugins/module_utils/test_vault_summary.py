# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a vault holds, and the judgement that a server reads it back (the CONC-821 empty-reads case)."""

import sqlite3

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import vault_summary as vs


def make_vault(path, users):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (uuid TEXT, email TEXT, client_kdf_type INTEGER, client_kdf_iter INTEGER, created_at TEXT)")
    for table in ("ciphers", "organizations", "attachments"):
        db.execute("CREATE TABLE %s (uuid TEXT)" % table)
    for number, (email, kdf, iterations) in enumerate(users):
        db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?)", ("u%d" % number, email, kdf, iterations,
                                                                "2026-01-0%d" % (number + 1)))
    db.executemany("INSERT INTO ciphers VALUES (?)", [("c1",), ("c2",), ("c3",)])
    db.commit()
    db.close()


def test_a_sqlite_vault_is_summarized_with_its_oldest_user(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    make_vault(path, [("first@example.org", 0, 650000), ("second@example.org", 1, 3)])
    assert vs.summarize_sqlite(path) == {"users": 2, "ciphers": 3, "organizations": 0, "attachments": 0,
                                         "email": "first@example.org", "kdf_type": 0, "kdf_iterations": 650000}


def test_an_empty_vault_has_no_known_user(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    make_vault(path, [])
    summary = vs.summarize_sqlite(path)
    assert summary["users"] == 0 and summary["email"] is None
    assert vs.judge_prelogin(summary, {}) is None


def test_a_missing_database_is_named(tmp_path):
    with pytest.raises(vs.SummaryError, match="db.sqlite3"):
        vs.summarize_sqlite(str(tmp_path / "db.sqlite3"))


def test_database_client_output_is_parsed():
    text = "users\t2\nciphers\t5\norganizations\t1\nattachments\t0\nfirst@example.org\t0\t650000\n"
    assert vs.parse_query_output(text)["kdf_iterations"] == 650000
    with pytest.raises(vs.SummaryError, match="no counts"):
        vs.parse_query_output("ERROR 1045 (28000): Access denied")


SUMMARY = {"users": 2, "email": "first@example.org", "kdf_type": 0, "kdf_iterations": 650000}


@pytest.mark.parametrize("answer, fine", [
    ({"kdf": 0, "kdfIterations": 650000}, True),
    ({"Kdf": 0, "KdfIterations": 650000}, True),                 # PascalCase before 1.31.0
    ({"kdf": 0, "kdfIterations": 600000}, False),                # the default: the server did not read the user
    ({}, False),
])
def test_prelogin_must_return_the_known_users_kdf(answer, fine):
    problem = vs.judge_prelogin(SUMMARY, answer)
    assert (problem is None) is fine
    if not fine:
        assert "first@example.org" in problem and "650000" in problem


@pytest.mark.parametrize("users, fine", [
    ([{"email": "first@example.org"}, {"email": "second@example.org"}], True),
    ([{"email": ""}, {"email": ""}], False),                     # every text column read back empty
    ([{"email": "first@example.org"}], False),
])
def test_the_admin_api_must_list_the_known_user_and_every_user(users, fine):
    assert (vs.judge_admin_users(SUMMARY, users) is None) is fine


def test_admin_users_with_empty_emails_fail_even_when_the_count_matches():
    summary = dict(SUMMARY, email=None)           # not even a known user to look for: the blank e-mails alone fail
    assert "empty e-mail" in vs.judge_admin_users(summary, [{"email": ""}, {"email": ""}])
    assert "no user list" in vs.judge_admin_users(SUMMARY, None)


@pytest.mark.parametrize("users, picked", [
    # A user whose KDF no release answers for an unknown address is preferred: its prelogin cannot be faked.
    ([("old@example.org", 0, 600000), ("own@example.org", 0, 650000)], "own@example.org"),
    ([("old@example.org", 0, 100000), ("argon@example.org", 1, 3)], "argon@example.org"),
    ([("old@example.org", 0, 600000), ("new@example.org", 0, 600000)], "old@example.org"),   # else the oldest
    ([("old@example.org", 0, 5000), ("new@example.org", 0, 100000)], "old@example.org"),
])
def test_the_known_user_is_one_prelogin_can_tell(tmp_path, users, picked):
    path = str(tmp_path / "db.sqlite3")
    make_vault(path, users)
    assert vs.summarize_sqlite(path)["email"] == picked


def test_the_known_user_query_fits_the_shell_command_of_the_planner():
    assert '"' not in vs.KNOWN_USER_QUERY and '"' not in vs.SUMMARY_QUERY


@pytest.mark.parametrize("one, other, same", [
    ({"kdf": 0, "kdfIterations": 600000}, {"Kdf": 0, "KdfIterations": 600000}, True),
    ({"kdf": 0, "kdfIterations": 600000, "kdfMemory": None}, {"kdf": 0, "kdfIterations": 600000}, True),
    ({"kdf": 1, "kdfIterations": 3, "kdfMemory": 64}, {"kdf": 1, "kdfIterations": 3, "kdfMemory": 32}, False),
    ({"kdf": 0, "kdfIterations": 650000}, {"kdf": 0, "kdfIterations": 600000}, False),
])
def test_same_kdf(one, other, same):
    assert vs.same_kdf(one, other) is same


BEFORE = {"users": 2, "ciphers": 5, "organizations": 1, "attachments": 3, "email": "a@example.org"}


@pytest.mark.parametrize("after, shrunk", [
    (dict(BEFORE), None),
    (dict(BEFORE, ciphers=6, attachments=4), None),                          # grew meanwhile: fine
    (dict(BEFORE, ciphers=0), "ciphers 5 -> 0"),
    (dict(BEFORE, attachments=2), "attachments 3 -> 2"),
    (dict(BEFORE, users=1, organizations=0), "users 2 -> 1, organizations 1 -> 0"),
    ({"users": 2}, "ciphers 5 -> None"),                                      # a count missing is not a pass
])
def test_counts_must_not_shrink(after, shrunk):
    problem = vs.compare_counts(BEFORE, after)
    if shrunk is None:
        assert problem is None
    else:
        assert shrunk in problem and "pre-update backup" in problem


def test_without_a_summary_before_nothing_is_compared():
    assert vs.compare_counts(None, {"users": 0}) is None and vs.compare_counts({}, {"users": 0}) is None
