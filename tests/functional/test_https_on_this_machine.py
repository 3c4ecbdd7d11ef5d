# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTPS front door on this machine (linux/amd64), against the test world: Caddy with its internal CA.

A real TLS handshake with the exported root certificate (``curl --cacert``), the redirect, the headers, a WebSocket
upgrade through the proxy, ``DOMAIN`` in the container, the certificates kept across an update, the hardened proxy
container, and ``provided`` with an expired certificate refused before any change. Ports 18543 and 18580.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import socket
import ssl
import subprocess
import urllib.request

import pytest

pytestmark = [pytest.mark.ansible, pytest.mark.world]

# The world's registry; VW_HTTPS_TEST_REGISTRY points at another one that serves the same repositories.
REGISTRY = os.environ.get("VW_HTTPS_TEST_REGISTRY", "127.0.0.1:5000")
HOST = "vw-https.example.test"
HTTPS_PORT = 18543
REDIRECT_PORT = 18580
PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: homelab.vaultwarden.vaultwarden
"""


def _inspect(name):
    proc = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=False)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def _curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "10", "--resolve", "%s:%d:127.0.0.1" % (HOST, HTTPS_PORT)]
                          + list(args), capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)


def _failure(result):
    return "\n".join("%s: %s" % (r["task"], r["result"].get("msg")) for r in result.results
                     if r["result"].get("failed")) or (result.stdout + result.stderr)[-3000:]


@pytest.fixture
def https_deployment(run_playbook, tmp_path):
    try:
        urllib.request.urlopen("http://%s/v2/" % REGISTRY, timeout=5).close()
    except OSError as exc:
        pytest.fail("the test world's registry is not running (python3 -m tools.world build): %s" % exc)
    name = "vwtest-https-%d" % os.getpid()
    variables = {
        "vaultwarden_registry": REGISTRY,
        "vaultwarden_version": "1.37.1",
        "vaultwarden_container_name": name,
        "vaultwarden_base_dir": str(tmp_path / "vaultwarden"),
        "vaultwarden_domain": "https://%s:%d" % (HOST, HTTPS_PORT),
        "vaultwarden_http_redirect_port": REDIRECT_PORT,
        "vaultwarden_tls_root_certificate_dest": str(tmp_path / "controller" / "root.crt"),
        "vaultwarden_healthcheck_interval": "2s",
        "vaultwarden_healthcheck_start_period": "5s",
    }
    yield name, variables
    run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_state="absent", vaultwarden_purge_data=True))
    for container in (name, name + "-proxy"):
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
    subprocess.run(["docker", "network", "rm", name + "-proxy-net"], capture_output=True, check=False)


def _websocket_upgrade(cafile, path):
    """An RFC 6455 opening handshake over TLS through the proxy; returns the status line and headers."""
    key = base64.b64encode(os.urandom(16)).decode()
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=HOST) as sock:
            sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                          % (path, HOST, HTTPS_PORT, key)).encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
            headers = dict((k.lower(), v) for k, v in (line.split(": ", 1) for line in head[1:] if ": " in line))
            if " 101 " in head[0] + " ":
                sock.sendall(b"\x88\x80\x00\x00\x00\x00")
    expected = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    return head[0], headers, expected.decode()


def test_internal_tls_end_to_end_and_kept_across_an_update(run_playbook, https_deployment, tmp_path):
    name, variables = https_deployment
    result = run_playbook(PLAY, extra_vars=variables)
    assert result.returncode == 0, _failure(result)
    root = variables["vaultwarden_tls_root_certificate_dest"]
    assert os.path.isfile(root), "the internal CA's root certificate was not put on the controller"

    # A real TLS handshake, verified against the exported root certificate only.
    alive = _curl("--cacert", root, "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}",
                  "https://%s:%d/alive" % (HOST, HTTPS_PORT))
    assert alive.returncode == 0 and alive.stdout == "200 0", alive.stdout + alive.stderr
    untrusted = _curl("-o", "/dev/null", "https://%s:%d/alive" % (HOST, HTTPS_PORT))
    assert untrusted.returncode == 60, "a client without the root certificate must not trust the proxy"

    head = _curl("--cacert", root, "-D", "-", "-o", "/dev/null", "https://%s:%d/api/config" % (HOST, HTTPS_PORT))
    headers = dict((k.lower(), v.strip()) for k, v in (line.split(":", 1) for line in head.stdout.splitlines()[1:]
                                                       if ":" in line))
    assert head.stdout.startswith("HTTP/2 200") or head.stdout.startswith("HTTP/1.1 200"), head.stdout
    assert headers["strict-transport-security"] == "max-age=31536000;"
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["x-robots-tag"] == "noindex, nofollow" and headers["referrer-policy"] == "same-origin"
    assert "server" not in headers

    redirect = _curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                     "http://127.0.0.1:%d/admin?tab=users" % REDIRECT_PORT)
    assert redirect.stdout == "308 https://%s:%d/admin?tab=users" % (HOST, HTTPS_PORT), redirect.stdout

    line, ws_headers, accept = _websocket_upgrade(root, "/notifications/anonymous-hub?token=auth-request")
    assert line.startswith("HTTP/1.1 101"), line
    assert ws_headers["sec-websocket-accept"] == accept and ws_headers["upgrade"].lower() == "websocket"
    hub, _headers, _accept = _websocket_upgrade(root, "/notifications/hub")
    assert hub.startswith("HTTP/1.1 401"), hub     # reaches the server, which wants a login's token

    vaultwarden = _inspect(name)
    env = dict(item.split("=", 1) for item in vaultwarden["Config"]["Env"])
    assert env["DOMAIN"] == "https://%s:%d" % (HOST, HTTPS_PORT)
    assert not vaultwarden["HostConfig"]["PortBindings"], "vaultwarden must not be published behind the proxy"
    proxy = _inspect(name + "-proxy")
    assert proxy["Config"]["User"] == "10001:10001"
    assert proxy["HostConfig"]["CapDrop"] == ["ALL"] and proxy["HostConfig"]["CapAdd"] == ["NET_BIND_SERVICE"]
    assert proxy["HostConfig"]["ReadonlyRootfs"] is True
    assert proxy["HostConfig"]["SecurityOpt"] == ["no-new-privileges"]
    assert sorted(proxy["HostConfig"]["PortBindings"]) == ["8080/tcp", "8443/tcp"]

    with open(root, "rb") as handle:
        root_before = handle.read()
    leaf = os.path.join(variables["vaultwarden_base_dir"], "proxy", "data", "caddy", "certificates", "local", HOST,
                        HOST + ".crt")
    with open(leaf, "rb") as handle:
        leaf_before = handle.read()

    update = run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_version="1.37.2"))
    assert update.returncode == 0, _failure(update)
    assert _inspect(name)["Config"]["Labels"]["io.github.homelab.vaultwarden.version"] == "1.37.2"
    with open(root, "rb") as handle:
        assert handle.read() == root_before, "the internal CA changed across the update"
    with open(leaf, "rb") as handle:
        assert handle.read() == leaf_before, "the site certificate changed across the update"
    again = _curl("--cacert", root, "-o", "/dev/null", "-w", "%{http_code}", "https://%s:%d/alive" % (HOST, HTTPS_PORT))
    assert again.stdout == "200", again.stdout + again.stderr

    proxy_id = _inspect(name + "-proxy")["Id"]
    noop = run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_version="1.37.2"))
    assert noop.returncode == 0, _failure(noop)
    changed = [r["task"] for r in noop.results if r["result"].get("changed")]
    assert changed == [], "a run with nothing to do changed: %s" % changed
    assert _inspect(name + "-proxy")["Id"] == proxy_id


def _expired_certificate(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=100))
            .not_valid_after(now - datetime.timedelta(days=10))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .sign(key, hashes.SHA256()))
    os.makedirs(directory, exist_ok=True)
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_path, key_path


def test_provided_with_an_expired_certificate_is_refused_before_any_change(run_playbook, https_deployment, tmp_path):
    name, variables = https_deployment
    cert, key = _expired_certificate(str(tmp_path / "pki"))
    result = run_playbook(PLAY, extra_vars=dict(variables, vaultwarden_tls="provided", vaultwarden_tls_certificate=cert,
                                                vaultwarden_tls_key=key))
    assert result.returncode != 0
    message = _failure(result)
    assert "vaultwarden_tls_certificate" in message and "expired on" in message and "nothing was changed" in message
    assert not os.path.exists(variables["vaultwarden_base_dir"]), "the refused run changed the host"
    assert _inspect(name) is None and _inspect(name + "-proxy") is None
