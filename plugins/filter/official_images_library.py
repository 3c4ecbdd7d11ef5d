# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: official_images_library
short_description: Parse a Docker official-images library file into entries
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Reads the RFC 2822 style C(library/<image>) file of docker-library/official-images (the format bashbrew
    reads) - a global entry first, blank-line separated entries, C(#) comments, indented continuation lines
    and C(ARCH-Field) overrides such as C(arm32v7-GitCommit).
  - Returns one dict per entry, with the global entry's fields applied as defaults.
  - A file with a global entry and no tagged entry (docker-library keeps those for deprecated images such as
    C(notary)) is valid and returns V([]) - the image has no tags.
  - Fails, naming the line, on a line without C(:), a continuation line with nothing to continue, a tag used
    twice, an unknown architecture, an entry without tags, or an empty file.
positional: name
options:
  _input:
    description: The text of the library file, for example from C(lookup('ansible.builtin.file', ...)).
    type: string
    required: true
  name:
    description: The image name, used in error messages.
    type: string
seealso:
  - plugin: homelab.vaultwarden.official_image_tags
    plugin_type: filter
  - plugin: homelab.vaultwarden.database_image
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Read the postgres library file shipped with the role
  ansible.builtin.set_fact:
    postgres_library: "{{ lookup('ansible.builtin.file', 'official-images/postgres') | homelab.vaultwarden.official_images_library('postgres') }}"
"""

RETURN = r"""
_value:
  description: The entries that have tags, in file order; empty for an image without tags.
  type: list
  elements: dict
  contains:
    tags:
      description: The entry's C(Tags).
      type: list
      elements: string
    shared_tags:
      description: The entry's C(SharedTags) (tags that span entries, for example C(latest) of Linux and Windows images).
      type: list
      elements: string
    architectures:
      description: bashbrew architecture names; the entry's, else the global entry's, else C([amd64]).
      type: list
      elements: string
    maintainers:
      description: C(Name <email> (@github)) strings.
      type: list
      elements: string
    constraints:
      description: Build constraints.
      type: list
      elements: string
    git_repo:
      description: C(GitRepo), the global one unless the entry overrides it. Likewise C(git_fetch), C(git_commit),
        C(directory), C(file) and C(builder) (V(null) when absent).
      type: string
    arch_fields:
      description: >-
        Per-architecture overrides, C({arch: {field: value}}), global ones overlaid by the entry's, for
        each of the entry's architectures.
      type: dict
    line:
      description: Line where the entry starts.
      type: int
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.module_utils.official_images import parse_library


def official_images_library(text, name=None):
    try:
        return parse_library(text, name)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"official_images_library": official_images_library}
