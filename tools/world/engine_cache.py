# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker engine's copies of the world's images must not outlive a republish.

Pinned releases are pulled once (`pull: not_present`), so an engine that still holds `127.0.0.N:5000/...:1.37.1`
from before a rebuild would keep running the old stand-in. After content is (re)published, every tag the engine
holds from the world's registries is removed; images that containers still use keep running untagged.
"""

from __future__ import annotations

import subprocess

from . import config
from .util import log


def forget_pulled_images() -> int:
    hosts = (config.REGISTRY,) + config.REGISTRY_ALIASES
    listed = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, stdin=subprocess.DEVNULL,
                            text=True, check=False)
    stale = [name for name in listed.stdout.split() if name.split("/", 1)[0] in hosts and not name.endswith(":<none>")]
    removed = 0
    for name in stale:
        if subprocess.run(["docker", "rmi", name], capture_output=True, check=False, stdin=subprocess.DEVNULL).returncode == 0:
            removed += 1
    if stale:
        log("forgot %d of %d image tag(s) the engine had pulled from the world before this publish" % (removed, len(stale)))
    return removed
