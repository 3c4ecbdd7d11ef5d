# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One release everywhere: keys, digests, what each host follows and publishes, and the fleet's preflight."""

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import fleet, planner
from ansible_collections.homelab.vaultwarden.plugins.module_utils.planner import PlanError

from test_planner import deployed, facts, image, libraries, request  # pylint: disable=import-error

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


@pytest.mark.parametrize("ref, key, pinned", [
    ("docker.io/vaultwarden/server:latest", "vaultwarden/server:latest", "docker.io/vaultwarden/server@" + D1),
    ("127.0.0.2:5000/vaultwarden/server:1.37.1-alpine", "vaultwarden/server:1.37.1-alpine",
     "127.0.0.2:5000/vaultwarden/server@" + D1),
    ("localhost/bitwardenrs/server-mysql:1.16.3", "bitwardenrs/server-mysql:1.16.3",
     "localhost/bitwardenrs/server-mysql@" + D1),
    ("vaultwarden/server", "vaultwarden/server:latest", "vaultwarden/server@" + D1),
    ("mirror.example.org/library/vw:testing", "library/vw:testing", "mirror.example.org/library/vw@" + D1),
])
def test_release_keys_drop_the_registry_and_digest_refs_keep_it(ref, key, pinned):
    assert fleet.release_key(ref) == key
    assert fleet.digest_ref(ref, D1) == pinned


@pytest.mark.parametrize("value, expected", [
    ({}, {}),
    ("", {}),
    ({"vaultwarden/server:latest": D1.upper().replace("SHA256", "sha256")}, {"vaultwarden/server:latest": D1}),
    ({" vaultwarden/server:1.37.1 ": " %s " % D2}, {"vaultwarden/server:1.37.1": D2}),
])
def test_release_digests_are_normalised(value, expected):
    assert fleet.check_releases(value) == expected


@pytest.mark.parametrize("value, fragments", [
    (["sha256:x"], ["not a mapping", "vaultwarden/server:latest"]),
    ({"docker.io/vaultwarden/server:latest": D1}, ["without the registry host", "'vaultwarden/server:latest'"]),
    ({"vaultwarden/server@" + D1: D1}, ["without the registry host"]),
    ({"vaultwarden/server": D1}, ["without the registry host"]),
    ({"vaultwarden/server:latest": "1" * 64}, ["not sha256:", "imagetools inspect vaultwarden/server:latest"]),
    ({"vaultwarden/server:latest": "sha256:abc"}, ["64 hex"]),
])
def test_bad_release_digests_are_refused_naming_the_fix(value, fragments):
    with pytest.raises(fleet.FleetError) as caught:
        fleet.check_releases(value)
    for fragment in fragments:
        assert fragment in str(caught.value)
    # The planner refuses them before anything is asked of the host.
    with pytest.raises(PlanError) as refused:
        request(vaultwarden_release_digests=value)
    assert refused.value.variable == "vaultwarden_release_digests"


def test_earlier_hosts_releases_are_followed_in_play_order_after_the_users_own():
    published = {"canary": {"vaultwarden/server:latest": D1}, "second": {"vaultwarden/server:latest": D2,
                                                                         "vaultwarden/server:1.37.1": D2},
                 "broken": {"vaultwarden/server:testing": "not-a-digest"}}
    merged, sources = fleet.merged_releases({}, ["canary", "second", "broken", "me"], "me", published)
    assert merged == {"vaultwarden/server:latest": D1, "vaultwarden/server:1.37.1": D2}
    assert sources == {"vaultwarden/server:latest": "canary", "vaultwarden/server:1.37.1": "second"}
    own, sources = fleet.merged_releases({"vaultwarden/server:latest": D2}, ["canary", "me"], "me", published)
    assert own == {"vaultwarden/server:latest": D2} and sources["vaultwarden/server:latest"] == "vaultwarden_release_digests"
    # A host never follows itself (its own plan of an earlier try in the same run).
    assert fleet.merged_releases({}, ["me"], "me", {"me": {"vaultwarden/server:latest": D1}})[0] == {}


@pytest.mark.parametrize("ref, repo_digests, expected", [
    ("docker.io/vaultwarden/server:latest", ["vaultwarden/server@" + D1], D1),
    ("127.0.0.2:5000/vaultwarden/server:latest",
     ["127.0.0.2:5000/vaultwarden/server@" + D2, "127.0.0.1:5000/vaultwarden/server@" + D1], D2),
    ("docker.io/vaultwarden/server:latest", ["vaultwarden/server@" + D1, "vaultwarden/server@" + D2], None),
    ("docker.io/vaultwarden/server:latest", ["other/server@" + D1], None),
    ("docker.io/vaultwarden/server:latest", [], None),
])
def test_the_digest_an_image_was_pulled_by_is_read_only_when_it_is_unambiguous(ref, repo_digests, expected):
    assert fleet.repository_digest(ref, repo_digests) == expected


def test_what_a_host_publishes_prefers_the_digest_it_pulled_by():
    ref = "docker.io/vaultwarden/server:latest"
    assert fleet.published_release(ref, D1, D2, D2, []) == {"vaultwarden/server:latest": D1}
    assert fleet.published_release(ref, None, D2, D1, []) == {"vaultwarden/server:latest": D2}
    assert fleet.published_release(ref, None, None, D1, ["vaultwarden/server@" + D2]) == {"vaultwarden/server:latest": D1}
    assert fleet.published_release(ref, None, None, None, ["vaultwarden/server@" + D2]) == {
        "vaultwarden/server:latest": D2}
    assert fleet.published_release(ref, None, None, None, []) == {}


def test_the_preflight_lists_every_refused_and_unreachable_host_or_lets_the_rest_go_on():
    hosts = ["a", "b", "c", "d"]
    results = {"a": {"changed": False}, "b": {"failed": True, "msg": "vaultwarden_version 'raspberry': retired"},
               "c": {"unreachable": True, "msg": "ssh: connect timed out"}}
    failed, message, refused = fleet.preflight_verdict(hosts, results)
    assert failed and refused == ["b", "c", "d"]
    assert "3 of 4 host(s) were refused" in message and "Nothing was changed on any host" in message
    assert "b: vaultwarden_version 'raspberry': retired" in message and "c: unreachable: ssh" in message
    assert "d: it did not answer" in message and "vaultwarden_preflight_allow_refused=true" in message
    failed, message, refused = fleet.preflight_verdict(hosts, results, allow_refused=True)
    assert not failed and refused == ["b", "c", "d"] and "goes on without them" in message
    assert fleet.preflight_verdict(["a"], {"a": {}}) == (
        False, "all 1 host(s) passed the preflight; nothing has changed yet", [])


# --- the planner: the canary resolves, later hosts follow ------------------------------------------------------------

def _latest(**extra):
    return request(vaultwarden_version="latest", **extra)


def test_the_first_host_to_pull_asks_the_registry_once_and_pulls_by_its_digest():
    req = _latest()
    stage1 = planner.plan_pull(req, facts(), libraries())
    ref = stage1["image"]["ref"]
    assert stage1["resolve"] == [ref] and stage1["release"]["digest"] is None
    asked = dict(facts(), distribution={ref: {"digest": D1, "error": None}})
    again = planner.plan_pull(req, asked, libraries())
    assert again["resolve"] == [] and again["release"] == {"key": "vaultwarden/server:latest", "digest": D1,
                                                           "source": "registry"}
    assert [(p["ref"], p["name"], p["pull"]) for p in again["pull"]] == [
        ("docker.io/vaultwarden/server@" + D1, "docker.io/vaultwarden/server@" + D1, "not_present")]
    pulled = image("sha256:new", digest=D1)
    plan = planner.plan_deploy(req, again, asked, [{"ref": again["pull"][0]["ref"], "image": pulled, "changed": True}])
    # The container is created from the digest (the tag on the host may point elsewhere) and the record keeps both.
    assert plan["vaultwarden"]["image"] == "docker.io/vaultwarden/server@" + D1
    assert plan["record"]["current"]["ref"] == ref and plan["record"]["current"]["release_digest"] == D1
    assert plan["release"] == {"vaultwarden/server:latest": D1}


def test_an_engine_that_cannot_ask_the_registry_pulls_by_tag_and_publishes_what_it_pulled():
    req = _latest()
    ref = planner.plan_pull(req, facts(), libraries())["image"]["ref"]
    host = dict(facts(), distribution={ref: {"digest": None, "error": "404 page not found"}})
    stage1 = planner.plan_pull(req, host, libraries())
    assert stage1["resolve"] == [] and [(p["ref"], p["pull"]) for p in stage1["pull"]] == [(ref, "always")]
    plan = planner.plan_deploy(req, stage1, host, [{"ref": ref, "image": image("sha256:n", digest=D2), "changed": True}])
    assert plan["vaultwarden"]["image"] == ref and plan["release"] == {"vaultwarden/server:latest": D2}


def test_a_later_host_follows_the_canarys_digest_and_asks_the_registry_nothing():
    req = _latest()
    req["_releases"], req["_release_sources"] = {"vaultwarden/server:latest": D1}, {"vaultwarden/server:latest": "pi4"}
    # The registry moved on meanwhile: what it says is not asked, and not used.
    host = dict(facts(platform="linux/arm64"), distribution={})
    stage1 = planner.plan_pull(req, host, libraries())
    assert stage1["resolve"] == [] and stage1["release"]["source"] == "pi4"
    assert [(p["ref"], p["wanted_platform"]) for p in stage1["pull"]] == [
        ("docker.io/vaultwarden/server@" + D1, "linux/arm64")]


def test_a_host_that_runs_the_fleets_release_needs_no_pull_and_one_that_does_not_is_moved_to_it():
    req = _latest()
    stage1 = planner.plan_pull(req, facts(), libraries())
    host, dummy = deployed(req, stage1, image("sha256:old", digest=D2), "1.37.1")
    follow = dict(req, _releases={"vaultwarden/server:latest": D2}, _release_sources={})
    again = planner.plan_pull(follow, host, libraries())
    assert again["pull"] == [] and again["runs_current"]
    plan = planner.plan_deploy(follow, again, host, [])
    assert not plan["changed"] and not plan["act"] and plan["release"] == {"vaultwarden/server:latest": D2}
    moved = dict(req, _releases={"vaultwarden/server:latest": D1}, _release_sources={})
    stage = planner.plan_pull(moved, host, libraries())
    assert not stage["runs_current"] and [p["ref"] for p in stage["pull"]] == ["docker.io/vaultwarden/server@" + D1]
    plan = planner.plan_deploy(moved, stage, host, [{"ref": stage["pull"][0]["ref"], "image": image("sha256:new",
                                                     version="1.38.0", digest=D1), "changed": True}])
    assert plan["image_change"] and plan["backup"] is not None and plan["record"]["current"]["release_digest"] == D1


def test_a_digest_that_was_deployed_stays_a_no_op_when_the_tag_moves_later_without_the_fleet():
    req = _latest()
    asked = dict(facts(), distribution={planner.plan_pull(req, facts(), libraries())["image"]["ref"]: {"digest": D1}})
    stage1 = planner.plan_pull(req, asked, libraries())
    pulled = image("sha256:new", digest=D1)
    plan = planner.plan_deploy(req, stage1, asked, [{"ref": stage1["pull"][0]["ref"], "image": pulled, "changed": True}])
    spec = plan["vaultwarden"]
    host = facts(containers={req["vaultwarden_container_name"]: {
        "exists": True, "image": pulled["Id"], "running": True, "restarting": False, "labels": dict(spec["labels"])}},
        images={pulled["Id"]: pulled}, record=plan["record"])
    host["distribution"] = {stage1["image"]["ref"]: {"digest": D1}}     # the next run: the tag has not moved
    again = planner.plan_pull(req, host, libraries())
    assert again["pull"] == [] and again["runs_current"] and again["resolve"] == []
    noop = planner.plan_deploy(req, again, host, [])
    # Created from the digest, kept so: nothing is recreated although the request names the tag.
    assert not noop["changed"] and not noop["write_record"] and noop["vaultwarden"]["image"] == spec["image"]


def test_a_pinned_release_is_followed_by_digest_too():
    req = request(vaultwarden_version="1.37.1")
    req["_releases"] = {"vaultwarden/server:1.37.1": D1}
    stage1 = planner.plan_pull(req, facts(), libraries())
    assert [p["ref"] for p in stage1["pull"]] == ["docker.io/vaultwarden/server@" + D1]
    off = request(vaultwarden_version="1.37.1", vaultwarden_fleet_release=False)
    assert planner.plan_pull(off, facts(), libraries())["resolve"] == []


# --- the rollout plans a host that changes nothing from the fleet preflight's look --------------------------------------

def _preflight_of(req, host, age=0.0, **extra):
    from ansible_collections.homelab.vaultwarden.plugins.action.vaultwarden_plan import time as action_time
    facts = dict(host, gathered_at=action_time.time() - age, admin_token_matches=False)
    return dict({"changed": False, "facts": facts, "plan": planner.plan_pull(req, facts, libraries())}, **extra)


@pytest.mark.parametrize("case, age, extra, check_mode, stage, reused", [
    ("recent, nothing to pull", 5, {}, False, "pull", True),
    ("older than the limit", 121, {}, False, "pull", False),
    ("the preflight failed there", 5, {"failed": True}, False, "pull", False),
    ("the preflight was skipped (one host)", 5, {"skipped": True}, False, "pull", False),
    ("check mode asks the registry itself", 5, {}, True, "pull", False),
    ("the preflight itself always looks", 5, {}, False, "preflight", False),
])
def test_the_rollout_reuses_a_recent_preflight_look_only_when_nothing_is_pulled(case, age, extra, check_mode, stage,
                                                                                reused):
    from ansible_collections.homelab.vaultwarden.plugins.action.vaultwarden_plan import ActionModule
    req = request(vaultwarden_version="1.37.1")
    stage1 = planner.plan_pull(req, facts(), libraries())
    host, dummy = deployed(req, stage1, image("sha256:aaa"), "1.37.1")
    task_vars = {"_vaultwarden_preflight": _preflight_of(req, host, age, **extra)}
    looked, plan = ActionModule._preflight_look(req, task_vars, libraries(), "run-2", stage, check_mode)
    assert (looked is not None) is reused, case
    if reused:
        assert plan["run_id"] == "run-2" and plan["pull"] == [] and plan["runs_current"]
        assert looked == task_vars["_vaultwarden_preflight"]["facts"] and looked is not task_vars[
            "_vaultwarden_preflight"]["facts"]


def test_a_host_that_pulls_is_looked_at_again():
    from ansible_collections.homelab.vaultwarden.plugins.action.vaultwarden_plan import ActionModule
    req = request(vaultwarden_version="1.37.1")
    stage1 = planner.plan_pull(req, facts(), libraries())
    host, dummy = deployed(req, stage1, image("sha256:aaa"), "1.37.1")
    newer = request(vaultwarden_version="1.37.2")
    task_vars = {"_vaultwarden_preflight": _preflight_of(newer, host)}
    assert ActionModule._preflight_look(newer, task_vars, libraries(), "run-2", "pull", False) == (None, None)
    # A release the run's canary resolved meanwhile that this host does not run: a pull, so a fresh look.
    follow = dict(req, _releases={"vaultwarden/server:1.37.1": D1}, _release_sources={})
    task_vars = {"_vaultwarden_preflight": _preflight_of(req, host)}
    assert ActionModule._preflight_look(follow, task_vars, libraries(), "run-2", "pull", False) == (None, None)
