# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""image_platform: the platform an image's inspect data declares, kept literal for docker_container."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.filter import docker_platform, image_platform

APPLY = image_platform.FilterModule().filters()["image_platform"]
CANONICAL = docker_platform.FilterModule().filters()["docker_platform"]


@pytest.mark.parametrize("image, literal, canonical", [
    ({"Id": "sha256:1", "Os": "linux", "Architecture": "amd64"}, "linux/amd64", "linux/amd64"),
    ({"Os": "linux", "Architecture": "arm64", "Variant": "v8"}, "linux/arm64/v8", "linux/arm64"),
    ({"Os": "linux", "Architecture": "arm64"}, "linux/arm64", "linux/arm64"),
    ({"Os": "linux", "Architecture": "arm", "Variant": "v7"}, "linux/arm/v7", "linux/arm/v7"),
    ({"Os": "linux", "Architecture": "arm", "Variant": "v6"}, "linux/arm/v6", "linux/arm/v6"),
    ({"Os": "linux", "Architecture": "arm", "Variant": ""}, "linux/arm", "linux/arm/v7"),
    ({"Os": "linux", "Architecture": "386", "Variant": None}, "linux/386", "linux/386"),
])
def test_literal_and_canonical(image, literal, canonical):
    assert APPLY(image) == literal
    assert CANONICAL(APPLY(image)) == canonical


def test_no_image_is_an_empty_string():
    assert APPLY({}) == ""


@pytest.mark.parametrize("value, words", [
    ({"Id": "sha256:1", "Architecture": "arm64"}, ["no Os", "Architecture, Id"]),
    ({"Os": "linux"}, ["no Architecture", "keys: Os"]),
    ({"Os": "", "Architecture": ""}, ["no Os or Architecture"]),
    ([{"Os": "linux", "Architecture": "amd64"}], ["got list", "images | first"]),
    ("linux/amd64", ["got str"]),
])
def test_refusals_name_what_was_given(value, words):
    with pytest.raises(AnsibleFilterError) as info:
        APPLY(value)
    for word in words:
        assert word in str(info.value)
