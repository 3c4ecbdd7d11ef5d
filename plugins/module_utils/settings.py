# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed server settings: role variables (SMTP, push relay, SSO, signups and invitations) -> vaultwarden's environment.

Pure and standard library only. :func:`derive` validates and converts the variables once (strings from ``-e``
included: a JSON or YAML mapping for a dict, ``"587"`` for a port, ``"true"`` for a boolean) and refuses a setting
that is also given through ``vaultwarden_env`` / ``vaultwarden_secret_env``; :func:`settings_env` turns them into the
environment of one release, refusing a setting that release does not read (:data:`SINCE`, the one table of release
gates) and spelling SMTP's security the way older releases read it.

Secrets (:data:`FIELDS` ``secret``) never enter the environment or a plan: they become secret files of kind
``secret_env`` whose ``source`` names the variable and key the controller reads them from.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

# The first release that reads each setting: the git tag where it first appears upstream (dani-garcia/vaultwarden,
# `git show TAG:src/config.rs`; before 1.7.0 the settings were read in src/main.rs's Config::load).
SINCE = {
    "SMTP_HOST": "1.1.0",                   # src/main.rs MailConfig, tag 1.1.0
    "SMTP_PORT": "1.1.0",                   # src/main.rs MailConfig, tag 1.1.0
    "SMTP_SSL": "1.1.0",                    # src/main.rs MailConfig, tag 1.1.0 (deprecated by SMTP_SECURITY in 1.25.0)
    "SMTP_FROM": "1.1.0",                   # src/main.rs MailConfig, tag 1.1.0
    "SMTP_USERNAME": "1.1.0",               # src/main.rs MailConfig, tag 1.1.0
    "SMTP_PASSWORD": "1.1.0",               # src/main.rs MailConfig, tag 1.1.0
    "INVITATIONS_ALLOWED": "1.1.0",         # src/main.rs Config, tag 1.1.0
    "SMTP_FROM_NAME": "1.7.0",              # src/config.rs smtp_from_name, tag 1.7.0 (absent from 1.6.1)
    "SMTP_EXPLICIT_TLS": "1.8.0",           # src/config.rs smtp_explicit_tls, src/mail.rs ClientSecurity::Wrapper, 1.8.0
    "SMTP_TIMEOUT": "1.12.0",               # src/config.rs smtp_timeout, tag 1.12.0
    "SIGNUPS_DOMAINS_WHITELIST": "1.12.0",  # src/config.rs signups_domains_whitelist (comma-separated), tag 1.12.0
    "SIGNUPS_VERIFY": "1.13.0",             # src/config.rs signups_verify, tag 1.13.0
    "INVITATION_ORG_NAME": "1.14",          # src/config.rs invitation_org_name, tag 1.14 (1.14.0)
    "SMTP_SECURITY": "1.25.0",              # src/config.rs smtp_security (starttls, force_tls, off), tag 1.25.0
    "PUSH_ENABLED": "1.29.0",               # src/config.rs push_enabled, tag 1.29.0
    "PUSH_RELAY_URI": "1.29.0",             # src/config.rs push_relay_uri, tag 1.29.0
    "PUSH_INSTALLATION_ID": "1.29.0",       # src/config.rs push_installation_id, tag 1.29.0
    "PUSH_INSTALLATION_KEY": "1.29.0",      # src/config.rs push_installation_key, tag 1.29.0
    "PUSH_IDENTITY_URI": "1.30.2",          # src/config.rs push_identity_uri, tag 1.30.2 (absent from 1.30.1)
    "SSO_ENABLED": "1.35.0",                # src/config.rs sso_enabled and every sso_* below, tag 1.35.0
    "SSO_AUTHORITY": "1.35.0",
    "SSO_CLIENT_ID": "1.35.0",
    "SSO_CLIENT_SECRET": "1.35.0",
    "SSO_SCOPES": "1.35.0",
    "SSO_ONLY": "1.35.0",
    "SSO_SIGNUPS_MATCH_EMAIL": "1.35.0",
    "SSO_PKCE": "1.35.0",
}

# SMTP_SECURITY as releases before 1.25.0 read it: 1.25.0's smtp_convert_deprecated_ssl_options maps
# SMTP_EXPLICIT_TLS=true to force_tls and SMTP_SSL=false to off, anything else to starttls (src/config.rs, tag 1.25.0;
# SMTP_EXPLICIT_TLS is implicit TLS despite its name, upstream #851).
SMTP_SECURITY_BEFORE = {
    "starttls": {"SMTP_SSL": "true"},
    "force_tls": {"SMTP_SSL": "true", "SMTP_EXPLICIT_TLS": "true"},
    "off": {"SMTP_SSL": "false"},
}

# The typed variables: key -> the setting it becomes, how it is checked, whether it is required or a secret.
FIELDS = {
    "vaultwarden_smtp": {
        "host": {"env": "SMTP_HOST", "type": "host", "required": True},
        "port": {"env": "SMTP_PORT", "type": "port"},
        "security": {"env": "SMTP_SECURITY", "type": "choice", "choices": ("starttls", "force_tls", "off")},
        "from": {"env": "SMTP_FROM", "type": "email", "required": True},
        "from_name": {"env": "SMTP_FROM_NAME", "type": "text"},
        "username": {"env": "SMTP_USERNAME", "type": "text"},
        "password": {"env": "SMTP_PASSWORD", "type": "text", "secret": True},
        "timeout": {"env": "SMTP_TIMEOUT", "type": "seconds"},
    },
    "vaultwarden_push": {
        "installation_id": {"env": "PUSH_INSTALLATION_ID", "type": "text", "required": True},
        "installation_key": {"env": "PUSH_INSTALLATION_KEY", "type": "text", "required": True, "secret": True},
        "relay_uri": {"env": "PUSH_RELAY_URI", "type": "https_url"},
        "identity_uri": {"env": "PUSH_IDENTITY_URI", "type": "https_url"},
    },
    "vaultwarden_sso": {
        "authority": {"env": "SSO_AUTHORITY", "type": "url", "required": True},
        "client_id": {"env": "SSO_CLIENT_ID", "type": "text", "required": True},
        "client_secret": {"env": "SSO_CLIENT_SECRET", "type": "text", "required": True, "secret": True},
        "scopes": {"env": "SSO_SCOPES", "type": "words"},
        "only": {"env": "SSO_ONLY", "type": "bool"},
        "signups_match_email": {"env": "SSO_SIGNUPS_MATCH_EMAIL", "type": "bool"},
        "pkce": {"env": "SSO_PKCE", "type": "bool"},
    },
}
# The switch each group sets when it is given (vaultwarden reads SMTP from SMTP_HOST alone).
ENABLED = {"vaultwarden_push": "PUSH_ENABLED", "vaultwarden_sso": "SSO_ENABLED"}
# Plain variables: null / empty leaves the server's own default.
SCALARS = {
    "vaultwarden_signups_verify": {"env": "SIGNUPS_VERIFY", "type": "bool"},
    "vaultwarden_signups_domains_whitelist": {"env": "SIGNUPS_DOMAINS_WHITELIST", "type": "domains"},
    "vaultwarden_invitations_allowed": {"env": "INVITATIONS_ALLOWED", "type": "bool"},
    "vaultwarden_invitation_org_name": {"env": "INVITATION_ORG_NAME", "type": "text"},
}
# Settings a typed group owns besides its fields' (the older spellings of SMTP_SECURITY).
_ALSO_OWNED = {"vaultwarden_smtp": ("SMTP_SSL", "SMTP_EXPLICIT_TLS")}
EXAMPLES = {
    "vaultwarden_smtp": '{"host": "smtp.example.org", "port": 587, "security": "starttls", "from": '
                        '"vault@example.org", "username": "vault", "password": "..."}',
    "vaultwarden_push": '{"installation_id": "...", "installation_key": "..."}',
    "vaultwarden_sso": '{"authority": "https://auth.example.org/realms/home", "client_id": "vaultwarden", '
                       '"client_secret": "..."}',
}

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?)*\.?$|^\[?[0-9A-Fa-f:.]+\]?$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_URL = re.compile(r"^(https?)://[^\s/?#]+(?:/[^\s]*)?$", re.I)


class SettingsError(ValueError):
    """A refused setting: (variable, value, why, fix) as the planner's PlanError takes them."""

    def __init__(self, variable, value, why, fix):
        self.args_tuple = (variable, value, why, fix)
        super(SettingsError, self).__init__("%s %r is refused: %s. %s" % (variable, value, why, fix))


def _version(text):
    """(major, minor, patch) of a release tag ('1.14' is (1, 14, 0)); None when it is not a release."""
    match = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?$", str(text or ""))
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def read_mapping(variable, value, secret_keys=()):
    """A typed dict variable as a dict: a string (as ``-e`` gives it) is read as JSON; null and '' are {}."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise SettingsError(variable, None if secret_keys else value, "it is a string that is not a JSON mapping "
                                "of its keys to values", "Give a mapping, for example -e '{\"%s\": %s}'."
                                % (variable, EXAMPLES.get(variable, "{}")))
        value = parsed
    if not isinstance(value, dict):
        raise SettingsError(variable, None, "it must be a mapping of its keys to values, not a %s"
                            % type(value).__name__, "Give a mapping such as %s." % EXAMPLES.get(variable, "{}"))
    return value


def _convert(name, kind, value, secret, field):
    """One value checked and converted to what the server reads (a string), or refused naming the fix."""
    shown = None if secret else value
    if kind == "bool":
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            value = value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            raise SettingsError(name, shown, "it is not a boolean", "Give true or false.")
        return "true" if value else "false"
    if kind in ("port", "seconds"):
        if isinstance(value, str) and re.match(r"^\s*[0-9]+\s*$", value):
            value = int(value)
        low, high = (1, 65535) if kind == "port" else (1, 86400)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            what = "a TCP port is a whole number from 1 to 65535" if kind == "port" else (
                "a timeout is a whole number of seconds from 1 to 86400")
            raise SettingsError(name, shown, what, "Give a number such as %s." % ("587" if kind == "port" else "15"))
        return str(value)
    if kind == "domains":
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            raise SettingsError(name, shown, "it is a list of e-mail domains", "Give a list such as [example.org].")
        domains = []
        for item in value:
            text = str(item).strip().lower() if isinstance(item, str) else item
            if not isinstance(text, str) or not _DOMAIN.match(text):
                raise SettingsError(name, item, "it is not a domain name (the server compares the part of an e-mail "
                                    "address after the @ with each entry, exactly)",
                                    "Give domain names such as example.org, without '@' or spaces.")
            domains.append(text)
        return ",".join(domains)
    if kind == "choice" and value is False and "off" in field["choices"]:
        value = "off"       # YAML 1.1 reads an unquoted off as false
    if kind == "words" and isinstance(value, (list, tuple)):
        if not all(isinstance(word, str) and word and not re.search(r"\s", word) for word in value):
            raise SettingsError(name, shown, "scopes are words without spaces", "Give a list such as [email, profile].")
        value = " ".join(value)
    if isinstance(value, (dict, list, tuple, set)) or value is None or isinstance(value, bool):
        raise SettingsError(name, None if secret else value, "it must be a string, not %s"
                            % ("null" if value is None else type(value).__name__), "Give %s a string." % name)
    text = str(value)
    if "\0" in text or "\n" in text or "\r" in text:
        raise SettingsError(name, shown, "control characters cannot appear in a setting", "Remove them.")
    if text.strip() == "" and field.get("required"):
        raise SettingsError(name, shown, "it is empty, and the server needs it",
                            "Give %s a value, or remove the whole variable." % name)
    if kind == "choice" and text not in field["choices"]:
        raise SettingsError(name, shown, "it is not one of the values the server accepts",
                            "Use one of: %s." % ", ".join(field["choices"]))
    if kind == "host" and not _HOST.match(text):
        raise SettingsError(name, shown, "it is not a host name or IP address (a URL or host:port is not read as one)",
                            "Give the host only, such as smtp.example.org, and the port as port.")
    if kind == "email" and not _EMAIL.match(text):
        raise SettingsError(name, shown, "the server refuses a sender address without exactly one '@'",
                            "Give an address such as vault@example.org.")
    if kind in ("url", "https_url"):
        match = _URL.match(text)
        if not match or (kind == "https_url" and match.group(1).lower() != "https"):
            scheme = "https://" if kind == "https_url" else "http(s)://"
            raise SettingsError(name, shown, "it is not an %s URL" % scheme,
                                "Give a URL such as %s." % ("https://push.bitwarden.eu" if kind == "https_url"
                                                            else "https://auth.example.org/realms/home"))
        text = text.rstrip("/")
    return text


def derive(req):
    """The typed settings of a request, checked: a copy of ``req`` with ``_settings`` (and each variable converted).

    ``_settings``: ``env`` (setting -> value, no secret among them), ``secrets`` (setting -> (variable, key)) and
    ``from`` (setting -> the variable it comes from, ``variable.key`` for a group's key).
    """
    req = dict(req)
    env, secrets, origin, owned = {}, {}, {}, {}
    for variable, fields in FIELDS.items():
        secret_keys = [key for key, field in fields.items() if field.get("secret")]
        # A key set to null is a key not given (a mapping of nulls is an unset variable).
        given = dict((key, value) for key, value in read_mapping(variable, req.get(variable), secret_keys).items()
                     if value is not None)
        converted = {}
        for key in sorted(given):
            if key not in fields:
                raise SettingsError(variable, key, "it is not a key of %s" % variable,
                                    "Use only: %s (other settings go in vaultwarden_env)." % ", ".join(fields))
            field = fields[key]
            value = given[key]
            if value == "" and not field.get("required"):
                continue
            name = "%s.%s" % (variable, key)
            converted[key] = _convert(name, field["type"], value, field.get("secret"), field)
        if not given:
            req[variable] = {}
            continue
        missing = [key for key, field in fields.items() if field.get("required") and key not in converted]
        if missing:
            raise SettingsError(variable, None, "it lacks %s, which the server needs for %s"
                                % (" and ".join(missing), variable[len("vaultwarden_"):]),
                                "Add %s, or remove %s to leave the setting to vaultwarden_env." % (
                                    ", ".join("%s.%s" % (variable, key) for key in missing), variable))
        if variable == "vaultwarden_smtp" and ("username" in converted) != ("password" in converted):
            raise SettingsError(variable + (".password" if "username" in converted else ".username"), None,
                                "the server refuses a user name without a password and a password without a user name",
                                "Give both vaultwarden_smtp.username and vaultwarden_smtp.password, or neither.")
        if variable == "vaultwarden_sso" and not req.get("vaultwarden_domain"):
            raise SettingsError("vaultwarden_domain", "", "SSO's callback URL is made from DOMAIN, and the server's "
                                "default (http://localhost) is no address an identity provider can send users back to",
                                "Set vaultwarden_domain to the vault's public URL, such as https://vault.example.org.")
        req[variable] = converted
        for key, value in converted.items():
            field = fields[key]
            origin[field["env"]] = "%s.%s" % (variable, key)
            if field.get("secret"):
                secrets[field["env"]] = (variable, key)
            else:
                env[field["env"]] = value
        if variable in ENABLED:
            env[ENABLED[variable]] = "true"
            origin[ENABLED[variable]] = variable
        for name in [field["env"] for field in fields.values()] + list(_ALSO_OWNED.get(variable, ())) + (
                [ENABLED[variable]] if variable in ENABLED else []):
            owned[name] = variable
    for variable, field in SCALARS.items():
        value = req.get(variable)
        if value is None or value == "" or value == []:
            req[variable] = None if field["type"] == "bool" else ("" if field["type"] == "text" else [])
            continue
        env[field["env"]] = _convert(variable, field["type"], value, False, field)
        origin[field["env"]] = owned[field["env"]] = variable
        if field["type"] == "bool":
            req[variable] = env[field["env"]] == "true"
    for source in ("vaultwarden_env", "vaultwarden_secret_env"):
        for name in sorted(req.get(source) or {}):
            base = name[:-len("_FILE")] if name.endswith("_FILE") else name
            if base in owned:
                raise SettingsError(source, name, "%s sets it (a setting reaches the server from one place only)"
                                    % owned[base], "Remove %s from %s, or give it through %s only."
                                    % (name, source, owned[base]))
    req["_settings"] = {"env": env, "secrets": secrets, "from": origin}
    return req


def settings_env(settings, version):
    """The environment of one release: (env, secret settings); a setting the release does not read is refused.

    ``version`` is the release's tag; an unknown one (a moving tag before its pull, a build of main) is taken as the
    newest and refuses nothing.
    """
    release = _version(version)
    env = dict(settings["env"])
    origin = dict(settings["from"])
    security = env.pop("SMTP_SECURITY", None)
    if security is not None:
        if release is not None and release < _version(SINCE["SMTP_SECURITY"]):
            for name, value in SMTP_SECURITY_BEFORE[security].items():
                env[name] = value
                origin[name] = origin["SMTP_SECURITY"]
        else:
            env["SMTP_SECURITY"] = security
    secrets = sorted(settings["secrets"])
    unread = [name for name in set(env) | set(secrets) if release is not None and release < _version(SINCE[name])]
    if unread:
        # The newest of them (a group's switch first): pinning that release lets every one through.
        name = min(unread, key=lambda n: (tuple(-part for part in _version(SINCE[n])), n not in ENABLED.values(), n))
        since = SINCE[name]
        variable = origin[name]
        group, dummy, key = variable.partition(".")
        if name in secrets or not key:
            shown = None
        elif security is not None and name in ("SMTP_SSL", "SMTP_EXPLICIT_TLS"):
            shown = security
        else:
            shown = env[name]
        # Without a required key the whole variable goes.
        remove = group if not key or FIELDS[group][key].get("required") else variable
        raise SettingsError(variable, shown, "vaultwarden %s does not read %s, which came with %s"
                            % (version, name, since),
                            "Pin vaultwarden_version to %s or newer, or remove %s." % (since, remove))
    return env, secrets


def given_secrets(req):
    """The typed secrets' values by secret file name (the controller compares and writes them; never planned)."""
    values = {}
    for name, (variable, key) in sorted(req["_settings"]["secrets"].items()):
        values["env_" + name] = req[variable][key]
    return values


def secret_value(raw, key):
    """A typed secret read from the variable as the task sees it (a dict, or a JSON string given with -e)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raw = {}
    value = (raw or {}).get(key, "") if isinstance(raw, dict) else ""
    return "" if value is None else str(value)
