#!/usr/bin/env bash
# GET /alive on the local port, as upstream's healthcheck does with curl. Plain bash (/dev/tcp) because a
# Python start-up per check costs seconds of CPU under qemu and starves a machine running many emulated servers.
port="${ROCKET_PORT:-80}"
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /alive HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS=' ' read -r -t 8 _ status _ <&3 || exit 1
[ "$status" = 200 ]
