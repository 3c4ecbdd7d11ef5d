# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's HTML page in a real headless browser (Chromium from Debian, tools/bootstrap.sh installs it).

The page of four hosts (amd64 healthy on the fleet's release, arm64 drifted, arm/v7 unhealthy, arm/v6 with a 30-day-old
backup) is screenshot and the PNG decoded here (zlib and struct only): it has the window's size, it is not blank, and
the badge colours of healthy, unhealthy and drifted hosts are on it. The DOM Chromium builds holds every host's row.
Skipped only where Chromium is missing outside CI (the CI variable unset); in CI a missing Chromium fails.
``VW_REPORT_SCREENSHOT_DIR`` keeps the page and its screenshot there, to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib

import pytest

from ansible_collections.homelab.vaultwarden.plugins.plugin_utils import fleet_report as fr

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "unit", "fixtures", "fleet", "four-hosts.json")
WIDTH, HEIGHT = 1280, 900
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _browser():
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("no Chromium on this CI machine (%s); tools/bootstrap.sh installs Debian's chromium package"
                    % ", ".join(BROWSERS))
    pytest.skip("Chromium is not installed (apt-get install chromium, or bash tools/bootstrap.sh); "
                "outside CI (CI unset) the browser test is skipped")


def _chromium(browser, tmp_path, *args):
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           "--force-color-profile=srgb", "--hide-scrollbars", "--user-data-dir=%s" % (tmp_path / "profile")] + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, HOME=str(tmp_path)))
    assert proc.returncode == 0, "%s\n%s\n%s" % (" ".join(cmd), proc.stdout[-2000:], proc.stderr[-4000:])
    return proc.stdout


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data):
    """(width, height, channels, rows of bytes) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, header = 8, [], None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
        offset += 12 + length
    width, height, depth, colour_type, dummy, dummy, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                up_left = previous[i - channels] if i >= channels else 0
                line[i] = (line[i] + _paeth(left, previous[i], up_left)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def colour_counts(channels, rows):
    counts = {}
    for line in rows:
        for i in range(0, len(line), channels):
            pixel = line[i:i + 3]
            counts[pixel] = counts.get(pixel, 0) + 1
    return counts


def _rgb(hex_colour):
    return bytes(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with open(FIXTURE) as handle:
        fleet = json.load(handle)
    report = fr.build_report(fleet["hosts"], fr.parse_time(fleet["now"]))
    directory = tmp_path_factory.mktemp("fleet-report")
    path = directory / "index.html"
    path.write_text(fr.to_html(report), encoding="utf-8")
    return path


def test_the_screenshot_shows_the_report_in_its_colours(page, tmp_path):
    browser = _browser()
    png = tmp_path / "report.png"
    _chromium(browser, tmp_path, "--screenshot=%s" % png, "--window-size=%d,%d" % (WIDTH, HEIGHT), page.as_uri())
    assert png.is_file() and png.stat().st_size > 10000
    keep = os.environ.get("VW_REPORT_SCREENSHOT_DIR")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(str(png), os.path.join(keep, "fleet-report.png"))
        shutil.copy(str(page), os.path.join(keep, "index.html"))
    width, height, channels, rows = decode_png(png.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    counts = colour_counts(channels, rows)
    # Not blank: a page of text, badges and a dark header has many colours, none covering nearly everything.
    assert len(counts) > 100, len(counts)
    assert max(counts.values()) < 0.8 * width * height
    assert counts.get(_rgb("#24292f"), 0) > 100 * width, "the dark summary header is missing"
    # The badges: three healthy, one unhealthy, one drifted (plus the health bar and the cards' edges).
    for level, at_least in (("ok", 1500), ("bad", 600), ("drift", 300), ("warn", 200)):
        assert counts.get(_rgb(fr.COLOURS[level]), 0) >= at_least, (level, counts.get(_rgb(fr.COLOURS[level]), 0))
    # The health bar runs across the header: green from the left margin (three healthy hosts), red at its right end
    # (pi3.lan, unhealthy).
    left, right = 56 * channels, (WIDTH - 60) * channels
    health_bar = next((y for y in range(height // 3) if rows[y][left:left + 3] == _rgb(fr.COLOURS["ok"])), None)
    assert health_bar is not None, "no health bar in the header"
    assert rows[health_bar][right:right + 3] == _rgb(fr.COLOURS["bad"]), "the bar does not end red (pi3.lan, unhealthy)"


def test_the_dom_holds_every_host_row_in_order(page, tmp_path):
    browser = _browser()
    dom = _chromium(browser, tmp_path, "--dump-dom", page.as_uri())
    hosts = re.findall(r'<tr class="(\w+)"><td class="host">([^<]+)<', dom)
    assert hosts == [("ok", "nas.lan"), ("bad", "pi3.lan"), ("ok", "pi4.lan"), ("warn", "pizero.lan")], dom[-3000:]
    assert dom.count('class="badge ok">healthy<') == 3 and dom.count('class="badge bad">unhealthy<') == 1
    assert 'class="badge drift">drifted<' in dom and "behind the fleet's 1.37.2" in dom
    assert "last backup 30 d 19 h ago, older than 7 days" in dom
    assert "<title>vaultwarden fleet report, 2026-12-07T23:00:00Z</title>" in dom
