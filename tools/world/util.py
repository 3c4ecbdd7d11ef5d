# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logging with timings and subprocess helpers."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time

_START = time.monotonic()
_LOCK = threading.Lock()


class WorldError(RuntimeError):
    """A build or registry step failed; the message says what to do."""


def log(message: str) -> None:
    with _LOCK:
        sys.stdout.write("[world %6.1fs] %s\n" % (time.monotonic() - _START, message))
        sys.stdout.flush()


@contextlib.contextmanager
def step(title: str):
    log(title + " ...")
    started = time.monotonic()
    yield
    log("%s: done in %.1fs" % (title, time.monotonic() - started))


def run(argv, *, logfile: str | None = None, check: bool = True, env=None, capture: bool = False, input_text=None):
    """Run a command; long outputs go to logfile so progress lines stay readable."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if capture:
        result = subprocess.run(argv, env=full_env, input=input_text, text=True, capture_output=True, check=False)
        if check and result.returncode != 0:
            raise WorldError("command failed (%d): %s\n%s" % (result.returncode, " ".join(argv), result.stderr.strip()))
        return result
    if logfile:
        os.makedirs(os.path.dirname(logfile), exist_ok=True)
        with open(logfile, "a") as out:
            out.write("\n$ %s\n" % " ".join(argv))
            out.flush()
            result = subprocess.run(argv, env=full_env, input=input_text, text=True, stdout=out, stderr=subprocess.STDOUT, check=False)
        if check and result.returncode != 0:
            raise WorldError("command failed (%d): %s; see %s" % (result.returncode, " ".join(argv), logfile))
        return result
    result = subprocess.run(argv, env=full_env, input=input_text, text=True, check=False)
    if check and result.returncode != 0:
        raise WorldError("command failed (%d): %s" % (result.returncode, " ".join(argv)))
    return result


def atomic_write(name: str, text: str) -> None:
    os.makedirs(os.path.dirname(name), exist_ok=True)
    tmp = name + ".tmp%d" % os.getpid()
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, name)
