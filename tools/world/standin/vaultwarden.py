# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the vaultwarden server, built into every image of the offline test world.

It reproduces the parts of the real server the collection relies on: the HTTP health and version
endpoints, the data folder and its files, the database backends per image, forward-only migrations,
the admin token check, the volatile-storage refusal and the container contract (PID 1, SIGTERM, stdout).
What each image is (version, variant, backends, platform, fault) is baked into its environment.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("VW_STANDIN_VERSION", "0.0.0")
VARIANT = os.environ.get("VW_STANDIN_VARIANT", "debian")
PLATFORM = os.environ.get("VW_STANDIN_PLATFORM", "unknown")
BACKENDS = tuple(b for b in os.environ.get("VW_STANDIN_BACKENDS", "sqlite,mysql,postgresql").split(",") if b)
FAULT = os.environ.get("VW_STANDIN_FAULT", "")  # '' | unhealthy | crash
STARTED_AT = datetime.datetime.now(datetime.timezone.utc)


def log(level: str, message: str) -> None:
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    sys.stdout.write("[%s][vaultwarden][%s] %s\n" % (stamp, level, message))
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> None:
    log("ERROR", message)
    sys.exit(code)


def version_tuple(text: str) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def at_least(version: str) -> bool:
    return version_tuple(VERSION) >= version_tuple(version)


def schema_version(version: str) -> str:
    """Migrations come with minor releases; patch releases share their minor's schema."""
    major, minor = version_tuple(version)[:2]
    return "%d.%d" % (major, minor)


# --- data folder -------------------------------------------------------------------------------------

def mount_points() -> set:
    points = set()
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            # Field 5 is the mount point, with spaces etc. octal-escaped.
            points.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    return points


def check_storage(data_folder: str) -> None:
    # Upstream refuses volatile storage since 1.25.1.
    if not at_least("1.25.1") or os.environ.get("I_REALLY_WANT_VOLATILE_STORAGE", "").lower() == "true":
        return
    if os.path.realpath(data_folder) not in mount_points():
        fail("No persistent volume! DATA_FOLDER (%s) is not a mount point: mount a volume or bind mount there "
             "(docker run -v vw-data:%s ...), or set I_REALLY_WANT_VOLATILE_STORAGE=true to run without one."
             % (data_folder, data_folder))


def prepare_files(data_folder: str) -> None:
    os.makedirs(data_folder, exist_ok=True)
    for sub in ("attachments", "sends", "icon_cache", "tmp"):
        os.makedirs(os.path.join(data_folder, sub), exist_ok=True)
    config_json = os.path.join(data_folder, "config.json")
    if not os.path.exists(config_json):
        with open(config_json, "w") as handle:
            handle.write("{}\n")
    rsa_key = os.path.join(data_folder, "rsa_key.pem")
    if not os.path.exists(rsa_key):
        log("INFO", "Private key '%s' does not exist, creating a new one" % rsa_key)
        subprocess.run(["openssl", "genrsa", "-out", rsa_key, "2048"], check=True, capture_output=True)
        os.chmod(rsa_key, 0o600)


# --- databases ---------------------------------------------------------------------------------------

class Database:
    """A DB-API connection plus the placeholder style of its driver."""

    def __init__(self, kind: str, connect, placeholder: str, where: str):
        self.kind, self.connect_fn, self.placeholder, self.where = kind, connect, placeholder, where
        self.lock = threading.Lock()
        self.conn = None

    def open(self, retries: int) -> None:
        attempt = 0
        while True:
            try:
                self.conn = self.connect_fn()
                return
            except Exception as exc:  # pylint: disable=broad-except  # every driver has its own error types
                attempt += 1
                if attempt > retries:
                    fail("Can't connect to the %s database at %s after %d attempts: %s. Check DATABASE_URL and that the "
                         "database server is running and reachable." % (self.kind, self.where, attempt, str(exc).strip()))
                log("WARN", "Can't connect to database, retrying: %s" % str(exc).strip())
                time.sleep(1)

    def execute(self, sql: str, params=(), fetch: bool = False):
        sql = sql.replace("?", self.placeholder)
        with self.lock:
            cursor = self.conn.cursor()
            try:
                cursor.execute(sql, params)
                rows = cursor.fetchall() if fetch else None
                self.conn.commit()
                return rows
            finally:
                cursor.close()


def database_from_url(url: str, data_folder: str) -> Database:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("mysql",):
        kind = "mysql"
    elif scheme in ("postgresql", "postgres"):
        kind = "postgresql"
    elif scheme in ("sqlite", ""):
        kind = "sqlite"
    else:
        fail("DATABASE_URL scheme '%s://' is not supported; use sqlite://PATH (or a plain path), "
             "mysql://user:pass@host[:port]/db or postgresql://user:pass@host[:port]/db." % scheme)
    if kind not in BACKENDS:
        fail("This image (vaultwarden %s, %s) was built without %s support; it supports only %s. "
             "Use an image with the %s backend or change DATABASE_URL." % (VERSION, VARIANT, kind, ", ".join(BACKENDS), kind))
    if kind == "sqlite":
        path = url[len("sqlite://"):] if scheme else url
        if not path:
            path = os.path.join(data_folder, "db.sqlite3")
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            fail("SQLite database directory %s does not exist; create it or point DATABASE_URL at an existing folder." % directory)

        def connect_sqlite():
            conn = sqlite3.connect(path, check_same_thread=False, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            return conn
        return Database("sqlite", connect_sqlite, "?", os.path.abspath(path))
    parts = urllib.parse.urlsplit(url)
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    name = parts.path.lstrip("/")
    host = parts.hostname or "localhost"
    where = "%s:%s/%s" % (host, parts.port or (3306 if kind == "mysql" else 5432), name)
    if kind == "mysql":
        import pymysql  # pylint: disable=import-outside-toplevel  # only images with the backend need the driver

        def connect_mysql():
            return pymysql.connect(host=host, port=parts.port or 3306, user=user, password=password, database=name,
                                   connect_timeout=5, autocommit=False)
        return Database("mysql", connect_mysql, "%s", where)
    import psycopg2  # pylint: disable=import-outside-toplevel

    def connect_postgresql():
        return psycopg2.connect(host=host, port=parts.port or 5432, user=user, password=password, dbname=name, connect_timeout=5)
    return Database("postgresql", connect_postgresql, "%s", where)


def migrate(db: Database) -> str:
    """Forward-only migrations: refuse a database that a newer version has already migrated."""
    text = "VARCHAR(255)"
    db.execute("CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version %s PRIMARY KEY, run_on %s NOT NULL)" % (text, text))
    db.execute("CREATE TABLE IF NOT EXISTS standin_meta (name %s PRIMARY KEY, value %s NOT NULL)" % (text, text))
    rows = db.execute("SELECT value FROM standin_meta WHERE name = ?", ("schema_version",), fetch=True)
    current = rows[0][0] if rows else None
    wanted = schema_version(VERSION)
    if current is not None and version_tuple(current) > version_tuple(wanted):
        fail("The database schema is at version %s (migrated by a newer vaultwarden) but this is vaultwarden %s (schema %s). "
             "Downgrades are not supported: run a %s.x release or newer, or restore the backup taken before the upgrade." % (
                 current, VERSION, wanted, current))
    if current != wanted:
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        db.execute("INSERT INTO __diesel_schema_migrations (version, run_on) VALUES (?, ?)", (VERSION, now))
        if current is None:
            db.execute("INSERT INTO standin_meta (name, value) VALUES (?, ?)", ("schema_version", wanted))
        else:
            db.execute("UPDATE standin_meta SET value = ? WHERE name = ?", (wanted, "schema_version"))
        log("INFO", "Database migrated from schema %s to %s" % (current or "(empty)", wanted))
    db.execute("CREATE TABLE IF NOT EXISTS standin_items (id %s PRIMARY KEY, name %s NOT NULL, created_at %s NOT NULL)" % (
        text, text, text))
    return wanted


# --- admin token -------------------------------------------------------------------------------------

def admin_token_ok(configured: str, given: str) -> bool:
    # Argon2 PHC strings are understood since 1.28.0; older servers compare the text literally.
    if configured.startswith("$argon2") and at_least("1.28.0"):
        import argon2  # pylint: disable=import-outside-toplevel
        try:
            return argon2.PasswordHasher().verify(configured, given)
        except Exception:  # pylint: disable=broad-except  # VerifyMismatchError, InvalidHash, ...
            return False
    return given == configured


# --- HTTP --------------------------------------------------------------------------------------------

class State:
    db: Database = None
    schema = ""
    data_folder = ""
    database = ""


class Handler(BaseHTTPRequestHandler):
    server_version = "Rocket"
    sys_version = ""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin  # BaseHTTPRequestHandler's signature
        log("INFO", "%s %s" % (self.address_string(), format % args))

    def _send(self, status: int, body, content_type: str = "application/json") -> None:
        data = (json.dumps(body) if content_type == "application/json" else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _path(self) -> str:
        return urllib.parse.urlsplit(self.path).path.rstrip("/") or "/"

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):  # pylint: disable=invalid-name  # http.server's naming
        path = self._path()
        if path == "/alive":
            if FAULT == "unhealthy":
                self._send(503, {"error": "this release is broken on purpose (never healthy)"})
            else:
                self._send(200, datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        elif path == "/api/version":
            self._send(200, VERSION)
        elif path == "/api/standin":
            self._send(200, {
                "version": VERSION, "variant": VARIANT, "machine": os.uname().machine, "platform": PLATFORM,
                "database": State.database, "schema_version": State.schema, "data_folder": State.data_folder,
                "backends": list(BACKENDS), "pid": os.getpid(), "started_at": STARTED_AT.isoformat(),
            })
        elif path == "/api/standin/items":
            rows = State.db.execute("SELECT id, name, created_at FROM standin_items ORDER BY created_at, id", fetch=True)
            self._send(200, [{"id": r[0], "name": r[1], "created_at": r[2]} for r in rows])
        elif path == "/admin":
            if not os.environ.get("ADMIN_TOKEN"):
                self._send(404, {"error": "The admin panel is disabled, please configure the 'ADMIN_TOKEN' variable to enable it"})
            else:
                self._send(200, "<html><body><form method='post'><input name='token'></form></body></html>", "text/html")
        else:
            self._send(404, {"error": "Not found"})

    def do_POST(self):  # pylint: disable=invalid-name
        path = self._path()
        if path == "/api/standin/items":
            try:
                name = json.loads(self._body() or b"{}")["name"]
            except (ValueError, KeyError, TypeError):
                self._send(400, {"error": 'send JSON {"name": "..."}'})
                return
            item_id = "%d-%d" % (time.time_ns(), threading.get_ident())
            now = datetime.datetime.now(datetime.timezone.utc).isoformat()
            State.db.execute("INSERT INTO standin_items (id, name, created_at) VALUES (?, ?, ?)", (item_id, str(name), now))
            self._send(201, {"id": item_id, "name": str(name), "created_at": now})
        elif path == "/admin":
            configured = os.environ.get("ADMIN_TOKEN", "")
            if not configured:
                self._send(404, {"error": "The admin panel is disabled"})
                return
            form = urllib.parse.parse_qs(self._body().decode("utf-8", "replace"))
            given = (form.get("token") or [""])[0]
            if admin_token_ok(configured, given):
                self._send(200, {"ok": True})
            else:
                log("ERROR", "Invalid admin token. IP: %s" % self.client_address[0])
                self._send(401, {"error": "Invalid admin token, please try again."})
        else:
            self._send(404, {"error": "Not found"})


def main() -> None:
    log("INFO", "Starting Vaultwarden %s (stand-in, %s, %s on %s)" % (VERSION, VARIANT, PLATFORM, os.uname().machine))
    data_folder = os.environ.get("DATA_FOLDER", "/data")
    check_storage(data_folder)
    prepare_files(data_folder)
    admin_token = os.environ.get("ADMIN_TOKEN", "")
    if admin_token and not admin_token.startswith("$argon2"):
        log("WARN", "You are using a plain text `ADMIN_TOKEN` which is insecure. Please generate a secure Argon2 PHC string "
                    "by using `vaultwarden hash` or `docker run --rm -it vaultwarden/server /vaultwarden hash`.")
    url = os.environ.get("DATABASE_URL", "")
    db = database_from_url(url, data_folder)
    try:
        retries = int(os.environ.get("DB_CONNECTION_RETRIES", "15"))
    except ValueError:
        fail("DB_CONNECTION_RETRIES must be a whole number, not %r" % os.environ.get("DB_CONNECTION_RETRIES"))
    db.open(retries)
    State.db, State.database, State.data_folder = db, db.kind, data_folder
    State.schema = migrate(db)

    server = ThreadingHTTPServer((os.environ.get("ROCKET_ADDRESS", "0.0.0.0"), int(os.environ.get("ROCKET_PORT", "80"))), Handler)
    server.daemon_threads = True

    def stop(signum, _frame):
        log("INFO", "Received %s, shutting down" % signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    # As PID 1 the kernel ignores signals without a handler, so SIGTERM must be handled explicitly.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if FAULT == "crash":
        def crash():
            time.sleep(1)
            log("ERROR", "vaultwarden %s is broken on purpose: exiting with status 1" % VERSION)
            os._exit(1)  # pylint: disable=protected-access  # a crash, not a clean shutdown
        threading.Thread(target=crash, daemon=True).start()
    log("INFO", "Rocket has launched from http://%s:%s" % server.server_address[:2])
    server.serve_forever()
    server.server_close()
    log("INFO", "Vaultwarden stopped")


if __name__ == "__main__":
    main()
