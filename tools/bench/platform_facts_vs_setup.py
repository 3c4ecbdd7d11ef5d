# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time homelab.vaultwarden.platform_facts against ansible.builtin.setup on localhost.

One ansible-playbook run holds N tasks of each, interleaved so that drift (cache warm-up, other
load) hits both alike. Task durations come from the ansible.posix.json callback, so they include
what a user pays per task: AnsiballZ packaging, the local connection, the module run.

    python3 tools/bench/platform_facts_vs_setup.py -n 15

The checkout is used as the collection through .cache/collections (as the unit tests do).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")

SERIES = {
    "ansible.builtin.setup": "ansible.builtin.setup:",
    "platform_facts": "homelab.vaultwarden.platform_facts:",
    "platform_facts gather_docker=false": "homelab.vaultwarden.platform_facts:\n        gather_docker: false",
}


def ensure_collection_link():
    link = os.path.join(COLLECTIONS, "ansible_collections", "homelab", "vaultwarden")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)


def playbook(rounds):
    tasks = []
    for index in range(rounds):
        for label, body in SERIES.items():
            tasks.append("    - name: \"{0} #{1}\"\n      {2}\n".format(label, index, body))
    return "- hosts: localhost\n  gather_facts: false\n  tasks:\n" + "".join(tasks)


def parse_time(text):
    return datetime.datetime.strptime(text.replace("Z", "+00:00"), "%Y-%m-%dT%H:%M:%S.%f%z")


def run(rounds, python):
    ensure_collection_link()
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "bench.yml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(playbook(rounds))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                   ANSIBLE_PYTHON_INTERPRETER=python, ANSIBLE_LOCALHOST_WARNING="false",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
        env.pop("ANSIBLE_CONFIG", None)
        proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", path],
                              capture_output=True, text=True, cwd=scratch, env=env, check=False)
    if proc.returncode != 0:
        sys.exit("ansible-playbook failed (%d):\n%s\n%s" % (proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
    data = json.loads(proc.stdout[proc.stdout.find("{"):])
    durations = dict((label, []) for label in SERIES)
    for task in data["plays"][0]["tasks"]:
        label = task["task"]["name"].rsplit(" #", 1)[0]
        span = task["task"]["duration"]
        durations[label].append((parse_time(span["end"]) - parse_time(span["start"])).total_seconds())
    return durations


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("-n", "--rounds", type=int, default=10, help="tasks of each kind (default 10)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the modules (default: this one)")
    args = parser.parse_args()
    durations = run(args.rounds, args.python)
    setup = statistics.median(durations["ansible.builtin.setup"])
    print("%d runs each, localhost, local connection, interpreter %s" % (args.rounds, args.python))
    print("%-38s %10s %10s %10s %12s" % ("task", "median s", "min s", "max s", "vs setup"))
    for label, values in durations.items():
        median = statistics.median(values)
        print("%-38s %10.3f %10.3f %10.3f %11.2fx" % (label, median, min(values), max(values), median / setup))


if __name__ == "__main__":
    main()
