#!/bin/sh
# The server replaces the shell so that it is PID 1 and receives docker stop's SIGTERM (no init, as upstream since 1.26).
exec /usr/bin/python3 /vaultwarden "$@"
