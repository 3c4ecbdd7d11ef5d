#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vaultwarden_lock
short_description: Keep two runs from changing one vaultwarden host at the same time
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Takes or releases a host-side lock around a change, so that two plays (two operators, a CI job and a cron run)
    do not both back up, deploy or roll back the same host at once.
  - Every Ansible task is a process of its own, so the lock is a lease file rather than a lock held by a process. It
    holds JSON C({format, owner, host, pid, acquired_at, expires_at}) and is created exclusively (C(O_EXCL)).
    The lease is judged and changed under C(flock) on the lock file's directory, held for milliseconds, so two runs
    never both win, even when they break the same expired lease.
  - O(state=acquired) with the O(owner) that already holds the lock renews the lease (re-entrant; not a change).
    Another owner's lease is waited for up to O(timeout) seconds. A lease past its C(expires_at) belongs to a run that
    ended without releasing it; it is broken, with a warning that names its owner.
  - When the lock is still held after O(timeout), the module fails naming the holder, when its lease expires, and how
    to clear it.
  - O(state=released) removes the lease only when O(owner) holds it; another owner's lease is left alone and is not
    an error, so a release in an C(always) section never takes away the lock of the run that made this one fail.
    O(force=true) removes it whoever holds it (for an operator clearing a lock by hand).
  - Only the standard library is needed on the managed host.
options:
  state:
    description:
      - V(acquired) takes the lock (or renews it when O(owner) holds it already).
      - V(released) gives it back.
    type: str
    choices: [acquired, released]
    default: acquired
  path:
    description:
      - The lease file, for example C(/opt/vaultwarden/.lock). Its directory must exist and be on a filesystem that
        supports C(flock) (any local filesystem).
    type: path
    required: true
  owner:
    description:
      - Who takes the lock - an id of this run, the same for every host of the play and every task of the run, for
        example the play's start time and the controller's host name, or a CI job id. At most 200 characters, one line.
      - Required unless O(state=released) with O(force=true).
    type: str
  timeout:
    description:
      - Seconds to wait for another owner to release the lock (or for its lease to expire). V(0) fails at once.
    type: int
    default: 0
  stale_after:
    description:
      - Lifetime of the lease in seconds, counted from when it was taken or last renewed. Once past, a run that did
        not release the lock is considered gone and its lock is broken.
      - Must exceed the longest time a run holds the lock without renewing it (the role renews it before each long step).
      - A lock file this module did not write (unreadable, damaged) is treated as a lease of an unknown holder that
        expires O(stale_after) seconds after the file was last written.
    type: int
    default: 3600
  force:
    description:
      - With O(state=released), remove the lock whoever holds it. Use it only when no run is active.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description:
      - Reports what would happen (acquire, renew, break an expired lease, release) and changes nothing. When another
        run holds the lock, check mode does not wait and does not fail; it returns the holder in RV(holder) and warns.
  diff_mode:
    support: none
    description: The lease is bookkeeping of the run, not configuration; there is nothing to diff.
  platform:
    support: full
    platforms: posix
    description: Any POSIX host with Python 3.6 or newer (C(fcntl.flock)).
notes:
  - Taking a lock and giving it back are changes of the host, so both report C(changed); renewing a lease one holds
    already does not. A role that takes and releases the lock in every run may set C(changed_when) to V(false) on both
    tasks, so that a run that changes nothing else reports no change.
seealso:
  - module: homelab.vaultwarden.vaultwarden_backup
    description: The backup and restore the lock protects.
"""

EXAMPLES = r"""
- name: Take the host lock for this run (wait up to 5 minutes for another run)
  homelab.vaultwarden.vaultwarden_lock:
    path: /opt/vaultwarden/.lock
    owner: "{{ vaultwarden_run_id }}"
    timeout: 300
    stale_after: 3600

- name: Change the host
  block:
    - name: Back up
      homelab.vaultwarden.vaultwarden_backup:
        data_dir: /opt/vaultwarden/data
        backup_dir: /opt/vaultwarden/backups
  always:
    - name: Give the host lock back
      homelab.vaultwarden.vaultwarden_lock:
        path: /opt/vaultwarden/.lock
        owner: "{{ vaultwarden_run_id }}"
        state: released

# ansible vaultwarden-host -b -m homelab.vaultwarden.vaultwarden_lock -a 'path=/opt/vaultwarden/.lock state=released force=true'
- name: Clear a lock by hand once no run is active
  homelab.vaultwarden.vaultwarden_lock:
    path: /opt/vaultwarden/.lock
    state: released
    force: true
"""

RETURN = r"""
acquired:
  description: Whether O(owner) holds the lock after this task (V(false) in check mode unless it held it already).
  returned: state=acquired
  type: bool
  sample: true
renewed:
  description: Whether O(owner) held the lock already and its lease was renewed (in check mode, would be).
  returned: state=acquired
  type: bool
  sample: false
lease:
  description: The lease O(owner) holds now (in check mode, would hold).
  returned: state=acquired
  type: dict
  sample:
    format: homelab.vaultwarden.lock
    owner: 20260425T101500-controller
    host: vault1
    pid: 4242
    acquired_at: "2026-04-25T10:15:00Z"
    expires_at: "2026-04-25T11:15:00Z"
broken:
  description: The expired lease that was broken to take the lock (in check mode, would be); V(null) when none was.
  returned: state=acquired
  type: dict
holder:
  description:
    - The lease of another owner that was left in place - with O(state=acquired) in check mode when another run holds
      the lock, with O(state=released) when the lock is not O(owner)'s; the removed lease when O(state=released)
      removed one. V(null) otherwise.
  returned: always
  type: dict
released:
  description: Whether the lock was removed.
  returned: state=released
  type: bool
waited:
  description: Seconds spent waiting for another owner.
  returned: state=acquired
  type: float
  sample: 0.0
contended:
  description:
    - Whether another owner's live lease was found, so that this run waited for it. What this run decided before it
      waited may no longer hold, so the role plans again.
  returned: state=acquired
  type: bool
  sample: false
msg:
  description: What happened, in one sentence.
  returned: always
  type: str
  sample: acquired lock /opt/vaultwarden/.lock for owner '20260425T101500-controller' until 2026-04-25T11:15:00Z
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.vaultwarden.plugins.module_utils.host_lock import (
    DEFAULT_STALE_AFTER,
    LockError,
    acquire,
    release,
)


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["acquired", "released"], default="acquired"),
            path=dict(type="path", required=True),
            owner=dict(type="str"),
            timeout=dict(type="int", default=0),
            stale_after=dict(type="int", default=DEFAULT_STALE_AFTER),
            force=dict(type="bool", default=False),
        ),
        required_if=[
            ("state", "acquired", ["owner"]),
            ("force", False, ["owner"]),
        ],
        supports_check_mode=True,
    )
    params = module.params
    if params["force"] and params["state"] != "released":
        module.fail_json(msg="force=true only applies to state=released; to take a lock another run holds, wait for it "
                             "(timeout) or release it first with state=released force=true")
    try:
        if params["state"] == "acquired":
            result = acquire(params["path"], params["owner"], timeout=params["timeout"], stale_after=params["stale_after"],
                             check_mode=module.check_mode)
        else:
            result = release(params["path"], owner=params["owner"], force=params["force"], check_mode=module.check_mode,
                             stale_after=params["stale_after"])
    except LockError as error:
        module.fail_json(msg=str(error))
    except (OSError, IOError) as error:
        module.fail_json(msg="%s the lock %s failed: %s; fix the cause (permissions, a read-only filesystem) and run again"
                             % ("taking" if params["state"] == "acquired" else "releasing", params["path"], error))
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
