# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Debian's docker-registry (distribution 2.8) on 127.0.0.1:5000 with its storage in the cache, and a tiny client."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

from . import config
from .util import WorldError, atomic_write, log

V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = ", ".join((LIST, V2S2, OCI_INDEX, OCI_MANIFEST))

LOG_FILE = config.path("registry", "registry.log")
STORAGE = config.path("registry", "storage")

REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  # Loopback only: the test world must not be reachable from other machines.
  addr: {addr}
"""


# --- process -----------------------------------------------------------------------------------------
# One registry process per address, all serving the same storage (no descriptor cache is configured, so
# every process reads the tags as they are on disk). The aliases let emulated fleet hosts that share one
# Docker daemon pull the same repository:tag under different names (one daemon keeps one image per name).

def _files(addr: str) -> tuple[str, str]:
    suffix = "" if addr == config.REGISTRY else "-" + addr.replace(":", "-")
    return config.path("registry", "config%s.yml" % suffix), config.path("registry", "registry%s.pid" % suffix)


CONFIG_FILE, PID_FILE = _files(config.REGISTRY)


def _is_ours(pid: int, config_file: str) -> bool:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().split(b"\0")
    except OSError:
        return False
    return any(part.endswith(b"docker-registry") for part in cmdline) and config_file.encode() in cmdline


def _pid(addr: str = config.REGISTRY) -> int | None:
    config_file, pid_file = _files(addr)
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        pid = None
    if pid and _is_ours(pid, config_file):
        return pid
    # Started by another tool run whose pid file we raced with: adopt it.
    for name in os.listdir("/proc"):
        if name.isdigit() and _is_ours(int(name), config_file):
            atomic_write(pid_file, "%s\n" % name)
            return int(name)
    return None


def answering(addr: str = config.REGISTRY) -> bool:
    try:
        with urllib.request.urlopen("http://%s/v2/" % addr, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def running_pid() -> int | None:
    return _pid()


def _start_one(addr: str) -> int:
    config_file, pid_file = _files(addr)
    pid = _pid(addr)
    if pid and answering(addr):
        return pid
    if pid is None and answering(addr):
        raise WorldError("something else answers on %s (not the registry of %s); stop it (or run "
                         "`VW_WORLD_CACHE=<its cache> python3 -m tools.world stop`) and try again" % (addr, config.CACHE_DIR))
    os.makedirs(STORAGE, exist_ok=True)
    atomic_write(config_file, REGISTRY_CONFIG.format(storage=STORAGE, addr=addr))
    with open(LOG_FILE, "a") as out:
        process = subprocess.Popen(["docker-registry", "serve", config_file], stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=config.path("registry"), start_new_session=True)
    atomic_write(pid_file, "%d\n" % process.pid)
    for _attempt in range(100):
        if answering(addr):
            log("registry started on %s (pid %d, storage %s)" % (addr, process.pid, STORAGE))
            return process.pid
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise WorldError("docker-registry did not come up on %s; see %s" % (addr, LOG_FILE))


def start() -> int:
    """Start the registry and its loopback aliases unless ours already run; refuse if something else holds one."""
    pid = _start_one(config.REGISTRY)
    for alias in config.REGISTRY_ALIASES:
        _start_one(alias)
    return pid


def _stop_one(addr: str) -> bool:
    pid = _pid(addr)
    pid_file = _files(addr)[1]
    if pid is None:
        if os.path.exists(pid_file):
            os.unlink(pid_file)
        return False
    os.kill(pid, signal.SIGTERM)
    for _attempt in range(50):
        if not os.path.exists("/proc/%d" % pid):
            break
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    os.unlink(pid_file)
    return True


def stop() -> bool:
    stopped = [_stop_one(alias) for alias in config.REGISTRY_ALIASES]
    return _stop_one(config.REGISTRY) or any(stopped)


# --- HTTP API ----------------------------------------------------------------------------------------

def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Client:
    def __init__(self, base: str = "http://" + config.REGISTRY):
        self.base = base
        self.uploaded = 0   # bytes of blobs uploaded (progress)

    def _request(self, method: str, url: str, data: bytes | None = None, headers: dict | None = None):
        if not url.startswith("http"):
            url = self.base + url
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            response = urllib.request.urlopen(request, timeout=300)
            with response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def blob_exists(self, repository: str, digest: str) -> bool:
        return self._request("HEAD", "/v2/%s/blobs/%s" % (repository, digest))[0] == 200

    def put_blob(self, repository: str, digest: str, data_or_path, mount_from: str | None = None) -> None:
        if self.blob_exists(repository, digest):
            return
        if mount_from:
            status, headers, _body = self._request("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (repository, digest, mount_from))
            if status == 201:
                return
        else:
            status, headers, _body = self._request("POST", "/v2/%s/blobs/uploads/" % repository)
        if status != 202:
            raise WorldError("registry refused an upload to %s (HTTP %d)" % (repository, status))
        location = headers["Location"]
        if isinstance(data_or_path, str):
            with open(data_or_path, "rb") as handle:
                data = handle.read()
        else:
            data = data_or_path
        separator = "&" if "?" in location else "?"
        status, _headers, body = self._request("PUT", "%s%sdigest=%s" % (location, separator, digest), data=data,
                                               headers={"Content-Type": "application/octet-stream"})
        if status != 201:
            raise WorldError("uploading blob %s to %s failed (HTTP %d): %s" % (digest, repository, status, body[:200]))
        self.uploaded += len(data)

    def put_manifest(self, repository: str, reference: str, data: bytes, media_type: str) -> str:
        status, _headers, body = self._request("PUT", "/v2/%s/manifests/%s" % (repository, reference), data=data,
                                               headers={"Content-Type": media_type})
        if status != 201:
            raise WorldError("registry refused manifest %s:%s (HTTP %d): %s" % (repository, reference, status, body[:300]))
        return digest_of(data)

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str] | None:
        status, headers, body = self._request("GET", "/v2/%s/manifests/%s" % (repository, reference), headers={"Accept": ACCEPT})
        if status != 200:
            return None
        return body, headers.get("Content-Type", ""), digest_of(body)

    def get_json(self, path: str):
        status, _headers, body = self._request("GET", path)
        if status != 200:
            raise WorldError("GET %s answered HTTP %d" % (path, status))
        return json.loads(body)

    def catalog(self) -> list[str]:
        return self.get_json("/v2/_catalog?n=1000")["repositories"]

    def tags(self, repository: str) -> list[str]:
        return self.get_json("/v2/%s/tags/list?n=10000" % repository).get("tags") or []
