# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's commands work whatever the caller's standard descriptors are.

Ansible refuses to start on a non-blocking stdin, stdout or stderr, and O_NONBLOCK is a property of the open file
description that every process sharing a terminal, pipe or CI log sees. `make deploy` once died that way after the
world build had left the shared stdin non-blocking. The Makefile now gives every command its own stdin and starts
it through tools/blocking-stdio.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPER = os.path.join(ROOT, "tools", "blocking-stdio")
PROBE = ("import json, os; print(json.dumps({'blocking': [os.get_blocking(fd) for fd in (0, 1, 2)], "
         "'stdin': os.readlink('/proc/self/fd/0')}))")


def _non_blocking_pipe():
    read_end, write_end = os.pipe()
    for fd in (read_end, write_end):
        os.set_blocking(fd, False)
    assert fcntl.fcntl(read_end, fcntl.F_GETFL) & os.O_NONBLOCK
    return read_end, write_end


def test_blocking_stdio_makes_shared_descriptors_blocking():
    stdin_read, stdin_write = _non_blocking_pipe()
    out_read, out_write = _non_blocking_pipe()
    try:
        process = subprocess.Popen([HELPER, sys.executable, "-c", PROBE], stdin=stdin_read, stdout=out_write,
                                   stderr=subprocess.PIPE)
        os.close(out_write)
        out_write = None
        os.set_blocking(out_read, True)
        with os.fdopen(out_read, "rb") as reader:
            out_read = None
            output = reader.read().decode()
        stderr = process.communicate(timeout=60)[1].decode()
    finally:
        for fd in (stdin_read, stdin_write, out_read, out_write):
            if fd is not None:
                os.close(fd)
    assert process.returncode == 0, stderr
    assert json.loads(output)["blocking"] == [True, True, True]
    assert "fd 0 was non-blocking" in stderr and "fd 1 was non-blocking" in stderr, stderr


def test_blocking_stdio_opens_closed_descriptors_on_dev_null():
    result = subprocess.run([HELPER, sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False,
                            preexec_fn=lambda: os.close(0))  # pylint: disable=subprocess-popen-preexec-fn
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"blocking": [True, True, True], "stdin": "/dev/null"}


def test_blocking_stdio_names_a_missing_command():
    result = subprocess.run([HELPER, "no-such-command-vw"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 127
    assert "cannot run no-such-command-vw" in result.stderr


# Recipe lines that start one of these must go through tools/blocking-stdio with their own stdin.
PROGRAMS = re.compile(r"ansible-playbook |ansible-lint |molecule test|-m pytest|-m tools\.world|tools/(bootstrap|test-all|sanity)\.sh"
                      r"|tools/bench/")


@pytest.mark.parametrize("target", ["deploy", "undeploy", "detect", "test", "world", "unit", "functional", "world-test",
                                    "lint", "sanity", "molecule", "bench", "deps"])
def test_make_targets_give_each_command_its_own_blocking_stdio(target):
    listed = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
                            stdin=subprocess.DEVNULL)
    assert listed.returncode == 0, listed.stderr
    commands = [line.strip() for line in listed.stdout.splitlines() if PROGRAMS.search(line)]
    assert commands, "make -n %s runs none of the programs checked here:\n%s" % (target, listed.stdout)
    for command in commands:
        assert "tools/blocking-stdio " in command, "%s: %r does not start through tools/blocking-stdio" % (target, command)
        assert command.rstrip().endswith("</dev/null") or "</dev/null;" in command, \
            "%s: %r does not get its own stdin (</dev/null)" % (target, command)


def _container_exists(name: str) -> bool:
    return subprocess.run(["docker", "container", "inspect", name], capture_output=True, check=False).returncode == 0


def _make_with_non_blocking_stdio(target: str, timeout: int) -> subprocess.CompletedProcess:
    """make TARGET with stdin a pipe whose O_NONBLOCK flag was set first, and stdout/stderr a non-blocking pipe too
    (as a CI runner's log pipe may be)."""
    stdin_read, stdin_write = _non_blocking_pipe()
    out_read, out_write = _non_blocking_pipe()
    os.set_blocking(out_read, True)   # our end only: the child's end keeps the flag
    try:
        process = subprocess.Popen(["make", target], cwd=ROOT, stdin=stdin_read, stdout=out_write, stderr=out_write,
                                   env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
        os.close(out_write)
        out_write = None
        chunks = []
        with os.fdopen(out_read, "rb") as reader:
            out_read = None
            for chunk in iter(lambda: reader.read1(65536), b""):
                chunks.append(chunk)
        process.wait(timeout=timeout)
    finally:
        for fd in (stdin_read, stdin_write, out_read, out_write):
            if fd is not None:
                os.close(fd)
    return subprocess.CompletedProcess(["make", target], process.returncode, b"".join(chunks).decode(errors="replace"), "")


@pytest.mark.ansible
@pytest.mark.world
def test_readme_deploy_and_undeploy_with_non_blocking_stdin(moving_tags_lock):  # deploys `latest`
    """The README's deploy command on this machine, stdin a non-blocking pipe; then undeploy the same way."""
    if _container_exists("vaultwarden"):
        pytest.skip("a container named vaultwarden already runs here; this test deploys and removes the README's default")
    base_dir_existed = os.path.exists("/opt/vaultwarden")
    try:
        deployed = _make_with_non_blocking_stdio("deploy", timeout=3600)
        assert "requires blocking IO" not in deployed.stdout, deployed.stdout[-3000:]
        assert deployed.returncode == 0, deployed.stdout[-5000:]
        with urllib.request.urlopen("http://127.0.0.1:8080/alive", timeout=30) as response:
            assert response.status == 200
    finally:
        removed = _make_with_non_blocking_stdio("undeploy", timeout=1800)
        if not base_dir_existed:
            shutil.rmtree("/opt/vaultwarden", ignore_errors=True)
    assert "requires blocking IO" not in removed.stdout, removed.stdout[-3000:]
    assert removed.returncode == 0, removed.stdout[-5000:]
    assert not _container_exists("vaultwarden")


@pytest.mark.ansible
@pytest.mark.parametrize("how", ["stdin closed", "no terminal, as over ssh without a tty"])
def test_make_detect_with_stdin_closed_and_without_a_controlling_terminal(how):
    """`ssh host make detect` runs with no controlling terminal and stdin a socket or nothing; a script may close fd 0.

    setsid puts make in a new session without a terminal (as sshd does without -t); `exec 0<&-` closes stdin itself.
    """
    script = "exec 0<&-; exec make detect" if how == "stdin closed" else "exec setsid make detect </dev/null"
    completed = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
                               stdin=subprocess.DEVNULL, env=dict(os.environ, ANSIBLE_NOCOLOR="1"),
                               start_new_session=True)
    output = completed.stdout + completed.stderr
    assert "requires blocking IO" not in output, output[-3000:]
    assert completed.returncode == 0, output[-5000:]
    # The play printed the host's platform, as detect.yml does.
    assert re.search(r"linux/(amd64|arm64|arm/v[567])", output), output[-3000:]
