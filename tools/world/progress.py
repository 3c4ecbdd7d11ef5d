# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress of long steps: what is being built, how far, elapsed, and an estimate from the previous build.

In a terminal the running steps are redrawn in place once a second (one line each, below the log). Elsewhere (CI,
a pipe, a file) a running step prints at most one line every ``$VW_WORLD_PROGRESS_INTERVAL`` seconds (default 30),
and only when it has something new to say, so that CI logs stay short. Every step's duration is stored in the cache
(``timings.json``) and shown as the estimate the next time the same step runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
import time

_T0 = time.monotonic()


def clock(seconds: float) -> str:
    """90 -> '1m30s', 5.2 -> '5.2s'."""
    if seconds < 60:
        return "%.1fs" % seconds
    minutes, rest = divmod(int(round(seconds)), 60)
    return "%dm%02ds" % (minutes, rest)


def megabytes(count: int) -> str:
    return "%.0f MB" % (count / 1e6) if count >= 10e6 else "%.1f MB" % (count / 1e6)


class Timings:
    """Durations of earlier steps (and what they counted) in ``<cache>/timings.json``; keyed by step name."""

    def __init__(self, filename: str | None):
        self.filename = filename
        self.lock = threading.Lock()
        self.data: dict = {}
        if filename:
            try:
                with open(filename) as handle:
                    self.data = json.load(handle)
            except (OSError, ValueError):
                self.data = {}
        self.data.setdefault("steps", {})

    def get(self, key: str) -> dict:
        return dict(self.data["steps"].get(key) or {})

    def put(self, key: str, **values) -> None:
        with self.lock:
            self.data["steps"].setdefault(key, {}).update(values)
            self._save()

    def put_record(self, name: str, value) -> None:
        with self.lock:
            self.data[name] = value
            self._save()

    def record(self, name: str):
        return self.data.get(name)

    def _save(self) -> None:
        if not self.filename:
            return
        os.makedirs(os.path.dirname(self.filename), exist_ok=True)
        tmp = "%s.tmp%d" % (self.filename, os.getpid())
        with open(tmp, "w") as handle:
            json.dump(self.data, handle, indent=1, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, self.filename)


class Step:
    """A running step. ``update()`` sets how far it is; ``poll`` (optional) is called once a second to find out."""

    def __init__(self, reporter: "Reporter", title: str, key: str | None, poll=None):
        self.reporter = reporter
        self.title = title
        self.key = key
        self.poll = poll
        self.started = time.monotonic()
        self.previous = reporter.timings.get(key) if key else {}
        self.done: int | None = None
        self.total: int | None = None
        self.unit = ""
        self.counts: dict[str, int] = {}   # the last count per unit ("packages unpacked": 120), for the next build
        self.detail = ""
        self.printed_at = self.started
        self.printed_text = ""

    def update(self, detail: str | None = None, done: int | None = None, total: int | None = None, unit: str | None = None):
        """How far the step is. Without a total, the count the previous build reached in that unit is the total."""
        if detail is not None:
            self.detail = detail
        if unit is not None and unit != self.unit:
            self.unit = unit
            self.total = None
        if total is not None:
            self.total = total
        elif self.total is None and self.unit:
            self.total = (self.previous.get("counts") or {}).get(self.unit)
        if done is not None:
            self.done = done
            if self.unit:
                self.counts[self.unit] = done

    def how_far(self) -> str:
        parts = []
        if self.done is not None:
            if self.total:
                parts.append("%d/%d %s" % (min(self.done, self.total), self.total, self.unit))
            else:
                parts.append("%d %s" % (self.done, self.unit))
        if self.detail:
            parts.append(self.detail)
        return ", ".join(p.strip() for p in parts if p.strip())

    def timing(self) -> str:
        elapsed = time.monotonic() - self.started
        last = self.previous.get("seconds")
        if not last:
            return clock(elapsed)
        if elapsed < last:
            return "%s, about %s left (last build %s)" % (clock(elapsed), clock(last - elapsed), clock(last))
        return "%s (last build took %s)" % (clock(elapsed), clock(last))

    def line(self) -> str:
        how_far = self.how_far()
        return "%s: %s%s" % (self.title, how_far + " - " if how_far else "", self.timing())


class Reporter:
    """Writes log lines and the progress of running steps to one stream."""

    def __init__(self, stream=None, live: bool | None = None, interval: float | None = None, timings: Timings | None = None):
        self.stream = stream or sys.stdout
        if live is None:
            ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
            live = (not ci) and os.environ.get("TERM", "dumb") != "dumb" and _isatty(self.stream)
        self.live = live
        if interval is None:
            interval = float(os.environ.get("VW_WORLD_PROGRESS_INTERVAL", "30") or 30)
        self.interval = interval
        self.timings = timings or Timings(None)
        self.lock = threading.RLock()
        self.active: list[Step] = []
        self.drawn = 0
        self.ticker: threading.Thread | None = None
        self.stop_ticker = threading.Event()

    # --- output ------------------------------------------------------------------------------------------

    def _stamp(self, message: str) -> str:
        return "[world %6.1fs] %s" % (time.monotonic() - _T0, message)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except BlockingIOError:
            # Someone made our stdout non-blocking and it is full: better a lost progress line than a failed build.
            pass

    def _clear(self) -> None:
        if self.live and self.drawn:
            self._write("\x1b[%dA\x1b[J" % self.drawn)
            self.drawn = 0

    def _draw(self) -> None:
        if not self.live or not self.active:
            return
        width = max(40, shutil.get_terminal_size((120, 24)).columns - 1)
        lines = ["  " + step.line() for step in self.active]
        self._write("".join((line if len(line) <= width else line[:width - 1] + "…") + "\n" for line in lines))
        self.drawn = len(lines)

    def log(self, message: str) -> None:
        with self.lock:
            self._clear()
            self._write(self._stamp(message) + "\n")
            self._draw()

    # --- steps -------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def step(self, title: str, key: str | None = None, poll=None, quiet_start: bool = False):
        step = Step(self, title, key, poll)
        if not quiet_start:
            self.log(title + " ...")
        with self.lock:
            self.active.append(step)
            self._ensure_ticker()
        ok = False
        try:
            yield step
            ok = True
        finally:
            with self.lock:
                self.active.remove(step)
            elapsed = time.monotonic() - step.started
            self._poll(step)
            how_far = step.how_far()
            last = step.previous.get("seconds")
            if ok:
                if key:
                    values = {"seconds": round(elapsed, 1)}
                    if step.counts:
                        values["counts"] = dict(step.counts)
                    self.timings.put(key, **values)
                shown = " (%s)" % how_far if how_far else ""
                self.log("%s: done in %s%s%s" % (title, clock(elapsed), shown, ", last build %s" % clock(last) if last else ""))
            else:
                self.log("%s: FAILED after %s%s" % (title, clock(elapsed), " (%s)" % how_far if how_far else ""))

    def _poll(self, step: Step) -> None:
        if step.poll is None:
            return
        try:
            step.poll(step)
        except Exception:  # pylint: disable=broad-except  # progress must never break a build
            pass

    def _ensure_ticker(self) -> None:
        if self.ticker is None or not self.ticker.is_alive():
            self.stop_ticker.clear()
            self.ticker = threading.Thread(target=self._tick, name="world-progress", daemon=True)
            self.ticker.start()

    def _tick(self) -> None:
        while not self.stop_ticker.wait(1.0):
            with self.lock:
                steps = list(self.active)
            if not steps:
                return
            for step in steps:
                self._poll(step)
            with self.lock:
                if self.live:
                    self._clear()
                    self._draw()
                    continue
                now = time.monotonic()
                for step in self.active:
                    if now - step.printed_at < self.interval:
                        continue
                    text = step.how_far()
                    if text == step.printed_text and now - step.printed_at < 4 * self.interval:
                        continue   # nothing new to say; a step that stays still is still reported every 4 intervals
                    step.printed_at = now
                    step.printed_text = text
                    self._write(self._stamp(step.line()) + "\n")


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


REPORTER = Reporter()


def configure(timings_file: str | None) -> None:
    """Load (and later save) step timings from the cache."""
    REPORTER.timings = Timings(timings_file)
