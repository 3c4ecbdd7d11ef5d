# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet host images for Molecule: right platform metadata, python3, the Docker SDK and CLI."""

from __future__ import annotations

import time

import pytest

from .conftest import docker

pytestmark = pytest.mark.world

HOSTS = [
    # tag, docker image inspect Architecture/Variant, dpkg architecture, uname -m
    ("amd64", "amd64", "", "amd64", "x86_64"),
    ("arm64", "arm64", "v8", "arm64", "aarch64"),
    ("armv7", "arm", "v7", "armhf", "armv7l"),
    ("armv6", "arm", "v6", "armel", "armv6l"),
]


@pytest.mark.parametrize("tag,architecture,variant,dpkg,machine", HOSTS, ids=[h[0] for h in HOSTS])
def test_fleet_host(engine, tag, architecture, variant, dpkg, machine):
    image = "homelab-vw-host:" + tag
    shown = docker("image", "inspect", "--format", "{{.Os}} {{.Architecture}} {{.Variant}}", image).stdout.split()
    assert shown == ["linux", architecture] + ([variant] if variant else [])
    env = {"QEMU_CPU": "arm1176"} if tag == "armv6" else {}
    # The emulated fleet model: the host drives the machine's one daemon through its socket.
    name = engine.run(image, "sleep", "infinity", env=env, health_interval=None,
                      options=["-v", "/var/run/docker.sock:/var/run/docker.sock"])
    assert docker("exec", name, "uname", "-m").stdout.strip() == machine
    assert docker("exec", name, "dpkg", "--print-architecture").stdout.strip() == dpkg
    sdk = docker("exec", name, "/usr/bin/python3", "-c", "import docker, sys; print(docker.__version__, sys.version_info[0])")
    assert sdk.stdout.split()[1] == "3"
    assert "Docker version" in docker("exec", name, "docker", "--version").stdout
    server = docker("exec", name, "docker", "version", "--format", "{{.Server.Version}}").stdout.strip()
    assert server == docker("version", "--format", "{{.Server.Version}}").stdout.strip()
    ping = docker("exec", name, "/usr/bin/python3", "-c", "import docker; print(docker.from_env().ping())")
    assert ping.stdout.strip() == "True"
    # The default command keeps the host running too.
    default = engine.run(image, env=env, health_interval=None)
    time.sleep(3)
    assert engine.state(default)["Running"]
