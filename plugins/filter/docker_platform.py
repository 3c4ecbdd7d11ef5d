# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: docker_platform
short_description: Normalise any architecture spelling to the canonical OCI platform string
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Returns the canonical OCI platform string (C(linux/amd64), C(linux/arm64), C(linux/arm/v7), C(windows/amd64)) for
    the spelling given, the value to pass to C(docker pull --platform) and to containers.
  - C(arm64/v8) becomes C(linux/arm64); a bare C(arm) or C(linux/arm) becomes C(linux/arm/v7); Debian C(armel) becomes
    C(linux/arm/v6) (the Raspberry Pi 1 / Zero convention).
  - Accepts any spelling the collection knows (case-insensitive, surrounding blanks ignored) - C(uname -m) names,
    Debian names, Go/OCI names and platform strings, bashbrew names - or the C(docker_platform) fact dict of
    M(homelab.vaultwarden.platform_facts), whose C(platform) key is used.
  - Unknown spellings fail with the list of accepted ones.
options:
  _input:
    description: A platform or architecture spelling, or the C(docker_platform) fact dict.
    type: raw
    required: true
seealso:
  - module: homelab.vaultwarden.platform_facts
  - plugin: homelab.vaultwarden.bashbrew_arch
    plugin_type: filter
  - plugin: homelab.vaultwarden.debian_arch
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Normalise what uname says
  ansible.builtin.debug:
    msg: "{{ 'armv7l' | homelab.vaultwarden.docker_platform }}"  # linux/arm/v7

- name: Other spellings of the same platform
  ansible.builtin.assert:
    that:
      - "'aarch64' | homelab.vaultwarden.docker_platform == 'linux/arm64'"
      - "'linux/arm64/v8' | homelab.vaultwarden.docker_platform == 'linux/arm64'"
      - "'arm32v6' | homelab.vaultwarden.docker_platform == 'linux/arm/v6'"
      - "'armel' | homelab.vaultwarden.docker_platform == 'linux/arm/v6'"

- name: From the detected facts
  ansible.builtin.debug:
    msg: "{{ ansible_facts.docker_platform | homelab.vaultwarden.docker_platform }}"
"""

RETURN = r"""
_value:
  description: Canonical OCI platform string, for example C(linux/arm/v7).
  type: str
"""

from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import platform_string
from ansible_collections.homelab.vaultwarden.plugins.plugin_utils.platform_filter import platform_filter

docker_platform = platform_filter("docker_platform", platform_string)


class FilterModule:
    """Normalise any architecture spelling to the canonical OCI platform string"""

    def filters(self):
        return {"docker_platform": docker_platform}
