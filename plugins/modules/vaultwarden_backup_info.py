#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vaultwarden_backup_info
short_description: List the vaultwarden backups taken by vaultwarden_backup
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Returns the backups that M(homelab.vaultwarden.vaultwarden_backup) wrote into O(backup_dir), newest first, each
    with its manifest.
  - Only directories whose C(manifest.json) marks them as backups of that module are listed in RV(backups); anything
    else in O(backup_dir) is ignored there.
  - Temporary directories of backups (and, with O(data_dir), of restores) and the C(.pre-restore-*) copies a restore
    left in O(data_dir) are listed in RV(leftovers), since each holds a copy of the vault.
  - Only reads; never changes anything. File contents are never read or returned, only the manifests.
  - Only the standard library is needed on the managed host (Python 3.8 or newer).
options:
  backup_dir:
    description:
      - Root directory of the backups, as given to M(homelab.vaultwarden.vaultwarden_backup) in its
        O(homelab.vaultwarden.vaultwarden_backup#module:backup_dir).
      - A directory that does not exist holds no backups; RV(backups) is then empty.
    type: path
    required: true
  data_dir:
    description:
      - Only list backups taken from this vaultwarden C(/data) directory (as recorded in their manifest).
      - When unset, backups of every data directory in O(backup_dir) are listed.
      - When set, its restore leftovers are listed in RV(leftovers) too.
    type: path
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
  platform:
    support: full
    platforms: posix
    description: Any POSIX host with Python 3.8 or newer.
seealso:
  - module: homelab.vaultwarden.vaultwarden_backup
    description: Takes, prunes and restores the backups this module lists.
"""

EXAMPLES = r"""
- name: List backups
  homelab.vaultwarden.vaultwarden_backup_info:
    backup_dir: /srv/vaultwarden/backups
  register: vaultwarden_backups

- name: List only the backups of one server's data directory
  homelab.vaultwarden.vaultwarden_backup_info:
    backup_dir: /srv/vaultwarden/backups
    data_dir: /srv/vaultwarden/data
  register: vaultwarden_backups

- name: Restore the newest backup (stop the server first)
  homelab.vaultwarden.vaultwarden_backup:
    state: restore
    data_dir: /srv/vaultwarden/data
    backup_path: "{{ vaultwarden_backups.backups[0].path }}"
  when: vaultwarden_backups.backups | length > 0
"""

RETURN = r"""
backups:
  description:
    - The backups in O(backup_dir), newest first.
    - C(manifest) is the backup's C(manifest.json) as RV(homelab.vaultwarden.vaultwarden_backup#module:manifest)
      describes it.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Directory name of the backup, C(<UTC YYYYmmddTHHMMSSZ>[.<n>][-<label>]).
      type: str
      sample: 20260425T101500Z-1.32.0-to-1.35.1
    path:
      description: Absolute path of the backup; pass it as O(homelab.vaultwarden.vaultwarden_backup#module:backup_path) to restore it.
      type: str
      sample: /srv/vaultwarden/backups/20260425T101500Z-1.32.0-to-1.35.1
    created_at:
      description: When the backup was taken (UTC, ISO 8601).
      type: str
      sample: "2026-04-25T10:15:00.123456Z"
    label:
      description: The label given when the backup was taken; V(null) without one.
      type: str
      sample: 1.32.0-to-1.35.1
    data_dir:
      description: The data directory the backup was taken from.
      type: str
      sample: /srv/vaultwarden/data
    database:
      description: The database backend recorded in the backup (V(sqlite), V(mysql) or V(postgresql)).
      type: str
      sample: sqlite
    total_size:
      description: Bytes of all files in the backup.
      type: int
      sample: 251904
    manifest:
      description: The backup's manifest.
      type: dict
leftovers:
  description:
    - Copies of the vault outside the backups - temporary directories of running or killed backups and restores, and
      C(.pre-restore-*) copies in O(data_dir), newest first.
    - M(homelab.vaultwarden.vaultwarden_backup) removes temporary directories whose run is gone and keeps
      O(homelab.vaultwarden.vaultwarden_backup#module:pre_restore_retention) pre-restore copies.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path of the directory.
      type: str
      sample: /srv/vaultwarden/backups/.tmp-vaultwarden-backup-k2j4h1
    kind:
      description: V(backup_temporary), V(restore_staging) or V(pre_restore).
      type: str
      sample: backup_temporary
    state:
      description:
        - For temporary directories V(alive) (its process still runs), V(dead) (gone, removed by the next backup),
          V(stale) (no owner known and older than 24 hours, removed by the next backup) or V(young) (no owner known,
          kept for now).
        - For pre-restore copies V(ours) (carries the module's marker, subject to retention) or V(unmarked) (never
          removed automatically).
      type: str
      sample: dead
    reason:
      description: Why the directory is judged so, in words.
      type: str
      sample: its process 4242 is gone
msg:
  description: How many backups were found, in one sentence.
  returned: always
  type: str
  sample: 2 backup(s) in /srv/vaultwarden/backups
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.vaultwarden.plugins.module_utils.backup import (
    STAGING_PREFIX,
    TEMP_PREFIX,
    find_leftovers,
    list_backups,
    list_pre_restore,
)


def _leftovers(backup_dir, data_dir):
    found = [dict(path=entry["path"], kind="backup_temporary", state=entry["state"], reason=entry["reason"])
             for entry in find_leftovers(backup_dir, TEMP_PREFIX)]
    if data_dir:
        found.extend(dict(path=entry["path"], kind="restore_staging", state=entry["state"], reason=entry["reason"])
                     for entry in find_leftovers(data_dir, STAGING_PREFIX))
        for entry in list_pre_restore(data_dir):
            reason = ("made by a restore from %s" % entry["backup_path"] if entry["ours"]
                      else "no marker: made by an earlier version or by hand")
            found.append(dict(path=entry["path"], kind="pre_restore", state="ours" if entry["ours"] else "unmarked",
                              reason=reason))
    return found


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            backup_dir=dict(type="path", required=True),
            data_dir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    backup_dir = module.params["backup_dir"]
    try:
        backups = list_backups(backup_dir, data_dir=module.params["data_dir"])
        leftovers = _leftovers(backup_dir, module.params["data_dir"])
    except (OSError, IOError) as error:
        module.fail_json(msg="listing the backups in %s failed: %s; nothing was changed, make the directory readable "
                             "by the remote user (or use become) and run again" % (backup_dir, error))
    module.exit_json(changed=False, backups=backups, leftovers=leftovers,
                     msg="%d backup(s) in %s%s" % (len(backups), backup_dir,
                                                   ", %d leftover(s)" % len(leftovers) if leftovers else ""))


def main():
    run_module()


if __name__ == "__main__":
    main()
