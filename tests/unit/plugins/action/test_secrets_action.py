# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The secrets action's controller half: the values of given secret files come from their variables, never the plan."""

import json
import os

import yaml
from ansible.plugins.action import ActionBase

from ansible_collections.homelab.vaultwarden.plugins.action import vaultwarden_secrets as action
from ansible_collections.homelab.vaultwarden.plugins.module_utils import planner

DEFAULTS = os.path.join(os.path.dirname(action.__file__), "..", "..", "roles", "vaultwarden", "defaults", "main.yml")


class _Templar(object):
    @staticmethod
    def template(value):
        return value


def _run(monkeypatch, plan, env_from, task_vars):
    sent = {}
    module = object.__new__(action.ActionModule)
    module._templar = _Templar()
    module.validate_argument_spec = lambda argument_spec: (None, {"secrets": plan, "env_from_secrets": env_from})
    module._execute_module = lambda module_name, module_args, task_vars: sent.update(module_args) or {
        "changed": True, "contents": {}}
    monkeypatch.setattr(ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    return module.run(task_vars=task_vars), sent


def _plan(**variables):
    with open(DEFAULTS) as handle:
        raw = yaml.safe_load(handle)
    raw.update(variables)
    req = planner.derive_request(raw)
    files = planner.secret_files(req, "", False)
    return {"dir": "/opt/vaultwarden/secrets", "files": files, "write": sorted(files), "remove": [], "owner": "10001"}


def test_typed_secrets_are_read_from_their_variables_as_given(monkeypatch):
    smtp = {"host": "smtp.example.org", "from": "a@b.c", "username": "u", "password": "smtp-s3cret"}
    push = {"installation_id": "id", "installation_key": "push-k3y"}
    plan = _plan(vaultwarden_smtp=smtp, vaultwarden_push=push, vaultwarden_secret_env={"EXTRA": "x"})
    assert "smtp-s3cret" not in json.dumps(plan) and "push-k3y" not in json.dumps(plan)
    # -e 'vaultwarden_push={"installation_id": ...}' reaches the task as a JSON string.
    result, sent = _run(monkeypatch, plan, {"SMTP_PASSWORD": "env_SMTP_PASSWORD"},
                        {"vaultwarden_smtp": smtp, "vaultwarden_push": json.dumps(push),
                         "vaultwarden_secret_env": '{"EXTRA": "x"}'})
    assert sent["values"] == {"env_SMTP_PASSWORD": "smtp-s3cret", "env_PUSH_INSTALLATION_KEY": "push-k3y",
                              "env_EXTRA": "x"}
    assert result["env"] == {"SMTP_PASSWORD": "smtp-s3cret"}     # a release before 1.18.0 gets it in its environment
