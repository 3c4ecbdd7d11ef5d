"""The world's registry holds exactly what layout.py defines: what an earlier world or a test pushed is removed."""

import os

from tools.world import publish


def _make(root, repository, *tags):
    base = os.path.join(root, "docker", "registry", "v2", "repositories", repository)
    os.makedirs(os.path.join(base, "_layers"), exist_ok=True)
    for tag in tags:
        os.makedirs(os.path.join(base, "_manifests", "tags", tag, "current"), exist_ok=True)
    return base


def _tags(base):
    return sorted(os.listdir(os.path.join(base, "_manifests", "tags")))


def test_stale_repositories_and_tags_go_and_the_defined_ones_stay(tmp_path):
    root = str(tmp_path)
    server = _make(root, "vaultwarden/server", "1.30.0", "latest", "0.0.1-left-over")
    caddy = _make(root, "library/nginx", "1")
    expected = {"vaultwarden/server": {"1.30.0", "latest", "testing"}, "library/mariadb": {"10.11"}}
    removed = publish.prune(expected, storage=root)
    assert sorted(removed) == ["library/nginx", "vaultwarden/server:0.0.1-left-over"]
    assert not os.path.exists(caddy)
    assert _tags(server) == ["1.30.0", "latest"]
    assert os.path.isdir(os.path.join(server, "_layers"))
    assert publish.prune(expected, storage=root) == []


def test_the_layout_defines_every_repository_the_registry_test_expects():
    expected = publish.expected_tags()
    assert {"vaultwarden/server", "bitwardenrs/server", "library/mariadb", "library/postgres",
            "library/caddy"} <= set(expected)
    assert expected["library/caddy"] == {"2", "latest"}
    assert "latest" in expected["vaultwarden/server"] and "testing" in expected["vaultwarden/server"]


def test_an_empty_storage_is_left_alone(tmp_path):
    assert publish.prune({"vaultwarden/server": {"latest"}}, storage=str(tmp_path)) == []
