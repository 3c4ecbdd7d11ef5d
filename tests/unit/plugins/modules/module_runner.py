# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a host-side module for real, as Ansible does: a subprocess fed its JSON arguments (shared by the module tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
PACKAGE = "ansible_collections.homelab.vaultwarden.plugins.modules."


def run_module(name, args, check_mode=False, python=None, preexec_fn=None, timeout=300):
    """The module's result (with its exit code as ``rc``); fails the test when it printed no JSON."""
    module_args = dict(args)
    if check_mode:
        module_args["_ansible_check_mode"] = True
    completed = subprocess.run([python or sys.executable, "-m", PACKAGE + name, json.dumps({"ANSIBLE_MODULE_ARGS": module_args})],
                               capture_output=True, text=True, check=False, env=dict(os.environ, PYTHONPATH=COLLECTIONS),
                               cwd=ROOT, preexec_fn=preexec_fn, timeout=timeout)
    try:
        result = json.loads(completed.stdout)
    except ValueError:
        raise AssertionError("module printed no JSON (rc %d): %s %s" % (completed.returncode, completed.stdout, completed.stderr))
    result["rc"] = completed.returncode
    return result


def warnings_of(result):
    """The warning texts; ansible-core 2.19 returns each as a structured summary, older versions as a string."""
    texts = []
    for warning in result.get("warnings", []):
        if isinstance(warning, dict):
            warning = (warning.get("event") or warning).get("msg", "")
        texts.append(warning)
    return texts
