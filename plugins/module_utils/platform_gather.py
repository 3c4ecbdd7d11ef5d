# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gathering the raw observations of a host for platform detection (standard library only)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import sys

from ansible_collections.homelab.vaultwarden.plugins.module_utils.platform_detect import (
    DockerProbe,
)

_CPUINFO = "/proc/cpuinfo"
_DEVICE_TREE_MODEL = "/proc/device-tree/model"
_ELF_HEADER_BYTES = 64
_MAX_CPUINFO_BYTES = 1024 * 1024


def _read(path, limit, binary=False):
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit)
    except (IOError, OSError):
        return None
    return data if binary else data.decode("utf-8", "replace")


def _run(argv, timeout, env=None):
    """(returncode, stdout, stderr) of a command; returncode None when it could not run or timed out."""
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return None, "", "%s did not answer within %d seconds" % (" ".join(argv), timeout)
    except OSError as exc:
        return None, "", "%s could not run: %s" % (argv[0], exc)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def _print_architecture(command, flag, timeout):
    path = shutil.which(command)
    if path is None:
        return None
    returncode, stdout, dummy = _run([path, flag], timeout)
    if returncode != 0:
        return None
    return stdout.strip() or None


def _first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _probe_docker(command, docker_host, timeout):
    path = command if os.path.sep in command else shutil.which(command)
    if not path or not os.access(path, os.X_OK):
        return DockerProbe(False, None, None, "no executable %r found%s" % (command, "" if os.path.sep in command else " on PATH"))
    env = dict(os.environ, LC_ALL="C")
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    # Exits non-zero when the daemon is unreachable but still prints the client half.
    returncode, version_output, stderr = _run([path, "version", "--format", "{{json .}}"], timeout, env)
    error = None if returncode == 0 else (_first_line(stderr) or "docker version exited with %s" % returncode)
    info_architecture = None
    if returncode == 0:
        info_rc, info_out, info_err = _run([path, "info", "--format", "{{.Architecture}}"], timeout, env)
        if info_rc == 0:
            info_architecture = info_out.strip() or None
        else:
            error = _first_line(info_err) or "docker info exited with %s" % info_rc
    return DockerProbe(True, version_output, info_architecture, error)


def gather(gather_docker=True, docker_command="docker", docker_host=None, timeout=10):
    """The raw observations of this host, as keyword arguments of ``detect_platform``."""
    dpkg_architecture = _print_architecture("dpkg", "--print-architecture", timeout)
    apk_architecture = None if dpkg_architecture else _print_architecture("apk", "--print-arch", timeout)
    return dict(
        kernel_machine=os.uname()[4],
        dpkg_architecture=dpkg_architecture,
        apk_architecture=apk_architecture,
        elf_header=_read(os.path.realpath(sys.executable), _ELF_HEADER_BYTES, binary=True) if sys.executable else None,
        cpuinfo=_read(_CPUINFO, _MAX_CPUINFO_BYTES),
        device_tree_model=_read(_DEVICE_TREE_MODEL, 4096),
        docker=_probe_docker(docker_command, docker_host, timeout) if gather_docker else None,
    )
