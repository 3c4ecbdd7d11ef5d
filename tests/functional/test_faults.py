# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults injected into real runs of the installed role on this machine's Docker engine.

Every case starts from a deployment holding a vault (a user, ciphers, attachments with their files, items, the
server's RSA key, and a large attachment file so that copies take a while), injects one fault, and ends converged
with the vault intact, judged by content: the items the server lists, its row counts, and the sha256 of every file
under attachments/ and of the keys. The faults: the registry down during an update, the *module* (not the
controller) killed with SIGKILL during the pull, the backup, the deploy and the rollback, two runs at once, a full
disk under the backup directory, the managed database stopped before and during an upgrade, the container removed
by hand, and a corrupt deployment record.

The images come from a registry of this file's own (the world's storage served on 127.0.0.1:5091, one port up per
pytest-xdist worker), so that these tests can stop it and remove its images from the engine without touching what
other tests pull. The cases only ever look at their own containers and files, so they run two at a time
(``pytest -n 2``); nothing else runs beside them (tests/functional's host snapshots would see their containers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tools.world import registry as world_registry

pytestmark = [pytest.mark.ansible, pytest.mark.world]

# One registry per pytest-xdist worker: a case that stops its registry stops none of another worker's.
REGISTRY = "127.0.0.1:%d" % (5091 + int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0))
PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: homelab.vaultwarden.vaultwarden
"""
EMAIL = "fault@example.test"


def _free_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, stdin=subprocess.DEVNULL)


def _inspect(name):
    proc = _docker("inspect", name, check=False)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def _http(url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def own_registry():
    """The world's storage served on a port of this file's own; stopped and started by the registry-down case."""
    try:
        urllib.request.urlopen("http://127.0.0.1:5000/v2/", timeout=5).close()
    except OSError as exc:
        pytest.fail("the test world's registry is not running (python3 -m tools.world build): %s" % exc)
    world_registry._start_one(REGISTRY)
    yield REGISTRY
    world_registry._stop_one(REGISTRY)


class Deployment:
    """One deployment of the role under a test's tmp_path, with its own container names and port."""

    def __init__(self, playbooks, tmp_path, name, **settings):
        self.playbooks = playbooks
        self.name = name
        self.port = _free_port()
        self.base = tmp_path / "vaultwarden"
        self.data = self.base / "data"
        self.backups = self.base / "backups"
        self.url = "http://127.0.0.1:%d" % self.port
        self.vars = {
            "vaultwarden_registry": REGISTRY,
            "vaultwarden_version": "1.37.1",
            "vaultwarden_container_name": name,
            "vaultwarden_base_dir": str(self.base),
            "vaultwarden_http_port": self.port,
            "vaultwarden_healthcheck_interval": "2s",
            "vaultwarden_healthcheck_start_period": "5s",
            "vaultwarden_health_timeout": 90,
        }
        self.vars.update(settings)

    def request(self, **overrides):
        return dict(self.vars, **overrides)

    def apply(self, **overrides):
        return self.playbooks.run(PLAY, extra_vars=self.request(**overrides))

    def start(self, **overrides):
        return self.playbooks.start(PLAY, extra_vars=self.request(**overrides))

    def remove(self):
        """Everything the case made, without the role (its removal is tested elsewhere)."""
        _docker("rm", "-f", "-v", self.name, self.name + "-db", check=False)
        _docker("network", "rm", self.name + "-net", check=False)
        shutil.rmtree(self.base, ignore_errors=True)

    def container(self):
        return _inspect(self.name)

    def server(self):
        return _http(self.url + "/api/standin")

    def seed(self):
        """A vault worth losing: a user with ciphers and attachments, items, and a 24 MiB attachment file."""
        _http(self.url + "/identity/accounts/register",
              {"email": EMAIL, "masterPasswordHash": "hash-of-the-master-password", "key": "protected-key"})
        _http(self.url + "/api/standin/seed", {"email": EMAIL, "organizations": 1, "ciphers": 3, "attachments": 2})
        for index in range(3):
            _http(self.url + "/api/standin/items", {"name": "item-%d" % index})
        big = self.data / "attachments" / "large-attachment"
        big.parent.mkdir(parents=True, exist_ok=True)
        with open(big, "wb") as handle:
            handle.write(os.urandom(24 << 20))

    def vault(self):
        """What the vault holds, by content: listed items, row counts, and the digest of every file that matters."""
        server = self.server()
        files = {}
        for directory, dummy, names in os.walk(self.data / "attachments"):
            for entry in names:
                path = os.path.join(directory, entry)
                files[os.path.relpath(path, self.data)] = _sha256(path)
        for entry in ("rsa_key.pem", "rsa_key.pub.pem"):
            if (self.data / entry).exists():
                files[entry] = _sha256(self.data / entry)
        items = sorted(item["name"] for item in _http(self.url + "/api/standin/items"))
        return {"items": items, "counts": server["counts"], "files": files}

    def backup_dirs(self):
        if not self.backups.is_dir():
            return []
        return sorted(entry for entry in os.listdir(self.backups) if (self.backups / entry / "manifest.json").is_file())

    def wait_for_server(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.server()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


@pytest.fixture
def deployment(playbooks, tmp_path, own_registry, request):
    made = []

    def make(**settings):
        name = "vwfault-%s-%d" % (request.node.name.split("[")[0][5:30].replace("_", "-"), os.getpid())
        if "[" in request.node.name:
            name += "-" + request.node.callspec.id.replace("_", "-")
        dep = Deployment(playbooks, tmp_path, name.lower(), **settings)
        made.append(dep)
        first = dep.apply()
        assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
        dep.wait_for_server()
        dep.seed()
        return dep

    yield make
    for dep in made:
        dep.remove()


def _changed(run):
    return sum(host.get("changed", 0) for host in run.stats.values())


def _message(run):
    return run.stdout[-6000:] + run.stderr[-3000:]


def assert_converged(dep, version, vault):
    """A run of the request ends with nothing left to change, the release serving, and the vault as it was."""
    again = dep.apply(vaultwarden_version=version)
    assert again.returncode == 0, _message(again)
    assert _changed(again) == 0, "not converged: %s" % _message(again)
    container = dep.container()
    assert container["State"]["Running"] and container["State"]["Health"]["Status"] in ("healthy", "starting")
    assert dep.server()["version"] == version
    assert dep.vault() == vault
    leftovers = [entry for entry in os.listdir(dep.backups) if entry.startswith(".tmp-")] if dep.backups.is_dir() else []
    assert leftovers == []


def _module_processes(playbooks, module):
    """PIDs of this test's running module processes: AnsiballZ_<module>.py under its own remote_tmp."""
    wanted = ("AnsiballZ_%s.py" % module).encode()
    root = str(playbooks.remote_tmp).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(wanted) and part.startswith(root) for part in argv):
            found.append(int(entry))
    return found


def _kill_module(playbooks, run, module, nth=1, timeout=240):
    """SIGKILL the nth process of ``module`` this run starts, as soon as it appears; its PID."""
    seen = []
    deadline = time.monotonic() + timeout
    while run.running() and time.monotonic() < deadline:
        for pid in _module_processes(playbooks, module):
            if pid not in seen:
                seen.append(pid)
                if len(seen) == nth:
                    os.kill(pid, signal.SIGKILL)
                    return pid
        time.sleep(0.005)
    result = run.finish()
    raise AssertionError("the run never started module %s a %d. time (saw %d):\n%s"
                         % (module, nth, len(seen), _message(result)))


def test_registry_down_during_an_update_changes_nothing_and_the_next_run_converges(deployment):
    dep = deployment()
    vault, before = dep.vault(), dep.container()["Id"]
    _docker("image", "rm", "-f", "%s/vaultwarden/server:1.37.2" % REGISTRY, check=False)   # the update must pull
    world_registry._stop_one(REGISTRY)
    try:
        failed = dep.apply(vaultwarden_version="1.37.2")
    finally:
        world_registry._start_one(REGISTRY)
    assert failed.returncode != 0
    assert REGISTRY in _message(failed)
    assert dep.container()["Id"] == before and dep.server()["version"] == "1.37.1"
    assert dep.backup_dirs() == [] and dep.vault() == vault
    done = dep.apply(vaultwarden_version="1.37.2")
    assert done.returncode == 0, _message(done)
    assert len(dep.backup_dirs()) == 1
    assert_converged(dep, "1.37.2", vault)


@pytest.mark.parametrize(("module", "nth"), [
    ("docker_image_pull", 1),
    ("vaultwarden_backup", 1),
    ("docker_container", 1),
], ids=["pull", "backup", "deploy"])
def test_the_module_killed_during_an_update_loses_nothing(deployment, playbooks, module, nth):
    dep = deployment()
    vault = dep.vault()
    # The image is pulled by this update, not found in the engine.
    _docker("image", "rm", "-f", "%s/vaultwarden/server:1.37.2" % REGISTRY, check=False)
    run = dep.start(vaultwarden_version="1.37.2")
    _kill_module(playbooks, run, module, nth)
    killed = run.finish()
    assert killed.returncode != 0, _message(killed)
    # Whatever the kill left (no new image, a half-made backup, no container), the old release serves the vault or
    # the next run puts it back.
    done = dep.apply(vaultwarden_version="1.37.2")
    assert done.returncode == 0, _message(done)
    assert_converged(dep, "1.37.2", vault)
    for entry in dep.backup_dirs():
        assert oct(os.stat(dep.backups / entry).st_mode & 0o777) == "0o700"


def test_the_module_killed_during_a_rollback_is_resumed_by_the_next_run(deployment, playbooks):
    dep = deployment()
    vault = dep.vault()
    run = dep.start(vaultwarden_version="1.99.0")     # never healthy: the change is rolled back
    # The first vaultwarden_backup makes the pre-update backup, the second restores it.
    _kill_module(playbooks, run, "vaultwarden_backup", 2)
    killed = run.finish()
    assert killed.returncode != 0
    again = dep.apply(vaultwarden_version="1.99.0")
    assert again.returncode != 0 and "ROLLED BACK" in _message(again), _message(again)
    assert dep.server()["version"] == "1.37.1" and dep.vault() == vault
    back = dep.apply(vaultwarden_version="1.37.1")
    assert back.returncode == 0, _message(back)
    assert_converged(dep, "1.37.1", vault)


def test_two_runs_at_once_make_one_change_and_one_backup(deployment):
    dep = deployment()
    vault = dep.vault()
    runs = [dep.start(vaultwarden_version="1.37.2") for dummy in range(2)]
    results = [run.finish() for run in runs]
    for result in results:
        assert result.returncode == 0, _message(result)
    assert len(dep.backup_dirs()) == 1, dep.backup_dirs()
    again = "Plan the deployment again"
    replanned = [result for result in results if any(item["task"].endswith(again) for item in result.results)]
    assert len(replanned) == 1
    assert sorted(_changed(result) > 0 for result in results) == [False, True]
    assert_converged(dep, "1.37.2", vault)


def test_a_full_disk_under_the_backup_dir_stops_the_update_before_anything_changes(deployment):
    dep = deployment()
    vault, before = dep.vault(), dep.container()["Id"]
    dep.backups.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(dep.backups)], check=True)
    try:
        full = dep.apply(vaultwarden_version="1.37.2")
        listing = os.listdir(dep.backups)
    finally:
        subprocess.run(["umount", str(dep.backups)], check=True)
    assert full.returncode != 0
    text = _message(full)
    assert "space" in text and str(dep.backups) in text, text
    assert listing == [], "the failed backup left %s" % listing
    assert dep.container()["Id"] == before and dep.server()["version"] == "1.37.1" and dep.vault() == vault
    done = dep.apply(vaultwarden_version="1.37.2")
    assert done.returncode == 0, _message(done)
    assert_converged(dep, "1.37.2", vault)


def test_a_managed_database_stopped_before_an_upgrade_is_started_and_dumped(deployment):
    dep = deployment(vaultwarden_database="postgresql")
    vault = dep.vault()
    _docker("stop", dep.name + "-db")
    done = dep.apply(vaultwarden_version="1.37.2")
    assert done.returncode == 0, _message(done)
    backups = dep.backup_dirs()
    assert len(backups) == 1
    with open(dep.backups / backups[0] / "manifest.json") as handle:
        listed = json.dumps(json.load(handle))
    assert "vaultwarden.sql" in listed, "the pre-update backup lacks the database dump"
    assert_converged(dep, "1.37.2", vault)


def test_a_managed_database_stopped_during_an_upgrade_loses_nothing(deployment, playbooks):
    dep = deployment(vaultwarden_database="postgresql", vaultwarden_health_timeout=30)
    vault = dep.vault()
    run = dep.start(vaultwarden_version="1.37.2")
    # The database stops while the new server is being judged.
    deadline = time.monotonic() + 240
    while run.running() and not _module_processes(playbooks, "vaultwarden_health") and time.monotonic() < deadline:
        time.sleep(0.01)
    _docker("stop", "-t", "2", dep.name + "-db")
    failed = run.finish()
    # It may still have passed, had the gate answered first; either way the next run converges with the vault.
    done = dep.apply(vaultwarden_version="1.37.2")
    assert done.returncode == 0, _message(failed) + _message(done)
    assert_converged(dep, "1.37.2", vault)


def test_a_container_removed_by_hand_comes_back_with_the_vault(deployment):
    dep = deployment()
    vault = dep.vault()
    _docker("rm", "-f", dep.name)
    done = dep.apply()
    assert done.returncode == 0 and _changed(done) > 0, _message(done)
    assert_converged(dep, "1.37.1", vault)


def test_a_corrupt_record_is_refused_naming_the_file_and_state_absent_still_works(deployment):
    dep = deployment()
    vault, before = dep.vault(), dep.container()["Id"]
    record = dep.base / "deployed.json"
    assert record.is_file()
    record.write_text('{"format": 2, "current": {"version": ', encoding="utf-8")
    refused = dep.apply(vaultwarden_version="1.37.2")
    assert refused.returncode != 0
    text = _message(refused)
    assert str(record) in text and "not valid JSON" in text and "move it aside or delete it" in text, text
    assert dep.container()["Id"] == before and dep.vault() == vault and dep.backup_dirs() == []
    # The fix the message names: the next run writes the record anew.
    record.unlink()
    done = dep.apply(vaultwarden_version="1.37.2")
    assert done.returncode == 0, _message(done)
    assert json.loads(record.read_text())["current"]["version"] == "1.37.2"
    assert_converged(dep, "1.37.2", vault)
    record.write_text("garbage", encoding="utf-8")
    gone = dep.apply(vaultwarden_state="absent")
    assert gone.returncode == 0, _message(gone)
    assert dep.container() is None and (dep.data / "db.sqlite3").is_file()
