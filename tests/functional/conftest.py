# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures that exercise the collection the way users get it: built, installed, called by Ansible.

``installed_collection`` builds the tarball with ``ansible-galaxy collection build`` and installs it
with ``ansible-galaxy collection install`` into a temporary collections path. ``run_playbook`` runs
``ansible-playbook`` against localhost from a scratch directory (so the checkout's ansible.cfg and its
``.cache/collections`` symlink cannot be picked up by accident) with the json callback, and returns
the per-task results.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from tools.world import publish

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _galaxy_version():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip()
    raise AssertionError("galaxy.yml has no version")


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    proc = subprocess.run(
        ["ansible-galaxy", "collection", "build", ROOT, "--output-path", str(out), "--force"],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarball = out / "homelab-vaultwarden-{0}.tar.gz".format(_galaxy_version())
    assert tarball.is_file(), proc.stdout
    return tarball


@pytest.fixture(scope="session")
def installed_collection(tmp_path_factory, collection_tarball):
    """A collections path holding the installed tarball (dependencies come from the ansible bundle)."""
    path = tmp_path_factory.mktemp("collections")
    proc = subprocess.run(
        ["ansible-galaxy", "collection", "install", str(collection_tarball), "-p", str(path), "--no-deps", "--force"],
        capture_output=True, text=True, check=False, cwd=str(path), stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = path / "ansible_collections" / "homelab" / "vaultwarden"
    assert (installed / "MANIFEST.json").is_file(), "install did not produce MANIFEST.json"
    return path


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str
    results: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def task(self, name, host=None):
        """The result dict of the task called ``name`` (first match, optionally for one host)."""
        for item in self.results:
            if item["task"] == name and (host is None or item["host"] == host):
                return item["result"]
        raise KeyError("no task named {0!r} in {1}".format(name, [r["task"] for r in self.results]))


def _parse_json_callback(stdout):
    start = stdout.find("{")
    if start < 0:
        return [], {}
    data = json.loads(stdout[start:])
    results = []
    for play in data.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                results.append({"task": task["task"]["name"], "host": host, "result": result})
    return results, data.get("stats", {})


class _Playbooks:
    """Builds and runs ansible-playbook commands against localhost with the installed collection.

    Every run gets its own playbook file, and the modules of this test's runs are unpacked under its own
    ``remote_tmp`` (``<tmp_path>/remote-tmp``), so a test can find the processes of *its* modules
    (``AnsiballZ_<module>.py`` under that directory) while other tests run beside it.
    """

    def __init__(self, installed_collection, tmp_path):
        self.collections = installed_collection
        self.tmp_path = tmp_path
        self.remote_tmp = tmp_path / "remote-tmp"
        self.count = 0

    def command(self, playbook_text, extra_vars=None, inventory=None, check=False, diff=False, env=None):
        self.count += 1
        playbook = self.tmp_path / ("playbook-%d.yml" % self.count)
        playbook.write_text(playbook_text, encoding="utf-8")
        cmd = ["ansible-playbook", str(playbook)]
        if inventory is None:
            cmd += ["-i", "localhost,", "-c", "local"]
        else:
            inv = self.tmp_path / ("inventory-%d.yml" % self.count)
            inv.write_text(inventory, encoding="utf-8")
            cmd += ["-i", str(inv)]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        run_env = dict(os.environ)
        run_env.pop("ANSIBLE_CONFIG", None)
        run_env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_REMOTE_TMP": str(self.remote_tmp),
        })
        if env:
            run_env.update(env)
        return cmd, run_env

    def run(self, playbook_text, **kwargs):
        cmd, run_env = self.command(playbook_text, **kwargs)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=str(self.tmp_path), env=run_env,
                              stdin=subprocess.DEVNULL)
        results, stats = _parse_json_callback(proc.stdout)
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, results, stats)

    def start(self, playbook_text, **kwargs):
        """A run in the background: ``finish()`` on the returned object waits for it and gives its PlaybookRun."""
        cmd, run_env = self.command(playbook_text, **kwargs)
        out = open(self.tmp_path / ("run-%d.out" % self.count), "w+", encoding="utf-8")
        err = open(self.tmp_path / ("run-%d.err" % self.count), "w+", encoding="utf-8")
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=str(self.tmp_path), env=run_env,
                                stdin=subprocess.DEVNULL)
        return _Background(proc, out, err)


class _Background:
    def __init__(self, proc, out, err):
        self.proc, self._out, self._err = proc, out, err

    def running(self):
        return self.proc.poll() is None

    def finish(self, timeout=600):
        self.proc.wait(timeout=timeout)
        texts = []
        for handle in (self._out, self._err):
            handle.seek(0)
            texts.append(handle.read())
            handle.close()
        results, stats = _parse_json_callback(texts[0])
        return PlaybookRun(self.proc.returncode, texts[0], texts[1], results, stats)


@pytest.fixture
def playbooks(installed_collection, tmp_path):
    return _Playbooks(installed_collection, tmp_path)


@pytest.fixture
def run_playbook(playbooks):
    """Run a playbook text against localhost (local connection) with the installed collection."""
    return playbooks.run


_ENGINE_LISTINGS = {
    "containers": ["ps", "--all", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.State}}"],
    "images": ["image", "ls", "--all", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"],
    "networks": ["network", "ls", "--no-trunc", "--format", "{{.ID}} {{.Name}}"],
    "volumes": ["volume", "ls", "--format", "{{.Name}}"],
}


def _host_snapshot(root):
    """What a run could change on this host: the engine's containers (with their state), images, networks and volumes,
    and the sha256 of every file under ``root`` (the playbooks, inventories and unpacked modules of the runs aside)."""
    snapshot = {}
    for kind, args in _ENGINE_LISTINGS.items():
        proc = subprocess.run(["docker"] + args, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
        snapshot[kind] = sorted(proc.stdout.splitlines())
    files = {}
    for directory, dirs, names in os.walk(str(root)):
        dirs[:] = [d for d in dirs if d != "remote-tmp"]
        for name in names:
            if name.startswith(("playbook-", "inventory-", "run-")):
                continue
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, str(root))] = hashlib.sha256(handle.read()).hexdigest()
    snapshot["files"] = files
    return snapshot


@pytest.fixture(name="host_snapshot")
def host_snapshot_fixture():
    return _host_snapshot


def pytest_collection_modifyitems(items):
    """A test that snapshots the whole engine runs alone (tools/test-all.sh: ``-m engine_snapshot`` first, without
    xdist; the rest two at a time): another test's containers would be a change it did not make."""
    for item in items:
        if "host_snapshot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.engine_snapshot)


@pytest.fixture
def moving_tags_lock():
    """Held for a test that reads or moves `latest` (a test moving it on another xdist worker would change its run)."""
    with publish.moving_tags_held():   # the world tests that move the tags hold the same lock
        yield
