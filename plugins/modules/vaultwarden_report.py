#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done on the controller by the action plugin of the same name (plugins/action/vaultwarden_report.py);
# this file holds its documentation.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vaultwarden_report
short_description: Write the fleet report (JSON, Markdown, a self-contained HTML page) on the controller
version_added: 0.2.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Reads what each host of O(hosts) registered under O(result) (the task M(homelab.vaultwarden.vaultwarden_plan) with
    C(stage=report), see C(playbooks/report.yml)) and writes, into the directory O(dest) on the controller,
    C(report.json), C(report.md) and C(index.html).
  - Per host (sorted by name) - health of the vaultwarden container, platform and board, engine and version, image
    reference, digest and version, uptime, last backup and its age, drift from the fleet's release, and warnings
    (the Docker daemon's platform is not the host's, the running image's platform is not the host's, a release known
    broken on that platform, no backup, a backup older than O(max_backup_age_days) days, an unreadable record).
  - A summary heads the report - hosts, healthy hosts, hosts that need a look, drifted hosts, warnings, the fleet's
    release and every release in use with its hosts.
  - The fleet's release is O(release) when given, else the version most deployed hosts run (the newest among equals).
  - The HTML page needs nothing from the network (inline CSS and SVG, no script); everything that comes from a host is
    HTML-escaped.
  - A host that registered nothing (unreachable, or removed from the play before) is reported as unreachable; one that
    has no vaultwarden container and no deployment record as not deployed.
options:
  hosts:
    description: Inventory names of the hosts to report. Defaults to C(ansible_play_hosts_all), every host of the play.
    type: list
    elements: str
  result:
    description: Name of the variable each host registered the C(stage=report) result of M(homelab.vaultwarden.vaultwarden_plan) under.
    type: str
    default: _vaultwarden_report_host
  dest:
    description:
      - Directory on the controller the three files are written to; made when missing. A relative path is relative to
        the directory C(ansible-playbook) runs in.
    type: path
    default: vaultwarden-report
  max_backup_age_days:
    description: A host whose last backup is older than this many days (exactly that many is not older) gets a warning.
    type: int
    default: 7
  release:
    description: The fleet's release, when it is stated (for example C(1.37.2)); empty takes the version most hosts run.
    type: str
    default: ""
  now:
    description: The time uptimes and backup ages are counted to (UTC, ISO 8601); empty is the current time.
    type: str
    default: ""
attributes:
  action:
    support: full
    description: Runs on the controller only; reads the other hosts' registered results from C(hostvars).
  check_mode:
    support: full
    description: Builds the report and says whether the files would change; writes nothing.
  diff_mode:
    support: none
    description: The report is returned in RV(report) instead.
  idempotent:
    support: partial
    description: A file is written only when its content differs; uptimes and backup ages move with the time.
seealso:
  - module: homelab.vaultwarden.vaultwarden_plan
  - module: homelab.vaultwarden.vaultwarden_facts
  - module: homelab.vaultwarden.vaultwarden_backup_info
"""

EXAMPLES = r"""
- name: Look at every vaultwarden host
  hosts: vaultwarden
  gather_facts: false
  tasks:
    - name: Gather what the report shows (two module runs on the host)
      homelab.vaultwarden.vaultwarden_plan:
        stage: report
      register: _vaultwarden_report_host
      ignore_unreachable: true

    - name: Write the report on the controller
      homelab.vaultwarden.vaultwarden_report:
        dest: /srv/reports/vaultwarden
        max_backup_age_days: 3
      run_once: true
"""

RETURN = r"""
files:
  description: Paths of the files written (or that would be, in check mode), by format.
  returned: always
  type: dict
  contains:
    json:
      description: The report as data.
      type: str
      sample: /home/me/vaultwarden-report/report.json
    markdown:
      description: The report as a Markdown table.
      type: str
      sample: /home/me/vaultwarden-report/report.md
    html:
      description: The report as a self-contained page; open it in a browser.
      type: str
      sample: /home/me/vaultwarden-report/index.html
report:
  description: The report, as C(report.json) holds it.
  returned: always
  type: dict
  contains:
    summary:
      description:
        - C(generated_at), C(hosts), C(healthy), C(unhealthy) (deployed hosts that need a look), C(not_deployed),
          C(unreachable), C(drifted), C(warnings), C(hosts_with_warnings), C(fleet_release), C(fleet_release_given),
          C(max_backup_age_days) and C(releases) (per version in use, C(version), C(count), C(hosts), C(digests)).
      type: dict
    hosts:
      description:
        - One row per host, sorted by name - C(host), C(status) (C(healthy), C(unhealthy), C(starting), C(running),
          C(restarting), C(stopped), C(missing), C(engine down), C(not deployed), C(unreachable), C(error)),
          C(level) (C(ok), C(warn), C(bad), C(none)), C(detail), C(deployed), C(platform), C(board), C(kernel_machine),
          C(engine), C(engine_version), C(image), C(digest), C(version), C(started_at), C(uptime_seconds), C(uptime),
          C(last_backup), C(last_backup_at), C(last_backup_age_seconds), C(last_backup_age_days), C(backup_count),
          C(drift) (C(on release), C(drifted), C(unknown)), C(drift_detail) and C(warnings) (each C(kind), C(text)).
      type: list
      elements: dict
msg:
  description: The summary in one sentence, with the page to open.
  returned: always
  type: str
  sample: 4 host(s), 3 healthy, 1 drifted, 1 warning(s); open /home/me/vaultwarden-report/index.html
"""
