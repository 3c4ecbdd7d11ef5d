# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vaultwarden_secrets and vaultwarden_facts run for real (a subprocess fed JSON arguments, as Ansible runs them)."""

from __future__ import annotations

import hashlib
import json
import os
import stat

# module_runner.py sits beside this file.
import module_runner as runner  # pylint: disable=import-error

TEMPLATE = "postgresql://vaultwarden:{database_password}@vw-db:5432/vaultwarden"
FILES = {
    "database_password": {"kind": "generate", "consumers": ["database"]},
    "database_root_password": {"kind": "generate", "consumers": ["database"]},
    "database_url": {"kind": "template", "template": TEMPLATE, "consumers": ["vaultwarden"]},
    "admin_token": {"kind": "admin_token", "consumers": ["vaultwarden"]},
}


def run(module, args, check_mode=False):
    return runner.run_module(module, args, check_mode, timeout=120)


def snapshot(directory):
    found = {}
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        path = os.path.join(directory, name)
        with open(path, "rb") as handle:
            found[name] = (hashlib.sha256(handle.read()).hexdigest(), stat.S_IMODE(os.stat(path).st_mode))
    return found


def test_secrets_are_written_0600_in_0700_once_and_templates_filled(tmp_path):
    directory = str(tmp_path / "secrets")
    args = {"dir": directory, "files": FILES, "write": sorted(FILES), "values": {"admin_token": "$argon2id$v=19$x"}}
    first = run("vaultwarden_secrets", args)
    assert first["rc"] == 0 and first["changed"], first
    assert set(first["written"]) == set(FILES)
    assert first["restart"] == {"database": True, "vaultwarden": True}
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    files = snapshot(directory)
    assert all(mode == 0o600 for dummy, mode in files.values())
    password = open(os.path.join(directory, "database_password")).read()
    assert len(password) == 32 and password.isalnum()
    assert open(os.path.join(directory, "database_url")).read() == TEMPLATE.format(database_password=password)
    assert "$argon2id$v=19$x" not in json.dumps(first)      # given values never come back

    # Asked again: generated secrets are never replaced, nothing is rewritten.
    again = run("vaultwarden_secrets", args)
    assert again["rc"] == 0 and not again["changed"] and again["written"] == []
    assert snapshot(directory) == files


def test_facts_report_secret_files_by_digest_and_whether_a_template_holds(tmp_path):
    directory = str(tmp_path / "secrets")
    run("vaultwarden_secrets", {"dir": directory, "files": FILES, "write": sorted(FILES),
                                "values": {"admin_token": "$argon2id$v=19$m=1$abc$def"}})
    facts = run("vaultwarden_facts", {"secrets_dir": directory, "secret_templates": {"database_url": TEMPLATE},
                                      "record_path": str(tmp_path / "deployed.json")})
    assert facts["rc"] == 0, facts
    secrets = facts["secrets"]
    assert secrets["database_url"]["template_matches"] is True
    assert secrets["admin_token"]["form"] == "argon2" and facts["admin_token_hash"].startswith("$argon2id$")
    assert secrets["database_password"]["mode"] == "0600"
    password = open(os.path.join(directory, "database_password")).read()
    assert password not in json.dumps(facts)     # only digests of the files
    changed = run("vaultwarden_facts", {"secrets_dir": directory,
                                        "secret_templates": {"database_url": TEMPLATE.replace("5432", "5433")}})
    assert changed["secrets"]["database_url"]["template_matches"] is False


def test_facts_name_a_corrupt_record_and_the_fix(tmp_path):
    record = tmp_path / "deployed.json"
    record.write_text("{not json")
    facts = run("vaultwarden_facts", {"record_path": str(record)})
    assert facts["rc"] == 0 and facts["record"] is None
    assert str(record) in facts["record_error"] and "move it aside or delete it" in facts["record_error"]


def test_check_mode_writes_nothing(tmp_path):
    directory = str(tmp_path / "secrets")
    result = run("vaultwarden_secrets", {"dir": directory, "files": FILES, "write": ["database_password"]},
                 check_mode=True)
    assert result["changed"] and not os.path.exists(directory)
