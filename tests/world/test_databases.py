# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database images are real servers with the official images' interface; the stand-in really uses them."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import REGISTRY, docker
from .expected import AMD64, ARM64

pytestmark = pytest.mark.world

PASSWORD = "s3cret 'quoted\""
# A safety net for the shared machine: an emulated server that misbehaves must not exhaust its memory.
LIMITS = ["--memory", "1g"]


def wait_exec(name: str, *command: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    result = None
    while time.monotonic() < deadline:
        result = docker("exec", name, *command, check=False)
        if result.returncode == 0:
            return
        time.sleep(2)
    logs = docker("logs", name, check=False)
    raise AssertionError("%s: %s never succeeded: %s\n%s%s" % (name, command, result.stderr if result else "",
                                                               logs.stdout[-2000:], logs.stderr[-2000:]))


def process_user(name: str) -> str:
    uid = [line.split()[1] for line in docker("exec", name, "cat", "/proc/1/status").stdout.splitlines() if line.startswith("Uid:")][0]
    return docker("exec", name, "getent", "passwd", uid).stdout.split(":")[0]


def start_mariadb(engine, platform: str, network: str, spelling: str = "MARIADB") -> str:
    image = engine.pull("%s/library/mariadb:10.11" % REGISTRY, platform)
    env = {spelling + "_ROOT_PASSWORD": "rootpw", spelling + "_DATABASE": "vaultwarden", spelling + "_USER": "vw",
           spelling + "_PASSWORD": PASSWORD}
    name = engine.run(image, env=env, options=["--network", network, "-v", engine.volume() + ":/var/lib/mysql"] + LIMITS,
                      health_interval=None)
    wait_exec(name, "healthcheck.sh", "--connect", "--innodb_initialized")
    return name


def start_postgres(engine, platform: str, network: str) -> str:
    image = engine.pull("%s/library/postgres:15" % REGISTRY, platform)
    env = {"POSTGRES_PASSWORD": PASSWORD, "POSTGRES_USER": "vw", "POSTGRES_DB": "vaultwarden"}
    name = engine.run(image, env=env, options=["--network", network, "-v", engine.volume() + ":/var/lib/postgresql/data"] + LIMITS,
                      health_interval=None)
    wait_exec(name, "pg_isready", "-h", "127.0.0.1", "-U", "vw", "-d", "vaultwarden")
    return name


@pytest.mark.parametrize("platform,spelling", [(AMD64, "MARIADB"), (ARM64, "MYSQL")])
def test_mariadb_image(engine, platform, spelling):
    network = engine.network()
    name = start_mariadb(engine, platform, network, spelling)
    arch = docker("image", "inspect", "--format", "{{.Architecture}}", docker("inspect", "--format", "{{.Image}}", name).stdout.strip())
    assert arch.stdout.strip() == platform.split("/")[1]
    assert process_user(name) == "mysql"
    # The application user reaches its database over TCP with the password; a wrong password is refused.
    query = ["mariadb", "-h", "127.0.0.1", "-u", "vw", "-p" + PASSWORD, "vaultwarden", "-B", "-N", "-e"]
    assert docker("exec", name, *query, "SELECT CURRENT_USER()").stdout.strip() == "vw@%"
    assert docker("exec", name, "mariadb", "-h", "127.0.0.1", "-u", "vw", "-pwrong", "-e", "SELECT 1", check=False).returncode != 0
    docker("exec", name, *query, "CREATE TABLE kept (v INT); INSERT INTO kept VALUES (42)")
    assert "kept" in docker("exec", name, "mariadb-dump", "-uroot", "-prootpw", "vaultwarden").stdout
    assert "is alive" in docker("exec", name, "mariadb-admin", "-uroot", "-prootpw", "ping").stdout
    # A restart with existing data skips initialisation and keeps the data.
    docker("restart", name)
    wait_exec(name, "healthcheck.sh", "--connect", "--innodb_initialized")
    assert docker("exec", name, *query, "SELECT v FROM kept").stdout.strip() == "42"
    assert "already initialised" in docker("logs", name).stdout
    docker("stop", "-t", "60", name)
    assert json.loads(docker("inspect", "--format", "{{json .State.ExitCode}}", name).stdout) == 0


@pytest.mark.parametrize("platform", [AMD64, ARM64])
def test_postgres_image(engine, platform):
    network = engine.network()
    name = start_postgres(engine, platform, network)
    assert process_user(name) == "postgres"
    psql = ["psql", "-h", "127.0.0.1", "-U", "vw", "-d", "vaultwarden", "-tA", "-c"]
    assert docker("exec", "-e", "PGPASSWORD=" + PASSWORD, name, *psql, "SELECT current_user").stdout.strip() == "vw"
    assert docker("exec", "-e", "PGPASSWORD=wrong", name, *psql, "SELECT 1", check=False).returncode != 0
    docker("exec", "-e", "PGPASSWORD=" + PASSWORD, name, *psql, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
    assert "kept" in docker("exec", name, "pg_dump", "-U", "vw", "vaultwarden").stdout
    docker("restart", name)
    wait_exec(name, "pg_isready", "-h", "127.0.0.1")
    assert docker("exec", "-e", "PGPASSWORD=" + PASSWORD, name, *psql, "SELECT v FROM kept").stdout.strip() == "42"
    assert "Skipping initialization" in docker("logs", name).stdout
    docker("stop", "-t", "60", name)
    assert json.loads(docker("inspect", "--format", "{{json .State.ExitCode}}", name).stdout) == 0


@pytest.mark.parametrize("engine_kind", ["mysql", "postgresql"])
def test_standin_uses_the_database(engine, engine_kind):
    network = engine.network()
    quoted = PASSWORD.replace("'", "%27").replace('"', "%22").replace(" ", "%20")
    if engine_kind == "mysql":
        db = start_mariadb(engine, AMD64, network)
        url = "mysql://vw:%s@%s:3306/vaultwarden" % (quoted, db)
    else:
        db = start_postgres(engine, AMD64, network)
        url = "postgresql://vw:%s@%s:5432/vaultwarden" % (quoted, db)
    image = engine.pull("%s/vaultwarden/server:1.37.1" % REGISTRY, AMD64)
    name = engine.run(image, env={"DATABASE_URL": url}, options=["--network", network], publish=80)
    engine.wait_health(name)
    assert engine.standin(name)["database"] == engine_kind
    assert engine.http(name, "/api/standin/items", data=json.dumps({"name": "in-db"}).encode())[0] == 201
    if engine_kind == "mysql":
        rows = docker("exec", db, "mariadb", "-uroot", "-prootpw", "vaultwarden", "-B", "-N", "-e", "SELECT name FROM standin_items")
        schema = docker("exec", db, "mariadb", "-uroot", "-prootpw", "vaultwarden", "-B", "-N", "-e",
                        "SELECT value FROM standin_meta WHERE name = 'schema_version'")
    else:
        rows = docker("exec", db, "psql", "-U", "vw", "-d", "vaultwarden", "-tA", "-c", "SELECT name FROM standin_items")
        schema = docker("exec", db, "psql", "-U", "vw", "-d", "vaultwarden", "-tA", "-c",
                        "SELECT value FROM standin_meta WHERE name = 'schema_version'")
    assert rows.stdout.split() == ["in-db"]
    assert schema.stdout.strip() == "1.37"


@pytest.mark.parametrize("url", ["mysql://vw:pw@vwtest-nowhere:3306/vaultwarden", "postgresql://vw:pw@vwtest-nowhere/vaultwarden"])
def test_standin_fails_when_database_unreachable(engine, url):
    image = engine.pull("%s/vaultwarden/server:1.37.1" % REGISTRY, AMD64)
    name = engine.run(image, env={"DATABASE_URL": url, "DB_CONNECTION_RETRIES": "2"}, options=["--network", engine.network()])
    assert engine.wait_exit(name, timeout=90) == 1
    logs = engine.logs(name)
    assert "Can't connect to the" in logs and "after 3 attempts" in logs
