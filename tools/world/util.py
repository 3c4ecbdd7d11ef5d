# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logging with timings (progress.py) and subprocess helpers."""

from __future__ import annotations

import os
import subprocess

from .progress import REPORTER


class WorldError(RuntimeError):
    """A build or registry step failed; the message says what to do."""


def log(message: str) -> None:
    REPORTER.log(message)


def step(title: str, key: str | None = None, poll=None):
    """Context manager: logs the start and the end with its time, shows progress meanwhile (see progress.py).

    ``key`` names the step in the cache's timings so that the next build can show an estimate."""
    return REPORTER.step(title, key=key, poll=poll)


def run(argv, *, logfile: str | None = None, check: bool = True, env=None, capture: bool = False, input_text=None):
    """Run a command; long outputs go to logfile so progress lines stay readable.

    Children never share our stdin: a child that makes its stdin non-blocking (some Go programs do) would leave the
    caller's terminal or pipe non-blocking, and Ansible refuses to start on such a descriptor."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    stdin = None if input_text is not None else subprocess.DEVNULL
    if capture:
        result = subprocess.run(argv, env=full_env, input=input_text, stdin=stdin, text=True, capture_output=True, check=False)
        if check and result.returncode != 0:
            raise WorldError("command failed (%d): %s\n%s" % (result.returncode, " ".join(argv), result.stderr.strip()))
        return result
    if logfile:
        os.makedirs(os.path.dirname(logfile), exist_ok=True)
        with open(logfile, "a") as out:
            out.write("\n$ %s\n" % " ".join(argv))
            out.flush()
            result = subprocess.run(argv, env=full_env, input=input_text, stdin=stdin, text=True, stdout=out,
                                    stderr=subprocess.STDOUT, check=False)
        if check and result.returncode != 0:
            raise WorldError("command failed (%d): %s; see %s" % (result.returncode, " ".join(argv), logfile))
        return result
    result = subprocess.run(argv, env=full_env, input=input_text, stdin=stdin, text=True, check=False)
    if check and result.returncode != 0:
        raise WorldError("command failed (%d): %s" % (result.returncode, " ".join(argv)))
    return result


def atomic_write(name: str, text: str) -> None:
    os.makedirs(os.path.dirname(name), exist_ok=True)
    tmp = name + ".tmp%d" % os.getpid()
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, name)
