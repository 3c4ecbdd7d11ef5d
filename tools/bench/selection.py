# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How fast image selection, tag judgement and official-images parsing run. Prints figures only.

    python3 tools/bench/selection.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
# conftest.py is the one place that exposes the checkout as ansible_collections.homelab.vaultwarden.
import conftest  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

from ansible_collections.homelab.vaultwarden.plugins.module_utils.image_select import (  # noqa: E402
    ImageSelectionError,
    select_image,
    tag_info,
)
from ansible_collections.homelab.vaultwarden.plugins.module_utils.official_images import (  # noqa: E402
    database_image,
    parse_library,
)

LIBRARIES = os.path.join(ROOT, "roles", "vaultwarden", "files", "official-images")

# A fleet's worth of requests: every supported platform, both variants, old and new releases, mirrors,
# the arm32v6 work-around, and refusals (which build longer messages).
SELECTIONS = [
    dict(platform="x86_64"),
    dict(platform="armv7l", version="1.32.0", variant="alpine"),
    dict(platform="aarch64", version="testing", database="postgres"),
    dict(platform="armv6l", version="1.27.0", docker_version="19.03.13"),
    dict(platform="linux/arm/v6", version="1.24.0", variant="alpine", registry="ghcr.io"),
    dict(platform="armhf", version="1.16.0", database="mysql"),          # refused
    dict(platform="armv6l", version="latest", docker_version="19.03.13"),  # refused
    dict(platform="amd64", version="1.9.0", registry="127.0.0.1:5000"),
]
TAGS = ["latest", "latest-alpine", "1.32.0-alpine", "raspberry", "1.20.0-arm32v6", "1.15.1-aarch64"]


def _rate(work, seconds):
    """Calls of ``work`` per second (each call may do several operations: returns ops/s)."""
    operations = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        operations += work()
        elapsed = time.perf_counter() - start
    return operations / elapsed


def _select_all():
    for request in SELECTIONS:
        try:
            select_image(**request)
        except ImageSelectionError:
            pass
    return len(SELECTIONS)


def _judge_all():
    for tag in TAGS:
        tag_info(tag)
    return len(TAGS)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent on each figure")
    seconds = parser.parse_args().seconds

    texts = {}
    for name in ("mariadb", "mysql", "postgres"):
        with open(os.path.join(LIBRARIES, name), encoding="utf-8") as handle:
            texts[name] = handle.read()
    parsed = dict((name, parse_library(text, name)) for name, text in texts.items())

    print("python %s" % sys.version.split()[0])
    print("image selections/s          %10.0f  (mix of %d requests, refusals included)"
          % (_rate(_select_all, seconds), len(SELECTIONS)))
    print("tag judgements/s            %10.0f" % _rate(_judge_all, seconds))
    for name, text in texts.items():
        print("library parses/s (%-8s)  %10.0f  (%d lines, %d entries)"
              % (name, _rate(lambda text=text, name=name: bool(parse_library(text, name)), seconds),
                 text.count("\n"), len(parsed[name])))
    print("database_image/s (parsed)   %10.0f" % _rate(lambda: bool(database_image("arm64", "mariadb", "lts", parsed)),
                                                       seconds))
    print("database_image/s (text)     %10.0f  (parses all three libraries each call)"
          % _rate(lambda: bool(database_image("arm64", "mariadb", "lts", texts)), seconds))


if __name__ == "__main__":
    main()
