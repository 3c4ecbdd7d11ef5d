# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vaultwarden_image
short_description: Choose the vaultwarden (bitwarden_rs) image, tag and platform for a host
version_added: 0.1.0
author: homelab.vaultwarden maintainers (@homelab)
description:
  - Picks the repository, tag and platform of the vaultwarden image that runs on the given platform, from the
    collection's image catalogue (eras C(mprasil/bitwarden), C(bitwardenrs/server[-mysql|-postgresql]),
    C(vaultwarden/server); architectures per release and variant; mirrors; C(-arm32v6) tags; retired tags).
  - Pure and offline; nothing is asked of any registry. Any well-formed C(X.Y.Z) is placed in its era by range, so
    releases newer than the catalogue are selectable. The catalogue is checked against every release tag upstream
    published (C(tools/upstream)).
  - Refuses, with the fix in the message, retired per-architecture tags (C(raspberry), C(armv6), C(aarch64)),
    tag suffixes given as a version (C(1.30.0-alpine)), tags never pushed (C(1.14.0) - the release is tagged
    C(1.14)), combinations that were never published (Alpine before 1.1.0, Alpine with MySQL in 1.17.0 to 1.23.x
    and with PostgreSQL in 1.17.0 or off amd64 before 1.24.0, Alpine on arm/v6 before 1.24.0, the C(-mysql) image
    of 1.16 on ARM, C(i386), Windows), mirrors before 1.28.0, databases before their first image (MySQL 1.10.0,
    PostgreSQL 1.11.0), known-bad releases (the Debian arm/v6 images of 1.25.0 and 1.29.2), and an arm/v6 host
    whose Docker is older than 20.10.0 on a release without an C(X.Y.Z-arm32v6) tag (moby/moby#41017).
  - Choices that rest on a fact upstream's files do not pin down (tag names before 1.16.0 came from Docker Hub's
    build settings) are made and reported in RV(_value.warnings).
positional: version, database, variant, registry, docker_version
options:
  _input:
    description:
      - The host's platform in any spelling (C(linux/arm/v7), C(armv7l), C(armhf), C(arm32v7), C(aarch64), ...).
      - The C(docker_platform) fact of M(homelab.vaultwarden.platform_facts) is accepted too; its C(platform) is used.
    type: raw
    required: true
  version:
    description:
      - V(latest), V(testing) or a release tag C(X.Y.Z) (or V(1.14), the one release upstream tagged without a patch
        number). No C(v) prefix and no C(X.Y) aliases (vaultwarden publishes none).
      - V(omit) means V(latest).
    type: string
    default: latest
  database:
    description: The backend. V(mariadb) is an alias of V(mysql) (same image); V(postgres) and V(pgsql) of V(postgresql).
    type: string
    default: sqlite
  variant:
    description: The image's base system.
    type: string
    choices: [debian, alpine]
    default: debian
  registry:
    description:
      - Registry host[:port]. V(ghcr.io) and V(quay.io) mirror vaultwarden from 1.28.0 on; any other host is taken
        to be a private mirror with Docker Hub's repository paths.
    type: string
    default: docker.io
  docker_version:
    description:
      - The Docker engine's server version (for example C(docker_platform.docker.server_version)). Only used on
        C(linux/arm/v6) hosts, where Docker older than 20.10.0 pulls the wrong image out of manifest lists.
      - Not given, V(omit), V(null) or empty means unknown; the check is skipped.
    type: string
seealso:
  - plugin: homelab.vaultwarden.image_tag_info
    plugin_type: filter
  - module: homelab.vaultwarden.platform_facts
"""

EXAMPLES = r"""
- name: Choose the image for this host
  ansible.builtin.set_fact:
    vaultwarden_selected_image: >-
      {{ docker_platform.platform | homelab.vaultwarden.vaultwarden_image(
           version=vaultwarden_version, database=vaultwarden_database, variant=vaultwarden_variant,
           registry=vaultwarden_registry, docker_version=docker_platform.docker.server_version | default(omit)) }}

- name: A Raspberry Pi Zero with Docker 19.03 gets the -arm32v6 tag of a 1.16.1-1.27.x release
  ansible.builtin.debug:
    msg: "{{ 'armv6l' | homelab.vaultwarden.vaultwarden_image('1.27.0', docker_version='19.03.13') }}"
  # ref: docker.io/vaultwarden/server:1.27.0-arm32v6, platform: linux/arm/v6
"""

RETURN = r"""
_value:
  description: The selected image.
  type: dict
  contains:
    repository:
      description: Repository path, per era and registry (C(vaultwarden/server), C(dani-garcia/vaultwarden) on ghcr.io).
      type: string
    tag:
      description: The tag to pull (C(latest), C(latest-alpine), C(1.32.0), C(1.32.0-alpine), C(1.27.0-arm32v6)).
      type: string
    ref:
      description: Full reference C(registry/repository:tag).
      type: string
      sample: docker.io/vaultwarden/server:1.32.0
    platform:
      description: Canonical OCI platform to pin on pull and on container create.
      type: string
      sample: linux/arm/v7
    pull:
      description: V(always) for moving tags (latest, testing), V(missing) for pinned versions.
      type: string
    era:
      description: One of V(mprasil), V(bitwarden_rs), V(vaultwarden).
      type: string
    channel:
      description: One of V(latest), V(testing), V(pinned).
      type: string
    version:
      description: The pinned release as upstream tagged it (C(1.32.0), C(1.14)), or V(null) for moving tags.
      type: string
    variant:
      description: V(debian) or V(alpine).
      type: string
    database:
      description: The canonical backend (V(sqlite), V(mysql), V(postgresql)).
      type: string
    warnings:
      description:
        - Things to tell the user about a choice that was made - it rests on an uncertain catalogue fact (the message
          names the fact and its evidence), or the Docker version is unknown on an arm/v6 host (moby/moby#41017).
      type: list
      elements: string
    non_root_capabilities:
      description:
        - Linux capabilities (without C(CAP_)) the image's binary carries as file capabilities, which a container run
          as a non-root user must keep (with C(--cap-drop=ALL), add them back) or the kernel refuses to start it.
        - C([NET_BIND_SERVICE]) for 1.28.0 (dani-garcia/vaultwarden#3386), empty for every other release.
      type: list
      elements: string
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.module_utils.image_select import select_image

_OMIT_PLACEHOLDER_PREFIX = "__omit_place_holder__"


def _given(value):
    """False for Ansible's ``omit``: a sentinel object since ansible-core 2.19, a placeholder string before."""
    if type(value).__name__ == "_OmitType":
        return False
    return not (isinstance(value, str) and value.startswith(_OMIT_PLACEHOLDER_PREFIX))


def vaultwarden_image(platform, version="latest", database="sqlite", variant="debian", registry="docker.io",
                      docker_version=None):
    if isinstance(platform, dict):
        platform = platform.get("platform")
    options = dict(version=version, database=database, variant=variant, registry=registry, docker_version=docker_version)
    try:
        return select_image(platform, **dict((name, value) for name, value in options.items() if _given(value)))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule:
    def filters(self):
        return {"vaultwarden_image": vaultwarden_image}
