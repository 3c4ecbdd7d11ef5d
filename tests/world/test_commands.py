# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The world's commands: start is idempotent, status reports, move-tag and reset-tags move the moving tags."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import CHECKOUT

pytestmark = pytest.mark.world
REPO = "vaultwarden/server"


def world_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.world"] + list(args), cwd=CHECKOUT, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture
def tags_restored(world):
    # The registry is shared (Molecule runs may move tags too): start and end with the default layout.
    assert world_command("reset-tags").returncode == 0
    yield world
    assert world_command("reset-tags").returncode == 0


def digest(world, tag: str, repository: str = REPO) -> str:
    return world.manifest(repository, tag)[2]


def test_start_is_idempotent_and_status_reports(world):
    from tools.world import registry  # pylint: disable=import-outside-toplevel
    pid = registry.running_pid()
    assert pid
    result = world_command("start")
    assert result.returncode == 0, result.stdout + result.stderr
    assert registry.running_pid() == pid
    status = world_command("status")
    assert status.returncode == 0
    assert "running on 127.0.0.1:5000 (pid %d)" % pid in status.stdout
    assert re.search(r"vaultwarden/server:latest -> 1\.\d+\.\d+\n", status.stdout), status.stdout


def test_move_latest_and_its_alpine_aliases(tags_restored):
    world = tags_restored
    assert digest(world, "latest") == digest(world, "1.37.1")
    result = world_command("move-tag", REPO, "latest", "1.37.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert digest(world, "latest") == digest(world, "1.37.2")
    assert digest(world, "latest-alpine") == digest(world, "1.37.2-alpine")
    assert digest(world, "alpine") == digest(world, "1.37.2-alpine")
    # 1.35.0's release did not push `alpine` upstream: it stays where it was.
    assert world_command("move-tag", REPO, "latest", "1.35.0").returncode == 0
    assert digest(world, "latest") == digest(world, "1.35.0")
    assert digest(world, "latest-alpine") == digest(world, "1.35.0-alpine")
    assert digest(world, "alpine") == digest(world, "1.37.2-alpine")
    assert world_command("reset-tags").returncode == 0
    assert digest(world, "latest") == digest(world, "1.37.1")
    assert digest(world, "alpine") == digest(world, "1.37.1-alpine")
    assert digest(world, "testing") == digest(world, "1.37.2")


def test_move_testing_to_a_broken_release(tags_restored):
    world = tags_restored
    assert world_command("move-tag", REPO, "testing", "1.99.0").returncode == 0
    assert digest(world, "testing") == digest(world, "1.99.0")
    assert digest(world, "testing-alpine") == digest(world, "1.99.0-alpine")
    assert digest(world, "latest") == digest(world, "1.37.1")


def test_move_tag_refuses_unknown_release(tags_restored):
    world = tags_restored
    result = world_command("move-tag", REPO, "latest", "1.36.9")
    assert result.returncode == 1
    assert "vaultwarden/server:1.36.9 does not exist" in result.stdout and "1.37.2" in result.stdout
    assert digest(world, "latest") == digest(world, "1.37.1")


def test_a_checkout_elsewhere_shares_the_cache(world, tmp_path):
    """Cache keys hash file contents and package-relative names: a clone at another path builds nothing."""
    import shutil  # pylint: disable=import-outside-toplevel
    shutil.copytree(CHECKOUT + "/tools/world", str(tmp_path / "tools" / "world"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    status = subprocess.run([sys.executable, "-m", "tools.world", "status"], cwd=str(tmp_path), capture_output=True,
                            text=True, timeout=300, check=False)
    assert status.returncode == 0, status.stdout + status.stderr
    match = re.search(r"images:\s+(\d+) of (\d+) built for the current inputs", status.stdout)
    assert match and match.group(1) == match.group(2), status.stdout
    assert "content:  current" in status.stdout
