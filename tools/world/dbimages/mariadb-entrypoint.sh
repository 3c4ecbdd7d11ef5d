#!/usr/bin/env bash
# Entrypoint of the test world's library/mariadb image (Debian's mariadb-server): the runtime interface of the
# official image that the collection relies on. Initialises /var/lib/mysql on first start from MARIADB_* (or
# MYSQL_*) variables, each also as <NAME>_FILE, then runs mariadbd as the mysql user in the foreground.
set -euo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

log() { printf '%s [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S+00:00')" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

# VAR_FILE names a file holding VAR's value, as in the official image (file_env): read as root before the
# server user takes over, so the file may be root-only; both set is an error.
file_env() {
    local var="$1" file_var="${1}_FILE"
    if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
        die "both $var and $file_var are set (but are exclusive)"
    fi
    if [ -n "${!file_var:-}" ]; then
        export "$var"="$(< "${!file_var}")"
        unset "$file_var"
    fi
}

# MARIADB_X, or the MYSQL_X spelling the official image also accepts.
setting() {
    local mariadb="MARIADB_$1" mysql="MYSQL_$1"
    printf '%s' "${!mariadb:-${!mysql:-}}"
}

sql_string() {
    local value="$1"
    value=${value//\\/\\\\}
    value=${value//\'/\\\'}
    printf "'%s'" "$value"
}

sql_name() {
    local tick=$'\x60'  # a backquote: SQL identifiers are quoted with it, doubled inside
    printf '%s%s%s' "$tick" "${1//$tick/$tick$tick}" "$tick"
}

initialise() {
    local root_password allow_empty random_root database user password root_host
    root_password=$(setting ROOT_PASSWORD)
    allow_empty=$(setting ALLOW_EMPTY_ROOT_PASSWORD)
    random_root=$(setting RANDOM_ROOT_PASSWORD)
    database=$(setting DATABASE)
    user=$(setting USER)
    password=$(setting PASSWORD)
    root_host=$(setting ROOT_HOST)
    root_host=${root_host:-%}
    if [ -z "$root_password" ] && [ -z "$allow_empty" ] && [ -z "$random_root" ]; then
        die "Database is uninitialized and password option is not specified. Set one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD or MARIADB_RANDOM_ROOT_PASSWORD (MYSQL_* spellings work too)."
    fi
    if [ -n "$user" ] && [ -z "$password" ]; then
        die "MARIADB_USER=$user is set without MARIADB_PASSWORD; set a password for that user."
    fi
    if [ "$user" = root ]; then
        die "MARIADB_USER=root is refused: root is created from MARIADB_ROOT_PASSWORD; choose another user name."
    fi
    if [ -n "$random_root" ]; then
        root_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
        log "GENERATED ROOT PASSWORD: $root_password"
    fi

    log "Initializing database files"
    mariadb-install-db --datadir="$DATADIR" --user=mysql --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve --default-time-zone=SYSTEM --skip-log-bin >/dev/null
    log "Starting temporary server"
    mariadbd --datadir="$DATADIR" --skip-networking --socket="$SOCKET" --skip-log-bin &
    local pid=$!
    local client=(mariadb --no-defaults --protocol=socket --socket="$SOCKET" -uroot)
    for _ in $(seq 1 60); do
        "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || die "the temporary server exited during initialisation"
        sleep 1
    done

    local health_password sql
    health_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    sql="SET @@SESSION.SQL_LOG_BIN=0;
DROP USER IF EXISTS ''@'localhost', ''@'$(cat /proc/sys/kernel/hostname)';
ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$root_password");"
    if [ "$root_host" != localhost ]; then
        sql+="
CREATE USER 'root'@$(sql_string "$root_host") IDENTIFIED BY $(sql_string "$root_password");
GRANT ALL ON *.* TO 'root'@$(sql_string "$root_host") WITH GRANT OPTION;"
    fi
    sql+="
CREATE USER 'healthcheck'@'127.0.0.1' IDENTIFIED BY $(sql_string "$health_password");
CREATE USER 'healthcheck'@'::1' IDENTIFIED BY $(sql_string "$health_password");
CREATE USER 'healthcheck'@'localhost' IDENTIFIED BY $(sql_string "$health_password");
GRANT USAGE ON *.* TO 'healthcheck'@'127.0.0.1', 'healthcheck'@'::1', 'healthcheck'@'localhost';"
    if [ -n "$database" ]; then
        log "Creating database $database"
        sql+="
CREATE DATABASE IF NOT EXISTS $(sql_name "$database");"
    fi
    if [ -n "$user" ]; then
        log "Creating user $user"
        sql+="
CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
        if [ -n "$database" ]; then
            sql+="
GRANT ALL ON $(sql_name "$database").* TO $(sql_string "$user")@'%';"
        fi
    fi
    sql+="
FLUSH PRIVILEGES;"
    "${client[@]}" -e "$sql"

    umask 077
    printf '[mariadb-client]\nport=3306\nsocket=%s\nuser=healthcheck\npassword=%s\n' "$SOCKET" "$health_password" \
        > "$DATADIR/.my-healthcheck.cnf"
    kill -TERM "$pid"
    wait "$pid" || true
    log "MariaDB init process done. Ready for start up."
}

if [ "${1:0:1}" = '-' ]; then
    set -- mariadbd "$@"
fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
    for name in ROOT_PASSWORD PASSWORD USER DATABASE ROOT_HOST; do file_env "MARIADB_$name"; file_env "MYSQL_$name"; done
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$DATADIR" /run/mysqld
        chown mysql:mysql "$DATADIR" /run/mysqld
        # Data from another image may belong to other ids; the server needs it all.
        find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
        exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
    fi
    if [ ! -d "$DATADIR/mysql" ]; then
        initialise
    else
        log "Database directory already initialised: starting with the existing data"
    fi
fi
exec "$@"
