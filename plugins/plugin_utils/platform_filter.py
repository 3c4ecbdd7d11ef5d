# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared front of the platform filters (docker_platform, bashbrew_arch, debian_arch)."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import PlatformError


def platform_filter(name, convert):
    """Make a filter that converts any platform spelling (or the docker_platform fact) with ``convert``."""

    def apply(value):
        if isinstance(value, Mapping):
            if "platform" not in value:
                raise AnsibleFilterError(
                    "{0} got a dict without a 'platform' key ({1}); pass a platform string such as 'linux/arm/v7' "
                    "or the docker_platform fact of homelab.vaultwarden.platform_facts".format(name, sorted(value)))
            value = value["platform"]
        try:
            return convert(value)
        except PlatformError as exc:
            raise AnsibleFilterError("{0}: {1}".format(name, exc)) from exc

    apply.__name__ = name
    apply.__doc__ = convert.__doc__
    return apply
