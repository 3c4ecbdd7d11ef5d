# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: image_tag_info
short_description: Judge a vaultwarden image tag (channel, variant, retired legacy tags, official-images naming)
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Tells what a vaultwarden / bitwarden_rs tag is - its version, variant and channel, whether it is a retired
    per-architecture tag (C(raspberry), C(armv6), C(aarch64), C(X.Y.Z-<arch>); the moving ones were removed from
    Docker Hub on 2021-01-14, when the versioned ones went is not recorded) and what replaces it, and whether it
    follows the Docker official-images tag naming rules (only C(latest) may contain the word "latest"; one tag for
    every architecture).
  - Release tags are C(X.Y.Z), except C(1.14) (the release after 1.13.1, tagged without a patch number).
  - Fails, naming the tag to use, on strings that are no vaultwarden tag (C(v1.30.0), C(1.30), C(foo)) and on tags
    upstream never pushed - C(1.14.0), C(X.Y.Z-arm32v6) outside 1.16.1 to 1.27.x, C(X.Y.Z-raspberry) /
    C(-aarch64) / C(-armv6) outside the releases that carried those Dockerfiles (1.1.0 / 1.3.0 / 1.8.0 to 1.15.x).
options:
  _input:
    description: The tag, for example V(latest-alpine) or V(1.30.0).
    type: string
    required: true
seealso:
  - plugin: homelab.vaultwarden.vaultwarden_image
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Refuse a retired tag with its replacement
  ansible.builtin.assert:
    that: not (vaultwarden_tag | homelab.vaultwarden.image_tag_info).legacy
    fail_msg: >-
      {{ vaultwarden_tag }} was retired on {{ (vaultwarden_tag | homelab.vaultwarden.image_tag_info).retired }};
      use {{ (vaultwarden_tag | homelab.vaultwarden.image_tag_info).replacement }}

- name: Show why latest-alpine breaks the official-images naming rules
  ansible.builtin.debug:
    msg: "{{ ('latest-alpine' | homelab.vaultwarden.image_tag_info).official_naming_problems }}"
"""

RETURN = r"""
_value:
  description: What the tag is.
  type: dict
  contains:
    tag:
      description: The tag as given.
      type: string
    version:
      description:
        - The release of a pinned tag as upstream tagged it (C(X.Y.Z), or C(1.14)), V(null) for moving tags.
        - Order versions with C(vaultwarden_catalogue.release_version()), which reads C(1.14) as 1.14.0.
      type: string
    variant:
      description: V(debian) or V(alpine).
      type: string
    channel:
      description: V(latest), V(testing) or V(pinned).
      type: string
    arch_suffix:
      description: V(arm32v6), a legacy architecture name, or V(null).
      type: string
    legacy:
      description: Whether this is a retired per-architecture tag.
      type: bool
    replacement:
      description: What to use instead of a legacy tag, or V(null).
      type: string
    retired:
      description: Date the moving legacy tags were removed (C(2021-01-14)), or V(null).
      type: string
    official_naming:
      description: Whether the tag follows the official-images tag naming rules.
      type: bool
    official_naming_problems:
      description: How it breaks them (empty when it does not).
      type: list
      elements: string
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.module_utils.image_select import tag_info


def image_tag_info(tag):
    try:
        return tag_info(tag)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"image_tag_info": image_tag_info}
