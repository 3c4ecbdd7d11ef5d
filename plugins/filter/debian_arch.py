# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: debian_arch
short_description: Name a platform the way Debian (dpkg) does
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Returns the Debian architecture name, one of C(amd64), C(arm64), C(armhf) (C(linux/arm/v7), also C(linux/arm/v8)),
    C(armel) (C(linux/arm/v6) and C(linux/arm/v5)), C(i386), C(ppc64el), C(s390x), C(riscv64), C(mips64el).
  - Fails for C(windows/amd64), which Debian has no name for.
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
- name: Debian name of the host's platform
  ansible.builtin.debug:
    msg: "{{ ansible_facts.docker_platform | homelab.vaultwarden.debian_arch }}"

- name: Spellings
  ansible.builtin.assert:
    that:
      - "'linux/arm/v7' | homelab.vaultwarden.debian_arch == 'armhf'"
      - "'x86_64' | homelab.vaultwarden.debian_arch == 'amd64'"
      - "'ppc64le' | homelab.vaultwarden.debian_arch == 'ppc64el'"
"""

RETURN = r"""
_value:
  description: Debian architecture name, for example C(armhf).
  type: str
"""

from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import to_debian
from ansible_collections.homelab.vaultwarden.plugins.plugin_utils.platform_filter import platform_filter

debian_arch = platform_filter("debian_arch", to_debian)


class FilterModule:
    """Name a platform the way Debian (dpkg) does"""

    def filters(self):
        return {"debian_arch": debian_arch}
