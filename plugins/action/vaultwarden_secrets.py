# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documented with the module of the same name (plugins/modules/vaultwarden_secrets.py).

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.homelab.vaultwarden.plugins.module_utils import settings


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("secrets", "env_from_secrets"))

    def _value(self, task_vars, name):
        return self._templar.template(task_vars.get(name)) if name in task_vars else None

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(argument_spec=dict(
            secrets=dict(type="dict", required=True),
            env_from_secrets=dict(type="dict", default={}),
        ))
        plan = args["secrets"]
        files = plan["files"]
        given = {}
        for name, spec in files.items():
            kind = spec.get("kind")
            if kind == "admin_token":
                token = self._value(task_vars, "vaultwarden_admin_token") or ""
                if plan.get("admin_token_form") == "argon2":
                    from ansible_collections.homelab.vaultwarden.plugins.filter.argon2_hash import argon2_hash
                    try:
                        token = argon2_hash(token)
                    except Exception as exc:
                        raise AnsibleActionFail("vaultwarden_admin_token is refused: %s" % exc)
                given[name] = token
            elif kind == "secret_env" and spec.get("source"):
                # A typed setting's secret (vaultwarden_smtp.password, ...), read from its variable's key.
                given[name] = settings.secret_value(self._value(task_vars, spec["source"]["variable"]),
                                                    spec["source"]["key"])
            elif kind == "secret_env":
                given[name] = settings.secret_value(self._value(task_vars, "vaultwarden_secret_env"), spec["setting"])
            elif kind == "database_url":
                given[name] = self._value(task_vars, "vaultwarden_database_url") or ""
        env_from = args["env_from_secrets"]
        host_made = [files_name for files_name in env_from.values() if files_name not in given]
        module_args = dict(dir=plan["dir"], files=files, write=plan.get("write") or [], remove=plan.get("remove") or [],
                           values=dict((k, v) for k, v in given.items() if k in (plan.get("write") or [])),
                           owner=plan.get("owner"), reveal=host_made)
        result.update(self._execute_module(module_name="homelab.vaultwarden.vaultwarden_secrets",
                                           module_args=module_args, task_vars=task_vars))
        contents = result.pop("contents", {}) or {}
        result["env"] = dict((setting, given.get(name, contents.get(name, ""))) for setting, name in env_from.items())
        return result
