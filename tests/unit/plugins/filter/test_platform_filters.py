# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker_platform, bashbrew_arch, debian_arch: thin fronts over the platform table."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.filter import bashbrew_arch, debian_arch, docker_platform

FILTERS = {"docker_platform": docker_platform, "bashbrew_arch": bashbrew_arch, "debian_arch": debian_arch}

CASES = [
    # spelling, docker_platform, bashbrew_arch, debian_arch
    ("x86_64", "linux/amd64", "amd64", "amd64"),
    ("aarch64", "linux/arm64", "arm64v8", "arm64"),
    ("linux/arm64/v8", "linux/arm64", "arm64v8", "arm64"),
    ("armv7l", "linux/arm/v7", "arm32v7", "armhf"),
    (" Linux/ARM ", "linux/arm/v7", "arm32v7", "armhf"),
    ("armhf", "linux/arm/v7", "arm32v7", "armhf"),
    ("armel", "linux/arm/v6", "arm32v6", "armel"),
    ("armv6l", "linux/arm/v6", "arm32v6", "armel"),
    ("arm32v5", "linux/arm/v5", "arm32v5", "armel"),
    ("i686", "linux/386", "i386", "i386"),
    ("ppc64el", "linux/ppc64le", "ppc64le", "ppc64el"),
    ("s390x", "linux/s390x", "s390x", "s390x"),
    ("riscv64", "linux/riscv64", "riscv64", "riscv64"),
    ("mips64", "linux/mips64le", "mips64le", "mips64el"),
]


def apply(name, value):
    return FILTERS[name].FilterModule().filters()[name](value)


@pytest.mark.parametrize("spelling, platform, bashbrew, debian", CASES)
def test_filters(spelling, platform, bashbrew, debian):
    assert apply("docker_platform", spelling) == platform
    assert apply("bashbrew_arch", spelling) == bashbrew
    assert apply("debian_arch", spelling) == debian


@pytest.mark.parametrize("name, expected", [("docker_platform", "linux/arm/v6"), ("bashbrew_arch", "arm32v6"), ("debian_arch", "armel")])
def test_filters_take_the_docker_platform_fact(name, expected):
    fact = {"platform": "linux/arm/v6", "bashbrew": "ignored", "kernel_machine": "armv6l"}
    assert apply(name, fact) == expected


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_a_dict_without_platform_is_refused(name):
    with pytest.raises(AnsibleFilterError, match="without a 'platform' key"):
        apply(name, {"architecture": "arm"})


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_unknown_spelling_is_an_ansible_filter_error_naming_the_choices(name):
    with pytest.raises(AnsibleFilterError) as info:
        apply(name, "sparc64")
    message = str(info.value)
    assert message.startswith(name + ": unknown platform or architecture 'sparc64'")
    assert "linux/arm/v7" in message and "arm32v7" in message


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_non_string_is_refused(name):
    with pytest.raises(AnsibleFilterError, match="must be a string"):
        apply(name, 42)


def test_windows():
    assert apply("docker_platform", "windows-amd64") == "windows/amd64"
    assert apply("bashbrew_arch", "windows/amd64") == "windows-amd64"
    with pytest.raises(AnsibleFilterError, match="Debian has no architecture name for windows/amd64"):
        apply("debian_arch", "windows/amd64")


def test_bashbrew_has_no_arm_v8():
    with pytest.raises(AnsibleFilterError, match="use linux/arm/v7"):
        apply("bashbrew_arch", "linux/arm/v8")
    assert apply("debian_arch", "linux/arm/v8") == "armhf"


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_file_holds_one_documented_filter(name):
    module = FILTERS[name]
    assert list(module.FilterModule().filters()) == [name]
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["name"] == name
    assert doc["version_added"] == "0.1.0"
    assert doc["author"] == "homelab.vaultwarden maintainers (@homelab)"
    assert yaml.safe_load(module.RETURN)["_value"]["type"] == "str"
    assert name in module.EXAMPLES


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_examples_assert_what_the_filter_returns(name):
    """The EXAMPLES' `assert` lines are true statements about the filter."""
    module = FILTERS[name]
    checked = 0
    for task in yaml.safe_load(module.EXAMPLES):
        for condition in task.get("ansible.builtin.assert", {}).get("that", []):
            left, right = condition.split(" == ")
            spelling = left.split("|")[0].strip().strip("'")
            assert apply(name, spelling) == right.strip().strip("'"), condition
            checked += 1
    assert checked >= 3
