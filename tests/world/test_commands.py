# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The world's commands: start is idempotent, status reports, move-tag and reset-tags move the moving tags."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from .conftest import CHECKOUT, TAGS_GROUP

pytestmark = [pytest.mark.world, TAGS_GROUP]
REPO = "vaultwarden/server"


def world_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.world"] + list(args), cwd=CHECKOUT, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture
def tags_restored(world):
    # The registry is shared (Molecule runs may move tags too): start and end with the default layout.
    assert world_command("reset-tags").returncode == 0
    yield world
    assert world_command("reset-tags").returncode == 0


def digest(world, tag: str, repository: str = REPO) -> str:
    return world.manifest(repository, tag)[2]


def test_start_is_idempotent_and_status_reports(world):
    from tools.world import registry  # pylint: disable=import-outside-toplevel
    pid = registry.running_pid()
    assert pid
    result = world_command("start")
    assert result.returncode == 0, result.stdout + result.stderr
    assert registry.running_pid() == pid
    status = world_command("status")
    assert status.returncode == 0
    assert "running on 127.0.0.1:5000 (pid %d)" % pid in status.stdout
    assert re.search(r"vaultwarden/server:latest -> 1\.\d+\.\d+\n", status.stdout), status.stdout


def test_move_latest_and_its_alpine_aliases(tags_restored):
    world = tags_restored
    assert digest(world, "latest") == digest(world, "1.37.1")
    result = world_command("move-tag", REPO, "latest", "1.37.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert digest(world, "latest") == digest(world, "1.37.2")
    assert digest(world, "latest-alpine") == digest(world, "1.37.2-alpine")
    assert digest(world, "alpine") == digest(world, "1.37.2-alpine")
    # 1.35.0's release did not push `alpine` upstream: it stays where it was.
    assert world_command("move-tag", REPO, "latest", "1.35.0").returncode == 0
    assert digest(world, "latest") == digest(world, "1.35.0")
    assert digest(world, "latest-alpine") == digest(world, "1.35.0-alpine")
    assert digest(world, "alpine") == digest(world, "1.37.2-alpine")
    assert world_command("reset-tags").returncode == 0
    assert digest(world, "latest") == digest(world, "1.37.1")
    assert digest(world, "alpine") == digest(world, "1.37.1-alpine")
    assert digest(world, "testing") == digest(world, "1.37.2")


def test_move_testing_to_a_broken_release(tags_restored):
    world = tags_restored
    assert world_command("move-tag", REPO, "testing", "1.99.0").returncode == 0
    assert digest(world, "testing") == digest(world, "1.99.0")
    assert digest(world, "testing-alpine") == digest(world, "1.99.0-alpine")
    assert digest(world, "latest") == digest(world, "1.37.1")


def test_move_tag_refuses_unknown_release(tags_restored):
    world = tags_restored
    result = world_command("move-tag", REPO, "latest", "1.36.9")
    assert result.returncode == 1
    assert "vaultwarden/server:1.36.9 does not exist" in result.stdout and "1.37.2" in result.stdout
    assert digest(world, "latest") == digest(world, "1.37.1")


def test_a_checkout_elsewhere_shares_the_cache(world, tmp_path):
    """Cache keys hash file contents and package-relative names: a clone at another path builds nothing."""
    import shutil  # pylint: disable=import-outside-toplevel
    shutil.copytree(CHECKOUT + "/tools/world", str(tmp_path / "tools" / "world"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    status = subprocess.run([sys.executable, "-m", "tools.world", "status"], cwd=str(tmp_path), capture_output=True,
                            text=True, timeout=300, check=False)
    assert status.returncode == 0, status.stdout + status.stderr
    match = re.search(r"images:\s+(\d+) of (\d+) built for the current inputs", status.stdout)
    assert match and match.group(1) == match.group(2), status.stdout
    assert "content:  current" in status.stdout


# --- the builder's pieces that need no world (they run in a second) --------------------------------------

def test_progress_lines_in_ci_are_rate_limited_and_show_the_estimate(tmp_path):
    import io  # pylint: disable=import-outside-toplevel
    import time  # pylint: disable=import-outside-toplevel
    from tools.world import progress  # pylint: disable=import-outside-toplevel
    timings = progress.Timings(str(tmp_path / "timings.json"))
    timings.put("rootfs arm64", seconds=100.0, counts={"packages installed": 130, "layers compressed": 1})
    stream = io.StringIO()
    reporter = progress.Reporter(stream=stream, live=False, interval=1.0, timings=timings)
    counter = {"n": 0}

    def poll(step):
        counter["n"] += 10
        step.update(done=counter["n"], unit="packages installed")

    with reporter.step("rootfs arm64 (mmdebstrap)", key="rootfs arm64", poll=poll):
        time.sleep(3.6)
    lines = stream.getvalue().splitlines()
    progress_lines = [line for line in lines if "packages installed -" in line]
    # One line per second at most (the interval), never one per poll; each with "of N" from the last build.
    assert 2 <= len(progress_lines) <= 4, lines
    assert all(re.search(r"\d+/130 packages installed - \d+\.\ds, about 1m3\ds left \(last build 1m40s\)", line)
               for line in progress_lines), progress_lines
    assert re.search(r"rootfs arm64 \(mmdebstrap\): done in 3\.\ds \(\d+/130 packages installed\), last build 1m40s", lines[-1])
    # The new duration and count are what the next build will show.
    again = progress.Timings(str(tmp_path / "timings.json")).get("rootfs arm64")
    assert 3.0 <= again["seconds"] < 10 and again["counts"]["packages installed"] >= 30


def test_a_failed_step_says_so_and_keeps_the_previous_timing(tmp_path):
    import io  # pylint: disable=import-outside-toplevel
    from tools.world import progress  # pylint: disable=import-outside-toplevel
    timings = progress.Timings(str(tmp_path / "timings.json"))
    timings.put("image fleet arm64", seconds=42.0)
    stream = io.StringIO()
    reporter = progress.Reporter(stream=stream, live=False, interval=30, timings=timings)
    with pytest.raises(RuntimeError):
        with reporter.step("image fleet for linux/arm64/v8", key="image fleet arm64"):
            raise RuntimeError("apt failed")
    assert "image fleet for linux/arm64/v8: FAILED after" in stream.getvalue()
    assert progress.Timings(str(tmp_path / "timings.json")).get("image fleet arm64") == {"seconds": 42.0}


def _fake_rootfs(root, packages):
    """packages: {name: [paths]}; creates the files and dpkg's file lists."""
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    for name, paths in packages.items():
        (info / ("%s.list" % name)).write_text("".join(p + "\n" for p in paths))
        for path in paths:
            target = root / path.lstrip("/")
            if path.endswith(".py"):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("VALUE = %r\n" % path)


def test_py3compile_replay_selects_what_py3compile_would(tmp_path):
    from tools.world import native  # pylint: disable=import-outside-toplevel
    public = ["/usr/lib/python3/dist-packages/foo/__init__.py", "/usr/lib/python3/dist-packages/foo/bar.py",
              "/usr/lib/python3.11/dist-packages/foo311.py", "/usr/lib/python3.9/dist-packages/old.py",
              "/usr/share/foo/private.py", "/usr/share/foo/tests/skip_me.py", "/usr/share/doc/foo/README"]
    _fake_rootfs(tmp_path, {"python3-foo": public})
    root = str(tmp_path)
    # -p PKG: the package's public modules for python3 and python3.11 only.
    assert sorted(path for path, dummy in native.py3compile_jobs(root, "arm64", ["-p", "python3-foo"])) == sorted(public[:3])
    # -p PKG DIR -X REGEX: its files under DIR, minus the excluded ones (relative or absolute match).
    jobs = native.py3compile_jobs(root, "arm64", ["-p", "python3-foo", "/usr/share/foo", "-X", "tests/.*"])
    assert jobs == [("/usr/share/foo/private.py", False)]
    # -V is not replayed on the host: the image's own py3compile runs it.
    assert native.py3compile_jobs(root, "arm64", ["-V", "3.11", "-p", "python3-foo"]) is None


def test_byte_compilation_replay_writes_what_the_image_would(tmp_path):
    """The compile script writes pyc files named for python3.11, with the in-image path as co_filename."""
    import marshal  # pylint: disable=import-outside-toplevel
    from tools.world import native  # pylint: disable=import-outside-toplevel
    if not os.path.exists("/usr/bin/python3.11"):
        pytest.skip("no /usr/bin/python3.11 on this host")
    path = "/usr/lib/python3/dist-packages/foo/bar.py"
    _fake_rootfs(tmp_path, {"python3-foo": [path]})
    root = str(tmp_path)
    result = subprocess.run(["/usr/bin/python3.11", "-E", "-S", "-c", native.COMPILE_SCRIPT], input=json.dumps([root, [[path, False]]]),
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"compiled": 1, "failed": []}
    with open(root + native.cache_file(path, False), "rb") as handle:
        header = handle.read(16)
        code = marshal.load(handle)
    assert header[:4] == native.MAGIC and code.co_filename == path
    # py3compile would now leave it alone: the header matches the source's mtime.
    assert native.py3compile_jobs(root, "arm64", ["-p", "python3-foo"]) == []


# --- what the build leaves in the images: nothing of its own ---------------------------------------------

IMAGE_CHECK = r'''
import json, marshal, os, platform, subprocess
found = {}
host = platform.machine() == "x86_64"
found["leftovers"] = [p for p in ("/.vw-native", "/usr/lib/x86_64-linux-gnu", "/lib64/ld-linux-x86-64.so.2")
                      if os.path.lexists(p) and not host]
found["diversions"] = [l for l in subprocess.run(["dpkg-divert", "--list"], capture_output=True, text=True).stdout.splitlines()
                       if "vw-world" in l]
found["stubs"] = [p for p in ("/usr/bin/py3compile", "/usr/lib/python3.11/py_compile.py")
                  if "test world" in open(p).read()]
pycs = {}
for source in ("/usr/lib/python3.11/json/__init__.py", "/usr/lib/python3/dist-packages/docker/__init__.py"):
    cache = os.path.join(os.path.dirname(source), "__pycache__", "__init__.cpython-311.pyc")
    with open(cache, "rb") as handle:
        header = handle.read(16)
        code = marshal.load(handle)
    stat = os.stat(source)
    pycs[source] = [int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF,
                    int.from_bytes(header[12:16], "little") == stat.st_size, code.co_filename]
found["pycs"] = pycs
print(json.dumps(found))
'''


@pytest.mark.parametrize("tag", ["amd64", "arm64", "armv7", "armv6"])
def test_fleet_host_images_carry_nothing_of_the_build(world, tag):
    """No host tools, diversions or stubs are left; byte-compiled modules are valid for their sources and name
    their in-image path (the arm images' are compiled on the host)."""
    del world
    env = ["-e", "QEMU_CPU=arm1176"] if tag == "armv6" else []
    result = subprocess.run(["docker", "run", "--rm", "--name", "vwtest-artifacts-%s-%d" % (tag, os.getpid())] + env
                            + ["homelab-vw-host:" + tag, "/usr/bin/python3", "-c", IMAGE_CHECK],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["leftovers"] == [] and found["diversions"] == [] and found["stubs"] == [], found
    for source, (mtime_ok, size_ok, filename) in found["pycs"].items():
        assert mtime_ok and size_ok and filename == source, (source, found["pycs"][source])


def test_byte_compilation_follows_links_inside_the_rootfs_only(tmp_path):
    """An absolute link in the rootfs (sitecustomize.py -> /etc/python3.11/...) means the rootfs's file, not the
    host's: the pyc header records the in-image file's mtime and size, and nothing is written outside the rootfs."""
    import marshal  # pylint: disable=import-outside-toplevel
    from tools.world import native  # pylint: disable=import-outside-toplevel
    if not os.path.exists("/usr/bin/python3.11"):
        pytest.skip("no /usr/bin/python3.11 on this host")
    root = tmp_path / "rootfs"
    (root / "etc/python3.11").mkdir(parents=True)
    (root / "usr/lib/python3.11").mkdir(parents=True)
    target = root / "etc/python3.11/sitecustomize.py"
    target.write_text("# the image's own, %d bytes long\n" % 33)
    os.utime(str(target), (1_000_000_000, 1_000_000_000))
    os.symlink("/etc/python3.11/sitecustomize.py", str(root / "usr/lib/python3.11/sitecustomize.py"))
    # An absolute directory link pointing at a host directory must stay inside the rootfs too.
    (root / "usr/lib/python3/dist-packages").mkdir(parents=True)
    outside = tmp_path / "host-dir"
    outside.mkdir()
    os.symlink(str(outside), str(root / "usr/lib/python3/dist-packages/linked"))
    (root / (str(outside).lstrip("/"))).mkdir(parents=True)
    (root / (str(outside).lstrip("/")) / "mod.py").write_text("X = 1\n")
    jobs = [["/usr/lib/python3.11/sitecustomize.py", False], ["/usr/lib/python3/dist-packages/linked/mod.py", False]]
    result = subprocess.run(["/usr/bin/python3.11", "-E", "-S", "-c", native.COMPILE_SCRIPT], input=json.dumps([str(root), jobs]),
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"compiled": 2, "failed": []}
    with open(str(root / "usr/lib/python3.11/__pycache__/sitecustomize.cpython-311.pyc"), "rb") as handle:
        header = handle.read(16)
        code = marshal.load(handle)
    assert int.from_bytes(header[8:12], "little") == 1_000_000_000
    assert int.from_bytes(header[12:16], "little") == target.stat().st_size
    assert code.co_filename == "/usr/lib/python3.11/sitecustomize.py"
    assert list(outside.iterdir()) == [], "wrote outside the rootfs"
    assert (root / str(outside).lstrip("/") / "__pycache__" / "mod.cpython-311.pyc").exists()


def test_stub_diversions_leave_no_trace_in_dpkgs_backup(tmp_path):
    """dpkg keeps the previous diversions in diversions-old: after the build's stubs are gone, it must not list them."""
    from tools.world import native  # pylint: disable=import-outside-toplevel
    dpkg = tmp_path / "var/lib/dpkg"
    dpkg.mkdir(parents=True)
    legit = "/bin/sh\n/bin/sh.distrib\ndash\n"
    stub = "/usr/bin/py3compile\n/usr/bin/py3compile.vw-world\n:\n"
    (dpkg / "diversions").write_text(legit)
    (dpkg / "diversions-old").write_text("")
    before = native.diversion_snapshot(str(tmp_path))
    # What dpkg-divert leaves after adding and removing the stub's diversion:
    (dpkg / "diversions-old").write_text(stub + legit)
    native.restore_diversion_backup(str(tmp_path), before, native.PYTHON_STUBS)
    assert (dpkg / "diversions-old").read_text() == ""
    # The install diverted something of its own meanwhile: only the stub's record goes.
    (dpkg / "diversions").write_text(legit + "/usr/bin/x\n/usr/bin/x.real\npkg\n")
    (dpkg / "diversions-old").write_text(stub + legit + "/usr/bin/x\n/usr/bin/x.real\npkg\n")
    native.restore_diversion_backup(str(tmp_path), before, native.PYTHON_STUBS)
    assert (dpkg / "diversions-old").read_text() == legit + "/usr/bin/x\n/usr/bin/x.real\npkg\n"
