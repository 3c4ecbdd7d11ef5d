# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import tempfile

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.homelab.vaultwarden.plugins.plugin_utils import fleet_report

# The report's files in the destination directory, by format.
FILES = (("json", "report.json", fleet_report.to_json), ("markdown", "report.md", fleet_report.to_markdown),
         ("html", "index.html", fleet_report.to_html))


def _write(path, text, check_mode):
    """Write ``text`` to ``path`` atomically when it differs; returns whether it differed."""
    data = text.encode("utf-8")
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except (IOError, OSError):
        pass
    if check_mode:
        return True
    handle, temporary = tempfile.mkstemp(prefix=".vaultwarden-report-", dir=os.path.dirname(path))
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return True


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("hosts", "result", "dest", "max_backup_age_days", "release", "now"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(argument_spec=dict(
            hosts=dict(type="list", elements="str"),
            result=dict(type="str", default="_vaultwarden_report_host"),
            dest=dict(type="path", default="vaultwarden-report"),
            max_backup_age_days=dict(type="int", default=fleet_report.DEFAULT_MAX_BACKUP_AGE_DAYS),
            release=dict(type="str", default=""),
            now=dict(type="str", default=""),
        ))
        check_mode = bool(self._task.check_mode or self._play_context.check_mode)
        if args["max_backup_age_days"] < 0:
            result.update(failed=True, msg="max_backup_age_days %d is refused: it counts days; give 0 or more (the "
                                           "default is %d)" % (args["max_backup_age_days"],
                                                               fleet_report.DEFAULT_MAX_BACKUP_AGE_DAYS))
            return result
        if args["now"]:
            now = fleet_report.parse_time(args["now"])
            if now is None:
                result.update(failed=True, msg="now %r is refused: it is no UTC time; give one such as "
                                               "2026-12-07T23:00:00Z, or leave it empty for the current time" % args["now"])
                return result
        else:
            now = datetime.datetime.now(datetime.timezone.utc)
        names = args["hosts"] if args["hosts"] is not None else list(task_vars.get("ansible_play_hosts_all") or [])
        hostvars = task_vars.get("hostvars") or {}
        hosts = {}
        for name in names:
            found = hostvars[name] if name in hostvars else {}
            registered = found[args["result"]] if args["result"] in found else None
            hosts[name] = fleet_report.host_input(registered)
        report = fleet_report.build_report(hosts, now, args["max_backup_age_days"], release=args["release"] or None)
        dest = os.path.abspath(os.path.expanduser(args["dest"]))
        files = {}
        changed = False
        try:
            if not check_mode and not os.path.isdir(dest):
                os.makedirs(dest)
            for kind, name, render in FILES:
                path = os.path.join(dest, name)
                files[kind] = path
                changed = _write(path, render(report), check_mode) or changed
        except (IOError, OSError) as exc:
            raise AnsibleError("writing the fleet report to %s failed: %s; nothing else was changed. Give a directory "
                               "you can write with dest (vaultwarden_report_dir)" % (dest, to_native(exc)))
        summary = report["summary"]
        result.update(changed=changed, files=files, report=report, msg="%d host(s), %d healthy, %d drifted, "
                      "%d warning(s); open %s" % (summary["hosts"], summary["healthy"], summary["drifted"],
                                                  summary["warnings"], files["html"]))
        return result
