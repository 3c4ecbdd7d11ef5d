# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment record (``deployed.json``): what the role deployed last, read back on the next run.

Pure: the caller reads the file and passes its text; a record that cannot be trusted is refused with
a message that names the file, says what is wrong and how to get past it, instead of a bare JSON
parser error. Standard library only, Python 3.6 syntax.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

RECORD_KEYS = ("version", "tag", "ref", "platform", "image_id", "database")
# Format 2 (the planner's): {"format": 2, "current": {...}, "previous": {...} | null, "database": {...} | null},
# where current/previous hold RECORD_KEYS plus the container spec; format 1 was the flat RECORD_KEYS.
RECORD_FORMAT = 2
_SECTIONS = ("current", "previous", "database")
_FIX = "move it aside or delete it; the next successful run writes it anew"


class RecordError(ValueError):
    """deployed.json cannot be used; the message names the file, the problem and the fix."""


def _describe(value):
    return "%r (%s)" % (value, type(value).__name__)


def parse_record(text, path):
    """The record in ``text`` (read from ``path``) as a dict with every key of RECORD_KEYS (None when absent).

    Every key is optional and must be a string or null; other keys are ignored, so that a newer role's
    record still reads. Raises RecordError for anything else.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RecordError("deployment record %s is not UTF-8 text (%s); %s" % (path, error, _FIX))
    if not isinstance(text, str) or not text.strip():
        raise RecordError("deployment record %s is empty (a run was interrupted while writing it?); %s" % (path, _FIX))
    try:
        data = json.loads(text)
    except ValueError as error:
        raise RecordError("deployment record %s is not valid JSON (%s); %s" % (path, error, _FIX))
    if not isinstance(data, dict):
        raise RecordError("deployment record %s holds %s, not a JSON object with %s; %s"
                          % (path, _describe(data), ", ".join(RECORD_KEYS), _FIX))
    if data.get("format") == RECORD_FORMAT:
        return _parse_sections(data, path)
    return _flat(data, path, "")


def _flat(data, path, where):
    record = {}
    problems = []
    for key in RECORD_KEYS:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            problems.append("%s%s is %s, not a string" % (where, key, _describe(value)))
        record[key] = value
    if problems:
        raise RecordError("deployment record %s is not one the role wrote: %s; %s" % (path, "; ".join(problems), _FIX))
    return record


def _parse_sections(data, path):
    """A format-2 record, with each section's keys checked; the container spec is kept as it was written."""
    record = {"format": RECORD_FORMAT}
    for section in _SECTIONS:
        value = data.get(section)
        if value is None:
            record[section] = None
            continue
        if not isinstance(value, dict):
            raise RecordError("deployment record %s is not one the role wrote: %s is %s, not an object; %s"
                              % (path, section, _describe(value), _FIX))
        parsed = dict(value)
        parsed.update(_flat(value, path, section + "."))
        if parsed.get("spec") is not None and not isinstance(parsed["spec"], dict):
            raise RecordError("deployment record %s is not one the role wrote: %s.spec is %s, not an object; %s"
                              % (path, section, _describe(parsed["spec"]), _FIX))
        record[section] = parsed
    return record


def upgrade_record(record):
    """A format-1 (flat) record as format 2: what ran is known, its container spec is not."""
    if record is None or record.get("format") == RECORD_FORMAT:
        return record
    current = dict((key, record.get(key)) for key in RECORD_KEYS)
    current["spec"] = None
    return {"format": RECORD_FORMAT, "current": current, "previous": None, "database": None}
