# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How cheap a no-op run of the role is, as ratios measured in one run: localhost and the emulated fleet.

For each target it measures, interleaved (ping, no-op, ping, no-op, ...), the floor `ansible -m ping`, the first
converge (from nothing: no container, no image), the no-op converge (nothing to do), and counts the remote module runs
of one no-op run (the EXEC lines of `-vvv` with pipelining: one per module run). On localhost it also times a release
that never becomes healthy, from the start of the run to the end of its rollback, and checks the next run is a no-op.
Prints medians and the ratios no-op / ping. Asserts nothing: the goals (no-op <= 3x ping on localhost, <= 2.5x on the
fleet, <= 3 module runs per host, a never-healthy release rolled back within 45 s) are read off.

    python3 tools/bench/noop.py [--runs 5] [--fleet/--no-fleet]

Needs the offline world (python3 -m tools.world build) and the fleet host images.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLEET = (("amd64", "linux/amd64", "127.0.0.1", {}), ("arm64", "linux/arm64", "127.0.0.2", {}),
         ("armv7", "linux/arm/v7", "127.0.0.3", {}), ("armv6", "linux/arm/v6", "127.0.0.4", {"QEMU_CPU": "arm1176"}))
EXEC = re.compile(r"^<[^>]+> EXEC .*(python|ansiballz)", re.IGNORECASE)


def env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".cache", "collections"), ANSIBLE_PIPELINING="true",
                ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="false")


def timed(argv, cwd):
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env(), capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    return time.monotonic() - started, proc


def must(proc, what):
    if proc.returncode != 0:
        sys.exit("%s failed (%d):\n%s" % (what, proc.returncode, (proc.stdout + proc.stderr)[-4000:]))


def write_inventory(directory, hosts):
    path = os.path.join(directory, "inventory.json")
    with open(path, "w") as handle:
        json.dump({"all": {"children": {"vaultwarden": {"hosts": hosts}}}}, handle)
    return path


def clear_images(registries):
    """Remove the vaultwarden images pulled from these registries, so that the first converge pulls as on a new host."""
    listed = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True,
                            check=False, stdin=subprocess.DEVNULL).stdout.split()
    doomed = [ref for ref in listed if any(ref.startswith(r + "/vaultwarden/") for r in registries)]
    if doomed:
        subprocess.run(["docker", "image", "rm", "-f"] + doomed, capture_output=True, check=False, stdin=subprocess.DEVNULL)


def never_healthy(converge, workdir, ping_median):
    """A release that never becomes healthy (the world's 1.99.0): seconds from the start of the run to the end of the
    rollback, and whether the next run of the previous configuration is a no-op."""
    elapsed, proc = timed(converge + ["-e", "vaultwarden_version=1.99.0"], workdir)
    if proc.returncode == 0 or "ROLLED BACK" not in proc.stdout:
        sys.exit("the never-healthy release was not rolled back:\n%s" % (proc.stdout + proc.stderr)[-4000:])
    dummy, after = timed(converge, workdir)
    must(after, "converge after the rollback")
    noop = not re.search(r"changed=[1-9]", after.stdout)
    print("%-10s never-healthy release detected and rolled back in %6.2f s (%4.1fx ping); the next run a no-op: %s"
          % ("", elapsed, elapsed / ping_median, "yes" if noop else "NO"))


def measure(name, inventory, workdir, runs, extra, registries, rollback=False):
    playbook = os.path.join(ROOT, "playbooks", "site.yml")
    ping = ["ansible", "-i", inventory, "vaultwarden", "-m", "ansible.builtin.ping"]
    converge = ["ansible-playbook", "-i", inventory, playbook] + extra
    clear_images(registries)
    first, proc = timed(converge, workdir)
    must(proc, "first converge (%s)" % name)
    pings, noops = [], []
    for dummy in range(runs):
        elapsed, proc = timed(ping, workdir)
        must(proc, "ping (%s)" % name)
        pings.append(elapsed)
        elapsed, proc = timed(converge, workdir)
        must(proc, "no-op converge (%s)" % name)
        if re.search(r"changed=[1-9]", proc.stdout):
            sys.exit("the no-op converge of %s changed something:\n%s" % (name, proc.stdout[-3000:]))
        noops.append(elapsed)
    dummy, proc = timed(converge + ["-vvv"], workdir)
    must(proc, "counted no-op converge (%s)" % name)
    execs = sum(1 for line in proc.stdout.splitlines() if EXEC.search(line))
    with open(inventory) as handle:
        hosts = len(json.load(handle)["all"]["children"]["vaultwarden"]["hosts"])
    ping_median, noop_median = statistics.median(pings), statistics.median(noops)
    figures = (name, ping_median, first, first / ping_median, noop_median, noop_median / ping_median,
               execs / float(hosts))
    print("%-10s ping %6.2f s | first converge %6.2f s (%4.1fx ping) | no-op %6.2f s (%4.2fx ping) | "
          "remote module runs per host on a no-op: %.1f" % figures)
    if rollback:
        never_healthy(converge, workdir, ping_median)
    return noop_median / ping_median


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fleet", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="vw-bench-")
    containers = []
    try:
        local = write_inventory(work, {"localhost": {"ansible_connection": "local",
                                                     "ansible_python_interpreter": sys.executable}})
        base = os.path.join(work, "local")
        measure("localhost", local, work, args.runs,
                ["-e", "vaultwarden_registry=127.0.0.1:5000", "-e", "vaultwarden_base_dir=" + base,
                 "-e", "vaultwarden_container_name=vw-bench-local", "-e", "vaultwarden_http_port=18390"],
                ["127.0.0.1:5000"], rollback=True)
        subprocess.run(["ansible-playbook", "-i", local, os.path.join(ROOT, "playbooks", "site.yml"), "-e",
                        "vaultwarden_state=absent", "-e", "vaultwarden_container_name=vw-bench-local", "-e",
                        "vaultwarden_base_dir=" + base], cwd=work, env=env(), capture_output=True, check=False,
                       stdin=subprocess.DEVNULL)
        if not args.fleet:
            return
        hosts = {}
        for index, (tag, platform, registry, extra_env) in enumerate(FLEET):
            name = "vw-bench-" + tag
            data = os.path.join("/tmp", "vw-bench-fleet", name)
            os.makedirs(data, exist_ok=True)
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
            argv = ["docker", "run", "-d", "--name", name, "--platform", platform, "--network", "host",
                    "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", "%s:%s" % (data, data)]
            for key, value in extra_env.items():
                argv += ["-e", "%s=%s" % (key, value)]
            proc = subprocess.run(argv + ["homelab-vw-host:" + tag, "sleep", "infinity"], capture_output=True,
                                  text=True, check=False)
            must(proc, "starting " + name)
            containers.append(name)
            hosts[name] = {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3",
                           "vaultwarden_registry": registry + ":5000", "vaultwarden_base_dir": data,
                           "vaultwarden_container_name": name + "-vw", "vaultwarden_http_port": 18391 + index,
                           "vaultwarden_env": extra_env}
        fleet = write_inventory(work, hosts)
        measure("fleet(4)", fleet, work, args.runs, [], [registry + ":5000" for _t, _p, registry, _e in FLEET])
        subprocess.run(["ansible-playbook", "-i", fleet, os.path.join(ROOT, "playbooks", "site.yml"), "-e",
                        "vaultwarden_state=absent", "-e", "vaultwarden_purge_data=true"], cwd=work, env=env(),
                       capture_output=True, check=False, stdin=subprocess.DEVNULL)
    finally:
        if containers:
            subprocess.run(["docker", "rm", "-f"] + containers, capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree("/tmp/vw-bench-fleet", ignore_errors=True)


if __name__ == "__main__":
    main()
