# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The architecture table: every row, every spelling, round trips, refusals."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import (
    ALPINE_ARCHITECTURES,
    Platform,
    PlatformError,
    accepted_spellings,
    canonical_platforms,
    from_alpine,
    normalize_platform,
    platform_bits,
    platform_string,
    to_bashbrew,
    to_debian,
    to_uname,
)

# canonical, bashbrew, debian, uname, bits -- written out independently of the module's table
ROWS = [
    ("linux/amd64", "amd64", "amd64", "x86_64", 64),
    ("linux/arm64", "arm64v8", "arm64", "aarch64", 64),
    ("linux/arm/v8", None, "armhf", "armv8l", 32),
    ("linux/arm/v7", "arm32v7", "armhf", "armv7l", 32),
    ("linux/arm/v6", "arm32v6", "armel", "armv6l", 32),
    ("linux/arm/v5", "arm32v5", "armel", "armv5tel", 32),
    ("linux/386", "i386", "i386", "i686", 32),
    ("linux/ppc64le", "ppc64le", "ppc64el", "ppc64le", 64),
    ("linux/s390x", "s390x", "s390x", "s390x", 64),
    ("linux/riscv64", "riscv64", "riscv64", "riscv64", 64),
    ("linux/mips64le", "mips64le", "mips64el", "mips64", 64),
    ("windows/amd64", "windows-amd64", None, None, 64),
]

# every spelling the brief and docs/design.md name, by ecosystem
SPELLINGS = {
    # uname -m
    "x86_64": "linux/amd64",
    "aarch64": "linux/arm64",
    "armv8l": "linux/arm/v8",
    "armv7l": "linux/arm/v7",
    "armv6l": "linux/arm/v6",
    "armv5tel": "linux/arm/v5",
    "armv5tejl": "linux/arm/v5",
    "i686": "linux/386",
    "i586": "linux/386",
    "i386": "linux/386",
    "ppc64le": "linux/ppc64le",
    "s390x": "linux/s390x",
    "riscv64": "linux/riscv64",
    "mips64": "linux/mips64le",
    # Debian
    "amd64": "linux/amd64",
    "arm64": "linux/arm64",
    "armhf": "linux/arm/v7",
    "armel": "linux/arm/v6",
    "ppc64el": "linux/ppc64le",
    "mips64el": "linux/mips64le",
    # Go / OCI
    "arm": "linux/arm/v7",
    "386": "linux/386",
    "mips64le": "linux/mips64le",
    "arm/v5": "linux/arm/v5",
    "arm/v6": "linux/arm/v6",
    "arm/v7": "linux/arm/v7",
    "arm/v8": "linux/arm/v8",
    "arm/7": "linux/arm/v7",
    "arm64/v8": "linux/arm64",
    "amd64/v1": "linux/amd64",
    # bashbrew
    "arm32v5": "linux/arm/v5",
    "arm32v6": "linux/arm/v6",
    "arm32v7": "linux/arm/v7",
    "arm64v8": "linux/arm64",
    "windows-amd64": "windows/amd64",
    # design.md extras
    "armv8": "linux/arm64",
    "x86-64": "linux/amd64",
    # platform strings
    "linux/arm/v7": "linux/arm/v7",
    "linux/arm64/v8": "linux/arm64",
    "linux/arm64": "linux/arm64",
    "windows/amd64": "windows/amd64",
    "linux/arm": "linux/arm/v7",
    "linux/amd64/v1": "linux/amd64",
    "linux/x86_64": "linux/amd64",
    "linux/aarch64": "linux/arm64",
    "linux/armhf": "linux/arm/v7",
    "linux/armhf/v7": "linux/arm/v7",
    "linux/armv6l/v6": "linux/arm/v6",
    "linux/arm/6": "linux/arm/v6",
}


@pytest.mark.parametrize("canonical, bashbrew, debian, uname, bits", ROWS)
def test_every_row_of_the_table(canonical, bashbrew, debian, uname, bits):
    assert platform_string(canonical) == canonical
    assert platform_bits(canonical) == bits
    for name, convert in (("bashbrew", to_bashbrew), ("debian", to_debian), ("uname", to_uname)):
        expected = {"bashbrew": bashbrew, "debian": debian, "uname": uname}[name]
        if expected is None:
            with pytest.raises(PlatformError) as info:
                convert(canonical)
            assert canonical in str(info.value)
        else:
            assert convert(canonical) == expected


def test_the_table_has_exactly_these_rows():
    assert [platform_string(p) for p in canonical_platforms()] == [row[0] for row in ROWS]


@pytest.mark.parametrize("spelling, canonical", sorted(SPELLINGS.items()))
def test_named_spellings(spelling, canonical):
    assert platform_string(spelling) == canonical


# accepted, but combinations of other spellings rather than names of their own, so not listed
UNLISTED_FORMS = {"arm/7", "linux/arm/6", "linux/x86_64", "linux/aarch64", "linux/armhf", "linux/armhf/v7", "linux/armv6l/v6"}


@pytest.mark.parametrize("spelling", sorted(set(SPELLINGS) - UNLISTED_FORMS))
def test_named_spellings_are_listed_as_accepted(spelling):
    assert spelling in accepted_spellings()


@pytest.mark.parametrize("spelling", accepted_spellings())
def test_every_accepted_spelling_normalises_to_a_canonical_platform(spelling):
    platform = normalize_platform(spelling)
    assert platform in canonical_platforms()
    # upper case and surrounding whitespace mean the same
    assert normalize_platform("  %s\t" % spelling.upper()) == platform


@pytest.mark.parametrize("platform", canonical_platforms())
def test_round_trips(platform):
    text = platform_string(platform)
    assert normalize_platform(text) == platform
    assert normalize_platform(platform) == platform
    assert normalize_platform(platform_string(text)) == platform
    try:
        bashbrew = to_bashbrew(platform)
    except PlatformError:
        assert text == "linux/arm/v8"
    else:
        assert normalize_platform(bashbrew) == platform
    if platform.os == "linux":
        assert normalize_platform(to_uname(platform)) == platform


@pytest.mark.parametrize("platform, debian, back", [
    ("linux/arm/v8", "armhf", "linux/arm/v7"),
    ("linux/arm/v5", "armel", "linux/arm/v6"),
    ("linux/arm/v7", "armhf", "linux/arm/v7"),
    ("linux/arm/v6", "armel", "linux/arm/v6"),
    ("linux/386", "i386", "linux/386"),
])
def test_debian_names_shared_by_two_platforms_map_back_to_the_primary_one(platform, debian, back):
    assert to_debian(platform) == debian
    assert platform_string(debian) == back


def test_platform_namedtuple_shape():
    assert Platform._fields == ("os", "architecture", "variant")
    assert normalize_platform("linux/arm64") == Platform("linux", "arm64", "")
    assert normalize_platform("armv6l") == Platform("linux", "arm", "v6")
    # a non-canonical tuple is normalised too
    assert normalize_platform(Platform("linux", "arm", "")) == Platform("linux", "arm", "v7")
    assert normalize_platform(Platform("linux", "arm64", "v8")) == Platform("linux", "arm64", "")


def test_platform_error_is_a_value_error():
    assert issubclass(PlatformError, ValueError)


@pytest.mark.parametrize("spelling, reason", [
    ("sparc64", "not an architecture name"),
    ("", "it is empty"),
    ("   ", "it is empty"),
    ("linux", "operating system but no architecture"),
    ("windows", "operating system but no architecture"),
    ("darwin/arm64", "operating system 'darwin' is not one of linux, windows"),
    ("freebsd/amd64/v1", "operating system 'freebsd' is not one of linux, windows"),
    ("linux/arm/v9", "32-bit ARM variants are v5, v6, v7, v8"),
    ("linux/arm/v4", "32-bit ARM variants are v5, v6, v7, v8"),
    ("linux/armhf/v6", "'armhf' already means linux/arm/v7"),
    ("arm32v6/v7", "'arm32v6' already means linux/arm/v6"),
    ("linux/amd64/v3", "micro-architecture levels"),
    ("amd64/v2", "micro-architecture levels"),
    ("linux/arm64/v9", "arm64 has no variant 'v9'"),
    ("linux/s390x/v1", "s390x has no variant 'v1'"),
    ("linux/arm/", "variant after the last '/' is empty"),
    ("linux/arm/v7/extra", "at most three parts"),
    ("windows/arm64", "the only Windows platform known here is windows/amd64"),
    ("linux/windows-amd64", "'windows-amd64' is not an architecture name"),
])
def test_unknown_spellings_are_refused_with_the_accepted_ones(spelling, reason):
    with pytest.raises(PlatformError) as info:
        normalize_platform(spelling)
    message = str(info.value)
    assert repr(spelling) in message
    assert reason in message
    # the message names the way out: canonical strings, bare names, and the detection module
    for expected in ("linux/arm/v7", "linux/arm64", "armhf", "arm32v6", "x86_64", "homelab.vaultwarden.platform_facts"):
        assert expected in message


@pytest.mark.parametrize("value", [None, 7, ["linux/amd64"]])
def test_non_strings_are_refused(value):
    with pytest.raises(PlatformError, match="must be a string"):
        normalize_platform(value)


def test_to_functions_accept_any_spelling():
    assert to_bashbrew("aarch64") == "arm64v8"
    assert to_bashbrew("windows/amd64") == "windows-amd64"
    assert to_debian("arm32v7") == "armhf"
    assert to_debian("ppc64le") == "ppc64el"
    assert to_uname("armel") == "armv6l"
    assert to_uname("386") == "i686"


def test_windows_has_no_debian_or_uname_name_and_the_error_says_so():
    with pytest.raises(PlatformError, match="Debian has no architecture name for windows/amd64"):
        to_debian("windows-amd64")
    with pytest.raises(PlatformError, match="windows/amd64 .* has no uname machine name"):
        to_uname("windows/amd64")


def test_arm_v8_has_no_bashbrew_name_and_the_error_names_the_replacement():
    with pytest.raises(PlatformError) as info:
        to_bashbrew("armv8l")
    assert "linux/arm/v8" in str(info.value)
    assert "use linux/arm/v7" in str(info.value)


@pytest.mark.parametrize("apk, canonical", [
    ("x86_64", "linux/amd64"),
    ("x86", "linux/386"),
    ("aarch64", "linux/arm64"),
    ("armv7", "linux/arm/v7"),
    ("armhf", "linux/arm/v6"),  # Alpine's armhf is ARMv6, unlike Debian's
    ("ppc64le", "linux/ppc64le"),
    ("s390x", "linux/s390x"),
    ("riscv64", "linux/riscv64"),
    (" ARMHF\n", "linux/arm/v6"),
])
def test_alpine_names(apk, canonical):
    assert platform_string(from_alpine(apk)) == canonical


def test_alpine_table_is_covered():
    assert len(ALPINE_ARCHITECTURES) == 8


def test_unknown_alpine_name_is_refused():
    with pytest.raises(PlatformError, match=r"unknown Alpine architecture 'loongarch64'.*aarch64, armhf, armv7"):
        from_alpine("loongarch64")
