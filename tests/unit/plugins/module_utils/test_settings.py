# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed settings as tables: variables -> the server's environment and secret files, refusals, release gates."""

import json

import pytest

from ansible_collections.homelab.vaultwarden.plugins.action import vaultwarden_plan as action
from ansible_collections.homelab.vaultwarden.plugins.module_utils import planner, settings
from ansible_collections.homelab.vaultwarden.plugins.module_utils.planner import PlanError

from test_planner import libraries, request  # pylint: disable=import-error


SMTP = {"host": "smtp.example.org", "port": 587, "security": "starttls", "from": "vault@example.org",
        "username": "vault", "password": "smtp-s3cret"}
PUSH = {"installation_id": "0f1e2d3c-id", "installation_key": "push-k3y"}
SSO = {"authority": "https://auth.example.org/realms/home", "client_id": "vaultwarden", "client_secret": "sso-s3cret"}
DOMAIN = {"vaultwarden_domain": "http://vault.example.org"}
SECRET_VALUES = ("smtp-s3cret", "push-k3y", "sso-s3cret")


def host():
    return {"platform": {"platform": "linux/amd64", "warnings": []},
            "engine": {"reachable": True, "version": "24.0.7", "api_version": "1.43", "error": None},
            "containers": {}, "images": {}, "record": None, "record_error": None, "secrets": {}}


def deploy(req, pulled_version):
    """Both stages on a fresh host; the pulled image says it is ``pulled_version``."""
    facts = host()
    stage1 = planner.plan_pull(req, facts, libraries())
    image = {"Id": "sha256:feed", "Os": "linux", "Architecture": "amd64",
             "RepoDigests": ["docker.io/vaultwarden/server@sha256:" + "0" * 64],
             "Config": {"Labels": {"org.opencontainers.image.version": pulled_version}}}
    return stage1, planner.plan_deploy(req, stage1, facts, [{"ref": p["ref"], "image": image, "changed": True}
                                                            for p in stage1["pull"]])


# --- valid input: the exact settings and secret files ------------------------------------------------------------

# (variables, release, plain settings the server gets, secret settings read from files)
VALID = [
    ({"vaultwarden_smtp": SMTP}, "1.37.1",
     {"SMTP_HOST": "smtp.example.org", "SMTP_PORT": "587", "SMTP_SECURITY": "starttls", "SMTP_FROM": "vault@example.org",
      "SMTP_USERNAME": "vault"}, ["SMTP_PASSWORD"]),
    ({"vaultwarden_smtp": {"host": "mail.lan", "from": "a@b.c", "from_name": "Vault", "timeout": 30,
                           "security": "force_tls", "port": 465}}, "1.25.0",
     {"SMTP_HOST": "mail.lan", "SMTP_FROM": "a@b.c", "SMTP_FROM_NAME": "Vault", "SMTP_TIMEOUT": "30",
      "SMTP_SECURITY": "force_tls", "SMTP_PORT": "465"}, []),
    # Before 1.25.0 SMTP_SECURITY is spelt as its deprecated options (1.25.0's smtp_convert_deprecated_ssl_options).
    ({"vaultwarden_smtp": dict(SMTP, security="force_tls", port=465)}, "1.24.0",
     {"SMTP_HOST": "smtp.example.org", "SMTP_PORT": "465", "SMTP_SSL": "true", "SMTP_EXPLICIT_TLS": "true",
      "SMTP_FROM": "vault@example.org", "SMTP_USERNAME": "vault"}, ["SMTP_PASSWORD"]),
    ({"vaultwarden_smtp": {"host": "mail.lan", "from": "a@b.c", "security": "starttls"}}, "1.8.0",
     {"SMTP_HOST": "mail.lan", "SMTP_FROM": "a@b.c", "SMTP_SSL": "true"}, []),
    ({"vaultwarden_smtp": {"host": "mail.lan", "from": "a@b.c", "security": "off", "port": 25}}, "1.1.0",
     {"SMTP_HOST": "mail.lan", "SMTP_FROM": "a@b.c", "SMTP_SSL": "false", "SMTP_PORT": "25"}, []),
    ({"vaultwarden_smtp": {"host": "mail.lan", "from": "a@b.c", "security": False}}, "1.37.1",     # YAML's off
     {"SMTP_HOST": "mail.lan", "SMTP_FROM": "a@b.c", "SMTP_SECURITY": "off"}, []),
    ({"vaultwarden_smtp": {"host": "mail.lan", "from": "a@b.c", "from_name": "Vault"}}, "1.7.0",
     {"SMTP_HOST": "mail.lan", "SMTP_FROM": "a@b.c", "SMTP_FROM_NAME": "Vault"}, []),
    ({"vaultwarden_push": PUSH}, "1.29.0",
     {"PUSH_ENABLED": "true", "PUSH_INSTALLATION_ID": "0f1e2d3c-id"}, ["PUSH_INSTALLATION_KEY"]),
    ({"vaultwarden_push": dict(PUSH, relay_uri="https://api.bitwarden.eu/",
                               identity_uri="https://identity.bitwarden.eu")}, "1.30.2",
     {"PUSH_ENABLED": "true", "PUSH_INSTALLATION_ID": "0f1e2d3c-id", "PUSH_RELAY_URI": "https://api.bitwarden.eu",
      "PUSH_IDENTITY_URI": "https://identity.bitwarden.eu"}, ["PUSH_INSTALLATION_KEY"]),
    (dict(DOMAIN, vaultwarden_sso=dict(SSO, scopes=["email", "profile", "offline_access"], only=True,
                                       signups_match_email=False, pkce=True)), "1.35.0",
     {"SSO_ENABLED": "true", "SSO_AUTHORITY": "https://auth.example.org/realms/home", "SSO_CLIENT_ID": "vaultwarden",
      "SSO_SCOPES": "email profile offline_access", "SSO_ONLY": "true", "SSO_SIGNUPS_MATCH_EMAIL": "false",
      "SSO_PKCE": "true"}, ["SSO_CLIENT_SECRET"]),
    ({"vaultwarden_signups_verify": True, "vaultwarden_signups_domains_whitelist": ["Example.org", "lan.example"],
      "vaultwarden_invitations_allowed": False, "vaultwarden_invitation_org_name": "Home vault"}, "1.14",
     {"SIGNUPS_VERIFY": "true", "SIGNUPS_DOMAINS_WHITELIST": "example.org,lan.example", "INVITATIONS_ALLOWED": "false",
      "INVITATION_ORG_NAME": "Home vault"}, []),
    ({"vaultwarden_invitations_allowed": True}, "1.1.0", {"INVITATIONS_ALLOWED": "true"}, []),
    # Unset (the defaults) adds nothing: existing deployments keep their container; nor does a mapping of nulls.
    ({}, "1.37.1", {}, []),
    ({"vaultwarden_smtp": {"host": None, "password": None}, "vaultwarden_sso": None}, "1.37.1", {}, []),
]


def _typed(env):
    owned = set(settings.SINCE) | {"SMTP_SSL", "SMTP_EXPLICIT_TLS"}
    return dict((k, v) for k, v in env.items() if k in owned)


@pytest.mark.parametrize("variables, version, env, secrets", VALID, ids=["%s@%s" % (sorted(r[0]), r[1]) for r in VALID])
def test_typed_variables_become_exactly_these_settings_and_secret_files(variables, version, env, secrets):
    req = request(vaultwarden_version=version, **variables)
    dummy, plan = deploy(req, version)
    spec = plan["vaultwarden"]
    from_files = planner._settings_from_files(version)
    expected_env = dict(env)
    for name in secrets:
        if from_files:
            expected_env[name + "_FILE"] = "/run/secrets/env_" + name
    assert _typed(spec["env"]) == _typed(expected_env) and all(
        spec["env"].get(k) == v for k, v in expected_env.items())
    for name in secrets:
        assert name not in spec["env"]
        files = plan["secrets"]["files"]["env_" + name]
        assert files["kind"] == "secret_env" and files["setting"] == name and files["source"]["variable"]
        assert "env_" + name in plan["secrets"]["write"]
        if from_files:
            assert "/opt/vaultwarden/secrets/env_%s:/run/secrets/env_%s:ro" % (name, name) in spec["volumes"]


def test_secrets_before_1_18_reach_the_environment_from_their_file_on_the_host():
    req = request(vaultwarden_version="1.17.0", vaultwarden_smtp=SMTP)
    dummy, plan = deploy(req, "1.17.0")
    assert plan["vaultwarden"]["env_from_secrets"] == {"SMTP_PASSWORD": "env_SMTP_PASSWORD"}
    assert plan["vaultwarden"]["env"]["SMTP_SSL"] == "true" and "SMTP_PASSWORD" not in plan["vaultwarden"]["env"]
    assert any("1.18.0" in w for w in plan["warnings"])


def test_secrets_never_appear_in_the_plan_or_the_shown_request():
    req = request(vaultwarden_version="1.37.1", vaultwarden_smtp=SMTP, vaultwarden_push=PUSH, vaultwarden_sso=SSO,
                  **DOMAIN)
    stage1, plan = deploy(req, "1.37.1")
    text = json.dumps([stage1, plan], default=str)
    shown = json.dumps(action._shown_request(req), default=str)
    for secret in SECRET_VALUES:
        assert secret not in text and secret not in shown
    assert "smtp.example.org" in shown      # what is no secret stays in view
    assert settings.given_secrets(req) == {"env_SMTP_PASSWORD": "smtp-s3cret", "env_PUSH_INSTALLATION_KEY": "push-k3y",
                                           "env_SSO_CLIENT_SECRET": "sso-s3cret"}


def test_the_secrets_action_reads_a_typed_secret_from_its_variable_as_given():
    assert settings.secret_value(SMTP, "password") == "smtp-s3cret"
    assert settings.secret_value(json.dumps(SMTP), "password") == "smtp-s3cret"    # -e 'vaultwarden_smtp={...}'
    assert settings.secret_value({"password": 1234}, "password") == "1234"
    assert settings.secret_value(None, "password") == ""


# --- strings from -e, converted once -----------------------------------------------------------------------------

@pytest.mark.parametrize("name, given, expected", [
    ("vaultwarden_smtp", json.dumps({"host": "smtp.example.org", "port": "587", "from": "a@b.c", "timeout": "20"}),
     {"SMTP_HOST": "smtp.example.org", "SMTP_PORT": "587", "SMTP_FROM": "a@b.c", "SMTP_TIMEOUT": "20"}),
    ("vaultwarden_sso", json.dumps(dict(SSO, only="true", pkce="false", scopes="email profile")),
     {"SSO_ENABLED": "true", "SSO_AUTHORITY": SSO["authority"], "SSO_CLIENT_ID": "vaultwarden", "SSO_ONLY": "true",
      "SSO_PKCE": "false", "SSO_SCOPES": "email profile"}),
    ("vaultwarden_push", "{installation_id: abc, installation_key: def}",     # YAML flow, read by the action plugin
     {"PUSH_ENABLED": "true", "PUSH_INSTALLATION_ID": "abc"}),
    ("vaultwarden_signups_verify", "true", {"SIGNUPS_VERIFY": "true"}),
    ("vaultwarden_invitations_allowed", "no", {"INVITATIONS_ALLOWED": "false"}),
    ("vaultwarden_signups_domains_whitelist", "example.org,example.net",
     {"SIGNUPS_DOMAINS_WHITELIST": "example.org,example.net"}),
    ("vaultwarden_signups_domains_whitelist", '["example.org", "example.net"]',
     {"SIGNUPS_DOMAINS_WHITELIST": "example.org,example.net"}),
])
def test_extra_vars_strings_are_converted_once(name, given, expected):
    converted, errors = action.convert_variables({name: given})
    assert errors == []
    raw = dict(action.role_defaults(), vaultwarden_domain="https://vault.example.org", **converted)
    req = planner.derive_request(raw)
    assert req["_settings"]["env"] == expected


def test_a_typed_dict_given_as_json_to_the_planner_is_read_too():
    req = request(vaultwarden_smtp=json.dumps({"host": "mail.lan", "from": "a@b.c", "port": "2525"}))
    assert req["vaultwarden_smtp"] == {"host": "mail.lan", "from": "a@b.c", "port": "2525"}
    assert req["_settings"]["env"]["SMTP_PORT"] == "2525"


# --- refusals: the value, why, the fix ---------------------------------------------------------------------------

# (variables, the variable named, the value shown or None, why, fix)
REFUSALS = [
    ({"vaultwarden_smtp": {"host": "smtp.example.org"}}, "vaultwarden_smtp", None, "lacks from",
     "Add vaultwarden_smtp.from"),
    ({"vaultwarden_smtp": {"from": "a@b.c"}}, "vaultwarden_smtp", None, "lacks host", "Add vaultwarden_smtp.host"),
    ({"vaultwarden_smtp": dict(SMTP, port="smtp")}, "vaultwarden_smtp.port", "smtp", "whole number from 1 to 65535",
     "such as 587"),
    ({"vaultwarden_smtp": dict(SMTP, port=70000)}, "vaultwarden_smtp.port", 70000, "from 1 to 65535", "such as 587"),
    ({"vaultwarden_smtp": dict(SMTP, port=True)}, "vaultwarden_smtp.port", True, "whole number", "such as 587"),
    ({"vaultwarden_smtp": dict(SMTP, security="ssl")}, "vaultwarden_smtp.security", "ssl", "not one of the values",
     "starttls, force_tls, off"),
    ({"vaultwarden_smtp": dict(SMTP, host="smtp://smtp.example.org:587")}, "vaultwarden_smtp.host",
     "smtp://smtp.example.org:587", "not a host name", "the port as port"),
    ({"vaultwarden_smtp": dict(SMTP, **{"from": "vault"})}, "vaultwarden_smtp.from", "vault", "exactly one '@'",
     "vault@example.org"),
    ({"vaultwarden_smtp": dict(SMTP, timeout="soon")}, "vaultwarden_smtp.timeout", "soon", "whole number of seconds",
     "such as 15"),
    ({"vaultwarden_smtp": dict(SMTP, user="vault")}, "vaultwarden_smtp", "user", "not a key of vaultwarden_smtp",
     "host, port, security"),
    ({"vaultwarden_smtp": {"host": "mail.lan", "from": "a@b.c", "username": "u"}}, "vaultwarden_smtp.password",
     None, "a user name without a password", "or neither"),
    ({"vaultwarden_smtp": dict(SMTP, password=["x"])}, "vaultwarden_smtp.password", None, "must be a string",
     "a string"),
    ({"vaultwarden_smtp": dict(SMTP, from_name="a\nb")}, "vaultwarden_smtp.from_name", "a\nb", "control characters",
     "Remove them"),
    ({"vaultwarden_smtp": "host=smtp.example.org"}, "vaultwarden_smtp", None, "not a JSON mapping",
     '-e \'{"vaultwarden_smtp": {"host"'),
    ({"vaultwarden_smtp": ["smtp.example.org"]}, "vaultwarden_smtp", None, "not a list", "a mapping such as"),
    ({"vaultwarden_push": {"installation_id": "abc"}}, "vaultwarden_push", None, "lacks installation_key",
     "Add vaultwarden_push.installation_key"),
    ({"vaultwarden_push": dict(PUSH, relay_uri="http://push.lan")}, "vaultwarden_push.relay_uri", "http://push.lan",
     "not an https:// URL", "https://push.bitwarden.eu"),
    ({"vaultwarden_push": dict(PUSH, installation_key="")}, "vaultwarden_push.installation_key", None,
     "it is empty", "Give vaultwarden_push.installation_key a value"),
    ({"vaultwarden_sso": SSO}, "vaultwarden_domain", "", "callback URL is made from DOMAIN",
     "Set vaultwarden_domain"),
    (dict(DOMAIN, vaultwarden_sso=dict(SSO, authority="auth.example.org")), "vaultwarden_sso.authority",
     "auth.example.org", "not an http(s):// URL", "https://auth.example.org/realms/home"),
    (dict(DOMAIN, vaultwarden_sso=dict(SSO, only="sometimes")), "vaultwarden_sso.only", "sometimes",
     "not a boolean", "true or false"),
    (dict(DOMAIN, vaultwarden_sso=dict(SSO, scopes=["email profile"])), "vaultwarden_sso.scopes", None,
     "words without spaces", "[email, profile]"),
    (dict(DOMAIN, vaultwarden_sso={"authority": SSO["authority"], "client_id": "x"}), "vaultwarden_sso", None,
     "lacks client_secret", "Add vaultwarden_sso.client_secret"),
    ({"vaultwarden_signups_domains_whitelist": ["@example.org"]}, "vaultwarden_signups_domains_whitelist",
     "@example.org", "not a domain name", "without '@'"),
    ({"vaultwarden_signups_domains_whitelist": ["example.org, example.net"]}, "vaultwarden_signups_domains_whitelist",
     "example.org, example.net", "not a domain name", "without '@' or spaces"),
    # A setting given twice: the typed variable wins the argument, naming itself.
    ({"vaultwarden_smtp": SMTP, "vaultwarden_env": {"SMTP_HOST": "other"}}, "vaultwarden_env", "SMTP_HOST",
     "vaultwarden_smtp sets it", "Remove SMTP_HOST from vaultwarden_env"),
    ({"vaultwarden_smtp": SMTP, "vaultwarden_env": {"SMTP_SSL": "true"}}, "vaultwarden_env", "SMTP_SSL",
     "vaultwarden_smtp sets it", "through vaultwarden_smtp only"),
    ({"vaultwarden_smtp": SMTP, "vaultwarden_secret_env": {"SMTP_PASSWORD": "x"}}, "vaultwarden_secret_env",
     "SMTP_PASSWORD", "vaultwarden_smtp sets it", "Remove SMTP_PASSWORD from vaultwarden_secret_env"),
    ({"vaultwarden_push": PUSH, "vaultwarden_env": {"PUSH_ENABLED": "false"}}, "vaultwarden_env", "PUSH_ENABLED",
     "vaultwarden_push sets it", "through vaultwarden_push only"),
    (dict(DOMAIN, vaultwarden_sso=SSO, vaultwarden_secret_env={"SSO_CLIENT_SECRET_FILE": "/x"}),
     "vaultwarden_secret_env", "SSO_CLIENT_SECRET_FILE", "vaultwarden_sso sets it", "through vaultwarden_sso only"),
    ({"vaultwarden_signups_verify": True, "vaultwarden_env": {"SIGNUPS_VERIFY": "false"}}, "vaultwarden_env",
     "SIGNUPS_VERIFY", "vaultwarden_signups_verify sets it", "through vaultwarden_signups_verify only"),
]


@pytest.mark.parametrize("variables, variable, shown, why, fix", REFUSALS, ids=[str(r[0])[:70] for r in REFUSALS])
def test_bad_settings_are_refused_naming_the_value_why_and_the_fix(variables, variable, shown, why, fix):
    with pytest.raises(PlanError) as caught:
        request(**variables)
    message = str(caught.value)
    assert caught.value.variable == variable and message.startswith(variable), message
    assert why in message and fix in caught.value.fix, message
    if shown is not None:
        assert json.dumps(shown) in message, message
    for secret in SECRET_VALUES:
        assert secret not in message


def test_vaultwarden_env_keeps_its_smtp_settings_when_the_typed_variable_is_unset():
    req = request(vaultwarden_env={"SMTP_HOST": "smtp.example.org", "SMTP_SSL": "true"},
                  vaultwarden_secret_env={"SMTP_PASSWORD": "pw"})
    assert req["vaultwarden_env"] == {"SMTP_HOST": "smtp.example.org", "SMTP_SSL": "true"}
    assert req["_settings"]["env"] == {}


# --- release gates: below the first release refused (naming it), at it accepted ----------------------------------

# (variables, first release, the release below it, the setting named in the refusal)
GATES = [
    ({"vaultwarden_smtp": {"host": "mail.lan", "from": "a@b.c"}}, "1.1.0", "1.0.0", "SMTP_HOST"),  # or SMTP_FROM
    ({"vaultwarden_smtp": {"host": "mail.lan", "from": "a@b.c", "from_name": "V"}}, "1.7.0", "1.6.1", "SMTP_FROM_NAME"),
    ({"vaultwarden_smtp": {"host": "mail.lan", "from": "a@b.c", "security": "force_tls"}}, "1.8.0", "1.7.0",
     "SMTP_EXPLICIT_TLS"),
    ({"vaultwarden_smtp": {"host": "mail.lan", "from": "a@b.c", "timeout": 5}}, "1.12.0", "1.11.0", "SMTP_TIMEOUT"),
    ({"vaultwarden_signups_domains_whitelist": ["example.org"]}, "1.12.0", "1.11.0", "SIGNUPS_DOMAINS_WHITELIST"),
    ({"vaultwarden_signups_verify": True}, "1.13.0", "1.12.0", "SIGNUPS_VERIFY"),
    ({"vaultwarden_invitation_org_name": "Home"}, "1.14", "1.13.1", "INVITATION_ORG_NAME"),
    ({"vaultwarden_invitations_allowed": False}, "1.1.0", "1.0.0", "INVITATIONS_ALLOWED"),
    ({"vaultwarden_push": PUSH}, "1.29.0", "1.28.1", "PUSH_ENABLED"),
    ({"vaultwarden_push": dict(PUSH, identity_uri="https://identity.bitwarden.eu")}, "1.30.2", "1.30.1",
     "PUSH_IDENTITY_URI"),
    (dict(DOMAIN, vaultwarden_sso=SSO), "1.35.0", "1.34.3", "SSO_AUTHORITY"),
]


@pytest.mark.parametrize("variables, since, below, setting", GATES, ids=["%s@%s" % (r[3], r[1]) for r in GATES])
def test_a_setting_is_refused_below_its_first_release_before_anything_is_pulled(variables, since, below, setting):
    with pytest.raises(PlanError) as caught:
        planner.plan_pull(request(vaultwarden_version=below, **variables), host(), libraries())
    message = str(caught.value)
    assert "vaultwarden %s does not read " % below in message and ", which came with %s" % since in message, message
    assert "Pin vaultwarden_version to %s or newer" % since in caught.value.fix
    assert caught.value.variable.startswith(next(k for k in variables if k != "vaultwarden_domain"))
    for secret in SECRET_VALUES:
        assert secret not in message
    stage1, plan = deploy(request(vaultwarden_version=since, **variables), since)   # at the first release: accepted
    assert setting in plan["vaultwarden"]["env"] or setting + "_FILE" in plan["vaultwarden"]["env"]


def test_the_refusal_names_the_newest_release_needed_and_what_to_remove():
    smtp = {"host": "mail.lan", "from": "a@b.c", "from_name": "V", "timeout": 5, "security": "force_tls"}
    with pytest.raises(PlanError) as caught:
        planner.plan_pull(request(vaultwarden_version="1.6.1", vaultwarden_smtp=smtp), host(), libraries())
    assert caught.value.variable == "vaultwarden_smtp.timeout" and caught.value.value == "5"
    assert caught.value.fix == "Pin vaultwarden_version to 1.12.0 or newer, or remove vaultwarden_smtp.timeout."
    with pytest.raises(PlanError) as caught:
        planner.plan_pull(request(vaultwarden_version="1.7.0", vaultwarden_smtp=dict(smtp, timeout=None)), host(),
                          libraries())
    assert caught.value.variable == "vaultwarden_smtp.security" and caught.value.value == "force_tls"
    assert "does not read SMTP_EXPLICIT_TLS, which came with 1.8.0" in str(caught.value)
    with pytest.raises(PlanError) as caught:
        planner.plan_pull(request(vaultwarden_version="1.34.0", vaultwarden_sso=SSO, **DOMAIN), host(), libraries())
    assert caught.value.fix.endswith("or remove vaultwarden_sso.")


def test_a_moving_tag_is_gated_once_its_release_is_known_and_before_any_backup_or_change():
    req = request(vaultwarden_version="latest", vaultwarden_push=PUSH)
    stage1 = planner.plan_pull(req, host(), libraries())        # unknown before the pull: nothing refused
    assert stage1["image"]["version"] is None
    image = {"Id": "sha256:old", "Os": "linux", "Architecture": "amd64", "RepoDigests": [],
             "Config": {"Labels": {"org.opencontainers.image.version": "1.28.0"}}}
    with pytest.raises(PlanError) as caught:
        planner.plan_deploy(req, stage1, host(), [{"ref": stage1["image"]["ref"], "image": image, "changed": True}])
    assert "vaultwarden 1.28.0 does not read PUSH_ENABLED, which came with 1.29.0" in str(caught.value)
    # A version that is no release (a build of main) is taken as the newest.
    assert planner.typed_settings_env(req, "testing")["PUSH_ENABLED"] == "true"


def test_every_gate_is_a_release_upstream_tagged():
    from ansible_collections.homelab.vaultwarden.plugins.module_utils import vaultwarden_catalogue as catalogue
    for name, since in settings.SINCE.items():
        assert catalogue.release_version(since) is not None, name
    for spellings in settings.SMTP_SECURITY_BEFORE.values():
        assert set(spellings) <= set(settings.SINCE)
    for fields in settings.FIELDS.values():
        assert all(field["env"] in settings.SINCE for field in fields.values())
    assert all(field["env"] in settings.SINCE for field in settings.SCALARS.values())
