# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the vaultwarden_backup module_utils: time and peak memory of a backup and a restore.

    python tools/bench/backup.py [--sizes 1 50 200] [--attachments-ratio 0.25] [--workdir DIR] [--keep]

For each size it builds a WAL-mode SQLite database of that many MB plus attachments, then runs each
operation in a fresh child process so that its peak RSS (getrusage ru_maxrss via wait4) belongs to
that operation alone; the child also reports its tracemalloc peak (Python-level allocations).
A child that only imports the code gives the baseline RSS. The page cache is warm (files just written).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
MB = 1024 * 1024


def _importable():
    link = os.path.join(COLLECTIONS, "ansible_collections", "homelab", "vaultwarden")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        try:
            os.symlink(ROOT, link)
        except FileExistsError:
            pass
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)


def build_data_dir(path, db_mb, attachments_mb):
    os.makedirs(os.path.join(path, "attachments"))
    os.makedirs(os.path.join(path, "sends"))
    connection = sqlite3.connect(os.path.join(path, "db.sqlite3"))
    connection.execute("PRAGMA journal_mode=wal")
    connection.execute("CREATE TABLE ciphers (id INTEGER PRIMARY KEY, data BLOB)")
    row = 2000
    with connection:
        connection.executemany("INSERT INTO ciphers (data) VALUES (?)", ((os.urandom(row),) for _count in range(int(db_mb * MB / (row + 60)))))
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    with open(os.path.join(path, "config.json"), "w") as handle:
        handle.write('{"admin_token": "bench"}')
    with open(os.path.join(path, "rsa_key.pem"), "wb") as handle:
        handle.write(os.urandom(1700))
    remaining = int(attachments_mb * MB)
    index = 0
    while remaining > 0:
        size = min(remaining, 4 * MB)
        folder = os.path.join(path, "attachments", "cipher-%03d" % (index // 10))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "file-%04d" % index), "wb") as handle:
            handle.write(os.urandom(size))
        remaining -= size
        index += 1


def child(operation, source, target):
    _importable()
    from ansible_collections.homelab.vaultwarden.plugins.module_utils import backup

    tracemalloc.start()
    started = time.perf_counter()
    if operation == "backup":
        result = backup.create_backup(source, target, retention=0)
        moved = result["manifest"]["total_size"]
    elif operation == "restore":
        result = backup.restore_backup(source, target)
        moved = result["manifest"]["total_size"]
    else:
        moved = 0
    seconds = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    print(json.dumps({"seconds": seconds, "tracemalloc_peak": peak, "bytes": moved}))


def run_child(operation, source="", target=""):
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", operation, source, target],
                               stdout=subprocess.PIPE)
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.stdout.close()
    if status != 0:
        raise SystemExit("%s child failed with status %d" % (operation, status))
    report = json.loads(output)
    report["max_rss"] = usage.ru_maxrss * 1024   # kilobytes on Linux
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 50, 200], help="database sizes in MB")
    parser.add_argument("--attachments-ratio", type=float, default=0.25, help="attachments size as a fraction of the database")
    parser.add_argument("--workdir", help="where to build the data (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    workdir = tempfile.mkdtemp(prefix="vw-backup-bench-", dir=args.workdir)
    baseline = run_child("import")
    print("python %s, sqlite %s, baseline RSS of a child importing the code: %.1f MB"
          % (sys.version.split()[0], sqlite3.sqlite_version, baseline["max_rss"] / MB))
    header = "%8s %8s %9s %8s %9s %11s %12s %13s %10s" % (
        "db MB", "att MB", "op", "seconds", "MB/s", "peak RSS MB", "RSS-base MB", "(RSS-base)/db", "py peak MB")
    print(header)
    print("-" * len(header))
    try:
        for size in args.sizes:
            case = os.path.join(workdir, "%gMB" % size)
            data = os.path.join(case, "data")
            build_data_dir(data, size, size * args.attachments_ratio)
            db_bytes = os.path.getsize(os.path.join(data, "db.sqlite3"))
            backups = os.path.join(case, "backups")
            taken = run_child("backup", data, backups)
            [name] = os.listdir(backups)
            restored = run_child("restore", os.path.join(backups, name), os.path.join(case, "restored"))
            for operation, report in (("backup", taken), ("restore", restored)):
                over = max(report["max_rss"] - baseline["max_rss"], 0)
                print("%8.1f %8.1f %9s %8.2f %9.1f %11.1f %12.1f %13.3f %10.2f" % (
                    db_bytes / MB, size * args.attachments_ratio, operation, report["seconds"],
                    report["bytes"] / MB / report["seconds"], report["max_rss"] / MB, over / MB, over / db_bytes,
                    report["tracemalloc_peak"] / MB))
            if not args.keep:
                shutil.rmtree(case)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
