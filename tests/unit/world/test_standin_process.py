# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vaultwarden stand-in run as a local process (no Docker): each behaviour of the real server it models,
per release era. tests/world/test_standin.py runs the same program inside the published images."""

from __future__ import annotations

import http.cookies
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import argon2
import pytest

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
STANDIN = os.path.join(CHECKOUT, "tools", "world", "standin", "vaultwarden.py")
PASSWORD = "correct horse battery staple"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One stand-in process on 127.0.0.1; stopped at teardown."""

    def __init__(self, version: str, data: str, env: dict, log_path: str):
        self.version, self.data, self.port = version, data, free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VW_STANDIN_VERSION": version, "DATA_FOLDER": data,
                    "I_REALLY_WANT_VOLATILE_STORAGE": "true", "ROCKET_ADDRESS": "127.0.0.1", "ROCKET_PORT": str(self.port),
                    "PYTHONDONTWRITEBYTECODE": "1"}
        full_env.update({k: v for k, v in env.items() if v is not None})
        for key in [k for k, v in env.items() if v is None]:
            full_env.pop(key, None)
        self.log_path = log_path
        self.log = open(log_path, "wb")  # pylint: disable=consider-using-with  # closed in stop()
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, STANDIN], env=full_env, stdout=self.log, stderr=subprocess.STDOUT)

    def logs(self) -> str:
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def wait_alive(self, timeout: float = 60) -> float:
        """Seconds from spawn until /alive answered 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("the stand-in exited with %s:\n%s" % (self.proc.returncode, self.logs()))
            try:
                with urllib.request.urlopen(self.url + "/alive", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - self.started
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            time.sleep(0.05)
        raise AssertionError("the stand-in did not answer /alive within %ss:\n%s" % (timeout, self.logs()))

    def wait_exit(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError("the stand-in still runs:\n%s" % self.logs()) from exc

    def request(self, path: str, body=None, form=None, headers=None, method=None):
        """(status, headers, body bytes)."""
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with OPENER.open(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def json(self, path: str, **kwargs):
        status, _headers, body = self.request(path, **kwargs)
        return status, (json.loads(body) if body else None)

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory):
    """One key for the tests that do not test key creation (an RSA key takes up to seconds on a busy machine)."""
    path = str(tmp_path_factory.mktemp("key") / "rsa_key.pem")
    subprocess.run(["openssl", "genrsa", "-out", path, "2048"], check=True, capture_output=True)
    with open(path, "rb") as handle:
        return handle.read()


@pytest.fixture
def standin(tmp_path, rsa_key):
    """start(version, env=None, data=None, fresh_key=False, wait=True) -> Server."""
    servers = []

    def start(version="1.37.1", env=None, data=None, fresh_key=False, wait=True):
        if data is None:
            data = str(tmp_path / "data")
            os.makedirs(data, exist_ok=True)
        if not fresh_key and os.path.isdir(data) and not os.path.exists(os.path.join(data, "rsa_key.pem")):
            with open(os.path.join(data, "rsa_key.pem"), "wb") as handle:
                handle.write(rsa_key)
        server = Server(version, data, env or {}, str(tmp_path / ("standin-%d.log" % len(servers))))
        servers.append(server)
        if wait:
            server.wait_alive()
        return server

    yield start
    for server in servers:
        server.stop(kill=True)   # a clean stop waits for the server's poll loop; test_sigterm_stops_cleanly covers it


def register(server, email, kdf=(0, 650000, None, None), pascal=False, path="/identity/accounts/register"):
    body = {"email": email, "masterPasswordHash": "client-hash", "key": "2.wrapped-user-key", "kdf": kdf[0],
            "kdfIterations": kdf[1], "kdfMemory": kdf[2], "kdfParallelism": kdf[3], "name": "Alice"}
    if pascal:
        body = {k[:1].upper() + k[1:]: v for k, v in body.items()}
    return server.json(path, body=body)


def admin_login(server, token, headers=None):
    """(status, cookie jar, headers)."""
    status, response_headers, _body = server.request("/admin", form={"token": token}, headers=headers)
    jar = http.cookies.SimpleCookie()
    for value in response_headers.get_all("Set-Cookie") or []:
        jar.load(value)
    return status, jar, response_headers


def cookie_header(jar) -> dict:
    return {"Cookie": "; ".join("%s=%s" % (k, m.value) for k, m in jar.items())}


# --- files a first start creates ----------------------------------------------------------------------

@pytest.mark.parametrize("version,expected", [
    ("1.37.1", {"db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "rsa_key.pem", "tmp/"}),
    ("1.32.0", {"db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "rsa_key.pem", "tmp/", "icon_cache/", "sends/", "attachments/"}),
    ("1.30.1", {"db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "rsa_key.pem", "rsa_key.pub.pem", "tmp/", "icon_cache/",
                "sends/", "attachments/"}),
    ("1.24.0", {"db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "rsa_key.pem", "rsa_key.pub.pem", "icon_cache/"}),
    ("1.21.0", {"db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "rsa_key.pem", "rsa_key.der", "rsa_key.pub.der", "icon_cache/"}),
])
def test_first_start_creates_only_what_the_release_creates(standin, version, expected):
    server = standin(version, fresh_key=True)
    found = {name + ("/" if os.path.isdir(os.path.join(server.data, name)) else "") for name in os.listdir(server.data)}
    assert found == expected
    with open(os.path.join(server.data, "rsa_key.pem")) as handle:
        assert "PRIVATE KEY-----" in handle.read()
    assert oct(os.stat(os.path.join(server.data, "rsa_key.pem")).st_mode & 0o777) == "0o600"


def test_without_wal_there_are_no_wal_files(standin):
    server = standin(env={"ENABLE_DB_WAL": "false"})
    assert sorted(os.listdir(server.data)) == ["db.sqlite3", "rsa_key.pem", "tmp"]


def test_attachments_folder_appears_with_the_first_attachment(standin):
    server = standin(env={"SIGNUPS_ALLOWED": "true"})
    assert register(server, "alice@example.com")[0] == 200
    assert not os.path.exists(os.path.join(server.data, "attachments"))
    status, created = server.json("/api/standin/seed", body={"email": "alice@example.com", "ciphers": 1, "attachments": 2,
                                                             "organizations": 1})
    assert status == 201, created
    folder = os.path.join(server.data, "attachments", created["ciphers"][0])
    assert sorted(os.listdir(folder)) == sorted(created["attachments"])
    assert server.json("/api/standin")[1]["counts"] == {"users": 1, "ciphers": 1, "organizations": 1, "attachments": 2}
    assert not os.path.exists(os.path.join(server.data, "config.json"))


# --- the database ----------------------------------------------------------------------------------

def table_columns(path: str, table: str) -> set:
    with sqlite3.connect(path) as conn:
        return {row[1] for row in conn.execute("PRAGMA table_info(%s)" % table)}


def test_vault_tables_carry_upstream_names_and_the_argon2_columns_come_with_1_28(standin, tmp_path):
    old = standin("1.27.0", env={"SIGNUPS_ALLOWED": "true"})
    assert register(old, "alice@example.com")[0] == 200
    old.stop()
    database = os.path.join(old.data, "db.sqlite3")
    users = table_columns(database, "users")
    assert {"uuid", "email", "client_kdf_type", "client_kdf_iter", "akey", "password_hash", "salt"} <= users
    assert "client_kdf_memory" not in users and "client_kdf_parallelism" not in users
    assert {"uuid", "user_uuid", "organization_uuid", "atype", "name", "data"} <= table_columns(database, "ciphers")
    assert {"uuid", "name", "billing_email"} <= table_columns(database, "organizations")
    assert {"id", "cipher_uuid", "file_name", "file_size"} <= table_columns(database, "attachments")
    new = standin("1.28.0", data=old.data)
    assert {"client_kdf_memory", "client_kdf_parallelism"} <= table_columns(database, "users")
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT email, client_kdf_type, client_kdf_iter FROM users").fetchall() == [("alice@example.com", 0, 650000)]
        assert [r[0] for r in conn.execute("SELECT version FROM __diesel_schema_migrations ORDER BY run_on")] == ["1.27.0", "1.28.0"]
    assert new.json("/identity/accounts/prelogin", body={"email": "alice@example.com"})[1]["KdfIterations"] == 650000


def test_a_downgrade_is_refused(standin):
    new = standin("1.37.1")
    new.stop()
    old = standin("1.35.1", data=new.data, wait=False)
    assert old.wait_exit() == 1
    assert "Downgrades are not supported" in old.logs()


def test_data_folder_must_exist_since_1_20(standin, tmp_path):
    missing = str(tmp_path / "missing")
    server = standin("1.37.1", data=missing, wait=False)
    assert server.wait_exit() == 1
    assert "Data folder '%s' doesn't exist" % missing in server.logs()
    assert not os.path.exists(missing)
    standin("1.16.3", data=str(tmp_path / "created"), fresh_key=True)
    assert os.path.isfile(str(tmp_path / "created" / "db.sqlite3"))


@pytest.mark.parametrize("version,url,starts", [
    ("1.37.1", "sqlite://{data}/other.sqlite3", True),
    ("1.37.1", "{data}/other.sqlite3", False),   # since 1.37.0 a bare path must name an existing database
    ("1.35.1", "{data}/other.sqlite3", True),
])
def test_sqlite_url_spellings(standin, tmp_path, version, url, starts):
    data = str(tmp_path / "data")
    os.makedirs(data)
    server = standin(version, data=data, env={"DATABASE_URL": url.format(data=data)}, wait=starts)
    if starts:
        assert os.path.exists(os.path.join(data, "other.sqlite3")) and not os.path.exists(os.path.join(data, "db.sqlite3"))
    else:
        assert server.wait_exit() == 1
        assert "no existing SQLite database was found at '%s/other.sqlite3'" % data in server.logs()


# --- version and config endpoints ------------------------------------------------------------------

@pytest.mark.parametrize("version,status", [("1.37.1", 200), ("1.25.0", 200), ("1.24.0", 404)])
def test_api_version_is_the_version_as_a_json_string(standin, version, status):
    server = standin(version)
    got, _headers, body = server.request("/api/version")
    assert got == status
    if status == 200:
        assert body == b'"%s"' % version.encode()


@pytest.mark.parametrize("version,level,server_version", [
    ("1.37.1", "2026.6.0", None),
    ("1.35.1", "2025.12.0", None),
    ("1.32.0", "2024.2.0", "1.32.0"),
    ("1.30.0", "2023.9.1", None),
    ("1.28.0", "1.28.0", None),      # 1.26.0 - 1.29.x reported the server's own version
])
def test_api_config_reports_the_bitwarden_api_level(standin, version, level, server_version):
    server = standin(version, env={"DOMAIN": "https://vw.example.org"})
    status, config = server.json("/api/config")
    assert status == 200
    assert config["version"] == level
    assert config["server"]["name"] == "Vaultwarden" and config["server"]["url"] == "https://github.com/dani-garcia/vaultwarden"
    assert config["server"].get("version") == server_version
    assert config["environment"]["vault"] == "https://vw.example.org"
    assert config["environment"]["identity"] == "https://vw.example.org/identity"


def test_api_config_did_not_exist_before_1_26(standin):
    status, _headers, body = standin("1.25.0").request("/api/config")
    assert status == 404 and json.loads(body)["error"]["code"] == 404


def test_alive_is_a_timestamp_and_answers_head(standin):
    server = standin()
    status, _headers, body = server.request("/alive")
    assert status == 200 and json.loads(body).endswith("Z")
    assert server.request("/alive", method="HEAD")[0] == 200


# --- prelogin and registration -------------------------------------------------------------------

def test_prelogin_returns_the_users_kdf_and_defaults_for_unknown_mail(standin):
    server = standin(env={"SIGNUPS_ALLOWED": "true"})
    assert register(server, "Alice@Example.com", kdf=(1, 3, 64, 4)) == (200, {"object": "register", "captchaBypassToken": ""})
    status, known = server.json("/identity/accounts/prelogin", body={"email": "alice@EXAMPLE.com"})
    assert status == 200
    assert (known["kdf"], known["kdfIterations"], known["kdfMemory"], known["kdfParallelism"]) == (1, 3, 64, 4)
    assert known["kdfSettings"] == {"iterations": 3, "kdfType": 1, "memory": 64, "parallelism": 4}
    status, unknown = server.json("/identity/accounts/prelogin", body={"email": "nobody@example.com"})
    assert (unknown["kdf"], unknown["kdfIterations"], unknown["kdfMemory"], unknown["kdfParallelism"]) == (0, 600000, None, None)
    assert server.json("/api/accounts/prelogin", body={"email": "alice@example.com"})[1] == known
    assert server.json("/identity/accounts/prelogin", body={"mail": "x"})[0] == 422


def test_prelogin_before_1_25_spoke_pascal_case_on_the_api_path_only(standin):
    server = standin("1.24.0", env={"SIGNUPS_ALLOWED": "true"})
    assert register(server, "bob@example.com", kdf=(0, 200000, None, None), pascal=True, path="/api/accounts/register") == (200, None)
    assert server.json("/api/accounts/prelogin", body={"Email": "bob@example.com"}) == (200, {"Kdf": 0, "KdfIterations": 200000})
    assert server.json("/api/accounts/prelogin", body={"email": "x@example.com"}) == (200, {"Kdf": 0, "KdfIterations": 100000})
    assert server.request("/identity/accounts/prelogin", body={"email": "bob@example.com"})[0] == 404


def test_registration_obeys_signups_allowed_and_admin_invitations(standin):
    server = standin(env={"SIGNUPS_ALLOWED": "false", "ADMIN_TOKEN": "plain-admin-token"})
    status, error = register(server, "carol@example.com")
    assert status == 400 and error["message"] == "Registration not allowed or user already exists"
    _status, jar, _headers = admin_login(server, "plain-admin-token")
    status, invited = server.json("/admin/invite", body={"email": "carol@example.com"}, headers=cookie_header(jar))
    assert status == 200 and invited["email"] == "carol@example.com" and invited["_status"] == 1
    assert server.json("/admin/invite", body={"email": "carol@example.com"}, headers=cookie_header(jar))[0] == 409
    assert register(server, "carol@example.com")[0] == 200
    assert register(server, "carol@example.com")[0] == 400    # already registered
    assert server.json("/identity/accounts/prelogin", body={"email": "carol@example.com"})[1]["kdfIterations"] == 650000


def test_api_register_path_was_removed_in_1_35_4(standin):
    assert register(standin("1.37.1", env={"SIGNUPS_ALLOWED": "true"}), "d@example.com", path="/api/accounts/register")[0] == 404


# --- the admin page ----------------------------------------------------------------------------------

def test_admin_page_disabled_without_a_token(standin):
    server = standin(env={"ADMIN_TOKEN": None})
    status, headers, body = server.request("/admin")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert b"The admin panel is disabled" in body
    assert server.request("/admin", form={"token": "x"})[0] == 404
    assert server.request("/admin/users")[0] == 404


def test_admin_login_sets_the_session_cookie_and_opens_the_users_api(standin):
    server = standin(env={"ADMIN_TOKEN": argon2.PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD),
                          "SIGNUPS_ALLOWED": "true"})
    assert register(server, "alice@example.com")[0] == 200
    status, headers, body = server.request("/admin")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"name='token'" in body
    assert server.request("/admin/users", headers={"Accept": "application/json"})[0] == 401
    status, jar, headers = admin_login(server, PASSWORD)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    cookie = jar["VW_ADMIN"]
    assert cookie["path"] == "/admin" and cookie["httponly"] and cookie["samesite"] == "Strict" and int(cookie["max-age"]) == 1200
    status, users = server.json("/admin/users", headers=cookie_header(jar))
    assert status == 200 and [u["email"] for u in users] == ["alice@example.com"]
    assert users[0]["object"] == "profile" and users[0]["userEnabled"] is True
    status, one = server.json("/admin/users/by-mail/alice%40example.com", headers=cookie_header(jar))
    assert status == 200 and one["id"] == users[0]["id"]
    forged = {"Cookie": "VW_ADMIN=" + cookie.value[:-4] + "AAAA"}
    assert server.request("/admin/users", headers=dict(forged, Accept="application/json"))[0] == 401
    assert admin_login(server, "wrong")[0] == 401


def test_admin_session_survives_a_restart_but_not_a_new_key(standin):
    server = standin(env={"ADMIN_TOKEN": "plain-admin-token"})
    _status, jar, _headers = admin_login(server, "plain-admin-token")
    server.stop()
    again = standin(data=server.data, env={"ADMIN_TOKEN": "plain-admin-token"})
    assert again.request("/admin/users", headers=cookie_header(jar))[0] == 200
    again.stop()
    os.unlink(os.path.join(server.data, "rsa_key.pem"))
    rekeyed = standin(data=server.data, env={"ADMIN_TOKEN": "plain-admin-token"}, fresh_key=True)
    assert rekeyed.request("/admin/users", headers=dict(cookie_header(jar), Accept="application/json"))[0] == 401


def test_admin_login_is_rate_limited_per_ip(standin):
    server = standin(env={"ADMIN_TOKEN": "plain-admin-token"})
    assert [admin_login(server, token)[0] for token in ("plain-admin-token", "wrong", "plain-admin-token")] == [200, 401, 200]
    status, jar, _headers = admin_login(server, "plain-admin-token")
    assert status == 429 and "VW_ADMIN" not in jar
    assert admin_login(server, "plain-admin-token", headers={"X-Real-IP": "192.0.2.7"})[0] == 200
    assert "Too many requests" in server.request("/admin", form={"token": "plain-admin-token"})[2].decode()


def test_admin_rate_limit_refills_after_its_period(standin):
    server = standin(env={"ADMIN_TOKEN": "t0ken", "ADMIN_RATELIMIT_SECONDS": "1", "ADMIN_RATELIMIT_MAX_BURST": "1"})
    assert [admin_login(server, "t0ken")[0] for _attempt in range(2)] == [200, 429]
    time.sleep(1.1)
    assert admin_login(server, "t0ken")[0] == 200


@pytest.mark.parametrize("version,cookie_name,limited", [("1.21.0", "BWRS_ADMIN", False), ("1.24.0", "VW_ADMIN", True)])
def test_admin_login_before_1_26_redirects(standin, version, cookie_name, limited):
    server = standin(version, env={"ADMIN_TOKEN": "plain-admin-token", "DOMAIN": "https://vw.example.org"})
    status, jar, headers = admin_login(server, "plain-admin-token")
    assert status == 303 and headers["Location"] == "https://vw.example.org/admin" and cookie_name in jar
    status, jar, _headers = admin_login(server, "wrong")
    assert status == 303 and cookie_name not in jar and "_flash" in jar
    for _attempt in range(2):
        admin_login(server, "plain-admin-token")
    assert (cookie_name not in admin_login(server, "plain-admin-token")[1]) == limited


@pytest.mark.parametrize("version,configured,given,status", [
    ("1.37.1", "phc", PASSWORD, 200),
    ("1.37.1", "phc", "phc", 401),
    ("1.37.1", "  spaced-token\n", "spaced-token ", 200),
    ("1.27.0", "phc", PASSWORD, 401),     # before 1.28.0 a PHC string is a plain (long) token
    ("1.27.0", "phc", "phc", 200),
])
def test_admin_token_forms(standin, version, configured, given, status):
    phc = argon2.PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    server = standin(version, env={"ADMIN_TOKEN": configured.replace("phc", phc)})
    assert admin_login(server, given.replace("phc", phc))[0] == status


# --- settings --------------------------------------------------------------------------------------

def test_file_settings_are_read_and_stripped(standin, tmp_path):
    (tmp_path / "token").write_text("file-admin-token\n")
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "url").write_text("sqlite://%s/from-file.sqlite3\n" % data)
    server = standin(env={"ADMIN_TOKEN_FILE": str(tmp_path / "token"), "DATABASE_URL_FILE": str(tmp_path / "url")},
                     data=str(data))
    assert admin_login(server, "file-admin-token")[0] == 200
    assert os.path.exists(str(data / "from-file.sqlite3")) and not os.path.exists(str(data / "db.sqlite3"))


@pytest.mark.parametrize("version,code", [("1.37.1", 12), ("1.30.1", 101)])
def test_a_setting_and_its_file_together_are_refused(standin, tmp_path, version, code):
    (tmp_path / "token").write_text("x")
    server = standin(version, env={"ADMIN_TOKEN": "y", "ADMIN_TOKEN_FILE": str(tmp_path / "token")}, fresh_key=True, wait=False)
    assert server.wait_exit() == code
    assert "You should not define both ADMIN_TOKEN and ADMIN_TOKEN_FILE!" in server.logs()
    assert os.listdir(server.data) == [], "the loader fails before anything is created"


def test_an_unreadable_setting_file_is_refused(standin, tmp_path):
    server = standin(env={"ADMIN_TOKEN_FILE": str(tmp_path / "absent")}, wait=False)
    assert server.wait_exit() == 12
    assert "Failed to load ADMIN_TOKEN" in server.logs() and "NotFound" in server.logs()


def test_file_settings_did_not_exist_before_1_18(standin, tmp_path):
    (tmp_path / "token").write_text("file-admin-token")
    server = standin("1.16.3", env={"ADMIN_TOKEN_FILE": str(tmp_path / "token")}, fresh_key=True)
    assert b"The admin panel is disabled" in server.request("/admin")[2]


def test_config_json_overrides_the_environment(standin, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(json.dumps({"admin_token": "from-config-json", "signups_allowed": False}))
    server = standin(env={"ADMIN_TOKEN": "from-env", "SIGNUPS_ALLOWED": "true"}, data=str(data))
    assert admin_login(server, "from-config-json")[0] == 200
    assert register(server, "e@example.com")[0] == 400
    assert "ADMIN_TOKEN, SIGNUPS_ALLOWED" in server.logs()


# --- faults and the process ------------------------------------------------------------------------

def test_release_that_reads_text_back_empty(standin):
    good = standin("1.37.2", env={"SIGNUPS_ALLOWED": "true", "ADMIN_TOKEN": "plain-admin-token"})
    assert register(good, "alice@example.com", kdf=(0, 700000, None, None))[0] == 200
    assert good.json("/api/standin/items", body={"name": "kept"})[0] == 201
    good.stop()
    broken = standin("1.99.2", data=good.data, env={"VW_STANDIN_FAULT": "empty-reads", "ADMIN_TOKEN": "plain-admin-token"})
    status, info = broken.json("/api/standin")
    assert status == 200 and info["fault"] == "empty-reads"
    assert info["counts"] == {"users": 1, "ciphers": 0, "organizations": 0, "attachments": 0}
    assert broken.json("/identity/accounts/prelogin", body={"email": "alice@example.com"})[1]["kdfIterations"] == 600000
    _status, jar, _headers = admin_login(broken, "plain-admin-token")
    status, users = broken.json("/admin/users", headers=cookie_header(jar))
    assert status == 200 and len(users) == 1 and users[0]["email"] == "" and users[0]["id"] == ""
    assert [item["name"] for item in broken.json("/api/standin/items")[1]] == [""]
    assert broken.json("/api/version") == (200, "1.99.2")
    with sqlite3.connect(os.path.join(good.data, "db.sqlite3")) as conn:   # the data itself is intact
        assert conn.execute("SELECT email FROM users").fetchall() == [("alice@example.com",)]


def test_unknown_fault_is_refused(standin):
    server = standin(env={"VW_STANDIN_FAULT": "empty-read"}, wait=False)
    assert server.wait_exit() == 1 and "empty-reads" in server.logs()


def test_starts_in_under_a_second_with_sqlite(standin):
    server = standin(wait=False)
    assert server.wait_alive() < 1.0, server.logs()


def test_sigterm_stops_cleanly(standin):
    server = standin()
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    assert "Received SIGTERM" in server.logs()


def _upgrade(port, path, key="dGhlIHNhbXBsZSBub25jZQ=="):
    """A raw RFC 6455 opening handshake; returns (status line, headers), then sends a close frame."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
        if head[0].split()[1] == "101":
            sock.sendall(b"\x88\x80\x00\x00\x00\x00")     # a masked, empty close frame
        return head[0], headers


@pytest.mark.parametrize("version, path, status", [
    ("1.37.1", "/notifications/anonymous-hub?token=auth-request-id", "101"),
    ("1.37.1", "/notifications/hub", "401"),           # a login's access token is needed; the stand-in has no logins
    ("1.37.1", "/notifications/anonymous-hub", "404"),
    ("1.28.0", "/notifications/anonymous-hub?token=x", "404"),   # port 3012 before 1.29.0
])
def test_the_notifications_hub_upgrades_to_a_websocket_on_the_main_port(standin, version, path, status):
    server = standin(version)
    line, headers = _upgrade(server.port, path)
    assert line.split()[1] == status, line
    if status == "101":
        assert line.startswith("HTTP/1.1 101 ")
        # RFC 6455's own example key and answer
        assert headers["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        assert headers["Upgrade"].lower() == "websocket"
