# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: argon2_verify
short_description: Tell whether an Argon2 PHC string is the hash of a given admin token
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Returns V(true) when the input is an Argon2 PHC string (as used in vaultwarden's C(ADMIN_TOKEN)) that verifies
    the token, V(false) otherwise - including when the input is a plain, unhashed token or not a valid PHC string.
positional: token
options:
  _input:
    description: The Argon2 PHC string, for example the C(ADMIN_TOKEN) read back from a host.
    type: string
    required: true
  token:
    description: The plain admin token.
    type: string
    required: true
requirements:
  - argon2-cffi on the controller (C(pip install argon2-cffi)).
seealso:
  - plugin: homelab.vaultwarden.argon2_hash
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Warn when the deployed admin token hash belongs to another token
  ansible.builtin.debug:
    msg: The admin token changed; the container will be recreated.
  when: not (vaultwarden_deployed_admin_token | homelab.vaultwarden.argon2_verify(vaultwarden_admin_token))
"""

RETURN = r"""
_value:
  description: Whether the PHC string verifies the token.
  type: boolean
"""

from ansible.errors import AnsibleFilterError

try:
    import argon2
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
except ImportError:
    argon2 = None


def argon2_verify(phc, token):
    if argon2 is None:
        raise AnsibleFilterError("the argon2_verify filter needs the Python package argon2-cffi on the controller, which is not "
                                 "installed; run 'pip install argon2-cffi' in the Python environment that runs ansible")
    if not isinstance(token, str) or token == "":
        raise AnsibleFilterError("argon2_verify needs the plain admin token as a non-empty string, got %s"
                                 % ("an empty string" if token == "" else type(token).__name__))
    if not isinstance(phc, str) or not phc.startswith("$argon2"):
        return False
    try:
        return argon2.PasswordHasher().verify(phc, token)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class FilterModule(object):
    def filters(self):
        return {"argon2_verify": argon2_verify}
