# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: database_image
short_description: Choose the official MariaDB, MySQL or PostgreSQL image for a host, or say which one fits
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Picks C(library/<engine>:<tag>) when the official-images library says that tag has an image for the platform.
  - Otherwise fails with a message naming the tags of the same engine and the other engines that do have an image
    for the platform, and SQLite (built into vaultwarden). For example MariaDB and MySQL publish no 32-bit ARM
    images, so a Raspberry Pi with a 32-bit OS is told to use postgres or sqlite.
positional: engine, tag, libraries, registry
options:
  _input:
    description:
      - The host's platform in any spelling (C(linux/arm/v7), C(armv7l), C(arm32v7)).
      - The C(docker_platform) fact of M(homelab.vaultwarden.platform_facts) is accepted too; its C(platform) is used.
    type: raw
    required: true
  engine:
    description: V(mariadb), V(mysql) or V(postgres) (aliases V(postgresql), V(pgsql)).
    type: string
    required: true
  tag:
    description: The image tag, for example V(lts), V(11.4) or V(16-alpine).
    type: string
    default: latest
  libraries:
    description:
      - Maps engine names to their official-images library (file text or parsed entries). Every engine given is
        considered when naming alternatives.
    type: dict
    required: true
  registry:
    description: Registry host[:port] to pull from; a private mirror must use Docker Hub's paths (C(library/<engine>)).
    type: string
    default: docker.io
seealso:
  - plugin: homelab.vaultwarden.official_images_library
    plugin_type: filter
  - plugin: homelab.vaultwarden.vaultwarden_image
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Choose the MariaDB image for this host
  ansible.builtin.set_fact:
    vaultwarden_database_image: >-
      {{ docker_platform.platform | homelab.vaultwarden.database_image('mariadb', 'lts', {
           'mariadb': lookup('ansible.builtin.file', 'official-images/mariadb'),
           'mysql': lookup('ansible.builtin.file', 'official-images/mysql'),
           'postgres': lookup('ansible.builtin.file', 'official-images/postgres')}) }}
"""

RETURN = r"""
_value:
  description: The chosen image.
  type: dict
  contains:
    engine:
      description: Canonical engine name (V(mariadb), V(mysql), V(postgres)).
      type: string
    repository:
      description: C(library/<engine>).
      type: string
    tag:
      description: The tag.
      type: string
    ref:
      description: Full reference.
      type: string
      sample: docker.io/library/mariadb:lts
    platform:
      description: Canonical OCI platform to pin.
      type: string
      sample: linux/arm64
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.module_utils.official_images import database_image as _database_image


def database_image(platform, engine, tag="latest", libraries=None, registry="docker.io"):
    if isinstance(platform, dict):
        platform = platform.get("platform")
    try:
        return _database_image(platform, engine, tag, libraries, registry)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"database_image": database_image}
