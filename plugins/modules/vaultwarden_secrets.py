#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vaultwarden_secrets
short_description: Keep a vaultwarden deployment's secret files (0600 in a 0700 directory)
version_added: 0.2.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Writes the secret files the containers read through C(<NAME>_FILE) settings, so that no secret is in a container's
    environment (and in C(docker inspect)).
  - Generated secrets (database passwords) are made once on the host and never leave it; templates (the managed
    database's URL) are filled on the host from other secret files; given values (the admin token's hash, extra
    secret settings) come from the controller through the action plugin of the same name, which hashes the admin token.
  - Every file is written atomically with mode 0600; the directory is made (or tightened to) 0700.
options:
  dir:
    description: The secrets directory.
    type: path
    required: true
  files:
    description: Every secret file of the deployment, name -> C(kind) (C(generate), C(template), C(admin_token),
      C(secret_env), C(database_url)), C(template), C(consumers).
    type: dict
    required: true
  write:
    description: Names of O(files) to (re)write.
    type: list
    elements: str
    default: []
  remove:
    description: Names of files to remove (secrets no longer used).
    type: list
    elements: str
    default: []
  values:
    description: The contents of the given (non-generated) files, by name. Never logged.
    type: dict
    default: {}
  owner:
    description: Numeric uid that owns the files read by the vaultwarden container (a non-root server); root when unset.
    type: str
  env_from_secrets:
    description:
      - Action plugin option. Settings to return in RV(env), setting name -> secret file name (releases before 1.18.0
        read no C(<NAME>_FILE) settings). The task must be C(no_log).
    type: dict
    default: {}
  secrets:
    description:
      - Action plugin option. The C(secrets) part of a plan of M(homelab.vaultwarden.vaultwarden_plan); the action plugin
        turns it into O(dir), O(files), O(write), O(remove), O(values), O(owner) and O(reveal).
    type: dict
  reveal:
    description: Names of host-made files whose content is returned in RV(contents) (releases that read no C(_FILE)
      settings need them in the environment). The task must be C(no_log).
    type: list
    elements: str
    default: []
attributes:
  action:
    support: full
    description: The action plugin adds the values only the controller has (it hashes the admin token).
  check_mode:
    support: full
    description: Reports what would be written; writes nothing.
  diff_mode:
    support: none
    description: Secret contents are never shown.
  idempotent:
    support: full
    description: A file is written only when its content or mode differs; a generated secret is never replaced.
"""

EXAMPLES = r"""
- name: Write the secret files (through the action plugin, which adds the values)
  homelab.vaultwarden.vaultwarden_secrets:
    secrets: "{{ _vaultwarden_plan.plan.secrets }}"
  no_log: true
"""

RETURN = r"""
written:
  description: Names of the files written.
  returned: always
  type: list
  elements: str
removed:
  description: Names of the files removed.
  returned: always
  type: list
  elements: str
restart:
  description: Per consumer (C(vaultwarden), C(database)), whether a file it reads changed.
  returned: always
  type: dict
contents:
  description: The contents of the O(reveal) files (the action plugin folds them into RV(env) and drops them).
  returned: when called without the action plugin
  type: dict
env:
  description: Setting name -> value for O(env_from_secrets).
  returned: when called through the action plugin
  type: dict
"""

import os
import secrets as random_source
import string
import tempfile

from ansible.module_utils.basic import AnsibleModule

_ALPHABET = string.ascii_letters + string.digits
_GENERATED_LENGTH = 32


def _read(path):
    with open(path) as handle:
        return handle.read().strip()


def _write(path, content, uid):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        if uid is not None:
            os.fchown(fd, uid, -1)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            files=dict(type="dict", required=True),
            write=dict(type="list", elements="str", default=[]),
            remove=dict(type="list", elements="str", default=[]),
            values=dict(type="dict", default={}, no_log=True),
            owner=dict(type="str"),
            reveal=dict(type="list", elements="str", default=[]),
            # Options of the action plugin, which turns them into the ones above.
            secrets=dict(type="dict", no_log=False),  # the plan's secrets section: names and kinds, no values
            env_from_secrets=dict(type="dict", default={}, no_log=False),  # setting -> file name
        ),
        supports_check_mode=True,
    )
    params = module.params
    directory, files = params["dir"], params["files"]
    owner = int(params["owner"]) if params["owner"] else None
    unknown = [name for name in params["write"] if name not in files]
    if unknown:
        module.fail_json(msg="write names %s, which are not in files (%s)" % (", ".join(unknown), ", ".join(sorted(files))))
    result = dict(changed=False, written=[], removed=[], restart={}, contents={})
    if module.check_mode:
        result.update(changed=bool(params["write"] or params["remove"]), written=list(params["write"]),
                      removed=list(params["remove"]))
        module.exit_json(**result)

    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
        result["changed"] = True
    if os.stat(directory).st_mode & 0o077:
        os.chmod(directory, 0o700)
        result["changed"] = True

    # Generated and given files first: templates are filled from them.
    order = sorted(params["write"], key=lambda name: files[name].get("kind") == "template")
    for name in order:
        spec = files[name]
        path = os.path.join(directory, name)
        kind = spec.get("kind")
        if kind == "generate":
            if os.path.exists(path):
                continue   # a generated secret is never replaced: the database was initialised with it
            content = "".join(random_source.choice(_ALPHABET) for dummy in range(_GENERATED_LENGTH))
        elif kind == "template":
            values = {}
            for other in os.listdir(directory):
                if other != name and not other.startswith("."):
                    values[other] = _read(os.path.join(directory, other))
            try:
                content = spec["template"].format(**values)
            except KeyError as exc:
                module.fail_json(msg="secret %s needs the secret file %s, which is missing in %s"
                                 % (name, exc, directory))
        else:
            if name not in params["values"]:
                module.fail_json(msg="no value was given for the secret file %s (kind %s)" % (name, kind))
            content = params["values"][name]
        uid = owner if "vaultwarden" in (spec.get("consumers") or []) else None
        if os.path.exists(path) and _read(path) == content.strip():
            st = os.stat(path)
            if st.st_mode & 0o777 == 0o600 and (uid is None or st.st_uid == uid):
                continue
        _write(path, content, uid)
        result["written"].append(name)
        for consumer in spec.get("consumers") or []:
            result["restart"][consumer] = True
    for name in params["remove"]:
        path = os.path.join(directory, name)
        if os.path.exists(path) and name not in files:
            os.unlink(path)
            result["removed"].append(name)
    for name in params["reveal"]:
        path = os.path.join(directory, name)
        if os.path.exists(path):
            result["contents"][name] = _read(path)
    result["changed"] = result["changed"] or bool(result["written"] or result["removed"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
