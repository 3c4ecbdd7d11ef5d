# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vaultwarden stand-in behaves like the real server where the collection relies on it."""

from __future__ import annotations

import http.cookies
import json
import os
import sqlite3
import urllib.error
import urllib.parse
import urllib.request

import argon2
import pytest

from .conftest import REGISTRY, docker
from .expected import AMD64, ARM64

pytestmark = pytest.mark.world


def image(engine, tag: str, repository: str = "vaultwarden/server", platform: str = AMD64) -> str:
    return engine.pull("%s/%s:%s" % (REGISTRY, repository, tag), platform)


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return str(path)


def request(engine, name, path, body=None, form=None, headers=None):
    """(status, response headers, body) of a request to the container's published port 80."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    elif form is not None:
        data, headers["Content-Type"] = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    url = "http://127.0.0.1:%d%s" % (engine.port(name, 80), path)
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def register(engine, name, email, iterations):
    body = {"email": email, "masterPasswordHash": "client-hash", "key": "2.wrapped-user-key", "kdf": 0, "kdfIterations": iterations}
    return request(engine, name, "/identity/accounts/register", body=body)[0]


def admin_cookie(engine, name, token) -> dict:
    status, headers, _body = request(engine, name, "/admin", form={"token": token})
    assert status == 200
    jar = http.cookies.SimpleCookie()
    for value in headers.get_all("Set-Cookie") or []:
        jar.load(value)
    assert jar["VW_ADMIN"]["path"] == "/admin"
    return {"Cookie": "VW_ADMIN=" + jar["VW_ADMIN"].value}


# /srv exists in the image and is not a mount point.
@pytest.mark.parametrize("tag,refuses", [("1.37.1", True), ("1.27.0", True), ("1.24.0", False)])
def test_volatile_storage_is_refused_since_1_25_1(engine, tag, refuses):
    name = engine.run(image(engine, tag), env={"DATA_FOLDER": "/srv"})
    if refuses:
        assert engine.wait_exit(name) == 1
        assert "No persistent volume" in engine.logs(name) and "I_REALLY_WANT_VOLATILE_STORAGE" in engine.logs(name)
    else:
        engine.wait_health(name)


def test_volatile_storage_allowed_when_asked(engine):
    name = engine.run(image(engine, "1.37.1"), env={"DATA_FOLDER": "/srv", "I_REALLY_WANT_VOLATILE_STORAGE": "true"},
                      publish=80)
    engine.wait_health(name)
    assert engine.standin(name)["data_folder"] == "/srv"


def test_a_missing_data_folder_is_refused(engine):
    name = engine.run(image(engine, "1.37.1"), env={"DATA_FOLDER": "/not-there", "I_REALLY_WANT_VOLATILE_STORAGE": "true"})
    assert engine.wait_exit(name) == 1
    assert "Data folder '/not-there' doesn't exist" in engine.logs(name)


def test_first_start_creates_upstream_files_and_data_persists_across_restarts(engine, data_dir):
    name = engine.run(image(engine, "1.37.1"), options=["-v", data_dir + ":/data"], publish=80)
    engine.wait_health(name)
    # 1.35.0+ creates only these; config.json, attachments/ and sends/ appear when used.
    assert sorted(os.listdir(data_dir)) == ["db.sqlite3", "db.sqlite3-shm", "db.sqlite3-wal", "rsa_key.pem", "tmp"]
    with open(os.path.join(data_dir, "rsa_key.pem")) as handle:
        assert "PRIVATE KEY-----" in handle.read()
    status, _body = engine.http(name, "/api/standin/items", data=json.dumps({"name": "kept"}).encode(),
                                headers={"Content-Type": "application/json"})
    assert status == 201
    started_before = engine.standin(name)["started_at"]
    docker("restart", name)
    engine.wait_health(name)
    info = engine.standin(name)
    assert info["started_at"] != started_before
    status, body = engine.http(name, "/api/standin/items")
    assert status == 200 and [item["name"] for item in json.loads(body)] == ["kept"]


def test_sigterm_stops_cleanly(engine, data_dir):
    name = engine.run(image(engine, "1.37.1"), options=["-v", data_dir + ":/data"])
    engine.wait_health(name)
    docker("stop", "-t", "20", name)
    state = engine.state(name)
    assert state["ExitCode"] == 0 and not state["OOMKilled"]
    assert "Received SIGTERM" in engine.logs(name)


def _schema(data_dir: str):
    with sqlite3.connect(os.path.join(data_dir, "db.sqlite3")) as conn:
        migrations = [row[0] for row in conn.execute("SELECT version FROM __diesel_schema_migrations ORDER BY run_on")]
        schema = conn.execute("SELECT value FROM standin_meta WHERE name = 'schema_version'").fetchone()[0]
    return migrations, schema


def test_upgrade_migrates_and_downgrade_is_refused(engine, data_dir):
    old = engine.run(image(engine, "1.35.1"), options=["-v", data_dir + ":/data"])
    engine.wait_health(old)
    docker("stop", old)
    assert _schema(data_dir) == (["1.35.1"], "1.35")
    new = engine.run(image(engine, "1.37.2"), options=["-v", data_dir + ":/data"])
    engine.wait_health(new)
    docker("stop", new)
    assert _schema(data_dir) == (["1.35.1", "1.37.2"], "1.37")
    # 1.37.1 shares 1.37.2's schema: a patch downgrade is fine, as upstream.
    same = engine.run(image(engine, "1.37.1"), options=["-v", data_dir + ":/data"])
    engine.wait_health(same)
    docker("stop", same)
    down = engine.run(image(engine, "1.35.1"), options=["-v", data_dir + ":/data"])
    assert engine.wait_exit(down) == 1
    assert "Downgrades are not supported" in engine.logs(down)
    assert _schema(data_dir) == (["1.35.1", "1.37.2"], "1.37")


PASSWORD = "correct horse battery staple"
PHC = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(PASSWORD)


@pytest.mark.parametrize("tag,configured,given,status", [
    ("1.37.1", PHC, PASSWORD, 200),
    ("1.37.1", PHC, "wrong", 401),
    ("1.37.1", PHC, PHC, 401),
    ("1.28.0", PHC, PASSWORD, 200),
    ("1.37.1", "plain-token", "plain-token", 200),
    ("1.37.1", "plain-token", "other", 401),
    # Before 1.28.0 a PHC string is just a (long) plain token.
    ("1.27.0", PHC, PASSWORD, 401),
    ("1.27.0", PHC, PHC, 200),
], ids=["phc-ok", "phc-wrong", "phc-literal", "phc-1.28", "plain-ok", "plain-wrong", "1.27-no-phc", "1.27-literal"])
def test_admin_token(engine, tag, configured, given, status):
    name = engine.run(image(engine, tag), env={"ADMIN_TOKEN": configured}, publish=80)
    engine.wait_health(name)
    assert engine.http(name, "/admin")[0] == 200
    got, _body = engine.http(name, "/admin", data=urllib.parse.urlencode({"token": given}).encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert got == status
    plain_warning = "plain text `ADMIN_TOKEN`" in engine.logs(name)
    assert plain_warning == (not configured.startswith("$argon2"))


def test_admin_disabled_without_token(engine):
    name = engine.run(image(engine, "1.37.1"), publish=80)
    engine.wait_health(name)
    status, body = engine.http(name, "/admin")
    assert status == 200 and b"The admin panel is disabled" in body
    assert engine.http(name, "/admin", data=b"token=x")[0] == 404


def test_admin_session_opens_the_users_api_and_logins_are_rate_limited(engine, data_dir, tmp_path):
    # The token reaches the server as a file, the way Docker secrets do (ADMIN_TOKEN_FILE).
    secret = tmp_path / "admin_token"
    secret.write_text(PHC + "\n")
    name = engine.run(image(engine, "1.37.1"), options=["-v", data_dir + ":/data", "-v", "%s:/run/secrets/admin_token:ro" % secret],
                      env={"ADMIN_TOKEN_FILE": "/run/secrets/admin_token", "SIGNUPS_ALLOWED": "true"}, publish=80)
    engine.wait_health(name)
    assert register(engine, name, "alice@example.com", 650000) == 200
    assert request(engine, name, "/admin/users", headers={"Accept": "application/json"})[0] == 401
    cookie = admin_cookie(engine, name, PASSWORD)
    status, _headers, body = request(engine, name, "/admin/users", headers=cookie)
    assert status == 200 and [user["email"] for user in json.loads(body)] == ["alice@example.com"]
    # 3 logins per 300 s per IP: two more pass, the fourth is refused even with the right token.
    assert [request(engine, name, "/admin", form={"token": t})[0] for t in ("wrong", PASSWORD, PASSWORD)] == [401, 200, 429]


@pytest.mark.parametrize("repository,tag,url,message", [
    ("bitwardenrs/server", "1.16.3", "mysql://vw:pw@db:3306/vw", "without mysql support"),
    ("bitwardenrs/server", "1.16.3", "postgresql://vw:pw@db/vw", "without postgresql support"),
    ("bitwardenrs/server-mysql", "1.16.3", "", "without sqlite support"),
    ("bitwardenrs/server-mysql", "1.16.3", "postgres://vw:pw@db/vw", "without postgresql support"),
    ("bitwardenrs/server-postgresql", "1.16.3", "mysql://vw:pw@db/vw", "without mysql support"),
    ("vaultwarden/server", "1.37.1", "redis://db/0", "does not match any known database scheme"),
    ("vaultwarden/server", "1.35.1", "redis://db/0", "scheme 'redis://' is not supported"),
])
def test_wrong_backend_is_refused(engine, repository, tag, url, message):
    env = {"DATABASE_URL": url} if url else {}
    name = engine.run(image(engine, tag, repository), env=env)
    assert engine.wait_exit(name) == 1
    assert message in engine.logs(name)


@pytest.mark.parametrize("tag,url", [("1.37.1", "sqlite:///data/other.sqlite3"), ("1.35.1", "/data/other.sqlite3")])
def test_sqlite_url_spellings(engine, data_dir, tag, url):
    name = engine.run(image(engine, tag), options=["-v", data_dir + ":/data"], env={"DATABASE_URL": url}, publish=80)
    engine.wait_health(name)
    assert engine.standin(name)["database"] == "sqlite"
    assert os.path.exists(os.path.join(data_dir, "other.sqlite3"))
    assert not os.path.exists(os.path.join(data_dir, "db.sqlite3"))


def test_a_bare_sqlite_path_must_exist_since_1_37(engine, data_dir):
    name = engine.run(image(engine, "1.37.1"), options=["-v", data_dir + ":/data"], env={"DATABASE_URL": "/data/other.sqlite3"})
    assert engine.wait_exit(name) == 1
    assert "no existing SQLite database was found at '/data/other.sqlite3'" in engine.logs(name)


@pytest.mark.parametrize("platform", [AMD64, ARM64])
def test_release_that_never_becomes_healthy(engine, platform):
    name = engine.run(image(engine, "1.99.0", platform=platform), publish=80)
    engine.wait_health(name, want="unhealthy", timeout=240)
    # Under load the health checks can fail before the emulated server listens: wait for it, then it says 503.
    assert engine.http(name, "/alive", listening_within=120)[0] == 503
    assert engine.state(name)["Running"]


@pytest.mark.parametrize("platform", [AMD64, ARM64])
def test_release_that_crashes(engine, platform):
    name = engine.run(image(engine, "1.99.1-alpine", platform=platform))
    assert engine.wait_exit(name) == 1
    assert "broken on purpose" in engine.logs(name)


@pytest.mark.parametrize("platform", [AMD64, ARM64])
def test_release_that_reads_the_vault_back_empty(engine, data_dir, platform):
    good = engine.run(image(engine, "1.37.2", platform=platform), options=["-v", data_dir + ":/data"],
                      env={"SIGNUPS_ALLOWED": "true"}, publish=80)
    engine.wait_health(good, timeout=240)
    assert register(engine, good, "alice@example.com", 650000) == 200
    docker("stop", good)
    broken = engine.run(image(engine, "1.99.2", platform=platform), options=["-v", data_dir + ":/data"],
                        env={"ADMIN_TOKEN": "plain-admin-token"}, publish=80)
    engine.wait_health(broken, timeout=240)
    assert engine.standin(broken)["counts"]["users"] == 1
    status, body = engine.http(broken, "/identity/accounts/prelogin", data=json.dumps({"email": "alice@example.com"}).encode(),
                               headers={"Content-Type": "application/json"})
    assert status == 200 and json.loads(body)["kdfIterations"] == 600000, "a known user reads back as unknown"
    status, _headers, body = request(engine, broken, "/admin/users", headers=admin_cookie(engine, broken, "plain-admin-token"))
    assert status == 200 and [user["email"] for user in json.loads(body)] == [""]
