# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role on the oldest and the newest ansible-core that meta/runtime.yml claims, with variables given as strings.

`-e vaultwarden_purge_data=false` once deleted a vault on 2.16-2.18 (the string was truthy) and crashed on 2.19;
`-e` ports crashed on 2.19. Each supported ansible-core runs the same plays here, against the test world's registry:
a deploy with `-e` strings, a refused downgrade with `-e vaultwarden_allow_downgrade=false`, and `state=absent` with
`-e vaultwarden_purge_data=false`, checking the host (container, data) after each.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import urllib.request

import pytest

pytestmark = [pytest.mark.ansible, pytest.mark.world]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "homelab-vaultwarden", "venvs")
# community.docker as installed with the `ansible` bundle (site-packages/ansible_collections/...).
BUNDLE = os.path.dirname(os.path.dirname(__import__("ansible").__file__))
PLAYBOOK = os.path.join(ROOT, "playbooks", "site.yml")


def _requires_ansible():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        for line in handle:
            if line.startswith("requires_ansible:"):
                return line.split(">=", 1)[1].strip().strip("\"'")
    raise AssertionError("meta/runtime.yml has no requires_ansible")


def _oldest_venv():
    """A virtualenv with the oldest ansible-core the collection claims (made once, reused)."""
    oldest = ".".join(_requires_ansible().split(".")[:2])
    venv = os.path.join(CACHE, "ansible-core-" + oldest)
    python = os.path.join(venv, "bin", "python")
    os.makedirs(CACHE, exist_ok=True)
    # Two xdist workers may want it at once: one makes it, the other waits and reuses it.
    with open(venv + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(venv, ".complete")):
            subprocess.run([sys.executable, "-m", "venv", "--clear", venv], check=True, stdin=subprocess.DEVNULL)
            subprocess.run([python, "-m", "pip", "install", "-q", "ansible-core~=%s.0" % oldest, "argon2-cffi",
                            "requests", "pyyaml"], check=True, stdin=subprocess.DEVNULL)
            open(os.path.join(venv, ".complete"), "w").close()
    return os.path.join(venv, "bin")


CORES = {
    "oldest": _oldest_venv,
    "newest": lambda: os.path.dirname(sys.executable),
}


def _inspect(name):
    proc = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=False)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def _tree(path):
    digest = {}
    for directory, dummy, files in os.walk(path):
        for name in files:
            with open(os.path.join(directory, name), "rb") as handle:
                digest[os.path.relpath(os.path.join(directory, name), path)] = hashlib.sha256(handle.read()).hexdigest()
    return digest


@pytest.mark.parametrize("core", sorted(CORES))
def test_extra_vars_strings_behave_as_their_types(core, tmp_path):
    try:
        urllib.request.urlopen("http://127.0.0.1:5000/v2/", timeout=5).close()
    except OSError as exc:
        pytest.fail("the test world's registry is not running (python3 -m tools.world build): %s" % exc)
    bindir = CORES[core]()
    version = subprocess.run([os.path.join(bindir, "ansible-playbook"), "--version"], capture_output=True, text=True,
                             check=True, stdin=subprocess.DEVNULL).stdout.splitlines()[0]
    if core == "oldest":
        assert "core %s." % ".".join(_requires_ansible().split(".")[:2]) in version, version
    name = "vwtest-core-%s-%d" % (core, os.getpid())
    base = str(tmp_path / "vw")
    link = tmp_path / "collections" / "ansible_collections" / "homelab"
    link.mkdir(parents=True)
    os.symlink(ROOT, str(link / "vaultwarden"))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH="%s:%s" % (tmp_path / "collections", BUNDLE),
               PATH=bindir + os.pathsep + os.environ["PATH"], ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"children": {"vaultwarden": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": os.path.join(bindir, "python")}}}}}}))

    def play(*extra):
        argv = [os.path.join(bindir, "ansible-playbook"), "-i", str(inventory), PLAYBOOK,
                "-e", "vaultwarden_registry=127.0.0.1:5000", "-e", "vaultwarden_container_name=" + name,
                "-e", "vaultwarden_base_dir=" + base]
        for item in extra:
            argv += ["-e", item]
        return subprocess.run(argv, capture_output=True, text=True, check=False, env=env, cwd=str(tmp_path),
                              stdin=subprocess.DEVNULL)

    try:
        first = play("vaultwarden_version=1.37.2", "vaultwarden_http_port=18296", "vaultwarden_rollback=false",
                     "vaultwarden_signups_allowed=false", "vaultwarden_health_timeout=60")
        assert first.returncode == 0, first.stdout[-3000:]
        container = _inspect(name)
        env_of = dict(item.split("=", 1) for item in container["Config"]["Env"])
        assert env_of["SIGNUPS_ALLOWED"] == "false"
        assert container["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostPort"] == "18296"

        # Booleans and ports as strings are the same values: nothing to do.
        again = play("vaultwarden_version=1.37.2", "vaultwarden_http_port=18296", "vaultwarden_rollback=false",
                     "vaultwarden_signups_allowed=false", "vaultwarden_health_timeout=60")
        assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]

        data = _tree(os.path.join(base, "data"))
        refused = play("vaultwarden_version=1.35.1", "vaultwarden_allow_downgrade=false", "vaultwarden_http_port=18296",
                       "vaultwarden_signups_allowed=false")
        assert refused.returncode != 0 and "Refusing to downgrade vaultwarden from 1.37.2 to 1.35.1" in refused.stdout
        assert _inspect(name)["Id"] == container["Id"] and _tree(os.path.join(base, "data")) == data

        removed = play("vaultwarden_state=absent", "vaultwarden_purge_data=false")
        assert removed.returncode == 0, removed.stdout[-3000:]
        assert _inspect(name) is None
        assert os.path.isfile(os.path.join(base, "data", "db.sqlite3")), "purge_data=false deleted the data"
        assert os.path.isfile(os.path.join(base, "deployed.json")) and os.path.isdir(os.path.join(base, "backups"))
    finally:
        play("vaultwarden_state=absent", "vaultwarden_purge_data=true")
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_the_role_speaks_docker_api_1_29(tmp_path):
    """Docker 17.05 (a Synology DSM engine of upstream's table) speaks API 1.29: no `platform` on pull or create."""
    name = "vwtest-api129-%d" % os.getpid()
    base = str(tmp_path / "vw")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)

    def play(*extra):
        argv = ["ansible-playbook", "-i", os.path.join(ROOT, "inventories", "local", "hosts.yml"), PLAYBOOK,
                "-e", "vaultwarden_registry=127.0.0.1:5000", "-e", "vaultwarden_container_name=" + name,
                "-e", "vaultwarden_base_dir=" + base, "-e", "vaultwarden_http_port=18297",
                "-e", "vaultwarden_docker_api_version=1.29"]
        for item in extra:
            argv += ["-e", item]
        return subprocess.run(argv, capture_output=True, text=True, check=False, env=env, cwd=str(tmp_path),
                              stdin=subprocess.DEVNULL)

    try:
        first = play("vaultwarden_version=1.37.1")
        assert first.returncode == 0, first.stdout[-3000:]
        with open(os.path.join(base, "deployed.json")) as handle:
            record = json.load(handle)
        assert record["current"]["spec"]["platform"] is None       # not passed below API 1.41
        with urllib.request.urlopen("http://127.0.0.1:18297/api/standin", timeout=10) as response:
            assert json.load(response)["version"] == "1.37.1"
        upgraded = play("vaultwarden_version=1.37.2")
        assert upgraded.returncode == 0, upgraded.stdout[-3000:]
        assert _inspect(name)["Config"]["Labels"]["io.github.homelab.vaultwarden.version"] == "1.37.2"
        again = play("vaultwarden_version=1.37.2")
        assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]
    finally:
        play("vaultwarden_state=absent", "vaultwarden_purge_data=true")
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
