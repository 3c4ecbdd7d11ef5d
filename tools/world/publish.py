# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assemble the registry's repositories and tags from the per-architecture exports.

A stand-in image for (repository, version, variant, platform) is the platform's stand-in export with a
config that bakes the version, variant, backends and fault (env + OCI labels); its layers are shared by
every image of that platform, so the registry stores each rootfs once per repository.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import shutil
import subprocess
import tempfile

from . import config, layout
from .images import Build, blob_path, read_export
from .registry import LIST, STORAGE, V2S2, Client, digest_of
from .util import WorldError, atomic_write, log

STAMP = config.path("registry", "published.json")


def _canonical(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _platform_entry(platform: str) -> dict:
    parts = platform.split("/")
    entry = {"architecture": parts[1], "os": parts[0]}
    if len(parts) > 2:
        entry["variant"] = parts[2]
    return entry


class Publisher:
    def __init__(self, client: Client | None = None):
        self.client = client or Client()
        self.blob_home: dict[str, str] = {}       # digest -> a repository that has it (for cross-repository mounts)
        self.pushed: dict[tuple, tuple] = {}      # (repository, image key) -> (digest, size)
        self.exports: dict[tuple, tuple] = {}

    def _export(self, kind: str, platform: str):
        cache_key = (kind, platform)
        if cache_key not in self.exports:
            build = Build(kind, config.ARCHES[config.PLATFORM_TO_DEBIAN[platform]])
            if not build.exported():
                raise WorldError("image %s for %s is not built; run `python3 -m tools.world build`" % (kind, platform))
            manifest, image_config = read_export(build)
            self.exports[cache_key] = (build, manifest, image_config)
        return self.exports[cache_key]

    def _push_image(self, repository: str, identity: tuple, build: Build, manifest: dict, image_config: dict) -> tuple:
        key = (repository, identity)
        if key in self.pushed:
            return self.pushed[key]
        for layer in manifest["layers"]:
            digest = layer["digest"]
            self.client.put_blob(repository, digest, blob_path(build, digest), mount_from=self.blob_home.get(digest))
            self.blob_home.setdefault(digest, repository)
        config_bytes = _canonical(image_config)
        config_digest = digest_of(config_bytes)
        self.client.put_blob(repository, config_digest, config_bytes)
        document = {
            "schemaVersion": 2,
            "mediaType": V2S2,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config_bytes), "digest": config_digest},
            "layers": manifest["layers"],
        }
        data = _canonical(document)
        digest = self.client.put_manifest(repository, digest_of(data), data, V2S2)
        self.pushed[key] = (digest, len(data))
        return self.pushed[key]

    def push_standin(self, image: layout.Image) -> tuple:
        build, manifest, base_config = self._export("standin", image.platform)
        image_config = copy.deepcopy(base_config)
        _set_platform(image_config, image.platform)
        env = [e for e in image_config["config"].get("Env") or [] if not e.startswith("VW_STANDIN_")]
        env += ["VW_STANDIN_VERSION=" + image.version, "VW_STANDIN_VARIANT=" + image.variant,
                "VW_STANDIN_BACKENDS=" + ",".join(image.backends), "VW_STANDIN_PLATFORM=" + image.platform]
        if image.fault:
            env.append("VW_STANDIN_FAULT=" + image.fault)
        image_config["config"]["Env"] = env
        labels = dict(image_config["config"].get("Labels") or {})
        labels.update({
            "org.opencontainers.image.version": image.version,
            "org.opencontainers.image.title": "vaultwarden stand-in (%s, %s)" % (image.repository, image.variant),
            "org.opencontainers.image.description": "homelab.vaultwarden test world stand-in; backends: " + ",".join(image.backends),
            "org.homelab.world.variant": image.variant,
            "org.homelab.world.backends": ",".join(image.backends),
        })
        image_config["config"]["Labels"] = labels
        image_config.setdefault("history", []).append({
            "created": image_config.get("created"), "empty_layer": True,
            "created_by": "homelab.vaultwarden test world: vaultwarden %s (%s) for %s" % (image.version, image.variant, image.platform),
        })
        identity = (image.version, image.variant, image.platform, image.backends, image.fault)
        return self._push_image(image.repository, identity, build, manifest, image_config)

    def push_plain(self, repository: str, kind: str, platform: str, labels: dict) -> tuple:
        build, manifest, base_config = self._export(kind, platform)
        image_config = copy.deepcopy(base_config)
        _set_platform(image_config, platform)
        image_config["config"]["Labels"] = dict(image_config["config"].get("Labels") or {}, **labels)
        return self._push_image(repository, (kind, platform), build, manifest, image_config)

    def put_list(self, repository: str, tag: str, entries) -> str:
        """entries: (platform, (digest, size)) pairs."""
        document = {
            "schemaVersion": 2,
            "mediaType": LIST,
            "manifests": [{"mediaType": V2S2, "size": size, "digest": digest, "platform": _platform_entry(platform)}
                          for platform, (digest, size) in entries],
        }
        return self.client.put_manifest(repository, tag, _canonical(document), LIST)

    def put_tag(self, tag: layout.Tag) -> str:
        pushed = [(image.platform, self.push_standin(image)) for image in tag.images]
        if tag.single:
            digest, _size = pushed[0][1]
            data, media_type, _digest = self.client.get_manifest(tag.repository, digest)
            return self.client.put_manifest(tag.repository, tag.tag, data, media_type)
        return self.put_list(tag.repository, tag.tag, pushed)


def _set_platform(image_config: dict, platform: str) -> None:
    entry = _platform_entry(platform)
    image_config["os"], image_config["architecture"] = entry["os"], entry["architecture"]
    if "variant" in entry:
        image_config["variant"] = entry["variant"]
    else:
        image_config.pop("variant", None)


def publish_key() -> str:
    inputs = [b.key for b in _needed_builds()]
    source = [os.path.join(config.PACKAGE_DIR, name) for name in ("layout.py", "publish.py")]
    return config.key(*(inputs + [config.file_digest(*source)]))


def _needed_builds():
    from .images import all_builds  # pylint: disable=import-outside-toplevel
    return all_builds()


def published() -> bool:
    try:
        with open(STAMP) as handle:
            return json.load(handle).get("key") == publish_key()
    except (OSError, ValueError):
        return False


def publish_all(client: Client | None = None, progress=None) -> dict:
    publisher = Publisher(client)
    world = layout.default_layout()
    counts: dict[str, int] = {}
    total = len(world.tags) + sum(len(tags) for _kind, tags in layout.OFFICIAL_TAGS.values()) + 1

    def report(done: int) -> None:
        if progress is not None:
            progress.update(done=done, total=total, unit="tags pushed", detail="%.0f MB of layers uploaded" % (publisher.client.uploaded / 1e6))

    for number, tag in enumerate(world.tags):
        report(number)
        publisher.put_tag(tag)
        counts[tag.repository] = counts.get(tag.repository, 0) + 1
    counts.update(publish_official(publisher, layout.OFFICIAL_TAGS))
    entries = [(platform, publisher.push_plain(config.FLEET_REPOSITORY, "fleet", platform, {}))
               for platform in layout.FLEET_PLATFORMS]
    publisher.put_list(config.FLEET_REPOSITORY, config.FLEET_TAG, entries)
    counts[config.FLEET_REPOSITORY] = 1
    report(sum(counts.values()))
    prune()
    atomic_write(STAMP, json.dumps({"key": publish_key()}) + "\n")
    return counts


def publish_official(publisher: Publisher, repositories: dict) -> dict:
    """The Debian-built stand-ins of Docker Official Images (repository -> (kind, tags)): one list per tag."""
    counts = {}
    for repository, (kind, tags) in repositories.items():
        entries = [(platform, publisher.push_plain(repository, kind, platform, {"org.homelab.world.engine": kind}))
                   for platform in layout.DB_PLATFORMS]
        for tag in tags:
            publisher.put_list(repository, tag, entries)
        counts[repository] = len(tags)
    return counts


def expected_tags() -> dict[str, set]:
    """repository -> the tags this world defines (stand-ins, database images, the fleet host image)."""
    expected: dict[str, set] = {}
    for tag in layout.default_layout().tags:
        expected.setdefault(tag.repository, set()).add(tag.tag)
    for repository, (_kind, tags) in layout.OFFICIAL_TAGS.items():
        expected[repository] = set(tags)
    expected[config.FLEET_REPOSITORY] = {config.FLEET_TAG}
    return expected


def prune(expected: dict | None = None, storage: str = STORAGE) -> list[str]:
    """Remove the repositories and tags that an earlier world (or a test) left and this world does not define.

    The storage may outlive many versions of the layout, and the registry would go on serving what they
    pushed; the world must hold exactly what layout.py says. Blobs stay (shared layers; a rebuild reuses them).
    """
    expected = expected_tags() if expected is None else expected
    root = os.path.join(storage, "docker", "registry", "v2", "repositories")
    removed = []
    for directory, subdirs, _files in os.walk(root):
        if "_manifests" not in subdirs:
            continue
        subdirs[:] = []
        repository = os.path.relpath(directory, root)
        if repository not in expected:
            shutil.rmtree(directory)
            removed.append(repository)
            continue
        tags_dir = os.path.join(directory, "_manifests", "tags")
        for tag in sorted(os.listdir(tags_dir)) if os.path.isdir(tags_dir) else ():
            if tag not in expected[repository]:
                shutil.rmtree(os.path.join(tags_dir, tag))
                removed.append("%s:%s" % (repository, tag))
    if removed:
        log("removed from the registry what this world does not define: " + ", ".join(sorted(removed)))
    return removed


# --- moving tags -------------------------------------------------------------------------------------

# Everything on this machine that reads or moves the moving tags (the world tests, the functional tests that deploy
# `latest`) holds this lock: several pytest workers, or two checkouts, share the one registry.
MOVING_TAGS_LOCK = os.path.join(tempfile.gettempdir(), "homelab-vaultwarden-world-moving-tags.lock")


@contextlib.contextmanager
def moving_tags_held():
    with open(MOVING_TAGS_LOCK, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def move_tag(repository: str, tag: str, version: str, client: Client | None = None) -> list[str]:
    """Point TAG (and its alpine aliases for latest/testing) at an already published release."""
    client = client or Client()
    alpine_tag = tag.endswith("alpine")
    source = version + "-alpine" if alpine_tag else version
    if client.get_manifest(repository, source) is None:
        known = [t for t in client.tags(repository) if t[0].isdigit() and "-" not in t]
        raise WorldError("%s:%s does not exist in the test world; move %s to one of: %s" % (repository, source, tag, ", ".join(
            sorted(known, key=layout.version_key))))
    moved = [_copy_tag(client, repository, source, tag)]
    for alias in layout.MOVING_ALIASES.get(tag, ()):
        if client.get_manifest(repository, alias) is None:
            continue
        if alias == "alpine" and repository == "vaultwarden/server" and not _pushes_alpine(version):
            log("%s:alpine stays where it is: release %s did not push the alpine tag upstream" % (repository, version))
            continue
        if client.get_manifest(repository, version + "-alpine") is None:
            log("%s:%s stays where it is: there is no %s-alpine" % (repository, alias, version))
            continue
        moved.append(_copy_tag(client, repository, version + "-alpine", alias))
    return moved


def _pushes_alpine(version: str) -> bool:
    try:
        return layout.release_of(version).alpine_tag
    except KeyError:
        return True


def _copy_tag(client: Client, repository: str, source: str, tag: str) -> str:
    data, media_type, digest = client.get_manifest(repository, source)
    client.put_manifest(repository, tag, data, media_type)
    log("%s:%s -> %s (%s)" % (repository, tag, source, digest[:19]))
    return "%s:%s" % (repository, tag)


def reset_tags(client: Client | None = None) -> None:
    publisher = Publisher(client)
    for tag in layout.default_layout().tags:
        if tag.tag in ("latest", "latest-alpine", "alpine", "testing", "testing-alpine"):
            publisher.put_tag(tag)
            log("%s:%s reset" % (tag.repository, tag.tag))


# --- fleet host images in the local engine -----------------------------------------------------------

def load_fleet_images() -> None:
    reference = "%s/%s:%s" % (config.REGISTRY, config.FLEET_REPOSITORY, config.FLEET_TAG)
    pulled = False
    for platform in layout.FLEET_PLATFORMS:
        arch = config.ARCHES[config.PLATFORM_TO_DEBIAN[platform]]
        local = "%s:%s" % (config.FLEET_IMAGE, arch.fleet_tag)
        want = Build("fleet", arch).key
        have = subprocess.run(["docker", "image", "inspect", "--format", '{{index .Config.Labels "org.homelab.world.key"}}', local],
                              capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL).stdout.strip()
        if have == want:
            continue
        subprocess.run(["docker", "pull", "-q", "--platform", platform, reference], check=True, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
        subprocess.run(["docker", "tag", reference, local], check=True, stdin=subprocess.DEVNULL)
        pulled = True
        shown = subprocess.run(["docker", "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}/{{.Variant}}", local],
                               check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout.strip().rstrip("/")
        if shown != platform:
            raise WorldError("%s was recorded by the engine as %s instead of %s" % (local, shown, platform))
        log("%s loaded into the Docker engine (%s)" % (local, shown))
    if pulled:
        subprocess.run(["docker", "rmi", reference], check=False, capture_output=True, stdin=subprocess.DEVNULL)
