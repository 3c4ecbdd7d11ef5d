# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/report.yml from the installed collection, end to end, on a fleet where nothing is deployed.

The fleet is this machine (local connection, a base directory and a container name no deployment has), a host that
refuses the connection, and a host whose inventory name is hostile HTML and whose variables the role refuses. Only
reads on the hosts (vaultwarden_facts and vaultwarden_backup_info; the engine is asked about a container name nobody
uses), so it needs no test world and changes nothing on the engine: the report must say "not deployed",
"unreachable" and "error", and write its three files on the controller.
"""

from __future__ import annotations

import json
import sys
import uuid

import pytest

pytestmark = pytest.mark.ansible

PLAYBOOK = """
- name: The collection's report playbook
  ansible.builtin.import_playbook: homelab.vaultwarden.report
"""
HOSTILE = "<script>alert(1)</script>"


def _inventory(tmp_path, container):
    return json.dumps({"all": {"children": {"vaultwarden": {"hosts": {
        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                      "vaultwarden_base_dir": str(tmp_path / "base"), "vaultwarden_container_name": container},
        # Port 9 (discard) on the loopback: the connection is refused at once.
        "refusing.invalid": {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_connection": "ssh",
                             "ansible_ssh_common_args": "-o ConnectTimeout=3 -o BatchMode=yes"},
        HOSTILE: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                  "vaultwarden_base_dir": "relative/dir"},
    }}}}})


def test_the_report_playbook_reports_a_fleet_without_deployment(playbooks, tmp_path):
    container = "vw-report-none-%s" % uuid.uuid4().hex[:8]
    out = tmp_path / "out"
    checked = playbooks.run(PLAYBOOK, inventory=_inventory(tmp_path, container), check=True,
                            extra_vars={"vaultwarden_report_dir": str(out)})
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-4000:]
    assert not out.exists(), "check mode wrote the report"

    run = playbooks.run(PLAYBOOK, inventory=_inventory(tmp_path, container),
                        extra_vars={"vaultwarden_report_dir": str(out), "vaultwarden_report_max_backup_age_days": "3"})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    written = run.task("Write the report on the controller")
    assert written["changed"] is True
    assert sorted(written["files"]) == ["html", "json", "markdown"]
    assert not (tmp_path / "base").exists(), "the report changed the host"
    # The unreachable host is ignored by the play, not failed: the report has its row.
    assert run.stats["refusing.invalid"]["ignored"] == 1 and run.stats["refusing.invalid"]["failures"] == 0

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    rows = dict((row["host"], row) for row in report["hosts"])
    assert [row["host"] for row in report["hosts"]] == [HOSTILE, "localhost", "refusing.invalid"]
    local = rows["localhost"]
    assert (local["status"], local["deployed"], local["drift"], local["warnings"]) == ("not deployed", False, None, [])
    assert local["platform"].startswith("linux/") and local["engine"] in ("docker", "podman")
    assert rows["refusing.invalid"]["status"] == "unreachable"
    assert "127.0.0.1" in rows["refusing.invalid"]["detail"] or "port 9" in rows["refusing.invalid"]["detail"]
    assert rows[HOSTILE]["status"] == "error" and "vaultwarden_base_dir" in rows[HOSTILE]["detail"]
    summary = report["summary"]
    assert (summary["hosts"], summary["healthy"], summary["not_deployed"], summary["unreachable"],
            summary["fleet_release"], summary["max_backup_age_days"]) == (3, 0, 1, 2, None, 3)

    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| localhost | not deployed |" in markdown and "| refusing.invalid | unreachable |" in markdown
    page = (out / "index.html").read_text(encoding="utf-8")
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http://" not in page and "https://" not in page
