# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: official_image_platforms
short_description: Platforms an official image tag is built for
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Lists the canonical OCI platforms (C(linux/arm/v7)) of a tag of an official-images library. A shared tag
    (C(SharedTags)) unites the platforms of every entry that carries it; each platform comes from the entry that
    carries it (C(caddy:2) is the Alpine entry on Linux and the Windows entries on C(windows/amd64)).
  - Fails when the library has no such tag, listing some tags it does have.
positional: tag
options:
  _input:
    description: Library file text, or the entries of M(homelab.vaultwarden.official_images_library#filter).
    type: raw
    required: true
  tag:
    description: The tag.
    type: string
    required: true
seealso:
  - plugin: homelab.vaultwarden.official_image_tags
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Platforms of postgres:16-alpine
  ansible.builtin.debug:
    msg: "{{ lookup('ansible.builtin.file', 'official-images/postgres') | homelab.vaultwarden.official_image_platforms('16-alpine') }}"
"""

RETURN = r"""
_value:
  description: Canonical platforms in the order the library lists their architectures.
  type: list
  elements: string
  sample: [linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.module_utils.official_images import official_image_platforms as _platforms


def official_image_platforms(library, tag):
    try:
        return _platforms(library, tag)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"official_image_platforms": official_image_platforms}
