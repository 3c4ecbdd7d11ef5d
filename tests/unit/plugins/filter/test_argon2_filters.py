# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import argon2
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.filter import argon2_hash as hash_plugin
from ansible_collections.homelab.vaultwarden.plugins.filter import argon2_verify as verify_plugin
from ansible_collections.homelab.vaultwarden.plugins.filter.argon2_hash import argon2_hash
from ansible_collections.homelab.vaultwarden.plugins.filter.argon2_verify import argon2_verify

TOKEN = "Zl4uQmS0rV4kq0Xh1uY3mPz9tBq2Lc8Wv"


@pytest.mark.parametrize("preset, memory_cost, time_cost, parallelism", [
    ("owasp", 19456, 2, 1),
    ("bitwarden", 65540, 3, 4),
])
def test_hash_is_an_argon2id_phc_string_with_the_preset(preset, memory_cost, time_cost, parallelism):
    phc = argon2_hash(TOKEN, preset=preset)
    assert phc.startswith("$argon2id$v=19$m=%d,t=%d,p=%d$" % (memory_cost, time_cost, parallelism))
    parameters = argon2.extract_parameters(phc)
    assert parameters.type is argon2.Type.ID
    assert parameters.salt_len == 32 and parameters.hash_len == 32, "as vaultwarden hash: 32-byte salt and hash"
    assert argon2.PasswordHasher().verify(phc, TOKEN)
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(phc, TOKEN + "x")


def test_default_preset_is_owasp():
    assert "$m=19456,t=2,p=1$" in argon2_hash(TOKEN)


def test_fresh_hashes_use_random_salts():
    assert argon2_hash(TOKEN) != argon2_hash(TOKEN)


def test_existing_hash_of_the_same_token_is_kept():
    deployed = argon2_hash(TOKEN)
    assert argon2_hash(TOKEN, existing=deployed) is deployed


def test_existing_hash_made_by_another_tool_with_the_same_parameters_is_kept():
    deployed = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, salt_len=16, hash_len=32).hash(TOKEN)
    assert argon2_hash(TOKEN, existing=deployed) == deployed


def test_existing_hash_is_replaced_when_the_token_changed():
    deployed = argon2_hash(TOKEN)
    replaced = argon2_hash("a-brand-new-admin-token", existing=deployed)
    assert replaced != deployed
    assert argon2_verify(replaced, "a-brand-new-admin-token")
    assert not argon2_verify(replaced, TOKEN)


def test_existing_hash_is_replaced_when_the_preset_changed():
    deployed = argon2_hash(TOKEN, preset="owasp")
    replaced = argon2_hash(TOKEN, existing=deployed, preset="bitwarden")
    assert "$m=65540,t=3,p=4$" in replaced
    assert argon2_hash(TOKEN, existing=replaced, preset="bitwarden") == replaced


@pytest.mark.parametrize("existing", [
    None, "", TOKEN, "$argon2id$v=19$m=19456,t=2,p=1$broken", "$argon2id$", 42, ["list"],
    "__omit_place_holder__0123456789abcdef",
])
def test_anything_else_as_existing_means_a_fresh_hash(existing):
    phc = argon2_hash(TOKEN, existing=existing)
    assert phc != existing
    assert argon2_verify(phc, TOKEN)


@pytest.mark.parametrize("phc", [
    "$argon2id$v=19$m=65540,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$Z9n1rP3t7vJt3a4m0CwYQkq9oP0Tt0H3T8YyB0t3b8E",
    "$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
])
def test_a_token_that_already_is_a_phc_string_passes_through(phc):
    assert argon2_hash(phc) == phc
    assert argon2_hash(phc, existing=argon2_hash(TOKEN), preset="bitwarden") == phc


@pytest.mark.parametrize("token, message", [
    ("", "non-empty"),
    (None, "NoneType"),
    (12345678, "int"),
    ("short", "at least 8"),
    ("$argon2id$v=19$m=19456,t=2,p=1$only-salt", "not a valid Argon2 PHC string"),
])
def test_bad_tokens_are_refused_with_the_fix(token, message):
    with pytest.raises(AnsibleFilterError, match=message):
        argon2_hash(token)


def test_unknown_preset_is_refused_listing_the_presets():
    with pytest.raises(AnsibleFilterError, match="bitwarden, owasp"):
        argon2_hash(TOKEN, preset="fast")


@pytest.mark.parametrize("plugin, call", [
    (hash_plugin, lambda: argon2_hash(TOKEN)),
    (verify_plugin, lambda: argon2_verify("$argon2id$x", TOKEN)),
])
def test_missing_argon2_cffi_names_the_pip_command(monkeypatch, plugin, call):
    monkeypatch.setattr(plugin, "argon2", None)
    with pytest.raises(AnsibleFilterError, match="pip install argon2-cffi"):
        call()


def test_verify():
    phc = argon2_hash(TOKEN)
    assert argon2_verify(phc, TOKEN) is True
    assert argon2_verify(phc, TOKEN[:-1]) is False


@pytest.mark.parametrize("not_a_hash", [TOKEN, "", None, "$argon2id$garbage", "$2b$12$bcrypthashbcrypthashbcrypthash"])
def test_verify_is_false_for_anything_but_a_matching_phc_string(not_a_hash):
    assert argon2_verify(not_a_hash, TOKEN) is False


@pytest.mark.parametrize("token", ["", None])
def test_verify_needs_a_token(token):
    with pytest.raises(AnsibleFilterError, match="non-empty"):
        argon2_verify(argon2_hash(TOKEN), token)


def test_verify_accepts_the_other_argon2_variants():
    phc = argon2.PasswordHasher(type=argon2.Type.I).hash(TOKEN)
    assert argon2_verify(phc, TOKEN) is True


@pytest.mark.parametrize("plugin, name", [(hash_plugin, "argon2_hash"), (verify_plugin, "argon2_verify")])
def test_filter_modules_expose_one_filter(plugin, name):
    assert list(plugin.FilterModule().filters()) == [name]


@pytest.mark.ansible
def test_through_ansible_templating_with_omit_and_existing(tmp_path):
    """The role's call shape: omit when nothing is deployed yet, then the deployed hash is kept."""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent("""
        - hosts: localhost
          gather_facts: false
          vars:
            token: %s
          tasks:
            - ansible.builtin.set_fact:
                first: "{{ token | homelab.vaultwarden.argon2_hash(existing=nothing_deployed | default(omit)) }}"
            - ansible.builtin.set_fact:
                second: "{{ token | homelab.vaultwarden.argon2_hash(existing=first) }}"
            - ansible.builtin.copy:
                dest: %s
                content: "{{ {'first': first, 'second': second, 'verified': first | homelab.vaultwarden.argon2_verify(token)} | to_json }}"
    """ % (TOKEN, tmp_path / "out.json")))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(root, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(root, ".cache", "collections"))
    completed = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)],
                               capture_output=True, text=True, check=False, cwd=root, env=env, timeout=300,
                               stdin=subprocess.DEVNULL)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["first"] == out["second"]
    assert out["verified"] is True
    assert argon2.PasswordHasher().verify(out["first"], TOKEN)
