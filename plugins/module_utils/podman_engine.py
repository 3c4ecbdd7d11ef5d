# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Podman engine, pure: which engine a host uses, Podman's facts, and an engine-neutral spec as Podman options.

The planner's decisions do not fork by engine: it plans one engine-neutral container spec (planner.vaultwarden_spec),
and this file only says how Podman spells it (options of containers.podman.podman_container). Reads of a host go
through Podman's Docker-compatible API (its socket), which answers container, image and network inspects in Docker's
shape, so the facts, health and backup code is the Docker path's. Standard library only: it ships to hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

# Where systemd's podman.socket listens for the rootful Podman.
ROOTFUL_SOCKET = "unix:///run/podman/podman.sock"

# The system's unit directory (a rootless user's units would go to ~/.config/systemd/user).
SYSTEM_UNIT_DIR = "/etc/systemd/system"

# Docker calls the default network "bridge"; Podman's is "podman" (`--network bridge` works alone, not in a list).
_DEFAULT_NETWORK = {"bridge": "podman"}


def is_podman(version):
    """Whether a Docker-API /version answer comes from Podman (it names a 'Podman Engine' component)."""
    return any(str(c.get("Name", "")).startswith("Podman") for c in (version or {}).get("Components") or [])


def engine_facts(version, info, api_version, error=None, systemd=False):
    """Podman's facts from its compat API /version and /info answers; the same keys as the Docker facts, plus Podman's."""
    facts = {"name": "podman", "reachable": False, "version": None, "api_version": None, "server_api_version": None,
             "min_api_version": None, "os": None, "arch": None, "kernel_machine": None, "rootless": None,
             "libpod_api_version": None, "systemd": False, "error": error}
    if error is not None or version is None:
        return facts
    if not is_podman(version):
        facts["error"] = "the socket answers, but not as Podman (it is %s)" % (
            (version.get("Components") or [{}])[0].get("Name") or "another engine")
        return facts
    component = next(c for c in version["Components"] if str(c.get("Name", "")).startswith("Podman"))
    security = (info or {}).get("SecurityOptions") or []
    facts.update(reachable=True, version=version.get("Version") or component.get("Version"),
                 api_version=api_version or version.get("ApiVersion"), server_api_version=version.get("ApiVersion"),
                 min_api_version=version.get("MinAPIVersion"), os=version.get("Os"), arch=version.get("Arch"),
                 kernel_machine=(info or {}).get("Architecture"),
                 rootless=any("rootless" in str(option) for option in security),
                 libpod_api_version=(component.get("Details") or {}).get("APIVersion"), systemd=bool(systemd))
    return facts


def choose(requested, docker, podman):
    """The engine to use: ``(name, None)``, or ``(None, (why, fix))`` when the chosen one is missing.

    ``auto`` keeps Docker where a Docker engine answers (what the role always did) and takes Podman where only Podman
    does.
    """
    docker, podman = docker or {}, podman or {}
    if requested == "auto":
        # Neither answers: Docker's own refusal (the role's engine before Podman) says what is missing.
        return ("podman" if podman.get("reachable") and not docker.get("reachable") else "docker"), None
    if requested == "podman" and not podman.get("reachable"):
        return None, ("no reachable Podman on this host (%s)" % (podman.get("error") or "its API socket did not answer"),
                      "Install Podman (Debian/Raspberry Pi OS: apt-get install podman) and start its API socket "
                      "(systemctl enable --now podman.socket; rootless: systemctl --user enable --now podman.socket as "
                      "vaultwarden_user), or set vaultwarden_podman_socket to where it listens.")
    return requested, None


def plan_engine(facts, socket, generate_units, unit_directory=""):
    """The engine part of the plan for Podman (the keys the Docker engine part has, plus Podman's)."""
    rootless = bool(facts.get("rootless"))
    return {
        "name": "podman",
        "version": facts.get("version"),
        "api_version": facts.get("api_version"),
        # Podman selects the variant from a manifest list itself, on pull and on create (no -arm32v6 detour).
        "platform_on_pull": True,
        "platform_on_create": True,
        # The Docker-API modules that only read (facts, health) reach Podman's compat API through its socket.
        "api_version_arg": facts.get("api_version") or "auto",
        "api_host": socket,
        "rootless": rootless,
        # Quadlet files are not written yet: `podman generate systemd --new` units work on every Podman 4 and 5.
        "units": "generate" if generate_units else None,
        "unit_dir": unit_directory or SYSTEM_UNIT_DIR,
        # Units are enabled only where systemd runs (a container or a chroot has none to enable them in).
        "systemd": bool(facts.get("systemd")),
    }


def pull_options(pull):
    """A pull of the plan as podman_image options, the platform pinned.

    podman_image takes a stored image of the tag as present whatever its platform (and Podman refuses ``arch`` beside
    ``--platform``), so the plan's pulls are forced: the plan pulls only when the deployment changes, and a pull of a
    stored image costs one look at the registry.
    """
    platform = pull.get("platform") or ""
    return {
        "pull_extra_args": "--platform %s" % platform if platform else None,
        "force": True,
    }


def container_options(spec, engine=None):
    """An engine-neutral container spec (planner.vaultwarden_spec, database_spec...) as podman_container options."""
    engine = engine or {}
    networks = [n["name"] for n in spec.get("networks") or []]
    if len(networks) > 1:
        networks = [_DEFAULT_NETWORK.get(n, n) for n in networks]
    elif not networks:
        networks = [spec.get("network_mode") or "bridge"]
    health = spec.get("healthcheck") or {}
    test = list(health.get("test") or [])
    options = {
        "network": networks,
        "publish": list(spec.get("published_ports") or []),
        "volume": list(spec.get("volumes") or []),
        "tmpfs": dict(_tmpfs(entry) for entry in spec.get("tmpfs") or []),
        "label": dict(spec.get("labels") or {}),
        "security_opt": list(spec.get("security_opts") or []),
        "cap_drop": list(spec.get("cap_drop") or []),
        "cap_add": list(spec.get("capabilities") or []),
        "user": spec.get("user") or None,
        "platform": spec.get("platform") or None,
        "healthcheck": _health_command(test),
        "healthcheck_interval": health.get("interval") if test else None,
        "healthcheck_timeout": health.get("timeout") if test else None,
        "healthcheck_retries": health.get("retries") if test else None,
        "healthcheck_start_period": health.get("start_period") if test else None,
        "restart_policy": spec.get("restart_policy") or None,
        "entrypoint": _entrypoint(spec.get("entrypoint")),
        "command": spec.get("command") or None,
        "rm": True if spec.get("cleanup") else None,
        "generate_systemd": _unit_options(spec, engine),
    }
    options["unit"] = unit_name(spec["name"]) if options["generate_systemd"] else None
    if options["unit"]:
        # The unit runs `podman run --rm` and restarts it (Restart=always): Podman refuses --rm with a restart policy.
        options["restart_policy"] = None
    return options


def _tmpfs(entry):
    path, dummy, opts = entry.partition(":")
    return path, opts


def _health_command(test):
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return " ".join(test[1:])
    # Exec form, as Docker's ["CMD", ...]: a JSON array is run without a shell by Podman as well.
    return json.dumps(test[1:] if test[0] == "CMD" else test)


def _entrypoint(entrypoint):
    # Podman takes an entrypoint as a JSON array for the exec form, as the Docker CLI does not.
    if not entrypoint:
        return None
    return json.dumps(list(entrypoint)) if isinstance(entrypoint, (list, tuple)) else str(entrypoint)


def _unit_options(spec, engine):
    """podman_container's ``generate_systemd`` for a detached container of the plan; None when no unit is wanted."""
    if not engine.get("units") or spec.get("detach") is False:
        return None
    # --new: the unit creates the container from its options at every start (the form Podman recommends), and
    # restarts it when it stops, as restart_policy does without systemd.
    return {"path": engine["unit_dir"], "new": True, "restart_policy": "always", "names": True,
            "container_prefix": "container", "separator": "-", "no_header": True}


def unit_name(name):
    """The unit `podman generate systemd --name --new` writes for the container ``name``."""
    return "container-%s.service" % name


def unit_paths(directory, names):
    """The unit files of the containers ``names`` in ``directory`` (the system's when empty)."""
    return ["%s/%s" % ((directory or SYSTEM_UNIT_DIR).rstrip("/"), unit_name(name)) for name in names]


def image_view(image, manifest_list=None):
    """A pulled image as podman_image returns it (a list of native inspects), in the shape the Docker pull returns.

    Podman's inspect has no ``Variant``: the platform of the entry of ``manifest_list`` (the registry's, as JSON text)
    whose digest the image was pulled by is the image's platform. A single-platform image keeps what it declares.
    """
    if isinstance(image, list):
        image = image[0] if image else {}
    image = dict(image or {})
    if image.get("Id") and not str(image["Id"]).startswith("sha256:"):
        image["Id"] = "sha256:" + image["Id"]
    try:
        entries = json.loads(manifest_list).get("manifests") or [] if manifest_list else []
    except (ValueError, AttributeError):
        entries = []
    digests = image.get("RepoDigests") or []
    for entry in entries:
        platform = entry.get("platform") or {}
        if entry.get("digest") and any(d.endswith("@" + entry["digest"]) for d in digests):
            image.update(Os=platform.get("os") or image.get("Os"), Architecture=platform.get("architecture"))
            # Only 32-bit arm needs the variant told (v6 or v7 code); elsewhere the image stays as Podman shows it,
            # so that the platform literal the plan records is the same when the image is read back from the engine.
            if platform.get("architecture") == "arm":
                image["Variant"] = platform.get("variant") or None
            break
    return image


def recorded_variants(facts, requested):
    """The facts with the variant of each recorded image that Podman's inspect leaves out, from the deployment record.

    The record names the platform an image was checked for when it was pulled (by its manifest list, see
    :func:`image_view`); an image of the same ID and architecture is that platform. Docker's facts are returned as they are.
    """
    if choose(requested, facts.get("engine"), facts.get("podman"))[0] != "podman":
        return facts
    images = dict(facts.get("images") or {})
    for entry in ((facts.get("record") or {}).get(key) or {} for key in ("current", "previous", "database")):
        found = images.get(entry.get("image_id"))
        parts = str(entry.get("platform") or "").split("/")
        if found and not found.get("Variant") and len(parts) == 3 and found.get("Architecture") == parts[1]:
            images[entry["image_id"]] = dict(found, Variant=parts[2])
    return dict(facts, images=images)


# A container spec of the plan carries these keys (a pull carries ref and wanted_platform).
_SPEC_KEYS = ("name", "image", "volumes", "labels")


def annotate(plan, engine):
    """The plan with each container spec and pull given its Podman options (key ``podman``), for the task files.

    Added after the planner decided (the specs' digests are the engine-neutral ones); the plan is left as it is for
    Docker. Returns a new plan.
    """
    if not isinstance(engine, dict) or engine.get("name") != "podman":
        return plan

    def walk(node):
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        copy = dict((key, walk(value)) for key, value in node.items())
        if all(key in node for key in _SPEC_KEYS):
            copy["podman"] = container_options(node, engine)
        elif "ref" in node and "wanted_platform" in node:
            copy["podman"] = pull_options(node)
        return copy

    return walk(plan)
