# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each release tag of dani-garcia/vaultwarden published as container images, read from the tag's own files.

Re-run it whenever upstream tags a release (git and a clone are all it needs; no network once the clone exists):

    git clone --bare https://github.com/dani-garcia/vaultwarden.git /tmp/vaultwarden.git   # or `git fetch --tags`
    python3 -m tools.upstream.extract --git-dir /tmp/vaultwarden.git
    python3 -m tools.upstream.compare        # walks the image selection against the file just written

It writes ``tests/unit/fixtures/upstream/vaultwarden-releases.json`` (commit it); the unit tests read only that file.
Every fact in it carries the ``TAG:PATH[:LINE]`` it was read from (``git show TAG:PATH``). The extractor recognises the
build scheme a tag carries and fails loudly on files it does not understand, so a changed release process is noticed
on the next run instead of being guessed.

How the facts are derived, per build scheme:

``dockerfiles`` (0.9.0 - 1.15.x, Docker Hub automated builds without hooks)
    The images are the Dockerfiles the tag carries: ``Dockerfile[.alpine|.armv7|.aarch64|.armv6]`` at the root
    (up to 1.9.x), ``docker/<arch>/<database>/Dockerfile[.alpine]`` (1.10.0 - 1.15.x). Variant from the runtime
    stage's ``FROM``; databases from ``ARG DB=`` (before 1.10.0 there is no ``ARG DB`` and Cargo.toml has no database
    feature: SQLite only). amd64 builds were the ``X.Y.Z`` / ``X.Y.Z-alpine`` tags; the other architectures were
    single-architecture tags (``-raspberry``, ``-aarch64``, ``-armv6``), retired since. Which Dockerfile became which
    tag was set in Docker Hub's build settings, which are not in the repository: every push of this scheme is marked
    ``uncertain``, and so is the name of the ``-mysql`` / ``-postgresql`` repositories (first written in
    1.16.0:hooks/arches.sh).
``hooks`` (1.16.0 - 1.29.x, ``hooks/arches.sh``, ``hooks/build``, ``hooks/push``; from 1.23.0 run by
    ``.github/workflows/release.yml``)
    ``hooks/arches.sh`` is interpreted for each repository (``*-mysql`` / ``*-postgresql`` cases) and variant
    (``DOCKER_TAG`` ``X.Y.Z`` or ``X.Y.Z-alpine``); ``hooks/build``'s ``-f`` path gives the Dockerfile per architecture
    (with the ``.buildx`` / ``.buildkit`` suffix when the release workflow sets ``DOCKER_BUILDKIT``); ``hooks/push``'s
    architecture-to-platform map gives the platforms. The tags pushed follow ``hooks/push``: the manifest list
    ``DOCKER_TAG`` plus ``latest`` / ``alpine`` for release tags, the kept or re-pushed ``X.Y.Z-arm32v6`` tag and
    ``latest-arm32v6``, and a push that ``set -e`` stops (1.16.2 tagging a missing arm32v6 image) is recorded under
    ``not_published``. Registries: Docker Hub, plus ghcr.io and quay.io when the workflow pushes to them, with the
    repository paths of the README's badges.
``bake`` (1.30.0 - , ``docker/docker-bake.hcl`` and ``.github/workflows/release.yml``)
    The ``<variant>-multi`` targets the workflow bakes give Dockerfile and platforms (the workflow's ``matrix.arch``
    when it sets ``*.platform``); the tags are the workflow's ``BASE_TAGS`` expanded as the workflow and
    ``generate_tags`` expand them. Targets the workflow never bakes (``debian-386`` ...) are ``not_published``.

Known-broken images cannot be read from build files; ``KNOWN_BROKEN`` below lists them with their issue numbers, and
the commit that fixed each is looked up in the history.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUTPUT = os.path.join(ROOT, "tests", "unit", "fixtures", "upstream", "vaultwarden-releases.json")
DATABASES = ("sqlite", "mysql", "postgresql")
RELEASE_TAG = re.compile(r"^[0-9]+\.[0-9]+(?:\.[0-9]+)?$")

# Architecture spellings of the build files (directory names, Dockerfile suffixes), before hooks/push mapped them.
PLATFORM_OF_ARCH = {
    "amd64": "linux/amd64",
    "aarch64": "linux/arm64",
    "armv7": "linux/arm/v7",
    "armv6": "linux/arm/v6",
}
# Docker Hub build settings named the per-architecture tags of the ``dockerfiles`` scheme (the fact sheet's names).
LEGACY_TAG_OF_ARCH = {"armv7": "raspberry", "aarch64": "aarch64", "armv6": "armv6"}
# Why a push is uncertain; pushes name a key, the file lists the texts once.
UNCERTAIN = {
    "docker-hub-rules": "Docker Hub automated builds pushed this image; which Dockerfile became which tag was set in "
                        "Docker Hub's build settings, which are not in the repository (tag names as the fact sheet "
                        "gives them)",
    "backend-repository-name": "the -mysql / -postgresql repository names are first written in "
                               "1.16.0:hooks/arches.sh (*-mysql, *-postgresql)",
    "legacy-removed": "per-architecture tags were removed from Docker Hub later (the moving ones by 2021-01-14; when the "
                      "versioned ones went is not recorded)",
    "set-e": "derived from the script's `set -e`; the failed build itself is not recorded",
}

# Images that were published but do not work; the issue is the evidence, the fixing commit is looked up.
KNOWN_BROKEN = (
    {"tag": "1.25.0", "variant": "debian", "platform": "linux/arm/v6", "issue": "dani-garcia/vaultwarden#2490",
     "problem": "the Debian arm/v6 image cannot start (its dynamic linker symlink is missing)", "grep": "Resolves #2490"},
    {"tag": "1.29.2", "variant": "debian", "platform": "linux/arm/v6", "issue": "dani-garcia/vaultwarden#3839",
     "problem": "the Debian arm/v6 image does not start", "grep": "#3839"},
)


class ExtractError(Exception):
    """A tag's files do not match any build scheme this extractor understands."""


class Git:
    def __init__(self, git_dir):
        self.git_dir = git_dir

    def run(self, *args):
        result = subprocess.run(("git", "--git-dir", self.git_dir) + args, check=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        return result.stdout.decode("utf-8", "replace")

    def release_tags(self):
        names = [name for name in self.run("tag", "--list").split() if RELEASE_TAG.match(name)]
        return sorted(names, key=version_key)


def version_key(name):
    parts = [int(part) for part in name.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


class Tag:
    """One release tag's tree, read lazily."""

    def __init__(self, git, name):
        self.git = git
        self.name = name
        self._tree = None
        self._texts = {}
        self.dockerfiles = {}

    @property
    def tree(self):
        if self._tree is None:
            self._tree = {}
            for line in self.git.run("ls-tree", "-r", self.name).splitlines():
                meta, path = line.split("\t", 1)
                mode, _kind, sha = meta.split()
                self._tree[path] = (mode, sha)
        return self._tree

    def has(self, path):
        """A regular file (symlinks such as 1.10.0's root ``Dockerfile`` only point at another build file)."""
        return path in self.tree and self.tree[path][0] != "120000"

    def read(self, path):
        if path not in self._texts:
            if not self.has(path):
                raise ExtractError("%s has no file %s" % (self.name, path))
            self._texts[path] = self.git.run("cat-file", "blob", self.tree[path][1])
        return self._texts[path]

    def ref(self, path, line=None):
        return "%s:%s" % (self.name, path) + (":%d" % line if line else "")

    def line_of(self, path, pattern, start=0):
        """``TAG:PATH:LINE`` of the first match of ``pattern`` at or after character ``start``."""
        text = self.read(path)
        match = re.compile(pattern, re.M).search(text, start)
        if not match:
            raise ExtractError("%s: no match for %r" % (self.ref(path), pattern))
        return self.ref(path, text.count("\n", 0, match.start()) + 1)


def canonical_platform(text):
    return "linux/arm64" if text in ("linux/arm64/v8", "linux/arm64") else text


# --- shell, as far as the build files use it -------------------------------------------------------------------

def expand(template, variables):
    """Expand ``${NAME}``, ``${NAME#glob}`` and ``${NAME//text/replacement}`` the way bash does."""
    def replace(match):
        body = match.group(1)
        plain = re.match(r"^(\w+)$", body)
        if plain:
            return variables[plain.group(1)]
        prefix = re.match(r"^(\w+)#([^#].*)$", body)
        if prefix:
            value = variables[prefix.group(1)]
            for end in range(len(value) + 1):
                if fnmatch.fnmatchcase(value[:end], prefix.group(2)):
                    return value[end:]
            return value
        substitute = re.match(r"^(\w+)//([^*?\[/]+)/(.*)$", body)
        if substitute:
            return variables[substitute.group(1)].replace(substitute.group(2), substitute.group(3))
        raise ExtractError("cannot expand ${%s}" % body)
    return re.sub(r"\$\{([^}]*)\}", replace, template)


def run_arches(text, where, env):
    """Interpret hooks/arches.sh (arrays, assignments, ``case``, ``if [[ "${X}" == glob ]]``) for one environment."""
    env = dict(env)
    frames = []  # [kind, active, matched]
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index].split("#", 1)[0].strip() if not lines[index].strip().startswith("#!") else ""
        index += 1
        running = all(frame[1] for frame in frames)
        if not line or line.startswith("export "):
            continue
        array = re.match(r"^(\w+)=\((.*)$", line)
        if array:
            items, rest = [], array.group(2)
            while ")" not in rest:
                items += rest.split()
                if index >= len(lines):
                    raise ExtractError("%s: array %s is not closed" % (where, array.group(1)))
                rest = lines[index].split("#", 1)[0].strip()
                index += 1
            items += rest.split(")", 1)[0].split()
            if running:
                env[array.group(1)] = items
            continue
        case = re.match(r'^case "\$\{(\w+)\}" in$', line)
        if case:
            frames.append(["case", False, False, env.get(case.group(1), "")])
            continue
        if frames and frames[-1][0] == "case":
            pattern = re.match(r"^(\S+)\)$", line)
            if pattern:
                frame = frames[-1]
                frame[1] = not frame[2] and fnmatch.fnmatchcase(frame[3], pattern.group(1))
                frame[2] = frame[2] or frame[1]
                continue
            if line == ";;":
                frames[-1][1] = False
                continue
            if line == "esac":
                frames.pop()
                continue
        condition = re.match(r'^if \[\[ "\$\{(\w+)\}" == (\S+) \]\]; then$', line)
        if condition:
            frames.append(["if", fnmatch.fnmatchcase(env.get(condition.group(1), ""), condition.group(2)), False])
            continue
        if line == "fi" and frames and frames[-1][0] == "if":
            frames.pop()
            continue
        assignment = re.match(r"^(\w+)=(\S*)$", line)
        if assignment:
            if running:
                env[assignment.group(1)] = assignment.group(2).strip("\"'")
            continue
        raise ExtractError("%s line %d: %r is not understood; teach run_arches() this construct" % (where, number, line))
    if frames:
        raise ExtractError("%s: unclosed %s" % (where, frames[-1][0]))
    return env


# --- facts of one Dockerfile -----------------------------------------------------------------------------------

def dockerfile_facts(tag, path):
    text = tag.read(path)
    froms = [(number, line) for number, line in enumerate(text.splitlines(), 1) if re.match(r"^\s*FROM\s", line, re.I)]
    if not froms:
        raise ExtractError("%s has no FROM" % tag.ref(path))
    number, runtime = froms[-1]
    image = [word for word in runtime.split()[1:] if not word.startswith("--")][0]
    if "alpine" in image:
        variant = "alpine"
    elif "debian" in image:
        variant = "debian"
    else:
        raise ExtractError("%s: cannot tell the variant of runtime image %r" % (tag.ref(path, number), image))
    evidence = ["%s (runtime %s)" % (tag.ref(path, number), image)]
    argument = re.search(r"^\s*ARG DB=(\S+)", text, re.M)
    if argument:
        databases = [name for name in DATABASES if name in argument.group(1).split(",")]
        evidence.append("%s (ARG DB=%s)" % (tag.line_of(path, r"^\s*ARG DB="), argument.group(1)))
    else:
        features = tag.read("Cargo.toml")
        if re.search(r"^(mysql|postgresql|sqlite)\s*=", features, re.M):
            raise ExtractError("%s has database features but no ARG DB" % tag.ref(path))
        databases = ["sqlite"]
        evidence.append("%s (no ARG DB; Cargo.toml has no database features: SQLite only)" % tag.ref(path))
    capabilities = sorted(set(name.upper() for name in re.findall(r"setcap\s+cap_(\w+)=", text)))
    if capabilities:
        evidence.append("%s (setcap %s)" % (tag.line_of(path, r"setcap\s+cap_"), ", ".join(capabilities).lower()))
    return {"variant": variant, "databases": databases, "setcap": capabilities, "evidence": evidence}


def image_entry(tag, path, platform, expected_variant):
    """``(platform, Dockerfile)`` of one image; the Dockerfile's facts are kept once per release (``dockerfiles``)."""
    facts = dockerfile_facts(tag, path)
    if facts["variant"] != expected_variant:
        raise ExtractError("%s builds %s, expected %s" % (tag.ref(path), facts["variant"], expected_variant))
    tag.dockerfiles[path] = facts
    return platform, path


def readme_repositories(tag):
    """Repository per registry, from the README of the tag (``docker pull`` line and badges)."""
    text = tag.read("README.md")
    found = {}
    for registry, pattern, build in (
            ("docker.io", r"docker pull ([a-z0-9]+/[a-z0-9_-]+):latest", lambda m: m.group(1)),
            ("ghcr.io", r"github\.com/dani-garcia/vaultwarden/pkgs/container/([\w-]+)",
             lambda m: "dani-garcia/" + m.group(1)),
            ("quay.io", r"quay\.io/repository/([\w-]+/[\w-]+)", lambda m: m.group(1))):
        match = re.search(pattern, text)
        if match:
            found[registry] = (build(match), tag.line_of("README.md", pattern))
    if "docker.io" not in found:
        raise ExtractError("%s names no Docker Hub repository" % tag.ref("README.md"))
    return found


def push(registry, repository, variant, kind, tags, images, evidence, uncertain=None):
    """One tag set pushed to one repository: ``images`` maps each platform to the Dockerfile that built it."""
    entry = {"registry": registry, "repository": repository, "variant": variant, "kind": kind, "tags": tags,
             "images": dict(images), "evidence": evidence}
    if uncertain:
        entry["uncertain"] = uncertain
    return entry


# --- scheme 1: Dockerfiles built by Docker Hub -----------------------------------------------------------------

def dockerfiles_scheme(tag, repositories):
    hub, hub_evidence = repositories["docker.io"]
    pushes = []
    for path in sorted(tag.tree):
        if not tag.has(path):
            continue
        root = re.match(r"^Dockerfile(?:\.(alpine|armv7|aarch64|armv6))?$", path)
        nested = re.match(r"^docker/(amd64|armv7|aarch64|armv6)/(sqlite|mysql|postgresql)/Dockerfile(\.alpine)?$", path)
        if root:
            suffix = root.group(1)
            arch = "amd64" if suffix in (None, "alpine") else suffix
            variant, database = ("alpine" if suffix == "alpine" else "debian"), None
        elif nested:
            arch, database, variant = nested.group(1), nested.group(2), ("alpine" if nested.group(3) else "debian")
        else:
            continue
        image = image_entry(tag, path, PLATFORM_OF_ARCH[arch], variant)
        evidence = [hub_evidence + " (repository %s)" % hub]
        uncertain = ["docker-hub-rules"]
        repository = hub
        if database is not None:
            if tag.dockerfiles[path]["databases"] != [database]:
                raise ExtractError("%s builds %s" % (tag.ref(path), tag.dockerfiles[path]["databases"]))
            if database != "sqlite":
                repository = "%s-%s" % (hub, database)
                uncertain.append("backend-repository-name")
        if arch == "amd64":
            tags = [tag.name + ("-alpine" if variant == "alpine" else "")]
            pushes.append(push("docker.io", repository, variant, "image", tags, [image], evidence, uncertain))
        else:
            if variant != "debian":
                raise ExtractError("%s: a per-architecture Alpine build is not expected" % tag.ref(path))
            legacy = LEGACY_TAG_OF_ARCH[arch]
            pushes.append(push("docker.io", repository, variant, "legacy", ["%s-%s" % (tag.name, legacy), legacy],
                               [image], evidence, uncertain + ["legacy-removed"]))
    if not pushes:
        raise ExtractError("%s has no Dockerfile this extractor knows" % tag.name)
    return pushes, []


# --- scheme 2: hooks/ (Docker Hub, then GitHub Actions) --------------------------------------------------------

def _push_platforms(tag, text):
    mapping = {}
    for arch, os_name, architecture, variant in re.findall(
            r'\[(\w+)\]="--os (\w+) --arch (\w+)(?: --variant (\w+))?"', text):
        mapping[arch] = canonical_platform("/".join(part for part in (os_name, architecture, variant) if part))
    for arch, platform in re.findall(r'\[(\w+)\]="(linux/[\w/]+)"', text):
        mapping[arch] = canonical_platform(platform)
    if not mapping:
        raise ExtractError("%s maps no architecture to a platform" % tag.ref("hooks/push"))
    return mapping


def _release_registries(tag, release, repositories):
    """(registry, repository, evidence) the release workflow pushes to; Docker Hub alone without a workflow."""
    hub, hub_evidence = repositories["docker.io"]
    if release is None:
        return [("docker.io", hub, [hub_evidence + " (repository %s)" % hub])]
    found = []
    for registry, variable in (("docker.io", "DOCKERHUB_REPO"), ("ghcr.io", "GHCR_REPO"), ("quay.io", "QUAY_REPO")):
        if re.search(r"(vars|secrets)\.%s\b" % variable, release):
            if registry not in repositories:
                raise ExtractError("%s pushes to %s but the README names no repository there" % (tag.name, registry))
            repository, readme = repositories[registry]
            found.append((registry, repository, [
                "%s (%s)" % (tag.line_of(".github/workflows/release.yml", r"(vars|secrets)\.%s\b" % variable), variable),
                readme + " (repository %s)" % repository]))
    return found


def hooks_scheme(tag, repositories):
    arches_text = tag.read("hooks/arches.sh")
    build = tag.read("hooks/build")
    push_text = tag.read("hooks/push")
    workflow = ".github/workflows/release.yml"
    release = tag.read(workflow) if tag.has(workflow) else None
    platform_of = _push_platforms(tag, push_text)

    build_env = {}
    buildkit = release is not None and re.search(r"^\s*DOCKER_BUILDKIT:\s*1\b", release, re.M)
    switch = re.search(r'if \[\[ -n "\$\{DOCKER_BUILDKIT\}" \]\]; then\s*\n\s*(\w+)=(\S+)', build)
    if buildkit and switch:
        build_env[switch.group(1)] = switch.group(2)
    file_template = re.search(r'-f\s+"?(docker/[^"\s\\]+)"?', build)
    if not file_template:
        raise ExtractError("%s has no -f docker/... Dockerfile path" % tag.ref("hooks/build"))

    if release is not None:
        tag_source = tag.line_of(workflow, r"DOCKER_TAG(::|=)\$\{GITHUB_REF#refs/\*/\}")
        alpine_source = tag.line_of(workflow, r'DOCKER_TAG: "\$\{\{\s*steps\.vars\.outputs\.DOCKER_TAG\s*\}\}-alpine"')
    else:
        tag_source = alpine_source = "Docker Hub build settings (DOCKER_TAG), as %s expects" % tag.line_of(
            "hooks/push", r"DOCKER_TAG\}\" =~")
    version_pattern = re.search(r'"\$\{DOCKER_TAG\}" =~ (\S+) \]\]', push_text).group(1)
    aliases = {variant: alias for variant, alias in (("alpine", "alpine"), ("debian", "latest"))
               if re.search(r"\$\{DOCKER_REPO\}:%s\b" % alias, push_text)}
    manifest_style = "docker manifest create" in push_text
    buildx_style = "docker buildx build" in push_text
    keeps_arm32v6 = re.search(r"if \[\[ \$\{arch\} == 'arm32v6' \]\]; then\s*\n\s*continue", push_text)
    deletes = "-X DELETE" in push_text
    latest_arm32v6 = re.search(r'docker tag "\$\{DOCKER_REPO\}:\$\{DOCKER_TAG\}-arm32v6" "\$\{DOCKER_REPO\}:latest-arm32v6"',
                               push_text)
    guard = re.search(r'if \[\[ \$\{DOCKER_REPO\} == (\S+) \]\]; then\s*\n\s*docker tag "\$\{DOCKER_REPO\}:\$\{DOCKER_TAG\}'
                      r'-arm32v6"', push_text)
    repush_arm32v6 = re.search(r'if \[\[ "\$\{DOCKER_TAG\}" != \*alpine \]\]; then\s*\n\s*image="\$\{DOCKER_REPO\}":'
                               r'"\$\{DOCKER_TAG\}"', push_text) and '"${image}"-arm32v6' in push_text
    if manifest_style == buildx_style:
        raise ExtractError("%s: neither manifest lists nor buildx, or both" % tag.ref("hooks/push"))

    pushes, not_published = [], []
    suffixes = [""] + ["-" + name for name in re.findall(r"^\s*\*-(\w+)\)", arches_text, re.M)]
    for registry, base, registry_evidence in _release_registries(tag, release, repositories):
        for suffix in suffixes:
            repository = base + suffix
            for variant, docker_tag, source in (("debian", tag.name, tag_source),
                                                ("alpine", tag.name + "-alpine", alpine_source)):
                env = run_arches(arches_text, tag.ref("hooks/arches.sh"),
                                 {"DOCKER_REPO": "index.docker.io/" + repository, "DOCKER_TAG": docker_tag})
                env.update(build_env)
                images = []
                for arch in env["arches"]:
                    # Variables the hooks leave unset expand to '' (no suffix), as in bash.
                    variables = dict((name, "") for name in re.findall(r"\$\{(\w+)\}", file_template.group(1)))
                    variables.update((key, value) for key, value in env.items() if isinstance(value, str))
                    variables["arch"] = arch
                    path = expand(file_template.group(1), variables)
                    images.append(image_entry(tag, path, platform_of[arch], variant))
                evidence = registry_evidence + [
                    "%s (arches=%s)" % (tag.ref("hooks/arches.sh"), " ".join(env["arches"])),
                    tag.line_of("hooks/build", r"-f\s+\"?docker/"), "DOCKER_TAG %s: %s" % (docker_tag, source)]
                tags = [docker_tag]
                is_release = re.match(version_pattern, docker_tag) is not None
                if is_release and variant in aliases:
                    tags.append(aliases[variant])
                    evidence.append(tag.line_of("hooks/push", r"\$\{DOCKER_REPO\}:%s\b" % aliases[variant]))
                arm32v6_tags = []
                arm32v6_image = [image for image in images if image[0] == "linux/arm/v6"]
                if manifest_style:
                    arm_arch = "arm32v6" in env["arches"]
                    if latest_arm32v6 and is_release and variant == "debian" and (
                            guard is None or fnmatch.fnmatchcase(env["DOCKER_REPO"], guard.group(1))):
                        if not arm_arch:
                            # `set -ex`: tagging an image that was never built ends the hook before the manifests.
                            not_published.append({
                                "registry": registry, "repository": repository, "variant": variant, "tags": tags,
                                "images": dict(images),
                                "reason": "hooks/push tags %s-arm32v6 as latest-arm32v6, but this repository builds "
                                          "no arm32v6 image (arches=%s), so `set -e` ended the push before the manifest "
                                          "lists" % (docker_tag, " ".join(env["arches"])),
                                "evidence": [tag.line_of("hooks/push", r"latest-arm32v6\"$"),
                                             tag.line_of("hooks/push", r"^set -ex")],
                                "uncertain": ["set-e"]})
                            continue
                        arm32v6_tags.append("latest-arm32v6")
                    if arm_arch and (keeps_arm32v6 or not deletes):
                        arm32v6_tags.insert(0, docker_tag + "-arm32v6")
                        evidence.append(tag.line_of("hooks/push", r"if \[\[ \$\{arch\} == 'arm32v6' \]\]"))
                elif repush_arm32v6 and variant == "debian":
                    arm32v6_tags.append(docker_tag + "-arm32v6")
                    if is_release:
                        arm32v6_tags.append("latest-arm32v6")
                    evidence.append(tag.line_of("hooks/push", r'"\$\{image\}"-arm32v6'))
                pushes.append(push(registry, repository, variant, "manifest", tags, images, evidence))
                if arm32v6_tags:
                    if len(arm32v6_image) != 1:
                        raise ExtractError("%s: arm32v6 tags without an arm/v6 image" % tag.name)
                    pushes.append(push(registry, repository, variant, "arm32v6", arm32v6_tags, arm32v6_image,
                                       list(evidence)))
    return pushes, not_published


# --- scheme 3: docker buildx bake ------------------------------------------------------------------------------

def parse_bake_targets(tag):
    text = tag.read("docker/docker-bake.hcl")
    targets = {}
    for match in re.finditer(r'^target "([\w-]+)" \{\n(.*?)^\}', text, re.M | re.S):
        body = match.group(2)
        target = {"line": text.count("\n", 0, match.start()) + 1}
        for field in ("dockerfile",):
            value = re.search(r'^\s*%s\s*=\s*"([^"]+)"' % field, body, re.M)
            if value:
                target[field] = value.group(1)
        for field in ("inherits", "platforms"):
            value = re.search(r"^\s*%s\s*=\s*\[([^\]]*)\]" % field, body, re.M)
            if value:
                target[field] = re.findall(r'"([^"]+)"', value.group(1))
        tags = re.search(r'^\s*tags\s*=\s*generate_tags\("([^"]*)",\s*"([^"]*)"\)', body, re.M)
        if tags:
            target["suffix"], target["platform_tag"] = tags.groups()
        targets[match.group(1)] = target
    return targets


def _resolved(targets, name, field):
    target = targets[name]
    if field in target:
        return target[field]
    for parent in target.get("inherits", []):
        value = _resolved(targets, parent, field)
        if value is not None:
            return value
    return None


def _tag_branch_base_tags(text, start=0):
    match = re.compile(r'== "tag" \]\]; then\s*\n\s*echo "BASE_TAGS=([^"]+)"').search(text, start)
    if not match:
        raise ExtractError("no BASE_TAGS for tag builds")
    return match


def bake_scheme(tag, repositories):
    workflow = ".github/workflows/release.yml"
    release = tag.read(workflow)
    targets = parse_bake_targets(tag)
    if not re.search(r'targets:\s*"\$\{\{ matrix\.base_image \}\}-multi"', release):
        raise ExtractError("%s does not bake <base_image>-multi" % tag.ref(workflow))
    variants = re.findall(r'"(\w+)"', re.search(r"base_image:\s*\[([^\]]*)\]", release).group(1))
    arch_override = "*.platform=linux/${{ matrix.arch }}" in release
    if arch_override:
        matrix_arches = re.findall(r'"([\w/]+)"', re.search(r"^\s*arch:\s*\[([^\]]*)\]", release, re.M).group(1))
    by_digest = "push-by-digest=true" in release
    hcl_tags = tag.read("docker/docker-bake.hcl")
    alpine_rule = re.search(r'base_tag == "latest" \? suffix == "-alpine" \? \["\$\{registry\}:alpine\$\{platform\}"\]',
                            hcl_tags)
    default_rule = re.search(r'"\$\{registry\}:\$\{base_tag\}\$\{suffix\}\$\{platform\}"', hcl_tags)
    github_ref = {"GITHUB_REF": "refs/tags/" + tag.name}

    pushes = []
    published_platforms = set()
    for registry, repository, registry_evidence in _release_registries(tag, release, repositories):
        for variant in variants:
            name = variant + "-multi"
            dockerfile = _resolved(targets, name, "dockerfile")
            platforms = ["linux/" + arch for arch in matrix_arches] if arch_override else _resolved(targets, name, "platforms")
            images = [image_entry(tag, dockerfile, canonical_platform(platform), variant) for platform in platforms]
            published_platforms.update(platform for platform, _path in images)
            evidence = registry_evidence + ["%s (target %s, %s)" % (
                tag.ref("docker/docker-bake.hcl", targets[name]["line"]), name, dockerfile)]
            if arch_override:
                evidence.append(tag.line_of(workflow, r"^\s*arch:\s*\[") + " (matrix.arch, *.platform)")
            if by_digest:
                merge = release.index("merge-manifests:")
                base = _tag_branch_base_tags(release, merge)
                image_tag = re.search(r"BASE_IMAGE_TAG: \"\$\{\{ matrix\.base_image != 'debian' && format\('-\{0\}', "
                                      r"matrix\.base_image\) \|\| '' \}\}\"", release)
                if not image_tag:
                    raise ExtractError("%s: BASE_IMAGE_TAG is not the known expression" % tag.ref(workflow))
                variables = dict(github_ref, BASE_IMAGE_TAG="" if variant == "debian" else "-" + variant)
                template = re.search(r'-t"?\s+"\$\{img\}:([^"]+)"', release).group(1)
                tags = [expand(template, dict(variables, tag=base_tag))
                        for base_tag in expand(base.group(1), variables).split(",") if base_tag]
                evidence += [tag.line_of(workflow, re.escape(base.group(0).splitlines()[-1].strip())),
                             tag.line_of(workflow, r'-t"?\s+"\$\{img\}:')]
            else:
                if not default_rule:
                    raise ExtractError("%s: generate_tags has no known rule" % tag.ref("docker/docker-bake.hcl"))
                base = _tag_branch_base_tags(release)
                suffix = targets[name]["suffix"]
                tags = []
                for base_tag in expand(base.group(1), github_ref).split(","):
                    if alpine_rule and base_tag == "latest" and suffix == "-alpine":
                        tags.append("alpine")
                    tags.append(base_tag + suffix + targets[name]["platform_tag"])
                evidence += [tag.line_of(workflow, re.escape(base.group(0).splitlines()[-1].strip())),
                             tag.line_of("docker/docker-bake.hcl", r'function "generate_tags"')]
                if alpine_rule:
                    evidence.append(tag.line_of("docker/docker-bake.hcl", r'base_tag == "latest" \? suffix'))
            pushes.append(push(registry, repository, variant, "manifest", tags, images, evidence))
    not_published = []
    for name, target in sorted(targets.items()):
        for platform in _resolved(targets, name, "platforms") or ():
            platform = canonical_platform(platform)
            if platform not in published_platforms and platform not in [entry["platform"] for entry in not_published]:
                not_published.append({"platform": platform, "reason": "target %s is never baked by the release "
                                      "workflow" % name, "evidence": [tag.ref("docker/docker-bake.hcl", target["line"])]})
    return pushes, not_published


# --- the whole history -----------------------------------------------------------------------------------------

def scheme_of(tag):
    if tag.has("docker/docker-bake.hcl"):
        return "bake", bake_scheme
    if tag.has("hooks/push"):
        return "hooks", hooks_scheme
    return "dockerfiles", dockerfiles_scheme


def known_broken(git, tags):
    rows = []
    for row in KNOWN_BROKEN:
        if row["tag"] not in tags:
            raise ExtractError("known-broken release %s is not a tag" % row["tag"])
        evidence = ["issue %s" % row["issue"]]
        commits = git.run("log", "--all", "--format=%h %s", "--grep", row["grep"]).splitlines()
        for line in commits:
            sha = line.split()[0]
            first = [name for name in git.run("tag", "--contains", sha).split() if RELEASE_TAG.match(name)]
            first = min(first, key=version_key) if first else None
            evidence.append("commit %s (%s); first in %s" % (line, row["grep"], first))
        entry = dict((key, row[key]) for key in ("tag", "variant", "platform", "issue", "problem"))
        entry["evidence"] = evidence
        rows.append(entry)
    return rows


def moby_fix(git, tags):
    """The Docker release that fixed moby/moby#41017, as upstream's hooks/push wrote it."""
    for name in tags:
        tag = Tag(git, name)
        if tag.has("hooks/push"):
            match = re.search(r"fixed starting in Docker (\d+\.\d+\.\d+)", tag.read("hooks/push"))
            if match:
                return {"issue": "moby/moby#41017", "fixed_in": match.group(1),
                        "evidence": tag.line_of("hooks/push", r"fixed starting in Docker")}
    raise ExtractError("no hooks/push names the Docker release that fixed moby/moby#41017")


def extract(git_dir):
    git = Git(git_dir)
    names = git.release_tags()
    releases = []
    for name in names:
        tag = Tag(git, name)
        scheme, reader = scheme_of(tag)
        pushes, not_published = reader(tag, readme_repositories(tag))
        releases.append({"tag": name, "commit": git.run("rev-list", "-n", "1", name).strip(),
                         "date": git.run("log", "-1", "--format=%cs", name).strip(), "scheme": scheme,
                         "pushes": pushes, "not_published": not_published,
                         "dockerfiles": dict((path, tag.dockerfiles[path]) for path in sorted(tag.dockerfiles))})
    return {
        "about": "What each release tag of dani-garcia/vaultwarden published as container images, read from the "
                 "tag's own build files by tools/upstream/extract.py (its docstring says how). Evidence is TAG:PATH"
                 "[:LINE] for `git show TAG:PATH`. Pushes of kind 'legacy' are per-architecture tags retired since; "
                 "'arm32v6' ones are the single-architecture work-around tags for moby/moby#41017.",
        "source": {"repository": "https://github.com/dani-garcia/vaultwarden", "release_tags": len(names),
                   "newest": names[-1], "newest_commit": releases[-1]["commit"]},
        "uncertain": UNCERTAIN,
        "moby_41017": moby_fix(git, names),
        "known_broken": known_broken(git, names),
        "releases": releases,
    }


def _dump(value, indent=0):
    """JSON with one push, image or evidence line per line: reviewable in a diff, a fraction of indent=1's size."""
    pad = " " * indent
    if isinstance(value, dict) and any(isinstance(item, (dict, list)) and item and not _flat(item)
                                       for item in value.values()):
        items = ["%s %s: %s" % (pad, json.dumps(key), _dump(item, indent + 1)) for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and not _flat(value):
        items = ["%s %s" % (pad, _dump(item, indent + 1)) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value)


def _flat(value):
    items = value.values() if isinstance(value, dict) else value
    return all(not isinstance(item, (dict, list)) or not item or (
        isinstance(item, list) and all(not isinstance(inner, (dict, list)) for inner in item)) for item in items) \
        and not (isinstance(value, dict) and ("images" in value or "evidence" in value and "variant" in value))


def write(data, output):
    text = _dump(data)
    if json.loads(text) != data:
        raise ExtractError("the JSON writer changed the data")
    with open(output, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--git-dir", required=True, help="a clone (bare or not: its .git) of dani-garcia/vaultwarden")
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    try:
        data = extract(args.git_dir)
    except ExtractError as exc:
        print("extract: %s" % exc, file=sys.stderr)
        return 1
    write(data, args.output)
    print("%d release tags (%s to %s) written to %s" % (
        len(data["releases"]), data["releases"][0]["tag"], data["releases"][-1]["tag"], os.path.relpath(args.output)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
