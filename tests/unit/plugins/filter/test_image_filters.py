# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image filters: through their FilterModule, and vaultwarden_image through a real Templar (omit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.filter import (
    database_image,
    image_tag_info,
    official_image_platforms,
    official_image_tags,
    official_images_library,
    vaultwarden_image,
)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
LIBRARIES = os.path.join(ROOT, "roles", "vaultwarden", "files", "official-images")


def _filter(module, name):
    filters = module.FilterModule().filters()
    assert list(filters) == [name]  # one filter per file
    return filters[name]


def _library(name):
    with open(os.path.join(LIBRARIES, name), encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def libraries():
    return dict((name, _library(name)) for name in ("mariadb", "mysql", "postgres"))


def test_every_filter_file_documents_itself():
    import yaml

    for module in (database_image, image_tag_info, official_image_platforms, official_image_tags,
                   official_images_library, vaultwarden_image):
        name = module.__name__.rsplit(".", 1)[1]
        doc = yaml.safe_load(module.DOCUMENTATION)
        assert doc["name"] == name
        assert doc["version_added"] == "0.1.0"
        assert doc["author"] == "homelab.vaultwarden maintainers (@homelab)"
        assert "_input" in doc["options"]
        assert "_value" in yaml.safe_load(module.RETURN)
        assert name in module.EXAMPLES


# --- vaultwarden_image -------------------------------------------------------------------------

def test_vaultwarden_image():
    select = _filter(vaultwarden_image, "vaultwarden_image")
    assert select("armv7l", "1.32.0", "mariadb", "alpine", "ghcr.io") == {
        "repository": "dani-garcia/vaultwarden", "tag": "1.32.0-alpine",
        "ref": "ghcr.io/dani-garcia/vaultwarden:1.32.0-alpine", "platform": "linux/arm/v7", "pull": "missing",
        "era": "vaultwarden", "channel": "pinned", "version": "1.32.0", "variant": "alpine", "database": "mysql",
        "warnings": [], "non_root_capabilities": []}


def test_vaultwarden_image_reports_warnings_and_capabilities():
    select = _filter(vaultwarden_image, "vaultwarden_image")
    assert select("amd64", "1.28.0")["non_root_capabilities"] == ["NET_BIND_SERVICE"]
    chosen = select("amd64", "1.14", "mysql")
    assert (chosen["tag"], chosen["version"]) == ("1.14", "1.14")
    assert len(chosen["warnings"]) == 2 and all("uncertain fact" in warning for warning in chosen["warnings"])


def test_vaultwarden_image_accepts_the_platform_fact():
    select = _filter(vaultwarden_image, "vaultwarden_image")
    fact = {"platform": "linux/arm/v6", "bashbrew": "arm32v6", "docker": {"server_version": "19.03.13"}}
    assert select(fact, "1.27.0")["tag"] == "1.27.0"
    assert select(fact, "1.27.0", docker_version=fact["docker"]["server_version"])["tag"] == "1.27.0-arm32v6"


def _omit_sentinels():
    sentinels = ["__omit_place_holder__0123456789abcdef"]  # ansible-core < 2.19
    try:
        from ansible._internal._templating._utils import Omit  # ansible-core >= 2.19
        sentinels.append(Omit)
    except ImportError:
        pass
    return sentinels


@pytest.mark.parametrize("omit", _omit_sentinels())
def test_vaultwarden_image_treats_omit_as_not_given(omit):
    select = _filter(vaultwarden_image, "vaultwarden_image")
    chosen = select("armv6l", "1.27.0", docker_version=omit)
    assert chosen["tag"] == "1.27.0"
    chosen = select("armv6l", omit, omit, omit, omit, omit)
    assert chosen["ref"] == "docker.io/vaultwarden/server:latest"
    assert (chosen["database"], chosen["variant"]) == ("sqlite", "debian")


@pytest.mark.parametrize("args, kwargs, fragment", [
    (("armv7l", "raspberry"), {}, "removed on 2021-01-14"),
    (("amd64", "1.14.0"), {}, "use version='1.14'"),
    (("armv6l", "1.25.0"), {"docker_version": "24.0.7"}, "dani-garcia/vaultwarden#2490"),
    (("armv6l", "latest"), {"docker_version": "19.03.13"}, "moby/moby#41017"),
    (("sparc",), {}, "unknown platform"),
    (({"platform": None},), {}, "must be a string"),
    (("amd64", "1.27.0"), {"registry": "quay.io"}, "1.28.0"),
])
def test_vaultwarden_image_errors_are_filter_errors(args, kwargs, fragment):
    select = _filter(vaultwarden_image, "vaultwarden_image")
    with pytest.raises(AnsibleFilterError) as error:
        select(*args, **kwargs)
    assert fragment in str(error.value)


_TEMPLATING_SCRIPT = r"""
import json, sys
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=[sys.argv[1]])._install()
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
templar = Templar(loader=DataLoader(), variables={"host_platform": "armv6l", "docker": "19.03.13"})
try:
    print(json.dumps(templar.template(trust_as_template(sys.argv[2]))))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def _render(expression):
    """Render with a real Templar in a fresh interpreter, where Ansible's collection loader owns
    ``ansible_collections`` (in this process the tests import it from sys.path)."""
    proc = subprocess.run([sys.executable, "-c", _TEMPLATING_SCRIPT, os.path.join(ROOT, ".cache", "collections"),
                           expression], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_omit_through_ansible_templating():
    chosen = _render("{{ host_platform | homelab.vaultwarden.vaultwarden_image('1.27.0', "
                     "docker_version=docker_unknown | default(omit)) }}")
    assert chosen["tag"] == "1.27.0"
    chosen = _render("{{ host_platform | homelab.vaultwarden.vaultwarden_image('1.27.0', "
                     "docker_version=docker | default(omit)) }}")
    assert chosen["tag"] == "1.27.0-arm32v6"


def test_refusal_through_ansible_templating():
    failure = _render("{{ host_platform | homelab.vaultwarden.vaultwarden_image('raspberry') }}")
    assert "homelab.vaultwarden.vaultwarden_image" in failure["message"]
    assert "use 'latest' with platform linux/arm/v7" in failure["message"]


# --- image_tag_info ----------------------------------------------------------------------------

def test_image_tag_info():
    info = _filter(image_tag_info, "image_tag_info")("latest-alpine")
    assert (info["channel"], info["variant"], info["official_naming"]) == ("latest", "alpine", False)
    legacy = _filter(image_tag_info, "image_tag_info")("raspberry")
    assert (legacy["legacy"], legacy["retired"]) == (True, "2021-01-14")
    assert _filter(image_tag_info, "image_tag_info")("1.14-alpine")["version"] == "1.14"


@pytest.mark.parametrize("tag", ["v1.30.0", "1.30", "1.30.0-arm32v6", "1.14.0", "1.20.0-armv6", 42])
def test_image_tag_info_errors_are_filter_errors(tag):
    with pytest.raises(AnsibleFilterError):
        _filter(image_tag_info, "image_tag_info")(tag)


# --- official-images filters -------------------------------------------------------------------

def test_official_images_library(libraries):
    entries = _filter(official_images_library, "official_images_library")(libraries["mysql"], "mysql")
    assert [entry["architectures"] for entry in entries] == [["amd64", "arm64v8"]] * 3


def test_a_library_without_tags_gives_no_entries_and_no_tags():
    path = os.path.join(ROOT, "tests", "unit", "plugins", "module_utils", "fixtures", "official-images", "notary")
    with open(path, encoding="utf-8") as handle:
        notary = handle.read()
    assert _filter(official_images_library, "official_images_library")(notary, "notary") == []
    assert _filter(official_image_tags, "official_image_tags")(notary, "linux/arm64") == []


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("Maintainers: A (@a)\n\nTags: 1\nArchitectures: arm64\n", "line 4"),
    (None, "must be text"),
])
def test_official_images_library_errors(text, fragment):
    with pytest.raises(AnsibleFilterError) as error:
        _filter(official_images_library, "official_images_library")(text, "broken")
    assert fragment in str(error.value)


def test_official_image_tags_and_platforms(libraries):
    tags = _filter(official_image_tags, "official_image_tags")
    platforms = _filter(official_image_platforms, "official_image_platforms")
    parsed = _filter(official_images_library, "official_images_library")(libraries["postgres"])
    assert "16-alpine" in tags(libraries["postgres"], "linux/arm/v6")
    assert tags(parsed, "arm32v6") == tags(libraries["postgres"], "armv6l")
    assert tags(libraries["mariadb"], "armhf") == []
    assert platforms(libraries["mysql"], "lts") == ["linux/amd64", "linux/arm64"]
    with pytest.raises(AnsibleFilterError):
        platforms(libraries["mysql"], "5.7")
    with pytest.raises(AnsibleFilterError):
        tags(libraries["mysql"], "sparc")


# --- database_image ----------------------------------------------------------------------------

def test_database_image(libraries):
    choose = _filter(database_image, "database_image")
    assert choose("aarch64", "mariadb", "lts", libraries) == {
        "engine": "mariadb", "repository": "library/mariadb", "tag": "lts", "ref": "docker.io/library/mariadb:lts",
        "platform": "linux/arm64"}
    assert choose({"platform": "linux/arm/v6"}, "postgresql", "16-alpine", libraries, "127.0.0.1:5000")["ref"] == \
        "127.0.0.1:5000/library/postgres:16-alpine"


@pytest.mark.parametrize("args, fragment", [
    (("armv7l", "mariadb", "lts"), "use postgres ("),
    (("armv7l", "mysql", "lts"), "or sqlite"),
    (("amd64", "oracle", "lts"), "database engine 'oracle' is unknown"),
])
def test_database_image_errors_are_filter_errors(libraries, args, fragment):
    with pytest.raises(AnsibleFilterError) as error:
        _filter(database_image, "database_image")(*args, libraries=libraries)
    assert fragment in str(error.value)


def test_database_image_without_libraries():
    with pytest.raises(AnsibleFilterError) as error:
        _filter(database_image, "database_image")("amd64", "postgres", "16")
    assert "no official-images library was given for 'postgres'" in str(error.value)
