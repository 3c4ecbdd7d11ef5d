# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a vault holds, and whether a running server reads it back the same (standard library only).

A server can answer /alive while reading every text column back empty (libmariadb's CONC-821 regression, diesel
#5091): /alive only checks that the database connects. Before an image change the role records the vault's counts
and one user's e-mail and KDF settings (from the SQLite backup, or from the managed database through a query in its
container); after the new server answers, that user's prelogin through the server must return the same KDF settings,
and the admin API (when an admin token is set) must list the same e-mail and user count.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sqlite3

# Counted tables; `users` also gives the known user (the oldest account, so the same one is picked every time).
TABLES = ("users", "ciphers", "organizations", "attachments")
SUMMARY_QUERY = ("SELECT 'users', COUNT(*) FROM users UNION ALL SELECT 'ciphers', COUNT(*) FROM ciphers UNION ALL "
                 "SELECT 'organizations', COUNT(*) FROM organizations UNION ALL SELECT 'attachments', COUNT(*) "
                 "FROM attachments")
# The known user: preferably one whose KDF differs from the defaults of the releases (PBKDF2 with 5000, 100000 or
# 600000 iterations), whose prelogin a server that reads nothing back cannot fake; then the oldest account, so the same
# one is picked every time. (No double quotes: the planner puts the query in a shell command's double quotes.)
DEFAULT_KDF_ITERATIONS = (5000, 100000, 600000)
KNOWN_USER_QUERY = ("SELECT email, client_kdf_type, client_kdf_iter FROM users ORDER BY CASE WHEN client_kdf_type = 0 "
                    "AND client_kdf_iter IN (%s) THEN 1 ELSE 0 END, created_at, uuid LIMIT 1"
                    % ", ".join(str(i) for i in DEFAULT_KDF_ITERATIONS))
# Counts that must not shrink across an image change (what the new server's migrations left of the vault).
COMPARED = ("users", "ciphers", "organizations", "attachments")


class SummaryError(ValueError):
    pass


def summarize_sqlite(path):
    """The summary of a SQLite vault file (opened read-only)."""
    try:
        connection = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    except sqlite3.Error as exc:
        raise SummaryError("cannot open the vault database %s: %s" % (path, exc))
    try:
        return _summary(connection.execute(SUMMARY_QUERY).fetchall(), connection.execute(KNOWN_USER_QUERY).fetchall())
    except sqlite3.Error as exc:
        raise SummaryError("cannot read the vault database %s: %s" % (path, exc))
    finally:
        connection.close()


def parse_query_output(text):
    """The summary from the tab-separated output of SUMMARY_QUERY then KNOWN_USER_QUERY run by a database client."""
    counts, user = [], []
    for line in (text or "").splitlines():
        fields = line.split("\t")
        if len(fields) == 2 and fields[0] in TABLES:
            counts.append((fields[0], fields[1]))
        elif len(fields) == 3:
            user.append(tuple(fields))
    if len(counts) != len(TABLES):
        raise SummaryError("the database query gave no counts of %s: %r" % (", ".join(TABLES), (text or "")[:200]))
    return _summary(counts, user[:1])


def _summary(counts, user):
    summary = dict((name, int(count)) for name, count in counts)
    if user:
        email, kdf_type, kdf_iterations = user[0]
        summary.update(email=email, kdf_type=int(kdf_type), kdf_iterations=int(kdf_iterations))
    else:
        summary.update(email=None, kdf_type=None, kdf_iterations=None)
    return summary


def _value(data, name):
    """A field of a server answer whatever its casing (PascalCase before 1.31.0)."""
    lowered = dict((str(key).lower(), value) for key, value in (data or {}).items())
    return lowered.get(name.lower())


def judge_prelogin(summary, answer):
    """None when the server's prelogin for the known user returns its KDF settings, else why not."""
    if not summary.get("email"):
        return None
    kdf = _value(answer, "kdf")
    iterations = _value(answer, "kdfIterations")
    if kdf != summary["kdf_type"] or iterations != summary["kdf_iterations"]:
        return ("prelogin for %s returned KDF %s with %s iterations, but the vault holds KDF %s with %s iterations: the "
                "server does not read the vault back" % (summary["email"], kdf, iterations, summary["kdf_type"],
                                                         summary["kdf_iterations"]))
    return None


def same_kdf(one, other):
    """Whether two prelogin answers give the same KDF settings (whatever their casing)."""
    names = ("kdf", "kdfIterations", "kdfMemory", "kdfParallelism")
    return all(_value(one, name) == _value(other, name) for name in names)


def judge_admin_users(summary, users):
    """None when the admin API lists the known user and as many users as the vault holds, each with an e-mail, else
    why not."""
    if not isinstance(users, list):
        return "the admin API gave no user list (%r)" % (users,)
    emails = [_value(user, "email") for user in users]
    blank = len([email for email in emails if not email])
    if blank:
        return ("the admin API lists %d of %d users with an empty e-mail: the server reads the vault's text back empty"
                % (blank, len(emails)))
    if len(emails) != summary.get("users"):
        return "the admin API lists %d users, the vault holds %d" % (len(emails), summary.get("users"))
    if summary.get("email") and summary["email"] not in emails:
        return "the admin API does not list %s (it lists %s)" % (summary["email"], ", ".join(repr(e) for e in emails[:5]))
    return None


def compare_counts(before, after):
    """None when the vault after the change holds at least what it held before, else what shrank (and the fix)."""
    if not before:
        return None
    shrunk = ["%s %s -> %s" % (name, before[name], (after or {}).get(name)) for name in COMPARED
              if isinstance(before.get(name), int) and not (isinstance((after or {}).get(name), int)
                                                            and after[name] >= before[name])]
    if not shrunk:
        return None
    return ("the vault holds less after the change than before it (%s): rows were lost (a migration or "
            "a server that does not read the vault); the pre-update backup holds the vault as it was" % ", ".join(shrunk))
