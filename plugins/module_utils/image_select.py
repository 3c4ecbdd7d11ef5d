# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choose the vaultwarden image for a platform, and judge vaultwarden tags.

Pure functions over ``vaultwarden_catalogue``: no I/O, no registry queries. Every refusal is an
``ImageSelectionError`` whose message names the bad value, why it is refused, and what to use.

Input decisions:

* ``version`` is ``latest``, ``testing`` or a release tag: a full ``X.Y.Z``, or one of the catalogue's
  ``RELEASE_TAGS`` (``1.14``, the one release upstream tagged without a patch number; ``1.14.0`` was never
  pushed and is refused naming ``1.14``). Case and surrounding spaces are ignored. A leading ``v`` is refused
  rather than stripped: no vaultwarden tag has one, and what is written is what gets pulled. Other ``X.Y`` /
  ``X`` are refused: vaultwarden publishes no such aliases.
* A version carrying a tag suffix (``1.30.0-alpine``, ``raspberry``, ``1.20.0-arm32v6``) is refused with
  the parameters that express it.
* ``docker_version`` unknown (``None`` or ``''``) means the arm/v6 Docker bug check is skipped, with a
  warning on arm/v6 hosts.
* A known-bad release (the catalogue's ``KNOWN_BAD_RELEASES``) is refused, not warned about: a
  deployment that cannot start is worse than a stop with the work-around named.
* A choice that rests on a catalogue row marked ``uncertain`` is made, and ``warnings`` says so; a refusal
  that rests on one says so in its message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.homelab.vaultwarden.plugins.module_utils import vaultwarden_catalogue as catalogue
from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import (
    PlatformError,
    normalize_platform,
    platform_string,
)
from ansible_collections.homelab.vaultwarden.plugins.module_utils.official_images import (
    RegistryError,
    normalize_registry,
    tag_naming_problems,
)


class ImageSelectionError(ValueError):
    """A version, tag or combination that has no working vaultwarden image; the message names the fix."""


_DOCKER_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+~][0-9A-Za-z.+~-]*)?$")
_TAG_FORMS = ("'latest', 'testing' or a full X.Y.Z such as '1.32.0', with '-alpine' for the Alpine image "
              "(e.g. 'latest-alpine', '1.32.0-alpine')")


def _malformed_hint(text):
    if re.match(r"^[vV]\d+\.\d+(\.\d+)?", text):
        return "vaultwarden tags have no 'v' prefix; use %r" % text[1:]
    if re.match(r"^\d+(\.\d+)?$", text):
        return ("vaultwarden publishes no X.Y or X aliases (unlike official images; the one release tagged X.Y is %s); "
                "pin a full X.Y.Z such as '%s.0' or use 'latest'"
                % (", ".join("'%s'" % row["tag"] for row in catalogue.RELEASE_TAGS),
                   text if "." in text else text + ".0"))
    if re.match(r"^\d+\.\d+\.\d+$", text):
        return "version numbers are written without leading zeros, e.g. %r" % ".".join(str(int(p)) for p in text.split("."))
    return "use %s" % _TAG_FORMS


def _parse_tag(tag):
    """Split a vaultwarden tag into its parts; ``None`` when it is no vaultwarden tag at all."""
    head, _dash, suffix = tag.partition("-")
    version = catalogue.release_version(head)
    parsed = {"version": version, "variant": "debian", "arch_suffix": None, "legacy": False,
              "channel": catalogue.PINNED if version else None, "misspelled": catalogue.misspelled_release(head)}
    if head in catalogue.CHANNELS:
        parsed["channel"] = head
    elif not suffix and head in catalogue.MOVING_TAG_ALIASES:
        parsed["channel"], parsed["variant"] = catalogue.MOVING_TAG_ALIASES[head]
        return parsed
    elif not suffix and head in catalogue.LEGACY_TAGS:
        parsed.update(channel="latest", arch_suffix=head, legacy=True)
        return parsed
    elif version is None:
        return None

    if not suffix:
        return parsed
    if suffix == "alpine":
        parsed["variant"] = "alpine"
    elif suffix == catalogue.ARM32V6_WORKAROUND["suffix"]:
        parsed["arch_suffix"] = suffix
    elif suffix in catalogue.LEGACY_TAGS and version:
        parsed.update(arch_suffix=suffix, legacy=True)
    else:
        return None
    return parsed


def _shown(version):
    """A version tuple as upstream tagged it (``1.14`` for 1.14.0)."""
    return catalogue.release_tag(version)


def _legacy_replacement(parsed):
    legacy = catalogue.LEGACY_TAGS[parsed["arch_suffix"]]
    platform = legacy["platform"]
    version = parsed["version"]
    multiarch = catalogue.parse_version(catalogue.MULTIARCH_SINCE)
    if version is None:
        text = "'latest' with platform %s" % platform
    elif version >= multiarch:
        text = "'%s' with platform %s" % (_shown(version), platform)
    else:
        text = ("'%s' or newer with platform %s (%s has no multi-architecture image)"
                % (catalogue.MULTIARCH_SINCE, platform, _shown(version)))
    workaround = catalogue.ARM32V6_WORKAROUND
    if platform == workaround["platform"]:
        if version is not None and catalogue.in_range(version, workaround):
            old = "'%s-%s'" % (_shown(version), workaround["suffix"])
        else:
            old = "'X.Y.Z-%s' (%s)" % (workaround["suffix"], catalogue.describe_range(workaround["since"], workaround["until"]))
        text += " on Docker %s or newer, or %s on older Docker" % (workaround["docker_fixed_in"], old)
    return text


def _never_published_tag(tag, parsed):
    """Why ``tag`` was never pushed although it parses, or ``None``."""
    version = parsed["version"]
    if parsed["misspelled"]:
        row = parsed["misspelled"]
        return ("tag %r was never published: upstream tagged release %s as %r (git tag and Docker tag; %s); use %r"
                % (tag, row["version"], row["tag"], row["evidence"], row["tag"] + tag[len(row["version"]):]))
    workaround = catalogue.ARM32V6_WORKAROUND
    if parsed["arch_suffix"] == workaround["suffix"] and version is not None and not catalogue.in_range(version, workaround):
        return ("tag %r was never published: '-%s' tags exist for %s only; use '%s' with platform %s on Docker %s or newer"
                % (tag, workaround["suffix"], catalogue.describe_range(workaround["since"], workaround["until"]),
                   _shown(version), workaround["platform"], workaround["docker_fixed_in"]))
    if parsed["legacy"] and version is not None:
        legacy = catalogue.LEGACY_TAGS[parsed["arch_suffix"]]
        if not catalogue.in_range(version, legacy):
            return ("tag %r was never published: '-%s' tags were built for %s only (%s); use %s"
                    % (tag, parsed["arch_suffix"], catalogue.describe_range(legacy["since"], legacy["until"]),
                       legacy["evidence"], _legacy_replacement(parsed)))
    return None


def tag_info(tag):
    """Judge a vaultwarden tag: what it is, whether it is retired, whether it follows official-images naming."""
    if not isinstance(tag, str):
        raise ImageSelectionError("tag %r must be a string; %s" % (tag, _malformed_hint(str(tag))))
    parsed = _parse_tag(tag)
    if parsed is None:
        raise ImageSelectionError("tag %r is not a vaultwarden tag: %s" % (tag, _malformed_hint(tag)))
    never = _never_published_tag(tag, parsed)
    if never:
        raise ImageSelectionError(never)
    problems = tag_naming_problems(tag)
    return {
        "tag": tag,
        "version": _shown(parsed["version"]) if parsed["version"] else None,
        "variant": parsed["variant"],
        "channel": parsed["channel"],
        "arch_suffix": parsed["arch_suffix"],
        "legacy": parsed["legacy"],
        "replacement": _legacy_replacement(parsed) if parsed["legacy"] else None,
        "retired": catalogue.LEGACY_TAGS_RETIRED if parsed["legacy"] else None,
        "official_naming": not problems,
        "official_naming_problems": problems,
    }


def parse_docker_version(docker_version):
    """``'20.10.24+dfsg1'`` -> ``(20, 10, 24)``; ``None`` when unknown (``None`` or ``''``)."""
    if docker_version is None or docker_version == "":
        return None
    if isinstance(docker_version, float):
        raise ImageSelectionError("docker_version %r was read as a number, which loses digits ('20.10' becomes 20.1); "
                                  "quote it, e.g. '20.10.24'" % docker_version)
    match = _DOCKER_VERSION.match(str(docker_version).strip())
    if not match:
        raise ImageSelectionError("docker_version %r is not a Docker engine version such as '20.10.24'; pass the "
                                  "daemon's Server.Version (docker_platform.docker.server_version) or leave it unset"
                                  % (docker_version,))
    return tuple(int(part or 0) for part in match.groups())


def _choice(kind, value, aliases, default):
    text = default if value is None else str(value).strip().lower()
    if text not in aliases:
        raise ImageSelectionError("%s %r is not supported; use one of %s" % (kind, value, ", ".join(sorted(aliases))))
    return aliases[text]


def _requested_version(version):
    """-> (channel, version tuple or None)."""
    if version is None:
        return "latest", None
    if isinstance(version, float):
        raise ImageSelectionError("version %r was read as a number; quote the full version, e.g. '1.32.0' "
                                  "(vaultwarden publishes no X.Y aliases)" % version)
    text = str(version).strip().lower()
    if text in catalogue.CHANNELS:
        return text, None
    misspelled = catalogue.misspelled_release(text)
    if misspelled:
        raise ImageSelectionError("version %r was never tagged: upstream tagged release %s as %r (git tag and Docker "
                                  "tag; %s); use version=%r" % (version, misspelled["version"], misspelled["tag"],
                                                                misspelled["evidence"], misspelled["tag"]))
    parsed_version = catalogue.release_version(text)
    if parsed_version:
        return catalogue.PINNED, parsed_version
    parsed = _parse_tag(text)
    if parsed is None:
        raise ImageSelectionError("version %r is not a vaultwarden version: %s" % (version, _malformed_hint(text)))
    never = _never_published_tag(text, parsed)
    if never:
        raise ImageSelectionError("version %r: %s" % (version, never))
    base = _shown(parsed["version"]) if parsed["version"] else parsed["channel"]
    if parsed["legacy"]:
        raise ImageSelectionError("version %r is a per-architecture tag from before the multi-architecture images (%s); "
                                  "use %s (the platform is chosen from the host)"
                                  % (version, catalogue.LEGACY_TAGS_UNCERTAIN, _legacy_replacement(parsed)))
    if parsed["variant"] == "alpine":
        raise ImageSelectionError("version %r names the Alpine tag; use version=%r with variant='alpine'" % (version, base))
    rule = catalogue.ARM32V6_WORKAROUND
    if parsed["version"] is None:
        raise ImageSelectionError("version %r names a '-%s' tag that stopped moving when those tags were dropped in %s; "
                                  "use version=%r with Docker %s or newer, or pin a version from %s"
                                  % (version, rule["suffix"], rule["until"], base, rule["docker_fixed_in"],
                                     catalogue.describe_range(rule["since"], rule["until"])))
    raise ImageSelectionError("version %r names the '-%s' work-around tag; use version=%r: that tag is chosen for "
                              "%s hosts when docker_version is older than %s"
                              % (version, rule["suffix"], base, rule["platform"], rule["docker_fixed_in"]))


def _requested_platform(platform):
    try:
        canonical = normalize_platform(platform)
    except PlatformError as exc:
        raise ImageSelectionError(str(exc))
    if canonical.os != "linux":
        raise ImageSelectionError("platform %r: vaultwarden images are Linux images; run them on a Linux Docker host "
                                  "(or Docker with Linux containers) with platform linux/amd64" % (platform,))
    return platform_string(canonical)


def _uncertain(row):
    return " (this rests on an uncertain fact: %s)" % row["uncertain"] if row and row.get("uncertain") else ""


def _tag_for(version, variant):
    return _shown(version) + catalogue.VARIANT_TAG_SUFFIX[variant]


def _platform_refusal(image, platform, channel, version, variant, database):
    pinned = channel == catalogue.PINNED
    row = catalogue.architecture_row(version, variant, database)
    published = row["platforms"]
    if published:
        reason = "%s (%s, %s) has no image for %s; it was published for %s" % (
            image, variant, database, platform, ", ".join(published))
    else:
        reason = "%s (%s, %s) was never published: %s (%s)" % (image, variant, database, row["reason"], row["evidence"])
    if platform not in catalogue.published_platforms():
        if platform in catalogue.UNPUBLISHED_PLATFORMS:
            fix = ("Upstream builds %s only locally and never published it (%s); build the image yourself and push it "
                   "to a private registry (registry=...)" % (platform, catalogue.UNPUBLISHED_EVIDENCE))
        else:
            fix = "No vaultwarden image was ever published for %s; use a host of %s" % (
                platform, ", ".join(catalogue.published_platforms()))
        return "%s. %s" % (reason, fix)
    options = []
    for other in catalogue.VARIANTS:
        if other != variant and platform in catalogue.platforms_for(version, other, database):
            options.append("variant '%s'%s" % (other, " (tag '%s')" % _tag_for(version, other) if pinned else ""))
    if database != "sqlite" and platform in catalogue.platforms_for(version, variant, "sqlite"):
        options.append("database 'sqlite' (the %s %s image of this release is %s)"
                       % (variant, database, ", ".join(published) or "not published"))
    if pinned:
        own = catalogue.next_version_with_platform(variant, database, platform, version)
        if own is not None:
            options.append("version %s or newer" % _shown(own))
        for other in catalogue.VARIANTS:
            first = catalogue.next_version_with_platform(other, database, platform, version)
            if other != variant and first is not None and (own is None or first < own):
                options.append("version %s or newer with variant '%s'" % (_shown(first), other))
        if version < catalogue.parse_version(catalogue.MULTIARCH_SINCE) and platform != catalogue.AMD64:
            reason += (" (before %s ARM builds had their own tags %s; %s)"
                       % (catalogue.MULTIARCH_SINCE, ", ".join("'%s'" % t for t in catalogue.LEGACY_TAGS),
                          catalogue.LEGACY_TAGS_UNCERTAIN))
    if not options:  # pragma: no cover - every published platform has a current image of every variant
        options.append("a release, variant and database published for %s" % platform)
    return "%s%s. Use %s" % (reason, _uncertain(row), " or ".join(options))


def _old_docker_refusal(platform, channel, version, variant, database, docker_version):
    rule = catalogue.ARM32V6_WORKAROUND
    pinned = channel == catalogue.PINNED
    what = _shown(version) if pinned else channel
    options = ["Upgrade Docker to %s or newer" % rule["docker_fixed_in"]]
    if pinned and catalogue.arm32v6_workaround_applies(version, "debian", catalogue.repository_for(database, version)):
        options.append("use variant 'debian', served as '%s-%s'" % (what, rule["suffix"]))
    else:
        first = catalogue.first_arm32v6_version(database)
        options.append("pin a version from %s with variant 'debian' (served as 'X.Y.Z-%s')"
                       % (catalogue.describe_range(catalogue.format_version(first), rule["until"]), rule["suffix"]))
    return ("Docker %s on a %s host pulls the arm/v7 image out of a multi-architecture manifest list (%s), which "
            "cannot run there; vaultwarden %s (%s, %s) has no single-architecture '-%s' tag. %s"
            % (docker_version, platform, rule["issue"], what, variant, database, rule["suffix"],
               "; or ".join(options)))


def _known_bad_refusal(bad, version, variant, database, platform, old_docker):
    options = []
    if bad.get("fixed_in"):
        options.append("version %s or newer (fixed there)" % bad["fixed_in"])
    for other in catalogue.VARIANTS:
        if other != variant and not old_docker and platform in catalogue.platforms_for(version, other, database) \
                and not catalogue.known_bad_release(version, other, platform):
            options.append("variant '%s' (tag '%s')" % (other, _tag_for(version, other)))
    options.append("another release")
    source = bad["issue"] + ("; %s" % bad["evidence"] if bad.get("evidence") else "")
    return ("vaultwarden %s (%s) on %s is a known-bad release: %s (%s); use %s"
            % (_shown(version), variant, platform, bad["problem"], source, " or ".join(options)))


def select_image(platform, version="latest", database=catalogue.DEFAULT_DATABASE, variant=catalogue.DEFAULT_VARIANT,
                 registry=catalogue.DEFAULT_REGISTRY, docker_version=None):
    """The vaultwarden image to run on ``platform``; see docs/design.md "Image selection" for the result."""
    variant = _choice("variant", variant, dict((name, name) for name in catalogue.VARIANTS), catalogue.DEFAULT_VARIANT)
    database = _choice("database", database, catalogue.DATABASE_ALIASES, catalogue.DEFAULT_DATABASE)
    channel, version = _requested_version(version)
    docker = parse_docker_version(docker_version)
    try:
        host = normalize_registry(catalogue.DEFAULT_REGISTRY if registry is None else registry)
    except RegistryError as exc:
        raise ImageSelectionError(str(exc))
    platform = _requested_platform(platform)

    pinned = channel == catalogue.PINNED
    rules_version = version if pinned else catalogue.MOVING_TAG_VERSION
    era = catalogue.era_for(rules_version)
    if not pinned and channel not in era["channels"]:
        raise ImageSelectionError("the %s era published no %r tag; pin a version X.Y.Z" % (era["name"], channel))
    shown_version = _shown(version) if pinned else channel

    repository_row = catalogue.repository_row(database, rules_version)
    if repository_row is None:
        first = catalogue.first_version_with_database(database)
        raise ImageSelectionError(
            "%s %s has no %s image: the first %s image is %s; use version %s or newer, or database 'sqlite'"
            % (era["name"], shown_version, database, database, _shown(first), _shown(first)))
    hub_repository = repository_row["repository"]

    repository = hub_repository
    mirror = catalogue.MIRRORS.get(host)
    if mirror:
        since = catalogue.parse_version(mirror["since"])
        repository = mirror["repositories"].get(hub_repository)
        if (pinned and version < since) or repository is None:
            raise ImageSelectionError(
                "registry %r mirrors vaultwarden only from %s on (%s), so it has no %s; use registry %r for %s, or "
                "version %s or newer" % (host, mirror["since"], mirror["evidence"], shown_version,
                                         catalogue.DEFAULT_REGISTRY, shown_version, mirror["since"]))

    tag = _tag_for(version, variant) if pinned else catalogue.CHANNEL_TAGS[(channel, variant)]
    architecture = catalogue.architecture_row(rules_version, variant, database)
    if platform not in architecture["platforms"]:
        raise ImageSelectionError(_platform_refusal("%s:%s" % (repository, tag), platform, channel, rules_version,
                                                    variant, database))

    warnings = []
    workaround = catalogue.ARM32V6_WORKAROUND
    old_docker = docker is not None and docker < catalogue.parse_version(workaround["docker_fixed_in"])
    if platform == workaround["platform"] and old_docker:
        if not (pinned and catalogue.arm32v6_workaround_applies(version, variant, hub_repository)):
            raise ImageSelectionError(_old_docker_refusal(platform, channel, version, variant, database, docker_version))
        tag = "%s-%s" % (_shown(version), workaround["suffix"])
    elif platform == workaround["platform"] and docker is None:
        warnings.append("docker_version is unknown: Docker older than %s on a %s host pulls the arm/v7 image out of "
                        "the manifest list of '%s' (%s); pass docker_version so that this is checked"
                        % (workaround["docker_fixed_in"], platform, tag, workaround["issue"]))

    bad = catalogue.known_bad_release(version, variant, platform) if pinned else None
    if bad:
        raise ImageSelectionError(_known_bad_refusal(bad, version, variant, database, platform, old_docker))

    for row, what in ((repository_row, "the repository %s" % hub_repository),
                      (architecture, "the %s image of %s for %s" % (variant, shown_version, platform))):
        if row.get("uncertain"):
            warnings.append("%s rests on an uncertain fact: %s (%s)" % (what, row["uncertain"], row["evidence"]))
    capabilities = catalogue.non_root_capabilities(version, variant) if pinned else None

    return {
        "repository": repository,
        "tag": tag,
        "ref": "%s/%s:%s" % (host, repository, tag),
        "platform": platform,
        "pull": "missing" if pinned else "always",
        "era": era["name"],
        "channel": channel,
        "version": shown_version if pinned else None,
        "variant": variant,
        "database": database,
        "warnings": warnings,
        "non_root_capabilities": list(capabilities["capabilities"]) if capabilities else [],
    }
