# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The official-images library parser against the real library files, and malformed inputs."""

from __future__ import annotations

import os

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils.official_images import (
    DatabaseImageError,
    OfficialImagesError,
    RegistryError,
    architecture_field,
    database_image,
    normalize_registry,
    official_image_entries,
    official_image_entry,
    official_image_platforms,
    official_image_tags,
    parse_library,
    tag_naming_problems,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
ROLE_LIBRARIES = os.path.join(ROOT, "roles", "vaultwarden", "files", "official-images")
FIXTURES = os.path.join(HERE, "fixtures", "official-images")
# The shared snapshot next to the checkout (../shared); the tests that read it skip when it is not there.
SHARED = os.path.join(ROOT, os.pardir, "shared", "data", "official-images", "library")
SHARED_FILES = sorted(os.listdir(SHARED)) if os.path.isdir(SHARED) else []
LIBRARY_PATHS = dict(
    [(name, os.path.join(ROLE_LIBRARIES, name)) for name in ("mariadb", "mysql", "postgres")]
    + [(name, os.path.join(FIXTURES, name)) for name in ("alpine", "busybox", "caddy", "debian", "hello-world",
                                                         "notary")]
)


def _text(name):
    with open(LIBRARY_PATHS[name], encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def libraries():
    return dict((name, parse_library(_text(name), name)) for name in LIBRARY_PATHS)


def _entry(entries, tag):
    matches = [entry for entry in entries if tag in entry["tags"] or tag in entry["shared_tags"]]
    assert matches, tag
    return matches[0]


def _all_architectures(entries):
    return set(arch for entry in entries for arch in entry["architectures"])


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="the shared data snapshot is not on this machine")
def test_copies_are_the_whole_unmodified_snapshot():
    assert sorted(os.listdir(SHARED)) == sorted(LIBRARY_PATHS)
    for name in os.listdir(SHARED):
        with open(os.path.join(SHARED, name), encoding="utf-8") as handle:
            assert handle.read() == _text(name), name


@pytest.mark.parametrize("name, entries, tags", [
    # counted independently: grep -E '^(Shared)?Tags:' FILE | tr ',' '\n' | sort -u
    ("alpine", 5, 12),
    ("busybox", 8, 28),
    ("caddy", 8, 48),
    ("notary", 0, 0),
    ("debian", 28, 63),
    ("hello-world", 3, 5),
    ("mariadb", 12, 66),
    ("mysql", 3, 36),
    ("postgres", 24, 72),
])
def test_every_library_file_parses(libraries, name, entries, tags):
    parsed = libraries[name]
    assert len(parsed) == entries
    distinct = set(tag for entry in parsed for tag in entry["tags"] + entry["shared_tags"])
    assert len(distinct) == tags
    for entry in parsed:
        assert entry["tags"] or entry["shared_tags"]
        assert entry["architectures"]
        assert entry["maintainers"]
        assert entry["git_repo"].startswith("https://github.com/")
        assert set(entry["arch_fields"]) == set(entry["architectures"])


def test_mariadb_has_no_32bit_arm(libraries):
    mariadb = libraries["mariadb"]
    assert _all_architectures(mariadb) == {"amd64", "arm64v8", "ppc64le", "s390x"}
    for platform in ("linux/arm/v7", "linux/arm/v6", "linux/arm/v5", "armhf"):
        assert official_image_tags(mariadb, platform) == []
    lts = _entry(mariadb, "lts")
    assert lts["tags"][:3] == ["12.3.2-noble", "12.3-noble", "12-noble"]
    assert lts["git_commit"] == "af9b72baa083d6c40b2e0741ec65fd74adacde68"
    assert lts["directory"] == "12.3"


def test_mariadb_global_fields_and_continued_maintainers(libraries):
    for entry in libraries["mariadb"]:
        assert entry["builder"] == "buildkit"
        assert entry["git_repo"] == "https://github.com/MariaDB/mariadb-docker.git"
        assert entry["maintainers"] == [
            "Daniel Black <daniel@mariadb.org> (@grooverdan)",
            "Daniel Bartholomew <dbart@mariadb.com> (@dbart)",
            "Faustin Lammler <faustin@mariadb.org> (@fauust)",
        ]


def test_mysql_is_amd64_and_arm64_only(libraries):
    mysql = libraries["mysql"]
    assert all(entry["architectures"] == ["amd64", "arm64v8"] for entry in mysql)
    assert official_image_platforms(mysql, "8.4") == ["linux/amd64", "linux/arm64"]
    assert official_image_tags(mysql, "armv7l") == []
    assert "lts" in official_image_tags(mysql, "aarch64")
    assert _entry(mysql, "lts")["file"] == "Dockerfile.oracle"
    assert _entry(mysql, "latest")["directory"] == "innovation"


def test_postgres_alpine_tags_have_arm32v6_and_debian_tags_do_not(libraries):
    postgres = libraries["postgres"]
    for entry in postgres:
        alpine = any("alpine" in tag for tag in entry["tags"])
        assert ("arm32v6" in entry["architectures"]) is alpine, entry["tags"]
    assert "linux/arm/v6" in official_image_platforms(postgres, "16-alpine")
    assert "linux/arm/v6" not in official_image_platforms(postgres, "16")
    assert "linux/arm/v5" in official_image_platforms(postgres, "16")
    # bookworm has no armel (arm32v5) build, trixie has
    assert "linux/arm/v5" not in official_image_platforms(postgres, "16-bookworm")
    arm_v6_tags = official_image_tags(postgres, "armv6l")
    assert "alpine" in arm_v6_tags and "16-alpine" in arm_v6_tags and "latest" not in arm_v6_tags
    assert official_image_platforms(postgres, "latest") == [
        "linux/amd64", "linux/arm/v5", "linux/arm/v7", "linux/arm64", "linux/386", "linux/ppc64le",
        "linux/riscv64", "linux/s390x"]


def test_alpine_per_architecture_directories(libraries):
    for entry in libraries["alpine"]:
        assert entry["directory"] is None
        assert entry["arch_fields"]["arm32v6"] == {"directory": "armhf/"}
        assert architecture_field(entry, "arm32v6", "directory") == "armhf/"
        assert architecture_field(entry, "arm32v7", "directory") == "armv7/"
        assert architecture_field(entry, "i386", "directory") == "x86/"
        assert architecture_field(entry, "amd64", "git_commit") == entry["git_commit"]
    assert _entry(libraries["alpine"], "latest")["git_fetch"] == "refs/heads/v3.24"


def test_debian_global_per_architecture_commits_reach_every_entry(libraries):
    debian = libraries["debian"]
    bookworm = _entry(debian, "bookworm")
    assert bookworm["git_commit"] == "7935fc7dd049cb343df42037c152f570069d274f"
    assert bookworm["arch_fields"]["arm32v7"] == {
        "git_fetch": "refs/heads/dist-arm32v7", "git_commit": "456c7b794635964924caeee1ff05f08a4ddd1aca"}
    assert architecture_field(bookworm, "amd64", "git_commit") == "b09f23ad7aab0cafa864c696dfbf130128e5e452"
    assert architecture_field(bookworm, "amd64", "directory") == "bookworm/oci"
    assert "arm32v5" not in bookworm["arch_fields"]  # global overrides only for the entry's architectures
    trixie = _entry(debian, "latest")
    assert trixie["arch_fields"]["arm32v5"]["git_commit"] == "a2677ca23958951d6cf164871b1e669dc0013add"
    assert (trixie["builder"], trixie["file"]) == ("oci-import", "index.json")
    backports = _entry(debian, "bookworm-backports")
    assert (backports["builder"], backports["file"]) == (None, None)
    assert bookworm["maintainers"] == ["Tianon Gravi <tianon@debian.org> (@tianon)",
                                       "Paul Tagliamonte <paultag@debian.org> (@paultag)"]


def test_busybox_global_defaults_and_entry_overrides_combine(libraries):
    latest = _entry(libraries["busybox"], "latest")
    assert (latest["builder"], latest["file"]) == ("oci-import", "index.json")
    assert latest["arch_fields"]["arm32v6"] == {
        "git_fetch": "refs/heads/dist-arm32v6",
        "git_commit": "b3ae875e3aca1414fbc747afcf445931c59809c2",
        "directory": "latest/musl/arm32v6",
    }
    assert latest["arch_fields"]["arm32v5"]["directory"] == "latest/glibc/arm32v5"


def test_hello_world_shared_tags_span_linux_and_windows(libraries):
    hello = libraries["hello-world"]
    assert official_image_platforms(hello, "latest")[-1] == "windows/amd64"
    assert "linux/arm/v6" in official_image_platforms(hello, "latest")
    assert official_image_platforms(hello, "nanoserver") == ["windows/amd64"]
    assert official_image_tags(hello, "windows/amd64") == ["nanoserver-ltsc2025", "nanoserver", "latest",
                                                           "nanoserver-ltsc2022"]
    assert _entry(hello, "nanoserver-ltsc2022")["constraints"] == ["nanoserver-ltsc2022"]
    assert _entry(hello, "linux")["arch_fields"]["s390x"] == {"directory": "s390x"}


def test_queries_accept_library_text(libraries):
    assert official_image_tags(_text("mysql"), "arm64") == official_image_tags(libraries["mysql"], "arm64v8")
    assert official_image_platforms(_text("mysql"), "lts") == ["linux/amd64", "linux/arm64"]


def test_unknown_tag_lists_known_ones(libraries):
    with pytest.raises(OfficialImagesError) as error:
        official_image_platforms(libraries["mysql"], "5.7")
    assert "'5.7' is not in this library" in str(error.value)
    assert "26.7.0" in str(error.value)


def test_defaults_when_the_global_entry_has_no_architectures():
    entries = parse_library("Maintainers: A (@a)\nGitRepo: https://example.invalid/x.git\n\nTags: 1\n")
    assert entries == [{
        "line": 4, "tags": ["1"], "shared_tags": [], "architectures": ["amd64"], "maintainers": ["A (@a)"],
        "constraints": [], "git_repo": "https://example.invalid/x.git", "git_fetch": None, "git_commit": None,
        "directory": None, "file": None, "builder": None, "arch_fields": {"amd64": {}},
    }]


def test_global_architectures_are_the_default_and_entries_override():
    text = ("Maintainers: A (@a)\nArchitectures: amd64, arm32v7\narm32v7-Directory: g7\n\n"
            "Tags: a\n\nTags: b\nArchitectures: arm64v8\narm64v8-Directory: e8\n\n"
            "Tags: c\narm32v7-directory: e7\nUnknownField: kept\n")
    first, second, third = parse_library(text)
    assert first["architectures"] == ["amd64", "arm32v7"]
    assert first["arch_fields"] == {"amd64": {}, "arm32v7": {"directory": "g7"}}
    assert second["architectures"] == ["arm64v8"]
    assert second["arch_fields"] == {"arm64v8": {"directory": "e8"}}
    assert third["arch_fields"]["arm32v7"] == {"directory": "e7"}  # field names are case-insensitive
    assert third["unknown_field"] == "kept"


MALFORMED = [
    ("", ["empty"]),
    ("# only a comment\n\n   \n", ["empty"]),
    ("Maintainers: A (@a)\n\nTags: 1\nthis line has no colon\n", ["line 4", "not a 'Field: value' line"]),
    ("  indented first line\nMaintainers: A (@a)\n", ["line 1", "continues no field"]),
    ("Maintainers: A (@a)\n\n   orphan continuation\nTags: 1\n", ["line 3", "continues no field"]),
    ("Maintainers: A (@a)\n\nTags: 1, 2\n\nTags: 3, 2\n", ["line 5", "tag '2' is already used on line 3"]),
    ("Maintainers: A (@a)\n\nTags: 1, 1\n", ["line 3", "tag '1'"]),
    ("Maintainers: A (@a)\n\nTags: 1\nSharedTags: x\n\nTags: x\n", ["line 6", "tag 'x' is already used on line 4"]),
    ("Maintainers: A (@a)\n\nTags: 1\nArchitectures: amd64, arm64\n",
     ["line 4", "unknown architecture 'arm64'", "arm64v8"]),
    ("Maintainers: A (@a)\n\nTags: 1\narm32v8-Directory: x\n", ["line 4", "unknown architecture 'arm32v8'"]),
    ("Maintainers: A (@a)\narmhf-GitCommit: abc\n\nTags: 1\n", ["line 2", "unknown architecture 'armhf'"]),
    ("Maintainers: A (@a)\n\nTags: 1\narm32v7-Tags: x\n", ["line 4", "cannot be set per architecture"]),
    ("Tags: 1\nMaintainers: A (@a)\n\nTags: 2\n", ["line 1", "global", "cannot have Tags"]),
    ("Maintainers: A (@a)\n\nTags: 1\nDirectory: a\nDirectory: b\n", ["line 5", "given twice"]),
    ("Maintainers: A (@a)\n\nDirectory: a\n", ["line 3", "neither Tags nor SharedTags"]),
    (": no field name\n", ["line 1"]),
]


@pytest.mark.parametrize("text, fragments", MALFORMED)
def test_malformed_libraries_name_the_line(text, fragments):
    with pytest.raises(OfficialImagesError) as error:
        parse_library(text, "test")
    for fragment in fragments:
        assert fragment in str(error.value)


def test_a_library_without_tags_parses_to_no_entries():
    text = "Maintainers: A (@a)\nGitRepo: https://example.invalid/x.git\n\n# Tags: 1.0\n# Directory: old\n"
    assert parse_library(text, "deprecated") == []
    assert official_image_tags(text, "amd64") == []
    with pytest.raises(OfficialImagesError) as error:
        official_image_platforms(text, "latest")
    assert "'latest' is not in this library; it has no tags" in str(error.value)


def test_non_text_library_is_refused():
    with pytest.raises(OfficialImagesError):
        parse_library(None)


# --- database images ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def database_libraries():
    return dict((name, _text(name)) for name in ("mariadb", "mysql", "postgres"))


@pytest.mark.parametrize("platform, engine, tag, registry, expected", [
    ("aarch64", "mariadb", "lts", "docker.io",
     {"engine": "mariadb", "repository": "library/mariadb", "tag": "lts", "ref": "docker.io/library/mariadb:lts",
      "platform": "linux/arm64"}),
    ("x86_64", "mysql", "8.4", "docker.io",
     {"engine": "mysql", "repository": "library/mysql", "tag": "8.4", "ref": "docker.io/library/mysql:8.4",
      "platform": "linux/amd64"}),
    ("armv6l", "postgresql", "16-alpine", "127.0.0.1:5000",
     {"engine": "postgres", "repository": "library/postgres", "tag": "16-alpine",
      "ref": "127.0.0.1:5000/library/postgres:16-alpine", "platform": "linux/arm/v6"}),
    ("armhf", "postgres", "16", "registry-1.docker.io",
     {"engine": "postgres", "repository": "library/postgres", "tag": "16", "ref": "docker.io/library/postgres:16",
      "platform": "linux/arm/v7"}),
    ("linux/arm64/v8", "pgsql", None, "docker.io",
     {"engine": "postgres", "repository": "library/postgres", "tag": "latest",
      "ref": "docker.io/library/postgres:latest", "platform": "linux/arm64"}),
])
def test_database_image(database_libraries, platform, engine, tag, registry, expected):
    assert database_image(platform, engine, tag, database_libraries, registry) == expected


def test_database_image_accepts_parsed_entries_and_alias_keys(database_libraries):
    parsed = {"postgresql": parse_library(database_libraries["postgres"])}
    assert database_image("armv7l", "postgres", "16", parsed)["ref"] == "docker.io/library/postgres:16"


@pytest.mark.parametrize("platform, engine, tag, fragments", [
    ("armv7l", "mariadb", "lts",
     ["library/mariadb:lts has no image for linux/arm/v7", "mysql has no linux/arm/v7 image either",
      "use postgres (18.6, 18, latest", "or sqlite"]),
    ("armv6l", "mysql", "8.4",
     ["library/mysql:8.4 has no image for linux/arm/v6 (it has linux/amd64, linux/arm64)",
      "mariadb has no linux/arm/v6 image either", "postgres (18.6-alpine3.24", "or sqlite"]),
    ("armv6l", "postgres", "16",
     ["library/postgres:16 has no image for linux/arm/v6", "another postgres tag: 16.15-alpine3.24, 16-alpine3.24",
      "or sqlite"]),
    ("armv5tel", "mariadb", "lts",
     ["linux/arm/v5", "postgres (18.6, 18, latest", "or sqlite"]),
    ("arm64", "mariadb", "5.5", ["library/mariadb has no tag '5.5'", "another mariadb tag: 12.3.2-ubi10"]),
])
def test_database_image_refusals_name_what_fits(database_libraries, platform, engine, tag, fragments):
    with pytest.raises(DatabaseImageError) as error:
        database_image(platform, engine, tag, database_libraries)
    for fragment in fragments:
        assert fragment in str(error.value)


def test_database_suggestions_skip_prereleases(database_libraries):
    with pytest.raises(DatabaseImageError) as error:
        database_image("armv7l", "mariadb", "lts", database_libraries)
    assert "19beta3" not in str(error.value)


@pytest.mark.parametrize("args, fragment", [
    (("amd64", "mongodb", "latest"), "database engine 'mongodb' is unknown"),
    (("sparc", "postgres", "16"), "unknown platform"),
    (("amd64", "postgres", "16", "https://registry.lan"), "without 'https://'"),
])
def test_database_image_bad_arguments(database_libraries, args, fragment):
    with pytest.raises(OfficialImagesError) as error:
        database_image(args[0], args[1], args[2], database_libraries, *args[3:])
    assert fragment in str(error.value)


def test_database_image_needs_the_engines_library(database_libraries):
    with pytest.raises(DatabaseImageError) as error:
        database_image("amd64", "mysql", "8.4", {"postgres": database_libraries["postgres"]})
    assert "no official-images library was given for 'mysql'" in str(error.value)


# --- registries and tag naming -----------------------------------------------------------------

@pytest.mark.parametrize("registry, expected", [
    ("docker.io", "docker.io"),
    ("index.docker.io", "docker.io"),
    ("registry-1.docker.io", "docker.io"),
    ("Registry.Hub.Docker.com", "docker.io"),
    (None, "docker.io"),
    ("ghcr.io", "ghcr.io"),
    ("127.0.0.1:5000", "127.0.0.1:5000"),
    ("localhost", "localhost"),
    ("localhost:5000/", "localhost:5000"),
    ("myregistry:5000", "myregistry:5000"),
    ("[::1]:5000", "[::1]:5000"),
])
def test_normalize_registry(registry, expected):
    assert normalize_registry(registry) == expected


@pytest.mark.parametrize("registry, fragment", [
    ("https://ghcr.io", "without 'https://'"),
    ("registry.lan/path", "host[:port]"),
    ("my registry", "host[:port]"),
    ("myregistry", "Docker Hub namespace"),
    ("", "host[:port]"),
])
def test_normalize_registry_refuses(registry, fragment):
    with pytest.raises(RegistryError) as error:
        normalize_registry(registry)
    assert fragment in str(error.value)


@pytest.mark.parametrize("tag, count, fragment", [
    ("latest", 0, None),
    ("alpine", 0, None),
    ("2.2", 0, None),
    ("16-alpine3.24", 0, None),
    ("nanoserver-ltsc2022", 0, None),
    ("latest-alpine", 1, "(the official form is 'alpine')"),
    ("alpine-latest", 1, "(the official form is 'alpine')"),
    ("2.2-latest", 1, "(the official form is '2.2')"),
    ("arm32v6", 1, "'arm32v6/<image>'"),
    ("1.2.0-aarch64", 1, "'arm64v8/<image>'"),
    ("x86_64", 1, "'amd64/<image>'"),
    ("-bad", 1, "not a valid Docker tag"),
    ("a" * 129, 1, "at most 128 characters"),
])
def test_tag_naming_problems(tag, count, fragment):
    problems = tag_naming_problems(tag)
    assert len(problems) == count
    if fragment:
        assert fragment in problems[0]


# --- every library file of the shared snapshot -------------------------------------------------

@pytest.mark.skipif(not SHARED_FILES,
                    reason="the shared snapshot ../shared/data/official-images/library is not next to this checkout")
@pytest.mark.parametrize("name", SHARED_FILES or ["<none>"])
def test_every_shared_library_file_parses_and_resolves_each_tag_per_platform(name):
    with open(os.path.join(SHARED, name), encoding="utf-8") as handle:
        entries = parse_library(handle.read(), name)
    tags = set(tag for entry in entries for tag in entry["tags"] + entry["shared_tags"])
    for tag in tags:
        for platform in official_image_platforms(entries, tag):
            found = official_image_entries(entries, tag, platform)
            assert found, (tag, platform)
            if not platform.startswith("windows/"):
                # one Linux image per platform behind a tag, shared or not
                assert official_image_entry(entries, tag, platform) is found[0], (tag, platform)
            else:
                assert len(set(tuple(entry["constraints"]) for entry in found)) == len(found), (tag, platform)
    for platform in ("linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/arm64", "windows/amd64"):
        assert set(official_image_tags(entries, platform)) <= tags


def test_notary_is_a_deprecated_image_without_tags(libraries):
    notary = libraries["notary"]
    assert notary == []
    for platform in ("linux/amd64", "arm32v6", "arm64v8", "i386", "ppc64le", "s390x", "windows/amd64"):
        assert official_image_tags(notary, platform) == []
        assert official_image_tags(_text("notary"), platform) == []
    with pytest.raises(OfficialImagesError) as error:
        official_image_platforms(notary, "server")
    assert "it has no tags" in str(error.value)
    with pytest.raises(DatabaseImageError) as error:
        database_image("amd64", "postgres", "16", {"postgres": _text("notary")})
    assert "library/postgres has no tags at all" in str(error.value)
    assert "use sqlite" in str(error.value)


def test_caddy_shared_tags_resolve_per_platform(libraries):
    caddy = libraries["caddy"]
    alpine = _entry(caddy, "alpine")
    assert alpine["shared_tags"] == ["2.11.4", "2.11", "2", "latest"]
    for platform in ("linux/amd64", "arm32v6", "armv7l", "aarch64", "ppc64le", "riscv64", "s390x"):
        assert official_image_entry(caddy, "2", platform) is alpine
        assert official_image_entry(caddy, "latest", platform) is alpine
    # the builder images share '2-builder' the same way
    assert official_image_entry(caddy, "2-builder", "linux/arm/v6")["directory"] == "2.11/builder"
    windows = official_image_entries(caddy, "2", "windows/amd64")
    constraints = [entry["constraints"] for entry in windows]
    assert constraints == [["windowsservercore-ltsc2022"], ["windowsservercore-ltsc2025"]]
    assert official_image_entry(caddy, "windowsservercore-ltsc2025", "windows/amd64")["directory"] == \
        "2.11/windows/ltsc2025"
    assert official_image_entries(caddy, "nanoserver", "linux/amd64") == []
    platforms = official_image_platforms(caddy, "2")
    assert platforms[0] == "linux/amd64" and platforms[-1] == "windows/amd64"
    assert "linux/arm/v6" in platforms
    assert "2" in official_image_tags(caddy, "windows/amd64") and "2" in official_image_tags(caddy, "linux/arm/v6")
    assert "alpine" not in official_image_tags(caddy, "windows/amd64")


@pytest.mark.parametrize("tag, platform, fragments", [
    ("2", "windows/amd64", ["tag '2' gives windows/amd64 from 2 entries", "windowsservercore-ltsc2022",
                            "windowsservercore-ltsc2025", "use one of their own tags",
                            "2.11.4-windowsservercore-ltsc2022"]),
    ("2", "linux/386", ["tag '2' has no image for linux/386", "it has linux/amd64", "windows/amd64"]),
    ("nanoserver", "arm64", ["has no image for linux/arm64", "it has windows/amd64"]),
    ("3", "amd64", ["tag '3' is not in this library", "2.11.4-alpine"]),
    ("2", "sparc", ["unknown platform"]),
])
def test_caddy_entry_refusals_name_what_fits(libraries, tag, platform, fragments):
    with pytest.raises(OfficialImagesError) as error:
        official_image_entry(libraries["caddy"], tag, platform)
    for fragment in fragments:
        assert fragment in str(error.value)
