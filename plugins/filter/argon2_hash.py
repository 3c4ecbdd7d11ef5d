# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: argon2_hash
short_description: Hash a vaultwarden admin token into an Argon2id PHC string, keeping the deployed hash when it still matches
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Returns an Argon2id PHC string of the kind C(vaultwarden hash) prints, for C(ADMIN_TOKEN) (accepted by
    vaultwarden 1.28.0 and later). Logging in to C(/admin) then takes the plain token, while the host only stores
    the hash.
  - A fresh hash has a random salt, so hashing again would change C(ADMIN_TOKEN) and recreate the container on every
    run. Pass the hash currently deployed as O(existing) - when it is an Argon2 PHC string that verifies the token
    and was made with the O(preset)'s cost parameters, it is returned unchanged.
  - A token that already is an Argon2 PHC string (hashed by the user) is returned as it is.
  - Hashing runs on the controller; the cost is paid again by the host at every C(/admin) login.
positional: existing, preset
options:
  _input:
    description: The plain admin token (at least 8 characters, like C(vaultwarden hash) requires), or a PHC string.
    type: string
    required: true
  existing:
    description:
      - The C(ADMIN_TOKEN) currently deployed, for example read back from the container or its env file.
      - Anything that is not a PHC string verifying the token (a plain token, V(omit), empty) means "hash anew".
    type: string
  preset:
    description:
      - The cost parameters, named like the presets of C(vaultwarden hash --preset).
      - V(owasp) - C(m=19456) KiB, C(t=2), C(p=1), the OWASP minimum. The default here because a Raspberry Pi 2
        needs about 4.5 s to verify a V(bitwarden) hash at login and under 1 s for V(owasp) (figures from the
        vaultwarden change that added hashing).
      - V(bitwarden) - C(m=65540) KiB, C(t=3), C(p=4), the default of C(vaultwarden hash) and of Bitwarden's KDF.
      - Both use a 32-byte random salt and a 32-byte hash, as C(vaultwarden hash) does.
    type: string
    choices: [owasp, bitwarden]
    default: owasp
requirements:
  - argon2-cffi on the controller (C(pip install argon2-cffi)); the managed host needs nothing.
seealso:
  - plugin: homelab.vaultwarden.argon2_verify
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Hash the admin token, reusing the hash already deployed when it still matches
  ansible.builtin.set_fact:
    vaultwarden_admin_token_hash: >-
      {{ vaultwarden_admin_token | homelab.vaultwarden.argon2_hash(existing=vaultwarden_deployed_admin_token | default(omit)) }}
  no_log: true

- name: Slower hash with the parameters of `vaultwarden hash` without a preset
  ansible.builtin.set_fact:
    vaultwarden_admin_token_hash: "{{ vaultwarden_admin_token | homelab.vaultwarden.argon2_hash(preset='bitwarden') }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: An Argon2 PHC string such as C($argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>).
  type: string
"""

from ansible.errors import AnsibleFilterError

try:
    import argon2
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
except ImportError:
    argon2 = None

ARGON2_PRESETS = {
    "owasp": {"memory_cost": 19456, "time_cost": 2, "parallelism": 1},
    "bitwarden": {"memory_cost": 65540, "time_cost": 3, "parallelism": 4},
}
SALT_BYTES = 32
HASH_BYTES = 32
MIN_TOKEN_LENGTH = 8


def _require_argon2(filter_name):
    if argon2 is None:
        raise AnsibleFilterError(
            "the %s filter needs the Python package argon2-cffi on the controller, which is not installed; "
            "run 'pip install argon2-cffi' in the Python environment that runs ansible" % filter_name)


def is_phc_string(value):
    """True for a well-formed Argon2 PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash)."""
    if not isinstance(value, str) or not value.startswith("$argon2"):
        return False
    try:
        argon2.extract_parameters(value)
    except (InvalidHashError, ValueError):
        return False
    return True


def _matches_preset(phc, preset):
    parameters = argon2.extract_parameters(phc)
    wanted = ARGON2_PRESETS[preset]
    return (parameters.type == argon2.Type.ID and parameters.memory_cost == wanted["memory_cost"]
            and parameters.time_cost == wanted["time_cost"] and parameters.parallelism == wanted["parallelism"])


def _verifies(phc, token):
    try:
        return argon2.PasswordHasher().verify(phc, token)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def argon2_hash(token, existing=None, preset="owasp"):
    _require_argon2("argon2_hash")
    if not isinstance(token, str) or token == "":
        raise AnsibleFilterError("argon2_hash needs the admin token as a non-empty string, got %s; "
                                 "generate one with 'openssl rand -base64 48'" % ("an empty string" if token == "" else type(token).__name__))
    if preset not in ARGON2_PRESETS:
        raise AnsibleFilterError("argon2_hash preset %r is unknown; use one of %s" % (preset, ", ".join(sorted(ARGON2_PRESETS))))
    if token.startswith("$argon2"):
        if not is_phc_string(token):
            raise AnsibleFilterError("the admin token starts with '$argon2' but is not a valid Argon2 PHC string, so vaultwarden "
                                     "would refuse it; pass the plain token, or a complete string from 'vaultwarden hash'")
        return token
    if len(token) < MIN_TOKEN_LENGTH:
        raise AnsibleFilterError("the admin token is %d characters long; vaultwarden's own 'hash' command requires at least %d, "
                                 "use a long random one ('openssl rand -base64 48')" % (len(token), MIN_TOKEN_LENGTH))
    if is_phc_string(existing) and _matches_preset(existing, preset) and _verifies(existing, token):
        return existing
    hasher = argon2.PasswordHasher(salt_len=SALT_BYTES, hash_len=HASH_BYTES, type=argon2.Type.ID, **ARGON2_PRESETS[preset])
    return hasher.hash(token)


class FilterModule(object):
    def filters(self):
        return {"argon2_hash": argon2_hash}
