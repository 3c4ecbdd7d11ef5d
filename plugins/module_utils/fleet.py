# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One release everywhere: the decisions of a fleet run, pure and standard library only.

A release is a manifest digest per image reference without its registry host (``vaultwarden/server:latest`` ->
``sha256:...``): a mirror serves the same manifest list under the same digest, so hosts that pull through different
registries still get the same release. The first host of a run that pulls a reference (the canary) asks the registry
for its digest once and pulls by that digest; every later host of the run pulls ``repository@digest`` for its own
platform, whatever the tag points to by then.

- check_releases: the user's ``vaultwarden_release_digests``, validated.
- release_key / digest_ref: the registry-free key of a reference and the reference pinned to a digest.
- merged_releases: the user's releases, then what the run's earlier hosts resolved (in play order).
- published_release: what a host that runs a reference tells the rest of the run.
- preflight_verdict: the fleet-wide preflight, every refused or unreachable host with its reason.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_KEY = re.compile(r"^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class FleetError(ValueError):
    """A refusal: (variable, value, why, fix), as the planner's PlanError takes it."""

    def __init__(self, variable, value, why, fix):
        super(FleetError, self).__init__("%s %r: %s. %s" % (variable, value, why, fix))
        self.args_tuple = (variable, value, why, fix)


def _split(ref):
    """'host:5000/vaultwarden/server:1.2' -> ('host:5000', 'vaultwarden/server', '1.2'); the tag is '' for a digest."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    parts = name.split("/", 1)
    if len(parts) == 2 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        return parts[0], parts[1], tag
    return "", name, tag


def release_key(ref):
    """The registry-free key of a tagged reference: 'vaultwarden/server:latest' ('library/' kept as written)."""
    dummy, repository, tag = _split(ref)
    return "%s:%s" % (repository, tag or "latest")


def digest_ref(ref, digest):
    """The reference pinned to a manifest digest, on the same registry: 'host/repo@sha256:...'."""
    host, repository, dummy = _split(ref)
    return "%s%s@%s" % (host + "/" if host else "", repository, digest)


def check_releases(value):
    """vaultwarden_release_digests: a mapping 'repository:tag' -> 'sha256:<64 hex>'; returns it normalised."""
    example = "{\"vaultwarden/server:latest\": \"sha256:<64 hex digits>\"}"
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise FleetError("vaultwarden_release_digests", value, "it is not a mapping of image references to digests",
                         "Give a mapping such as %s." % example)
    releases = {}
    for key, digest in value.items():
        key_text = str(key).strip()
        if "@" in key_text or not _KEY.match(key_text) or _split(key_text)[0]:
            raise FleetError("vaultwarden_release_digests", key, "a key is a repository and tag without the registry "
                             "host (a mirror serves the same digest)", "Use a key such as '%s'."
                             % release_key(key_text.split("@", 1)[0]))
        key_text = release_key(key_text)
        digest_text = str(digest).strip().lower()
        if not _DIGEST.match(digest_text):
            raise FleetError("vaultwarden_release_digests", digest, "the digest of %s is not sha256: followed by 64 hex "
                             "digits" % key_text, "Copy the digest from `docker buildx imagetools inspect %s` or from "
                             "the fleet report." % key_text)
        releases[key_text] = digest_text
    return releases


def merged_releases(own, play_hosts, host, published):
    """The releases this host follows: its own (the user's) first, then each earlier host's, in play order.

    published: host -> {key: digest} that host resolved in this run (hosts that have not deployed yet are missing).
    """
    merged = dict(own or {})
    sources = dict((key, "vaultwarden_release_digests") for key in merged)
    for other in play_hosts or []:
        if other == host:
            continue
        for key, digest in sorted((published.get(other) or {}).items()):
            if key not in merged and digest and _DIGEST.match(str(digest)):
                merged[key] = digest
                sources[key] = other
    return merged, sources


def repository_digest(ref, repo_digests):
    """The manifest digest an image was pulled by under the repository of ``ref`` (Docker Hub names drop the host)."""
    host, repository, dummy = _split(ref)
    names = set([repository, "%s/%s" % (host, repository) if host else repository])
    if host in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        names.add(repository[len("library/"):] if repository.startswith("library/") else repository)
    found = sorted(set(d.split("@", 1)[1] for d in repo_digests or [] if "@" in d and d.split("@", 1)[0] in names))
    return found[0] if len(found) == 1 else None


def published_release(ref, pinned_digest, recorded_digest, registry_digest, repo_digests):
    """{key: digest} a host that runs ``ref`` tells the rest of the run, or {} when it cannot say for sure.

    In order: the digest it pulled by now, the digest it recorded when it pulled by digest, the digest the registry
    serves for a tag that has not moved (asked in the facts' round trip), the one digest it was pulled by.
    """
    digest = pinned_digest or recorded_digest or registry_digest or repository_digest(ref, repo_digests)
    return {release_key(ref): digest} if digest else {}


def preflight_verdict(play_hosts, results, allow_refused=False):
    """(failed, message, refused hosts) of the fleet-wide preflight.

    results: host -> the preflight task's result (missing: the host did not answer).
    """
    refused = []
    for host in play_hosts:
        result = results.get(host)
        if result is None:
            refused.append((host, "it did not answer (unreachable, or it failed before the preflight)"))
        elif result.get("unreachable"):
            refused.append((host, "unreachable: %s" % (result.get("msg") or "no answer")))
        elif result.get("failed"):
            refused.append((host, result.get("msg") or "refused"))
    if not refused:
        return False, "all %d host(s) passed the preflight; nothing has changed yet" % len(play_hosts), []
    lines = ["%d of %d host(s) were refused before any host changed:" % (len(refused), len(play_hosts))]
    lines.extend("  - %s: %s" % (host, reason) for host, reason in refused)
    if allow_refused:
        lines.append("vaultwarden_preflight_allow_refused is true: the run goes on without them.")
    else:
        lines.append("Nothing was changed on any host. Fix the values named, or set "
                     "vaultwarden_preflight_allow_refused=true to update the other hosts without them.")
    return not allow_refused, "\n".join(lines), [host for host, dummy in refused]
