# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalogue's tables against upstream's release tags (the fact sheet's corrected facts), row by row."""

from __future__ import annotations

import re

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import vaultwarden_catalogue as catalogue
from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import platform_string

V = catalogue.parse_version
FOUR = {"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"}


@pytest.mark.parametrize("text, expected", [
    ("1.30.0", (1, 30, 0)),
    ("0.0.0", (0, 0, 0)),
    ("1.99.1", (1, 99, 1)),
    ("10.200.3000", (10, 200, 3000)),
    ("1.30", None),
    ("1", None),
    ("1.30.0.1", None),
    ("v1.30.0", None),
    ("1.030.0", None),
    ("01.30.0", None),
    ("1.30.0-alpine", None),
    ("1.30.x", None),
    ("1..0", None),
    ("", None),
    ("1.\u0663.0", None),  # a non-ASCII digit is no tag character
])
def test_parse_version(text, expected):
    assert catalogue.parse_version(text) == expected


def test_format_version_round_trips():
    for text in ("0.0.0", "1.9.1", "1.37.2", "1.99.0"):
        assert catalogue.format_version(catalogue.parse_version(text)) == text


@pytest.mark.parametrize("since, until, expected", [
    ("1.16.1", "1.28.0", "1.16.1 to 1.27.x"),
    ("1.13.0", "1.17.0", "1.13.0 to 1.16.x"),
    ("0.0.0", "1.9.1", "up to versions before 1.9.1"),
    ("0.0.0", "1.16.0", "up to 1.15.x"),
    ("1.28.0", None, "1.28.0 or newer"),
])
def test_describe_range(since, until, expected):
    assert catalogue.describe_range(since, until) == expected


def _contiguous(rows):
    """Rows sorted by since must start at 0.0.0 (or their first version), touch, and end open."""
    rows = sorted(rows, key=lambda row: V(row["since"]))
    for earlier, later in zip(rows, rows[1:]):
        assert earlier["until"] == later["since"], (earlier, later)
    assert rows[-1]["until"] is None
    return rows


def test_eras_cover_every_version_without_gaps():
    rows = _contiguous(catalogue.ERAS)
    assert rows[0]["since"] == "0.0.0"
    assert [row["name"] for row in rows] == ["mprasil", "bitwarden_rs", "vaultwarden"]
    assert catalogue.current_era()["name"] == "vaultwarden"


@pytest.mark.parametrize("database", catalogue.DATABASES)
def test_repositories_are_contiguous_per_database(database):
    _contiguous([row for row in catalogue.REPOSITORIES if row["database"] == database])


@pytest.mark.parametrize("variant", catalogue.VARIANTS)
@pytest.mark.parametrize("database", catalogue.DATABASES)
def test_architectures_cover_every_version_once(variant, database):
    rows = _contiguous([row for row in catalogue.ARCHITECTURES
                        if row["variant"] == variant and database in row["databases"]])
    assert rows[0]["since"] == "0.0.0"


def test_every_platform_of_the_catalogue_is_canonical():
    platforms = set(catalogue.published_platforms()) | set(catalogue.UNPUBLISHED_PLATFORMS)
    platforms |= {row["platform"] for row in catalogue.LEGACY_TAGS.values()}
    platforms |= {catalogue.ARM32V6_WORKAROUND["platform"]}
    for row in catalogue.KNOWN_BAD_RELEASES:
        platforms |= set(row["platforms"])
    for platform in platforms:
        assert platform_string(platform) == platform


@pytest.mark.parametrize("version, era", [
    ("0.1.0", "mprasil"),
    ("1.9.0", "mprasil"),
    ("1.9.1", "bitwarden_rs"),
    ("1.16.0", "bitwarden_rs"),
    ("1.20.99", "bitwarden_rs"),
    ("1.21.0", "vaultwarden"),
    ("1.37.2", "vaultwarden"),
    ("1.99.0", "vaultwarden"),
    ("2.0.0", "vaultwarden"),
])
def test_era_boundaries(version, era):
    assert catalogue.era_for(V(version))["name"] == era


@pytest.mark.parametrize("database, version, repository", [
    ("sqlite", "1.0.0", "mprasil/bitwarden"),
    ("sqlite", "1.9.0", "mprasil/bitwarden"),
    ("sqlite", "1.9.1", "bitwardenrs/server"),
    ("sqlite", "1.16.3", "bitwardenrs/server"),
    ("sqlite", "1.20.0", "bitwardenrs/server"),
    ("sqlite", "1.21.0", "vaultwarden/server"),
    ("mysql", "1.9.0", None),
    ("mysql", "1.9.1", None),
    ("mysql", "1.10.0", "bitwardenrs/server-mysql"),
    ("mysql", "1.12.9", "bitwardenrs/server-mysql"),
    ("mysql", "1.13.0", "bitwardenrs/server-mysql"),
    ("mysql", "1.16.3", "bitwardenrs/server-mysql"),
    ("mysql", "1.17.0", "bitwardenrs/server"),
    ("mysql", "1.20.9", "bitwardenrs/server"),
    ("mysql", "1.21.0", "vaultwarden/server"),
    ("postgresql", "1.10.0", None),
    ("postgresql", "1.11.0", "bitwardenrs/server-postgresql"),
    ("postgresql", "1.12.0", "bitwardenrs/server-postgresql"),
    ("postgresql", "1.13.0", "bitwardenrs/server-postgresql"),
    ("postgresql", "1.16.0", "bitwardenrs/server-postgresql"),
    ("postgresql", "1.17.0", "bitwardenrs/server"),
    ("postgresql", "1.21.0", "vaultwarden/server"),
    ("postgresql", "1.99.1", "vaultwarden/server"),
])
def test_repository_per_database_and_version(database, version, repository):
    assert catalogue.repository_for(database, V(version)) == repository


@pytest.mark.parametrize("version, variant, database, platforms", [
    ("1.15.1", "debian", "sqlite", {"linux/amd64"}),
    ("1.15.1", "alpine", "sqlite", {"linux/amd64"}),
    ("1.9.0", "debian", "sqlite", {"linux/amd64"}),
    ("1.0.0", "alpine", "sqlite", set()),
    ("1.1.0", "alpine", "sqlite", {"linux/amd64"}),
    ("1.9.1", "debian", "mysql", set()),
    ("1.10.0", "debian", "mysql", {"linux/amd64"}),
    ("1.10.0", "alpine", "mysql", {"linux/amd64"}),
    ("1.10.0", "alpine", "postgresql", set()),
    ("1.11.0", "alpine", "postgresql", {"linux/amd64"}),
    ("1.16.2", "debian", "mysql", set()),
    ("1.16.2", "debian", "postgresql", set()),
    ("1.16.2", "alpine", "mysql", {"linux/amd64"}),
    ("1.16.2", "debian", "sqlite", FOUR),
    ("1.16.0", "debian", "sqlite", FOUR),
    ("1.16.0", "debian", "mysql", {"linux/amd64"}),
    ("1.16.3", "debian", "postgresql", {"linux/amd64"}),
    ("1.16.0", "alpine", "sqlite", {"linux/amd64"}),
    ("1.17.0", "debian", "sqlite", FOUR),
    ("1.17.0", "debian", "mysql", FOUR),
    ("1.17.0", "debian", "postgresql", FOUR),
    ("1.17.0", "alpine", "sqlite", {"linux/amd64", "linux/arm/v7"}),
    ("1.17.0", "alpine", "mysql", set()),
    ("1.17.0", "alpine", "postgresql", set()),
    ("1.18.0", "alpine", "postgresql", {"linux/amd64"}),
    ("1.23.1", "alpine", "postgresql", {"linux/amd64"}),
    ("1.23.1", "alpine", "mysql", set()),
    ("1.24.0", "alpine", "sqlite", FOUR),
    ("1.24.0", "debian", "postgresql", FOUR),
    ("1.37.2", "alpine", "postgresql", FOUR),
    ("1.99.0", "debian", "sqlite", FOUR),
])
def test_platforms_per_version_variant_and_database(version, variant, database, platforms):
    assert set(catalogue.platforms_for(V(version), variant, database)) == platforms


def test_moving_tags_use_the_newest_rows():
    assert set(catalogue.platforms_for(catalogue.MOVING_TAG_VERSION, "alpine", "mysql")) == FOUR
    assert catalogue.repository_for("postgresql", catalogue.MOVING_TAG_VERSION) == "vaultwarden/server"
    assert catalogue.era_for(catalogue.MOVING_TAG_VERSION) is catalogue.current_era()


@pytest.mark.parametrize("variant, database, platform, first", [
    ("debian", "sqlite", "linux/arm/v6", "1.16.0"),
    ("debian", "mysql", "linux/arm/v7", "1.17.0"),
    ("alpine", "sqlite", "linux/arm/v7", "1.17.0"),
    ("alpine", "sqlite", "linux/arm/v6", "1.24.0"),
    ("alpine", "postgresql", "linux/arm64", "1.24.0"),
    ("debian", "sqlite", "linux/amd64", "0.0.0"),
    ("alpine", "sqlite", "linux/amd64", "1.1.0"),
    ("alpine", "mysql", "linux/amd64", "1.10.0"),
    ("debian", "postgresql", "linux/amd64", "1.11.0"),
])
def test_first_version_with_platform(variant, database, platform, first):
    assert catalogue.first_version_with_platform(variant, database, platform) == V(first)


@pytest.mark.parametrize("platform", ["linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64"])
def test_unpublished_platforms_never_appear(platform):
    assert platform not in catalogue.published_platforms()
    for variant in catalogue.VARIANTS:
        assert catalogue.first_version_with_platform(variant, "sqlite", platform) is None


@pytest.mark.parametrize("version, variant, repository, applies", [
    ("1.16.0", "debian", "bitwardenrs/server", False),
    ("1.16.1", "debian", "bitwardenrs/server", True),
    ("1.16.1", "debian", "bitwardenrs/server-mysql", False),
    ("1.16.1", "alpine", "bitwardenrs/server", False),
    ("1.20.0", "debian", "bitwardenrs/server", True),
    ("1.21.0", "debian", "vaultwarden/server", True),
    ("1.27.0", "debian", "vaultwarden/server", True),
    ("1.27.9", "debian", "vaultwarden/server", True),
    ("1.28.0", "debian", "vaultwarden/server", False),
    ("1.15.1", "debian", "bitwardenrs/server", False),
])
def test_arm32v6_workaround_range(version, variant, repository, applies):
    assert catalogue.arm32v6_workaround_applies(V(version), variant, repository) is applies


def test_arm32v6_workaround_facts():
    rule = catalogue.ARM32V6_WORKAROUND
    assert (rule["since"], rule["until"], rule["docker_fixed_in"]) == ("1.16.1", "1.28.0", "20.10.0")
    assert rule["issue"] == "moby/moby#41017"
    assert rule["platform"] == "linux/arm/v6"


@pytest.mark.parametrize("host, since, repository", [
    ("ghcr.io", "1.28.0", "dani-garcia/vaultwarden"),
    ("quay.io", "1.28.0", "vaultwarden/server"),
])
def test_mirrors(host, since, repository):
    mirror = catalogue.MIRRORS[host]
    assert mirror["since"] == since
    assert mirror["repositories"] == {"vaultwarden/server": repository}
    # A mirror only carries the vaultwarden era.
    assert catalogue.era_for(V(mirror["since"]))["name"] == "vaultwarden"


def test_tags_per_channel_have_no_short_aliases():
    assert catalogue.CHANNEL_TAGS == {
        ("latest", "debian"): "latest",
        ("latest", "alpine"): "latest-alpine",
        ("testing", "debian"): "testing",
        ("testing", "alpine"): "testing-alpine",
    }
    assert catalogue.VARIANT_TAG_SUFFIX == {"debian": "", "alpine": "-alpine"}
    assert catalogue.MOVING_TAG_ALIASES == {"alpine": ("latest", "alpine")}


def test_legacy_tags():
    assert catalogue.LEGACY_TAGS_RETIRED == "2021-01-14"
    assert {name: row["platform"] for name, row in catalogue.LEGACY_TAGS.items()} == {
        "raspberry": "linux/arm/v7", "armv6": "linux/arm/v6", "aarch64": "linux/arm64"}


@pytest.mark.parametrize("version, variant, platform, bad", [
    ("1.25.0", "debian", "linux/arm/v6", True),
    ("1.25.0", "alpine", "linux/arm/v6", False),
    ("1.25.1", "debian", "linux/arm/v6", False),
    ("1.29.2", "debian", "linux/arm/v6", True),
    ("1.29.2", "alpine", "linux/arm/v6", False),
    ("1.29.2", "debian", "linux/arm/v7", False),
    ("1.29.1", "debian", "linux/arm/v6", False),
    ("1.30.0", "debian", "linux/arm/v6", False),
])
def test_known_bad_releases(version, variant, platform, bad):
    row = catalogue.known_bad_release(V(version), variant, platform)
    assert (row is not None) is bad
    if bad:
        assert row["issue"] == {"1.25.0": "dani-garcia/vaultwarden#2490", "1.29.2": "dani-garcia/vaultwarden#3839"}[version]


def test_database_aliases():
    assert catalogue.DATABASE_ALIASES["mariadb"] == "mysql"
    assert catalogue.DATABASE_ALIASES["postgres"] == "postgresql"
    assert set(catalogue.DATABASE_ALIASES.values()) == set(catalogue.DATABASES)
    assert catalogue.first_version_with_database("mysql") == V("1.10.0")
    assert catalogue.first_version_with_database("postgresql") == V("1.11.0")
    assert catalogue.first_version_with_database("sqlite") == V("0.0.0")


# --- evidence, uncertainty, and the facts the fact sheet had wrong -----------------------------

# TAG:PATH (git show TAG:PATH on dani-garcia/vaultwarden), an issue, a commit, or a git tag.
EVIDENCE = re.compile(r"\d+\.\d+(\.\d+)?:[\w./*<>{},-]+|#\d+|commit [0-9a-f]{7,}|git tag ")


def _evidenced_rows():
    rows = [("ERAS", row) for row in catalogue.ERAS] + [("REPOSITORIES", row) for row in catalogue.REPOSITORIES]
    rows += [("ARCHITECTURES", row) for row in catalogue.ARCHITECTURES]
    rows += [("MIRRORS", row) for row in catalogue.MIRRORS.values()]
    rows += [("LEGACY_TAGS", row) for row in catalogue.LEGACY_TAGS.values()]
    rows += [("KNOWN_BAD_RELEASES", row) for row in catalogue.KNOWN_BAD_RELEASES]
    rows += [("NON_ROOT_CAPABILITIES", row) for row in catalogue.NON_ROOT_CAPABILITIES]
    rows += [("RELEASE_TAGS", row) for row in catalogue.RELEASE_TAGS]
    rows += [("ARM32V6_WORKAROUND", catalogue.ARM32V6_WORKAROUND)]
    return rows


@pytest.mark.parametrize("table, row", _evidenced_rows())
def test_every_row_carries_its_evidence(table, row):
    assert EVIDENCE.search(row["evidence"]), (table, row)
    assert isinstance(row.get("uncertain", ""), str)
    if "platforms" in row and "variant" in row and not row["platforms"]:
        assert row["reason"], row  # a row that publishes nothing says why


@pytest.mark.parametrize("version, variant, database, uncertain", [
    ("1.9.0", "debian", "sqlite", True),      # Docker Hub build settings named the tags
    ("1.15.1", "alpine", "sqlite", True),
    ("1.16.0", "debian", "sqlite", False),    # hooks/push names them from 1.16.0
    ("1.16.2", "debian", "mysql", True),      # derived from set -e
    ("1.37.2", "alpine", "postgresql", False),
])
def test_uncertain_rows(version, variant, database, uncertain):
    assert bool(catalogue.architecture_row(V(version), variant, database).get("uncertain")) is uncertain


def test_the_one_release_not_tagged_x_y_z():
    assert catalogue.release_version("1.14") == (1, 14, 0)
    assert catalogue.release_version("1.14.0") == (1, 14, 0)  # the version; selection refuses the spelling
    assert catalogue.release_version("1.13") is None
    assert catalogue.release_version("1.30.1") == (1, 30, 1)
    assert catalogue.release_tag((1, 14, 0)) == "1.14"
    assert catalogue.release_tag((1, 14, 1)) == "1.14.1"
    assert catalogue.misspelled_release("1.14.0")["tag"] == "1.14"
    assert catalogue.misspelled_release("1.14") is None


def test_next_version_with_platform_skips_gaps():
    # Alpine PostgreSQL on amd64: 1.11.0 to 1.16.x, not in 1.17.0, again from 1.18.0
    assert catalogue.next_version_with_platform("alpine", "postgresql", "linux/amd64", V("1.17.0")) == V("1.18.0")
    assert catalogue.next_version_with_platform("debian", "mysql", "linux/amd64", V("1.16.2")) == V("1.16.3")
    assert catalogue.next_version_with_platform("alpine", "mysql", "linux/arm/v6", V("1.20.0")) == V("1.24.0")
    assert catalogue.next_version_with_platform("debian", "sqlite", "linux/386", V("1.20.0")) is None


@pytest.mark.parametrize("database, first", [("sqlite", "1.16.1"), ("mysql", "1.17.0"), ("postgresql", "1.17.0")])
def test_first_arm32v6_tag_per_database(database, first):
    assert catalogue.first_arm32v6_version(database) == V(first)


@pytest.mark.parametrize("version, variant, capabilities", [
    ("1.27.0", "debian", None),
    ("1.28.0", "debian", ("NET_BIND_SERVICE",)),
    ("1.28.0", "alpine", ("NET_BIND_SERVICE",)),
    ("1.28.1", "debian", None),
])
def test_non_root_capabilities(version, variant, capabilities):
    row = catalogue.non_root_capabilities(V(version), variant)
    assert (row["capabilities"] if row else None) == capabilities
    if row:
        assert row["issue"] == "dani-garcia/vaultwarden#3386"


@pytest.mark.parametrize("name, since, until", [
    ("raspberry", "1.1.0", "1.16.0"), ("aarch64", "1.3.0", "1.16.0"), ("armv6", "1.8.0", "1.16.0")])
def test_legacy_tags_exist_where_their_dockerfiles_do(name, since, until):
    assert (catalogue.LEGACY_TAGS[name]["since"], catalogue.LEGACY_TAGS[name]["until"]) == (since, until)
