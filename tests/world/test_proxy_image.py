# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Caddy stand-in (Debian's caddy) has the official image's interface: /etc/caddy/Caddyfile, /data, 80/443."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import REGISTRY, docker
from .expected import AMD64, ARM64

pytestmark = pytest.mark.world

CADDYFILE = "{\n\tadmin off\n\tskip_install_trust\n}\n:80 {\n\trespond \"caddy {system.arch}\"\n}\n"
MACHINES = {AMD64: "amd64", ARM64: "arm64"}


def wait_answer(name: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    result = None
    while time.monotonic() < deadline:
        result = docker("exec", name, "python3", "-c", "import urllib.request; "
                        "print(urllib.request.urlopen('http://127.0.0.1:80/', timeout=5).read().decode())", check=False)
        if result.returncode == 0:
            return result.stdout.strip()
        time.sleep(1)
    raise AssertionError("%s never answered: %s\n%s" % (name, result.stderr if result else "", docker("logs", name).stderr))


@pytest.mark.parametrize("platform", [AMD64, ARM64])
def test_caddy_image_reads_its_caddyfile_keeps_data_and_reports_its_arch(engine, platform, tmp_path):
    image = engine.pull("%s/library/caddy:2" % REGISTRY, platform)
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image).stdout)
    assert config["Cmd"] == ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
    assert {"/data", "/config"} <= set(config["Volumes"])
    assert {"80/tcp", "443/tcp"} <= set(config["ExposedPorts"])
    assert "XDG_DATA_HOME=/data" in config["Env"] and "XDG_CONFIG_HOME=/config" in config["Env"]
    # As the official image: the binary carries cap_net_bind_service (so cap_drop ALL alone cannot run it).
    xattr = docker("run", "--rm", "--platform", platform, "--entrypoint", "python3", image, "-c",
                   "import os; print(os.getxattr('/usr/bin/caddy', 'security.capability').hex())").stdout.strip()
    assert xattr.startswith("01000002") and xattr[8:16] == "00040000", xattr
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "Caddyfile").write_text(CADDYFILE)
    data = tmp_path / "data"
    data.mkdir()
    name = engine.run(image, options=["--platform", platform, "-v", "%s:/etc/caddy:ro" % (tmp_path / "etc"),
                                      "-v", "%s:/data" % data], health_interval=None)
    assert wait_answer(name) == "caddy %s" % MACHINES[platform]
    assert docker("exec", name, "caddy", "version").stdout.startswith("v2.") or \
        docker("exec", name, "caddy", "version").stdout.startswith("2.")
    # Caddy keeps its state (certificates, the internal CA) below XDG_DATA_HOME, the /data volume.
    docker("exec", name, "sh", "-c", "test -d /data/caddy")
    assert (data / "caddy").is_dir()
