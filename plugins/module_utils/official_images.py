# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker official-images library files, and the Docker Hub conventions that go with them.

A library file (``library/<image>`` in docker-library/official-images, read by bashbrew) is RFC 2822
style: ``Field: value`` lines, indented continuation lines, ``#`` comments, entries separated by blank
lines. The first entry is global: its fields are defaults for every other entry. ``ARCH-Field``
(``arm32v7-GitCommit``) overrides a field for one architecture.

The parsed form is a list of plain dicts (one per tagged entry) so that Ansible can pass it around.
A library file with a global entry and no tagged entry is valid: docker-library keeps such files for deprecated
images (``notary``, ``clefos``, ``php-zendserver``), and it parses to no entries - the image has no tags.

``SharedTags`` (``caddy:2``) name a tag that several entries share: the manifest list bashbrew pushes for it
unites their images, so a shared tag resolves per platform to the entry that carries that platform
(``official_image_entry``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.homelab.vaultwarden.plugins.module_utils.oci_platform import (
    PlatformError,
    normalize_platform,
    platform_string,
    to_bashbrew,
)


class OfficialImagesError(ValueError):
    """A library file that cannot be read, or a question it cannot answer."""


class DatabaseImageError(OfficialImagesError):
    """No official database image fits the request; the message names what does."""


class RegistryError(ValueError):
    """A registry that is not a host[:port]."""


LIST_FIELDS = ("Maintainers", "Tags", "SharedTags", "Architectures", "Constraints")
SCALAR_FIELDS = ("GitRepo", "GitFetch", "GitCommit", "Directory", "File", "Builder")
# Only where the sources live may differ per architecture.
ARCH_SCOPED_FIELDS = SCALAR_FIELDS
DEFAULT_ARCHITECTURES = ("amd64",)
_CANONICAL_FIELD = dict((name.lower(), name) for name in LIST_FIELDS + SCALAR_FIELDS)
_FIELD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")

DOCKER_HUB = "docker.io"
# Spellings of Docker Hub that `docker pull` accepts; refs are written with the short one.
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_REGISTRY = re.compile(r"^(?:%s(?:\.%s)*|\[[0-9a-f:]+\])(?::[0-9]{1,5})?$" % (_LABEL, _LABEL))

# Docker's tag grammar (distribution/reference).
_TAG_GRAMMAR = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

DATABASE_ENGINES = {
    "mariadb": "mariadb",
    "mysql": "mysql",
    "postgres": "postgres",
    "postgresql": "postgres",
    "pgsql": "postgres",
}
_SHOWN_TAGS = 6
_PRERELEASE = re.compile(r"(?:^|[-.0-9])(?:rc|beta|alpha)[0-9]*(?:$|[-.])")


def _snake(field):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", field).lower()


_SNAKE = dict((field, _snake(field)) for field in LIST_FIELDS + SCALAR_FIELDS)
_EMPTY_ENTRY = dict([(_SNAKE[field], None) for field in SCALAR_FIELDS] + [(_SNAKE[field], ()) for field in LIST_FIELDS])
_BASHBREW_NAMES = {}


def _where(name, line):
    return "library %r line %d" % (name, line) if name else "line %d" % line


def is_bashbrew_architecture(name):
    """Whether ``name`` is a bashbrew architecture name as written in library files (``arm64v8``, not ``arm64``)."""
    known = _BASHBREW_NAMES.get(name)
    if known is None:
        try:
            known = to_bashbrew(name) == name
        except PlatformError:
            known = False
        _BASHBREW_NAMES[name] = known
    return known


def _paragraphs(text, name):
    """Split into paragraphs of ``[line, field, value]`` with continuation lines folded in."""
    paragraphs = []
    current = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if current:
                paragraphs.append(current)
                current = []
            continue
        if line.startswith("#"):
            continue
        if line[0] in " \t":
            if not current:
                raise OfficialImagesError("%s: indented line %r continues no field; a continuation line must follow a "
                                          "'Field: value' line of the same entry" % (_where(name, number), line.strip()))
            current[-1][2] = ("%s %s" % (current[-1][2], line.strip())).strip()
            continue
        field, colon, value = line.partition(":")
        field = field.strip()
        if not colon or not _FIELD_NAME.match(field):
            raise OfficialImagesError("%s: %r is not a 'Field: value' line (comments start with '#', continuation lines "
                                      "with a space)" % (_where(name, number), line))
        current.append([number, field, value.strip()])
    if current:
        paragraphs.append(current)
    return paragraphs


def _split_list(value):
    return [item.strip() for item in value.split(",") if item.strip()]


def _read_paragraph(paragraph, name):
    """One paragraph -> (fields, arch_fields, lines); field names canonical, values split where they are lists."""
    fields = {}
    arch_fields = {}
    lines = {}
    for number, raw_field, value in paragraph:
        arch, dash, field = raw_field.rpartition("-")
        if not dash:
            field = raw_field
        field = _CANONICAL_FIELD.get(field.lower(), field)
        if dash:
            if not is_bashbrew_architecture(arch):
                raise OfficialImagesError("%s: unknown architecture %r in %r; bashbrew names are e.g. amd64, arm32v6, "
                                          "arm32v7, arm64v8, i386, ppc64le, s390x, windows-amd64"
                                          % (_where(name, number), arch, raw_field))
            if field not in ARCH_SCOPED_FIELDS:
                raise OfficialImagesError("%s: %r cannot be set per architecture; only %s can"
                                          % (_where(name, number), raw_field, ", ".join(ARCH_SCOPED_FIELDS)))
            target = arch_fields.setdefault(arch, {})
        else:
            target = fields
        key = _SNAKE.get(field) or _snake(field)
        if key in target:
            raise OfficialImagesError("%s: %r is given twice in the same entry" % (_where(name, number), raw_field))
        target[key] = _split_list(value) if field in LIST_FIELDS else value
        lines[raw_field if dash else field] = number
    for arch in fields.get("architectures", []):
        if not is_bashbrew_architecture(arch):
            raise OfficialImagesError("%s: unknown architecture %r in Architectures; bashbrew names are e.g. amd64, "
                                      "arm32v6, arm32v7, arm64v8, i386, ppc64le, s390x, windows-amd64"
                                      % (_where(name, lines["Architectures"]), arch))
    return fields, arch_fields, lines


def parse_library(text, name=None):
    """Parse a library file into a list of entry dicts, global defaults applied; ``[]`` when it has no tagged entry.

    Each entry has ``tags``, ``shared_tags``, ``architectures`` (the entry's, else the global one, else
    ``['amd64']``), ``maintainers``, ``constraints`` (lists), ``git_repo``, ``git_fetch``, ``git_commit``,
    ``directory``, ``file``, ``builder`` (string or None), any other field snake_cased, ``arch_fields``
    (``{arch: {field: value}}`` for the entry's architectures, global per-architecture values overlaid
    by the entry's) and ``line`` (where the entry starts).
    """
    if not isinstance(text, str):
        raise OfficialImagesError("a library file must be text, got %s" % type(text).__name__)
    paragraphs = _paragraphs(text, name)
    if not paragraphs:
        raise OfficialImagesError("library %r is empty: it needs at least a global entry (Maintainers, GitRepo); "
                                  "an image without tags keeps just that" % (name or "<text>"))
    global_fields, global_arch_fields, global_lines = _read_paragraph(paragraphs[0], name)
    for field in ("Tags", "SharedTags"):
        if field in global_lines:
            raise OfficialImagesError("%s: the first entry is the global one (defaults for all entries) and cannot have "
                                      "%s; put a global entry with Maintainers before it"
                                      % (_where(name, global_lines[field]), field))

    entries = []
    tag_lines = {}
    for paragraph in paragraphs[1:]:
        fields, arch_fields, lines = _read_paragraph(paragraph, name)
        start = paragraph[0][0]
        if not fields.get("tags") and not fields.get("shared_tags"):
            raise OfficialImagesError("%s: entry has neither Tags nor SharedTags; every entry after the global one "
                                      "names its tags" % _where(name, start))
        for field, key in (("Tags", "tags"), ("SharedTags", "shared_tags")):
            for tag in fields.get(key, []):
                # A shared tag may span entries (that is its purpose); a plain tag names one entry.
                seen = tag_lines.get(tag)
                if seen and (key == "tags" or seen[1] == "tags" or seen[2] == start):
                    raise OfficialImagesError("%s: tag %r is already used on line %d; each tag may appear once"
                                              % (_where(name, lines[field]), tag, seen[0]))
                tag_lines[tag] = (lines[field], key, start)

        entry = dict(_EMPTY_ENTRY, line=start)
        entry.update(global_fields)
        entry.update(fields)
        # Lists are copied so that entries never share (and never alias the global entry's) lists.
        for field in LIST_FIELDS:
            entry[_SNAKE[field]] = list(entry[_SNAKE[field]])
        if not entry["architectures"]:
            entry["architectures"] = list(DEFAULT_ARCHITECTURES)
        entry["arch_fields"] = dict(
            (arch, dict(global_arch_fields.get(arch, {}), **arch_fields.get(arch, {})))
            for arch in entry["architectures"]
        )
        entries.append(entry)
    return entries


def architecture_field(entry, arch, field):
    """A field's value for one architecture: the ``ARCH-Field`` override, else the plain field."""
    return entry["arch_fields"].get(arch, {}).get(field, entry.get(field))


def _entries(library, name=None):
    return parse_library(library, name) if isinstance(library, str) else library


def _platform(spelling):
    try:
        return platform_string(normalize_platform(spelling))
    except PlatformError as exc:
        raise OfficialImagesError(str(exc))


def _bashbrew(spelling):
    try:
        return to_bashbrew(spelling)
    except PlatformError as exc:
        raise OfficialImagesError(str(exc))


def _entry_tags(entry):
    return list(entry.get("tags", [])) + list(entry.get("shared_tags", []))


def _tags_for(entries, bashbrew):
    tags = []
    for entry in entries:
        if bashbrew in entry["architectures"]:
            tags.extend(tag for tag in _entry_tags(entry) if tag not in tags)
    return tags


def official_image_tags(entries, platform):
    """Tags (plain and shared) that have an image for ``platform`` (any spelling), in file order; ``[]`` for an
    image without tags."""
    return _tags_for(_entries(entries), _bashbrew(platform))


def official_image_entries(entries, tag, platform):
    """The entries whose image ``tag`` gives ``platform`` (any spelling), in file order.

    A plain tag names one entry; a shared tag names every entry that lists it, and each platform comes from the
    entry that carries it. Only Windows entries of different OS versions (told apart by ``Constraints``) may share
    a tag and a platform; Docker then picks by the host's OS version.
    """
    entries = _entries(entries)
    bashbrew = _bashbrew(platform)
    if tag not in _all_tags(entries):
        raise OfficialImagesError("tag %r is not in this library; it has %s" % (tag, _some(_all_tags(entries))))
    return [entry for entry in entries if tag in _entry_tags(entry) and bashbrew in entry["architectures"]]


def official_image_entry(entries, tag, platform):
    """The one entry that provides ``tag`` on ``platform``; refuses, naming the platforms or tags that fit."""
    entries = _entries(entries)
    found = official_image_entries(entries, tag, platform)
    wanted = _platform(platform)
    if not found:
        raise OfficialImagesError("tag %r has no image for %s; it has %s" % (
            tag, wanted, ", ".join(official_image_platforms(entries, tag))))
    if len(found) > 1:
        raise OfficialImagesError(
            "tag %r gives %s from %d entries told apart by their Constraints (%s): Docker picks one by the host's OS "
            "version; to choose, use one of their own tags: %s"
            % (tag, wanted, len(found), "; ".join(", ".join(entry["constraints"]) or "none" for entry in found),
               ", ".join(entry["tags"][0] if entry["tags"] else entry["shared_tags"][0] for entry in found)))
    return found[0]


def official_image_platforms(entries, tag):
    """Canonical platforms (``linux/arm/v7``) that ``tag`` has an image for; a shared tag unites its entries."""
    entries = _entries(entries)
    platforms = []
    found = False
    for entry in entries:
        if tag in _entry_tags(entry):
            found = True
            for arch in entry["architectures"]:
                platform = _platform(arch)
                if platform not in platforms:
                    platforms.append(platform)
    if not found:
        raise OfficialImagesError("tag %r is not in this library; it has %s" % (tag, _some(_all_tags(entries))))
    return platforms


def _all_tags(entries):
    tags = []
    for entry in entries:
        tags.extend(tag for tag in _entry_tags(entry) if tag not in tags)
    return tags


def _prefer_releases(tags):
    """Drop pre-release tags (``19beta3``, ``13.0-rc``) from suggestions unless nothing else is left."""
    releases = [tag for tag in tags if not _PRERELEASE.search(tag)]
    return releases or tags


def _some(tags):
    if not tags:
        return "no tags"
    shown = ", ".join(tags[:_SHOWN_TAGS])
    if len(tags) > _SHOWN_TAGS:
        shown += ", ... (%d more)" % (len(tags) - _SHOWN_TAGS)
    return shown


def normalize_registry(registry):
    """``'Index.Docker.io'`` -> ``'docker.io'``; other hosts lower-cased and checked to be a registry host."""
    if registry is None:
        return DOCKER_HUB
    text = str(registry).strip().lower()
    if "://" in text:
        scheme, rest = text.split("://", 1)
        raise RegistryError("registry %r: give the host only, without '%s://' (e.g. %r)" % (registry, scheme, rest.rstrip("/")))
    text = text.rstrip("/")
    if text in DOCKER_HUB_HOSTS:
        return DOCKER_HUB
    if not _REGISTRY.match(text):
        raise RegistryError("registry %r is not a registry host[:port] (e.g. 'docker.io', 'ghcr.io', "
                            "'registry.lan:5000'); repository paths are chosen for you" % (registry,))
    if "." not in text and ":" not in text and text != "localhost":
        raise RegistryError("registry %r would be read as a Docker Hub namespace, not a host; give a host with a "
                            "domain or a port (e.g. %r or %r)" % (registry, text + ".lan", text + ":5000"))
    return text


def tag_naming_problems(tag):
    """How ``tag`` breaks the official-images tag rules (docker-library/official-images README); [] if it does not."""
    problems = []
    if not _TAG_GRAMMAR.match(tag):
        problems.append("%r is not a valid Docker tag (letters, digits, '_', '.', '-'; at most 128 characters; "
                        "not starting with '.' or '-')" % tag)
        return problems
    if tag != "latest" and "latest" in tag.lower():
        # 'latest' means "default"; the alias of the default's variant drops the word.
        suggestion = re.sub(r"(^|[-_.])latest(?=$|[-_.])", "", tag, flags=re.IGNORECASE).strip("-_.")
        problems.append("only the tag 'latest' may contain the word 'latest'%s"
                        % (" (the official form is %r)" % suggestion if suggestion else ""))
    for part in tag.split("-"):
        namespace = _architecture_namespace(part)
        if namespace:
            problems.append("names the architecture %r: official images publish one tag for every architecture and "
                            "keep single-architecture images in namespaces such as '%s/<image>'" % (part, namespace))
    return problems


def _architecture_namespace(word):
    """The bashbrew namespace of an architecture spelling (``aarch64`` -> ``arm64v8``), else None."""
    if not word or word[0].isdigit():
        return None
    try:
        platform = normalize_platform(word)
    except PlatformError:
        return None
    try:
        return to_bashbrew(platform)
    except PlatformError:
        return word


def _engine(engine):
    key = str(engine or "").strip().lower()
    if key not in DATABASE_ENGINES:
        raise DatabaseImageError("database engine %r is unknown; use one of %s"
                                 % (engine, ", ".join(sorted(DATABASE_ENGINES))))
    return DATABASE_ENGINES[key]


def database_image(platform, engine, tag, libraries, registry=DOCKER_HUB):
    """Pick ``library/<engine>:<tag>`` for ``platform`` or refuse, naming the engines and tags that fit.

    ``libraries`` maps engine names (aliases allowed) to library text or parsed entries.
    Returns ``{engine, repository, tag, ref, platform}``.
    """
    engine = _engine(engine)
    tag = "latest" if tag is None else str(tag).strip()
    wanted = _platform(platform)
    bashbrew = _bashbrew(wanted)
    try:
        host = normalize_registry(registry)
    except RegistryError as exc:
        raise DatabaseImageError(str(exc))

    parsed = {}
    for name, library in (libraries or {}).items():
        parsed[_engine(name)] = _entries(library, _engine(name))
    if engine not in parsed:
        raise DatabaseImageError("no official-images library was given for %r; pass its library file (%s are loaded)"
                                 % (engine, ", ".join(sorted(parsed)) or "none"))

    repository = "library/%s" % engine
    platforms = official_image_platforms(parsed[engine], tag) if tag in _all_tags(parsed[engine]) else None
    if platforms is not None and wanted in platforms:
        return {"engine": engine, "repository": repository, "tag": tag,
                "ref": "%s/%s:%s" % (host, repository, tag), "platform": wanted}

    if not parsed[engine]:
        reason = "%s has no tags at all (its library file keeps only the global entry, as for a deprecated image)" % (
            repository)
    elif platforms is None:
        reason = "%s has no tag %r" % (repository, tag)
    else:
        reason = "%s:%s has no image for %s (it has %s)" % (repository, tag, wanted, ", ".join(platforms))
    options = []
    # Tags of the same line first: '16' on arm/v6 should point at '16-alpine', not at the newest major.
    same = sorted(_prefer_releases(_tags_for(parsed[engine], bashbrew)),
                  key=lambda candidate: not candidate.startswith((tag + "-", tag + ".")))
    if same:
        options.append("another %s tag: %s" % (engine, _some(same)))
    for other in sorted(parsed):
        if other == engine:
            continue
        tags = _prefer_releases(_tags_for(parsed[other], bashbrew))
        if tags:
            options.append("%s (%s)" % (other, _some(tags)))
        else:
            reason += "; %s has no %s image either" % (other, wanted)
    options.append("sqlite (built into vaultwarden, no database server needed)")
    raise DatabaseImageError("%s. For %s use %s" % (reason, wanted, " or ".join(options)))
