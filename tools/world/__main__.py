# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python3 -m tools.world build|start|stop|status|move-tag|reset-tags|clean"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time

from . import config, engine_cache, images, layout, prereqs, progress, publish, registry
from .progress import clock
from .util import WorldError, log, step

# A cold build (empty cache) must fit here on a 2-core machine (docs/testing.md).
COLD_BUILD_BUDGET = 600


@contextlib.contextmanager
def _build_lock():
    """One build at a time per cache (two checkouts may share it); a second build waits for the first."""
    os.makedirs(config.CACHE_DIR, exist_ok=True)
    with open(config.path("build.lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("another build holds %s; waiting for it" % config.path("build.lock"))
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def cmd_build(args) -> None:
    started = time.monotonic()
    os.makedirs(config.CACHE_DIR, exist_ok=True)
    progress.configure(config.path("timings.json"))
    with step("prerequisites (apt packages, binfmt F flag%s)" % ("" if args.images_only else ", Docker engine")):
        prereqs.ensure_all()
        if not args.images_only:
            prereqs.ensure_docker()
    with _build_lock():
        _build(args, started)


def _build(args, started: float) -> None:
    builds = images.all_builds()
    # Working containers can only be left over by an interrupted build: this one holds the lock.
    images.remove_working_containers()
    built = images.Builder(args.jobs, progress.REPORTER.timings).run(builds)
    images.prune()
    images_done = time.monotonic() - started
    if built:
        _record_build(built, len(builds), images_done)
    if args.images_only:
        log("images ready in %s (--images-only: registry, publishing and the Docker engine left alone)" % clock(images_done))
        return
    registry.start()
    if publish.published() and registry.Client().get_manifest("vaultwarden/server", layout.VAULTWARDEN_TESTING):
        log("registry content is current (moved tags are kept; `reset-tags` restores the default layout)")
        publish.prune()
    else:
        with step("publish repositories and tags to %s" % config.REGISTRY, key="publish") as publishing:
            counts = publish.publish_all(progress=publishing)
        engine_cache.forget_pulled_images()
        for repository, count in sorted(counts.items()):
            log("  %-32s %3d tags" % (repository, count))
    with step("fleet host images in the Docker engine", key="fleet images"):
        publish.load_fleet_images()
    total = time.monotonic() - started
    if built:
        _record_build(built, len(builds), images_done, total)
    log("world ready in %s (cache %s)" % (clock(total), config.CACHE_DIR))
    if built == len(builds):
        log("cold build: %s against a budget of %s (%s)" % (
            clock(total), clock(COLD_BUILD_BUDGET), "within" if total <= COLD_BUILD_BUDGET else "OVER BUDGET"))


def _record_build(built: int, total_images: int, images_seconds: float, seconds: float | None = None) -> None:
    """The last build that built something, for `timings` (and tools/test-all.sh's summary)."""
    progress.REPORTER.timings.put_record("last_build", {
        "images_built": built, "images_total": total_images, "images_seconds": round(images_seconds, 1),
        "seconds": round(seconds, 1) if seconds is not None else None, "cold": built == total_images,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
    })


def cmd_timings(_args) -> int:
    """The last build that built images, per step, against the cold-build budget."""
    timings = progress.Timings(config.path("timings.json"))
    last = timings.record("last_build")
    if not last:
        print("no build recorded in %s" % config.path("timings.json"))
        return 1
    seconds = last["seconds"] if last.get("seconds") is not None else last["images_seconds"]
    print("last world build (%s): %d of %d images built in %s%s" % (
        last["finished"], last["images_built"], last["images_total"], clock(seconds),
        "" if last.get("seconds") is not None else " (--images-only)"))
    if last.get("cold"):
        print("  cold build, budget %s: %s" % (clock(COLD_BUILD_BUDGET), "within" if seconds <= COLD_BUILD_BUDGET else "OVER BUDGET"))
    for key, value in sorted(timings.data["steps"].items()):
        counts = ", ".join("%d %s" % (n, unit) for unit, n in sorted((value.get("counts") or {}).items()))
        print("  %-28s %9s%s" % (key, clock(value.get("seconds", 0)), "  (%s)" % counts if counts else ""))
    return 0


def cmd_start(_args) -> None:
    pid = registry.start()
    log("registry running on %s (pid %d)" % (config.REGISTRY, pid))


def cmd_stop(_args) -> None:
    log("registry stopped" if registry.stop() else "registry was not running")


def cmd_status(_args) -> int:
    pid = registry.running_pid()
    up = registry.answering()
    print("cache:    %s" % config.CACHE_DIR)
    print("registry: %s" % ("running on %s (pid %s)" % (config.REGISTRY, pid) if pid and up else
                            "NOT ours but something answers on %s" % config.REGISTRY if up else "stopped"))
    exported = [b for b in images.all_builds() if b.exported()]
    print("images:   %d of %d built for the current inputs" % (len(exported), len(images.all_builds())))
    print("content:  %s" % ("current" if publish.published() else "not published for the current inputs (run build)"))
    if up:
        client = registry.Client()
        for repository in client.catalog():
            tags = client.tags(repository)
            print("  %-32s %3d tags" % (repository, len(tags)))
        for repository in ("vaultwarden/server", "bitwardenrs/server"):
            moving = [t for t in ("latest", "latest-alpine", "alpine", "testing", "testing-alpine") if client.get_manifest(repository, t)]
            for tag in moving:
                print("  %s:%s -> %s" % (repository, tag, _points_at(client, repository, tag)))
    for arch in config.ARCHES.values():
        name = "%s:%s" % (config.FLEET_IMAGE, arch.fleet_tag)
        shown = subprocess.run(["docker", "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}/{{.Variant}}", name],
                               capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        print("  %-24s %s" % (name, shown.stdout.strip().rstrip("/") if shown.returncode == 0 else "missing"))
    return 0 if pid and up else 1


def _points_at(client: registry.Client, repository: str, tag: str) -> str:
    digest = client.get_manifest(repository, tag)[2]
    suffix = "-alpine" if "alpine" in tag else ""
    for version in reversed(layout.versions(repository)):
        found = client.get_manifest(repository, version + suffix)
        if found and found[2] == digest:
            return version + suffix
    return digest


def cmd_move_tag(args) -> None:
    registry.start()
    publish.move_tag(args.repository, args.tag, args.version)


def cmd_reset_tags(_args) -> None:
    registry.start()
    publish.reset_tags()


def cmd_clean(_args) -> None:
    registry.stop()
    for arch in config.ARCHES.values():
        subprocess.run(["docker", "rmi", "%s:%s" % (config.FLEET_IMAGE, arch.fleet_tag)], capture_output=True, check=False, stdin=subprocess.DEVNULL)
    storage = ["buildah", "--root", config.path("containers", "storage"), "--runroot", config.path("containers", "run")]
    if os.path.isdir(config.path("containers")):
        subprocess.run(storage + ["rm", "--all"], capture_output=True, check=False, stdin=subprocess.DEVNULL)
        subprocess.run(storage + ["rmi", "--all", "--force"], capture_output=True, check=False, stdin=subprocess.DEVNULL)
    # Overlay mounts left by an interrupted build would make rmtree fail.
    with open("/proc/self/mounts") as handle:
        mounts = [line.split()[1] for line in handle if line.split()[1].startswith(config.CACHE_DIR + "/")]
    for mount in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, stdin=subprocess.DEVNULL)
    shutil.rmtree(config.CACHE_DIR, ignore_errors=True)
    log("removed %s and the %s images" % (config.CACHE_DIR, config.FLEET_IMAGE))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools.world", description="The offline test world (see tools/world/README.md).")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="install prerequisites, build what the cache lacks, start the registry, publish")
    # More jobs than cores pays: installs spend part of their time downloading or waiting on one emulated process.
    build.add_argument("--jobs", type=int, default=int(os.environ.get("VW_WORLD_JOBS", "4")),
                       help="parallel image builds (default 4, or $VW_WORLD_JOBS)")
    build.add_argument("--images-only", action="store_true",
                       help="build the images the cache lacks and stop: no registry, no publishing, no Docker engine")
    build.set_defaults(func=cmd_build)
    commands.add_parser("timings", help="the last build's time per step, against the cold-build budget").set_defaults(func=cmd_timings)
    commands.add_parser("start", help="start the registry (no-op when it runs)").set_defaults(func=cmd_start)
    commands.add_parser("stop", help="stop the registry").set_defaults(func=cmd_stop)
    commands.add_parser("status", help="registry, content and fleet images").set_defaults(func=cmd_status)
    move = commands.add_parser("move-tag", help="point a moving tag (and its alpine aliases) at another release")
    move.add_argument("repository", help="e.g. vaultwarden/server")
    move.add_argument("tag", help="e.g. latest")
    move.add_argument("version", help="an already built release, e.g. 1.37.2")
    move.set_defaults(func=cmd_move_tag)
    commands.add_parser("reset-tags", help="restore the default moving tags").set_defaults(func=cmd_reset_tags)
    commands.add_parser("clean", help="stop the registry, remove the cache and the fleet host images").set_defaults(func=cmd_clean)
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except WorldError as error:
        log("ERROR: %s" % error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
