# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry serves exactly the expected repositories, tags and platforms, on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from .conftest import LIST_TYPES, TAGS_GROUP, platform_of
from .expected import ARM32V6_VERSIONS, EXPECTED_BACKENDS, EXPECTED_TAGS, EXPECTED_VERSION

pytestmark = [pytest.mark.world, TAGS_GROUP]


@pytest.fixture(autouse=True, scope="module")
def _moving_tags_at_default(default_tags):
    return default_tags


ALL_TAGS = [(repository, tag) for repository, tags in EXPECTED_TAGS.items() for tag in sorted(tags)]
V2S2 = "application/vnd.docker.distribution.manifest.v2+json"


def test_catalogue_has_exactly_the_expected_repositories(world):
    assert world.catalog() == set(EXPECTED_TAGS)


@pytest.mark.parametrize("repository", sorted(EXPECTED_TAGS))
def test_repository_has_exactly_the_expected_tags(world, repository):
    assert world.tags(repository) == set(EXPECTED_TAGS[repository])


@pytest.mark.parametrize("repository,tag", ALL_TAGS, ids=["%s:%s" % t for t in ALL_TAGS])
def test_tag_platforms_and_image_configs(world, repository, tag):
    expected = EXPECTED_TAGS[repository][tag]
    media_type, document, _digest = world.manifest(repository, tag)
    if isinstance(expected, str):
        assert media_type == V2S2, "%s:%s must be a plain single-platform image, not %s" % (repository, tag, media_type)
        assert platform_of(world.image_config(repository, document)) == expected
        return
    assert media_type in LIST_TYPES, "%s:%s must be a manifest list, got %s" % (repository, tag, media_type)
    platforms = [platform_of(entry["platform"]) for entry in document["manifests"]]
    assert sorted(platforms) == sorted(expected)
    for entry in document["manifests"]:
        child_type, child, _digest = world.manifest(repository, entry["digest"])
        assert child_type == V2S2
        image_config = world.image_config(repository, child)
        # The image config must agree with the list, or docker image inspect would show a different platform.
        assert platform_of(image_config) == platform_of(entry["platform"])
        if repository.startswith(("vaultwarden/", "bitwardenrs/")):
            config = image_config["config"]
            assert config["Healthcheck"]["Test"] == ["CMD", "/healthcheck.sh"]
            assert config["Healthcheck"]["Interval"] == 60 * 10 ** 9
            assert "/data" in config["Volumes"]
            env = dict(e.split("=", 1) for e in config["Env"])
            assert env["VW_STANDIN_PLATFORM"] == platform_of(entry["platform"])
            assert env["VW_STANDIN_VARIANT"] == ("alpine" if "alpine" in tag else "debian")
            assert config["Labels"]["org.opencontainers.image.version"] == env["VW_STANDIN_VERSION"]


@pytest.mark.parametrize("repository,tag,version", [(r, t, v) for (r, t), v in EXPECTED_VERSION.items()])
def test_moving_and_legacy_tags_carry_the_expected_release(world, repository, tag, version):
    _media_type, document, _digest = world.manifest(repository, tag)
    manifests = [document] if "config" in document else [world.manifest(repository, e["digest"])[1] for e in document["manifests"]]
    for manifest in manifests:
        labels = world.image_config(repository, manifest)["config"]["Labels"]
        assert labels["org.opencontainers.image.version"] == version


def test_moving_tags_share_the_release_digest(world):
    assert world.manifest("vaultwarden/server", "latest")[2] == world.manifest("vaultwarden/server", "1.37.1")[2]
    assert world.manifest("vaultwarden/server", "testing-alpine")[2] == world.manifest("vaultwarden/server", "1.37.2-alpine")[2]


@pytest.mark.parametrize("repository,version", sorted(EXPECTED_BACKENDS))
def test_backends_per_image(world, repository, version):
    _media_type, document, _digest = world.manifest(repository, version)
    manifests = [document] if "config" in document else [world.manifest(repository, e["digest"])[1] for e in document["manifests"]]
    for manifest in manifests:
        config = world.image_config(repository, manifest)["config"]
        env = dict(e.split("=", 1) for e in config["Env"])
        assert set(env["VW_STANDIN_BACKENDS"].split(",")) == EXPECTED_BACKENDS[(repository, version)]


def test_arm32v6_tags_exist_only_for_1_16_1_to_1_27(world):
    found = {(repository, tag) for repository in ("vaultwarden/server", "bitwardenrs/server")
             for tag in world.tags(repository) if tag.endswith("-arm32v6")}
    assert found == {("vaultwarden/server", v + "-arm32v6") for v in ARM32V6_VERSIONS} | {
        ("bitwardenrs/server", "1.16.3-arm32v6"), ("bitwardenrs/server", "1.20.0-arm32v6")}
    for repository, tag in found:
        version = tuple(int(p) for p in tag.split("-")[0].split("."))
        assert (1, 16, 1) <= version < (1, 28, 0)


def test_legacy_tags_are_single_arch(world):
    for tag in ("raspberry", "armv6", "aarch64", "1.15.1", "1.15.1-raspberry", "1.15.1-armv6", "1.15.1-aarch64"):
        media_type, document, _digest = world.manifest("bitwardenrs/server", tag)
        assert media_type == V2S2 and "manifests" not in document


def _listeners() -> dict:
    """inode -> (hex address, port) of every listening TCP socket."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                address, port_hex = fields[1].rsplit(":", 1)
                if fields[3] == "0A":   # LISTEN
                    found[fields[9]] = (address, int(port_hex, 16))
    return found


def _socket_inodes(pid: int) -> set:
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def test_registry_listens_on_loopback_only(world):
    from tools.world import registry  # pylint: disable=import-outside-toplevel
    listeners = _listeners()
    ours = {listeners[inode] for inode in _socket_inodes(registry.running_pid()) if inode in listeners}
    # 0100007F is 127.0.0.1 in /proc/net/tcp's byte order.
    assert ours == {("0100007F", 5000)}
    # Nothing at all listens on port 5000 on a wildcard or non-loopback address (other loopback registries may).
    on_5000 = [address for address, port in listeners.values() if port == 5000]
    assert all(len(a) == 8 and a.endswith("7F") for a in on_5000), on_5000
    addresses = json.loads(subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True).stdout)
    others = [a["local"] for link in addresses for a in link.get("addr_info", []) if not a["local"].startswith("127.")]
    assert others, "the machine should have a non-loopback address (docker0 at least)"
    for address in others:
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex((address, 5000)) != 0, "the registry answers on %s:5000" % address
