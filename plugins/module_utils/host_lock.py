# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host-side lock that spans the tasks of one run: a lease file.

Each Ansible task is a separate process, so no process lives as long as the change it protects and
no OS lock can be held from the first task to the last. The lock is therefore a *lease*: a small JSON
file ``{format, owner, host, pid, acquired_at, expires_at}`` created exclusively (O_EXCL). The owner is
an id the play chooses (a run id); acquiring again with the same owner renews the lease, another owner
waits, and a lease whose ``expires_at`` has passed belongs to a run that ended without releasing it
and is broken.

Reading, judging and replacing a lease happen under ``flock`` on the lock file's directory, held for
milliseconds: without it two runs that both judged the same lease expired could each remove the
other's fresh lease. The directory is locked rather than a sidecar file so that nothing else is left
on the host.

Runs on managed hosts: standard library only, Python 3.6 syntax.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import contextlib
import errno
import fcntl
import json
import os
import socket
import time

LEASE_FORMAT = "homelab.vaultwarden.lock"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DEFAULT_STALE_AFTER = 3600
MAX_OWNER_LENGTH = 200
POLL_SECONDS = 1.0
LEASE_MODE = 0o644   # who holds the lock is no secret, and operators without root may want to read it


class LockError(ValueError):
    """The lock could not be taken or an option is wrong; the message says what to do."""


# ---------------------------------------------------------------------------------------------
# Options


def validate_owner(owner):
    if not isinstance(owner, str) or not owner.strip():
        raise LockError("owner %r is not a usable lock owner; pass a non-empty id of this run, e.g. "
                        "'{{ ansible_date_time.iso8601_basic }}-{{ inventory_hostname }}' or a CI job id" % (owner,))
    if len(owner) > MAX_OWNER_LENGTH or any(ord(char) < 32 for char in owner):
        raise LockError("owner %r is longer than %d characters or holds control characters; pass a short one-line "
                        "id of this run" % (owner[:40] + ("..." if len(owner) > 40 else ""), MAX_OWNER_LENGTH))
    return owner


def validate_seconds(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise LockError("%s %r must be a number of seconds of at least %s" % (name, value, minimum))
    return value


def format_time(epoch):
    return time.strftime(TIME_FORMAT, time.gmtime(epoch))


def parse_time(text):
    return calendar.timegm(time.strptime(text, TIME_FORMAT))


# ---------------------------------------------------------------------------------------------
# The lease file


def read_lease(path, stale_after):
    """The lease at ``path``: None when there is none, else a dict with ``expires`` (epoch seconds).

    A file this module did not write (or a damaged one) is a lease of an unknown holder that expires
    ``stale_after`` seconds after the file was last written; its ``problem`` says what is wrong.
    """
    try:
        with open(path, "r") as handle:
            text = handle.read()
        written = os.stat(path).st_mtime
    except (OSError, IOError) as error:
        if error.errno == errno.ENOENT:
            return None
        raise LockError("cannot read lock file %s (%s); make it readable by the remote user (or use become)" % (path, error))
    problem = None
    try:
        lease = json.loads(text)
    except ValueError as error:
        lease, problem = None, "not JSON: %s" % error
    if problem is None:
        if not isinstance(lease, dict) or lease.get("format") != LEASE_FORMAT:
            problem = "not a %s lease" % LEASE_FORMAT
        elif not isinstance(lease.get("owner"), str) or not isinstance(lease.get("expires_at"), str):
            problem = "owner or expires_at missing"
        else:
            try:
                lease = dict(lease, expires=parse_time(lease["expires_at"]))
            except ValueError as error:
                problem = "expires_at %r unreadable: %s" % (lease["expires_at"], error)
    if problem is not None:
        return {"owner": None, "host": None, "pid": None, "acquired_at": format_time(written),
                "expires_at": format_time(written + stale_after), "expires": written + stale_after, "problem": problem}
    return lease


def public(lease):
    """The lease as returned to the play (without the internal epoch)."""
    if lease is None:
        return None
    return dict((key, value) for key, value in lease.items() if key != "expires")


def describe(lease):
    if lease.get("problem"):
        return "an unreadable lease (%s) written at %s" % (lease["problem"], lease["acquired_at"])
    return "owner %r (host %s, pid %s, acquired at %s)" % (
        lease["owner"], lease.get("host"), lease.get("pid"), lease.get("acquired_at"))


def _new_lease(owner, now, stale_after, acquired_at=None):
    lease = {"format": LEASE_FORMAT, "owner": owner, "host": socket.gethostname(), "pid": os.getpid(),
             "acquired_at": acquired_at or format_time(now), "expires_at": format_time(now + stale_after)}
    if acquired_at:
        lease["renewed_at"] = format_time(now)
    return lease


def _write(fd, lease):
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), LEASE_MODE)
        json.dump(lease, handle, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def _create(path, lease):
    """Create the lease exclusively; False when a lease appeared meanwhile."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, LEASE_MODE)
    except OSError as error:
        if error.errno == errno.EEXIST:
            return False
        raise
    try:
        _write(fd, lease)
    except BaseException:
        os.unlink(path)
        raise
    return True


def _replace(path, lease):
    """Renew our own lease: readers see the old or the new file, never half of one."""
    temporary = "%s.renew-%d" % (path, os.getpid())
    _write(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, LEASE_MODE), lease)
    os.rename(temporary, path)


@contextlib.contextmanager
def _guard(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except (OSError, IOError) as error:
            raise LockError("cannot flock %s (%s), which the lock needs to judge leases safely; put the lock file on a "
                            "local filesystem (for example beside the data directory)" % (directory, error))
        yield
    finally:
        os.close(fd)   # closing the descriptor releases the flock


def _directory_missing(path):
    path = os.path.abspath(path)
    return not os.path.isdir(path) and not os.path.isdir(os.path.dirname(path))


def _directory_of(path):
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    if os.path.isdir(path):
        raise LockError("lock path %s is a directory; pass the path of a file in it, e.g. %s"
                        % (path, os.path.join(path, ".lock")))
    if not os.path.isdir(directory):
        raise LockError("the directory %s of lock file %s does not exist; create it before taking the lock "
                        "(or put the lock file in an existing directory)" % (directory, path))
    return path, directory


def _held_message(path, lease, now, waited, timeout):
    left = max(int(round(lease["expires"] - now)), 0)
    wait = "waited %d s (timeout %s s)" % (waited, timeout) if timeout else "did not wait (timeout 0)"
    return ("lock %s is held by %s; its lease expires at %s, in %d s; %s. Another run is changing this host: let it "
            "finish and run again, or raise timeout. If no run is active, release it with "
            "homelab.vaultwarden.vaultwarden_lock state=released force=true path=%s, or delete the file"
            % (path, describe(lease), lease["expires_at"], left, wait, path))


# ---------------------------------------------------------------------------------------------
# Acquire and release


def acquire(path, owner, timeout=0, stale_after=DEFAULT_STALE_AFTER, check_mode=False, clock=time.time, sleep=time.sleep):
    """Take (or renew) the lease at ``path`` for ``owner``.

    Returns a dict: changed, acquired, renewed, lease, broken, holder, waited, contended (another owner's live lease
    was found and waited for), warnings, msg.
    Raises LockError when another owner still holds it after ``timeout`` seconds.
    """
    validate_owner(owner)
    validate_seconds("timeout", timeout, 0)
    validate_seconds("stale_after", stale_after, 1)
    started = clock()
    result = {"changed": False, "acquired": False, "renewed": False, "lease": None, "broken": None, "holder": None,
              "waited": 0.0, "contended": False, "warnings": []}
    if check_mode and _directory_missing(path):
        # Check mode on a fresh host: the real run creates the directory first, and no lease can be in it yet.
        result.update(changed=True, lease=_new_lease(owner, started, stale_after),
                      msg="would acquire lock %s for owner %r (its directory does not exist yet)" % (path, owner))
        return result
    path, directory = _directory_of(path)
    while True:
        with _guard(directory):
            now = clock()
            result["waited"] = round(now - started, 1)
            lease = read_lease(path, stale_after)
            if lease is not None and lease["owner"] == owner and not lease.get("problem"):
                renewed = _new_lease(owner, now, stale_after, acquired_at=lease.get("acquired_at"))
                if not check_mode:
                    _replace(path, renewed)
                result.update(acquired=True, renewed=True, lease=renewed,
                              msg="%s lock %s for owner %r until %s" % ("would renew" if check_mode else "renewed", path,
                                                                        owner, renewed["expires_at"]))
                return result
            if lease is not None and lease["expires"] <= now:
                result["broken"] = public(lease)
                result["warnings"].append(
                    "%s the expired lock %s of %s: its lease expired at %s, %d s ago, so that run ended without releasing "
                    "it" % ("would break" if check_mode else "broke", path, describe(lease), lease["expires_at"],
                            int(now - lease["expires"])))
                if not check_mode:
                    os.unlink(path)
                lease = None
            if lease is None:
                new = _new_lease(owner, now, stale_after)
                if check_mode:
                    result.update(changed=True, lease=new, msg="would acquire lock %s for owner %r" % (path, owner))
                    return result
                if _create(path, new):
                    result.update(changed=True, acquired=True, lease=new,
                                  msg="acquired lock %s for owner %r until %s" % (path, owner, new["expires_at"]))
                    return result
                continue   # a lease appeared although we hold the guard: someone without flock; judge it again
            if check_mode:
                result["holder"] = public(lease)
                held = _held_message(path, lease, now, 0, 0)
                result["warnings"].append(held.replace("did not wait (timeout 0)", "check mode does not wait"))
                result["msg"] = ("lock %s is held by %s; a real run would wait up to %s s for it"
                                 % (path, describe(lease), timeout))
                return result
            result["contended"] = True
            if now - started >= timeout:
                raise LockError(_held_message(path, lease, now, now - started, timeout))
            pause = min(POLL_SECONDS, timeout - (now - started))
        sleep(pause)


def release(path, owner=None, force=False, check_mode=False, stale_after=DEFAULT_STALE_AFTER):
    """Remove the lease at ``path`` when ``owner`` holds it (any holder with ``force``).

    Returns a dict: changed, released, holder, msg. Another owner's lease is left alone (not an error:
    a run whose acquire failed still runs its release).
    """
    if not force:
        validate_owner(owner)
    if check_mode and _directory_missing(path):
        return {"changed": False, "released": False, "holder": None, "msg": "lock %s is not held" % path}
    path, directory = _directory_of(path)
    with _guard(directory):
        lease = read_lease(path, stale_after)
        if lease is None:
            return {"changed": False, "released": False, "holder": None, "msg": "lock %s is not held" % path}
        ours = owner is not None and lease["owner"] == owner and not lease.get("problem")
        if force or ours:
            if not check_mode:
                os.unlink(path)
            verb = "would release" if check_mode else "released"
            return {"changed": True, "released": not check_mode, "holder": public(lease),
                    "msg": "%s lock %s of %s%s" % (verb, path, describe(lease), "" if ours else " (force)")}
        return {"changed": False, "released": False, "holder": public(lease),
                "msg": "lock %s is held by %s, not by owner %r; left alone (force=true releases it whoever holds it)"
                       % (path, describe(lease), owner)}
