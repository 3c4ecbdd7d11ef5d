# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the vaultwarden server, built into every image of the offline test world.

It reproduces the parts of the real server the collection relies on, per release era: the settings loader
(environment, ``<NAME>_FILE``, ``config.json``), the files a first start creates, the database backends per
image, the vault tables (``users``, ``ciphers``, ``organizations``, ``attachments``) and forward-only
migrations, the health and version endpoints, ``/api/config``, prelogin and registration, the admin page
(token check, ``VW_ADMIN`` session cookie, login rate limit, ``/admin/users``), the volatile-storage refusal
and the container contract (PID 1, SIGTERM, stdout). What each image is (version, variant, backends,
platform, fault) is baked into its environment. The facts per era come from the upstream sources; the
README of tools/world lists what is modelled and what is not.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import html
import http.cookies
import ipaddress
import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("VW_STANDIN_VERSION", "0.0.0")
VARIANT = os.environ.get("VW_STANDIN_VARIANT", "debian")
PLATFORM = os.environ.get("VW_STANDIN_PLATFORM", "unknown")
BACKENDS = tuple(b for b in os.environ.get("VW_STANDIN_BACKENDS", "sqlite,mysql,postgresql").split(",") if b)
FAULT = os.environ.get("VW_STANDIN_FAULT", "")  # '' | unhealthy | crash | empty-reads
FAULTS = ("", "unhealthy", "crash", "empty-reads")
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


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def db_timestamp(moment: datetime.datetime | None = None) -> str:
    # Diesel's text form of a NaiveDateTime (UTC), which every backend accepts as a parameter.
    return (moment or utc_now()).strftime("%Y-%m-%d %H:%M:%S.%f")


# --- settings ------------------------------------------------------------------------------------------

class ConfigPanic(Exception):
    """The real loader panics on these; the process dies before it logs anything else."""


_OS_ERROR_KINDS = {2: "NotFound", 13: "PermissionDenied", 21: "IsADirectory", 20: "NotADirectory"}


def env_value(name: str):
    """A setting from the environment, or from the file named by <NAME>_FILE (since 1.18.0, stripped).

    Both set, or an unreadable file, is a panic upstream.
    """
    value = os.environ.get(name)
    if not at_least("1.18.0"):
        return value
    file_name = os.environ.get(name + "_FILE")
    if file_name is None:
        return value
    if value is not None:
        raise ConfigPanic("You should not define both %s and %s_FILE!" % (name, name))
    try:
        with open(file_name, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigPanic('Failed to load %s: Os { code: %d, kind: %s, message: "%s" }' % (
            name, exc.errno or 0, _OS_ERROR_KINDS.get(exc.errno, "Uncategorized"), exc.strerror)) from exc
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise ConfigPanic('Failed to load %s: Custom { kind: InvalidData, error: "stream did not contain valid UTF-8" }'
                          % name) from exc


_TRUE, _FALSE = ("true", "t", "yes", "y", "1"), ("false", "f", "no", "n", "0")


def _parse(kind: str, text):
    """Upstream parses silently: a value that does not parse counts as unset (the default applies)."""
    if text is None:
        return None
    if kind == "bool":
        lowered = str(text).lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else None
    if kind == "int":
        try:
            return int(str(text).strip())
        except ValueError:
            return None
    return str(text)


# name: (kind, default); the default may depend on earlier settings (see load_settings).
SETTINGS = {
    "data_folder": ("str", "/data"),   # upstream "data", relative to the image's working directory /
    "database_url": ("str", None),
    "db_connection_retries": ("int", 15),
    "enable_db_wal": ("bool", True),
    "admin_token": ("str", None),
    "admin_ratelimit_seconds": ("int", 300),
    "admin_ratelimit_max_burst": ("int", 3),
    "admin_session_lifetime": ("int", 20),
    "signups_allowed": ("bool", True),
    "invitations_allowed": ("bool", True),
    "domain": ("str", None),
    "ip_header": ("str", "X-Real-IP"),
}


def load_settings() -> dict:
    """Environment (and <NAME>_FILE) first, then config.json on top of it, as upstream's loader does."""
    from_env = {}
    for name, (kind, _default) in SETTINGS.items():
        value = _parse(kind, env_value(name.upper()))
        if value is not None:
            from_env[name] = value
    data_folder = from_env.get("data_folder", SETTINGS["data_folder"][1])
    config_file = env_value("CONFIG_FILE") or os.path.join(data_folder, "config.json")
    from_file = {}
    try:
        with open(config_file, encoding="utf-8") as handle:
            document = json.load(handle)
        if isinstance(document, dict):
            from_file = {k: v for k, v in document.items() if k in SETTINGS and v is not None}
            log("INFO", "Using saved config from `%s` for configuration." % config_file)
    except (OSError, ValueError):
        pass  # upstream ignores a missing or unreadable config.json
    overridden = sorted(k.upper() for k in from_file if k in from_env)
    if overridden:
        log("WARN", "The following environment variables are being overridden by the config.json file. "
                    "Please use the admin panel to make changes to them: %s" % ", ".join(overridden))
    settings = {name: default for name, (_kind, default) in SETTINGS.items()}
    settings.update(from_env)
    for name, value in from_file.items():
        parsed = _parse(SETTINGS[name][0], value if not isinstance(value, bool) else str(value).lower())
        if parsed is not None:
            settings[name] = parsed
    settings["domain_set"] = bool(settings["domain"])
    settings["domain"] = (settings["domain"] or "http://localhost").rstrip("/")
    if settings["database_url"] is None:
        path = os.path.join(settings["data_folder"], "db.sqlite3")
        # 1.37.0 made the default explicit, because a bare path must then already exist.
        settings["database_url"] = ("sqlite://" + path) if at_least("1.37.0") else path
    settings["config_file"] = config_file
    return settings


def config_panic(message: str) -> None:
    # Before 1.35.0 the panic ends the main thread (Rust's exit status 101); since then the loader runs in a
    # thread whose panic is reported as "Error loading config" with status 12.
    if at_least("1.35.0"):
        sys.stderr.write("thread '<unnamed>' panicked at src/util.rs:\n%s\n" % message)
        sys.stderr.flush()
        sys.stdout.write("Error loading config:\n  Any { .. }\n\n")
        sys.stdout.flush()
        sys.exit(12)
    sys.stderr.write("thread 'main' panicked at '%s', src/util.rs\n" % message)
    sys.stderr.flush()
    sys.exit(101)


# --- data folder -------------------------------------------------------------------------------------

def mount_points() -> set:
    points = set()
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            # Field 5 is the mount point, with spaces etc. octal-escaped.
            points.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    return points


def check_data_folder(data_folder: str) -> None:
    if not os.path.exists(data_folder):
        if not at_least("1.20.0"):
            os.makedirs(data_folder, exist_ok=True)  # bitwarden_rs created it with the database's directory
            return
        fail("Data folder '%s' doesn't exist. Verify that your data volume is mounted at the correct location "
             "(docker run -v vw-data:%s ...), or create the folder." % (data_folder, data_folder))
    if not os.path.isdir(data_folder):
        fail("Data folder '%s' is not a directory." % data_folder)


def check_storage(data_folder: str) -> None:
    # Upstream refuses volatile storage since 1.25.1 unless I_REALLY_WANT_VOLATILE_STORAGE is set. The world's rule
    # is "DATA_FOLDER must be a mount point" (see the README for how upstream decides).
    if not at_least("1.25.1") or os.environ.get("I_REALLY_WANT_VOLATILE_STORAGE", "").lower() == "true":
        return
    if os.path.realpath(data_folder) not in mount_points():
        fail("No persistent volume! DATA_FOLDER (%s) is not a mount point: mount a volume or bind mount there "
             "(docker run -v vw-data:%s ...), or set I_REALLY_WANT_VOLATILE_STORAGE=true to run without one."
             % (data_folder, data_folder))


def first_start_files(data_folder: str) -> None:
    """Create what the release creates on start: the key pair files and its folders, nothing else.

    config.json only appears when the admin page saves settings; attachments/ and sends/ (since 1.35.0) when
    the first file is stored.
    """
    if not at_least("1.35.0"):
        folders = ["icon_cache"] + (["tmp", "sends", "attachments"] if at_least("1.25.0") else [])
    else:
        folders = ["tmp"]
    for sub in folders:
        os.makedirs(os.path.join(data_folder, sub), exist_ok=True)
    rsa_key = os.path.join(data_folder, "rsa_key.pem")
    if not os.path.exists(rsa_key) or os.path.getsize(rsa_key) == 0:
        log("INFO", "Private key '%s' does not exist, creating a new one" % rsa_key)
        subprocess.run(["openssl", "genrsa", "-out", rsa_key, "2048"], check=True, capture_output=True)
        os.chmod(rsa_key, 0o600)
    if at_least("1.31.0"):
        return  # the public key is derived from the private key in memory
    if at_least("1.22.0"):
        pub = os.path.join(data_folder, "rsa_key.pub.pem")
        if not os.path.exists(pub):
            subprocess.run(["openssl", "rsa", "-in", rsa_key, "-pubout", "-out", pub], check=True, capture_output=True)
    else:
        # bitwarden_rs and the first vaultwarden releases kept DER copies next to the PEM key.
        der, pub_der = os.path.join(data_folder, "rsa_key.der"), os.path.join(data_folder, "rsa_key.pub.der")
        if not os.path.exists(der):
            subprocess.run(["openssl", "rsa", "-in", rsa_key, "-outform", "DER", "-out", der], check=True, capture_output=True)
        if not os.path.exists(pub_der):
            subprocess.run(["openssl", "rsa", "-in", der, "-inform", "DER", "-RSAPublicKey_out", "-outform", "DER",
                            "-out", pub_der], check=True, capture_output=True)


# --- databases ---------------------------------------------------------------------------------------

class Database:
    """A DB-API connection plus the placeholder style and column types of its backend."""

    TYPES = {
        "sqlite": {"key": "TEXT", "email": "TEXT", "text": "TEXT", "int": "INTEGER", "bigint": "INTEGER", "bool": "BOOLEAN",
                   "blob": "BLOB", "ts": "DATETIME", "meta": "VARCHAR(255)"},
        "mysql": {"key": "CHAR(36)", "email": "VARCHAR(255)", "text": "TEXT", "int": "INTEGER", "bigint": "BIGINT",
                  "bool": "BOOLEAN", "blob": "BLOB", "ts": "DATETIME", "meta": "VARCHAR(255)"},
        "postgresql": {"key": "CHAR(36)", "email": "VARCHAR(255)", "text": "TEXT", "int": "INTEGER", "bigint": "BIGINT",
                       "bool": "BOOLEAN", "blob": "BYTEA", "ts": "TIMESTAMP", "meta": "VARCHAR(255)"},
    }

    def __init__(self, kind: str, connect, placeholder: str, where: str):
        self.kind, self.connect_fn, self.placeholder, self.where = kind, connect, placeholder, where
        self.types = self.TYPES[kind]
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
                if retries and attempt > retries:   # 0 retries forever, as upstream
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
            except Exception:
                self.conn.rollback()  # PostgreSQL refuses every later statement of a failed transaction
                raise
            finally:
                cursor.close()

    def columns(self, table: str) -> list:
        with self.lock:
            cursor = self.conn.cursor()
            try:
                cursor.execute("SELECT * FROM %s WHERE 1 = 0" % table)
                names = [d[0].lower() for d in cursor.description]
                cursor.fetchall()
                self.conn.commit()
                return names
            finally:
                cursor.close()

    def vault_rows(self, sql: str, params=()) -> list:
        """Rows of vault data as the release reads them back (the empty-reads fault blanks every text value)."""
        rows = self.execute(sql, params, fetch=True)
        result = []
        for row in rows:
            values = []
            for value in row:
                if isinstance(value, (datetime.datetime, datetime.date)):
                    value = value.strftime("%Y-%m-%d %H:%M:%S.%f")
                if FAULT == "empty-reads" and isinstance(value, str):
                    value = ""
                values.append(value)
            result.append(values)
        return result


def database_from_url(url: str) -> Database:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "mysql":
        kind = "mysql"
    elif scheme in ("postgresql", "postgres"):
        kind = "postgresql"
    elif scheme in ("sqlite", ""):
        kind = "sqlite"
    elif at_least("1.37.0") and not os.path.exists(url):
        fail("`DATABASE_URL` does not match any known database scheme (mysql://, postgresql://, sqlite://) and no existing "
             "SQLite database was found at '%s'. Use sqlite://PATH, mysql://user:pass@host[:port]/db or "
             "postgresql://user:pass@host[:port]/db." % url)
    else:
        fail("DATABASE_URL scheme '%s://' is not supported; use sqlite://PATH (or a plain path), "
             "mysql://user:pass@host[:port]/db or postgresql://user:pass@host[:port]/db." % scheme)
    if kind not in BACKENDS:
        fail("This image (vaultwarden %s, %s) was built without %s support; it supports only %s. "
             "Use an image with the %s backend or change DATABASE_URL." % (VERSION, VARIANT, kind, ", ".join(BACKENDS), kind))
    if kind == "sqlite":
        path = url[len("sqlite://"):] if scheme else url
        if not scheme and at_least("1.37.0") and not os.path.exists(path):
            # Since 1.37.0 a bare path must name an existing database, so that a typo does not start an empty vault.
            fail("`DATABASE_URL` does not match any known database scheme (mysql://, postgresql://, sqlite://) and no existing "
                 "SQLite database was found at '%s'. If you intend to use SQLite, use an explicit `sqlite://` scheme "
                 "in your `DATABASE_URL`." % path)
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            fail("SQLite database directory %s does not exist; create it or point DATABASE_URL at an existing folder." % directory)

        def connect_sqlite():
            return sqlite3.connect(path, check_same_thread=False, timeout=10)
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


# Upstream's table and column names (a subset of the columns); a fourth field is the schema that added the column
# (the Argon2 KDF parameters came with 1.28.0).
VAULT_TABLES = (
    ("users", (
        ("uuid", "key", "NOT NULL PRIMARY KEY"), ("enabled", "bool", "NOT NULL"), ("created_at", "ts", "NOT NULL"),
        ("updated_at", "ts", "NOT NULL"), ("verified_at", "ts", "NULL"), ("email", "email", "NOT NULL UNIQUE"),
        ("name", "text", "NOT NULL"), ("password_hash", "blob", "NOT NULL"), ("salt", "blob", "NOT NULL"),
        ("password_iterations", "int", "NOT NULL"), ("password_hint", "text", "NULL"), ("akey", "text", "NOT NULL"),
        ("private_key", "text", "NULL"), ("public_key", "text", "NULL"), ("security_stamp", "text", "NOT NULL"),
        ("equivalent_domains", "text", "NOT NULL"), ("excluded_globals", "text", "NOT NULL"),
        ("client_kdf_type", "int", "NOT NULL"), ("client_kdf_iter", "int", "NOT NULL"),
        ("client_kdf_memory", "int", "NULL", "1.28"), ("client_kdf_parallelism", "int", "NULL", "1.28"),
        ("avatar_color", "text", "NULL"))),
    ("invitations", (("email", "email", "NOT NULL PRIMARY KEY"),)),
    ("organizations", (
        ("uuid", "key", "NOT NULL PRIMARY KEY"), ("name", "text", "NOT NULL"), ("billing_email", "text", "NOT NULL"),
        ("private_key", "text", "NULL"), ("public_key", "text", "NULL"))),
    ("users_organizations", (
        ("uuid", "key", "NOT NULL PRIMARY KEY"), ("user_uuid", "key", "NOT NULL"), ("org_uuid", "key", "NOT NULL"),
        ("access_all", "bool", "NOT NULL"), ("akey", "text", "NOT NULL"), ("status", "int", "NOT NULL"),
        ("atype", "int", "NOT NULL"))),
    ("ciphers", (
        ("uuid", "key", "NOT NULL PRIMARY KEY"), ("created_at", "ts", "NOT NULL"), ("updated_at", "ts", "NOT NULL"),
        ("user_uuid", "key", "NULL"), ("organization_uuid", "key", "NULL"), ("atype", "int", "NOT NULL"),
        ("name", "text", "NOT NULL"), ("notes", "text", "NULL"), ("fields", "text", "NULL"), ("data", "text", "NOT NULL"),
        ("password_history", "text", "NULL"), ("deleted_at", "ts", "NULL"))),
    ("attachments", (
        ("id", "key", "NOT NULL PRIMARY KEY"), ("cipher_uuid", "key", "NOT NULL"), ("file_name", "text", "NOT NULL"),
        ("file_size", "bigint", "NOT NULL"), ("akey", "text", "NULL"))),
)


def _vault_columns(table_columns, schema: str) -> list:
    return [c for c in table_columns if len(c) < 4 or version_tuple(schema) >= version_tuple(c[3])]


def create_vault_tables(db: Database, schema: str) -> None:
    for table, table_columns in VAULT_TABLES:
        wanted = _vault_columns(table_columns, schema)
        db.execute("CREATE TABLE IF NOT EXISTS %s (%s)" % (
            table, ", ".join("%s %s %s" % (c[0], db.types[c[1]], c[2]) for c in wanted)))
        present = set(db.columns(table))
        for column in wanted:
            if column[0] not in present:  # a column a later release added: ALTER TABLE, as its migration does
                db.execute("ALTER TABLE %s ADD COLUMN %s %s %s" % (table, column[0], db.types[column[1]], column[2]))


def migrate(db: Database) -> str:
    """Forward-only migrations: refuse a database that a newer version has already migrated."""
    text = db.types["meta"]
    db.execute("CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version %s PRIMARY KEY, run_on %s NOT NULL)" % (text, text))
    db.execute("CREATE TABLE IF NOT EXISTS standin_meta (name %s PRIMARY KEY, value %s NOT NULL)" % (text, text))
    rows = db.execute("SELECT value FROM standin_meta WHERE name = ?", ("schema_version",), fetch=True)
    current = rows[0][0] if rows else None
    wanted = schema_version(VERSION)
    if current is not None and version_tuple(current) > version_tuple(wanted):
        fail("The database schema is at version %s (migrated by a newer vaultwarden) but this is vaultwarden %s (schema %s). "
             "Downgrades are not supported: run a %s.x release or newer, or restore the backup taken before the upgrade." % (
                 current, VERSION, wanted, current))
    create_vault_tables(db, wanted)
    if current != wanted:
        now = utc_now().isoformat()
        db.execute("INSERT INTO __diesel_schema_migrations (version, run_on) VALUES (?, ?)", (VERSION, now))
        if current is None:
            db.execute("INSERT INTO standin_meta (name, value) VALUES (?, ?)", ("schema_version", wanted))
        else:
            db.execute("UPDATE standin_meta SET value = ? WHERE name = ?", (wanted, "schema_version"))
        log("INFO", "Database migrated from schema %s to %s" % (current or "(empty)", wanted))
    db.execute("CREATE TABLE IF NOT EXISTS standin_items (id %s PRIMARY KEY, name %s NOT NULL, created_at %s NOT NULL)" % (
        text, text, text))
    return wanted


# --- the vault ---------------------------------------------------------------------------------------

KDF_PBKDF2, KDF_ARGON2ID = 0, 1


def kdf_iterations_default() -> int:
    return 600000 if at_least("1.28.0") else 100000


USER_COLUMNS = ("uuid", "enabled", "created_at", "email", "name", "akey", "private_key", "security_stamp", "password_hint",
                "client_kdf_type", "client_kdf_iter", "password_hash")


def _user_select() -> str:
    extra = [c for c in ("client_kdf_memory", "client_kdf_parallelism") if c in State.user_columns]
    return "SELECT %s FROM users" % ", ".join(USER_COLUMNS + tuple(extra))


def _user_dict(row) -> dict:
    user = dict(zip(USER_COLUMNS, row))
    user["client_kdf_memory"] = row[len(USER_COLUMNS)] if len(row) > len(USER_COLUMNS) else None
    user["client_kdf_parallelism"] = row[len(USER_COLUMNS) + 1] if len(row) > len(USER_COLUMNS) + 1 else None
    user["has_password"] = bool(user.pop("password_hash"))
    return user


def find_user_by_mail(db: Database, email: str):
    email = email.strip().lower()
    if not email:
        return None
    rows = db.vault_rows(_user_select() + " WHERE email = ?", (email,))
    # The row is only the user if it reads back as that user: with the empty-reads fault it reads back blank.
    for row in rows:
        user = _user_dict(row)
        if user["email"] == email:
            return user
    return None


def find_user_by_uuid(db: Database, user_uuid: str):
    rows = db.vault_rows(_user_select() + " WHERE uuid = ?", (user_uuid,))
    return _user_dict(rows[0]) if rows else None


def all_users(db: Database) -> list:
    return [_user_dict(row) for row in db.vault_rows(_user_select() + " ORDER BY created_at, uuid")]


def insert_user(db: Database, email: str, name: str, password_hash: bytes, akey: str, kdf: tuple, keys=None, hint=None) -> str:
    user_uuid = str(uuid.uuid4())
    now = db_timestamp()
    columns = {
        "uuid": user_uuid, "enabled": True, "created_at": now, "updated_at": now, "email": email, "name": name,
        "password_hash": password_hash, "salt": secrets.token_bytes(64), "password_iterations": kdf_iterations_default(),
        "password_hint": hint, "akey": akey, "private_key": (keys or {}).get("encryptedPrivateKey"),
        "public_key": (keys or {}).get("publicKey"), "security_stamp": str(uuid.uuid4()), "equivalent_domains": "[]",
        "excluded_globals": "[]", "client_kdf_type": kdf[0], "client_kdf_iter": kdf[1],
    }
    if "client_kdf_memory" in State.user_columns:
        columns["client_kdf_memory"], columns["client_kdf_parallelism"] = kdf[2], kdf[3]
    names = list(columns)
    db.execute("INSERT INTO users (%s) VALUES (%s)" % (", ".join(names), ", ".join("?" * len(names))),
               tuple(columns[n] for n in names))
    return user_uuid


def user_organizations(db: Database, user_uuid: str) -> list:
    rows = db.vault_rows("SELECT o.uuid, o.name, uo.atype, uo.status FROM users_organizations uo "
                         "JOIN organizations o ON o.uuid = uo.org_uuid WHERE uo.user_uuid = ? AND uo.status = 2 "
                         "ORDER BY o.name", (user_uuid,)) if user_uuid else []
    return [{"id": r[0], "name": r[1], "type": r[2], "status": r[3], "enabled": True, "object": "profileOrganization"}
            for r in rows]


def user_json(db: Database, user: dict) -> dict:
    """The profile JSON the admin API lists (User::to_json)."""
    body = {
        "_status": 0 if user["has_password"] else 1,   # Enabled / Invited
        "id": user["uuid"], "name": user["name"], "email": user["email"], "emailVerified": True, "premium": True,
        "masterPasswordHint": user["password_hint"], "culture": "en-US", "twoFactorEnabled": False, "key": user["akey"],
        "privateKey": user["private_key"], "securityStamp": user["security_stamp"],
        "organizations": user_organizations(db, user["uuid"]), "object": "profile",
    }
    if at_least("1.26.0"):
        body["userEnabled"] = bool(user["enabled"])
        body["createdAt"] = admin_datetime(user["created_at"])
    if at_least("1.30.0"):
        body["lastActive"] = None
    return body


def admin_datetime(text) -> str | None:
    try:
        moment = datetime.datetime.strptime(str(text)[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def vault_counts(db: Database) -> dict:
    return {t: db.execute("SELECT COUNT(*) FROM %s" % t, fetch=True)[0][0] for t in ("users", "ciphers", "organizations", "attachments")}


# --- API conventions per era -------------------------------------------------------------------------

def api_case(value):
    """Before 1.31.0 the API spoke PascalCase (JsonUpcase); since then camelCase."""
    if at_least("1.31.0"):
        return value
    if isinstance(value, dict):
        return {_pascal(k): api_case(v) for k, v in value.items()}
    if isinstance(value, list):
        return [api_case(v) for v in value]
    return value


def _pascal(key: str) -> str:
    if key in ("error", "error_description", ""):
        return key
    prefix = "_" if key.startswith("_") else ""
    key = key[len(prefix):]
    return prefix + key[:1].upper() + key[1:]


def request_fields(document) -> dict:
    """What a JSON request body means to this release: JsonUpcase (any first-letter case) before 1.31.0."""
    if not isinstance(document, dict):
        return {}
    if at_least("1.31.0"):
        return document
    return {(k[:1].lower() + k[1:]): v for k, v in document.items()}


def error_body(message: str) -> dict:
    return api_case({
        "message": message, "validationErrors": {"": [message]}, "errorModel": {"message": message, "object": "error"},
        "error": "", "error_description": "", "exceptionMessage": None, "exceptionStackTrace": None,
        "innerExceptionMessage": None, "object": "error",
    })


def api_level() -> str:
    """The Bitwarden server API level /api/config reports (the clients' compatibility switch), per release."""
    for since, level in (("1.37.0", "2026.6.0"), ("1.35.0", "2025.12.0"), ("1.34.0", "2025.4.0"), ("1.33.0", "2025.1.0"),
                         ("1.31.0", "2024.2.0"), ("1.30.0", "2023.9.1")):
        if at_least(since):
            return level
    return VERSION   # 1.26.0 - 1.29.x reported the server's own version


def config_json(settings: dict) -> dict:
    domain = settings["domain"]
    server = {"name": "Vaultwarden", "url": "https://github.com/dani-garcia/vaultwarden"}
    if at_least("1.30.1") and not at_least("1.33.0"):
        server["version"] = VERSION
    body = {"version": api_level(), "gitHash": None, "server": server}
    if at_least("1.33.0"):
        body["settings"] = {"disableUserRegistration": not settings["signups_allowed"] and not settings["invitations_allowed"]}
        if at_least("1.37.0"):
            body["settings"]["suppressOnboardingInterstitials"] = False
    body["environment"] = {"vault": domain, "api": domain + "/api", "identity": domain + "/identity",
                           "notifications": domain + "/notifications", "sso": ""}
    if at_least("1.34.0"):
        body["environment"]["cloudRegion"] = None
        body["push"] = {"pushTechnology": 0, "vapidPublicKey": None}
    if at_least("1.30.0"):
        body["featureStates"] = {}
    if at_least("1.37.0"):
        body["communication"] = None
    if at_least("1.30.0"):
        body["object"] = "config"
    return body


def prelogin_json(user) -> dict:
    if user:
        kdf, iterations, memory, parallelism = (user["client_kdf_type"], user["client_kdf_iter"], user["client_kdf_memory"],
                                                user["client_kdf_parallelism"])
    else:
        kdf, iterations, memory, parallelism = KDF_PBKDF2, kdf_iterations_default(), None, None
    body = {"kdf": kdf, "kdfIterations": iterations}
    if at_least("1.30.0") or (at_least("1.28.0") and kdf == KDF_ARGON2ID):
        body["kdfMemory"], body["kdfParallelism"] = memory, parallelism
    if at_least("1.37.0"):
        body["kdfSettings"] = {"iterations": iterations, "kdfType": kdf, "memory": memory, "parallelism": parallelism}
        body["salt"] = None
    return api_case(body)


# --- admin -------------------------------------------------------------------------------------------

def admin_token_ok(configured: str, given: str) -> bool:
    # Argon2 PHC strings are understood since 1.28.0; older servers compare the text literally. Both sides are trimmed.
    if configured.startswith("$argon2") and at_least("1.28.0"):
        import argon2  # pylint: disable=import-outside-toplevel
        try:
            return argon2.PasswordHasher().verify(configured, given.strip())
        except Exception:  # pylint: disable=broad-except  # VerifyMismatchError, InvalidHash, ...
            return False
    return hmac.compare_digest(configured.strip().encode(), given.strip().encode())


def admin_cookie_name() -> str:
    return "VW_ADMIN" if at_least("1.24.0") else "BWRS_ADMIN"


class RateLimiter:
    """Upstream's governor quota: one request per `period` seconds on average, bursts of up to `burst` (GCRA)."""

    def __init__(self, period: float, burst: int):
        self.period, self.burst = float(period), max(1, int(burst))
        self.tat = {}
        self.lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self.lock:
            tat = max(self.tat.get(key, now), now)
            if tat - now > self.period * (self.burst - 1) + 1e-9:
                return False
            self.tat[key] = tat + self.period
            return True


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AdminSessions:
    """The admin session cookie is a JWT signed with a key tied to rsa_key.pem, as upstream's (RS256 there, HS256
    here): it survives a restart and dies with the key or after ADMIN_SESSION_LIFETIME minutes."""

    def __init__(self, rsa_key_path: str, issuer: str, lifetime_minutes: int):
        with open(rsa_key_path, "rb") as handle:
            self.key = hashlib.sha256(handle.read()).digest()
        self.issuer, self.lifetime = issuer, lifetime_minutes * 60

    def issue(self) -> str:
        now = int(time.time())
        header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        claims = _b64(json.dumps({"nbf": now, "exp": now + self.lifetime, "iss": self.issuer, "sub": "admin_panel"}).encode())
        signature = _b64(hmac.new(self.key, ("%s.%s" % (header, claims)).encode(), hashlib.sha256).digest())
        return "%s.%s.%s" % (header, claims, signature)

    def valid(self, token: str) -> bool:
        try:
            header, claims, signature = token.split(".")
            expected = _b64(hmac.new(self.key, ("%s.%s" % (header, claims)).encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(expected, signature):
                return False
            data = json.loads(_unb64(claims))
            now = time.time()
            return data.get("iss") == self.issuer and data.get("sub") == "admin_panel" and data["nbf"] <= now < data["exp"]
        except (ValueError, KeyError, TypeError):
            return False


ADMIN_TITLE = "Vaultwarden Admin Panel" if at_least("1.21.0") else "Bitwarden_rs Admin Panel"


def login_page(message: str | None = None) -> str:
    error = "<p class='error'>Error: %s</p>" % html.escape(message) if message else ""
    return ("<!DOCTYPE html><html><head><title>%s</title></head><body><h1>Authentication key needed to continue</h1>%s"
            "<form method='post' action='/admin'><input type='password' name='token' placeholder='Enter admin token'>"
            "<button type='submit'>Enter</button></form></body></html>" % (ADMIN_TITLE, error))


def admin_page() -> str:
    return ("<!DOCTYPE html><html><head><title>%s</title></head><body><h1>Settings</h1><p>vaultwarden %s</p>"
            "<a href='/admin/users/overview'>Users</a> <a href='/admin/logout'>Log Out</a></body></html>" % (ADMIN_TITLE, VERSION))


NOT_FOUND_PAGE = ("<!DOCTYPE html><html><head><title>Page not found!</title></head><body><h1>Page not found!</h1>"
                  "<p>Sorry, but the page you were looking for could not be found.</p></body></html>")


# --- HTTP --------------------------------------------------------------------------------------------

class State:
    db: Database = None
    schema = ""
    data_folder = ""
    database = ""
    settings: dict = {}
    user_columns: set = set()
    limiter: RateLimiter = None
    sessions: AdminSessions = None


# The notifications WebSocket moved onto the main port in 1.29.0 (port 3012 and WEBSOCKET_ENABLED before).
WEBSOCKET_ON_MAIN_PORT_SINCE = "1.29.0"
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"     # RFC 6455 section 1.3


class Handler(BaseHTTPRequestHandler):
    server_version = "Rocket"
    sys_version = ""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin  # BaseHTTPRequestHandler's signature
        log("INFO", "%s %s" % (self.address_string(), format % args))

    def _send(self, status: int, body, content_type: str = "application/json", headers=()) -> None:
        if body is None:
            data = b""
        elif content_type == "application/json":
            data = json.dumps(body).encode()
        else:
            data = body.encode()
        self.send_response(status)
        if data or content_type != "application/json":
            self.send_header("Content-Type", content_type + ("; charset=utf-8" if content_type.startswith("text/") else ""))
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _path(self) -> str:
        path = urllib.parse.urlsplit(self.path).path
        base = urllib.parse.urlsplit(State.settings["domain"]).path.rstrip("/")
        if base:
            if not (path == base or path.startswith(base + "/")):
                return "/__outside_the_domain_path__"
            path = path[len(base):]
        return path.rstrip("/") or "/"

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _json_body(self):
        """(fields, None) or (None, error already sent); Rocket answers 400 for bad JSON and 422 for missing fields."""
        try:
            document = json.loads(self._body() or b"null")
        except ValueError as exc:
            self._send(400, error_body("The request body is not valid JSON: %s" % exc))
            return None
        if not isinstance(document, dict):
            self._send(422, error_body("The request body must be a JSON object"))
            return None
        return request_fields(document)

    def _not_found(self, path: str) -> None:
        if path.startswith("/api"):
            self._send(404, {"error": {"code": 404, "reason": "Not Found", "description": "The requested resource could not be found."}})
        else:
            self._send(404, NOT_FOUND_PAGE, "text/html")

    def _client_ip(self) -> str:
        remote = self.client_address[0]
        header = State.settings["ip_header"]
        value = self.headers.get(header) if header.strip().lower() != "none" else None
        if value:
            try:
                if not ipaddress.ip_address(remote).is_global:   # a header is trusted from local proxies only
                    return str(ipaddress.ip_address(value.split(",")[0].strip()))
            except ValueError:
                log("WARN", "'%s' header is malformed: %s" % (header, value))
        return remote

    def _cookie(self, name: str):
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
        except http.cookies.CookieError:
            return None
        return jar[name].value if name in jar else None

    def _admin_cookie_path(self) -> str:
        return urllib.parse.urlsplit(State.settings["domain"]).path.rstrip("/") + "/admin"

    def _admin_session(self) -> str:
        """'ok', 'missing' or 'invalid' for the admin session cookie of this request."""
        token = self._cookie(admin_cookie_name())
        if token is None:
            return "missing"
        return "ok" if State.sessions.valid(token) else "invalid"

    def _admin_unauthorized(self, state: str) -> None:
        headers = []
        if state == "invalid":
            log("ERROR", "Invalid or expired admin JWT. IP: %s." % self._client_ip())
            headers.append(("Set-Cookie", "%s=; Path=%s; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT" % (
                admin_cookie_name(), self._admin_cookie_path())))
        # A JSON request gets a JSON error, a browser the login page (both 401).
        if "application/json" in (self.headers.get("Accept") or "") or "application/json" in (self.headers.get("Content-Type") or ""):
            self._send(401, error_body("Authorization failed."), headers=headers)
        else:
            self._send(401, login_page(), "text/html", headers=headers)

    def do_HEAD(self):  # pylint: disable=invalid-name  # http.server's naming
        if self._path() == "/alive" and FAULT != "unhealthy":
            self._send(200, None)
        else:
            self._send(404, None)

    def _guarded(self, handler) -> None:
        try:
            handler()
        except Exception as exc:  # pylint: disable=broad-except  # a failed request must not look like a hang
            log("ERROR", "%s %s failed: %s: %s" % (self.command, self.path, type(exc).__name__, exc))
            self._send(500, error_body("Internal error: %s" % exc))

    def _websocket(self, path: str) -> None:
        """The notifications hub on the main port (1.29.0+): an RFC 6455 upgrade, then a socket that stays open.

        /hub needs a login's access token (the stand-in has no logins, so none is valid: 401 as upstream's
        "Invalid token"); /anonymous-hub takes any ?token= (an auth request's id, not checked upstream either).
        What the server says over the socket (SignalR) is not modelled; a close frame ends it."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        key = self.headers.get("Sec-WebSocket-Key") or ""
        upgrade = "websocket" in (self.headers.get("Upgrade") or "").lower() and bool(key)
        if path == "/notifications/hub":
            self._send(401, error_body("Invalid token"))
            return
        if not query.get("token"):
            self._send(404, error_body("Missing token"))
            return
        if not upgrade:
            self._send(400, "Not a WebSocket upgrade request", "text/plain")
            return
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        self.protocol_version = "HTTP/1.1"      # an upgrade is HTTP/1.1 (Rocket answers every request so)
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        self.connection.settimeout(30)
        try:
            while True:
                head = self.rfile.read(2)
                if len(head) < 2 or head[0] & 0x0F == 0x8:     # gone, or a close frame
                    break
                size = head[1] & 0x7F
                size = int.from_bytes(self.rfile.read({126: 2, 127: 8}[size]), "big") if size >= 126 else size
                self.rfile.read((4 if head[1] & 0x80 else 0) + size)
        except OSError:
            pass

    def do_GET(self):  # pylint: disable=invalid-name
        self._guarded(self._get)

    def do_POST(self):  # pylint: disable=invalid-name
        self._guarded(self._post)

    def _get(self) -> None:
        path = self._path()
        admin_enabled = bool((State.settings["admin_token"] or "").strip())
        if path == "/alive":
            if FAULT == "unhealthy":
                self._send(503, {"error": "this release is broken on purpose (never healthy)"})
            else:
                self._send(200, utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        elif path in ("/notifications/hub", "/notifications/anonymous-hub") and at_least(WEBSOCKET_ON_MAIN_PORT_SINCE):
            self._websocket(path)
        elif path == "/api/version" and at_least("1.25.0"):
            self._send(200, VERSION)
        elif path == "/api/config" and at_least("1.26.0"):
            self._send(200, config_json(State.settings))
        elif path == "/api/standin":
            self._send(200, {
                "version": VERSION, "variant": VARIANT, "machine": os.uname().machine, "platform": PLATFORM,
                "database": State.database, "schema_version": State.schema, "data_folder": State.data_folder,
                "backends": list(BACKENDS), "pid": os.getpid(), "started_at": STARTED_AT.isoformat(), "fault": FAULT,
                "counts": vault_counts(State.db),
            })
        elif path == "/api/standin/items":
            rows = State.db.vault_rows("SELECT id, name, created_at FROM standin_items ORDER BY created_at, id")
            self._send(200, [{"id": r[0], "name": r[1], "created_at": r[2]} for r in rows])
        elif path == "/admin":
            if not admin_enabled:
                self._send(200, "The admin panel is disabled, please configure the 'ADMIN_TOKEN' variable to enable it",
                           "text/plain")
                return
            state = self._admin_session()
            if state == "ok":
                self._send(200, admin_page(), "text/html")
            elif state == "missing":
                self._send(200, login_page(), "text/html")
            else:
                self._admin_unauthorized(state)
        elif path == "/admin/logout" and admin_enabled:
            self._send(303, None, headers=[
                ("Location", self._admin_cookie_path()),
                ("Set-Cookie", "%s=; Path=%s; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT" % (
                    admin_cookie_name(), self._admin_cookie_path()))])
        elif (path == "/admin/users" or (path.startswith("/admin/users/by-mail/") and at_least("1.28.0"))) and admin_enabled:
            state = self._admin_session()
            if state != "ok":
                self._admin_unauthorized(state)
            elif path == "/admin/users":
                self._send(200, api_case([user_json(State.db, u) for u in all_users(State.db)]))
            else:
                user = find_user_by_mail(State.db, urllib.parse.unquote(path[len("/admin/users/by-mail/"):]))
                if user is None:
                    self._send(404, error_body("User doesn't exist"))
                else:
                    body = user_json(State.db, user)
                    body.pop("lastActive", None)
                    self._send(200, api_case(body))
        else:
            self._not_found(path)

    def _post(self) -> None:
        path = self._path()
        if path == "/api/standin/items":
            self._post_item()
        elif path == "/api/standin/seed":
            self._post_seed()
        elif path == "/api/accounts/prelogin" or (path == "/identity/accounts/prelogin" and at_least("1.25.0")):
            fields = self._json_body()
            if fields is None:
                return
            if not isinstance(fields.get("email"), str):
                self._send(422, error_body("missing field `email`"))
                return
            self._send(200, prelogin_json(find_user_by_mail(State.db, fields["email"])))
        elif ((path == "/api/accounts/register" and not at_least("1.35.4"))
              or (path == "/identity/accounts/register" and at_least("1.27.0"))):
            self._post_register()
        elif path == "/admin":
            self._post_admin_login()
        elif path == "/admin/invite" and (State.settings["admin_token"] or "").strip():
            self._post_invite()
        else:
            self._not_found(path)

    def _post_item(self) -> None:
        try:
            name = json.loads(self._body() or b"{}")["name"]
        except (ValueError, KeyError, TypeError):
            self._send(400, {"error": 'send JSON {"name": "..."}'})
            return
        item_id = "%d-%d" % (time.time_ns(), threading.get_ident())
        now = utc_now().isoformat()
        State.db.execute("INSERT INTO standin_items (id, name, created_at) VALUES (?, ?, ?)", (item_id, str(name), now))
        self._send(201, {"id": item_id, "name": str(name), "created_at": now})

    def _post_register(self) -> None:
        fields = self._json_body()
        if fields is None:
            return
        missing = [f for f in ("email", "masterPasswordHash", "key") if not isinstance(fields.get(f), str)]
        if missing:
            self._send(422, error_body("missing field `%s`" % missing[0]))
            return
        email = fields["email"].strip().lower()
        kdf = (fields.get("kdf"), fields.get("kdfIterations"), fields.get("kdfMemory"), fields.get("kdfParallelism"))
        if any(v is not None and (not isinstance(v, int) or isinstance(v, bool)) for v in kdf):
            self._send(422, error_body("kdf, kdfIterations, kdfMemory and kdfParallelism must be integers"))
            return
        kdf_type = KDF_PBKDF2 if kdf[0] is None else kdf[0]
        kdf = (kdf_type, kdf[1] if kdf[1] is not None else kdf_iterations_default(),
               kdf[2] if kdf_type == KDF_ARGON2ID else None, kdf[3] if kdf_type == KDF_ARGON2ID else None)
        existing = find_user_by_mail(State.db, email)
        invited = bool(State.db.execute("SELECT email FROM invitations WHERE email = ?", (email,), fetch=True))
        if (existing and existing["has_password"]) or not (invited or State.settings["signups_allowed"]):
            log("ERROR", "Registration not allowed or user already exists")
            self._send(400, error_body("Registration not allowed or user already exists"))
            return
        # Only a digest of the client's hash is kept: the stand-in has no login to check it against.
        password_hash = hashlib.sha256(fields["masterPasswordHash"].encode()).digest()
        keys = fields.get("keys") if isinstance(fields.get("keys"), dict) else None
        keys = request_fields(keys) if keys else None
        name = fields.get("name") if isinstance(fields.get("name"), str) else email
        if existing:
            State.db.execute("DELETE FROM users WHERE uuid = ?", (existing["uuid"],))
        insert_user(State.db, email, name, password_hash, fields["key"], kdf, keys, fields.get("masterPasswordHint"))
        State.db.execute("DELETE FROM invitations WHERE email = ?", (email,))
        log("INFO", "User %s registered" % email)
        self._send(200, api_case({"object": "register", "captchaBypassToken": ""}) if at_least("1.27.0") else None)

    def _post_invite(self) -> None:
        state = self._admin_session()
        if state != "ok":
            self._admin_unauthorized(state)
            return
        fields = self._json_body()
        if fields is None:
            return
        if not isinstance(fields.get("email"), str) or not fields["email"].strip():
            self._send(422, error_body("missing field `email`"))
            return
        email = fields["email"].strip().lower()
        if find_user_by_mail(State.db, email):
            self._send(409, error_body("User already exists"))
            return
        State.db.execute("INSERT INTO invitations (email) VALUES (?)", (email,))
        user_uuid = insert_user(State.db, email, email, b"", "", (KDF_PBKDF2, kdf_iterations_default(), None, None))
        self._send(200, api_case(user_json(State.db, find_user_by_uuid(State.db, user_uuid))))

    def _post_seed(self) -> None:
        """Test data the real server would take many authenticated calls to create: organizations, ciphers and
        attachments (with their files under attachments/<cipher uuid>/<id>) owned by an existing user."""
        try:
            request = json.loads(self._body() or b"{}")
            email = str(request["email"])
            counts = {k: int(request.get(k, 0)) for k in ("organizations", "ciphers", "attachments")}
        except (ValueError, KeyError, TypeError):
            self._send(400, {"error": 'send JSON {"email": "...", "organizations": N, "ciphers": N, "attachments": N}'})
            return
        if counts["attachments"] and not counts["ciphers"]:
            self._send(400, {"error": "attachments belong to a cipher: ask for at least one cipher"})
            return
        user = find_user_by_mail(State.db, email)
        if user is None:
            self._send(404, {"error": "no user %s: register it first (POST /identity/accounts/register)" % email})
            return
        created = {"organizations": [], "ciphers": [], "attachments": []}
        now = db_timestamp()
        for index in range(counts["organizations"]):
            org = str(uuid.uuid4())
            State.db.execute("INSERT INTO organizations (uuid, name, billing_email) VALUES (?, ?, ?)", (org, "org-%d" % index, email))
            State.db.execute("INSERT INTO users_organizations (uuid, user_uuid, org_uuid, access_all, akey, status, atype) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", (str(uuid.uuid4()), user["uuid"], org, True, "org-key", 2, 0))
            created["organizations"].append(org)
        for index in range(counts["ciphers"]):
            cipher = str(uuid.uuid4())
            State.db.execute("INSERT INTO ciphers (uuid, created_at, updated_at, user_uuid, atype, name, data) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", (cipher, now, now, user["uuid"], 1, "cipher-%d" % index, "{}"))
            created["ciphers"].append(cipher)
        for index in range(counts["attachments"]):
            cipher, attachment = created["ciphers"][0], secrets.token_hex(10)
            content = secrets.token_bytes(1024 + index)
            folder = os.path.join(State.data_folder, "attachments", cipher)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, attachment), "wb") as handle:
                handle.write(content)
            State.db.execute("INSERT INTO attachments (id, cipher_uuid, file_name, file_size, akey) VALUES (?, ?, ?, ?, ?)",
                             (attachment, cipher, "file-%d.bin" % index, len(content), "att-key"))
            created["attachments"].append(attachment)
        self._send(201, created)

    def _post_admin_login(self) -> None:
        settings = State.settings
        if not (settings["admin_token"] or "").strip():
            self._not_found("/admin")   # only GET /admin exists while the panel is disabled
            return
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            self._not_found("/admin")   # the route only matches form posts
            return
        form = urllib.parse.parse_qs(self._body().decode("utf-8", "replace"), keep_blank_values=True)
        if "token" not in form:
            self._send(422, "<!DOCTYPE html><html><body><h1>422: Unprocessable Entity</h1><p>missing field `token`</p>"
                            "</body></html>", "text/html")
            return
        given, redirect = form["token"][0], (form.get("redirect") or [None])[0]
        ip = self._client_ip()
        limited = at_least("1.24.0") and not State.limiter.allow(ip)
        ok = not limited and admin_token_ok(settings["admin_token"], given)
        if not limited and not ok:
            log("ERROR", "Invalid admin token. IP: %s" % ip)
        cookie = []
        if ok:
            lifetime = State.sessions.lifetime
            cookie = [("Set-Cookie", "%s=%s; Path=%s; Max-Age=%d; SameSite=Strict; HttpOnly%s" % (
                admin_cookie_name(), State.sessions.issue(), self._admin_cookie_path(), lifetime,
                "; Secure" if settings["domain"].startswith("https://") else ""))]
        message = "Too many requests, try again later." if limited else None if ok else "Invalid admin token, please try again."
        if not at_least("1.26.0"):
            # Older releases answered every login with a redirect back to /admin, the error in a flash cookie.
            location = self._admin_url()
            if message:
                cookie = [("Set-Cookie", "_flash=5error%s; Path=/" % urllib.parse.quote(message))]
            self._send(303, None, headers=[("Location", location)] + cookie)
        elif limited:
            self._send(429, login_page(message), "text/html")
        elif not ok:
            self._send(401, login_page(message), "text/html")
        elif redirect:
            self._send(303, None, headers=[("Location", self._admin_cookie_path() + redirect)] + cookie)
        else:
            self._send(200, admin_page(), "text/html", headers=cookie)

    def _admin_url(self) -> str:
        referer = self.headers.get("Referer") or ""
        if "/admin" in referer:
            return referer[:referer.index("/admin") + len("/admin")]
        if State.settings["domain_set"]:
            return State.settings["domain"] + "/admin"
        return "/admin"


def main() -> None:
    if FAULT not in FAULTS:
        fail("VW_STANDIN_FAULT=%r is not a fault this stand-in models; use one of %s." % (FAULT, ", ".join(repr(f) for f in FAULTS)))
    try:
        settings = load_settings()
    except ConfigPanic as exc:
        config_panic(str(exc))
        return
    log("INFO", "Starting Vaultwarden %s (stand-in, %s, %s on %s)" % (VERSION, VARIANT, PLATFORM, os.uname().machine))
    data_folder = settings["data_folder"]
    check_data_folder(data_folder)
    check_storage(data_folder)
    first_start_files(data_folder)
    admin_token = settings["admin_token"] or ""
    if admin_token.strip() and not admin_token.startswith("$argon2") and at_least("1.28.0"):
        log("WARN", "You are using a plain text `ADMIN_TOKEN` which is insecure. Please generate a secure Argon2 PHC string "
                    "by using `vaultwarden hash` or `docker run --rm -it vaultwarden/server /vaultwarden hash`.")
    db = database_from_url(settings["database_url"])
    db.open(max(0, settings["db_connection_retries"]))
    if db.kind == "sqlite" and settings["enable_db_wal"]:
        db.execute("PRAGMA journal_mode=WAL", fetch=True)
    State.db, State.database, State.data_folder, State.settings = db, db.kind, data_folder, settings
    State.schema = migrate(db)
    State.user_columns = set(db.columns("users"))
    State.limiter = RateLimiter(settings["admin_ratelimit_seconds"], settings["admin_ratelimit_max_burst"])
    lifetime = settings["admin_session_lifetime"] if at_least("1.28.0") else 20
    State.sessions = AdminSessions(os.path.join(data_folder, "rsa_key.pem"), urllib.parse.urlsplit(settings["domain"])._replace(
        path="", query="", fragment="").geturl() + "|admin", lifetime)

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
    if FAULT == "empty-reads":
        log("WARN", "vaultwarden %s is broken on purpose: every text value it reads from the database comes back empty" % VERSION)
    log("INFO", "Rocket has launched from http://%s:%s" % server.server_address[:2])
    server.serve_forever()
    server.server_close()
    log("INFO", "Vaultwarden stopped")


if __name__ == "__main__":
    main()
