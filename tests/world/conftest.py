# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the test-world tests: the world itself (built once per session) and Docker helpers that
name everything ``vwtest-*``, bind ports to 127.0.0.1 and remove what they created."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tools.world.publish import moving_tags_held

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGISTRY = "127.0.0.1:5000"
LIST_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json")
ACCEPT = ", ".join(LIST_TYPES + ("application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"))
HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(items):
    for item in items:
        if str(item.fspath).startswith(HERE + os.sep):
            item.add_marker(pytest.mark.world)


# Tests that read or move the moving tags (latest, testing, alpine) carry this marker and run one at a time under a
# machine-wide lock (several pytest workers, or two checkouts, share the one registry on 127.0.0.1:5000). A lock and
# not `--dist loadgroup`: with pytest 9 and pytest-xdist 3.8, xdist_group marks are not honoured (the tests of one
# group were seen running on both workers, one test moving `latest` while another asserted where it points).
TAGS_GROUP = pytest.mark.moving_tags


@pytest.fixture(scope="session")
def world():
    """Build (warm: seconds; a second worker waits on the build lock) and start the world once per session."""
    result = subprocess.run([sys.executable, "-m", "tools.world", "build"], cwd=CHECKOUT, capture_output=True, text=True,
                            timeout=3600, check=False)
    assert result.returncode == 0, "python3 -m tools.world build failed:\n%s\n%s" % (result.stdout[-4000:], result.stderr[-4000:])
    return Registry()


@pytest.fixture(autouse=True)
def _moving_tags_lock(request):
    """Held from before a marked test's function-scoped fixtures (tags_restored's reset) until after their teardown."""
    if request.node.get_closest_marker("moving_tags") is None:
        yield
        return
    with moving_tags_held():
        yield


@pytest.fixture(scope="module")
def default_tags(world):  # pylint: disable=redefined-outer-name  # pytest fixtures
    """The moving tags where the world builds them (a warm build keeps moved tags, an interrupted run may leave some).

    Used by the TAGS_GROUP modules only; the reset happens under the lock, so no other marked test is running.
    """
    with moving_tags_held():
        reset = subprocess.run([sys.executable, "-m", "tools.world", "reset-tags"], cwd=CHECKOUT, capture_output=True,
                               text=True, timeout=600, check=False)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    return world


class Registry:
    """Reads the registry through its HTTP API, as a client would."""

    base = "http://" + REGISTRY

    def get(self, path: str, accept: str | None = None):
        request = urllib.request.Request(self.base + path, headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers.get("Content-Type", ""), response.read(), response.headers.get("Docker-Content-Digest", "")

    def manifest(self, repository: str, reference: str):
        """(media type, document, digest)."""
        media_type, body, digest = self.get("/v2/%s/manifests/%s" % (repository, reference), ACCEPT)
        return media_type, json.loads(body), digest

    def image_config(self, repository: str, manifest: dict) -> dict:
        return json.loads(self.get("/v2/%s/blobs/%s" % (repository, manifest["config"]["digest"]))[1])

    def tags(self, repository: str) -> set:
        return set(json.loads(self.get("/v2/%s/tags/list" % repository)[1])["tags"] or [])

    def catalog(self) -> set:
        return set(json.loads(self.get("/v2/_catalog?n=1000")[1])["repositories"])


def platform_of(entry: dict) -> str:
    """linux/arm/v7 from a manifest-list platform object or an image config."""
    return "/".join(p for p in (entry.get("os"), entry.get("architecture"), entry.get("variant")) if p)


def docker(*args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker"] + list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError("docker %s failed (%d): %s" % (" ".join(args), result.returncode, result.stderr.strip()))
    return result


class Docker:
    """Creates containers, networks and volumes named vwtest-* and removes them all at teardown."""

    def __init__(self):
        self.containers, self.networks, self.volumes = [], [], []

    @staticmethod
    def name(prefix: str = "") -> str:
        return "vwtest-%s%s" % (prefix + "-" if prefix else "", uuid.uuid4().hex[:10])

    def pull(self, reference: str, platform: str) -> str:
        """Pull one platform of a tag and return the image id (the engine keeps one platform per name)."""
        docker("pull", "-q", "--platform", platform, reference, timeout=900)
        return docker("image", "inspect", "--format", "{{.Id}}", reference).stdout.strip()

    def network(self) -> str:
        name = self.name("net")
        docker("network", "create", name)
        self.networks.append(name)
        return name

    def volume(self) -> str:
        name = self.name("vol")
        docker("volume", "create", name)
        self.volumes.append(name)
        return name

    def run(self, image: str, *args: str, options=(), name: str | None = None, env=None, publish: int | None = None,
            health_interval: str | None = "2s") -> str:
        name = name or self.name()
        argv = ["run", "-d", "--name", name]
        for key, value in (env or {}).items():
            argv += ["-e", "%s=%s" % (key, value)]
        if publish:
            argv += ["-p", "127.0.0.1::%d" % publish]
        if health_interval:
            argv += ["--health-interval", health_interval]
        argv += list(options) + [image] + list(args)
        self.containers.append(name)
        docker(*argv)
        return name

    def port(self, name: str, port: int) -> int:
        mapping = docker("port", name, "%d/tcp" % port).stdout.split()[0]
        assert mapping.startswith("127.0.0.1:"), "ports must be published on 127.0.0.1 only, got %s" % mapping
        return int(mapping.rsplit(":", 1)[1])

    def state(self, name: str) -> dict:
        return json.loads(docker("inspect", "--format", "{{json .State}}", name).stdout)

    def logs(self, name: str) -> str:
        result = docker("logs", name, check=False)
        return result.stdout + result.stderr

    def wait_health(self, name: str, want: str = "healthy", timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        state = {}
        while time.monotonic() < deadline:
            state = self.state(name)
            health = (state.get("Health") or {}).get("Status")
            if health == want:
                return state
            if not state.get("Running") and want != "exited":
                break
            time.sleep(1)
        raise AssertionError("%s did not become %s: state %s\nlogs:\n%s" % (name, want, json.dumps(state)[:600], self.logs(name)[-3000:]))

    def wait_exit(self, name: str, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state(name)
            if not state.get("Running") and state.get("Status") in ("exited", "dead"):
                return state["ExitCode"]
            time.sleep(0.5)
        raise AssertionError("%s still runs after %ss:\n%s" % (name, timeout, self.logs(name)[-3000:]))

    def http(self, name: str, path: str, port: int = 80, data: bytes | None = None, headers=None, timeout: float = 30,
             listening_within: float = 0):
        """(status, body) of a request to the container's published port.

        listening_within: seconds to keep retrying while nothing listens behind the published port yet (docker-proxy
        accepts and then closes the connection), for a server whose health turned before it started listening.
        """
        url = "http://127.0.0.1:%d%s" % (self.port(name, port), path)
        deadline = time.monotonic() + listening_within
        while True:
            request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as error:
                return error.code, error.read()
            except (ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(1)

    def standin(self, name: str) -> dict:
        status, body = self.http(name, "/api/standin")
        assert status == 200, body
        return json.loads(body)

    def cleanup(self) -> None:
        for name in self.containers:
            docker("rm", "-f", "-v", name, check=False)
        for name in self.networks:
            docker("network", "rm", name, check=False)
        for name in self.volumes:
            docker("volume", "rm", "-f", name, check=False)
        self.containers, self.networks, self.volumes = [], [], []


@pytest.fixture
def engine(world):  # pylint: disable=redefined-outer-name,unused-argument  # pytest fixtures
    helper = Docker()
    yield helper
    helper.cleanup()


@pytest.fixture(scope="module")
def module_engine(world):  # pylint: disable=redefined-outer-name,unused-argument
    helper = Docker()
    yield helper
    helper.cleanup()
