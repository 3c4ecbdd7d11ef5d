# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host prerequisites: the Debian tools the world is built with and QEMU binfmt handlers with the F flag."""

from __future__ import annotations

import os
import shutil
import subprocess

from . import config
from .util import WorldError, log, run

BINFMT_DIR = "/proc/sys/fs/binfmt_misc"
# The F flag makes the kernel open the interpreter at registration, so containers run foreign binaries
# without qemu inside the image.
QEMU_HANDLERS = ("qemu-aarch64", "qemu-arm")


def missing_packages() -> list[str]:
    missing = []
    for package in config.HOST_APT_PACKAGES:
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        if "install ok installed" not in status.stdout:
            missing.append(package)
    return missing


def ensure_packages() -> None:
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise WorldError("missing Debian packages %s; run as root or `sudo apt-get install -y %s`" % (missing, " ".join(missing)))
    log("apt-get install %s" % " ".join(missing))
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], logfile=config.path("logs", "apt-host.log"), env=env)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing, logfile=config.path("logs", "apt-host.log"), env=env)


def handler_flags(name: str) -> str | None:
    try:
        with open(os.path.join(BINFMT_DIR, name)) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    if "enabled" not in lines:
        return None
    for line in lines:
        if line.startswith("flags:"):
            return line.split(":", 1)[1].strip()
    return ""


def ensure_binfmt() -> None:
    if not os.path.exists(os.path.join(BINFMT_DIR, "register")):
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", BINFMT_DIR], check=False)
    for name in QEMU_HANDLERS:
        flags = handler_flags(name)
        if flags is not None and "F" in flags:
            continue
        if flags is not None:
            # Registered without F (e.g. by binfmt-support's non-static qemu): replace it.
            with open(os.path.join(BINFMT_DIR, name), "w") as handle:
                handle.write("-1")
        conf = "/usr/lib/binfmt.d/%s.conf" % name
        if os.path.exists(conf):
            with open(conf) as handle:
                line = handle.read().strip()
            with open(os.path.join(BINFMT_DIR, "register"), "w") as handle:
                handle.write(line)
        elif shutil.which("update-binfmts"):
            run(["update-binfmts", "--enable", name], check=False)
        flags = handler_flags(name)
        if flags is None or "F" not in flags:
            raise WorldError("binfmt handler %s is %s; install qemu-user-static and binfmt-support "
                             "(their handlers carry the F flag) and check %s" % (name, "missing" if flags is None else "without the F flag", BINFMT_DIR))
        log("binfmt handler %s registered (flags %s)" % (name, flags))


def ensure_docker() -> None:
    if subprocess.run(["docker", "info"], capture_output=True, check=False, stdin=subprocess.DEVNULL).returncode != 0:
        raise WorldError("the Docker engine is not reachable (`docker info` fails); start it, e.g. with tools/bootstrap.sh")


def ensure_all() -> None:
    ensure_packages()
    ensure_binfmt()
