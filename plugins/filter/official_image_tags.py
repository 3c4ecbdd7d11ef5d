# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: official_image_tags
short_description: Tags of an official image that have an image for a platform
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Lists the tags (plain and shared) of an official-images library that are built for the given platform,
    in file order. The platform may be spelled any way the collection's platform table knows
    (C(linux/arm/v7), C(armv7l), C(armhf), C(arm32v7)).
positional: platform
options:
  _input:
    description: Library file text, or the entries of M(homelab.vaultwarden.official_images_library#filter).
    type: raw
    required: true
  platform:
    description: The platform.
    type: string
    required: true
seealso:
  - plugin: homelab.vaultwarden.official_image_platforms
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Which MariaDB tags can a Raspberry Pi 4 with a 64-bit OS run?
  ansible.builtin.debug:
    msg: "{{ lookup('ansible.builtin.file', 'official-images/mariadb') | homelab.vaultwarden.official_image_tags('linux/arm64') }}"
"""

RETURN = r"""
_value:
  description: Tags, in file order, without duplicates; empty when no tag has an image for the platform, and for an
    image without tags (a deprecated image's library file, such as C(notary)).
  type: list
  elements: string
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.module_utils.official_images import official_image_tags as _tags


def official_image_tags(library, platform):
    try:
        return _tags(library, platform)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"official_image_tags": official_image_tags}
