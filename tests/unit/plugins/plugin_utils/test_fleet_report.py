# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's pure core: host inputs -> rows and warnings, the fleet's release and drift, the three spellings."""

import copy
import datetime
import json
import os
import re

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import planner
from ansible_collections.homelab.vaultwarden.plugins.plugin_utils import fleet_report as fr

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "fleet", "four-hosts.json")
with open(FIXTURE) as _handle:
    FLEET = json.load(_handle)
NOW = fr.parse_time(FLEET["now"])  # 2026-12-07T23:00:00Z
DAY = datetime.timedelta(days=1)


def _merge(base, changes):
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def host(**changes):
    """nas.lan of the fixture (amd64, healthy, 1.37.2, backup 1 day old) with ``changes`` merged in."""
    return _merge(copy.deepcopy(FLEET["hosts"]["nas.lan"]), changes)


def at(delta):
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_of(observation, **kwargs):
    report = fr.build_report({"h": observation}, NOW, **kwargs)
    return report["hosts"][0]


def kinds(row):
    return [w["kind"] for w in row["warnings"]]


NOT_DEPLOYED = host(container={"exists": False, "running": None, "health": None, "started_at": None,
                               "image_name": None},
                    image={"id": None, "platform": None, "repo_digests": [], "version_label": None},
                    record=None, backup_count=0, last_backup=None)

# (case, host input, status, level, warning kinds)
ROWS = [
    ("healthy on the release", host(), "healthy", "ok", []),
    ("backup exactly 7 days old is not older than 7 days",
     host(last_backup={"created_at": at(7 * DAY)}), "healthy", "ok", []),
    ("backup 7 days and 1 second old is stale",
     host(last_backup={"created_at": at(7 * DAY + datetime.timedelta(seconds=1))}), "healthy", "ok", ["stale_backup"]),
    ("backup 30 days old is stale", host(last_backup={"created_at": at(30 * DAY)}), "healthy", "ok", ["stale_backup"]),
    ("backup without a readable time", host(last_backup={"created_at": "yesterday"}), "healthy", "ok", ["backup_time"]),
    ("deployed without a backup", host(backup_count=0, last_backup=None), "healthy", "ok", ["no_backup"]),
    ("backups unreadable", host(backups_error="listing the backups in /opt/vaultwarden/backups failed: denied"),
     "healthy", "ok", ["backups_unreadable"]),
    ("daemon of another platform",
     host(platform="linux/arm/v7", daemon_platform="linux/amd64", daemon_matches_host=False,
          image={"platform": "linux/arm/v7"}, record={"platform": "linux/arm/v7"}),
     "healthy", "ok", ["daemon_platform"]),
    ("image of another platform", host(platform="linux/arm64", image={"platform": "linux/amd64"}),
     "healthy", "ok", ["image_platform"]),
    ("arm64/v8 image on an arm64 host is the same platform", host(platform="linux/arm64",
                                                                  image={"platform": "linux/arm64/v8"}),
     "healthy", "ok", []),
    ("release known broken on the host's platform",
     host(platform="linux/arm/v6", image={"platform": "linux/arm/v6"},
          record={"version": "1.29.2", "tag": "1.29.2", "platform": "linux/arm/v6"}),
     "healthy", "ok", ["known_broken"]),
    ("known-broken Debian release, but the Alpine image",
     host(platform="linux/arm/v6", image={"platform": "linux/arm/v6"},
          record={"version": "1.29.2", "tag": "1.29.2-alpine", "platform": "linux/arm/v6"}),
     "healthy", "ok", []),
    ("known-broken release on another platform", host(record={"version": "1.29.2", "tag": "1.29.2"}),
     "healthy", "ok", []),
    ("unreadable record", host(record_error="deployment record /opt/vaultwarden/deployed.json is empty"),
     "healthy", "ok", ["record"]),
    ("unhealthy", host(container={"health": "unhealthy"}), "unhealthy", "bad", []),
    ("starting", host(container={"health": "starting"}), "starting", "warn", []),
    ("no health check", host(container={"health": None}), "running", "warn", []),
    ("restarting", host(container={"restarting": True, "exit_code": 1}), "restarting", "bad", []),
    ("stopped", host(container={"running": False, "status": "exited", "exit_code": 137}), "stopped", "bad", []),
    ("container removed by hand", host(container={"exists": False, "running": None}), "missing", "bad", []),
    ("engine down", host(engine={"reachable": False, "version": None, "error": "connection refused"}),
     "engine down", "bad", []),
    ("not deployed", NOT_DEPLOYED, "not deployed", "none", []),
    ("not deployed, no engine", _merge(copy.deepcopy(NOT_DEPLOYED), {"engine": {"reachable": False}}),
     "not deployed", "none", []),
    ("unreachable", fr.host_input({"unreachable": True, "msg": "ssh: connect to host pi.lan port 22: timed out"}),
     "unreachable", "bad", []),
    ("registered nothing", fr.host_input(None), "unreachable", "bad", []),
    ("refused variables", fr.host_input({"changed": False, "report": {"error": "vaultwarden_base_dir 'x' is refused"}}),
     "error", "bad", []),
    ("skipped", fr.host_input({"skipped": True, "skip_reason": "Conditional result was False"}), "error", "bad", []),
]


@pytest.mark.parametrize("case, observation, status, level, warnings", ROWS, ids=[r[0] for r in ROWS])
def test_each_host_gets_its_health_and_warnings(case, observation, status, level, warnings):
    row = row_of(observation)
    assert (row["status"], row["level"], kinds(row)) == (status, level, warnings)
    assert row["deployed"] is (status not in ("not deployed", "unreachable", "error"))


def test_the_warnings_say_what_and_what_to_do():
    texts = {}
    for observation in (host(last_backup={"created_at": at(30 * DAY)}),
                        host(platform="linux/arm/v7", daemon_platform="linux/amd64", daemon_matches_host=False,
                             image={"platform": "linux/arm/v7"}),
                        host(platform="linux/arm/v6", image={"platform": "linux/arm/v6"},
                             record={"version": "1.29.2", "tag": "1.29.2", "platform": "linux/arm/v6"}),
                        host(backup_count=0, last_backup=None)):
        for warning in row_of(observation)["warnings"]:
            texts[warning["kind"]] = warning["text"]
    assert texts["stale_backup"].startswith("last backup 30 d ago, older than 7 days (20261206T030012Z-1.37.2)")
    assert "homelab.vaultwarden.vaultwarden_backup" in texts["stale_backup"]
    assert "the Docker daemon runs linux/amd64 but the host's userspace is linux/arm/v7" in texts["daemon_platform"]
    assert texts["known_broken"].startswith("1.29.2 (debian) is known broken on linux/arm/v6: the Debian arm/v6 image "
                                            "does not start (dani-garcia/vaultwarden#3839)")
    assert texts["no_backup"].startswith("no backup in /opt/vaultwarden/backups yet")


def test_the_backup_age_boundary_follows_the_limit():
    observation = host(last_backup={"created_at": at(3 * DAY + datetime.timedelta(seconds=1))})
    assert kinds(row_of(observation, max_backup_age_days=3)) == ["stale_backup"]
    assert kinds(row_of(observation, max_backup_age_days=4)) == []
    row = row_of(observation, max_backup_age_days=4)
    assert row["last_backup_age_seconds"] == 3 * 86400 + 1 and row["last_backup_age_days"] == 3.0


def test_uptime_is_counted_from_the_engine_start_time_with_nanoseconds():
    row = row_of(host(container={"started_at": "2026-12-07T20:59:30.123456789Z"}))
    assert (row["uptime_seconds"], row["uptime"]) == (7229, "2 h")
    assert row["started_at"] == "2026-12-07T20:59:30.123456+00:00"
    stopped = row_of(host(container={"running": False, "status": "exited", "exit_code": 0}))
    assert stopped["uptime"] is None and stopped["uptime_seconds"] is None


@pytest.mark.parametrize("text, expected", [
    ("2026-12-07T20:59:30Z", datetime.datetime(2026, 12, 7, 20, 59, 30, tzinfo=datetime.timezone.utc)),
    ("2026-12-07T20:59:30.5Z", datetime.datetime(2026, 12, 7, 20, 59, 30, 500000, tzinfo=datetime.timezone.utc)),
    ("2026-12-07T21:59:30.123456789+01:00",
     datetime.datetime(2026, 12, 7, 20, 59, 30, 123456, tzinfo=datetime.timezone.utc)),
    ("2026-12-07T20:59:30", datetime.datetime(2026, 12, 7, 20, 59, 30, tzinfo=datetime.timezone.utc)),
    ("0001-01-01T00:00:00Z", None),  # Docker's zero time: never started
    ("", None), (None, None), ("yesterday", None), ("2026-13-40T00:00:00Z", None),
])
def test_times_of_the_engines_and_the_manifests_are_read(text, expected):
    assert fr.parse_time(text) == expected


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (59, "59 s"), (60, "1 min"), (3600, "1 h"), (3660, "1 h 1 min"), (86400, "1 d"),
    (90000, "1 d 1 h"), (30 * 86400 + 7200 + 59, "30 d 2 h"), (None, None),
])
def test_durations_are_shown_in_their_two_largest_units(seconds, text):
    assert fr.duration_text(seconds) == text


def test_the_fleets_release_is_what_most_hosts_run_and_the_others_drifted():
    report = fr.build_report(FLEET["hosts"], NOW)
    summary = report["summary"]
    assert summary["fleet_release"] == "1.37.2"
    assert [(e["version"], e["count"], e["hosts"]) for e in summary["releases"]] == [
        ("1.37.2", 3, ["nas.lan", "pi3.lan", "pizero.lan"]), ("1.36.0", 1, ["pi4.lan"])]
    drift = dict((row["host"], (row["drift"], row["drift_detail"])) for row in report["hosts"])
    assert drift["pi4.lan"] == ("drifted", "behind the fleet's 1.37.2")
    assert drift["nas.lan"][0] == drift["pi3.lan"][0] == drift["pizero.lan"][0] == "on release"
    assert (summary["hosts"], summary["healthy"], summary["unhealthy"], summary["drifted"]) == (4, 3, 1, 1)


def test_a_stated_release_wins_and_a_tie_goes_to_the_newest():
    hosts = {"a": host(record={"version": "1.36.0"}), "b": host(record={"version": "1.37.2"}),
             "c": NOT_DEPLOYED, "d": fr.host_input(None)}
    report = fr.build_report(hosts, NOW)
    assert report["summary"]["fleet_release"] == "1.37.2"
    drift = dict((row["host"], row["drift"]) for row in report["hosts"])
    assert drift == {"a": "drifted", "b": "on release", "c": None, "d": None}
    stated = fr.build_report(hosts, NOW, release="1.38.0")
    assert stated["summary"]["fleet_release"] == "1.38.0" and stated["summary"]["fleet_release_given"] is True
    assert stated["hosts"][1]["drift_detail"] == "behind the fleet's 1.38.0"
    ahead = fr.build_report(hosts, NOW, release="1.35.0")["hosts"][0]
    assert ahead["drift_detail"] == "ahead of the fleet's 1.35.0"


def test_the_same_version_from_another_manifest_list_is_drift():
    one, other = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    hosts = {"a": host(record={"version": "1.37.2", "release_digest": one}),
             "b": host(record={"version": "1.37.2", "release_digest": one}),
             "c": host(record={"version": "1.37.2", "release_digest": other}),
             "d": host(record={"version": "1.37.2", "release_digest": None})}    # deployed before fleet runs
    report = fr.build_report(hosts, NOW)
    assert report["summary"]["fleet_release"] == "1.37.2" and report["summary"]["fleet_release_digest"] == one
    drift = dict((row["host"], (row["drift"], row["drift_detail"])) for row in report["hosts"])
    assert drift["a"][0] == drift["b"][0] == drift["d"][0] == "on release"
    assert drift["c"][0] == "drifted" and "another manifest list (%s" % other[:19] in drift["c"][1]
    assert "the fleet's %s" % one[:19] in drift["c"][1] and "homelab.vaultwarden.site" in drift["c"][1]
    assert report["summary"]["drifted"] == 1
    # One list per version (one release everywhere): nobody drifts.
    same = fr.build_report({"a": hosts["a"], "b": hosts["b"]}, NOW)
    assert [row["drift"] for row in same["hosts"]] == ["on release", "on release"]


def test_hosts_are_sorted_by_name_numbers_as_numbers():
    hosts = dict((name, host()) for name in ("pi10.lan", "Pi2.lan", "nas.lan", "pi1.lan"))
    assert [r["host"] for r in fr.build_report(hosts, NOW)["hosts"]] == ["nas.lan", "pi1.lan", "Pi2.lan", "pi10.lan"]


def test_the_digest_is_the_one_the_reference_was_pulled_by():
    row = row_of(host(record={"ref": "127.0.0.1:5000/vaultwarden/server:1.37.2", "repo_digests": [
        "other/image@sha256:1111", "127.0.0.1:5000/vaultwarden/server@sha256:2222"]}))
    assert row["digest"] == "sha256:2222"
    hub = row_of(host(record={"ref": "docker.io/vaultwarden/server:1.37.2",
                              "repo_digests": ["vaultwarden/server@sha256:3333"]}))
    assert hub["digest"] == "sha256:3333"
    assert row_of(host(record={"repo_digests": []}, image={"repo_digests": []}))["digest"] is None
    # A host deployed in a fleet run shows the run's release (the manifest list's digest) it was created from.
    fleet_run = row_of(host(record={"ref": "127.0.0.2:5000/vaultwarden/server:latest", "release_digest": "sha256:4444",
                                    "repo_digests": ["127.0.0.2:5000/vaultwarden/server@sha256:4444",
                                                     "127.0.0.2:5000/vaultwarden/server@sha256:5555"]}))
    assert fleet_run["digest"] == "sha256:4444"


def test_a_version_without_record_comes_from_the_image_label():
    row = row_of(host(record=None, image={"version_label": "1.35.4"}))
    assert row["version"] == "1.35.4" and row["image"] == "docker.io/vaultwarden/server:1.37.2"


def test_the_markdown_table():
    text = fr.to_markdown(fr.build_report(FLEET["hosts"], NOW))
    lines = text.splitlines()
    assert lines[0] == "# vaultwarden fleet report"
    assert lines[2] == ("Generated 2026-12-07T23:00:00Z. **4 hosts**, **3 healthy**; fleet release **1.37.2**; releases "
                        "in use: 1.37.2 (3 hosts), 1.36.0 (1 host); 1 warning; backups older than 7 days are flagged.")
    assert lines[4] == ("| Host | Health | Release (digest) | Drift | Platform | Board | Engine | Uptime | Last backup "
                        "| Warnings |")
    assert lines[5] == "|---|---|---|---|---|---|---|---|---|---|"
    assert lines[6] == ("| nas.lan | healthy | 1.37.2 (4f6e8b1f0a9c) | on release | linux/amd64 | — | docker "
                        "20.10.24+dfsg1 | 8 d 14 h | 20261206T030012Z-1.37.2 (1 d 19 h ago) | — |")
    assert lines[8] == ("| pi4.lan | healthy | 1.36.0 (9a8b7c6d5e4f) | drifted, behind the fleet's 1.37.2 | linux/arm64 "
                        "| Raspberry Pi 4 Model B Rev 1.4 | docker 20.10.24+dfsg1 | 4 h 19 min | "
                        "20261205T030009Z-1.36.0 (2 d 19 h ago) | — |")
    assert [line.split(" | ")[0] for line in lines[6:10]] == ["| nas.lan", "| pi3.lan", "| pi4.lan", "| pizero.lan"]
    assert "- **pi3.lan**: unhealthy — running, but its health check fails" in lines
    assert any(line.startswith("- **pizero.lan**: last backup 30 d 19 h ago, older than 7 days") for line in lines)


def test_markdown_cells_keep_the_table_whole():
    text = fr.to_markdown(fr.build_report({"a|b\nc<i>": host(board="x | y")}, NOW))
    row = [line for line in text.splitlines() if line.startswith("| a")][0]
    assert row.startswith("| a\\|b c&lt;i&gt; | healthy |") and "x \\| y" in row
    assert row.count(" | ") == 9


HOSTILE = "<script>alert('pwned')</script>"


def test_html_escapes_everything_a_host_says():
    hosts = {HOSTILE: host(board='<img src=x onerror="alert(1)">',
                           record_error="<b>record</b> & more", container={"health": "<blink>"}),
             "ok.lan": host()}
    page = fr.to_html(fr.build_report(hosts, NOW))
    assert "<script" not in page and "<img" not in page and "<b>" not in page and "<blink>" not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "&lt;b&gt;record&lt;/b&gt; &amp; more" in page


def test_html_is_self_contained():
    page = fr.to_html(fr.build_report(dict(FLEET["hosts"], **{HOSTILE: host()}), NOW))
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
    assert "@import" not in page and "url(" not in page and " src=" not in page
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "<svg" in page


def test_html_rows_carry_their_colours():
    page = fr.to_html(fr.build_report(FLEET["hosts"], NOW))
    body = page.split("<tbody>", 1)[1]
    assert re.findall(r'<tr class="(\w+)"><td class="host">([^<]+)<', body) == [
        ("ok", "nas.lan"), ("bad", "pi3.lan"), ("ok", "pi4.lan"), ("warn", "pizero.lan")]
    assert body.count('<span class="badge ok">healthy</span>') == 3
    assert body.count('<span class="badge bad">unhealthy</span>') == 1
    assert body.count('<span class="badge drift">drifted</span>') == 1
    assert '<span class="stale">30 d 19 h ago</span>' in body
    for colour in fr.COLOURS.values():
        assert colour in page


def test_json_holds_the_whole_report():
    report = fr.build_report(FLEET["hosts"], NOW)
    assert json.loads(fr.to_json(report)) == report
    assert report["format"] == 1 and report["summary"]["generated_at"] == "2026-12-07T23:00:00Z"


def test_an_empty_fleet_still_renders():
    report = fr.build_report({}, NOW)
    assert report["summary"]["hosts"] == 0 and report["summary"]["fleet_release"] is None
    assert "No host in the report." in fr.to_html(report)
    assert fr.to_markdown(report).count("\n| ") == 1


# --- the host side: what the action distils from the two module runs -----------------------------------------------

def _request(**changes):
    req = planner.derive_request(dict(_defaults(), **changes))
    return req


def _defaults():
    from ansible_collections.homelab.vaultwarden.plugins.action import vaultwarden_plan as action
    converted, errors = action.convert_variables(action.role_defaults())
    assert errors == []
    converted["_inventory_hostname"] = "pi3.lan"
    return converted


FACTS = {
    "platform": {"platform": "linux/arm/v7", "board": "Raspberry Pi 3 Model B Rev 1.2", "kernel_machine": "aarch64",
                 "docker": {"server_platform": "linux/arm/v7", "matches_host": True}},
    "engine": {"name": "docker", "reachable": True, "version": "20.10.24+dfsg1", "error": None},
    "podman": {"name": "podman", "reachable": False, "error": "not probed"},
    "containers": {
        "vaultwarden": {"exists": True, "id": "c1", "image": "sha256:img", "image_name": "vaultwarden/server:1.37.2",
                        "labels": {}, "status": "running", "running": True, "restarting": False, "exit_code": 0,
                        "health": "healthy", "restart_count": 0, "started_at": "2026-12-07T20:00:00Z"},
        "vaultwarden-db": {"exists": False},
    },
    "images": {"sha256:img": {"Id": "sha256:img", "Os": "linux", "Architecture": "arm", "Variant": "v7",
                              "RepoDigests": ["vaultwarden/server@sha256:abc"], "RepoTags": [],
                              "Config": {"Labels": {"org.opencontainers.image.version": "1.37.2"}}}},
    "record": {"format": 2, "current": {"version": "1.37.2", "tag": "1.37.2", "ref": "docker.io/vaultwarden/server:1.37.2",
                                        "channel": "pinned", "platform": "linux/arm/v7", "image_id": "sha256:img",
                                        "repo_digests": ["vaultwarden/server@sha256:abc"], "database": "sqlite",
                                        "spec": {"big": "spec"}},
               "previous": None, "database": None},
    "record_error": None,
    "secrets": {"admin_token": {"sha256": "x"}},
    "admin_token_hash": "$argon2id$secret",
}
BACKUPS = [{"name": "20261207T030000Z-1.37.2", "path": "/opt/vaultwarden/backups/20261207T030000Z-1.37.2",
            "created_at": "2026-12-07T03:00:00.000001Z", "total_size": 4096, "manifest": {"files": ["db.sqlite3"]}},
           {"name": "20261201T030000Z", "created_at": "2026-12-01T03:00:00.000001Z", "total_size": 4000}]


def test_observe_keeps_what_the_report_shows_and_nothing_secret():
    seen = fr.observe(_request(), FACTS, BACKUPS)
    assert seen["platform"] == "linux/arm/v7" and seen["board"] == "Raspberry Pi 3 Model B Rev 1.2"
    assert seen["engine"] == {"name": "docker", "reachable": True, "version": "20.10.24+dfsg1", "error": None}
    assert seen["daemon_matches_host"] is True and seen["daemon_platform"] == "linux/arm/v7"
    assert seen["container"]["health"] == "healthy" and seen["container"]["started_at"] == "2026-12-07T20:00:00Z"
    assert seen["image"] == {"id": "sha256:img", "platform": "linux/arm/v7",
                             "repo_digests": ["vaultwarden/server@sha256:abc"], "version_label": "1.37.2"}
    assert seen["record"]["version"] == "1.37.2" and "spec" not in seen["record"]
    assert seen["backup_count"] == 2 and seen["last_backup"] == {
        "name": "20261207T030000Z-1.37.2", "created_at": "2026-12-07T03:00:00.000001Z", "total_size": 4096}
    assert seen["backup_dir"] == "/opt/vaultwarden/backups"
    assert "argon2" not in json.dumps(seen) and "secrets" not in seen
    row = row_of(seen)
    assert (row["status"], row["version"], row["digest"], row["uptime"], kinds(row)) == (
        "healthy", "1.37.2", "sha256:abc", "3 h", [])


def test_observe_takes_podman_where_only_podman_answers():
    facts = dict(FACTS, engine={"name": "docker", "reachable": False, "error": "no socket"},
                 podman={"name": "podman", "reachable": True, "version": "4.3.1", "error": None})
    seen = fr.observe(_request(), facts, [])
    assert seen["engine"]["name"] == "podman" and seen["engine"]["version"] == "4.3.1"
    assert seen["daemon_platform"] is None and seen["daemon_matches_host"] is None
    assert seen["last_backup"] is None and seen["backup_count"] == 0


def test_observe_of_a_host_without_deployment():
    facts = {"platform": {"platform": "linux/amd64"}, "engine": {"reachable": True, "version": "24.0.7"},
             "containers": {"vaultwarden": {"exists": False}}, "images": {}, "record": None}
    row = row_of(fr.observe(_request(), facts, []))
    assert (row["status"], row["deployed"], row["warnings"], row["drift"]) == ("not deployed", False, [], None)


def test_the_report_asks_the_host_what_the_role_would_and_no_more():
    req = _request(vaultwarden_container_name="vw")
    args = fr.facts_request(req)
    role = planner.facts_request(req)
    assert args["containers"] == role["containers"] == ["vw", "vw-db", role["containers"][2]]
    assert args["record_path"] == role["record_path"] == "/opt/vaultwarden/deployed.json"
    # No registry question about moving tags, no walk of the data directory.
    assert args["probe_recorded_moving_tag"] is False and args["ownership"] is None
    assert dict(args, probe_recorded_moving_tag=True, ownership=role["ownership"]) == role
