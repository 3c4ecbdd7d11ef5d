#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done on the controller by the action plugin of the same name (plugins/action/vaultwarden_plan.py);
# this file holds its documentation.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vaultwarden_plan
short_description: Plan a vaultwarden deployment on the controller (the role's only decision point)
version_added: 0.2.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Validates the role's C(vaultwarden_*) variables against the role's C(meta/argument_specs.yml) and B(converts) them
    (C(-e vaultwarden_purge_data=false) is the boolean V(false) on every supported ansible-core), warns about unknown
    C(vaultwarden_*) variables (typos such as C(vaultwarden_versoin)), gathers the host's facts in one round trip
    (M(homelab.vaultwarden.vaultwarden_facts)), reads the official-images libraries, judges the admin token against
    the host's hash, and returns the plan made by the pure planner C(plugins/module_utils/planner.py).
  - Refusals fail the task with the planner's message (the variable, the value, why, the fix) before anything on the
    host changes.
  - O(stage=pull) selects the images and says what to pull; O(stage=deploy) takes what was pulled and returns the
    container specs, backup, record, health wait and rollback target; O(stage=absent) what C(state=absent) removes.
  - O(stage=preflight) is O(stage=pull) for the fleet-wide preflight of C(homelab.vaultwarden.site) (it asks the
    registry nothing more, and is skipped when the play has one host); O(stage=fleet_preflight), run once, judges every
    host's preflight (registered as C(_vaultwarden_preflight)) and fails listing each refused or unreachable host with
    its reason, unless C(vaultwarden_preflight_allow_refused) is true (then RV(refused) names the hosts to leave out).
  - One release everywhere (role variable C(vaultwarden_fleet_release)) - O(stage=pull) follows the digest the run's
    earlier hosts planned (their registered O(stage=deploy) result; hosts that failed are left out, so a release that
    was rolled back is not followed); the first host to pull a reference asks the registry for its digest (one more
    look, only when it pulls) and pulls by it.
  - O(stage=report) plans nothing and never fails; it returns what the fleet report shows of the host (RV(report)),
    from two module runs there (M(homelab.vaultwarden.vaultwarden_facts) without registry or ownership probes, and
    M(homelab.vaultwarden.vaultwarden_backup_info)), for M(homelab.vaultwarden.vaultwarden_report).
options:
  stage:
    description: Which part of the plan to make.
    type: str
    choices: [pull, deploy, absent, preflight, fleet_preflight, report]
    required: true
  previous:
    description: The result of the O(stage=pull) task (O(stage=deploy) only).
    type: dict
  pulled:
    description: The results of pulling the images of O(previous) (a loop's C(results)), O(stage=deploy) only.
    type: list
    elements: dict
  run_id:
    description:
      - The run's identity (O(stage=pull) only). Empty makes a new one; a run that plans again after waiting for another
        run's lock passes its own, so that the lock, the backup and the health gate stay this run's.
    type: str
    default: ""
  libraries_dir:
    description: Directory with the official-images library files of the database images (C(mariadb), C(mysql), C(postgres)).
      Defaults to the role's C(files/official-images).
    type: path
attributes:
  check_mode:
    support: full
    description: Only reads; in check mode the plan says what a real run would do.
  diff_mode:
    support: none
    description: The plan is the result; nothing changes.
  action:
    support: full
    description: Runs on the controller; gathers the host's facts through M(homelab.vaultwarden.vaultwarden_facts).
seealso:
  - module: homelab.vaultwarden.vaultwarden_facts
"""

EXAMPLES = r"""
- name: Gather what the fleet report shows (playbooks/report.yml)
  homelab.vaultwarden.vaultwarden_plan:
    stage: report
  register: _vaultwarden_report_host

- name: Plan what to pull
  homelab.vaultwarden.vaultwarden_plan:
    stage: pull
  register: _vaultwarden_pull

- name: Plan the deployment
  homelab.vaultwarden.vaultwarden_plan:
    stage: deploy
    previous: "{{ _vaultwarden_pull }}"
    pulled: "{{ _vaultwarden_pulled.results | default([]) }}"
  register: _vaultwarden_plan

# The fleet-wide preflight of a play (playbooks/site.yml): nothing changes before every host passed.
- name: Validate, detect and plan on every host
  homelab.vaultwarden.vaultwarden_plan:
    stage: preflight
  register: _vaultwarden_preflight
  ignore_errors: true

- name: Stop the run unless every host passed
  homelab.vaultwarden.vaultwarden_plan:
    stage: fleet_preflight
  run_once: true
"""

RETURN = r"""
request:
  description: The role's variables, validated and converted, with the derived ones filled in (secrets hidden).
  returned: except with O(stage=report)
  type: dict
plan:
  description: The plan of the stage (see docs/design.md "The plan").
  returned: except with O(stage=report)
  type: dict
report:
  description:
    - O(stage=report) only. The host as the fleet report needs it - C(platform), C(board), C(kernel_machine),
      C(daemon_platform), C(daemon_matches_host), C(engine) (C(name), C(reachable), C(version), C(error)),
      C(container) (C(exists), C(status), C(running), C(restarting), C(health), C(exit_code), C(restart_count),
      C(started_at), C(image_name)), C(image) (C(id), C(platform), C(repo_digests), C(version_label)), C(record) (the
      deployment record's current C(version), C(tag), C(ref), C(channel), C(platform), C(image_id), C(repo_digests),
      C(database)), C(record_error), C(backup_dir), C(backup_count), C(last_backup) (C(name), C(created_at),
      C(total_size)) and C(backups_error).
    - Only C(error) (why) when the role's variables are refused or the facts could not be gathered.
  returned: with O(stage=report)
  type: dict
facts:
  description: What M(homelab.vaultwarden.vaultwarden_facts) reported (O(stage=pull) and O(stage=absent)).
  returned: when gathered
  type: dict
refused:
  description: The hosts the fleet preflight refused (O(stage=fleet_preflight)).
  returned: O(stage=fleet_preflight)
  type: list
  elements: str
  sample: [pi-zero]
"""
