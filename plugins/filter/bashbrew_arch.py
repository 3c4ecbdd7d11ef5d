# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: bashbrew_arch
short_description: Name a platform the way the Docker official images (bashbrew) do
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Returns the bashbrew architecture name used by the official-images library files and by per-architecture
    repositories such as C(arm32v7/debian), namely C(amd64), C(arm64v8), C(arm32v7), C(arm32v6), C(arm32v5), C(i386),
    C(ppc64le), C(s390x), C(riscv64), C(mips64le), C(windows-amd64).
  - Fails for C(linux/arm/v8) (32-bit ARMv8), which bashbrew has no name for; use C(linux/arm/v7).
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
  - plugin: homelab.vaultwarden.docker_platform
    plugin_type: filter
"""

EXAMPLES = r"""
- name: bashbrew name of the host
  ansible.builtin.debug:
    msg: "{{ ansible_facts.docker_platform | homelab.vaultwarden.bashbrew_arch }}"

- name: Spellings
  ansible.builtin.assert:
    that:
      - "'linux/arm64' | homelab.vaultwarden.bashbrew_arch == 'arm64v8'"
      - "'armhf' | homelab.vaultwarden.bashbrew_arch == 'arm32v7'"
      - "'windows/amd64' | homelab.vaultwarden.bashbrew_arch == 'windows-amd64'"
"""

RETURN = r"""
_value:
  description: bashbrew architecture name, for example C(arm32v7).
  type: str
"""

from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import to_bashbrew
from ansible_collections.homelab.vaultwarden.plugins.plugin_utils.platform_filter import platform_filter

bashbrew_arch = platform_filter("bashbrew_arch", to_bashbrew)


class FilterModule:
    """Name a platform the way the Docker official images (bashbrew) do"""

    def filters(self):
        return {"bashbrew_arch": bashbrew_arch}
