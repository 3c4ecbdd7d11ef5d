# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTPS front door, decided: TLS mode, the Caddy image, its Caddyfile and container, Traefik labels.

Pure (no I/O), like the planner that calls it. ``vaultwarden_tls``:

* ``internal`` (the default when ``vaultwarden_domain`` is an https URL): Caddy with its own CA;
* ``acme``: Caddy with certificates from an ACME CA (HTTP-01 / TLS-ALPN-01 challenges);
* ``provided``: Caddy with the user's certificate and key (checked on the controller before any change);
* ``external``: no proxy; the vaultwarden container carries Traefik labels for the user's own proxy.

Caddy runs as a non-root user with every capability dropped, a read-only root filesystem and high ports inside
(8080 for the redirect, 8443 for HTTPS), published on ``vaultwarden_bind_address`` at the domain's port and
``vaultwarden_http_redirect_port``. vaultwarden is then no longer published: the proxy reaches it on a private
network by its container name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

from ansible_collections.homelab.vaultwarden.plugins.module_utils.official_images import (
    DOCKER_HUB,
    OfficialImagesError,
    RegistryError,
    normalize_registry,
    official_image_entry,
    official_image_tags,
    parse_library,
)

TLS_MODES = ("internal", "acme", "provided", "external")
PROXIED = ("internal", "acme", "provided")
PROXY_IMAGE = "caddy"             # library/caddy, a Docker Official Image
DEFAULT_PROXY_TAG = "2"
# Inside the container: high ports, so that a non-root Caddy needs no capability at all.
PROXY_HTTP_PORT = 8080
PROXY_HTTPS_PORT = 8443
# The official image's layout: the Caddyfile, certificates and the internal CA (XDG_DATA_HOME), autosaved config.
CADDYFILE_DIR = "/etc/caddy"
DATA_PATH = "/data"
CONFIG_PATH = "/config"
CERTS_PATH = "/certs"
# Where Caddy keeps its own CA's root certificate (below XDG_DATA_HOME): the file users install on their devices.
ROOT_CERTIFICATE = "caddy/pki/authorities/local/root.crt"
PROXY_USER_FOR_ROOT = (10001, 10001)
PROXY_TMPFS = "/tmp:rw,noexec,nosuid,nodev,size=16m"
# The headers vaultwarden's wiki (Proxy examples) sets in front of the server.
SECURITY_HEADERS = (
    ("Strict-Transport-Security", "max-age=31536000;"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Robots-Tag", "noindex, nofollow"),
    ("Referrer-Policy", "same-origin"),
)
REMOVED_HEADERS = ("Server", "X-Powered-By")
# Unauthenticated and public upstream: the health gate (and a load balancer) may ask it over plain http.
LIVENESS_PATH = "/alive"
OWNER_LABEL = "io.github.homelab.vaultwarden.owner"
# A new Caddyfile or certificate restarts the proxy: the container's spec carries their digest.
CADDYFILE_LABEL = "io.github.homelab.vaultwarden.caddyfile"

_HOST = re.compile(r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                   r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_DOMAIN = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[^/:?#]+)(?::(?P<port>[0-9]{1,5}))?"
                     r"(?P<path>/[^?#]*)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class HttpsError(ValueError):
    """A refused HTTPS setting: (variable, value, why, fix) as the planner's PlanError takes them."""

    def __init__(self, variable, value, why, fix):
        self.args_tuple = (variable, value, why, fix)
        super(HttpsError, self).__init__("%s %r is refused: %s. %s" % (variable, value, why, fix))


def parse_domain(domain):
    """{scheme, host, port, path} of ``vaultwarden_domain``; the port is the scheme's default when not given."""
    match = _DOMAIN.match(domain or "")
    if not match:
        raise HttpsError("vaultwarden_domain", domain, "it is not a URL of the form https://host[:port][/path]",
                         "Set it to the address clients use, such as https://vault.example.org.")
    scheme = match.group("scheme").lower()
    if scheme not in ("http", "https"):
        raise HttpsError("vaultwarden_domain", domain, "its scheme must be https (or http)",
                         "Use https://%s." % match.group("host"))
    host = match.group("host").lower()
    if not _HOST.match(host):
        raise HttpsError("vaultwarden_domain", domain, "%r is not a host name" % host,
                         "Use a DNS name such as vault.example.org.")
    port = int(match.group("port")) if match.group("port") else (443 if scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise HttpsError("vaultwarden_domain", domain, "a TCP port is a whole number from 1 to 65535",
                         "Give a port such as 443, or none.")
    path = (match.group("path") or "").rstrip("/")
    return {"scheme": scheme, "host": host, "port": port, "path": path}


def derive(req):
    """The HTTPS part of the request: mode, domain parts, proxy names and paths (added to a copy of ``req``)."""
    req = dict(req)
    mode = req.get("vaultwarden_tls") or ""
    domain = req.get("vaultwarden_domain") or ""
    parsed = parse_domain(domain) if domain else None
    if not mode:
        mode = "internal" if parsed and parsed["scheme"] == "https" else ""
    if mode and mode not in TLS_MODES:
        raise HttpsError("vaultwarden_tls", mode, "it is not a TLS mode of the role",
                         "Use one of: %s." % ", ".join(TLS_MODES))
    if mode and (parsed is None or parsed["scheme"] != "https"):
        raise HttpsError("vaultwarden_domain", domain, "vaultwarden_tls %s serves the vault over HTTPS, so the domain "
                         "must be an https URL" % mode, "Set vaultwarden_domain to https://<host name>[:port].")
    req["_tls"] = mode
    req["_proxied"] = mode in PROXIED
    req["_domain"] = parsed
    name = req["vaultwarden_container_name"]
    req["_proxy_container_name"] = name + "-proxy"
    req["_proxy_network_name"] = name + "-proxy-net"
    base = req["vaultwarden_base_dir"]
    req["_proxy_dir"] = base + "/proxy"
    req["_root_certificate_dest"] = (req.get("vaultwarden_tls_root_certificate_dest")
                                     or "vaultwarden-ca/%s-%s.crt" % (req.get("_inventory_hostname") or "localhost", name))
    if not req["_proxied"]:
        return req
    redirect = req.get("vaultwarden_http_redirect_port")
    if isinstance(redirect, bool) or not isinstance(redirect, int) or not 1 <= redirect <= 65535:
        raise HttpsError("vaultwarden_http_redirect_port", redirect, "a TCP port is a whole number from 1 to 65535",
                         "Set it to 80 (the default) or another free port.")
    if redirect == parsed["port"]:
        raise HttpsError("vaultwarden_http_redirect_port", redirect, "HTTPS is served on that port already (%s)"
                         % domain, "Use another port for the plain-http redirect, such as 80.")
    if parsed["path"]:
        raise HttpsError("vaultwarden_domain", domain, "the proxy serves the vault at the root of its host; a path "
                         "prefix needs rules the role does not write", "Use https://%s%s, or vaultwarden_tls: external "
                         "with your own proxy." % (parsed["host"], "" if parsed["port"] == 443 else ":%d" % parsed["port"]))
    if mode == "acme":
        email = req.get("vaultwarden_tls_email") or ""
        if not _EMAIL.match(email):
            raise HttpsError("vaultwarden_tls_email", email, "ACME certificate authorities want a contact address for "
                             "expiry notices and account recovery", "Set vaultwarden_tls_email to your e-mail address.")
    if mode == "provided":
        for variable in ("vaultwarden_tls_certificate", "vaultwarden_tls_key"):
            if not req.get(variable):
                raise HttpsError(variable, "", "vaultwarden_tls provided serves your own certificate and key",
                                 "Set vaultwarden_tls_certificate and vaultwarden_tls_key to their PEM files on the "
                                 "controller.")
    if req["_root"]:
        req["_proxy_uid"], req["_proxy_gid"] = PROXY_USER_FOR_ROOT
    else:
        req["_proxy_uid"], req["_proxy_gid"] = req["_uid"], req["_gid"]
    req["vaultwarden_proxy_tag"] = req.get("vaultwarden_proxy_tag") or DEFAULT_PROXY_TAG
    req["vaultwarden_proxy_registry"] = (req.get("vaultwarden_proxy_registry") or req.get("vaultwarden_database_registry")
                                         or req.get("vaultwarden_registry") or DOCKER_HUB)
    return req


def proxy_image(platform, tag, library, registry=DOCKER_HUB):
    """library/caddy:<tag> for ``platform`` from the official-images library file, platform pinned (as databases).

    A shared tag (``2``, ``latest``) resolves to the entry that has the platform (Alpine on Linux, not Windows).
    """
    try:
        host = normalize_registry(registry)
        entries = parse_library(library, PROXY_IMAGE)
        entry = official_image_entry(entries, tag, platform)
    except (OfficialImagesError, RegistryError) as exc:
        tags = []
        try:
            tags = [t for t in official_image_tags(parse_library(library, PROXY_IMAGE), platform) if "-" not in t]
        except (OfficialImagesError, RegistryError):
            pass
        raise HttpsError("vaultwarden_proxy_tag", tag, str(exc).rstrip("."),
                         "Use a tag of library/caddy that has an image for %s%s." % (
                             platform, (" (%s)" % ", ".join(tags[:6])) if tags else ""))
    repository = "library/" + PROXY_IMAGE
    return {"repository": repository, "tag": tag, "ref": "%s/%s:%s" % (host, repository, tag),
            "platform": platform, "entry_tags": list(entry["tags"])}


def pinned_tag(tag):
    """A full release tag (2.11.4, 2.11.4-alpine) never moves; 2, 2.11 and latest do and are asked again each run."""
    return bool(re.match(r"^[0-9]+\.[0-9]+\.[0-9]+(?:-|$)", tag or ""))


def redirect_target(req):
    domain = req["_domain"]
    return "https://%s%s" % (domain["host"], "" if domain["port"] == 443 else ":%d" % domain["port"])


def caddyfile(req):
    """The Caddyfile of the proxy: one HTTPS site for the domain, plain http only to redirect (and /alive)."""
    domain = req["_domain"]
    mode = req["_tls"]
    upstream = "%s:%d" % (req["vaultwarden_container_name"], req["vaultwarden_container_port"])
    lines = ["# Written by homelab.vaultwarden (vaultwarden_tls: %s); a run overwrites changes." % mode, "{",
             "\tadmin off",
             "\thttp_port %d" % PROXY_HTTP_PORT,
             "\thttps_port %d" % PROXY_HTTPS_PORT,
             # The redirect below names the published port, which Caddy's own redirect cannot know.
             "\tauto_https disable_redirects"]
    if mode == "acme":
        lines.append("\temail %s" % req["vaultwarden_tls_email"])
        if req.get("vaultwarden_tls_acme_ca"):
            lines.append("\tacme_ca %s" % req["vaultwarden_tls_acme_ca"])
    else:
        # A non-root container cannot change a trust store; the role hands the root certificate out instead.
        lines.append("\tskip_install_trust")
    lines += ["}", "", "https://%s {" % domain["host"]]
    if mode == "internal":
        lines.append("\ttls internal")
    elif mode == "provided":
        lines.append("\ttls %s/certificate.pem %s/key.pem" % (CERTS_PATH, CERTS_PATH))
    lines.append("\theader {")
    for name, value in SECURITY_HEADERS:
        lines.append('\t\t%s "%s"' % (name, value))
    for name in REMOVED_HEADERS:
        lines.append("\t\t-%s" % name)
    lines.append("\t}")
    # WebSocket upgrades (/notifications/hub) pass through reverse_proxy as they are.
    lines += ["\treverse_proxy %s {" % upstream, "\t\theader_up X-Real-IP {remote_host}", "\t}", "}", "",
              "http:// {",
              "\thandle %s {" % LIVENESS_PATH, "\t\treverse_proxy %s" % upstream, "\t}",
              "\thandle {", "\t\tredir %s{uri} 308" % redirect_target(req), "\t}", "}", ""]
    return "\n".join(lines)


def directories(req):
    """The proxy's host directories: the Caddyfile (read-only, root's), data and config (the proxy user's)."""
    if not req["_proxied"]:
        return []
    owner, group = str(req["_proxy_uid"]), str(req["_proxy_gid"])
    base = req["_proxy_dir"]
    dirs = [{"path": base, "mode": "0755", "owner": None, "group": None},
            {"path": base + "/etc", "mode": "0755", "owner": None, "group": None},
            {"path": base + "/data", "mode": "0700", "owner": owner, "group": group},
            {"path": base + "/config", "mode": "0700", "owner": owner, "group": group}]
    if req["_tls"] == "provided":
        dirs.append({"path": base + "/certs", "mode": "0700", "owner": owner, "group": group})
    return dirs


def _publish(address):
    return "[%s]" % address if ":" in address else address


def proxy_plan(req, image_ref, platform, platform_on_create, labels, certificate_digest=""):
    """Everything the proxy task file needs: the Caddyfile, the certificate files, the network and the container."""
    if not req["_proxied"]:
        return None
    text = caddyfile(req)
    base = req["_proxy_dir"]
    address = _publish(req["vaultwarden_bind_address"])
    volumes = ["%s/etc:%s:ro" % (base, CADDYFILE_DIR), "%s/data:%s" % (base, DATA_PATH),
               "%s/config:%s" % (base, CONFIG_PATH)]
    certificates = []
    if req["_tls"] == "provided":
        volumes.append("%s/certs:%s:ro" % (base, CERTS_PATH))
        certificates = [{"src": req["vaultwarden_tls_certificate"], "dest": base + "/certs/certificate.pem"},
                        {"src": req["vaultwarden_tls_key"], "dest": base + "/certs/key.pem"}]
    digest = hashlib.sha256((text + "\0" + certificate_digest).encode("utf-8")).hexdigest()[:24]
    spec = {
        "name": req["_proxy_container_name"],
        "image": image_ref,
        "platform": platform if platform_on_create else None,
        "env": {},
        "env_from_secrets": {},
        "volumes": volumes,
        "published_ports": ["%s:%d:%d" % (address, req["_domain"]["port"], PROXY_HTTPS_PORT),
                            "%s:%d:%d" % (address, req["vaultwarden_http_redirect_port"], PROXY_HTTP_PORT)],
        # bridge first: published ports and the ACME CA; the private network: vaultwarden by its name.
        "networks": [{"name": "bridge"}, {"name": req["_proxy_network_name"]}],
        "network_mode": "bridge",
        "user": "%d:%d" % (req["_proxy_uid"], req["_proxy_gid"]),
        "init": False,
        "read_only": True,
        "tmpfs": [PROXY_TMPFS],
        "security_opts": ["no-new-privileges"],
        "cap_drop": ["ALL"],
        # The official image gives /usr/bin/caddy the file capability cap_net_bind_service; with every capability
        # dropped, exec of such a binary fails with EPERM (the kernel refuses a file capability it cannot grant),
        # so exactly that one stays in the bounding set. Unused on the high ports; no-new-privileges keeps it off.
        "capabilities": ["NET_BIND_SERVICE"],
        "healthcheck": None,
        "restart_policy": req["vaultwarden_restart_policy"],
        "labels": dict(labels, **{CADDYFILE_LABEL: digest}),
    }
    return {
        "container": spec,
        "caddyfile": {"path": base + "/etc/Caddyfile", "content": text},
        "certificates": certificates,
        "certificate_owner": str(req["_proxy_uid"]),
        "network": {"name": req["_proxy_network_name"], "internal": True,
                    "labels": {OWNER_LABEL: req["vaultwarden_container_name"]}},
        "root_certificate": ({"path": "%s/data/%s" % (base, ROOT_CERTIFICATE),
                              "dest": req.get("_root_certificate_dest") or ""} if req["_tls"] == "internal" else None),
    }


def traefik_labels(req):
    """Labels for a Traefik the user runs (vaultwarden_tls: external): one router for the domain over TLS."""
    if req["_tls"] != "external":
        return {}
    router = re.sub(r"[^A-Za-z0-9-]", "-", req["vaultwarden_container_name"])
    prefix = "traefik.http.routers.%s." % router
    return {
        "traefik.enable": "true",
        prefix + "rule": "Host(`%s`)" % req["_domain"]["host"],
        prefix + "entrypoints": "websecure",
        prefix + "tls": "true",
        prefix + "service": router,
        "traefik.http.services.%s.loadbalancer.server.port" % router: str(req["vaultwarden_container_port"]),
    }


def vaultwarden_changes(req, spec):
    """The vaultwarden container behind the proxy: not published, on the proxy's network; Traefik labels."""
    spec = dict(spec)
    if req["_proxied"]:
        spec["published_ports"] = []
        spec["networks"] = list(spec["networks"]) + [{"name": req["_proxy_network_name"]}]
    labels = traefik_labels(req)
    if labels:
        spec["labels"] = dict(spec["labels"], **labels)
    return spec


def health_url(req):
    """The health gate asks /alive through the proxy's plain-http port (the only path it does not redirect)."""
    address = req["vaultwarden_bind_address"]
    if address in ("0.0.0.0", "::"):
        address = "127.0.0.1" if address == "0.0.0.0" else "::1"
    host = "[%s]" % address if ":" in address else address
    return "http://%s:%d%s" % (host, req["vaultwarden_http_redirect_port"], LIVENESS_PATH)
