# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-host converge and no-op times of a Molecule scenario, and the task counts of a no-op run.

Each host is converged alone (``--limit``), first from nothing, then again with nothing to do, so the
figures are per host and not blurred by the other emulated hosts sharing the two cores. Prints a table;
asserts nothing. Needs the offline world (python3 -m tools.world build).

    python3 tools/bench/molecule_hosts.py [--scenario default]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECAP = re.compile(r"^\W*(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def molecule(*args):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", NO_COLOR="1")
    started = time.monotonic()
    proc = subprocess.run(["molecule"] + list(args), cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    elapsed = time.monotonic() - started
    return proc, elapsed


def recap(output, host):
    text = ANSI.sub("", output).replace("\n  │   ", " ")
    found = None
    for line in text.splitlines():
        match = RECAP.match(line.replace("│", " "))
        if match and match.group(1) == host:
            found = {"ok": int(match.group(2)), "changed": int(match.group(3)), "failed": int(match.group(5)),
                     "skipped": int(match.group(6))}
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--hosts", default="vw-amd64,vw-arm64,vw-armv7,vw-armv6")
    args = parser.parse_args()
    hosts = args.hosts.split(",")
    molecule("reset", "-s", args.scenario)
    molecule("destroy", "-s", args.scenario)
    for step in ("create", "prepare"):
        proc, _elapsed = molecule(step, "-s", args.scenario)
        if proc.returncode:
            sys.exit("molecule %s failed:\n%s" % (step, proc.stdout[-3000:]))
    rows = []
    try:
        for host in hosts:
            first, first_time = molecule("converge", "-s", args.scenario, "--", "--limit", host)
            noop, noop_time = molecule("converge", "-s", args.scenario, "--", "--limit", host)
            rows.append((host, first_time, recap(first.stdout, host), noop_time, recap(noop.stdout, host)))
    finally:
        molecule("cleanup", "-s", args.scenario)
        molecule("destroy", "-s", args.scenario)
    print("scenario %s, each host converged alone" % args.scenario)
    print("%-10s %12s %10s %10s %14s %10s" % ("host", "converge s", "changed", "no-op s", "no-op tasks", "changed"))
    for host, first_time, first, noop_time, noop in rows:
        print("%-10s %12.1f %10s %10.1f %14s %10s" % (
            host, first_time, first and first["changed"], noop_time,
            noop and "%d ok, %d skipped" % (noop["ok"], noop["skipped"]), noop and noop["changed"]))
    amd64 = [row for row in rows if row[0].endswith("amd64")]
    if amd64:
        for host, first_time, _first, noop_time, _noop in rows:
            print("%-10s converge %.1fx, no-op %.1fx the amd64 host" % (host, first_time / amd64[0][1], noop_time / amd64[0][3]))


if __name__ == "__main__":
    main()
