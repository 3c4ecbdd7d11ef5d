# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: what each vaultwarden host runs, how it is doing, and what needs a look. Pure: no I/O.

- :func:`observe` distils one host's two module runs (``vaultwarden_facts``, ``vaultwarden_backup_info``) into the
  small dict the report needs (the action ``vaultwarden_plan`` with ``stage: report`` returns it);
- :func:`host_input` turns what a host registered (that result, an unreachable host's, or nothing) into that dict;
- :func:`build_report` judges the fleet: one row per host (health, uptime, drift from the fleet's release, last backup
  and its age, warnings) and a summary;
- :func:`to_json`, :func:`to_markdown`, :func:`to_html` spell it out. The HTML page is self-contained (inline CSS and
  SVG, no script, no external resource) and escapes everything that comes from a host.

Controller-side only (the action plugins import it); never shipped to hosts.
"""

from __future__ import annotations

import datetime
import html
import json
import re

from ansible_collections.homelab.vaultwarden.plugins.module_utils import fleet
from ansible_collections.homelab.vaultwarden.plugins.module_utils import planner
from ansible_collections.homelab.vaultwarden.plugins.module_utils import podman_engine
from ansible_collections.homelab.vaultwarden.plugins.module_utils import vaultwarden_catalogue as catalogue
from ansible_collections.homelab.vaultwarden.plugins.module_utils.image_select import ImageSelectionError, tag_info
from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import (
    PlatformError,
    normalize_platform,
    platform_string,
)

DEFAULT_MAX_BACKUP_AGE_DAYS = 7
VERSION_LABEL = "org.opencontainers.image.version"
# Health levels, each one colour on the page (and its word in Markdown).
OK, WARN, BAD, NONE = "ok", "warn", "bad", "none"
COLOURS = {OK: "#1f883d", WARN: "#d4a72c", BAD: "#cf222e", NONE: "#8c959f", "drift": "#8250df"}
_DAY = 86400.0
_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")
_NOT_GATHERED = ("no result from this host: it was not reached (unreachable, or the play stopped for it before the "
                 "report's task)")


# --- one host ---------------------------------------------------------------------------------------------------

def facts_request(req):
    """The facts module's arguments for a report: the role's (planner.facts_request), minus what only a change needs.

    No registry is asked about moving tags and the data directory is not walked for its owners: a report reads what
    runs, it never plans a pull or a hand-over.
    """
    args = planner.facts_request(req)
    args.update(probe_recorded_moving_tag=False, ownership=None)
    return args


def _image_platform(image):
    if not image.get("Os") or not image.get("Architecture"):
        return None
    parts = [image["Os"], image["Architecture"]] + ([image["Variant"]] if image.get("Variant") else [])
    return "/".join(parts)


def observe(req, facts, backups=None, backups_error=None):
    """What the report needs of one host, from the facts module's result and the backup listing's (pure)."""
    platform = facts.get("platform") or {}
    docker = platform.get("docker") or {}
    engine_name = podman_engine.choose(req["vaultwarden_engine"], facts.get("engine"), facts.get("podman"))[0]
    engine = (facts.get("podman") if engine_name == "podman" else facts.get("engine")) or {}
    container = (facts.get("containers") or {}).get(req["vaultwarden_container_name"]) or {"exists": False}
    record = facts.get("record") or {}
    current = record.get("current") or {}
    images = facts.get("images") or {}
    image = images.get(container.get("image")) or images.get(current.get("image_id")) or {}
    listed = [{"name": b.get("name"), "created_at": b.get("created_at"), "total_size": b.get("total_size")}
              for b in (backups or [])]
    return {
        "gathered": True,
        "platform": platform.get("platform"),
        "board": platform.get("board"),
        "kernel_machine": platform.get("kernel_machine"),
        "daemon_platform": docker.get("server_platform") if engine_name == "docker" else None,
        "daemon_matches_host": docker.get("matches_host") if engine_name == "docker" else None,
        "engine": {"name": engine_name or req["vaultwarden_engine"], "reachable": bool(engine.get("reachable")),
                   "version": engine.get("version"), "error": engine.get("error")},
        "container": dict((key, container.get(key)) for key in (
            "exists", "status", "running", "restarting", "health", "exit_code", "restart_count", "started_at",
            "image_name")),
        "image": {"id": image.get("Id"), "platform": _image_platform(image),
                  "repo_digests": list(image.get("RepoDigests") or []),
                  "version_label": ((image.get("Config") or {}).get("Labels") or {}).get(VERSION_LABEL)},
        "record": (dict((key, current.get(key)) for key in (
            "version", "tag", "ref", "channel", "platform", "image_id", "repo_digests", "release_digest", "database"))
            if current else None),
        "record_error": facts.get("record_error"),
        "backup_dir": req["vaultwarden_backup_dir"],
        # Newest first (as vaultwarden_backup_info lists them); the newest is the one that matters.
        "backup_count": len(listed),
        "last_backup": listed[0] if listed else None,
        "backups_error": backups_error,
    }


def host_input(registered):
    """What one host registered for the report (None when it registered nothing) as :func:`build_report` takes it."""
    if not registered:
        return {"unreachable": True, "msg": _NOT_GATHERED}
    if registered.get("unreachable"):
        return {"unreachable": True, "msg": str(registered.get("msg") or "the host did not answer")}
    if registered.get("report"):
        return registered["report"]
    if registered.get("skipped"):
        return {"error": "the report's task was skipped on this host (%s)" % (registered.get("skip_reason") or "when")}
    return {"error": str(registered.get("msg") or "the report's task returned nothing to report")}


# --- judging ------------------------------------------------------------------------------------------------------

def parse_time(text):
    """An engine's or a manifest's UTC timestamp (RFC 3339, nanoseconds allowed) as an aware datetime, else None.

    Docker's zero time (``0001-01-01T00:00:00Z``, a container never started) is None.
    """
    match = _TIME.match(str(text or "").strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if year < 1970:
        return None
    micro = int((match.group(7) or ".0")[1:7].ljust(6, "0"))
    offset = match.group(8) or "Z"
    if offset == "Z":
        zone = datetime.timezone.utc
    else:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        zone = datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError:
        return None


def duration_text(seconds):
    """``273784`` -> ``'3 d 4 h'``: the two largest units, for people."""
    if seconds is None:
        return None
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return "%d d %d h" % (days, hours) if hours else "%d d" % days
    if hours:
        return "%d h %d min" % (hours, minutes) if minutes else "%d h" % hours
    if minutes:
        return "%d min" % minutes
    return "%d s" % secs


def _same_platform(first, second):
    try:
        return normalize_platform(first) == normalize_platform(second)
    except PlatformError:
        return first == second


def _shown_platform(spelling):
    try:
        return platform_string(normalize_platform(spelling))
    except PlatformError:
        return spelling


def _digest(repo_digests, ref, release_digest=None):
    """The fleet release the host runs (its record's), else the digest it pulled ``ref`` by, else the first one."""
    digests = [d for d in repo_digests or [] if "@" in d]
    if release_digest or not digests:
        return release_digest or None
    return fleet.repository_digest(ref or "", digests) or digests[0].split("@", 1)[1]


def _variant(tag):
    try:
        return tag_info(tag)["variant"]
    except (ImageSelectionError, TypeError, KeyError):
        return "alpine" if "alpine" in str(tag or "") else catalogue.DEFAULT_VARIANT


def _health(host):
    """(status, level, detail) of a host's vaultwarden container."""
    container = host.get("container") or {}
    engine = host.get("engine") or {}
    deployed = bool(container.get("exists") or host.get("record"))
    if not deployed:
        if not engine.get("reachable"):
            return "not deployed", NONE, "no deployment record; the %s engine did not answer (%s)" % (
                engine.get("name") or "container", engine.get("error") or "no error given")
        return "not deployed", NONE, "no vaultwarden container and no deployment record"
    if not engine.get("reachable"):
        return "engine down", BAD, "the %s engine did not answer (%s)" % (engine.get("name"), engine.get("error"))
    if not container.get("exists"):
        return "missing", BAD, ("the record names a deployment but its container is gone (removed by hand?); "
                                "run the role")
    if container.get("restarting"):
        return "restarting", BAD, "restarting (exit code %s, %s restarts)" % (
            container.get("exit_code"), container.get("restart_count"))
    if not container.get("running"):
        return "stopped", BAD, "%s, exit code %s" % (container.get("status") or "not running",
                                                     container.get("exit_code"))
    health = container.get("health")
    if health == "healthy":
        return "healthy", OK, "its health check passes"
    if health == "unhealthy":
        return "unhealthy", BAD, "running, but its health check fails"
    if health == "starting":
        return "starting", WARN, "running, health check not passed yet"
    return "running", WARN, "running without a health check"


def _version(host):
    record = host.get("record") or {}
    return record.get("version") or (host.get("image") or {}).get("version_label")


def _release_key(version):
    return catalogue.release_version(version) or (0, 0, 0)


def _known_broken(version, tag, platform, rows):
    parsed = catalogue.release_version(version or "")
    if parsed is None or not platform:
        return None
    variant = _variant(tag or version)
    for row in rows:
        if (catalogue.release_version(row["version"]) == parsed and row["variant"] == variant
                and any(_same_platform(platform, p) for p in row["platforms"])):
            return row
    return None


def _warnings(host, row, stale, max_age_days, known_broken):
    found = []

    def warn(kind, text):
        found.append({"kind": kind, "text": text})

    if host.get("daemon_matches_host") is False:
        warn("daemon_platform", "the Docker daemon runs %s but the host's userspace is %s: the daemon pulls and runs "
             "another platform's images (DOCKER_HOST pointing at another machine, or an emulated fleet sharing one "
             "daemon); pin vaultwarden_platform or fix the engine"
             % (host.get("daemon_platform"), host.get("platform")))
    image_platform = (host.get("image") or {}).get("platform")
    if row["deployed"] and image_platform and host.get("platform") and not _same_platform(image_platform,
                                                                                          host["platform"]):
        warn("image_platform", "the running image is %s, the host %s: it runs under emulation or not at all; run the "
             "role to pull the host's image" % (_shown_platform(image_platform), host["platform"]))
    bad = _known_broken(row["version"], (host.get("record") or {}).get("tag"),
                        (host.get("record") or {}).get("platform") or host.get("platform"), known_broken)
    if bad:
        fix = (("upgrade to %s or newer" % bad["fixed_in"]) if bad.get("fixed_in")
               else "no fixed release is known: pin another")
        warn("known_broken", "%s (%s) is known broken on %s: %s (%s); %s" % (
            row["version"], bad["variant"], ", ".join(bad["platforms"]), bad["problem"], bad["issue"], fix))
    if host.get("record_error"):
        warn("record", host["record_error"])
    if host.get("backups_error"):
        warn("backups_unreadable", host["backups_error"])
    elif row["deployed"] and row["last_backup"] is None:
        warn("no_backup", "no backup in %s yet; the role backs up before every change, or run "
             "homelab.vaultwarden.vaultwarden_backup" % host.get("backup_dir"))
    elif stale:
        warn("stale_backup", "last backup %s ago, older than %d days (%s); take one with "
             "homelab.vaultwarden.vaultwarden_backup" % (duration_text(row["last_backup_age_seconds"]), max_age_days,
                                                         row["last_backup"]))
    elif row["last_backup"] is not None and row["last_backup_age_days"] is None:
        warn("backup_time", "the last backup (%s) carries no readable time" % row["last_backup"])
    return found


def _row(name, host, now, max_age_days, known_broken):
    row = {"host": name, "deployed": False, "status": None, "level": NONE, "detail": None, "platform": None,
           "board": None, "kernel_machine": None, "engine": None, "engine_version": None, "image": None,
           "digest": None, "release_digest": None, "version": None,
           "started_at": None, "uptime_seconds": None, "uptime": None, "last_backup": None,
           "last_backup_at": None, "last_backup_age_seconds": None, "last_backup_age_days": None, "backup_count": 0,
           "drift": None,
           "drift_detail": None, "warnings": []}
    if host.get("unreachable"):
        row.update(status="unreachable", level=BAD, detail=host.get("msg"))
        return row
    if host.get("error") or not host.get("gathered"):
        row.update(status="error", level=BAD, detail=host.get("error") or "the host's result holds no report")
        return row
    record = host.get("record") or {}
    container = host.get("container") or {}
    image = host.get("image") or {}
    engine = host.get("engine") or {}
    status, level, detail = _health(host)
    row.update(status=status, level=level, detail=detail, deployed=status != "not deployed",
               platform=host.get("platform"), board=host.get("board"), kernel_machine=host.get("kernel_machine"),
               engine=engine.get("name"), engine_version=engine.get("version"), image=record.get("ref") or container.get("image_name"),
               digest=_digest(record.get("repo_digests") or image.get("repo_digests"),
                              record.get("ref") or container.get("image_name"), record.get("release_digest")),
               version=_version(host), release_digest=record.get("release_digest"))
    started = parse_time(container.get("started_at")) if container.get("running") else None
    if started is not None:
        row.update(started_at=started.isoformat(), uptime_seconds=int((now - started).total_seconds()))
        row["uptime"] = duration_text(row["uptime_seconds"])
    last = host.get("last_backup")
    stale = False
    row["backup_count"] = int(host.get("backup_count") or 0)
    if last:
        row["last_backup"] = last.get("name")
        created = parse_time(last.get("created_at"))
        if created is not None:
            age = (now - created).total_seconds()
            row.update(last_backup_age_seconds=int(age), last_backup_age_days=round(age / _DAY, 2))
            row["last_backup_at"] = created.isoformat()
            # Compared in seconds: a backup exactly N days old is not older than N days.
            stale = age > max_age_days * _DAY
    row["warnings"] = _warnings(host, row, stale, max_age_days, known_broken)
    return row


def _natural(name):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def build_report(hosts, now, max_backup_age_days=DEFAULT_MAX_BACKUP_AGE_DAYS, known_broken=None, release=None):
    """The report of ``hosts`` (inventory name -> :func:`observe`'s dict, or ``{"unreachable": True, "msg": ...}``).

    ``now`` is an aware datetime; uptimes and backup ages are counted to it. A backup older than
    ``max_backup_age_days`` (in seconds: exactly N days old is not older) is a warning. ``known_broken`` are rows as
    ``vaultwarden_catalogue.KNOWN_BAD_RELEASES`` (the default) holds them. The fleet's release is ``release`` when
    given, else the version most hosts run (the newest among equals); a deployed host on another version has drifted.
    """
    known_broken = catalogue.KNOWN_BAD_RELEASES if known_broken is None else known_broken
    rows = [_row(name, hosts[name] or {}, now, max_backup_age_days, known_broken)
            for name in sorted(hosts, key=_natural)]
    counts = {}
    for row in rows:
        if row["deployed"] and row["version"]:
            entry = counts.setdefault(row["version"], {"version": row["version"], "hosts": [], "digests": []})
            entry["hosts"].append(row["host"])
            if row["digest"] and row["digest"] not in entry["digests"]:
                entry["digests"].append(row["digest"])
    releases = sorted(counts.values(), key=lambda e: (-len(e["hosts"]), [-n for n in _release_key(e["version"])]))
    for entry in releases:
        entry["count"] = len(entry["hosts"])
    fleet_release = release or (releases[0]["version"] if releases else None)
    # Hosts deployed by a fleet run record the manifest list they came from: the same version from two lists means
    # the tag was pushed again between runs; the list most of them run is the fleet's.
    lists = {}
    for row in rows:
        if row["deployed"] and row["version"] == fleet_release and row["release_digest"]:
            lists[row["release_digest"]] = lists.get(row["release_digest"], 0) + 1
    fleet_digest = sorted(lists, key=lambda d: (-lists[d], d))[0] if lists else None
    for row in rows:
        _drift(row, fleet_release, fleet_digest)
    summary = {
        "generated_at": now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hosts": len(rows),
        "healthy": sum(1 for r in rows if r["status"] == "healthy"),
        "unhealthy": sum(1 for r in rows if r["level"] == BAD and r["deployed"]),
        "not_deployed": sum(1 for r in rows if r["status"] == "not deployed"),
        "unreachable": sum(1 for r in rows if r["status"] in ("unreachable", "error")),
        "drifted": sum(1 for r in rows if r["drift"] == "drifted"),
        "warnings": sum(len(r["warnings"]) for r in rows),
        "hosts_with_warnings": sum(1 for r in rows if r["warnings"]),
        "fleet_release": fleet_release,
        "fleet_release_digest": fleet_digest,
        "fleet_release_given": bool(release),
        "releases": releases,
        "max_backup_age_days": max_backup_age_days,
    }
    return {"format": 1, "summary": summary, "hosts": rows}


def _drift(row, fleet_release, fleet_digest=None):
    if not row["deployed"] or not row["version"] or not fleet_release:
        row.update(drift="unknown" if row["deployed"] else None,
                   drift_detail="the deployed version is not known" if row["deployed"] else None)
        return
    if row["version"] == fleet_release and fleet_digest and row["release_digest"] not in (None, fleet_digest):
        row.update(drift="drifted", drift_detail="runs %s from another manifest list (%s, the fleet's %s): the tag was "
                   "pushed again; run homelab.vaultwarden.site to give every host one release"
                   % (fleet_release, row["release_digest"][:19], fleet_digest[:19]))
        return
    if row["version"] == fleet_release:
        row.update(drift="on release", drift_detail="runs the fleet's release %s" % fleet_release)
        return
    ahead = _release_key(row["version"]) > _release_key(fleet_release)
    row.update(drift="drifted", drift_detail="%s the fleet's %s" % ("ahead of" if ahead else "behind", fleet_release))


# --- spelling it out ----------------------------------------------------------------------------------------------

def to_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def _short(digest):
    return digest.split(":", 1)[-1][:12] if digest else None


def _releases_text(summary):
    if not summary["releases"]:
        return "none"
    return ", ".join("%s (%d host%s)" % (e["version"], e["count"], "" if e["count"] == 1 else "s")
                     for e in summary["releases"])


def _md(value):
    """A Markdown table cell: no pipe ends it, no newline breaks it, no HTML from a host renders."""
    if value in (None, ""):
        return "—"
    text = html.escape(str(value), quote=False).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.split())


def _backup_text(row):
    if not row["last_backup"]:
        return None
    age = duration_text(row["last_backup_age_seconds"])
    return "%s (%s ago)" % (row["last_backup"], age) if age else row["last_backup"]


def _engine_text(row):
    if not row["engine"]:
        return None
    return "%s %s" % (row["engine"], row["engine_version"]) if row["engine_version"] else row["engine"]


def _release_text(row):
    if not row["version"]:
        return row["image"]
    return "%s (%s)" % (row["version"], _short(row["digest"])) if row["digest"] else row["version"]


def to_markdown(report):
    summary = report["summary"]
    lines = [
        "# vaultwarden fleet report",
        "",
        "Generated %s. **%d host%s**, **%d healthy**; fleet release **%s**%s; releases in use: %s; %d warning%s; "
        "backups older than %d days are flagged." % (
            summary["generated_at"], summary["hosts"], "" if summary["hosts"] == 1 else "s", summary["healthy"],
            _md(summary["fleet_release"]), " (as given)" if summary["fleet_release_given"] else "",
            _md(_releases_text(summary)), summary["warnings"], "" if summary["warnings"] == 1 else "s",
            summary["max_backup_age_days"]),
        "",
        "| Host | Health | Release (digest) | Drift | Platform | Board | Engine | Uptime | Last backup | Warnings |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["hosts"]:
        lines.append("| " + " | ".join(_md(v) for v in (
            row["host"], row["status"], _release_text(row),
            "drifted, %s" % row["drift_detail"] if row["drift"] == "drifted" else row["drift"],
            row["platform"], row["board"],
            _engine_text(row), row["uptime"], _backup_text(row), len(row["warnings"]) or None)) + " |")
    warned = [row for row in report["hosts"] if row["warnings"] or row["level"] == BAD]
    if warned:
        lines += ["", "## What needs a look", ""]
        for row in warned:
            if row["level"] == BAD:
                lines.append("- **%s**: %s — %s" % (_md(row["host"]), _md(row["status"]), _md(row["detail"])))
            for warning in row["warnings"]:
                lines.append("- **%s**: %s" % (_md(row["host"]), _md(warning["text"])))
    return "\n".join(lines) + "\n"


_CSS = """
:root { --ok: %(ok)s; --warn: %(warn)s; --bad: %(bad)s; --none: %(none)s; --drift: %(drift)s;
  --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --paper: #ffffff; --page: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--page); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; }
header { padding: 28px 36px 20px; background: #24292f; color: #f6f8fa; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; letter-spacing: .2px; }
header .sub { margin: 0 0 18px; color: #c9d1d9; font-size: 13px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { background: #32383f; border-radius: 10px; padding: 10px 16px; min-width: 120px; border-top: 4px solid #57606a; }
.card .num { display: block; font-size: 26px; font-weight: 700; line-height: 1.15; }
.card .label { color: #c9d1d9; font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
.card.ok { border-top-color: var(--ok); } .card.bad { border-top-color: var(--bad); }
.card.warn { border-top-color: var(--warn); } .card.drift { border-top-color: var(--drift); }
.card.release .num { font-size: 20px; padding: 3px 0 2px; }
.bar { margin: 18px 0 6px; display: block; width: 100%%; height: 10px; border-radius: 5px; overflow: hidden; }
.releases { margin-top: 10px; font-size: 13px; color: #c9d1d9; }
.chip { display: inline-block; margin: 2px 6px 2px 0; padding: 1px 10px; border-radius: 999px; background: #424a53;
  color: #f6f8fa; font-variant-numeric: tabular-nums; }
.chip.fleet { background: var(--ok); color: #fff; }
main { padding: 20px 36px 36px; overflow-x: auto; }
td.nowrap { white-space: nowrap; }
.stale { color: #9a6700; font-weight: 700; }
td.warn-cell { width: 26%%; min-width: 200px; }
table { width: 100%%; border-collapse: separate; border-spacing: 0; background: var(--paper); border: 1px solid var(--line);
  border-radius: 10px; overflow: hidden; }
th { text-align: left; font-size: 12px; text-transform: uppercase; letter-spacing: .5px; color: var(--muted);
  background: #f0f3f6; padding: 9px 12px; border-bottom: 1px solid var(--line); }
td { padding: 10px 12px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
tr:last-child td { border-bottom: 0; }
td.host { border-left: 5px solid var(--none); font-weight: 600; min-width: 130px; }
tr.ok td.host { border-left-color: var(--ok); } tr.warn td.host { border-left-color: var(--warn); }
tr.bad td.host { border-left-color: var(--bad); }
.muted { color: var(--muted); font-size: 12px; font-weight: 400; }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600;
  color: #fff; white-space: nowrap; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); }
.badge.warn { background: var(--warn); color: #1f2328; } .badge.none { background: var(--none); }
.badge.drift { background: var(--drift); } .badge.onrel { background: transparent; color: var(--ok);
  border: 1px solid var(--ok); padding: 1px 9px; }
ul.warnings { margin: 0; padding: 0; list-style: none; }
ul.warnings li { border-left: 3px solid var(--warn); background: #fff8c5; padding: 4px 8px; margin: 0 0 4px;
  border-radius: 0 6px 6px 0; font-size: 12px; overflow-wrap: anywhere; }
ul.warnings li.bad { border-left-color: var(--bad); background: #ffebe9; }
.none-text { color: var(--muted); }
footer { padding: 0 36px 28px; color: var(--muted); font-size: 12px; }
""" % COLOURS


def _e(value):
    return html.escape("" if value is None else str(value), quote=True)


def _cell(main, *subs, **kwargs):
    if main in (None, ""):
        parts = ['<span class="none-text">—</span>']
    else:
        parts = [main if kwargs.get("raw") else _e(main)]
    for sub in subs:
        if sub not in (None, ""):
            parts.append('<div class="muted%s">%s</div>' % (" mono" if kwargs.get("mono") else "", _e(sub)))
    return "<td%s>%s</td>" % (' class="%s"' % kwargs["cls"] if kwargs.get("cls") else "", "".join(parts))


_SEVERE = ("known_broken", "image_platform", "record")


def _row_level(row):
    """The row's stripe: its health, or worse when a warning says so."""
    levels = [row["level"]] + [BAD if w["kind"] in _SEVERE else WARN for w in row["warnings"]]
    for level in (BAD, WARN, OK):
        if level in levels:
            return level
    return NONE


def _when(iso):
    return iso[:16].replace("T", " ") if iso else None


def _html_row(row):
    badge = '<span class="badge %s">%s</span>' % (row["level"], _e(row["status"]))
    if row["drift"] == "drifted":
        drift = '<span class="badge drift">drifted</span>'
    elif row["drift"] == "on release":
        drift = '<span class="badge onrel">on release</span>'
    elif row["drift"]:
        drift = '<span class="badge none">%s</span>' % _e(row["drift"])
    else:
        drift = '<span class="none-text">—</span>'
    if row["warnings"]:
        warnings = '<ul class="warnings">%s</ul>' % "".join(
            '<li class="%s">%s</li>' % ("bad" if w["kind"] in _SEVERE else "warn", _e(w["text"]))
            for w in row["warnings"])
    else:
        warnings = '<span class="none-text">none</span>'
    stale = any(w["kind"] == "stale_backup" for w in row["warnings"])
    age = row["last_backup_age_seconds"]
    age_text = "%s ago" % duration_text(age) if age is not None else "time unknown"
    backup = row["last_backup"] and '<span class="%s">%s</span>' % ("stale" if stale else "fresh", _e(age_text))
    digest = _short(row["digest"])
    release = ('<span title="%s">%s</span>' % (_e(row["image"]), _e(row["version"] or row["image"]))
               if row["version"] or row["image"] else None)
    cells = [
        _cell(row["host"], row["board"], cls="host"),
        _cell(badge, None if row["level"] == OK else row["detail"], raw=True),
        _cell(release, digest and "sha256:" + digest, raw=True, mono=True),
        _cell(drift, row["drift_detail"] if row["drift"] == "drifted" else None, raw=True),
        _cell(row["platform"], row["kernel_machine"]),
        _cell(row["engine"], row["engine_version"]),
        _cell(row["uptime"], row["started_at"] and "since " + row["started_at"][:10], cls="nowrap"),
        _cell(backup, _when(row["last_backup_at"]) or row["last_backup"], "%d kept" % row["backup_count"]
              if row["backup_count"] else None, raw=True, cls="nowrap"),
        '<td class="warn-cell">%s</td>' % warnings,
    ]
    return '<tr class="%s">%s</tr>' % (_row_level(row), "".join(cells))


def _bar(rows):
    """The hosts as one stacked bar, one segment per host, coloured by health (inline SVG)."""
    if not rows:
        return ""
    order = {OK: 0, WARN: 1, BAD: 2, NONE: 3}
    levels = sorted((row["level"] for row in rows), key=order.get)
    rects = "".join('<rect x="%d" y="0" width="1" height="1" fill="%s"/>' % (i, COLOURS[level])
                    for i, level in enumerate(levels))
    return ('<svg class="bar" viewBox="0 0 %d 1" preserveAspectRatio="none" role="img" aria-label="health of the '
            'hosts">%s</svg>' % (len(levels), rects))


def to_html(report):
    summary = report["summary"]
    rows = report["hosts"]
    chips = "".join('<span class="chip%s">%s &times; %d</span>' % (
        " fleet" if e["version"] == summary["fleet_release"] else "", _e(e["version"]), e["count"])
        for e in summary["releases"]) or '<span class="chip">none deployed</span>'
    cards = [
        ("", summary["hosts"], "hosts"),
        ("ok", "%d / %d" % (summary["healthy"], summary["hosts"]), "healthy"),
        ("bad" if summary["unhealthy"] + summary["unreachable"] else "ok",
         summary["unhealthy"] + summary["unreachable"], "need a look"),
        ("drift" if summary["drifted"] else "ok", summary["drifted"], "drifted"),
        ("warn" if summary["warnings"] else "ok", summary["warnings"], "warnings"),
        ("release", summary["fleet_release"] or "—", "fleet release%s" % (" (given)" if summary["fleet_release_given"]
                                                                          else "")),
    ]
    card_html = "".join('<div class="card %s"><span class="num">%s</span><span class="label">%s</span></div>'
                        % (cls, _e(num), _e(label)) for cls, num, label in cards)
    head = ("<tr><th>Host</th><th>Health</th><th>Release</th><th>Drift</th><th>Platform</th><th>Engine</th>"
            "<th>Uptime</th><th>Last backup</th><th>Warnings</th></tr>")
    body = "".join(_html_row(row) for row in rows) or '<tr><td colspan="9">No host in the report.</td></tr>'
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>vaultwarden fleet report, %s</title>" % _e(summary["generated_at"]),
        "<style>%s</style></head><body>\n" % _CSS,
        "<header><h1>vaultwarden fleet</h1>",
        '<p class="sub">Generated %s &middot; %d host%s &middot; backups older than %d days are flagged</p>' % (
            _e(summary["generated_at"].replace("T", " ").replace("Z", " UTC")), summary["hosts"],
            "" if summary["hosts"] == 1 else "s", summary["max_backup_age_days"]),
        '<div class="cards">%s</div>' % card_html,
        _bar(rows),
        '<div class="releases">Releases in use: %s</div></header>\n' % chips,
        "<main><table><thead>%s</thead><tbody>\n%s\n</tbody></table></main>\n" % (head, body),
        "<footer>homelab.vaultwarden &middot; the same data as report.json and report.md beside this page</footer>",
        "</body></html>\n",
    ])
