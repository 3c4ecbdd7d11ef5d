#!/usr/bin/env bash
# Entrypoint of the test world's library/postgres image (Debian's postgresql-15): the runtime interface of the
# official image that the collection relies on. Initialises PGDATA on first start from POSTGRES_PASSWORD,
# POSTGRES_USER and POSTGRES_DB (each also as <NAME>_FILE), listens on all interfaces with password authentication, runs as postgres.
set -euo pipefail

log() { printf '%s [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*"; }
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

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

initialise() {
    local user="${POSTGRES_USER:-postgres}"
    local database="${POSTGRES_DB:-$user}"
    local auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
        die "Database is uninitialized and superuser password is not specified. Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection without a password)."
    fi
    local pwfile
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
    log "initdb for user $user"
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of options
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" --encoding=UTF8 --locale=C.UTF-8 \
        ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$pwfile"
    printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
    if [ "$database" != postgres ]; then
        pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >/dev/null
        # Through stdin: psql interpolates :"db" (a quoted identifier) there but not in -c.
        echo 'CREATE DATABASE :"db";' | psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$user" --dbname postgres \
            --set db="$database" >/dev/null
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    log "PostgreSQL init process complete; ready for start up."
}

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

if [ "$1" = postgres ]; then
    for name in POSTGRES_PASSWORD POSTGRES_USER POSTGRES_DB POSTGRES_INITDB_ARGS; do file_env "$name"; done
    if [ "$(id -u)" = 0 ]; then
        mkdir -p "$PGDATA" /var/run/postgresql
        chown postgres:postgres "$PGDATA" /var/run/postgresql
        chmod 700 "$PGDATA"
        chmod 2777 /var/run/postgresql
        find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
        exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        initialise
    else
        log "PostgreSQL Database directory appears to contain a database; Skipping initialization"
    fi
fi
exec "$@"
