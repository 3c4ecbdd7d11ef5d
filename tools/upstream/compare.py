# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Walk the image selection against what upstream published, and list every disagreement.

    python3 -m tools.upstream.compare [--data tests/unit/fixtures/upstream/vaultwarden-releases.json] [--verbose]
                                      [--git-dir CLONE]   # also check every TAG:PATH:LINE the catalogue cites

Every release tag of the record (plus ``latest``, read at the newest release) x 7 platforms x 2 variants x
3 databases x 4 registries (Docker Hub, ghcr.io, quay.io, a private mirror) x 6 Docker versions goes through
``select_image``. The expectation is computed from the record alone, never from the catalogue:

* accepted iff the registry's repository (a private mirror carries Docker Hub's) pushed a manifest list or plain
  image of that variant with that platform built with that database, or, for Docker older than the fix of
  moby/moby#41017 on linux/arm/v6, a single-architecture ``-arm32v6`` tag; and the image is not known-broken;
* an accepted selection must name that push's repository, one of its tags, the release as tagged, the capabilities
  its binary carries (``setcap``), a warning when the push is uncertain and none when it is not, and the
  moby/moby#41017 warning on arm/v6 when the Docker version is unknown;
* a refusal must name a fix ("use ...", "Upgrade Docker ...", "build the image yourself"), and the reason where the
  record has one: the registry that carried nothing yet, the issue of a known-broken image, moby/moby#41017, the
  per-architecture tags of the ARM builds before 1.16.0, the failed push of a ``not_published`` record.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(ROOT, "tests", "unit", "fixtures", "upstream", "vaultwarden-releases.json")

PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/386", "linux/ppc64le", "linux/s390x")
VARIANTS = ("debian", "alpine")
DATABASES = ("sqlite", "mysql", "postgresql")
PRIVATE_MIRROR = "registry.lan:5000"
REGISTRIES = ("docker.io", "ghcr.io", "quay.io", PRIVATE_MIRROR)
DOCKER_VERSIONS = (None, "17.05", "18.09", "19.03.5", "20.10.0", "24.0")
ARMV6 = "linux/arm/v6"
NAMES_A_FIX = re.compile(r"\b[Uu]se\b|Upgrade Docker|build the image yourself")
UNCERTAIN_WARNING = "rests on an uncertain fact"


def load(path=DEFAULT_DATA):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _docker(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def _latest(data):
    """``latest`` as a release: the newest release's pushes, under their moving tags only."""
    newest = data["releases"][-1]
    pushes = []
    for push in newest["pushes"]:
        moving = [tag for tag in push["tags"] if not tag.startswith(newest["tag"])]
        if moving:
            pushes.append(dict(push, tags=moving))
    return dict(newest, tag="latest", pushes=pushes, not_published=[])


def expectation(data, release, platform, variant, database, registry, docker_version):
    """-> (candidate pushes, known-broken rows, reasons a refusal must give)."""
    source = "docker.io" if registry == PRIVATE_MIRROR else registry
    old_docker = docker_version is not None and _docker(docker_version) < _docker(data["moby_41017"]["fixed_in"])
    dockerfiles = release["dockerfiles"]

    def built(push):
        path = push["images"].get(platform)
        return path is not None and database in dockerfiles[path]["databases"]

    def pushed(registry_name):
        pushes = [push for push in release["pushes"] if push["registry"] == registry_name and push["variant"] == variant]
        regular = [push for push in pushes if push["kind"] in ("manifest", "image") and built(push)]
        if old_docker and platform == ARMV6:
            return pushes, regular, [push for push in pushes if push["kind"] == "arm32v6" and built(push)]
        return pushes, regular, regular

    pushes, regular, candidates = pushed(source)
    broken = [row for row in data["known_broken"]
              if (row["tag"], row["variant"], row["platform"]) == (release["tag"], variant, platform)]
    # The reason a refusal must give, where it is the only thing that stands in the way.
    reasons = []
    if not any(push["registry"] == source for push in release["pushes"]) and pushed("docker.io")[2]:
        reasons.append("'%s'" % registry)
    if broken and candidates:
        reasons.append(broken[0]["issue"])
    if old_docker and platform == ARMV6 and regular and not candidates:
        reasons.append(data["moby_41017"]["issue"])
    if not regular and any(push["kind"] == "legacy" and built(push) for push in pushes):
        reasons.append("own tags")
    if not regular and any(entry.get("repository") and entry["variant"] == variant and entry["registry"] == source
                           and platform in entry["images"]
                           and database in dockerfiles[entry["images"][platform]]["databases"]
                           for entry in release["not_published"]):
        reasons.append("set -e")
    return candidates, broken, reasons


def _check_accepted(result, candidates, release, platform, registry, docker_version):
    problems = []
    matching = [push for push in candidates if push["repository"] == result["repository"] and result["tag"] in push["tags"]]
    if not matching:
        return ["served %s, which upstream did not push for this (pushed: %s)" % (
            result["ref"], "; ".join("%s:%s" % (push["repository"], ",".join(push["tags"])) for push in candidates))]
    push = matching[0]
    if result["ref"] != "%s/%s:%s" % (registry, result["repository"], result["tag"]):
        problems.append("ref %s is not on registry %s" % (result["ref"], registry))
    if result["platform"] != platform:
        problems.append("platform %s" % result["platform"])
    expected_version = None if release["tag"] == "latest" else release["tag"]
    if result["version"] != expected_version:
        problems.append("version %r, not %r" % (result["version"], expected_version))
    capabilities = release["dockerfiles"][push["images"][platform]]["setcap"]
    if result["non_root_capabilities"] != capabilities:
        problems.append("non_root_capabilities %s, the binary carries %s" % (result["non_root_capabilities"], capabilities))
    uncertain = any(UNCERTAIN_WARNING in warning for warning in result["warnings"])
    if uncertain != bool(push.get("uncertain")):
        problems.append("uncertain push %s but warnings %s" % (push.get("uncertain"), result["warnings"]))
    if platform == ARMV6 and docker_version is None and not any("moby/moby#41017" in w for w in result["warnings"]):
        problems.append("no moby/moby#41017 warning for an unknown Docker version on arm/v6")
    return problems


def compare(data, select_image, error_type, tags=None):
    """-> {"comparisons", "accepted", "refused", "disagreements": [...], "dimensions"}; ``tags`` limits the releases."""
    releases = [release for release in list(data["releases"]) + [_latest(data)] if tags is None or release["tag"] in tags]
    accepted = refused = 0
    disagreements = []
    for release in releases:
        for platform in PLATFORMS:
            for variant in VARIANTS:
                for database in DATABASES:
                    for registry in REGISTRIES:
                        for docker_version in DOCKER_VERSIONS:
                            request = (release["tag"], platform, variant, database, registry, docker_version)
                            candidates, broken, reasons = expectation(data, release, platform, variant, database,
                                                                      registry, docker_version)
                            try:
                                result = select_image(platform, release["tag"], database, variant, registry,
                                                      docker_version)
                            except error_type as exc:
                                refused += 1
                                message = str(exc)
                                problems = []
                                if candidates and not broken:
                                    problems.append("refused what upstream published (%s): %s" % (
                                        ", ".join("%s:%s" % (p["repository"], p["tags"][0]) for p in candidates),
                                        message))
                                if not NAMES_A_FIX.search(message):
                                    problems.append("the refusal names no fix: %s" % message)
                                problems += ["the refusal does not say %r: %s" % (reason, message)
                                             for reason in reasons if reason not in message]
                            else:
                                accepted += 1
                                if not candidates:
                                    problems = ["accepted %s, which upstream never published" % result["ref"]]
                                elif broken:
                                    problems = ["accepted %s, known-broken (%s)" % (result["ref"], broken[0]["issue"])]
                                else:
                                    problems = _check_accepted(result, candidates, release, platform, registry,
                                                               docker_version)
                            disagreements += [(request, problem) for problem in problems]
    return {
        "comparisons": accepted + refused,
        "accepted": accepted,
        "refused": refused,
        "disagreements": disagreements,
        "dimensions": {"releases": len(releases), "platforms": len(PLATFORMS), "variants": len(VARIANTS),
                       "databases": len(DATABASES), "registries": len(REGISTRIES),
                       "docker_versions": len(DOCKER_VERSIONS)},
    }


_EVIDENCE = re.compile(r"(?<![\w.])(\d+\.\d+(?:\.\d+)?):([\w./-]+?)(?::(\d+)(?:-(\d+))?)?(?=[\s,;)]|$)")
_COMMIT = re.compile(r"\bcommit ([0-9a-f]{7,40})\b")


def verify_evidence(git_dir, rows):
    """Check every ``TAG:PATH[:LINE[-LINE]]`` and ``commit SHA`` named in ``rows`` (any nested data) against a clone.

    -> list of problems. Paths with wildcards or placeholders are not checked.
    """
    def git(*args):
        return subprocess.run(("git", "--git-dir", git_dir) + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              check=False)

    texts = []

    def collect(value):
        if isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)
        elif isinstance(value, str):
            texts.append(value)

    collect(rows)
    problems = []
    for text in texts:
        for tag, path, first, last in _EVIDENCE.findall(text):
            shown = git("show", "%s:%s" % (tag, path))
            lines = shown.stdout.count(b"\n") + (0 if shown.stdout.endswith(b"\n") else 1)
            if shown.returncode != 0:
                problems.append("%s:%s does not exist (%s)" % (tag, path, text))
            elif last and int(last) < int(first):
                problems.append("%s:%s:%s-%s is an empty range (%s)" % (tag, path, first, last, text))
            elif (last or first) and int(last or first) > lines:
                problems.append("%s:%s has no line %s, it has %d (%s)" % (tag, path, last or first, lines, text))
        for sha in _COMMIT.findall(text):
            if git("cat-file", "-e", sha + "^{commit}").returncode != 0:
                problems.append("commit %s does not exist (%s)" % (sha, text))
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--verbose", action="store_true", help="print every disagreement, not the first 20")
    parser.add_argument("--git-dir", help="a clone of dani-garcia/vaultwarden: also check the catalogue's evidence")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    # conftest puts the checkout on the collection's import path.
    import conftest  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    from ansible_collections.homelab.vaultwarden.plugins.module_utils.image_select import (  # pylint: disable=import-outside-toplevel
        ImageSelectionError,
        select_image,
    )
    report = compare(load(args.data), select_image, ImageSelectionError)
    dimensions = report["dimensions"]
    print("%d comparisons (%s): %d accepted, %d refused, %d disagreements" % (
        report["comparisons"], " x ".join("%d %s" % (count, name) for name, count in dimensions.items()),
        report["accepted"], report["refused"], len(report["disagreements"])))
    for request, problem in report["disagreements"][:None if args.verbose else 20]:
        print("  %s: %s" % ("/".join(str(part) for part in request), problem))
    problems = []
    if args.git_dir:
        from ansible_collections.homelab.vaultwarden.plugins.module_utils import (  # pylint: disable=import-outside-toplevel
            vaultwarden_catalogue as catalogue,
        )
        tables = dict((name, getattr(catalogue, name)) for name in dir(catalogue) if name.isupper())
        problems = verify_evidence(args.git_dir, tables)
        print("catalogue evidence checked against %s: %d problems" % (args.git_dir, len(problems)))
        for problem in problems:
            print("  " + problem)
    return 1 if report["disagreements"] or problems else 0


if __name__ == "__main__":
    sys.exit(main())
