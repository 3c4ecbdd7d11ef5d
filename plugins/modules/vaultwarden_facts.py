#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: vaultwarden_facts
short_description: Everything the vaultwarden planner needs to know about a host, in one round trip
version_added: 0.2.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Gathers, in one module run, the host's platform (as M(homelab.vaultwarden.platform_facts) detects it), the container
    engine (version, API version in use and supported), the named containers (image ID, labels, state, health), the
    images those containers run (platform, version label, repository digests), the deployment record and the secret
    files of a deployment (existence, mode, SHA-256 digest; never their content, except the admin token's Argon2 hash).
  - Only reads; changes nothing. Used by the action plugin M(homelab.vaultwarden.vaultwarden_plan), which strips the
    admin token hash from what it shows.
  - Talks to the engine through community.docker's API client; works (reporting the engine as unreachable) when
    there is no engine.
options:
  containers:
    description: Names of the containers to inspect.
    type: list
    elements: str
    default: []
  record_path:
    description: Path of the deployment record (JSON) on the host; a missing file is no record.
    type: path
  secrets_dir:
    description: Directory of the deployment's secret files.
    type: path
  secret_templates:
    description:
      - Secret files whose content is a template filled from other secret files (C({name}) placeholders); the result says
        whether the file holds the template filled in (C(template_matches)), without returning either.
    type: dict
    default: {}
  lock_path:
    description: Path of the deployment's lock file; its holder is reported.
    type: path
  rollback_journal:
    description:
      - Path of the file a rollback writes before it restores a backup and removes once the previous server answers
        again. Its content (the backup being restored) is reported, so that the next run finishes a rollback that was
        interrupted.
    type: path
  owner_label:
    description: Label that marks the containers a deployment owns; only their labels in this namespace are returned.
    type: str
    default: io.github.homelab.vaultwarden.owner
  ownership:
    description:
      - C(path), C(uid), C(gid) - count the entries below C(path) (the data directory) that another uid or gid owns, so that
        a change of the container user can hand the whole directory over.
    type: dict
  networks:
    description:
      - Names of the networks to inspect (existence and the deployment's labels), so that the role removes or joins
        only a network it created.
    type: list
    elements: str
    default: []
  dumps_dir:
    description:
      - Directory where the managed database's dumps are written; the names of the regular files in it are returned
        (never their content), so that leftovers of an interrupted run are found.
    type: path
  probe_recorded_moving_tag:
    description:
      - When the record's current deployment follows a moving tag (C(latest), C(testing)), ask the registry (through the
        engine, without pulling) which digest that reference points to now; reported in RV(distribution).
    type: bool
    default: false
  distribution:
    description:
      - Image references whose registry digest is asked through the engine (C(/distribution/NAME/json)) without pulling,
        for check mode.
    type: list
    elements: str
    default: []
  engine:
    description:
      - The engine whose containers, images and networks are read (C(auto) as the role chooses, Docker where it answers,
        else Podman). Both engines are probed and reported either way.
    type: str
    choices: [auto, docker, podman]
    default: auto
  podman_host:
    description:
      - Podman's API socket (C(unix:///run/podman/podman.sock)); Podman is probed there, through its Docker-compatible
        API, and reported in RV(podman). Not probed when unset.
    type: str
extends_documentation_fragment:
  - community.docker.docker.api_documentation
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
  idempotent:
    support: full
    description: The module only reads.
seealso:
  - module: homelab.vaultwarden.platform_facts
  - module: homelab.vaultwarden.vaultwarden_plan
"""

EXAMPLES = r"""
- name: Gather what the planner needs
  homelab.vaultwarden.vaultwarden_facts:
    containers: [vaultwarden, vaultwarden-db]
    record_path: /opt/vaultwarden/deployed.json
    secrets_dir: /opt/vaultwarden/secrets
  register: facts
"""

RETURN = r"""
platform:
  description: The platform facts, as C(ansible_facts.docker_platform) of M(homelab.vaultwarden.platform_facts).
  returned: always
  type: dict
engine:
  description: The container engine.
  returned: always
  type: dict
  contains:
    name:
      description: C(docker).
      type: str
    reachable:
      description: The engine answered.
      type: bool
    version:
      description: Engine version.
      type: str
      sample: 20.10.24
    api_version:
      description: API version the modules speak (negotiated, or pinned by O(api_version)).
      type: str
    server_api_version:
      description: Newest API version the engine supports.
      type: str
      sample: "1.41"
    min_api_version:
      description: Oldest API version the engine supports.
      type: str
    error:
      description: Why the engine could not be asked.
      type: str
podman:
  description:
    - Podman, as its API socket O(podman_host) answers; the keys of RV(engine) (C(name) is C(podman)) plus C(rootless)
      and C(libpod_api_version) (the version of Podman's own API).
  returned: always
  type: dict
containers:
  description: Per container name, C(exists), C(id), C(image), C(labels) (only the deployment's), C(status), C(running),
    C(restarting), C(exit_code), C(health), C(restart_count), C(started_at).
  returned: always
  type: dict
images:
  description: Per image ID of the inspected containers, C(Id), C(Os), C(Architecture), C(Variant), C(RepoDigests),
    C(RepoTags) and C(Config.Labels).
  returned: always
  type: dict
record:
  description: The parsed deployment record, or null.
  returned: always
  type: dict
record_error:
  description: Why the record could not be read (names the file and the fix), else null.
  returned: always
  type: str
secrets:
  description: Per secret file name, C(exists), C(mode), C(sha256), C(form) (C(argon2) or C(plain), admin token only),
    C(template_matches) (templates only).
  returned: always
  type: dict
admin_token_hash:
  description: The admin token's Argon2 hash as stored on the host, null when absent or not a hash.
  returned: always
  type: str
lock:
  description: The lock file's holder (its JSON), or null when unlocked.
  returned: always
  type: dict
rollback_pending:
  description: The backup an interrupted rollback was restoring (the content of O(rollback_journal)), or null.
  returned: always
  type: str
  sample: /opt/vaultwarden/backups/20261204T200510Z-1.37.1-to-1.99.0
networks:
  description: Per network name of O(networks), C(exists), C(id), C(labels) (only the deployment's) and C(internal).
  returned: always
  type: dict
dumps:
  description: For O(dumps_dir), C(exists) and C(files) (names of the regular files directly in it).
  returned: always
  type: dict
ownership:
  description: For O(ownership), C(exists), C(empty) (the directory holds nothing),
    C(mismatched) (entries owned by someone else, counted up to 1000) and
    C(owners) (the uid:gid pairs seen, up to 10).
  returned: always
  type: dict
distribution:
  description: Per reference of O(distribution), the manifest digest the registry serves, or an error.
  returned: always
  type: dict
"""

import hashlib
import json
import os
import stat
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.vaultwarden.plugins.module_utils.deploy_record import (
    RecordError,
    parse_record,
    upgrade_record,
)
from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import PlatformError
from ansible_collections.homelab.vaultwarden.plugins.module_utils.platform_detect import DockerProbe, detect_platform
from ansible_collections.homelab.vaultwarden.plugins.module_utils.platform_gather import gather
from ansible_collections.homelab.vaultwarden.plugins.module_utils import podman_engine

try:
    from ansible_collections.community.docker.plugins.module_utils.common_api import AnsibleDockerClientBase
    from ansible_collections.community.docker.plugins.module_utils.common_api import DOCKER_COMMON_ARGS
    from ansible_collections.community.docker.plugins.module_utils._api import auth
    HAS_COMMUNITY_DOCKER = True
except ImportError:  # pragma: no cover - community.docker is a dependency of the collection
    AnsibleDockerClientBase = object
    DOCKER_COMMON_ARGS = {}
    HAS_COMMUNITY_DOCKER = False

_MAX_SECRET = 64 * 1024


class EngineUnavailable(Exception):
    pass


class EngineTooOld(EngineUnavailable):
    """The daemon answered, but below community.docker's API floor (1.25): reported so the planner can refuse it."""

    def __init__(self, msg, api_version):
        super(EngineTooOld, self).__init__(msg)
        self.api_version = api_version


class _EngineClient(AnsibleDockerClientBase):
    """community.docker's API client, raising instead of failing the module when the engine cannot be reached."""

    def __init__(self, module):
        self.module = module
        self.debug = False
        self.check_mode = module.check_mode
        self.fail_results = {}
        super(_EngineClient, self).__init__(min_docker_api_version="1.25")

    def fail(self, msg, **kwargs):
        if "Minimum version required" in msg and getattr(self, "docker_api_version_str", None):
            raise EngineTooOld(msg, self.docker_api_version_str)
        raise EngineUnavailable(msg)

    def deprecate(self, msg, version=None, date=None, collection_name=None):
        self.module.deprecate(msg, version=version, date=date, collection_name=collection_name)

    def _get_params(self):
        return self.module.params


class _PodmanClient(_EngineClient):
    """The same client on Podman's Docker-compatible API socket."""

    def _get_params(self):
        params = dict(self.module.params)
        params.update(docker_host=self.module.params["podman_host"], tls=False, validate_certs=False, api_version="auto")
        return params


def _podman(module):
    if not module.params["podman_host"]:
        return None, podman_engine.engine_facts(None, None, None, "not probed")
    if not HAS_COMMUNITY_DOCKER:
        return None, podman_engine.engine_facts(None, None, None, "the community.docker collection is not installed")
    try:
        client = _PodmanClient(module)
        version = client.version(api_version=False)
        info = client.info()
    except Exception as exc:  # no Podman, or its socket is not started: report, do not fail
        return None, podman_engine.engine_facts(None, None, None, to_native(exc))
    # Units are enabled only where systemd is the init (what sd_booted() looks at).
    facts = podman_engine.engine_facts(version, info, client.docker_api_version_str,
                                       systemd=os.path.isdir("/run/systemd/system"))
    return (client if facts["reachable"] else None), facts


def _engine(module):
    facts = {"name": "docker", "reachable": False, "version": None, "api_version": None, "server_api_version": None,
             "min_api_version": None, "os": None, "arch": None, "kernel_machine": None, "error": None}
    if not HAS_COMMUNITY_DOCKER:
        facts["error"] = "the community.docker collection is not installed on the controller"
        return None, facts, None
    try:
        client = _EngineClient(module)
        version = client.version(api_version=False)
        info = client.info()
    except EngineTooOld as exc:  # it answered at an API level below the floor: the planner names the minimum
        facts.update(reachable=True, api_version=exc.api_version, error=to_native(exc))
        return None, facts, None
    except Exception as exc:  # the engine is missing, stopped or refuses us: report, do not fail
        facts["error"] = to_native(exc)
        return None, facts, None
    facts.update(reachable=True, version=version.get("Version"), api_version=client.docker_api_version_str,
                 server_api_version=version.get("ApiVersion"), min_api_version=version.get("MinAPIVersion"),
                 os=version.get("Os"), arch=version.get("Arch"), kernel_machine=info.get("Architecture"))
    probe = DockerProbe(True, {"Client": {}, "Server": version}, info.get("Architecture"), None)
    return client, facts, probe


def _container(client, name, owner_label):
    found = client.get_container(name) if client else None
    if not found:
        return {"exists": False}
    config = found.get("Config") or {}
    state = found.get("State") or {}
    prefix = owner_label.rsplit(".", 1)[0] + "."
    labels = dict((k, v) for k, v in (config.get("Labels") or {}).items() if k.startswith(prefix))
    return {
        "exists": True,
        "id": found.get("Id"),
        "name": (found.get("Name") or "").lstrip("/"),
        "image": found.get("Image"),
        "image_name": config.get("Image"),
        "labels": labels,
        "status": state.get("Status"),
        "running": bool(state.get("Running")),
        "restarting": bool(state.get("Restarting")),
        "exit_code": state.get("ExitCode"),
        "health": (state.get("Health") or {}).get("Status"),
        "restart_count": found.get("RestartCount", 0),
        "started_at": state.get("StartedAt"),
    }


def _image(client, image_id):
    found = client.find_image_by_id(image_id, accept_missing_image=True)
    if not found:
        return None
    config = found.get("Config") or {}
    return {"Id": found.get("Id"), "Os": found.get("Os"), "Architecture": found.get("Architecture"),
            "Variant": found.get("Variant"), "RepoDigests": found.get("RepoDigests") or [],
            "RepoTags": found.get("RepoTags") or [], "Config": {"Labels": config.get("Labels") or {}}}


def _distribution(client, ref):
    try:
        name = ref.rsplit("@", 1)[0]
        registry = auth.resolve_repository_name(name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name)[0]
        headers = {}
        header = auth.get_config_header(client, registry)
        if header:
            headers["X-Registry-Auth"] = header
        found = client.get_json("/distribution/{0}/json", ref, headers=headers)
        return {"digest": (found.get("Descriptor") or {}).get("digest"), "error": None}
    except Exception as exc:
        return {"digest": None, "error": to_native(exc)}


def _read_small(path):
    with open(path, "rb") as handle:
        return handle.read(_MAX_SECRET)


def _record(path):
    if not path or not os.path.exists(path):
        return None, None
    try:
        with open(path, "rb") as handle:
            return upgrade_record(parse_record(handle.read(), path)), None
    except (IOError, OSError) as exc:
        return None, "deployment record %s cannot be read (%s); %s" % (path, exc, "check its permissions")
    except RecordError as exc:
        return None, str(exc)


def _secrets(directory, templates):
    result = {}
    admin_hash = None
    if not directory or not os.path.isdir(directory):
        return result, admin_hash
    contents = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        data = _read_small(path)
        contents[name] = data
        entry = {"exists": True, "mode": "%04o" % stat.S_IMODE(info.st_mode), "uid": info.st_uid,
                 "sha256": hashlib.sha256(data).hexdigest()}
        if name == "admin_token":
            text = data.decode("utf-8", "replace").strip()
            entry["form"] = "argon2" if text.startswith("$argon2") else "plain"
            admin_hash = text if entry["form"] == "argon2" else None
        result[name] = entry
    for name, template in (templates or {}).items():
        if name not in result:
            continue
        try:
            values = dict((k, v.decode("utf-8").strip()) for k, v in contents.items() if k != name)
            filled = template.format(**values)
        except (KeyError, ValueError, UnicodeDecodeError):
            result[name]["template_matches"] = False
            continue
        result[name]["template_matches"] = contents[name].decode("utf-8", "replace").strip() == filled
    return result, admin_hash


def _ownership(spec, limit=1000):
    if not spec or not spec.get("path"):
        return None
    path, uid, gid = spec["path"], int(spec["uid"]), int(spec["gid"])
    if not os.path.isdir(path):
        return {"exists": False, "empty": True, "mismatched": 0, "owners": []}
    empty = not os.listdir(path)
    mismatched = 0
    owners = set()
    for directory, dirs, files in os.walk(path):
        for name in [""] + dirs + files:
            info = os.lstat(os.path.join(directory, name) if name else directory)
            if (info.st_uid, info.st_gid) != (uid, gid):
                mismatched += 1
                if len(owners) < 10:
                    owners.add("%d:%d" % (info.st_uid, info.st_gid))
                if mismatched >= limit:
                    return {"exists": True, "empty": empty, "mismatched": mismatched, "owners": sorted(owners)}
    return {"exists": True, "empty": empty, "mismatched": mismatched, "owners": sorted(owners)}


def _network(client, name, owner_label):
    # By exact name only (community.docker's get_network also takes a name as a prefix of another network's ID).
    found = next((n for n in client.get_json("/networks") if n.get("Name") == name), None) if client else None
    if not found:
        return {"exists": False}
    prefix = owner_label.rsplit(".", 1)[0] + "."
    labels = dict((k, v) for k, v in (found.get("Labels") or {}).items() if k.startswith(prefix))
    return {"exists": True, "id": found.get("Id"), "labels": labels, "internal": bool(found.get("Internal"))}


def _dumps(directory):
    """The regular files directly in the dumps directory (names only; their content is never read)."""
    if not directory or not os.path.isdir(directory):
        return {"exists": False, "files": []}
    files = []
    for name in sorted(os.listdir(directory)):
        try:
            if stat.S_ISREG(os.lstat(os.path.join(directory, name)).st_mode):
                files.append(name)
        except OSError:
            continue
    return {"exists": True, "files": files}


def _lock(path):
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return {"unreadable": True}


def _rollback_pending(path):
    if not path or not os.path.isfile(path):
        return None
    text = _read_small(path).decode("utf-8", "replace").strip()
    return text or None


def main():
    argument_spec = dict(DOCKER_COMMON_ARGS)
    argument_spec.update(
        containers=dict(type="list", elements="str", default=[]),
        record_path=dict(type="path"),
        secrets_dir=dict(type="path"),
        secret_templates=dict(type="dict", default={}, no_log=False),  # templates name secret files, hold none
        lock_path=dict(type="path"),
        rollback_journal=dict(type="path"),
        owner_label=dict(type="str", default="io.github.homelab.vaultwarden.owner"),
        distribution=dict(type="list", elements="str", default=[]),
        ownership=dict(type="dict"),
        probe_recorded_moving_tag=dict(type="bool", default=False),
        networks=dict(type="list", elements="str", default=[]),
        dumps_dir=dict(type="path"),
        engine=dict(type="str", default="auto", choices=["auto", "docker", "podman"]),
        podman_host=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        client, engine, probe = _engine(module)
        podman_client, podman = _podman(module)
        if podman_engine.choose(params["engine"], engine, podman)[0] == "podman":
            client = podman_client
        raw = gather(gather_docker=False)
        raw["docker"] = probe if probe is not None else DockerProbe(True, None, None, engine["error"])
        try:
            platform = detect_platform(**raw)
        except PlatformError as exc:
            module.fail_json(msg=str(exc), kernel_machine=raw["kernel_machine"])
        containers = dict((name, _container(client, name, params["owner_label"])) for name in params["containers"])
        networks = dict((name, _network(client, name, params["owner_label"])) for name in params["networks"])
        images = {}
        for container in containers.values():
            if container.get("exists") and container["image"] not in images:
                found = _image(client, container["image"])
                if found:
                    images[container["image"]] = found
        record, record_error = _record(params["record_path"])
        if record:
            for key in ("current", "previous", "database"):
                image_id = (record.get(key) or {}).get("image_id")
                if image_id and image_id not in images and client is not None:
                    found = _image(client, image_id)
                    if found:
                        images[image_id] = found
        secrets, admin_hash = _secrets(params["secrets_dir"], params["secret_templates"])
        probe = list(params["distribution"])
        current = (record or {}).get("current") or {}
        if params["probe_recorded_moving_tag"] and current.get("channel") in ("latest", "testing") and current.get("ref"):
            probe.append(current["ref"])
        distribution = dict((ref, _distribution(client, ref)) for ref in probe) if client else {}
    except Exception as exc:
        module.fail_json(msg="gathering the deployment's facts failed: %s" % to_native(exc),
                         exception=traceback.format_exc())
    module.exit_json(changed=False, platform=platform, engine=engine, podman=podman, containers=containers, images=images,
                     record=record, record_error=record_error, secrets=secrets, admin_token_hash=admin_hash,
                     lock=_lock(params["lock_path"]), distribution=distribution,
                     rollback_pending=_rollback_pending(params["rollback_journal"]),
                     ownership=_ownership(params["ownership"]), networks=networks, dumps=_dumps(params["dumps_dir"]))


if __name__ == "__main__":
    main()
