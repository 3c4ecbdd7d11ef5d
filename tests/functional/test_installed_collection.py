# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built and installed collection: contents, documentation, and the role's refusals before any change."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.ansible

MODULES = ["platform_facts", "vaultwarden_backup", "vaultwarden_backup_info", "vaultwarden_facts", "vaultwarden_health",
           "vaultwarden_secrets", "vaultwarden_lock", "vaultwarden_plan", "vaultwarden_report"]
FILTERS = [
    "docker_platform", "bashbrew_arch", "debian_arch", "vaultwarden_image", "image_tag_info",
    "official_images_library", "official_image_tags", "official_image_platforms", "database_image",
    "argon2_hash", "argon2_verify", "image_platform",
]


def _doc(installed_collection, kind, name):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed_collection))
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run(
        ["ansible-doc", "-t", kind, "--json", "homelab.vaultwarden." + name],
        capture_output=True, text=True, check=False, env=env, cwd=str(installed_collection),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["homelab.vaultwarden." + name]


def test_tarball_holds_the_collection_and_no_caches(collection_tarball):
    with tarfile.open(collection_tarball) as tar:
        names = set(tar.getnames())
    for required in ("MANIFEST.json", "FILES.json", "meta/runtime.yml", "roles/vaultwarden/meta/argument_specs.yml",
                     "roles/vaultwarden/files/official-images/mariadb", "playbooks/site.yml", "playbooks/report.yml",
                     "plugins/modules/platform_facts.py", "plugins/filter/vaultwarden_image.py"):
        assert required in names, required
    assert not any(name.startswith((".cache/", ".git/", ".ansible/", ".pytest_cache/")) or "__pycache__" in name for name in names)


def test_tarball_ships_the_product_and_nothing_of_the_test_world(collection_tarball):
    with tarfile.open(collection_tarball) as tar:
        names = set(name for name in tar.getnames() if not tar.getmember(name).isdir())
    tops = set(name.split("/", 1)[0] for name in names)
    assert tops <= {"MANIFEST.json", "FILES.json", "README.md", "COPYING", "requirements.txt", "requirements.yml",
                    "changelogs", "docs", "inventories", "meta", "playbooks", "plugins", "roles"}, tops
    assert not any(name.startswith(("tools/", "tests/", "extensions/", "inventories/local/")) for name in names)
    # Every file of the product is in it.
    for top in ("plugins", "roles", "playbooks", "meta"):
        for directory, dummy, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                relative = os.path.relpath(os.path.join(directory, name), ROOT)
                if "__pycache__" not in relative and not relative.endswith(".pyc"):
                    assert relative in names, relative


def test_manifest_declares_the_dependency(installed_collection):
    manifest = json.loads((installed_collection / "ansible_collections/homelab/vaultwarden/MANIFEST.json").read_text())
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"]) == ("homelab", "vaultwarden")
    assert "community.docker" in info["dependencies"]


@pytest.mark.parametrize("name", MODULES)
def test_every_module_is_documented_in_the_installed_copy(installed_collection, name):
    doc = _doc(installed_collection, "module", name)
    assert doc["doc"]["module"] == name
    assert doc["examples"].strip() and doc["return"]
    assert {"check_mode", "diff_mode"} <= set(doc["doc"]["attributes"])


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_is_documented_in_the_installed_copy(installed_collection, name):
    doc = _doc(installed_collection, "filter", name)
    assert doc["doc"]["name"] == name
    assert doc["examples"].strip() and doc["return"]


def test_role_argument_spec_is_rendered(installed_collection):
    doc = _doc(installed_collection, "role", "vaultwarden")
    options = doc["entry_points"]["main"]["options"]
    assert all(name.startswith("vaultwarden_") for name in options)
    assert options["vaultwarden_variant"]["choices"] == ["debian", "alpine"]
    assert options["vaultwarden_admin_token"].get("no_log") is True


ROLE_PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: homelab.vaultwarden.vaultwarden
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"vaultwarden_version": "raspberry"}, ["legacy", "linux/arm/v7"]),
        ({"vaultwarden_version": "1.15.1-aarch64"}, ["legacy", "linux/arm64"]),
        ({"vaultwarden_version": "1.30.0-alpine"}, ["vaultwarden_variant: alpine", "vaultwarden_version: 1.30.0"]),
        ({"vaultwarden_variant": "ubuntu"}, ["vaultwarden_variant", "debian", "alpine"]),
        ({"vaultwarden_user": "1000:1000", "vaultwarden_container_port": 80},
         ["vaultwarden_container_port", "below 1024", "8080"]),
        ({"vaultwarden_user": ""}, ["vaultwarden_user", "vaultwarden_user: root"]),
        ({"vaultwarden_database": "sqlite", "vaultwarden_database_url": "mysql://u:p@db/vw"}, ["SQLite keeps"]),
        ({"vaultwarden_bind_address": "999.1.1.1"}, ["vaultwarden_bind_address", "not an IP address"]),
        ({"vaultwarden_container_name": ""}, ["vaultwarden_container_name", "invent one"]),
        ({"vaultwarden_backup_dir": "/"}, ["vaultwarden_backup_dir", "root of the filesystem", "dedicated directory"]),
        ({"vaultwarden_data_dir": "data"}, ["vaultwarden_data_dir", "named volume"]),
        ({"vaultwarden_purge_data": "maybe"}, ["vaultwarden_purge_data"]),
        ({"vaultwarden_http_port": "70000"}, ["vaultwarden_http_port", "1 to 65535"]),
        # Added with the fleet and the typed settings, given as -e gives them (strings).
        ({"vaultwarden_release_digests": '{"docker.io/vaultwarden/server:latest": "sha256:%s"}' % ("1" * 64)},
         ["vaultwarden_release_digests", "without the registry host", "'vaultwarden/server:latest'"]),
        ({"vaultwarden_version": "1.28.0", "vaultwarden_push": '{"installation_id": "i", "installation_key": "k"}'},
         ["PUSH_ENABLED", "1.29.0", "vaultwarden_push"]),
    ],
)
def test_role_refuses_bad_requests_before_changing_anything(run_playbook, host_snapshot, tmp_path, extra, expected):
    base = tmp_path / "vaultwarden"
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "file").write_text("a file of the host's, next to where the role would write")
    before = host_snapshot(tmp_path)
    result = run_playbook(ROLE_PLAY, extra_vars=dict(extra, vaultwarden_base_dir=str(base)))
    after = host_snapshot(tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for text in expected:
        assert text in output, output[-3000:]
    assert not base.exists()
    # Containers, images, networks, volumes and files: as they were.
    assert after == before
    changed = sum(host.get("changed", 0) for host in result.stats.values())
    assert changed == 0
