# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every rule of the role, as a table: request x host facts x current state -> plan (or a refusal that names the fix)."""

import copy
import json
import os

import pytest
import yaml

from ansible_collections.homelab.vaultwarden.plugins.module_utils import planner
from ansible_collections.homelab.vaultwarden.plugins.module_utils.planner import LABELS, PlanError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
DEFAULTS = os.path.join(ROOT, "roles", "vaultwarden", "defaults", "main.yml")
LIBRARIES = os.path.join(ROOT, "roles", "vaultwarden", "files", "official-images")


def libraries():
    """Every library file the role ships (the databases' and the proxy's), as the action plugin loads them."""
    result = {}
    for name in sorted(entry for entry in os.listdir(LIBRARIES) if entry != "SOURCE.md"):
        with open(os.path.join(LIBRARIES, name)) as handle:
            result[name] = handle.read()
    return result


def request(**overrides):
    with open(DEFAULTS) as handle:
        raw = yaml.safe_load(handle)
    raw.update(overrides)
    return planner.derive_request(raw)


def image(image_id, platform="linux/amd64", version="1.37.1", digest=None, repo="docker.io/vaultwarden/server"):
    os_, arch, variant = (platform.split("/") + [""])[:3]
    return {"Id": image_id, "Os": os_, "Architecture": arch, "Variant": variant or None,
            "RepoDigests": ["%s@%s" % (repo, digest or "sha256:" + image_id[-8:].rjust(64, "0"))],
            "Config": {"Labels": {"org.opencontainers.image.version": version}}}


def facts(platform="linux/amd64", api="1.41", engine=True, containers=None, images=None, record=None, secrets=None):
    return {
        "platform": {"platform": platform, "warnings": []},
        "engine": {"reachable": engine, "version": "20.10.24", "api_version": api, "error": None if engine else "no socket"},
        "containers": containers or {},
        "images": images or {},
        "record": record,
        "record_error": None,
        "secrets": secrets or {},
    }


def deployed(req, stage1, img, version, **extra):
    """Facts of a host where `img` runs exactly as the plan would make it (a converged deployment)."""
    base = facts(containers={}, images={img["Id"]: img})
    plan = planner.plan_deploy(req, stage1, base, [{"ref": stage1["image"]["ref"], "image": img, "changed": True}])
    spec = plan["vaultwarden"]
    container = {"exists": True, "image": img["Id"], "running": True, "restarting": False,
                 "labels": dict((k, v) for k, v in spec["labels"].items())}
    container.update(extra)
    return facts(containers={req["vaultwarden_container_name"]: container}, images={img["Id"]: img},
                 record=plan["record"]), plan


# --- the request: every bad input refused, naming the value, the reason and the fix -------------------------------

REFUSALS = [
    ({"vaultwarden_container_name": ""}, "vaultwarden_container_name", "invent one"),
    ({"vaultwarden_container_name": "bad name!"}, "vaultwarden_container_name", "letters"),
    ({"vaultwarden_base_dir": "/"}, "vaultwarden_base_dir", "root of the filesystem"),
    ({"vaultwarden_base_dir": ""}, "vaultwarden_base_dir", "absolute path"),
    ({"vaultwarden_base_dir": "opt/vw"}, "vaultwarden_base_dir", "named volume"),
    ({"vaultwarden_base_dir": "/opt/vw:rw"}, "vaultwarden_base_dir", "bind-mount"),
    ({"vaultwarden_base_dir": "/etc"}, "vaultwarden_base_dir", "system directory"),
    ({"vaultwarden_data_dir": "/srv/elsewhere"}, "vaultwarden_data_dir", "outside vaultwarden_base_dir"),
    ({"vaultwarden_data_dir": "relative"}, "vaultwarden_data_dir", "absolute path"),
    ({"vaultwarden_backup_dir": "/opt/vaultwarden/data/backups"}, "vaultwarden_backup_dir", "contain each other"),
    ({"vaultwarden_data_dir": "/opt/vaultwarden/b/data", "vaultwarden_backup_dir": "/opt/vaultwarden/b"},
     "vaultwarden_backup_dir", "contain each other"),
    ({"vaultwarden_http_port": 0}, "vaultwarden_http_port", "1 to 65535"),
    ({"vaultwarden_http_port": 70000}, "vaultwarden_http_port", "1 to 65535"),
    ({"vaultwarden_container_port": True}, "vaultwarden_container_port", "1 to 65535"),
    ({"vaultwarden_bind_address": "999.1.1.1"}, "vaultwarden_bind_address", "not an IP address"),
    ({"vaultwarden_bind_address": "localhost"}, "vaultwarden_bind_address", "not an IP address"),
    ({"vaultwarden_bind_address": "0.0.0.0"}, "vaultwarden_bind_address", "every interface"),
    ({"vaultwarden_bind_address": "::"}, "vaultwarden_bind_address", "every interface"),
    ({"vaultwarden_bind_address": "224.0.0.1"}, "vaultwarden_bind_address", "multicast"),
    ({"vaultwarden_user": "vaultwarden"}, "vaultwarden_user", "numeric"),
    ({"vaultwarden_user": "1000:1000", "vaultwarden_container_port": 80}, "vaultwarden_container_port", "below 1024"),
    ({"vaultwarden_user": ""}, "vaultwarden_user", "vaultwarden_user: root"),
    ({"vaultwarden_env": {"BAD-NAME": "x"}}, "vaultwarden_env", "environment variable name"),
    ({"vaultwarden_env": {"DATABASE_URL": "x"}}, "vaultwarden_env", "role sets this setting"),
    ({"vaultwarden_env": {"SMTP": {"a": 1}}}, "vaultwarden_env", "strings"),
    ({"vaultwarden_secret_env": {"ADMIN_TOKEN": "x"}}, "vaultwarden_secret_env", "role sets this setting"),
    ({"vaultwarden_database": "oracle"}, "vaultwarden_database", "backend"),
    ({"vaultwarden_database_url": "mysql://u:p@h/db"}, "vaultwarden_database_url", "SQLite"),
    ({"vaultwarden_database": "postgresql", "vaultwarden_database_url": "mysql://u:p@h/db"},
     "vaultwarden_database_url", "postgresql://"),
    ({"vaultwarden_database": "mysql", "vaultwarden_database_server": "postgres"}, "vaultwarden_database_server",
     "does not serve"),
    ({"vaultwarden_database": "mysql", "vaultwarden_database_name": "vault-warden"}, "vaultwarden_database_name",
     "letters, digits"),
    ({"vaultwarden_database": "postgresql", "vaultwarden_database_user": "a@b"}, "vaultwarden_database_user",
     "letters, digits"),
    ({"vaultwarden_health_timeout": 0}, "vaultwarden_health_timeout", "rolls back good upgrades"),
    ({"vaultwarden_backup_retention": -1}, "vaultwarden_backup_retention", "0 to keep all"),
    ({"vaultwarden_healthcheck_interval": "often"}, "vaultwarden_healthcheck_interval", "duration"),
    ({"vaultwarden_platform": "sparc"}, "vaultwarden_platform", "detect the platform"),
    ({"vaultwarden_network_name": "a b"}, "vaultwarden_network_name", "letters"),
    # dangerous directories: the role chowns, chmods, bind-mounts and (purge) empties them
    ({"vaultwarden_base_dir": "/usr"}, "vaultwarden_base_dir", "system directory (/usr)"),
    ({"vaultwarden_base_dir": "/usr/local"}, "vaultwarden_base_dir", "system directory (/usr/local)"),
    ({"vaultwarden_base_dir": "/var/lib"}, "vaultwarden_base_dir", "system directory (/var/lib)"),
    ({"vaultwarden_base_dir": "/var/lib/"}, "vaultwarden_base_dir", "system directory (/var/lib)"),
    ({"vaultwarden_base_dir": "/home/alice"}, "vaultwarden_base_dir", "a user's home directory itself", None,
     "/home/alice/vaultwarden"),
    ({"vaultwarden_base_dir": "/root"}, "vaultwarden_base_dir", "system directory (/root)"),
    ({"vaultwarden_base_dir": "/tmp"}, "vaultwarden_base_dir", "system directory (/tmp)"),
    ({"vaultwarden_base_dir": "/opt/vaultwarden/../.."}, "vaultwarden_base_dir", "root of the filesystem"),
    ({"vaultwarden_base_dir": "//"}, "vaultwarden_base_dir", "root of the filesystem"),
    ({"vaultwarden_base_dir": "/proc/vaultwarden"}, "vaultwarden_base_dir", "lies in /proc"),
    ({"vaultwarden_base_dir": "/var/lib/docker/volumes/vw"}, "vaultwarden_base_dir", "container engine"),
    ({"vaultwarden_base_dir": "/run/vaultwarden"}, "vaultwarden_base_dir", "emptied at boot"),
    ({"vaultwarden_base_dir": "./vaultwarden"}, "vaultwarden_base_dir", "named volume"),
    ({"vaultwarden_base_dir": "/opt/vw\nx"}, "vaultwarden_base_dir", "control characters"),
    ({"vaultwarden_base_dir": "/opt/vw,ro"}, "vaultwarden_base_dir", "bind-mount source"),
    ({"vaultwarden_data_dir": "/var/lib"}, "vaultwarden_data_dir", "system directory (/var/lib)"),
    ({"vaultwarden_backup_dir": "/tmp"}, "vaultwarden_backup_dir", "system directory (/tmp)"),
    ({"vaultwarden_backup_dir": "backups"}, "vaultwarden_backup_dir", "absolute path"),
    ({"vaultwarden_database_data_dir": "relative/db"}, "vaultwarden_database_data_dir", "absolute path"),
    ({"vaultwarden_database_data_dir": "/etc"}, "vaultwarden_database_data_dir", "system directory (/etc)"),
    # the published address: an IP address, loopback unless every interface is asked for
    ({"vaultwarden_bind_address": "127.0.0.1:8080"}, "vaultwarden_bind_address", "not an IP address"),
    ({"vaultwarden_bind_address": "10.0.0.0/8"}, "vaultwarden_bind_address", "not an IP address"),
    ({"vaultwarden_bind_address": " 127.0.0.1"}, "vaultwarden_bind_address", "not an IP address"),
    ({"vaultwarden_bind_address": ""}, "vaultwarden_bind_address", "not an IP address"),
    ({"vaultwarden_bind_address": "0:0:0:0:0:0:0:0"}, "vaultwarden_bind_address", "every interface",
     None, "vaultwarden_bind_all_interfaces: true"),
    ({"vaultwarden_bind_address": "0.0.0.0", "vaultwarden_bind_all_interfaces": False}, "vaultwarden_bind_address",
     "every interface", "0.0.0.0"),
    ({"vaultwarden_bind_address": "ff02::1"}, "vaultwarden_bind_address", "multicast"),
    # ports: whole numbers in range (strings and floats as the planner gets them when nothing converted them)
    ({"vaultwarden_http_port": -1}, "vaultwarden_http_port", "1 to 65535", -1),
    ({"vaultwarden_container_port": 65536}, "vaultwarden_container_port", "1 to 65535", 65536),
    ({"vaultwarden_http_port": "8080"}, "vaultwarden_http_port", "whole number"),
    ({"vaultwarden_http_port": 8080.5}, "vaultwarden_http_port", "whole number", 8080.5),
    ({"vaultwarden_container_port": 1023}, "vaultwarden_container_port", "below 1024", 1023),
    # the environment: a mapping of names to strings, none the role sets itself
    ({"vaultwarden_env": {"ROCKET_ADDRESS": "0.0.0.0"}}, "vaultwarden_env", "role sets this setting",
     "ROCKET_ADDRESS", "vaultwarden_bind_address"),
    ({"vaultwarden_env": {"DOMAIN": "https://x"}}, "vaultwarden_env", "role sets this setting", "DOMAIN",
     "vaultwarden_domain"),
    ({"vaultwarden_env": {"SIGNUPS_ALLOWED": "false"}}, "vaultwarden_env", "role sets this setting",
     "SIGNUPS_ALLOWED", "vaultwarden_signups_allowed"),
    ({"vaultwarden_env": {"ADMIN_TOKEN_FILE": "/run/x"}}, "vaultwarden_env", "role sets this setting",
     "ADMIN_TOKEN_FILE", "vaultwarden_admin_token"),
    ({"vaultwarden_env": {"DATA_FOLDER": "/data2"}}, "vaultwarden_env", "role sets this setting", "DATA_FOLDER",
     "vaultwarden_data_dir"),
    ({"vaultwarden_secret_env": {"DATABASE_URL": "x"}}, "vaultwarden_secret_env", "role sets this setting",
     "DATABASE_URL", "vaultwarden_database_url"),
    ({"vaultwarden_env": "SMTP_HOST is smtp"}, "vaultwarden_env", "neither a JSON nor a YAML mapping"),
    ({"vaultwarden_env": '["SMTP_HOST=x"]'}, "vaultwarden_env", "neither a JSON nor a YAML mapping"),
    ({"vaultwarden_env": ["SMTP_HOST=x"]}, "vaultwarden_env", "not a list", ["SMTP_HOST=x"]),
    ({"vaultwarden_env": {"SMTP_PORT": None}}, "vaultwarden_env", "no value (null)", "SMTP_PORT"),
    ({"vaultwarden_env": {"1SMTP": "x"}}, "vaultwarden_env", "not an environment variable name", "1SMTP"),
    ({"vaultwarden_env": {"SMTP_HOST": "a\0b"}}, "vaultwarden_env", "NUL character", "SMTP_HOST"),
    ({"vaultwarden_secret_env": {"SMTP_PASSWORD": ["a"]}}, "vaultwarden_secret_env", "not a list", "SMTP_PASSWORD"),
    ({"vaultwarden_env": {"SMTP_PASSWORD": "x"}, "vaultwarden_secret_env": {"SMTP_PASSWORD": "y"}}, "vaultwarden_env",
     "set in vaultwarden_secret_env as well", "SMTP_PASSWORD"),
    # the container user, names, durations
    ({"vaultwarden_user": "10001:abc"}, "vaultwarden_user", "numeric"),
    ({"vaultwarden_user": "-1"}, "vaultwarden_user", "numeric"),
    ({"vaultwarden_container_name": "-vaultwarden"}, "vaultwarden_container_name", "starting with a letter"),
    ({"vaultwarden_container_name": "v" * 129}, "vaultwarden_container_name", "1-128 characters"),
    ({"vaultwarden_network_name": "-net"}, "vaultwarden_network_name", "starting with a letter"),
    ({"vaultwarden_healthcheck_timeout": "10"}, "vaultwarden_healthcheck_timeout", "with a unit"),
    ({"vaultwarden_healthcheck_start_period": "1d"}, "vaultwarden_healthcheck_start_period", "with a unit"),
    ({"vaultwarden_health_timeout": 4}, "vaultwarden_health_timeout", "rolls back good upgrades", 4),
    # impossible combinations of the database variables
    ({"vaultwarden_database": "mysql", "vaultwarden_database_server": "mongodb"}, "vaultwarden_database_server",
     "runs mariadb, mysql or postgres"),
    ({"vaultwarden_database": "postgres", "vaultwarden_database_server": "mariadb"}, "vaultwarden_database_server",
     "does not serve the postgresql backend"),
    ({"vaultwarden_database": "mariadb", "vaultwarden_database_name": "1vault"}, "vaultwarden_database_name",
     "letters, digits"),
    ({"vaultwarden_database": "mariadb", "vaultwarden_database_user": ""}, "vaultwarden_database_user",
     "letters, digits"),
    ({"vaultwarden_database": "postgresql", "vaultwarden_database_url": "db.lan:5432/vw"}, "vaultwarden_database_url",
     "postgresql://"),
    ({"vaultwarden_platform": "linux/arm/v9"}, "vaultwarden_platform", "detect the platform"),
]


def _row(row):
    """(overrides, variable, why[, shown value][, words of the fix]); the shown value defaults to the last override."""
    overrides, variable, why = row[:3]
    shown = row[3] if len(row) > 3 and row[3] is not None else list(overrides.values())[-1]
    fix = row[4] if len(row) > 4 else None
    return overrides, variable, why, shown, fix


@pytest.mark.parametrize("overrides, variable, why, shown, fix", [_row(r) for r in REFUSALS],
                         ids=[str(r[0])[:80] for r in REFUSALS])
def test_bad_input_is_refused_naming_variable_value_and_fix(overrides, variable, why, shown, fix):
    with pytest.raises(PlanError) as caught:
        request(**overrides)
    message = str(caught.value)
    assert caught.value.variable == variable
    assert message.startswith(variable)
    assert why in message                                 # the reason
    assert caught.value.fix and caught.value.fix in message   # every refusal says what to do instead
    if fix:
        assert fix in caught.value.fix
    if variable != "vaultwarden_database_url":     # the URL holds a password: never echoed
        if isinstance(shown, str) and shown:
            assert json.dumps(shown) in message, message          # the value, as given
        elif not isinstance(shown, (dict, str)):
            assert json.dumps(shown) in message, message


def test_the_refusal_table_is_large_and_every_row_distinct():
    assert len(REFUSALS) >= 60
    assert len(set(repr(r[0]) for r in REFUSALS)) == len(REFUSALS)


def test_the_database_url_is_never_echoed_in_a_refusal():
    with pytest.raises(PlanError) as caught:
        request(vaultwarden_database="postgresql", vaultwarden_database_url="mysql://user:s3cret@db/vw")
    assert "s3cret" not in str(caught.value)


def test_derived_defaults():
    req = request()
    assert req["vaultwarden_data_dir"] == "/opt/vaultwarden/data"
    assert req["vaultwarden_backup_dir"] == "/opt/vaultwarden/backups"
    assert req["vaultwarden_network_name"] == "vaultwarden-net"
    assert req["_database_container_name"] == "vaultwarden-db"
    assert req["_backend"] == "sqlite" and not req["_database_managed"]
    pg = request(vaultwarden_database="postgres")
    assert pg["vaultwarden_database_server"] == "postgres" and pg["vaultwarden_database_tag"] == "15"
    assert pg["_backend"] == "postgresql" and pg["_database_managed"]
    my = request(vaultwarden_database="mariadb", vaultwarden_registry="127.0.0.1:5000")
    assert my["vaultwarden_database_server"] == "mariadb" and my["vaultwarden_database_tag"] == "10.11"
    assert my["vaultwarden_database_registry"] == "127.0.0.1:5000"
    external = request(vaultwarden_database="postgresql", vaultwarden_database_url="postgresql://u:p@db:5432/vw")
    assert not external["_database_managed"]
    assert request(vaultwarden_bind_address="0.0.0.0", vaultwarden_bind_all_interfaces=True)[
        "vaultwarden_bind_address"] == "0.0.0.0"
    assert request(vaultwarden_platform="armhf")["vaultwarden_platform"] == "linux/arm/v7"
    assert request(vaultwarden_base_dir="/srv/vw/")["vaultwarden_base_dir"] == "/srv/vw"


# --- stage 1: detect, select, what to pull --------------------------------------------------------------------------

ENGINE_LEVELS = [
    # api, platform on pull, platform on create
    ("1.25", False, False),
    ("1.29", False, False),
    ("1.32", True, False),
    ("1.39", True, False),
    ("1.40", True, False),
    ("1.41", True, True),
    ("1.47", True, True),
]


@pytest.mark.parametrize("api, on_pull, on_create", ENGINE_LEVELS)
def test_platform_is_passed_only_where_the_engine_api_takes_it(api, on_pull, on_create):
    stage1 = planner.plan_pull(request(vaultwarden_version="1.37.1"), facts(api=api), libraries())
    assert stage1["engine"]["platform_on_pull"] is on_pull
    assert stage1["engine"]["platform_on_create"] is on_create
    assert (stage1["pull"][0]["platform"] == "linux/amd64") is on_pull
    plan = planner.plan_deploy(request(vaultwarden_version="1.37.1"), stage1, facts(api=api),
                               [{"ref": stage1["image"]["ref"], "image": image("sha256:a"), "changed": True}])
    assert (plan["vaultwarden"]["platform"] is not None) is on_create


@pytest.mark.parametrize("pinned,spoken,expected", [
    ("auto", "1.41", "1.41"),     # negotiated by vaultwarden_facts
    ("auto", "1.29", "1.29"),     # DOCKER_API_VERSION=1.29 in the host's environment: every module speaks 1.29
    ("1.39", "1.39", "1.39"),     # vaultwarden_docker_api_version, which vaultwarden_facts also spoke
])
def test_every_module_speaks_the_api_level_the_plan_was_made_for(pinned, spoken, expected):
    stage1 = planner.plan_pull(request(vaultwarden_docker_api_version=pinned), facts(api=spoken), libraries())
    assert stage1["engine"]["api_version_arg"] == expected
    assert stage1["engine"]["platform_on_pull"] is (spoken != "1.29")


def test_engine_older_than_api_1_25_and_missing_engine_are_refused():
    with pytest.raises(PlanError, match="1.25"):
        planner.plan_pull(request(), facts(api="1.24"), libraries())
    with pytest.raises(PlanError, match="no reachable Docker engine.*apt-get install docker.io"):
        planner.plan_pull(request(), facts(engine=False), libraries())


def test_old_docker_on_armv6_gets_the_single_arch_tag_or_a_refusal():
    req = request(vaultwarden_version="1.27.0", vaultwarden_docker_version="19.03.5")
    stage1 = planner.plan_pull(req, facts(platform="linux/arm/v6", api="1.40"), libraries())
    assert stage1["image"]["tag"] == "1.27.0-arm32v6"
    with pytest.raises(PlanError, match="arm32v6|Upgrade Docker"):
        planner.plan_pull(request(vaultwarden_version="1.28.0", vaultwarden_docker_version="19.03.5"),
                          facts(platform="linux/arm/v6", api="1.40"), libraries())


def test_the_override_platform_wins_and_detection_is_reported():
    stage1 = planner.plan_pull(request(vaultwarden_platform="linux/arm64"), facts(), libraries())
    assert stage1["platform"] == "linux/arm64" and stage1["platform_source"] == "vaultwarden_platform"
    assert planner.plan_pull(request(), facts(platform="linux/arm/v7"), libraries())["platform"] == "linux/arm/v7"


PULLS = [
    # version, expected pull mode
    ("latest", "always"),
    ("testing", "always"),
    ("1.37.1", "not_present"),
]


@pytest.mark.parametrize("version, mode", PULLS)
def test_what_to_pull_on_a_fresh_host(version, mode):
    stage1 = planner.plan_pull(request(vaultwarden_version=version), facts(), libraries())
    assert [p["pull"] for p in stage1["pull"]] == [mode]
    assert stage1["pull"][0]["ref"] == stage1["image"]["ref"]


def test_a_pinned_release_that_runs_needs_no_pull_and_plans_no_change():
    req = request(vaultwarden_version="1.37.1")
    stage1 = planner.plan_pull(req, facts(), libraries())
    host, dummy = deployed(req, stage1, image("sha256:aaa"), "1.37.1")
    again = planner.plan_pull(req, host, libraries())
    assert again["pull"] == [] and again["runs_current"]
    plan = planner.plan_deploy(req, again, host, [])
    assert not plan["changed"] and not plan["write_record"] and not plan["act"]
    assert plan["backup"] is None and plan["health"] is None and not plan["vaultwarden"]["apply"]


def test_moving_tag_whose_registry_digest_is_the_running_images_needs_no_pull():
    req = request(vaultwarden_version="latest")
    stage1 = planner.plan_pull(req, facts(), libraries())
    img = image("sha256:u", digest="sha256:" + "5" * 64)
    host, dummy = deployed(req, stage1, img, "1.37.1")
    host["distribution"] = {stage1["image"]["ref"]: {"digest": "sha256:" + "5" * 64}}
    again = planner.plan_pull(req, host, libraries())
    assert again["pull"] == [] and again["runs_current"]
    plan = planner.plan_deploy(req, again, host, [])
    assert not plan["changed"] and not plan["write_record"]
    host["distribution"] = {stage1["image"]["ref"]: {"digest": "sha256:" + "6" * 64}}     # moved
    # The run's release is the digest the registry serves now, pulled by that digest (vaultwarden_fleet_release).
    moved = planner.plan_pull(req, host, libraries())["pull"]
    by_digest = stage1["image"]["ref"].rsplit(":", 1)[0] + "@sha256:" + "6" * 64
    assert [(p["pull"], p["ref"]) for p in moved] == [("not_present", by_digest)]
    by_tag = request(vaultwarden_version="latest", vaultwarden_fleet_release=False)
    assert [p["pull"] for p in planner.plan_pull(by_tag, host, libraries())["pull"]] == ["always"]
    host["distribution"] = {stage1["image"]["ref"]: {"digest": None, "error": "registry down"}}
    assert [p["pull"] for p in planner.plan_pull(req, host, libraries())["pull"]] == ["always"]


def test_moving_tag_unchanged_is_a_no_op():
    req = request(vaultwarden_version="latest")
    stage1 = planner.plan_pull(req, facts(), libraries())
    img = image("sha256:bbb")
    host, dummy = deployed(req, stage1, img, "1.37.1")
    again = planner.plan_pull(req, host, libraries())
    assert [p["pull"] for p in again["pull"]] == ["always"]
    plan = planner.plan_deploy(req, again, host, [{"ref": again["image"]["ref"], "image": img, "changed": False}])
    assert not plan["changed"] and not plan["write_record"] and plan["health"] is None


def test_moving_tag_moved_recreates_after_a_backup_and_can_roll_back_by_digest():
    req = request(vaultwarden_version="latest")
    stage1 = planner.plan_pull(req, facts(), libraries())
    old = image("sha256:old", version="1.37.1", digest="sha256:" + "1" * 64)
    host, dummy = deployed(req, stage1, old, "1.37.1")
    again = planner.plan_pull(req, host, libraries())
    new = image("sha256:new", version="1.37.2")
    plan = planner.plan_deploy(req, again, host, [{"ref": again["image"]["ref"], "image": new, "changed": True}])
    assert plan["changed"] and plan["image_change"] and plan["vaultwarden"]["apply"]
    assert plan["backup"]["label"] == "1.37.1-to-1.37.2"
    assert plan["health"]["url"] == "http://127.0.0.1:8080/alive"
    assert plan["health"]["database_container"] is None                  # SQLite: no database to wait for
    # The live SQLite database is summarized after the change, to compare with the backup's.
    assert plan["backup"]["vault"] == {"source": "sqlite", "command": None,
                                       "sqlite_path": req["vaultwarden_data_dir"] + "/db.sqlite3"}
    assert plan["rollback"]["spec"]["image"] == "docker.io/vaultwarden/server@sha256:" + "1" * 64
    assert plan["rollback"]["version"] == "1.37.1"
    assert plan["record"]["current"]["version"] == "1.37.2"
    assert plan["record"]["previous"]["version"] == "1.37.1"


def test_moving_tag_pointing_to_an_older_release_is_refused_before_any_change():
    req = request(vaultwarden_version="latest")
    stage1 = planner.plan_pull(req, facts(), libraries())
    host, dummy = deployed(req, stage1, image("sha256:new", version="1.37.2"), "1.37.2")
    again = planner.plan_pull(req, host, libraries())
    older = image("sha256:old", version="1.37.1")
    with pytest.raises(PlanError, match="Refusing to downgrade vaultwarden from 1.37.2 to 1.37.1"):
        planner.plan_deploy(req, again, host, [{"ref": again["image"]["ref"], "image": older, "changed": True}])
    allowed = request(vaultwarden_version="latest", vaultwarden_allow_downgrade=True)
    plan = planner.plan_deploy(allowed, planner.plan_pull(allowed, host, libraries()), host,
                               [{"ref": again["image"]["ref"], "image": older, "changed": True}])
    assert plan["image_change"]


def test_pinned_downgrade_is_refused_at_stage_one():
    req = request(vaultwarden_version="1.37.2")
    host, dummy = deployed(req, planner.plan_pull(req, facts(), libraries()), image("sha256:x", version="1.37.2"),
                           "1.37.2")
    with pytest.raises(PlanError) as caught:
        planner.plan_pull(request(vaultwarden_version="1.35.1"), host, libraries())
    assert "Refusing to downgrade vaultwarden from 1.37.2 to 1.35.1" in str(caught.value)
    assert "vaultwarden_allow_downgrade: true" in str(caught.value)
    assert planner.plan_pull(request(vaultwarden_version="1.35.1", vaultwarden_allow_downgrade=True), host,
                             libraries())["image"]["version"] == "1.35.1"


def test_pinned_to_latest_on_the_same_image_keeps_the_container():
    pinned = request(vaultwarden_version="1.37.1")
    img = image("sha256:same", version="1.37.1")
    host, dummy = deployed(pinned, planner.plan_pull(pinned, facts(), libraries()), img, "1.37.1")
    latest = request(vaultwarden_version="latest")
    stage1 = planner.plan_pull(latest, host, libraries())
    plan = planner.plan_deploy(latest, stage1, host, [{"ref": stage1["image"]["ref"], "image": img, "changed": False}])
    assert not plan["vaultwarden"]["apply"] and plan["backup"] is None
    assert plan["write_record"] and plan["record"]["current"]["tag"] == "latest"
    assert plan["act"] and not plan["changed"]     # change.yml runs only to rewrite the record


def test_a_changed_setting_recreates_after_a_backup():
    req = request(vaultwarden_version="1.37.1")
    host, dummy = deployed(req, planner.plan_pull(req, facts(), libraries()), image("sha256:c"), "1.37.1")
    changed = request(vaultwarden_version="1.37.1", vaultwarden_signups_allowed=False)
    plan = planner.plan_deploy(changed, planner.plan_pull(changed, host, libraries()), host, [])
    assert plan["config_change"] and not plan["image_change"] and plan["vaultwarden"]["apply"]
    assert plan["backup"] is not None and plan["rollback"] is not None
    assert plan["vaultwarden"]["env"]["SIGNUPS_ALLOWED"] == "false"


def test_a_stopped_container_is_started_again():
    req = request(vaultwarden_version="1.37.1")
    host, dummy = deployed(req, planner.plan_pull(req, facts(), libraries()), image("sha256:d"), "1.37.1",
                           running=False)
    plan = planner.plan_deploy(req, planner.plan_pull(req, host, libraries()), host, [])
    assert plan["vaultwarden"]["apply"] and plan["health"] is not None


def test_a_first_deployment_has_no_backup_and_no_rollback():
    req = request(vaultwarden_version="1.37.1")
    stage1 = planner.plan_pull(req, facts(), libraries())
    plan = planner.plan_deploy(req, stage1, facts(), [{"ref": stage1["image"]["ref"], "image": image("sha256:e"),
                                                       "changed": True}])
    assert plan["first_deployment"] and plan["backup"] is None and plan["rollback"] is None
    assert "Nothing to roll back to" in plan["messages"]["not_rolled_back"]


def test_check_mode_with_a_pull_that_did_not_happen_reports_a_change_but_writes_nothing():
    req = request(vaultwarden_version="latest")
    stage1 = planner.plan_pull(req, facts(), libraries())
    host, dummy = deployed(req, stage1, image("sha256:f"), "1.37.1")
    again = planner.plan_pull(req, host, libraries())
    plan = planner.plan_deploy(req, again, host, [{"ref": again["image"]["ref"], "image": image("sha256:f"),
                                                   "changed": True}], check_mode=True)
    assert plan["changed"] and plan["unknown_image"] and not plan["write_record"]


def test_check_mode_asks_the_registry_and_skips_unmoved_pulls():
    req = request(vaultwarden_version="latest")
    stage1 = planner.plan_pull(req, facts(), libraries())
    img = image("sha256:g", digest="sha256:" + "7" * 64)
    host, dummy = deployed(req, stage1, img, "1.37.1")
    pulls = planner.plan_pull(req, host, libraries())["pull"]
    ref = pulls[0]["ref"]
    same = planner.skip_unmoved_pulls(pulls, host, {ref: {"digest": "sha256:" + "7" * 64}})
    moved = planner.skip_unmoved_pulls(pulls, host, {ref: {"digest": "sha256:" + "8" * 64}})
    assert same[0]["pull"] == "not_present" and moved[0]["pull"] == "always"


def test_the_engine_storing_another_platform_is_refused():
    req = request(vaultwarden_version="1.37.1")
    stage1 = planner.plan_pull(req, facts(platform="linux/arm/v6"), libraries())
    wrong = image("sha256:h", platform="linux/arm/v7")
    with pytest.raises(PlanError, match="moby/moby#41017"):
        planner.plan_deploy(req, stage1, facts(platform="linux/arm/v6"),
                            [{"ref": stage1["image"]["ref"], "image": wrong, "changed": True}])


def test_a_container_without_the_role_label_is_never_touched():
    req = request()
    foreign = facts(containers={"vaultwarden": {"exists": True, "image": "sha256:z", "labels": {}, "running": True}})
    with pytest.raises(PlanError, match="not created by this role"):
        planner.plan_pull(req, foreign, libraries())
    with pytest.raises(PlanError, match="not created by this role"):
        planner.plan_absent(req, foreign)


def test_a_corrupt_record_is_named():
    bad = facts()
    bad["record_error"] = "the deployment record /opt/vaultwarden/deployed.json cannot be read (Expecting value)"
    with pytest.raises(PlanError, match="deployed.json"):
        planner.plan_pull(request(), bad, libraries())


# --- the container spec ---------------------------------------------------------------------------------------------

def _deploy(req, platform="linux/amd64", version="1.37.1", host=None):
    host = host or facts(platform=platform)
    stage1 = planner.plan_pull(req, host, libraries())
    return planner.plan_deploy(req, stage1, host, [{"ref": p["ref"], "image": image("sha256:%d" % i, platform=platform,
                                                                                    version=version), "changed": True}
                                                   for i, p in enumerate(stage1["pull"])])


def test_the_container_spec_hardened_and_bound_to_loopback():
    spec = _deploy(request(vaultwarden_version="1.37.1"))["vaultwarden"]
    assert spec["published_ports"] == ["127.0.0.1:8080:8080"]
    assert spec["user"] == "10001:10001" and spec["capabilities"] == [] and spec["cap_drop"] == ["ALL"]
    assert spec["read_only"] and spec["tmpfs"] == ["/tmp:rw,noexec,nosuid,nodev,size=64m"]
    assert spec["security_opts"] == ["no-new-privileges"] and spec["init"]
    assert spec["labels"][LABELS["owner"]] == "vaultwarden" and spec["labels"][LABELS["spec"]]
    assert spec["volumes"] == ["/opt/vaultwarden/data:/data"]
    root = _deploy(request(vaultwarden_version="1.37.1", vaultwarden_user="root", vaultwarden_container_port=80))
    assert root["vaultwarden"]["user"] == "" and "NET_BIND_SERVICE" in root["vaultwarden"]["capabilities"]
    assert "CHOWN" in root["vaultwarden"]["capabilities"]
    assert any("vaultwarden_user: root" in w for w in root["warnings"])
    v6 = _deploy(request(vaultwarden_version="1.37.1", vaultwarden_bind_address="::1"))["vaultwarden"]
    assert v6["published_ports"] == ["[::1]:8080:8080"]


def test_1_28_0_as_non_root_gets_exactly_net_bind_service():
    spec = _deploy(request(vaultwarden_version="1.28.0"), version="1.28.0")["vaultwarden"]
    assert spec["capabilities"] == ["NET_BIND_SERVICE"]


def test_a_new_container_user_takes_the_whole_data_directory_as_a_change_with_backup_and_rollback():
    root_req = request(vaultwarden_version="1.37.1", vaultwarden_user="root", vaultwarden_container_port=80)
    host, dummy = deployed(root_req, planner.plan_pull(root_req, facts(), libraries()), image("sha256:r"), "1.37.1")
    host["ownership"] = {"exists": True, "mismatched": 12, "owners": ["0:0"]}
    req = request(vaultwarden_version="1.37.1")
    plan = planner.plan_deploy(req, planner.plan_pull(req, host, libraries()), host, [])
    assert plan["ownership"] == {"path": "/opt/vaultwarden/data", "owner": "10001", "group": "10001"}
    assert plan["backup"] is not None and plan["vaultwarden"]["apply"]
    assert plan["rollback"]["ownership"] == {"path": "/opt/vaultwarden/data", "owner": "0", "group": "0"}
    assert plan["rollback"]["spec"]["user"] == ""
    # Converged: the directory is the user's and the spec digest matches.
    done, dummy = deployed(req, planner.plan_pull(req, facts(), libraries()), image("sha256:r"), "1.37.1")
    done["ownership"] = {"exists": True, "mismatched": 0, "owners": []}
    again = planner.plan_deploy(req, planner.plan_pull(req, done, libraries()), done, [])
    assert again["ownership"] is None and not again["changed"]


def test_secret_files_of_a_root_deployment_are_rewritten_for_the_non_root_user():
    # A root deployment's files are 0600 root: a server run as 10001 could not read them through the read-only mount.
    req = request(vaultwarden_version="1.37.1", vaultwarden_secret_env={"SMTP_PASSWORD": "pw"})
    stage1 = planner.plan_pull(req, facts(), libraries())
    host = facts(secrets={"env_SMTP_PASSWORD": {"exists": True, "mode": "0600", "uid": 0, "matches": True}})
    plan = planner.plan_deploy(req, stage1, host, [{"ref": stage1["image"]["ref"], "image": image("sha256:a"),
                                                    "changed": True}])
    assert plan["secrets"]["write"] == ["env_SMTP_PASSWORD"] and plan["secrets"]["owner"] == "10001"
    host["secrets"]["env_SMTP_PASSWORD"]["uid"] = 10001
    mine = planner.plan_deploy(req, stage1, host, [{"ref": stage1["image"]["ref"], "image": image("sha256:a"),
                                                    "changed": True}])
    assert mine["secrets"]["write"] == []
    host["secrets"]["env_SMTP_PASSWORD"]["mode"] = "0644"
    wide = planner.plan_deploy(req, stage1, host, [{"ref": stage1["image"]["ref"], "image": image("sha256:a"),
                                                    "changed": True}])
    assert wide["secrets"]["write"] == ["env_SMTP_PASSWORD"]
    # A root server reads any owner's file.
    root = request(vaultwarden_version="1.37.1", vaultwarden_user="root", vaultwarden_container_port=80,
                   vaultwarden_secret_env={"SMTP_PASSWORD": "pw"})
    host["secrets"]["env_SMTP_PASSWORD"].update(mode="0600", uid=10001)
    as_root = planner.plan_deploy(root, planner.plan_pull(root, facts(), libraries()), host,
                                  [{"ref": stage1["image"]["ref"], "image": image("sha256:a"), "changed": True}])
    assert as_root["secrets"]["write"] == []


DATABASE_HARDENING = [
    # server, user in the image, its socket directory (tmpfs, as /tmp)
    ("mariadb", "mysql", "/var/run/mysqld"),
    ("mysql", "mysql", "/var/run/mysqld"),
    ("postgres", "postgres", "/var/run/postgresql"),
]


@pytest.mark.parametrize("server, user, run_dir", DATABASE_HARDENING, ids=[r[0] for r in DATABASE_HARDENING])
def test_the_database_container_runs_as_its_image_user_without_capabilities_on_a_read_only_root(server, user, run_dir):
    backend = "postgresql" if server == "postgres" else "mysql"
    db = _deploy(request(vaultwarden_version="1.37.1", vaultwarden_database=backend,
                         vaultwarden_database_server=server))["database"]
    assert db["user"] == user
    assert db["cap_drop"] == ["ALL"] and db["capabilities"] == []
    assert db["read_only"] and db["init"] and db["security_opts"] == ["no-new-privileges"]
    assert db["tmpfs"] == ["/tmp:rw,noexec,nosuid,nodev,size=64m", run_dir + ":rw,noexec,nosuid,nodev,size=64m,{owner}"]


def test_the_ownership_job_script_hands_over_only_what_differs_and_prints_the_numeric_owner(tmp_path):
    """The job's shell script, run for real: for the caller's own user (by name, as the images' users are given, or
    by number) nothing needs a chown; it resolves the name and prints the owner as tmpfs options."""
    import grp
    import pwd
    import subprocess
    uid, gid = os.getuid(), os.getgid()
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("x")
    script = planner.DB_OWNERSHIP_SCRIPT
    expected = "uid=%d,gid=%d" % (uid, gid)
    for user, group in ((pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name), (str(uid), str(gid))):
        out = subprocess.run(["sh", "-c", script, "ownership", user, group, str(data)],
                             capture_output=True, text=True, check=True).stdout
        assert out.strip().splitlines()[-1] == expected
    if os.geteuid() == 0:
        # As root (the job's case): files of other owners are handed over, a missing path fails the job.
        out = subprocess.run(["sh", "-c", script, "ownership", "12345", "23456", str(data)],
                             capture_output=True, text=True, check=True).stdout
        assert out.strip() == "uid=12345,gid=23456"
        assert [(p.stat().st_uid, p.stat().st_gid) for p in (data, data / "f")] == [(12345, 23456)] * 2
        missing = [str(tmp_path / "missing")]
    else:
        missing = [str(data)]    # a user that is not the caller: chown fails without privileges
    failed = subprocess.run(["sh", "-c", script, "ownership", "0", "0"] + missing, capture_output=True, text=True,
                            check=False)
    assert failed.returncode != 0 and "uid=" not in failed.stdout


def _db_host(req, previous_db=None):
    """A host where vaultwarden and its database run as `req` plans them; `previous_db` edits the database's spec
    as an older release of the role made it (and the running container carries that spec's digest)."""
    first = _deploy(req)
    record = copy.deepcopy(first["record"])
    db_spec = record["database"]["spec"]
    if previous_db is not None:
        db_spec.update(previous_db)
        db_spec["labels"][LABELS["spec"]] = planner.spec_digest(db_spec)
    img, db_img = image("sha256:0"), image("sha256:1")
    record["current"]["image_id"], record["database"]["image_id"] = img["Id"], db_img["Id"]
    containers = {
        "vaultwarden": {"exists": True, "image": img["Id"], "running": True, "labels": first["vaultwarden"]["labels"]},
        "vaultwarden-db": {"exists": True, "image": db_img["Id"], "running": True, "labels": db_spec["labels"]},
    }
    secrets = dict((name, {"exists": True, "mode": "0600", "uid": req["_uid"], "template_matches": True})
                   for name in first["secrets"]["files"])
    return facts(containers=containers, images={img["Id"]: img, db_img["Id"]: db_img}, record=record, secrets=secrets)


ROOT_DATABASE = {"user": "", "init": False, "read_only": False, "tmpfs": [],
                 "capabilities": ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]}


def test_a_fresh_database_gets_its_directories_from_a_job_of_its_own_image_and_a_no_op_runs_none():
    req = request(vaultwarden_version="1.37.1", vaultwarden_database="postgresql")
    plan = _deploy(req)
    job = plan["database_ownership"]
    assert job["image"] == plan["database"]["image"] and job["user"] == "0:0" and job["entrypoint"] == ["sh", "-c"]
    assert job["cap_drop"] == ["ALL"] and job["capabilities"] == ["CHOWN", "DAC_READ_SEARCH"]
    assert job["network_mode"] == "none"
    assert "/opt/vaultwarden/database:/var/lib/postgresql/data" in job["volumes"]
    assert "/opt/vaultwarden/dumps:/ownership/dumps" in job["volumes"]
    assert "/opt/vaultwarden/secrets/database_root_password:/ownership/secrets/database_root_password" in job["volumes"]
    assert job["command"][1:] == ["ownership", "postgres", "postgres", "/var/lib/postgresql/data", "/ownership/dumps",
                                  "/ownership/secrets/database_password", "/ownership/secrets/database_root_password"]
    host = _db_host(req)
    again = planner.plan_deploy(req, planner.plan_pull(req, host, libraries()), host, [])
    assert not again["database"]["apply"] and again["database_ownership"] is None and not again["changed"]
    # A secret file of the database written again is root's: handed to the user although the container stays.
    rewritten = copy.deepcopy(host)
    del rewritten["secrets"]["database_root_password"]
    plan = planner.plan_deploy(req, planner.plan_pull(req, rewritten, libraries()), rewritten, [])
    assert not plan["database"]["apply"] and plan["database_ownership"]["image"] == plan["database"]["image"]


def test_a_root_database_container_is_migrated_to_its_user_after_a_backup_and_rolls_back_to_root():
    req = request(vaultwarden_version="1.37.1", vaultwarden_database="mariadb")
    host = _db_host(req, previous_db=ROOT_DATABASE)
    plan = planner.plan_deploy(req, planner.plan_pull(req, host, libraries()), host, [])
    assert plan["database"]["apply"] and plan["database"]["user"] == "mysql"
    assert plan["database_ownership"]["command"][1:4] == ["ownership", "mysql", "mysql"]
    # Only the database changes, yet it is backed up first (dumped from the root container that still runs).
    assert not plan["vaultwarden"]["apply"]
    assert plan["backup"]["dump_container"] == "vaultwarden-db"
    back = plan["rollback"]["database"]
    assert back["spec"]["user"] == "" and back["spec"]["image"] == "sha256:1"
    assert back["spec"]["capabilities"] == ROOT_DATABASE["capabilities"]
    # The root entrypoint owns the data itself: nothing to hand back.
    assert back["ownership"] is None
    assert plan["rollback"]["remove"] == ["vaultwarden", "vaultwarden-db"]


def test_a_failed_change_of_the_database_user_hands_the_directories_back_to_the_previous_user():
    req = request(vaultwarden_version="1.37.1", vaultwarden_database="postgresql")
    host = _db_host(req, previous_db={"user": "70:70"})
    plan = planner.plan_deploy(req, planner.plan_pull(req, host, libraries()), host, [])
    back = plan["rollback"]["database"]
    assert back["spec"]["user"] == "70:70"
    assert back["ownership"]["command"][1:4] == ["ownership", "70", "70"]
    assert back["ownership"]["image"] == "sha256:1"
    # A deployment whose record has no database spec keeps the database that runs.
    bare = copy.deepcopy(host)
    bare["record"]["database"]["spec"] = None
    plan = planner.plan_deploy(req, planner.plan_pull(req, bare, libraries()), bare, [])
    assert plan["rollback"]["database"] is None and plan["rollback"]["remove"] == ["vaultwarden"]


def test_secrets_are_files_never_environment_values():
    plan = _deploy(request(vaultwarden_version="1.37.1", vaultwarden_database="postgresql",
                           vaultwarden_admin_token="x" * 20, vaultwarden_secret_env={"SMTP_PASSWORD": "pw"}))
    env = plan["vaultwarden"]["env"]
    assert env["DATABASE_URL_FILE"] == "/run/secrets/database_url"
    assert env["SMTP_PASSWORD_FILE"] == "/run/secrets/env_SMTP_PASSWORD"
    assert "DATABASE_URL" not in env and "ADMIN_TOKEN" not in env and "SMTP_PASSWORD" not in env
    assert plan["vaultwarden"]["env_from_secrets"] == {}
    assert plan["secrets"]["files"]["database_url"]["template"] == (
        "postgresql://vaultwarden:{database_password}@vaultwarden-db:5432/vaultwarden")
    assert set(plan["secrets"]["write"]) == {"database_password", "database_root_password", "database_url",
                                             "admin_token", "env_SMTP_PASSWORD"}
    db = plan["database"]
    assert db["env"] == {"POSTGRES_DB": "vaultwarden", "POSTGRES_USER": "vaultwarden",
                         "POSTGRES_PASSWORD_FILE": "/run/secrets/database_password"}
    assert plan["secrets"]["admin_token_form"] == "argon2"


def test_releases_before_1_18_get_secrets_in_the_environment_with_a_warning():
    plan = _deploy(request(vaultwarden_version="1.16.3", vaultwarden_database="mysql",
                           vaultwarden_admin_token="x" * 20), version="1.16.3")
    assert plan["vaultwarden"]["env_from_secrets"] == {"ADMIN_TOKEN": "admin_token", "DATABASE_URL": "database_url"}
    assert plan["secrets"]["admin_token_form"] == "plain"
    assert any("1.18.0" in w for w in plan["warnings"])
    assert plan["secrets"]["run"]


def test_admin_token_form_follows_the_release():
    assert planner.admin_token_form("1.27.0") == "plain"
    assert planner.admin_token_form("1.28.0") == "argon2"
    assert planner.admin_token_form(None) == "argon2"


def test_database_image_selection_and_refusal():
    plan = _deploy(request(vaultwarden_version="1.37.1", vaultwarden_database="mariadb",
                           vaultwarden_registry="127.0.0.1:5000"))
    assert plan["database"]["image"] == "127.0.0.1:5000/library/mariadb:10.11"
    assert plan["network"]["internal"] and plan["vaultwarden"]["networks"][1]["name"] == "vaultwarden-net"
    with pytest.raises(PlanError, match="postgres"):
        planner.plan_pull(request(vaultwarden_version="1.37.1", vaultwarden_database="mariadb"),
                          facts(platform="linux/arm/v7"), libraries())


def test_a_backup_with_a_managed_database_dumps_it_or_refuses_when_it_is_down():
    req = request(vaultwarden_version="1.37.1", vaultwarden_database="postgresql")
    first = _deploy(req)
    img = image("sha256:0")
    db_img = image("sha256:1")
    containers = {
        "vaultwarden": {"exists": True, "image": img["Id"], "running": True,
                        "labels": first["vaultwarden"]["labels"]},
        "vaultwarden-db": {"exists": True, "image": db_img["Id"], "running": True,
                           "labels": first["database"]["labels"]},
    }
    host = facts(containers=containers, images={img["Id"]: img, db_img["Id"]: db_img}, record=first["record"])
    upgrade = request(vaultwarden_version="1.37.2", vaultwarden_database="postgresql")
    stage1 = planner.plan_pull(upgrade, host, libraries())
    plan = planner.plan_deploy(upgrade, stage1, host, [{"ref": stage1["image"]["ref"],
                                                        "image": image("sha256:9", version="1.37.2"), "changed": True}])
    assert plan["backup"]["dump_container"] == "vaultwarden-db" and "pg_dump" in plan["backup"]["dump"]
    assert plan["backup"]["extra_files"] == ["/opt/vaultwarden/dumps/vaultwarden.sql"]
    assert plan["rollback"]["restore_dump"]["command"].startswith("psql")
    # The gate waits for the database before it judges vaultwarden, after the change and after a rollback.
    assert plan["health"]["database_container"] == "vaultwarden-db"
    assert plan["rollback"]["health"]["database_container"] == "vaultwarden-db"
    assert plan["backup"]["vault"]["source"] == "query" and plan["backup"]["vault"]["sqlite_path"] is None
    assert plan["backup"]["start_database"] is None
    pulled = [{"ref": stage1["image"]["ref"], "image": image("sha256:9", version="1.37.2"), "changed": True}]
    # Stopped (by hand, by a crash): the role starts its own database for the dump.
    down = copy.deepcopy(host)
    down["containers"]["vaultwarden-db"]["running"] = False
    stopped = planner.plan_deploy(upgrade, stage1, down, pulled)
    assert stopped["backup"]["start_database"] == "vaultwarden-db"
    assert stopped["backup"]["dump_container"] == "vaultwarden-db" and stopped["rollback"]["restore_dump"] is not None
    # Gone: no dump can be taken; the fix recreates it from its files with the release that runs.
    gone = copy.deepcopy(host)
    gone["containers"]["vaultwarden-db"] = {"exists": False}
    with pytest.raises(PlanError, match="container is gone.*vaultwarden_version: 1.37.1"):
        planner.plan_deploy(upgrade, stage1, gone, pulled)


def test_spec_digest_ignores_the_reference_but_not_the_settings():
    spec = _deploy(request(vaultwarden_version="1.37.1"))["vaultwarden"]
    other_ref = dict(spec, image="registry.lan/vaultwarden/server:latest")
    assert planner.spec_digest(other_ref) == spec["labels"][LABELS["spec"]]
    other_env = dict(spec, env=dict(spec["env"], SIGNUPS_ALLOWED="false"))
    assert planner.spec_digest(other_env) != spec["labels"][LABELS["spec"]]


def test_absent_removes_only_owned_containers_and_purges_on_request():
    req = request(vaultwarden_purge_data=True)
    owned = {"exists": True, "labels": {LABELS["owner"]: "vaultwarden"}}
    plan = planner.plan_absent(req, facts(containers={"vaultwarden": owned, "vaultwarden-db": {"exists": False}}))
    assert plan["containers"] == ["vaultwarden"] and plan["purge"] == ["/opt/vaultwarden"]
    assert planner.plan_absent(request(), facts())["purge"] == []


@pytest.mark.parametrize("version, words", [
    ("raspberry", ["legacy", "linux/arm/v7"]),
    ("armv6", ["legacy", "linux/arm/v6"]),
    ("1.15.1-aarch64", ["legacy", "linux/arm64"]),
    ("1.30.0-alpine", ["Alpine", "vaultwarden_version: 1.30.0 and vaultwarden_variant: alpine"]),
    ("latest-alpine", ["Alpine", "vaultwarden_version: latest and vaultwarden_variant: alpine"]),
])
def test_legacy_tags_and_tag_suffixes_are_refused_with_the_replacement(version, words):
    with pytest.raises(PlanError) as caught:
        planner.plan_pull(request(vaultwarden_version=version), facts(), libraries())
    for word in words:
        assert word in str(caught.value)


def test_a_record_from_before_the_planner_guards_downgrades_but_names_why_there_is_no_rollback():
    req = request(vaultwarden_version="1.37.2")
    old = {"format": 2, "current": {"version": "1.37.1", "image_id": "sha256:o", "spec": None, "ref": "x"},
           "previous": None, "database": None}
    img = image("sha256:o")
    container = {"exists": True, "image": "sha256:o", "running": True, "labels": {LABELS["owner"]: "vaultwarden"}}
    host = facts(containers={"vaultwarden": container}, images={"sha256:o": img}, record=old)
    with pytest.raises(PlanError, match="from 1.37.1 to 1.35.1"):
        planner.plan_pull(request(vaultwarden_version="1.35.1"), host, libraries())
    stage1 = planner.plan_pull(req, host, libraries())
    newer = image("sha256:n", version="1.37.2")
    plan = planner.plan_deploy(req, stage1, host, [{"ref": stage1["image"]["ref"], "image": newer, "changed": True}])
    assert plan["backup"] is not None and plan["rollback"] is None
    assert "predates the planner" in plan["messages"]["not_rolled_back"]


def test_the_release_tagged_1_14_is_ordered_as_1_14_0():
    assert planner._version_tuple("1.14") == (1, 14, 0)
    assert planner._version_tuple("1.13.1") < planner._version_tuple("1.14") < planner._version_tuple("1.15.0")


# --- guards that need the host's facts ------------------------------------------------------------------------------

def test_every_interface_is_published_only_on_request_and_then_with_a_warning():
    req = request(vaultwarden_version="1.37.1", vaultwarden_bind_address="::", vaultwarden_bind_all_interfaces=True)
    plan = _deploy(req)
    assert plan["vaultwarden"]["published_ports"] == ["[::]:8080:8080"]
    assert any("every interface" in w and "::" in w for w in plan["warnings"])
    assert not any("every interface" in w for w in _deploy(request(vaultwarden_version="1.37.1"))["warnings"])
    assert _deploy(request(vaultwarden_version="1.37.1"))["vaultwarden"]["published_ports"] == ["127.0.0.1:8080:8080"]


def _managed_host(**networks):
    host = facts()
    host["networks"] = dict((name, state) for name, state in networks.items())
    return host


FOREIGN_OWNERS = [
    ({"exists": True, "labels": {}}, "null"),
    ({"exists": True, "labels": {LABELS["owner"]: "other-vault"}}, '"other-vault"'),
]


@pytest.mark.parametrize("network, shown", FOREIGN_OWNERS)
def test_absent_never_removes_a_network_the_role_did_not_create(network, shown):
    req = request(vaultwarden_database="postgresql")
    host = facts()
    host["networks"] = {"vaultwarden-net": network}
    with pytest.raises(PlanError) as caught:
        planner.plan_absent(req, host)
    message = str(caught.value)
    assert caught.value.variable == "vaultwarden_network_name" and '"vaultwarden-net"' in message
    assert "not created by this role" in message and LABELS["owner"] in message
    assert "docker network rm vaultwarden-net" in caught.value.fix


def test_absent_removes_its_own_network_and_none_it_has_not_seen():
    req = request(vaultwarden_database="postgresql")
    host = facts()
    host["networks"] = {"vaultwarden-net": {"exists": True, "labels": {LABELS["owner"]: "vaultwarden"}}}
    assert planner.plan_absent(req, host)["network"] == "vaultwarden-net"
    host["networks"] = {"vaultwarden-net": {"exists": False}}
    assert planner.plan_absent(req, host)["network"] is None
    assert planner.plan_absent(req, facts())["network"] is None     # not looked at: never removed unseen
    assert planner.facts_request(req)["networks"] == ["vaultwarden-net", "vaultwarden-proxy-net"]
    # sqlite now, network of before; the proxy's network as well, whatever vaultwarden_tls is now
    assert planner.facts_request(request())["networks"] == ["vaultwarden-net", "vaultwarden-proxy-net"]


@pytest.mark.parametrize("network, shown", FOREIGN_OWNERS)
def test_a_deployment_never_joins_or_recreates_a_network_it_does_not_own(network, shown):
    req = request(vaultwarden_version="1.37.1", vaultwarden_database="postgresql")
    host = facts()
    host["networks"] = {"vaultwarden-net": network}
    with pytest.raises(PlanError) as caught:
        planner.plan_pull(req, host, libraries())
    assert caught.value.variable == "vaultwarden_network_name"
    assert "its label %s is %s" % (LABELS["owner"], shown) in str(caught.value)
    assert "vaultwarden_network_name" in caught.value.fix


@pytest.mark.parametrize("labels", [{}, {LABELS["owner"]: "other-vault"}])
def test_a_database_container_of_another_owner_is_never_recreated_or_removed(labels):
    req = request(vaultwarden_version="1.37.1", vaultwarden_database="postgresql")
    host = facts(containers={"vaultwarden-db": {"exists": True, "image": "sha256:x", "running": True, "labels": labels}})
    with pytest.raises(PlanError) as caught:
        planner.plan_pull(req, host, libraries())
    assert "vaultwarden-db" in str(caught.value) and "does not own" in str(caught.value)
    assert "remove or rename the container vaultwarden-db" in caught.value.fix
    with pytest.raises(PlanError, match="vaultwarden-db.*not created by this role"):
        planner.plan_absent(req, host)


def test_check_mode_on_a_fresh_host_with_a_managed_database_previews_the_containers():
    req = request(vaultwarden_version="1.37.1", vaultwarden_database="mariadb")
    host = facts()
    host["networks"] = {"vaultwarden-net": {"exists": False}}
    stage1 = planner.plan_pull(req, host, libraries())
    plan = planner.plan_deploy(req, stage1, host, [], check_mode=True)
    assert plan["changed"] and not plan["write_record"]
    assert plan["network"]["exists"] is False
    assert plan["database"]["preview"] and plan["vaultwarden"]["preview"]
    assert plan["backup"] is None            # nothing to back up on a fresh host
    # A real run, or check mode once the network exists, asks the container module as before.
    assert not planner.plan_deploy(req, stage1, host, [])["vaultwarden"]["preview"]
    host["networks"] = {"vaultwarden-net": {"exists": True, "labels": {LABELS["owner"]: "vaultwarden"}}}
    assert not planner.plan_deploy(req, stage1, host, [], check_mode=True)["database"]["preview"]
    # The preview flag is no setting: it never changes a container's digest.
    spec = plan["vaultwarden"]
    assert planner.spec_digest(spec) == planner.spec_digest(dict(spec, preview=False))


def _postgres_host(**changes):
    req = request(vaultwarden_version="1.37.1", vaultwarden_database="postgresql")
    first = _deploy(req)
    img, db_img = image("sha256:0"), image("sha256:1")
    containers = {
        "vaultwarden": {"exists": True, "image": img["Id"], "running": True, "labels": first["vaultwarden"]["labels"]},
        "vaultwarden-db": {"exists": True, "image": db_img["Id"], "running": True, "labels": first["database"]["labels"]},
    }
    host = facts(containers=containers, images={img["Id"]: img, db_img["Id"]: db_img}, record=first["record"])
    host["networks"] = {"vaultwarden-net": {"exists": True, "labels": {LABELS["owner"]: "vaultwarden"}}}
    host["ownership"] = {"exists": True, "empty": False, "mismatched": 0, "owners": []}
    host["secrets"] = {"database_password": {"exists": True, "mode": "0600"},
                       "database_root_password": {"exists": True, "mode": "0600"},
                       "database_url": {"exists": True, "mode": "0600", "template_matches": True}}
    host.update(changes)
    return req, host


def test_dumps_left_by_an_interrupted_run_are_removed_before_anything_else():
    req, host = _postgres_host(dumps={"exists": True, "files": [
        "restore.sql", "vaultwarden.sql.tmp", "vaultwarden.sql", "x.sql.tmp", "notes.txt", "keep.sql"]})
    plan = planner.plan_deploy(req, planner.plan_pull(req, host, libraries()), host, [])
    assert plan["leftovers"] == ["/opt/vaultwarden/dumps/restore.sql", "/opt/vaultwarden/dumps/vaultwarden.sql",
                                 "/opt/vaultwarden/dumps/vaultwarden.sql.tmp", "/opt/vaultwarden/dumps/x.sql.tmp"]
    assert plan["changed"] and not plan["vaultwarden"]["apply"]     # a cleanup only, no new container
    assert planner.facts_request(req)["dumps_dir"] == "/opt/vaultwarden/dumps"
    clean_req, clean = _postgres_host(dumps={"exists": True, "files": ["notes.txt"]})
    plan = planner.plan_deploy(clean_req, planner.plan_pull(clean_req, clean, libraries()), clean, [])
    assert plan["leftovers"] == [] and not plan["changed"]


def test_a_missing_vaultwarden_container_with_data_gets_its_backup_and_dump():
    req, host = _postgres_host()
    del host["containers"]["vaultwarden"]
    stage1 = planner.plan_pull(req, host, libraries())
    plan = planner.plan_deploy(req, stage1, host, [{"ref": stage1["image"]["ref"], "image": image("sha256:0"),
                                                    "changed": False}])
    assert plan["vaultwarden"]["apply"] and plan["backup"] is not None
    assert plan["backup"]["dump_container"] == "vaultwarden-db" and "pg_dump" in plan["backup"]["dump"]
    assert plan["backup"]["extra_files"] == ["/opt/vaultwarden/dumps/vaultwarden.sql"]
    empty = dict(host, ownership={"exists": True, "empty": True, "mismatched": 0, "owners": []})
    assert planner.plan_deploy(req, stage1, empty, [{"ref": stage1["image"]["ref"], "image": image("sha256:0"),
                                                     "changed": False}])["backup"] is None


def test_a_rollback_killed_midway_is_resumed_from_the_record():
    """Killed after the failed container was removed: the record still names the healthy deployment."""
    req = request(vaultwarden_version="1.37.1")
    stage1 = planner.plan_pull(req, facts(), libraries())
    host, first = deployed(req, stage1, image("sha256:good", version="1.37.1"), "1.37.1")
    del host["containers"]["vaultwarden"]                 # removed by the rollback, then the run was killed
    host["ownership"] = {"exists": True, "empty": False, "mismatched": 0, "owners": []}
    upgrade = request(vaultwarden_version="1.37.2")
    again = planner.plan_pull(upgrade, host, libraries())
    plan = planner.plan_deploy(upgrade, again, host, [{"ref": again["image"]["ref"],
                                                       "image": image("sha256:bad", version="1.37.2"), "changed": True}])
    assert plan["backup"] is not None and plan["backup"]["label"] == "1.37.1-to-1.37.2"
    assert plan["rollback"] is not None and plan["rollback"]["image_id"] == "sha256:good"
    assert plan["rollback"]["version"] == "1.37.1"
    assert plan["rollback"]["spec"]["name"] == "vaultwarden"
    assert "Nothing to roll back to" not in plan["messages"]["not_rolled_back"]
    assert not plan["first_deployment"]


# --- the recorded platform on another engine, and arm images without a variant -------------------------------------

ROLLBACK_PLATFORM = [
    # API of the engine that rolls back, whether the recorded spec's platform is kept
    ("1.41", True),
    ("1.43", True),
    ("1.40", False),
    ("1.32", False),
]


@pytest.mark.parametrize("api, kept", ROLLBACK_PLATFORM, ids=[r[0] for r in ROLLBACK_PLATFORM])
def test_the_rollback_target_checks_the_recorded_platform_against_this_engine(api, kept):
    req = request(vaultwarden_version="1.37.1")
    recorded, dummy = deployed(req, planner.plan_pull(req, facts(api="1.43"), libraries()), image("sha256:r"), "1.37.1")
    assert recorded["record"]["current"]["spec"]["platform"] == "linux/amd64"
    host = copy.deepcopy(recorded)
    host["engine"]["api_version"] = api
    upgrade = request(vaultwarden_version="1.37.2")
    stage1 = planner.plan_pull(upgrade, host, libraries())
    plan = planner.plan_deploy(upgrade, stage1, host, [{"ref": stage1["image"]["ref"],
                                                        "image": image("sha256:n", version="1.37.2"), "changed": True}])
    spec = plan["rollback"]["spec"]
    assert spec["platform"] == ("linux/amd64" if kept else None)
    assert plan["vaultwarden"]["platform"] == ("linux/amd64" if kept else None)   # as a fresh deploy would
    # The spec's digest label is that of the spec that is run.
    assert spec["labels"][LABELS["spec"]] == planner.spec_digest(spec)
    # The database of the record gets the same check.
    if not kept:
        record = {"database": {"image_id": "sha256:d", "spec": dict(recorded["record"]["current"]["spec"])}}
        back = planner._database_rollback(request(vaultwarden_database="postgresql"), record, stage1["engine"])
        assert back["spec"]["platform"] is None


IMAGE_PLATFORMS = [
    # Architecture, Variant, the reference it was pulled by -> what the planner reads
    ("amd64", None, "vaultwarden/server:1.37.1", "linux/amd64"),
    ("arm64", "v8", "vaultwarden/server:1.37.1", "linux/arm64"),
    ("arm", "v7", "vaultwarden/server:1.37.1", "linux/arm/v7"),
    ("arm", "v6", "vaultwarden/server:1.37.1", "linux/arm/v6"),
    # No variant: an old arm32v6 image; the reference names it, or it stays unknown (never assumed v7).
    ("arm", None, "vaultwarden/server:1.27.0-arm32v6", "linux/arm/v6"),
    ("arm", None, "docker.io/arm32v6/postgres:15-alpine", "linux/arm/v6"),
    ("arm", None, "bitwardenrs/server:1.16.0-arm32v7", "linux/arm/v7"),
    ("arm", None, "vaultwarden/server:1.37.1", "linux/arm"),
    ("arm", None, "", "linux/arm"),
    ("arm", None, "registry.lan/myarm32v6mirror/server:1.37.1", "linux/arm"),
]


@pytest.mark.parametrize("arch, variant, ref, expected", IMAGE_PLATFORMS, ids=["%s/%s %s" % r[:3] for r in IMAGE_PLATFORMS])
def test_image_platform_never_guesses_an_arm_variant(arch, variant, ref, expected):
    assert planner.image_platform({"Os": "linux", "Architecture": arch, "Variant": variant}, ref) == expected


ARM_CHECKS = [
    # host, tag pulled, image's Variant -> refused?
    ("linux/arm/v6", "1.27.0-arm32v6", None, False),
    ("linux/arm/v6", "1.27.0-arm32v6", "v6", False),
    ("linux/arm/v7", "1.37.1", None, False),
    ("linux/arm/v6", "1.37.1", "v7", True),
]


@pytest.mark.parametrize("host, version, variant, refused", ARM_CHECKS, ids=["%s %s %s" % r[:3] for r in ARM_CHECKS])
def test_an_arm_image_without_variant_is_judged_against_the_hosts_variant(host, version, variant, refused):
    req = request(vaultwarden_version=version.split("-")[0])
    host_facts = facts(platform=host, api="1.40")
    host_facts["engine"]["version"] = "19.03.15" if version.endswith("arm32v6") else "20.10.24"
    stage1 = planner.plan_pull(req, host_facts, libraries())
    assert stage1["image"]["tag"] == version
    pulled = {"Id": "sha256:a", "Os": "linux", "Architecture": "arm", "Variant": variant, "RepoDigests": [],
              "Config": {"Labels": {}}}

    def run():
        return planner.plan_deploy(req, stage1, host_facts, [{"ref": stage1["image"]["ref"], "image": pulled,
                                                              "changed": True}])
    if refused:
        with pytest.raises(PlanError, match="arm|moby"):
            run()
    else:
        assert run()["vaultwarden"]["apply"]


def test_a_v6_host_refuses_an_arm_image_that_names_no_variant_anywhere():
    req = request(vaultwarden_version="1.37.1")
    stage1 = planner.plan_pull(req, facts(platform="linux/arm/v6"), libraries())
    pulled = {"Id": "sha256:a", "Os": "linux", "Architecture": "arm", "RepoDigests": [], "Config": {"Labels": {}}}
    with pytest.raises(PlanError, match="without a variant.*illegal instruction") as caught:
        planner.plan_deploy(req, stage1, facts(platform="linux/arm/v6"),
                            [{"ref": stage1["image"]["ref"], "image": pulled, "changed": True}])
    assert "arm32v6" in caught.value.fix


def test_an_interrupted_rollback_is_finished_first_from_the_backup_it_was_restoring():
    req = request(vaultwarden_version="1.37.1")
    stage1 = planner.plan_pull(req, facts(), libraries())
    img = image("sha256:5", version="1.37.1")
    host, dummy = deployed(req, stage1, img, "1.37.1")
    stage1 = planner.plan_pull(req, host, libraries())
    converged = planner.plan_deploy(req, stage1, host, [])
    assert converged["resume"] is None and not converged["act"]
    # The rollback journal names the backup it was restoring: even a container that runs is replaced, after the
    # data is restored from that backup and backed up again, and the record's deployment comes back.
    host["rollback_pending"] = "/opt/vaultwarden/backups/20261204T200510Z-1.37.1-to-1.99.0"
    plan = planner.plan_deploy(req, stage1, host, [])
    assert plan["act"] and plan["changed"] and plan["vaultwarden"]["apply"]
    assert plan["resume"] == {
        "backup_path": "/opt/vaultwarden/backups/20261204T200510Z-1.37.1-to-1.99.0",
        "data_dir": "/opt/vaultwarden/data", "journal": "/opt/vaultwarden/rollback-pending",
        "remove": ["vaultwarden"], "ownership": {"path": "/opt/vaultwarden/data", "owner": "10001", "group": "10001"},
        "restore_dump": None, "database_container": None}
    assert plan["backup"] is not None and plan["rollback"]["journal"] == "/opt/vaultwarden/rollback-pending"
    assert planner.facts_request(req)["rollback_journal"] == "/opt/vaultwarden/rollback-pending"
    managed = request(vaultwarden_version="1.37.1", vaultwarden_database="postgresql")
    db_host = dict(facts(), rollback_pending="/b")
    db_plan = planner.plan_deploy(managed, planner.plan_pull(managed, db_host, libraries()), db_host, [])
    assert db_plan["resume"]["restore_dump"]["command"].startswith("psql")
    assert db_plan["resume"]["database_container"] == "vaultwarden-db"
