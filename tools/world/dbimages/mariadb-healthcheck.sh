#!/usr/bin/env bash
# healthcheck.sh of the test world's library/mariadb image: the checks of the official image's script that
# the collection uses. --connect: the server accepts TCP connections; --innodb_initialized: InnoDB is ready.
# Credentials come from the healthcheck user the entrypoint created on first start.
set -eo pipefail

DEFAULTS=/var/lib/mysql/.my-healthcheck.cnf
if [ ! -r "$DEFAULTS" ]; then
    echo "healthcheck.sh: $DEFAULTS is missing: the database is not initialised yet" >&2
    exit 1
fi
query() {
    # --defaults-file must come first: read that file and nothing else.
    mariadb --defaults-file="$DEFAULTS" --protocol=tcp -h 127.0.0.1 -B -N -e "$1"
}
[ $# -gt 0 ] || set -- --connect
for check in "$@"; do
    case "$check" in
        --connect)
            query 'SELECT 1' >/dev/null
            ;;
        --innodb_initialized)
            [ "$(query "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB' AND support IN ('YES', 'DEFAULT', 'ENABLED')")" = 1 ]
            ;;
        --su-mysql|--su=*|--no-defaults|--defaults-file=*|--defaults-extra-file=*)
            ;;
        *)
            echo "healthcheck.sh: unknown check '$check'; this image supports --connect and --innodb_initialized" >&2
            exit 2
            ;;
    esac
done
