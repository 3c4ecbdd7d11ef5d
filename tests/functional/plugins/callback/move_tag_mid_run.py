# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper: moves a tag of the test world's registry in the middle of a real run.

Once the host named by VW_TEST_MOVE_AFTER_HOST has finished the task whose name ends with VW_TEST_MOVE_AFTER_TASK,
``python3 -m tools.world move-tag <VW_TEST_MOVE_TAG>`` runs (repository, tag, release separated by spaces), and what it
printed is appended to VW_TEST_MOVE_LOG. Only the functional tests enable it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: move_tag_mid_run
type: aggregate
short_description: Moves a test-world tag after a given host finished a given task (tests only)
description:
  - Test helper of homelab.vaultwarden's functional tests; not part of the collection.
requirements:
  - enabled in ANSIBLE_CALLBACKS_ENABLED
"""

import os
import subprocess
import sys

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "move_tag_mid_run"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._done = False

    def v2_runner_on_ok(self, result):
        if self._done:
            return
        if result._host.get_name() != os.environ.get("VW_TEST_MOVE_AFTER_HOST"):
            return
        if not result._task.get_name().endswith(os.environ.get("VW_TEST_MOVE_AFTER_TASK", "")):
            return
        self._done = True
        proc = subprocess.run([sys.executable, "-m", "tools.world", "move-tag"] + os.environ["VW_TEST_MOVE_TAG"].split(),
                              cwd=os.environ["VW_TEST_WORLD_CHECKOUT"], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False)
        with open(os.environ["VW_TEST_MOVE_LOG"], "a") as handle:
            handle.write("rc=%d\n%s%s" % (proc.returncode, proc.stdout, proc.stderr))
