# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Podman engine as tables: which engine, Podman's facts, specs and pulls as containers.podman options, and the
platform of a pulled image from its manifest list (Podman's inspect names no variant)."""

import json

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import planner, podman_engine
from ansible_collections.homelab.vaultwarden.plugins.module_utils.planner import PlanError

from test_planner import facts, libraries, request  # pylint: disable=import-error

UP = {"reachable": True}
DOWN = {"reachable": False, "error": "no socket"}

CHOICES = [
    # requested, docker, podman -> engine (None: refused)
    ("auto", UP, DOWN, "docker"),
    ("auto", UP, UP, "docker"),       # Docker where it answers: what the role always did
    ("auto", DOWN, UP, "podman"),
    ("auto", DOWN, DOWN, "docker"),   # neither: Docker's own refusal names what is missing
    ("docker", DOWN, UP, "docker"),   # the planner then refuses the missing Docker
    ("podman", UP, UP, "podman"),
    ("podman", UP, DOWN, None),
    ("podman", None, None, None),
]


@pytest.mark.parametrize("requested, docker, podman, expected", CHOICES)
def test_choose(requested, docker, podman, expected):
    name, refusal = podman_engine.choose(requested, docker, podman)
    assert name == expected
    assert (refusal is None) == (expected is not None)
    if refusal:
        assert "no reachable Podman" in refusal[0] and "apt-get install podman" in refusal[1]


PODMAN_VERSION = {"Version": "4.3.1", "ApiVersion": "1.41", "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64",
                  "Components": [{"Name": "Podman Engine", "Version": "4.3.1", "Details": {"APIVersion": "4.3.1"}}]}
DOCKER_VERSION = {"Version": "20.10.24", "ApiVersion": "1.41", "Components": [{"Name": "Engine", "Version": "20.10.24"}]}

FACTS = [
    # version, info, error -> reachable, rootless, error contains
    (PODMAN_VERSION, {"SecurityOptions": ["name=seccomp,profile=default"], "Architecture": "x86_64"}, None,
     True, False, None),
    (PODMAN_VERSION, {"SecurityOptions": ["name=seccomp,profile=default", "name=rootless"]}, None, True, True, None),
    (DOCKER_VERSION, {}, None, False, None, "not as Podman"),
    (None, None, "connection refused", False, None, "connection refused"),
]


@pytest.mark.parametrize("version, info, error, reachable, rootless, message", FACTS)
def test_engine_facts(version, info, error, reachable, rootless, message):
    found = podman_engine.engine_facts(version, info, "1.41" if version else None, error)
    assert found["name"] == "podman"
    assert found["reachable"] is reachable and found["rootless"] is rootless
    if reachable:
        assert (found["version"], found["api_version"], found["libpod_api_version"]) == ("4.3.1", "1.41", "4.3.1")
    else:
        assert message in found["error"]


def podman_facts(**overrides):
    found = facts(engine=False)
    found["podman"] = dict(podman_engine.engine_facts(PODMAN_VERSION, {}, "1.41"), **overrides)
    return found


def test_the_planner_takes_podman_where_only_podman_answers():
    stage1 = planner.plan_pull(request(vaultwarden_version="1.35.1"), podman_facts(), libraries())
    engine = stage1["engine"]
    assert engine["name"] == "podman"
    assert engine["api_host"] == "unix:///run/podman/podman.sock" and engine["api_version_arg"] == "1.41"
    assert engine["platform_on_pull"] and engine["platform_on_create"]
    assert (engine["units"], engine["unit_dir"], engine["systemd"]) == ("generate", "/etc/systemd/system", False)
    assert stage1["pull"][0]["platform"] == "linux/amd64"


def test_podman_picks_the_arm_v6_image_from_the_manifest_list():
    # Docker 19.03 would be sent to the -arm32v6 tags (moby/moby#41017); Podman's version is not Docker's.
    found = podman_facts()
    found["platform"]["platform"] = "linux/arm/v6"
    stage1 = planner.plan_pull(request(vaultwarden_version="1.27.0"), found, libraries())
    assert stage1["image"]["ref"] == "docker.io/vaultwarden/server:1.27.0"
    assert stage1["pull"][0]["platform"] == "linux/arm/v6"


REFUSALS = [
    (dict(vaultwarden_engine="podman"), facts(), "vaultwarden_engine", "no reachable Podman"),
    (dict(vaultwarden_engine="podman", vaultwarden_database="postgresql"), podman_facts(), "vaultwarden_database",
     "SQLite only so far"),
    (dict(vaultwarden_engine="podman", vaultwarden_domain="https://vault.example.test"), podman_facts(),
     "vaultwarden_tls", "no HTTPS proxy so far.*vaultwarden_tls: external"),
]


@pytest.mark.parametrize("overrides, host, variable, text", REFUSALS)
def test_refusals(overrides, host, variable, text):
    with pytest.raises(PlanError, match=text) as raised:
        planner.plan_pull(request(vaultwarden_version="1.35.1", **overrides), host, libraries())
    assert raised.value.variable == variable


def test_a_units_directory_and_a_socket_of_ones_own():
    req = request(vaultwarden_version="1.35.1", vaultwarden_podman_socket="unix:///tmp/p.sock",
                  vaultwarden_podman_unit_dir="/srv/units", vaultwarden_podman_units=True)
    engine = planner.plan_pull(req, podman_facts(systemd=True), libraries())["engine"]
    assert (engine["api_host"], engine["unit_dir"], engine["systemd"]) == ("unix:///tmp/p.sock", "/srv/units", True)
    assert planner.facts_request(req)["podman_host"] == "unix:///tmp/p.sock"
    assert planner.facts_request(request(vaultwarden_engine="docker"))["podman_host"] is None


SPEC = {
    "name": "vw", "image": "127.0.0.1:5000/vaultwarden/server:1.35.1", "platform": "linux/arm/v6",
    "env": {"ROCKET_PORT": "8080"}, "volumes": ["/srv/vw/data:/data"], "published_ports": ["127.0.0.1:8080:8080"],
    "networks": [{"name": "bridge"}], "network_mode": "bridge", "user": "10001:10001", "init": True,
    "read_only": True, "tmpfs": ["/tmp:rw,noexec,nosuid,nodev,size=64m"], "security_opts": ["no-new-privileges"],
    "cap_drop": ["ALL"], "capabilities": [], "restart_policy": "unless-stopped", "labels": {"owner": "vw"},
    "healthcheck": {"test": ["CMD", "/healthcheck.sh"], "interval": "2s", "timeout": "10s", "retries": 3,
                    "start_period": "5s"},
}
UNITS = {"name": "podman", "units": "generate", "unit_dir": "/etc/systemd/system"}

OPTIONS = [
    # spec changes, engine -> expected options (a subset)
    ({}, {}, {"network": ["bridge"], "tmpfs": {"/tmp": "rw,noexec,nosuid,nodev,size=64m"}, "user": "10001:10001",
              "cap_drop": ["ALL"], "cap_add": [], "security_opt": ["no-new-privileges"], "platform": "linux/arm/v6",
              "healthcheck": '["/healthcheck.sh"]', "healthcheck_interval": "2s", "restart_policy": "unless-stopped",
              "generate_systemd": None, "unit": None, "rm": None, "publish": ["127.0.0.1:8080:8080"]}),
    # Docker's "bridge" is Podman's "podman" network beside another one
    ({"networks": [{"name": "bridge"}, {"name": "vw-net"}]}, {}, {"network": ["podman", "vw-net"]}),
    ({"networks": [], "network_mode": "none"}, {}, {"network": ["none"]}),
    ({"healthcheck": {"test": ["CMD-SHELL", "pg_isready -U vw"], "interval": "5s"}}, {},
     {"healthcheck": "pg_isready -U vw"}),
    ({"healthcheck": None}, {}, {"healthcheck": None, "healthcheck_interval": None}),
    ({"entrypoint": ["sh", "-c"], "cleanup": True, "user": ""}, {},
     {"entrypoint": '["sh", "-c"]', "rm": True, "user": None}),
    # a unit per container: `podman run --rm` under systemd's Restart=always, so no restart policy of Podman's
    ({}, UNITS, {"unit": "container-vw.service", "restart_policy": None,
                 "generate_systemd": {"path": "/etc/systemd/system", "new": True, "restart_policy": "always",
                                      "names": True, "container_prefix": "container", "separator": "-",
                                      "no_header": True}}),
    # a one-shot job gets no unit
    ({"detach": False}, UNITS, {"unit": None, "generate_systemd": None, "restart_policy": "unless-stopped"}),
]


@pytest.mark.parametrize("changes, engine, expected", OPTIONS)
def test_container_options(changes, engine, expected):
    options = podman_engine.container_options(dict(SPEC, **changes), engine)
    assert dict((key, options[key]) for key in expected) == expected


PULLS = [
    ({"platform": "linux/arm/v6", "pull": "not_present"},
     {"pull_extra_args": "--platform linux/arm/v6", "force": True}),
    ({"platform": "linux/amd64", "pull": "always"},
     {"pull_extra_args": "--platform linux/amd64", "force": True}),
    ({"platform": None, "pull": "not_present"}, {"pull_extra_args": None, "force": True}),
]


@pytest.mark.parametrize("pull, expected", PULLS)
def test_pull_options(pull, expected):
    assert podman_engine.pull_options(pull) == expected


LIST = json.dumps({"manifests": [
    {"digest": "sha256:aaa", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
    {"digest": "sha256:bbb", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
    {"digest": "sha256:ccc", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
]})

VIEWS = [
    # inspect, manifest list -> Id, Architecture, Variant
    ([{"Id": "abc", "Architecture": "arm", "Os": "linux", "RepoDigests": ["r/s@sha256:list", "r/s@sha256:bbb"]}],
     LIST, ("sha256:abc", "arm", "v6")),
    ([{"Id": "abc", "Architecture": "arm", "Os": "linux", "RepoDigests": ["r/s@sha256:aaa"]}], LIST,
     ("sha256:abc", "arm", "v7")),
    # arm64/v8: as Podman reads it back (no variant), so that the recorded platform literal does not change
    ([{"Id": "abc", "Architecture": "arm64", "Os": "linux", "RepoDigests": ["r/s@sha256:ccc"]}], LIST,
     ("sha256:abc", "arm64", None)),
    # single-platform image (no list): what it declares, variant unknown for the planner's rule
    ([{"Id": "abc", "Architecture": "arm", "Os": "linux", "RepoDigests": ["r/s@sha256:zzz"]}],
     json.dumps({"schemaVersion": 2, "config": {}}), ("sha256:abc", "arm", None)),
    ({"Id": "sha256:abc", "Architecture": "amd64", "RepoDigests": []}, None, ("sha256:abc", "amd64", None)),
    ([], "not json", (None, None, None)),
]


@pytest.mark.parametrize("inspect, manifest, expected", VIEWS)
def test_image_view(inspect, manifest, expected):
    view = podman_engine.image_view(inspect, manifest)
    assert (view.get("Id"), view.get("Architecture"), view.get("Variant")) == expected


def test_recorded_variants_fill_what_podman_leaves_out():
    host = podman_facts()
    host["images"] = {"sha256:abc": {"Id": "sha256:abc", "Architecture": "arm"},
                      "sha256:def": {"Id": "sha256:def", "Architecture": "arm64"}}
    host["record"] = {"current": {"image_id": "sha256:abc", "platform": "linux/arm/v6"},
                      "previous": {"image_id": "sha256:def", "platform": "linux/arm/v7"}}
    images = podman_engine.recorded_variants(host, "auto")["images"]
    assert images["sha256:abc"]["Variant"] == "v6"
    assert "Variant" not in images["sha256:def"]          # another architecture: not the record's to say
    docker = facts()
    docker.update(images=host["images"], record=host["record"])
    assert podman_engine.recorded_variants(docker, "auto") is docker


def test_annotate_spells_each_spec_and_pull_for_podman_only():
    pull = {"ref": "r:1", "wanted_platform": "linux/arm64", "platform": "linux/arm64", "pull": "not_present"}
    plan = {"vaultwarden": dict(SPEC), "pull": [pull], "rollback": {"spec": dict(SPEC)}, "n": None}
    annotated = podman_engine.annotate(plan, {"name": "podman"})
    assert annotated["vaultwarden"]["podman"]["volume"] == ["/srv/vw/data:/data"]
    assert annotated["rollback"]["spec"]["podman"]["network"] == ["bridge"]
    assert annotated["pull"][0]["podman"]["pull_extra_args"] == "--platform linux/arm64"
    assert "podman" not in plan["vaultwarden"]              # a new plan
    assert podman_engine.annotate(plan, {"name": "docker"}) is plan
    assert podman_engine.annotate(plan, "docker") is plan   # the absent stage names its engine only


def test_absent_removes_the_units_of_a_podman_deployment():
    req = request(vaultwarden_engine="podman")
    plan = planner.plan_absent(req, podman_facts())
    assert plan["engine"] == "podman"
    assert plan["units"] == ["/etc/systemd/system/container-vaultwarden.service",
                             "/etc/systemd/system/container-vaultwarden-db.service"]
    assert planner.plan_absent(request(), facts())["units"] == []
