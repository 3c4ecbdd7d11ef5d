# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every platform of a representative set of tags pulls, runs on that architecture and becomes healthy."""

from __future__ import annotations

import pytest

from .conftest import REGISTRY, TAGS_GROUP
from .expected import AMD64, ARM64, ARMV6, ARMV7, FOUR, MACHINE

pytestmark = [pytest.mark.world, TAGS_GROUP]


@pytest.fixture(autouse=True, scope="module")
def _moving_tags_at_default(default_tags):
    return default_tags


# (repository, tag, platforms, release, variant): one Debian and one Alpine tag of each era.
REPRESENTATIVE = [
    ("bitwardenrs/server", "1.15.1", [AMD64], "1.15.1", "debian"),
    ("bitwardenrs/server", "raspberry", [ARMV7], "1.15.1", "debian"),
    ("bitwardenrs/server", "armv6", [ARMV6], "1.15.1", "debian"),
    ("bitwardenrs/server", "aarch64", [ARM64], "1.15.1", "debian"),
    ("bitwardenrs/server", "1.15.1-alpine", [AMD64], "1.15.1", "alpine"),
    ("bitwardenrs/server", "1.16.3", sorted(FOUR), "1.16.3", "debian"),
    ("bitwardenrs/server", "1.16.3-alpine", [AMD64], "1.16.3", "alpine"),
    ("bitwardenrs/server", "1.20.0-alpine", [AMD64, ARMV7], "1.20.0", "alpine"),
    ("vaultwarden/server", "1.21.0-alpine", [AMD64, ARMV7], "1.21.0", "alpine"),
    ("vaultwarden/server", "1.24.0-arm32v6", [ARMV6], "1.24.0", "debian"),
    ("vaultwarden/server", "latest", sorted(FOUR), "1.37.1", "debian"),
    ("vaultwarden/server", "latest-alpine", sorted(FOUR), "1.37.1", "alpine"),
]
CASES = [(repo, tag, platform, release, variant) for repo, tag, platforms, release, variant in REPRESENTATIVE for platform in platforms]


WAVE = 8   # emulated first starts (python + a 2048-bit RSA key under qemu) are CPU-heavy: start a few at a time


@pytest.fixture(scope="module")
def started(module_engine):
    """Pull every case, then start them in waves; returns {case: (name, error or None)}."""
    images = {}
    for repository, tag, platform, _release, _variant in CASES:
        images[(repository, tag, platform)] = module_engine.pull("%s/%s:%s" % (REGISTRY, repository, tag), platform)
    results = {}
    keys = list(images)
    for first in range(0, len(keys), WAVE):
        wave = keys[first:first + WAVE]
        for key in wave:
            env = {"QEMU_CPU": "arm1176"} if key[2] == ARMV6 else {}
            results[key] = module_engine.run(images[key], env=env, publish=80, health_interval="3s")
        for key in wave:
            try:
                module_engine.wait_health(results[key], timeout=400)
                results[key] = (results[key], None)
            except AssertionError as error:
                results[key] = (results[key], str(error))
    return results


@pytest.mark.parametrize("repository,tag,platform,release,variant", CASES, ids=["%s:%s@%s" % c[:3] for c in CASES])
def test_runs_on_its_architecture_and_becomes_healthy(module_engine, started, repository, tag, platform, release, variant):
    name, error = started[(repository, tag, platform)]
    assert error is None, error
    info = module_engine.standin(name)
    assert info["machine"] == MACHINE[platform]
    assert info["platform"] == platform
    assert info["version"] == release
    assert info["variant"] == variant
    assert info["pid"] == 1, "the server must be PID 1 (no init)"
    status, body = module_engine.http(name, "/api/version")
    # Upstream added /api/version in 1.25.0 (a JSON string); older releases answer 404 there.
    if tuple(int(part) for part in release.split(".")) >= (1, 25, 0):
        assert (status, body.decode().strip()) == (200, '"%s"' % release)
    else:
        assert status == 404
