# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/site.yml on a fleet of three deployments on this machine: preflight, one release, canary gate.

Three inventory hosts (local connection), each its own deployment (container, base dir, port) pulling through the
registry alias of its platform, as the emulated fleet does (the one daemon keeps one image per tag and refuses to store
another platform's image under a digest reference it holds): fleet-a (amd64, the canary), fleet-b (arm64, under
QEMU), fleet-c (amd64). The tag really moves in the registry in the middle of a run (a test-only callback runs
``python3 -m tools.world move-tag`` when the canary has planned its pull), and a broken release really fails on the
canary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request

import pytest

pytestmark = [pytest.mark.ansible, pytest.mark.world]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPO = "vaultwarden/server"
HOSTS = {"fleet-a": ("127.0.0.1:5000", "linux/amd64", 18451), "fleet-b": ("127.0.0.2:5000", "linux/arm64", 18452),
         "fleet-c": ("127.0.0.1:5000", "linux/amd64", 18453)}
SITE = "- import_playbook: homelab.vaultwarden.site\n"


def _world(*args):
    proc = subprocess.run([sys.executable, "-m", "tools.world"] + list(args), cwd=ROOT, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _registry_digest(tag, registry="127.0.0.1:5000"):
    request = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (registry, REPO, tag), method="HEAD", headers={
        "Accept": "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.headers["Docker-Content-Digest"]


def _inspect(name):
    proc = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=False)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def _server(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/standin" % port, timeout=10) as answer:
        return json.loads(answer.read())


class Fleet:
    def __init__(self, playbooks, tmp_path):
        self.playbooks = playbooks
        self.tmp_path = tmp_path
        self.prefix = "vwfleet-%d" % os.getpid()
        self.move_log = tmp_path / "moved.log"

    def name(self, host):
        return "%s-%s" % (self.prefix, host)

    def base(self, host):
        return self.tmp_path / host

    def inventory(self, **per_host):
        hosts = {}
        for host, (registry, platform, port) in HOSTS.items():
            variables = {
                "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                "vaultwarden_registry": registry, "vaultwarden_platform": platform,
                "vaultwarden_container_name": self.name(host), "vaultwarden_base_dir": str(self.base(host)),
                "vaultwarden_http_port": port, "vaultwarden_version": "latest",
                "vaultwarden_healthcheck_interval": "2s", "vaultwarden_healthcheck_start_period": "5s",
                "vaultwarden_health_timeout": 90,
            }
            variables.update(per_host.get(host) or {})
            hosts[host] = variables
        return json.dumps({"vaultwarden": {"hosts": hosts}})

    def run(self, move=None, **per_host):
        env = None
        if move:
            env = {"ANSIBLE_CALLBACK_PLUGINS": os.path.join(ROOT, "tests", "functional", "plugins", "callback"),
                   "ANSIBLE_CALLBACKS_ENABLED": "move_tag_mid_run", "VW_TEST_MOVE_AFTER_HOST": "fleet-a",
                   "VW_TEST_MOVE_AFTER_TASK": "and plan what to pull",
                   "VW_TEST_MOVE_TAG": move, "VW_TEST_WORLD_CHECKOUT": ROOT, "VW_TEST_MOVE_LOG": str(self.move_log)}
        return self.playbooks.run(SITE, inventory=self.inventory(**per_host), extra_vars={"vaultwarden_batch_size": 2},
                                  env=env)

    def record(self, host):
        path = self.base(host) / "deployed.json"
        return json.loads(path.read_text()) if path.exists() else None

    def backups(self, host):
        path = self.base(host) / "backups"
        return sorted(os.listdir(path)) if path.is_dir() else []

    def remove(self):
        for host in HOSTS:
            subprocess.run(["docker", "rm", "-f", self.name(host)], capture_output=True, check=False)
            shutil.rmtree(self.base(host), ignore_errors=True)


@pytest.fixture
def fleet(playbooks, tmp_path, moving_tags_lock):  # moves `latest`
    for registry, dummy, dummy_port in HOSTS.values():
        try:
            urllib.request.urlopen("http://%s/v2/" % registry, timeout=5).close()
        except OSError as exc:
            pytest.fail("the test world's registry is not running on %s (python3 -m tools.world build): %s"
                        % (registry, exc))
    _world("reset-tags")
    made = Fleet(playbooks, tmp_path)
    try:
        yield made
    finally:
        made.remove()
        _world("reset-tags")


def _changed(run, host):
    return run.stats.get(host, {}).get("changed")


def test_site_preflight_refuses_before_any_host_changes_then_one_release_everywhere_and_a_canary_gate(fleet):
    # 1. One host refused in the preflight: every host's reason is named, and nothing is created anywhere.
    refused = fleet.run(**{"fleet-c": {"vaultwarden_version": "raspberry"}})
    assert refused.returncode != 0
    verdict = refused.task("Stop the run unless every host passed, naming each refused host's reason")
    assert verdict["failed"] and "1 of 3 host(s) were refused" in verdict["msg"]
    assert "fleet-c:" in verdict["msg"] and "raspberry" in verdict["msg"] and "fleet-a:" not in verdict["msg"]
    for host in HOSTS:
        assert _inspect(fleet.name(host)) is None and not fleet.base(host).exists(), host

    # 2. `latest` moves in the registry once the canary has planned its pull: every host still runs the release the
    # canary resolved (pulled by digest, each for its own platform), none the new one.
    first = _registry_digest("latest")
    assert first == _registry_digest("1.37.1")
    deployed = fleet.run(move="%s latest 1.37.2" % REPO)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    assert "rc=0" in fleet.move_log.read_text() and _registry_digest("latest") == _registry_digest("1.37.2") != first
    machines = {"fleet-a": "x86_64", "fleet-b": "aarch64", "fleet-c": "x86_64"}
    for host, (dummy, platform, port) in HOSTS.items():
        current = fleet.record(host)["current"]
        assert current["release_digest"] == first and current["ref"].endswith("/%s:latest" % REPO), host
        container = _inspect(fleet.name(host))
        assert container["Config"]["Image"].endswith("/%s@%s" % (REPO, first)), host
        server = _server(port)
        assert server["version"] == "1.37.1" and server["machine"] == machines[host], (host, server)
    # The canary ran alone in the first batch: the others planned after it had finished.
    order = [item["host"] for item in deployed.results if item["task"].endswith("and plan what to pull")]
    assert order[0] == "fleet-a" and sorted(order[1:]) == ["fleet-b", "fleet-c"], order

    # 3. The same release again (the tag back where it was): a no-op on every host, containers kept.
    _world("reset-tags")
    ids = dict((host, _inspect(fleet.name(host))["Id"]) for host in HOSTS)
    again = fleet.run()
    assert again.returncode == 0, again.stdout[-3000:]
    for host in HOSTS:
        assert _changed(again, host) == 0, (host, again.stats)
        assert _inspect(fleet.name(host))["Id"] == ids[host]

    # 4. A broken release: the canary fails its health gate and is rolled back; the run stops before the next
    # batch, whose hosts are untouched (same container, same record, no backup).
    _world("move-tag", REPO, "latest", "1.99.0")
    before = dict((host, (fleet.record(host), fleet.backups(host))) for host in ("fleet-b", "fleet-c"))
    broken = fleet.run()
    assert broken.returncode != 0
    assert broken.stats["fleet-a"]["failures"] >= 1
    assert _server(HOSTS["fleet-a"][2])["version"] == "1.37.1"      # rolled back
    assert len(fleet.backups("fleet-a")) == 1
    for host in ("fleet-b", "fleet-c"):
        assert host not in broken.stats or broken.stats[host].get("changed", 0) == 0, broken.stats
        assert _inspect(fleet.name(host))["Id"] == ids[host]
        assert (fleet.record(host), fleet.backups(host)) == before[host]
        assert _server(HOSTS[host][2])["version"] == "1.37.1"
