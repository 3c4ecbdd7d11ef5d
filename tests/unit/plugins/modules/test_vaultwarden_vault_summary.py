# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vaultwarden_vault_summary run as Ansible runs it: the summary, and the comparison with the one from before the
change (counts must not shrink)."""

import sqlite3

import pytest

# module_runner.py sits beside this file.
import module_runner as runner  # pylint: disable=import-error


def vault(path, ciphers, attachments):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (uuid TEXT, email TEXT, client_kdf_type INTEGER, client_kdf_iter INTEGER, "
               "created_at TEXT)")
    for table in ("ciphers", "organizations", "attachments"):
        db.execute("CREATE TABLE %s (uuid TEXT)" % table)
    db.execute("INSERT INTO users VALUES ('u1', 'alice@example.com', 0, 600000, '2026-01-01')")
    db.executemany("INSERT INTO ciphers VALUES (?)", [("c%d" % n,) for n in range(ciphers)])
    db.executemany("INSERT INTO attachments VALUES (?)", [("a%d" % n,) for n in range(attachments)])
    db.commit()
    db.close()
    return path


# (Short: Ansible takes a module argument string of 255 characters and more for a file name to try.)
BEFORE = {"run_id": "r1", "summary": {"users": 1, "ciphers": 3, "organizations": 0, "attachments": 2}}


@pytest.mark.parametrize("ciphers, attachments, before, run_id, fails, says", [
    (3, 2, BEFORE, "r1", False, None),
    (4, 2, BEFORE, "r1", False, None),
    (0, 2, BEFORE, "r1", True, "ciphers 3 -> 0"),
    (3, 1, BEFORE, "r1", True, "attachments 2 -> 1"),
    (0, 0, BEFORE, "r2", False, None),          # a summary of an earlier application of the role is not compared
    (0, 0, None, "r1", False, None),
])
def test_the_live_vault_is_compared_with_the_one_before(tmp_path, ciphers, attachments, before, run_id, fails, says):
    path = vault(str(tmp_path / "db.sqlite3"), ciphers, attachments)
    args = {"sqlite_path": path, "run_id": run_id}
    if before is not None:
        args["before"] = before
    result = runner.run_module("vaultwarden_vault_summary", args)
    assert bool(result.get("failed")) is fails, result
    assert result["summary"]["ciphers"] == ciphers
    if fails:
        assert says in result["msg"] and result["shrunk"] == result["msg"]
    else:
        assert result["shrunk"] is None and not result["changed"]


def test_the_query_output_of_a_managed_database_is_compared_too():
    output = "users\t1\nciphers\t3\norganizations\t0\nattachments\t0\na@b.c\t0\t9\n"
    result = runner.run_module("vaultwarden_vault_summary", {"query_output": output, "before": BEFORE, "run_id": "r1"})
    assert result.get("failed") and "attachments 2 -> 0" in result["msg"]
