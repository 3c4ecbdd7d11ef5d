# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: image_platform
short_description: The platform a pulled image declares, spelled as the image spells it
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Takes the inspect data of one image, as in the C(images) list of M(community.docker.docker_image_info) or the
    C(image) result of M(community.docker.docker_image), and returns C(os/architecture) or C(os/architecture/variant)
    from its C(Os), C(Architecture) and C(Variant) fields, without normalising them (C(linux/arm64/v8) stays
    C(linux/arm64/v8)).
  - This is the string to pass as C(platform) to M(community.docker.docker_container) for a container of that image,
    because that module compares the requested platform with the image's own fields literally. Pipe it into
    P(homelab.vaultwarden.docker_platform#filter) to compare it with a platform in canonical form.
  - An empty dict (no image, for example C(images | first | default({}))) gives an empty string.
  - Anything else that lacks C(Os) or C(Architecture) fails, naming the keys it got.
options:
  _input:
    description: The inspect data of one image (a dict with C(Os), C(Architecture) and optionally C(Variant)).
    type: dict
    required: true
seealso:
  - plugin: homelab.vaultwarden.docker_platform
    plugin_type: filter
  - module: community.docker.docker_image_info
"""

EXAMPLES = r"""
- name: Inspect the pulled image
  community.docker.docker_image_info:
    name: vaultwarden/server:1.37.1
  register: pulled

- name: Create the container for exactly that image's platform
  community.docker.docker_container:
    name: vaultwarden
    image: vaultwarden/server:1.37.1
    platform: "{{ pulled.images | first | default({}) | homelab.vaultwarden.image_platform }}"

- name: Compare with the host's platform
  ansible.builtin.assert:
    that: >-
      (pulled.images | first | homelab.vaultwarden.image_platform | homelab.vaultwarden.docker_platform)
      == ansible_facts.docker_platform.platform
"""

RETURN = r"""
_value:
  description: C(os/architecture[/variant]) as the image declares it, for example C(linux/arm/v7); empty for an empty dict.
  type: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def image_platform(image):
    """Return the os/architecture[/variant] an image's inspect data declares, unnormalised."""
    if not isinstance(image, Mapping):
        raise AnsibleFilterError("image_platform expects the inspect data of one image (a dict with Os and Architecture), "
                                 "got %s; use images | first of community.docker.docker_image_info" % type(image).__name__)
    if not image:
        return ""
    missing = [key for key in ("Os", "Architecture") if not image.get(key)]
    if missing:
        raise AnsibleFilterError("image_platform: the image data has no %s (keys: %s); pass one entry of the images list "
                                 "of community.docker.docker_image_info" % (" or ".join(missing), ", ".join(sorted(image)) or "none"))
    parts = [image["Os"], image["Architecture"]]
    if image.get("Variant"):
        parts.append(image["Variant"])
    return "/".join(str(part) for part in parts)


class FilterModule:
    """The platform a pulled image declares, spelled as the image spells it"""

    def filters(self):
        return {"image_platform": image_platform}
