# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading deployed.json back: good records, and refusals that name the file, the problem and the fix."""

from __future__ import annotations

import ast
import json
import os

import pytest

from ansible_collections.homelab.vaultwarden.plugins.module_utils import deploy_record
from ansible_collections.homelab.vaultwarden.plugins.module_utils.deploy_record import RecordError, parse_record

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PATH = "/opt/vaultwarden/deployed.json"
FIX = "move it aside or delete it; the next successful run writes it anew"

# As the role's "Record the deployment" task writes it (to_nice_json)
WRITTEN = json.dumps({
    "database": "sqlite",
    "image_id": "sha256:4d2c2e8f0a1b",
    "platform": "linux/arm/v6",
    "ref": "127.0.0.4:5000/vaultwarden/server:1.37.2",
    "tag": "1.37.2",
    "version": "1.37.2",
}, indent=4, sort_keys=True)


def test_reads_what_the_role_writes():
    assert parse_record(WRITTEN, PATH) == {
        "version": "1.37.2", "tag": "1.37.2", "ref": "127.0.0.4:5000/vaultwarden/server:1.37.2",
        "platform": "linux/arm/v6", "image_id": "sha256:4d2c2e8f0a1b", "database": "sqlite",
    }


def test_every_key_is_optional_and_may_be_null():
    assert parse_record('{"version": null, "tag": "latest"}', PATH) == {
        "version": None, "tag": "latest", "ref": None, "platform": None, "image_id": None, "database": None,
    }
    assert parse_record("{}", PATH) == dict.fromkeys(deploy_record.RECORD_KEYS)


def test_unknown_keys_of_a_newer_role_are_ignored():
    assert parse_record('{"version": "1.37.2", "deployed_by": {"run": 7}}', PATH)["version"] == "1.37.2"


def test_bytes_are_read_as_utf8():
    assert parse_record(WRITTEN.encode("utf-8"), PATH)["tag"] == "1.37.2"


@pytest.mark.parametrize("text, problem", [
    ('{"version": "1.37.2", "tag": ', "is not valid JSON (Expecting value: line 1 column 30 (char 29))"),
    ("{'version': '1.37.2'}", "is not valid JSON (Expecting property name enclosed in double quotes"),
    ("", "is empty (a run was interrupted while writing it?)"),
    ("  \n", "is empty"),
    (b"\xff\xfe{}", "is not UTF-8 text"),
    ('["1.37.2"]', "holds ['1.37.2'] (list), not a JSON object with version, tag, ref, platform, image_id, database"),
    ('"1.37.2"', "holds '1.37.2' (str), not a JSON object"),
    ('{"version": 1.37}', "is not one the role wrote: version is 1.37 (float), not a string"),
    ('{"tag": ["a"], "database": true}', "tag is ['a'] (list), not a string; database is True (bool), not a string"),
])
def test_a_corrupt_record_names_the_file_the_problem_and_the_fix(text, problem):
    with pytest.raises(RecordError) as raised:
        parse_record(text, PATH)
    message = str(raised.value)
    assert message.startswith("deployment record %s " % PATH)
    assert problem in message
    assert message.endswith(FIX)


def test_the_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_record("{", PATH)


def test_parses_as_python_3_6():
    relpath = "plugins/module_utils/deploy_record.py"
    with open(os.path.join(ROOT, relpath)) as handle:
        ast.parse(handle.read(), filename=relpath, feature_version=(3, 6))


def test_a_format_two_record_keeps_its_sections_and_checks_their_keys():
    import json as _json
    from ansible_collections.homelab.vaultwarden.plugins.module_utils.deploy_record import (
        RecordError as _RecordError, parse_record as _parse, upgrade_record as _upgrade)
    text = _json.dumps({"format": 2, "current": {"version": "1.37.1", "image_id": "sha256:a", "spec": {"name": "vw"},
                                                 "repo_digests": ["r@sha256:b"]}, "previous": None, "database": None})
    record = _parse(text, "/x/deployed.json")
    assert record["current"]["spec"] == {"name": "vw"} and record["current"]["repo_digests"] == ["r@sha256:b"]
    assert record["current"]["tag"] is None and record["previous"] is None
    bad = _json.dumps({"format": 2, "current": {"version": 137}})
    try:
        _parse(bad, "/x/deployed.json")
        raise AssertionError("a non-string version was accepted")
    except _RecordError as error:
        assert "current.version" in str(error) and "/x/deployed.json" in str(error)
    old = _upgrade(_parse(_json.dumps({"version": "1.30.0", "image_id": "sha256:c"}), "/x/deployed.json"))
    assert old["format"] == 2 and old["current"]["version"] == "1.30.0" and old["current"]["spec"] is None
