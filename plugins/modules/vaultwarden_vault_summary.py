#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vaultwarden_vault_summary
short_description: Record what a vaultwarden vault holds, to check a new server reads it back
version_added: 0.2.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Counts the users, ciphers, organizations and attachments of a vault and picks one known user (the oldest account)
    with its KDF settings, from a SQLite file (the copy in a pre-update backup) or from the output of the query the
    role runs in the managed database's container.
  - M(homelab.vaultwarden.vaultwarden_health) then checks, through the new server itself, that it reads the same back
    (a server can answer C(/alive) while reading every text column back empty).
  - Only reads; standard library only.
options:
  source:
    description:
      - Where the summary comes from. V(sqlite) reads O(sqlite_path) or the SQLite copy in O(backup_path); V(query) parses
        O(query_output). Defaults to V(query) when O(query_output) is given, else V(sqlite).
    type: str
    choices: [sqlite, query]
  sqlite_path:
    description: A SQLite vault file (opened read-only).
    type: path
  backup_path:
    description: A backup made by M(homelab.vaultwarden.vaultwarden_backup); its SQLite copy is read (the manifest names it).
    type: path
  query_output:
    description: Tab-separated output of the summary query (see C(plugins/module_utils/vault_summary.py)).
    type: str
  run_id:
    description: An identifier of the caller's run, returned as RV(run_id) (see M(homelab.vaultwarden.vaultwarden_backup)).
    type: str
  before:
    description:
      - The registered result of this module from before the change (used only when its C(run_id) is O(run_id)).
        The summary read now must hold at least as many users, ciphers, organizations and attachments; when one
        shrank the module fails naming them (the role then rolls back).
    type: dict
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
  idempotent:
    support: full
    description: The module only reads.
"""

EXAMPLES = r"""
- name: Summarize the vault in the pre-update backup
  homelab.vaultwarden.vaultwarden_vault_summary:
    sqlite_path: /opt/vaultwarden/backups/20260101T000000Z-1.37.1-to-1.37.2/db.sqlite3
    run_id: "{{ run_id }}"
  register: vault

- name: After the change, the live vault holds at least what it held before
  homelab.vaultwarden.vaultwarden_vault_summary:
    sqlite_path: /opt/vaultwarden/data/db.sqlite3
    before: "{{ vault }}"
    run_id: "{{ run_id }}"
"""

RETURN = r"""
shrunk:
  description: Why the vault holds less than O(before) (null when it does not, or without O(before)).
  returned: always
  type: str
run_id:
  description: The O(run_id) given.
  returned: always
  type: str
summary:
  description: C(users), C(ciphers), C(organizations), C(attachments) counts; C(email), C(kdf_type), C(kdf_iterations) of
    the known user (null in an empty vault).
  returned: always
  type: dict
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.vaultwarden.plugins.module_utils.backup import MANIFEST_NAME
from ansible_collections.homelab.vaultwarden.plugins.module_utils.vault_summary import (
    SummaryError,
    parse_query_output,
    compare_counts,
    summarize_sqlite,
)


def _backup_sqlite(backup_path):
    try:
        with open(os.path.join(backup_path, MANIFEST_NAME)) as handle:
            name = (json.load(handle).get("sqlite") or {}).get("file")
    except (IOError, OSError, ValueError) as exc:
        raise SummaryError("cannot read the manifest of the backup %s: %s" % (backup_path, exc))
    if not name:
        raise SummaryError("the backup %s holds no SQLite database" % backup_path)
    return os.path.join(backup_path, name)


def main():
    module = AnsibleModule(
        argument_spec=dict(source=dict(type="str", choices=["sqlite", "query"]), sqlite_path=dict(type="path"),
                           backup_path=dict(type="path"), query_output=dict(type="str"),
                           run_id=dict(type="str"), before=dict(type="dict")),
        required_one_of=[("sqlite_path", "backup_path", "query_output")],
        supports_check_mode=True,
    )
    try:
        source = module.params["source"] or ("query" if module.params["query_output"] is not None else "sqlite")
        if source == "query":
            summary = parse_query_output(module.params["query_output"])
        elif module.params["sqlite_path"]:
            summary = summarize_sqlite(module.params["sqlite_path"])
        else:
            summary = summarize_sqlite(_backup_sqlite(module.params["backup_path"]))
    except SummaryError as exc:
        module.fail_json(msg=str(exc))
    before = module.params["before"] or {}
    run_id = module.params["run_id"]
    shrunk = compare_counts(before.get("summary"), summary) if run_id and before.get("run_id") == run_id else None
    if shrunk:
        module.fail_json(msg=shrunk, summary=summary, before=before.get("summary"), shrunk=shrunk, run_id=run_id)
    module.exit_json(changed=False, summary=summary, shrunk=None, run_id=run_id)


if __name__ == "__main__":
    main()
