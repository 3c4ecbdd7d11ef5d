#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vaultwarden_backup
short_description: Back up and restore a vaultwarden data directory
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Takes a consistent backup of a vaultwarden (formerly bitwarden_rs) data directory while the server keeps running,
    prunes old ones and restores one. M(homelab.vaultwarden.vaultwarden_backup_info) lists the backups.
  - The SQLite database is copied online with the SQLite backup API (Python's C(sqlite3.Connection.backup)), the
    equivalent of C(sqlite3 db.sqlite3 ".backup file"). The copy is one consistent snapshot that includes the content
    of the write-ahead log, and it is checked with C(PRAGMA integrity_check) before the backup is kept.
    The live database is opened read-only.
  - Also copied when present, as upstream recommends - C(config.json) (holds the admin token and SMTP secrets),
    C(rsa_key*) (token signing keys), C(attachments/), C(sends/) and, on request, C(icon_cache/).
    Missing ones are skipped and returned in RV(missing).
  - Each backup is a directory C(<backup_dir>/<UTC YYYYmmddTHHMMSSZ>[.<n>][-<label>]/) with a C(manifest.json) that
    lists every file with its size and sha256. It is assembled in a hidden temporary directory
    C(.tmp-vaultwarden-backup-*) and renamed into place when complete, so a failed backup leaves no partial backup
    behind. The temporary directory holds an owner file (process id, host, boot id); when a backup was killed, the
    next run removes its temporary directory once that process is gone (a directory without an owner file once it
    is 24 hours old) and returns it in RV(leftovers_removed). Temporary directories of runs that may still be working
    are kept and reported as warnings.
  - Backups hold the whole vault, so they are always private - C(0700) directories and C(0600) files, whatever the
    umask and the modes of the sources. An existing O(backup_dir) is tightened to C(0700) (and backups taken by
    earlier versions with a wider mode are narrowed) and returned in RV(tightened). File contents are never logged or
    returned.
  - For MySQL or PostgreSQL, dump the database first (for example with C(mariadb-dump) or C(pg_dump) in the database
    container) and pass the dump in O(extra_files) with O(move_extra_files=true); it is stored under C(extra/),
    removed from where it was dumped, and returned by O(state=restore) in RV(extra_files) for the caller to load.
  - Free space is checked before a backup starts. When the filesystem of O(backup_dir) is too small, or fills up
    while the backup is written, the module fails with C(no space left on <backup_dir> (N bytes free, backup needs
    about M)) and leaves nothing behind.
  - Paths read from a manifest are confined to their root after resolving symbolic links - files of the backup to
    O(backup_path), restored paths to O(data_dir). A backup whose manifest leads elsewhere is refused before anything
    changes.
  - Only the standard library is needed on the managed host (Python 3.8 or newer).
options:
  state:
    description:
      - V(backup) takes a new backup of O(data_dir) into O(backup_dir) and then applies O(retention).
      - V(restore) verifies the backup at O(backup_path) against its manifest and replaces the vaultwarden files of
        O(data_dir) with it. B(Stop the vaultwarden container first); restoring under a running server corrupts its
        database. Whatever is replaced or removed (including a stale C(db.sqlite3-wal)/C(-shm), and files a newer
        server created that the backup lacks) is moved into C(<data_dir>/.pre-restore-<UTC stamp>/), not deleted;
        O(pre_restore_retention) says how many of those copies are kept.
        When O(data_dir) already holds exactly the backup's content nothing changes.
      - To list the backups use M(homelab.vaultwarden.vaultwarden_backup_info).
    type: str
    choices: [backup, restore]
    default: backup
  data_dir:
    description:
      - The vaultwarden C(/data) directory on the host (the bind-mount source).
      - Required with O(state=backup) and O(state=restore).
      - A data directory that does not exist or holds none of the vaultwarden files (a fresh install) is not an
        error - nothing is backed up and RV(backup_path) is V(null).
    type: path
  backup_dir:
    description:
      - Root directory of the backups, created C(0700) when missing and tightened to C(0700) when it exists with another
        mode.
      - Must not be inside O(data_dir), also not through a symbolic link. Must be a directory of its own, not a shared
        one such as C(/tmp), C(/var/tmp), C(/srv) or C(/opt).
      - Required with O(state=backup).
    type: path
  backup_path:
    description:
      - The backup directory to restore (a RV(backup_path) returned by O(state=backup), or a C(path) from
        RV(homelab.vaultwarden.vaultwarden_backup_info#module:backups)).
      - Required with O(state=restore).
    type: path
  label:
    description:
      - Appended to the backup directory name, for example V(1.32.0-to-1.35.1) before an upgrade.
      - 1 to 64 characters from C(A-Z a-z 0-9 . _ + -), starting with a letter or digit.
    type: str
  run_id:
    description:
      - An identifier of the caller's run, returned as RV(run_id), so that a play applying a role several times can tell
        its own backup from an earlier one (registered results outlive a role's application).
    type: str
  database:
    description:
      - The database backend of the server. With V(sqlite) the database file is copied online; with V(mysql) or
        V(postgresql) only files are copied, so pass a dump in O(extra_files).
    type: str
    choices: [sqlite, mysql, postgresql]
    default: sqlite
  sqlite_path:
    description:
      - The SQLite database file when it is not C(<data_dir>/db.sqlite3) (a custom C(DATABASE_URL)).
      - With O(state=restore), where to restore the database; defaults to where it was backed up from when that was
        inside O(data_dir), else C(<data_dir>/db.sqlite3).
    type: path
  extra_files:
    description:
      - Further files or directories to include, stored under C(extra/<name>) in the backup (for example a SQL dump).
      - Each must exist and their base names must differ.
    type: list
    elements: path
    default: []
  move_extra_files:
    description:
      - Remove each of O(extra_files) from where it was once the backup holding it is complete, so that no plain copy
        of a database dump stays beside the database container. Removed paths are returned in
        RV(extra_files_removed).
      - A file or directory that changed after it was copied (a newer dump landed meanwhile) is kept, with a warning.
      - Refused for paths inside O(data_dir) or O(backup_dir).
    type: bool
    default: false
  pre_restore_retention:
    description:
      - How many C(.pre-restore-<stamp>) copies made by O(state=restore) to keep in O(data_dir), newest first; older
        ones are deleted after a restore and by the next backup. V(0) keeps every copy.
      - Only directories carrying this module's marker file C(.homelab-vaultwarden-pre-restore.json) are ever deleted;
        C(.pre-restore-*) directories without it (made by an earlier version or by hand) are kept and reported as
        warnings, since they hold a copy of the vault.
    type: int
    default: 1
  include_icon_cache:
    description:
      - Also copy C(icon_cache/). It only holds downloaded website icons, which the server fetches again.
    type: bool
    default: false
  retention:
    description:
      - After a successful backup, keep this many newest backups of O(data_dir) in O(backup_dir) and delete older ones.
        V(0) keeps every backup.
      - Only directories whose C(manifest.json) marks them as backups of this module, taken from the same O(data_dir),
        are ever deleted. Anything else in O(backup_dir) is left alone (temporary directories of killed backups
        excepted, see above).
    type: int
    default: 5
  mode:
    description:
      - Kept so that tasks written for earlier versions keep working; the only accepted value is V('0700').
      - Backups are always C(0700) directories with C(0600) files. Any other value, in particular one that gives the
        group or others access (V('0750'), V('0777')), fails with an explanation; remove the option from the task.
    type: raw
    default: '0700'
notes:
  - A backup taken while the server runs is consistent for the database (one SQLite snapshot). Attachments and sends
    are copied file by file right after; an attachment uploaded during the copy may be missing from the backup.
    For a fully quiesced backup, stop the container first (the role does this before an upgrade).
  - Opening a WAL database read-only may leave an empty C(db.sqlite3-wal) and C(db.sqlite3-shm) beside it when the
    server is stopped. They are given the database file's owner and mode so a non-root server can still use them.
  - When run as root, a restore gives files back their recorded owner and mode.
  - Two runs must not change the same host at once; take M(homelab.vaultwarden.vaultwarden_lock) around the change.
attributes:
  check_mode:
    support: full
    description: Reports what a backup, restore or prune would do (including which backups would be pruned) and changes nothing.
  diff_mode:
    support: none
    description: Backups are directories of binary copies; there is no meaningful text diff to show.
  platform:
    support: full
    platforms: posix
    description: Any POSIX host with Python 3.8 or newer and its standard C(sqlite3) module.
seealso:
  - module: homelab.vaultwarden.vaultwarden_backup_info
    description: Lists the backups this module took, newest first, with their manifests.
  - module: homelab.vaultwarden.vaultwarden_lock
    description: Keeps two runs from changing (and backing up) one host at the same time.
  - name: Backing up your vault (vaultwarden wiki)
    description: Upstream guidance on what to back up and how to restore.
    link: https://github.com/dani-garcia/vaultwarden/wiki/Backing-up-your-vault
"""

EXAMPLES = r"""
- name: Back up before upgrading
  homelab.vaultwarden.vaultwarden_backup:
    data_dir: /srv/vaultwarden/data
    backup_dir: /srv/vaultwarden/backups
    label: 1.32.0-to-1.35.1
    retention: 5
  register: vaultwarden_backup_result

- name: Back up a PostgreSQL-backed server with the dump taken just before, leaving no plain dump behind
  homelab.vaultwarden.vaultwarden_backup:
    data_dir: /srv/vaultwarden/data
    backup_dir: /srv/vaultwarden/backups
    database: postgresql
    extra_files:
      - /srv/vaultwarden/dumps/vaultwarden.sql
    move_extra_files: true

- name: List backups
  homelab.vaultwarden.vaultwarden_backup_info:
    backup_dir: /srv/vaultwarden/backups
  register: vaultwarden_backups

- name: Stop the server before restoring
  community.docker.docker_container:
    name: vaultwarden
    state: stopped

- name: Restore the newest backup
  homelab.vaultwarden.vaultwarden_backup:
    state: restore
    data_dir: /srv/vaultwarden/data
    backup_path: "{{ vaultwarden_backups.backups[0].path }}"
"""

RETURN = r"""
run_id:
  description: The O(run_id) given.
  returned: always
  type: str
backup_path:
  description: The new backup directory; V(null) when there was nothing to back up or in check mode.
  returned: state=backup
  type: str
  sample: /srv/vaultwarden/backups/20260425T101500Z-1.32.0-to-1.35.1
manifest:
  description:
    - The manifest written with the backup (state=backup) or read from it (state=restore).
    - C(files) lists C(path) (inside the backup), C(kind), C(size), C(sha256), C(mode), C(uid), C(gid), C(mtime);
      C(sqlite) has C(page_count), C(page_size), C(journal_mode), C(integrity_check), C(schema_version) (newest
      vaultwarden migration applied), C(file), C(source), C(relative_path).
  returned: state=backup and a backup was taken, or state=restore
  type: dict
  sample:
    format: homelab.vaultwarden.backup
    format_version: 1
    created_at: "2026-04-25T10:15:00.123456Z"
    label: 1.32.0-to-1.35.1
    data_dir: /srv/vaultwarden/data
    database: sqlite
    sqlite: {page_count: 61, page_size: 4096, journal_mode: wal, integrity_check: ok, schema_version: "20240313170000"}
    files:
      - {path: db.sqlite3, kind: database, size: 249856, sha256: "9f2c...", mode: "0644", uid: 0, gid: 0}
    missing: [sends/]
    total_size: 251904
planned:
  description: In check mode, the items a backup would copy (C(kind), C(source), C(path)).
  returned: state=backup in check mode
  type: list
  elements: dict
pruned:
  description: Backup directories deleted by retention (in check mode, that would be deleted).
  returned: state=backup
  type: list
  elements: str
  sample: [/srv/vaultwarden/backups/20260101T000000Z]
missing:
  description: Vaultwarden files or directories that did not exist and were skipped.
  returned: state=backup
  type: list
  elements: str
  sample: [sends/, icon_cache/]
restored:
  description: Paths in O(data_dir) replaced from the backup (in check mode, that would be replaced).
  returned: state=restore
  type: list
  elements: str
  sample: [/srv/vaultwarden/data/db.sqlite3, /srv/vaultwarden/data/attachments]
moved:
  description: Paths that existed before the restore and were moved aside into RV(moved_aside).
  returned: state=restore
  type: list
  elements: str
moved_aside:
  description: The C(.pre-restore-<stamp>) directory holding what the restore replaced; V(null) when nothing was moved.
  returned: state=restore
  type: str
  sample: /srv/vaultwarden/data/.pre-restore-20260425T103000Z
extra_files:
  description: Paths inside the backup of the O(extra_files) it holds (for example a SQL dump to load after a restore).
  returned: state=restore
  type: list
  elements: str
tightened:
  description:
    - O(backup_dir) when it had another mode than C(0700), and every backup in it that had a wider mode, now narrowed to
      C(0700) directories and C(0600) files (in check mode, that would be narrowed).
  returned: state=backup
  type: list
  elements: str
  sample: [/srv/vaultwarden/backups]
leftovers_removed:
  description:
    - Temporary directories of killed runs that were removed (in check mode, that would be removed) -
      C(.tmp-vaultwarden-backup-*) in O(backup_dir) and C(.restore-staging-*) in O(data_dir).
  returned: always
  type: list
  elements: str
  sample: [/srv/vaultwarden/backups/.tmp-vaultwarden-backup-k2j4h1]
pre_restore_pruned:
  description: C(.pre-restore-<stamp>) directories deleted by O(pre_restore_retention) (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [/srv/vaultwarden/data/.pre-restore-20260101T000000Z]
extra_files_removed:
  description: The O(extra_files) removed after the backup by O(move_extra_files) (in check mode, that would be).
  returned: state=backup
  type: list
  elements: str
  sample: [/srv/vaultwarden/dumps/vaultwarden.sql]
msg:
  description: What happened, in one sentence.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.vaultwarden.plugins.module_utils.backup import (
    BackupError,
    DATABASES,
    DEFAULT_PRE_RESTORE_RETENTION,
    create_backup,
    parse_mode,
    restore_backup,
)


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["backup", "restore"], default="backup"),
            data_dir=dict(type="path"),
            backup_dir=dict(type="path"),
            backup_path=dict(type="path"),
            label=dict(type="str"),
            database=dict(type="str", choices=list(DATABASES), default="sqlite"),
            sqlite_path=dict(type="path"),
            extra_files=dict(type="list", elements="path", default=[]),
            include_icon_cache=dict(type="bool", default=False),
            retention=dict(type="int", default=5),
            mode=dict(type="raw", default="0700"),
            move_extra_files=dict(type="bool", default=False),
            pre_restore_retention=dict(type="int", default=DEFAULT_PRE_RESTORE_RETENTION),
            run_id=dict(type="str"),
        ),
        required_if=[
            ("state", "backup", ["data_dir", "backup_dir"]),
            ("state", "restore", ["data_dir", "backup_path"]),
        ],
        supports_check_mode=True,
    )
    params = module.params
    state = params["state"]
    try:
        if state == "backup":
            result = create_backup(
                params["data_dir"], params["backup_dir"], label=params["label"], database=params["database"],
                sqlite_path=params["sqlite_path"], extra_files=params["extra_files"],
                include_icon_cache=params["include_icon_cache"], retention=params["retention"],
                mode=parse_mode(params["mode"]), check_mode=module.check_mode,
                move_extra_files=params["move_extra_files"], pre_restore_retention=params["pre_restore_retention"])
        else:
            result = restore_backup(params["backup_path"], params["data_dir"], sqlite_path=params["sqlite_path"],
                                    check_mode=module.check_mode, pre_restore_retention=params["pre_restore_retention"])
        for warning in result.pop("warnings", []):
            module.warn(warning)
    except BackupError as error:
        module.fail_json(msg=str(error))
    except (OSError, IOError) as error:
        outcome = {
            "backup": "the temporary backup directory was removed",
            "restore": "the data directory was put back as it was",
        }[state]
        module.fail_json(msg="%s failed: %s; %s, fix the cause and run again" % (state, error, outcome))
    # Registered results outlive the role's application in a play: the caller checks this is its own run's backup.
    result["run_id"] = params["run_id"]
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
