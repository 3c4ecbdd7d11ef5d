# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugin's controller half: variables given as strings with -e are converted once, typos are named."""

import os
import re

import pytest
import yaml

from ansible_collections.homelab.vaultwarden.plugins.action import vaultwarden_plan as action
from ansible_collections.homelab.vaultwarden.plugins.module_utils import planner

ROLE = os.path.join(os.path.dirname(action.SPEC_FILE), "..")


@pytest.mark.parametrize("name, given, expected", [
    ("vaultwarden_purge_data", "false", False),
    ("vaultwarden_purge_data", "no", False),
    ("vaultwarden_purge_data", "0", False),
    ("vaultwarden_purge_data", "true", True),
    ("vaultwarden_allow_downgrade", "False", False),
    ("vaultwarden_rollback", "false", False),
    ("vaultwarden_http_port", "8080", 8080),
    ("vaultwarden_http_port", 8080, 8080),
    ("vaultwarden_health_timeout", "45", 45),
    ("vaultwarden_backup_retention", "0", 0),
    ("vaultwarden_version", 1.37, "1.37"),
])
def test_strings_from_extra_vars_are_converted_to_the_declared_type(name, given, expected):
    converted, errors = action.convert_variables({name: given})
    assert errors == []
    assert converted[name] == expected and type(converted[name]) is type(expected)


@pytest.mark.parametrize("name, given, words", [
    ("vaultwarden_http_port", "abc", ["vaultwarden_http_port", "int"]),
    ("vaultwarden_purge_data", "maybe", ["vaultwarden_purge_data", "bool"]),
    ("vaultwarden_variant", "ubuntu", ["vaultwarden_variant", "debian", "alpine"]),
    ("vaultwarden_env", "not a mapping", ["vaultwarden_env", "dict"]),
])
def test_values_that_do_not_convert_are_named(name, given, words):
    converted, errors = action.convert_variables({name: given})
    text = " ".join(errors)
    for word in words:
        assert word in text, text


def test_unknown_variables_are_warned_with_the_nearest_name():
    warnings = action.unknown_variables(["vaultwarden_versoin", "vaultwarden_version", "vaultwarden_hosts",
                                         "vaultwarden_frobnicate", "other_variable"])
    assert len(warnings) == 2
    typo = next(w for w in warnings if "vaultwarden_versoin" in w)
    unknown = next(w for w in warnings if "vaultwarden_frobnicate" in w)
    assert "did you mean vaultwarden_version?" in typo and "did you mean" not in unknown


def test_every_default_is_declared_and_every_declared_variable_has_a_default():
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    spec = action.role_argument_spec()
    assert set(defaults) == set(spec)
    with open(action.SPEC_FILE) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    for name, value in defaults.items():
        assert options[name].get("default") == value, name
        assert "{{" not in str(value), name    # derived defaults are the planner's, not Jinja's


# What a task file may say: a look-up into the plan (or a registered result), optionally with one of these forms.
_LOOKUP = r"[A-Za-z_]\w*(?:\.\w+|\[[^\]]+\])*"
_ALLOWED = [re.compile(pattern % {"l": _LOOKUP}) for pattern in (
    r"%(l)s",
    r"%(l)s \| default\((?:omit|false|true|''|\{\}|\[\]|'missing')(?:, true)?\)",
    r"%(l)s \| (?:to_nice_json|length > 0)",
    r"%(l)s is (?:not )?(?:none|defined)",
    r"not %(l)s(?: \| default\(false\))?",
    r"%(l)s \| default\(''\) == (?:%(l)s|'[\w.-]+')",   # this run's result, or a literal the plan returned
    r"vaultwarden_state == '(?:present|absent)'",
)]
# The two places where an expression does more than look up, each for a reason the planner cannot take over.
_EXCEPTIONS = {
    # The secret env the secrets module returns (only on the host) joins the plan's env.
    "_vaultwarden_spec.env | combine(_vaultwarden_secrets.env | default({}))",
}
_EXCEPTION_PREFIXES = (
    # The loop condition of a wait for the database's health (a wait, not a decision).
    "_vaultwarden_database_health.container.State.Health.Status | default('') == 'healthy' or not ",
    # The numeric owner of a database's socket-directory tmpfs, which only the ownership job run just before (in the
    # image) can tell: a value the host reports filled into the plan's placeholder, not a decision.
    "(_vaultwarden_spec.tmpfs | default([], true) | map('replace', '{owner}',",
)
_CONDITION_KEYS = ("when", "until", "changed_when", "failed_when", "that")


def _task_expressions():
    """(file, key, expression) of every Jinja expression and bare condition in the role's task files."""
    found = []

    def walk(node, key, name):
        if isinstance(node, dict):
            for child_key, value in node.items():
                walk(value, child_key, name)
        elif isinstance(node, list):
            for value in node:
                walk(value, key, name)
        elif isinstance(node, str):
            if key in _CONDITION_KEYS and "{{" not in node:
                found.append((name, key, node.strip()))
            found.extend((name, key, expression.strip()) for expression in re.findall(r"{{(.*?)}}", node, re.S))

    for directory, dummy, files in os.walk(os.path.join(ROLE, "tasks")):
        for name in files:
            with open(os.path.join(directory, name)) as handle:
                text = handle.read()
            assert "set_fact" not in text and "ternary(" not in text and "{%" not in text, name
            walk(yaml.safe_load(text), None, os.path.relpath(os.path.join(directory, name), ROLE))
    return found


def test_role_tasks_hold_no_decision_logic():
    """Every expression in the task files (conditions included) is a look-up into the plan in one of a few plain
    forms: no ternaries, no if/else, no set_fact, no filters that compute; and a budget on their number."""
    expressions = _task_expressions()
    odd = ["%s %s: %s" % found for found in expressions
           if not any(pattern.fullmatch(found[2]) for pattern in _ALLOWED)
           and found[2] not in _EXCEPTIONS and not found[2].startswith(_EXCEPTION_PREFIXES)]
    assert odd == [], "decisions in the task files belong to the planner:\n" + "\n".join(odd)
    # 225 expressions (13k characters) before the planner, conditions not counted; now look-ups, conditions counted
    # (the database's ownership job, its rollback and the health gate's read-back brought it to 207; planning again
    # after a contended lock and starting a stopped managed database, to 225; finishing an interrupted rollback, whose
    # every step is a plain look-up into the plan's `resume`, to 245; the HTTPS proxy's network, Caddyfile,
    # certificates, container and root certificate, to 267; the Podman socket of the health gate, to 269).
    podman = [found for found in expressions if found[0].startswith("tasks/podman/")]
    assert len(expressions) - len(podman) <= 270, len(expressions) - len(podman)
    # The Podman engine's files: the same look-ups as Docker's, spelt as the containers.podman modules' options.
    assert len(podman) <= 72, len(podman)


@pytest.mark.parametrize("expression", [
    "_vaultwarden_plan.plan.changed or _vaultwarden_plan.plan.write_record",
    "_vaultwarden_plan.plan.user if vaultwarden_user else omit",
    "vaultwarden_http_port | int + 1",
    "(_vaultwarden_plan.plan.x | default(false)) | ternary('a', 'b')",
    "_vaultwarden_plan.plan.env | combine({'A': 1})",
])
def test_the_budget_refuses_decisions(expression):
    assert not any(pattern.fullmatch(expression) for pattern in _ALLOWED)


# Values as -e gives them (strings) that do not convert: each refusal names the variable, the value, why and the fix.
EXTRA_VARS_REFUSALS = [
    ("vaultwarden_http_port", "eighty", "'eighty'", "not a whole number", "-e vaultwarden_http_port=8080"),
    ("vaultwarden_http_port", "80.5", "'80.5'", "not a whole number", "Give a whole number"),
    ("vaultwarden_backup_retention", "five", "'five'", "not a whole number", "Give a whole number"),
    ("vaultwarden_purge_data", "maybe", "'maybe'", "not a boolean", "-e vaultwarden_purge_data=false"),
    ("vaultwarden_rollback", "nope", "'nope'", "not a boolean", "Give true or false"),
    ("vaultwarden_env", "not a mapping", "'not a mapping'", "not a mapping", '{"vaultwarden_env": {"SMTP_HOST"'),
    ("vaultwarden_env", "[SMTP_HOST]", "'[SMTP_HOST]'", "not a mapping", "as YAML or JSON"),
    ("vaultwarden_variant", "ubuntu", "'ubuntu'", "not one of the accepted values", "Use one of: debian, alpine."),
    ("vaultwarden_state", "gone", "'gone'", "not one of the accepted values", "Use one of: present, absent."),
    ("vaultwarden_version", ["1.37.1"], "['1.37.1']", "not a string", "Give a string"),
]


@pytest.mark.parametrize("name, given, shown, why, fix", EXTRA_VARS_REFUSALS,
                         ids=["%s=%s" % (r[0], r[1]) for r in EXTRA_VARS_REFUSALS])
def test_extra_vars_that_do_not_convert_are_refused_with_value_reason_and_fix(name, given, shown, why, fix):
    converted, errors = action.convert_variables({name: given})
    assert len(errors) == 1
    assert errors[0].startswith("%s %s is refused: " % (name, shown)), errors[0]
    assert why in errors[0] and fix in errors[0]


def test_a_typed_setting_that_does_not_convert_is_refused_without_its_value():
    converted, errors = action.convert_variables({"vaultwarden_smtp": '{"password": "hunter2", '})
    assert len(errors) == 1 and "hunter2" not in errors[0]
    assert errors[0].startswith("vaultwarden_smtp <hidden> is refused: it is not a mapping")


def test_a_secret_that_does_not_convert_is_refused_without_its_value():
    converted, errors = action.convert_variables({"vaultwarden_secret_env": "SMTP_PASSWORD is hunter2"})
    assert len(errors) == 1 and "hunter2" not in errors[0]
    assert errors[0].startswith("vaultwarden_secret_env <hidden> is refused: it is not a mapping")


@pytest.mark.parametrize("given", [
    '{"SMTP_HOST": "smtp.example.org", "SMTP_PORT": 587}',     # JSON, as -e '{"vaultwarden_env": "..."}' passes it
    "SMTP_HOST: smtp.example.org\nSMTP_PORT: 587",             # YAML
    "{SMTP_HOST: smtp.example.org, SMTP_PORT: 587}",           # YAML flow
    "SMTP_HOST=smtp.example.org SMTP_PORT=587",                # key=value
])
def test_an_environment_given_as_a_string_is_read_as_a_mapping(given):
    converted, errors = action.convert_variables({"vaultwarden_env": given})
    assert errors == []
    env = planner.derive_request(dict(action.role_defaults(), vaultwarden_env=converted["vaultwarden_env"]))[
        "vaultwarden_env"]
    assert env == {"SMTP_HOST": "smtp.example.org", "SMTP_PORT": "587"}


def test_environment_values_are_converted_to_strings():
    env = planner.derive_request(dict(action.role_defaults(), vaultwarden_env={
        "SMTP_PORT": 587, "SMTP_SSL": True, "SMTP_TIMEOUT": 1.5, "EMPTY": ""}))["vaultwarden_env"]
    assert env == {"SMTP_PORT": "587", "SMTP_SSL": "true", "SMTP_TIMEOUT": "1.5", "EMPTY": ""}
