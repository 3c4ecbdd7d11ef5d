#!/usr/bin/env bash
# Install and start everything the README commands and the tests need on a fresh Debian 12 machine:
# Python deps (PyPI), a Docker engine (Debian's docker.io, started if not running), QEMU user emulation
# with binfmt (F flag), and the tools the offline test world is built with. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The world's builder needs mmdebstrap, Debian's archive keyring and Debian's python3 (tools/world/config.py).
# Chromium (headless) and a font render the fleet report's page for its browser test (no font: no text on the screenshot).
APT_PACKAGES=(docker.io buildah docker-registry qemu-user-static binfmt-support mmdebstrap debian-archive-keyring python3
              skopeo jq sqlite3 shellcheck podman catatonit chromium fonts-dejavu-core)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# binfmt handlers for foreign architectures (qemu-user-static registers them with the F flag)
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    [ -e /proc/sys/fs/binfmt_misc/register ] || $SUDO mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
    $SUDO update-binfmts --enable >/dev/null 2>&1 || true
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        $SUDO dpkg-reconfigure qemu-user-static >/dev/null 2>&1 || true
    fi
fi
for arch in aarch64 arm; do
    if ! grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/qemu-$arch" 2>/dev/null; then
        log "binfmt handler qemu-$arch missing or without the F flag"; exit 1
    fi
done

if ! docker info >/dev/null 2>&1; then
    log "starting the Docker engine"
    if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
        $SUDO systemctl start docker
    else
        mkdir -p /var/log
        $SUDO sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
    fi
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { log "Docker engine did not start; see /var/log/dockerd.log"; exit 1; }
fi

# Podman (the podman scenario; catatonit is its --init): this VM refuses Podman's default rlimits (no CAP_SYS_RESOURCE), the world's registry
# is plain http, and no systemd starts podman.socket here, so its API service is started by hand as dockerd is.
if [ ! -e /etc/containers/containers.conf.d/50-homelab-vaultwarden.conf ]; then
    $SUDO mkdir -p /etc/containers/containers.conf.d /etc/containers/registries.conf.d
    printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' \
        | $SUDO tee /etc/containers/containers.conf.d/50-homelab-vaultwarden.conf >/dev/null
fi
if [ ! -e /etc/containers/registries.conf.d/50-homelab-vaultwarden-world.conf ]; then
    for address in 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4; do
        printf '[[registry]]\nlocation = "%s:5000"\ninsecure = true\n\n' "$address"
    done | $SUDO tee /etc/containers/registries.conf.d/50-homelab-vaultwarden-world.conf >/dev/null
fi
if ! curl -sf --unix-socket /run/podman/podman.sock http://d/_ping >/dev/null 2>&1; then
    log "starting Podman's API service"
    if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
        $SUDO systemctl start podman.socket
    else
        $SUDO mkdir -p /run/podman /var/log
        $SUDO sh -c 'nohup podman system service --time=0 unix:///run/podman/podman.sock >/var/log/podman-service.log 2>&1 &'
    fi
    for _ in $(seq 1 30); do curl -sf --unix-socket /run/podman/podman.sock http://d/_ping >/dev/null 2>&1 && break; sleep 1; done
    curl -sf --unix-socket /run/podman/podman.sock http://d/_ping >/dev/null 2>&1 \
        || { log "Podman's API service did not start; see /var/log/podman-service.log"; exit 1; }
fi

if ! python3 -c 'import ansible_collections.community.docker, molecule, argon2, pytest' >/dev/null 2>&1 \
   || [ "${VW_BOOTSTRAP_PIP:-auto}" = "always" ]; then
    log "pip install -r requirements-test.txt (ansible bundle is ~470 MB, allow a minute)"
    python3 -m pip install -q -r requirements-test.txt
    # pyenv finds new programs only after a rehash (make and tools/test-all.sh also put pip's directory on PATH).
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
fi
log "ready: $(ansible --version | head -1), Docker $(docker version --format '{{.Server.Version}}'), Podman $(podman version --format '{{.Version}}')"
