# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTPS front door as tables: TLS modes, the Caddy image per platform, the Caddyfile, the proxy container."""

import os

import pytest
import yaml

from ansible_collections.homelab.vaultwarden.plugins.module_utils import https, planner
from ansible_collections.homelab.vaultwarden.plugins.module_utils.planner import LABELS, PlanError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
DEFAULTS = os.path.join(ROOT, "roles", "vaultwarden", "defaults", "main.yml")
LIBRARIES = os.path.join(ROOT, "roles", "vaultwarden", "files", "official-images")


def libraries():
    result = {}
    for name in ("mariadb", "mysql", "postgres", "caddy"):
        with open(os.path.join(LIBRARIES, name)) as handle:
            result[name] = handle.read()
    return result


def request(**overrides):
    with open(DEFAULTS) as handle:
        raw = yaml.safe_load(handle)
    raw.update(overrides)
    return planner.derive_request(raw)


def facts(platform="linux/amd64", containers=None, images=None, record=None, networks=None):
    return {"platform": {"platform": platform, "warnings": []},
            "engine": {"reachable": True, "version": "20.10.24", "api_version": "1.41", "error": None},
            "containers": containers or {}, "images": images or {}, "record": record, "record_error": None,
            "secrets": {}, "networks": networks or {}}


def image(image_id, platform="linux/amd64", version="1.37.1"):
    os_, arch, variant = (platform.split("/") + [""])[:3]
    return {"Id": image_id, "Os": os_, "Architecture": arch, "Variant": variant or None,
            "RepoDigests": ["docker.io/x@sha256:" + image_id[-8:].rjust(64, "0")],
            "Config": {"Labels": {"org.opencontainers.image.version": version}}}


# --- which mode -------------------------------------------------------------------------------------------------

MODES = [
    ({}, "", False),
    ({"vaultwarden_domain": "http://vault.lan"}, "", False),
    ({"vaultwarden_domain": "https://vault.example.org"}, "internal", True),
    ({"vaultwarden_domain": "https://vault.example.org", "vaultwarden_tls": "external"}, "external", False),
    ({"vaultwarden_domain": "https://vault.example.org", "vaultwarden_tls": "acme", "vaultwarden_tls_email": "a@b.org"},
     "acme", True),
    ({"vaultwarden_domain": "https://vault.example.org:8443", "vaultwarden_tls": "provided",
      "vaultwarden_tls_certificate": "c.pem", "vaultwarden_tls_key": "k.pem"}, "provided", True),
]


@pytest.mark.parametrize("overrides, mode, proxied", MODES)
def test_the_mode_follows_the_domain_unless_set(overrides, mode, proxied):
    req = request(**overrides)
    assert (req["_tls"], req["_proxied"]) == (mode, proxied)


REFUSALS = [
    ({"vaultwarden_tls": "internal"}, "vaultwarden_domain", "must be an https URL"),
    ({"vaultwarden_domain": "http://vault.lan", "vaultwarden_tls": "acme"}, "vaultwarden_domain", "https URL"),
    ({"vaultwarden_domain": "vault.example.org"}, "vaultwarden_domain", "https://host"),
    ({"vaultwarden_domain": "ftp://vault.example.org"}, "vaultwarden_domain", "scheme"),
    ({"vaultwarden_domain": "https://bad_host!"}, "vaultwarden_domain", "not a host name"),
    ({"vaultwarden_domain": "https://vault.example.org:99999"}, "vaultwarden_domain", "1 to 65535"),
    ({"vaultwarden_domain": "https://vault.example.org/vw"}, "vaultwarden_domain", "path prefix"),
    ({"vaultwarden_domain": "https://vault.example.org", "vaultwarden_http_redirect_port": 443},
     "vaultwarden_http_redirect_port", "served on that port"),
    ({"vaultwarden_domain": "https://vault.example.org", "vaultwarden_tls": "acme"}, "vaultwarden_tls_email",
     "contact address"),
    ({"vaultwarden_domain": "https://vault.example.org", "vaultwarden_tls": "provided"},
     "vaultwarden_tls_certificate", "your own certificate"),
    ({"vaultwarden_domain": "https://vault.example.org", "vaultwarden_tls": "provided",
      "vaultwarden_tls_certificate": "c.pem"}, "vaultwarden_tls_key", "your own certificate"),
]


@pytest.mark.parametrize("overrides, variable, why", REFUSALS)
def test_bad_https_settings_are_refused_naming_the_fix(overrides, variable, why):
    with pytest.raises(PlanError) as caught:
        request(**overrides)
    assert caught.value.variable == variable
    assert why in caught.value.why
    assert caught.value.fix


# --- the image, picked from the official-images library file per platform ---------------------------------------

@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/arm/v6"])
def test_the_caddy_image_is_picked_for_the_platform_from_the_library(platform):
    picked = https.proxy_image(platform, "2", libraries()["caddy"], registry="127.0.0.1:5000")
    assert picked["ref"] == "127.0.0.1:5000/library/caddy:2"
    assert picked["platform"] == platform
    # The shared tag resolves to the Alpine entry on Linux (the Windows entries share it too).
    assert picked["entry_tags"][0] == "2.11.4-alpine"


@pytest.mark.parametrize("tag, platform, why", [
    ("2", "linux/386", "has no image for linux/386"),
    ("1.0", "linux/amd64", "not in this library"),
])
def test_a_caddy_tag_without_an_image_for_the_platform_is_refused(tag, platform, why):
    with pytest.raises(https.HttpsError) as caught:
        https.proxy_image(platform, tag, libraries()["caddy"])
    variable, value, reason, fix = caught.value.args_tuple
    assert variable == "vaultwarden_proxy_tag" and why in reason and "library/caddy" in fix


@pytest.mark.parametrize("tag, pinned", [("2", False), ("2.11", False), ("latest", False), ("2.11.4", True),
                                         ("2.11.4-alpine", True), ("alpine", False)])
def test_only_full_releases_are_pinned_proxy_tags(tag, pinned):
    assert https.pinned_tag(tag) is pinned


# --- the Caddyfile ----------------------------------------------------------------------------------------------

def _caddyfile(**overrides):
    return https.caddyfile(request(vaultwarden_domain="https://vault.example.org", **overrides))


def test_internal_caddyfile_serves_the_domain_with_the_internal_ca():
    text = _caddyfile()
    assert "https://vault.example.org {\n\ttls internal\n" in text
    assert "\thttp_port 8080\n\thttps_port 8443\n" in text
    assert "\tadmin off\n" in text and "\tskip_install_trust\n" in text
    assert "\treverse_proxy vaultwarden:8080 {\n\t\theader_up X-Real-IP {remote_host}\n\t}" in text
    assert '\t\tStrict-Transport-Security "max-age=31536000;"\n' in text
    for name in ("X-Content-Type-Options", "X-Frame-Options", "X-Robots-Tag", "Referrer-Policy"):
        assert "\t\t%s " % name in text
    assert "\t\t-Server\n" in text
    # plain http: only /alive and a redirect to the published HTTPS port
    assert "http:// {\n\thandle /alive {\n\t\treverse_proxy vaultwarden:8080\n\t}\n" in text
    assert "\t\tredir https://vault.example.org{uri} 308\n" in text


def test_the_redirect_names_a_non_default_https_port():
    text = https.caddyfile(request(vaultwarden_domain="https://vault.example.org:18543"))
    assert "redir https://vault.example.org:18543{uri} 308" in text
    # Caddy matches the host without the port; the port inside stays 8443.
    assert "https://vault.example.org {" in text


ACME_CASES = [
    ({}, ["\temail admin@example.org\n"], ["tls internal", "skip_install_trust", "acme_ca"]),
    ({"vaultwarden_tls_acme_ca": "https://acme-staging-v02.api.letsencrypt.org/directory"},
     ["\temail admin@example.org\n", "\tacme_ca https://acme-staging-v02.api.letsencrypt.org/directory\n"],
     ["tls internal"]),
]


@pytest.mark.parametrize("overrides, present, absent", ACME_CASES)
def test_acme_caddyfile_uses_the_email_and_the_http_and_tls_alpn_challenges(overrides, present, absent):
    text = _caddyfile(vaultwarden_tls="acme", vaultwarden_tls_email="admin@example.org", **overrides)
    for line in present:
        assert line in text
    for line in absent:
        assert line not in text
    # No tls directive: Caddy's automatic HTTPS with ACME; challenges on the ports the host publishes as 80/443.
    assert "https://vault.example.org {\n\theader {" in text
    assert "\thttp_port 8080\n\thttps_port 8443\n" in text
    assert "dns" not in text


def test_provided_caddyfile_serves_the_copied_files():
    text = _caddyfile(vaultwarden_tls="provided", vaultwarden_tls_certificate="c.pem", vaultwarden_tls_key="k.pem")
    assert "\ttls /certs/certificate.pem /certs/key.pem\n" in text


# --- the containers ---------------------------------------------------------------------------------------------

def _plans(**overrides):
    req = request(vaultwarden_domain="https://vault.example.org", vaultwarden_version="1.37.1", **overrides)
    stage1 = planner.plan_pull(req, facts(), libraries())
    pulled = [{"ref": stage1["image"]["ref"], "image": image("sha256:vw"), "changed": True},
              {"ref": stage1["proxy_image"]["ref"], "image": image("sha256:caddy", version="v2.6.2"), "changed": True}]
    return req, stage1, planner.plan_deploy(req, stage1, facts(), pulled)


def test_the_proxy_is_pulled_with_vaultwarden_for_the_platform():
    req, stage1, plan = _plans()
    assert [p["ref"] for p in stage1["pull"]] == ["docker.io/vaultwarden/server:1.37.1", "docker.io/library/caddy:2"]
    assert stage1["pull"][1]["platform"] == "linux/amd64"


def test_the_proxy_container_is_hardened_and_fronts_an_unpublished_vaultwarden():
    req, stage1, plan = _plans()
    proxy = plan["proxy"]["container"]
    assert proxy["name"] == "vaultwarden-proxy" and proxy["apply"]
    assert proxy["user"] == "10001:10001"
    assert proxy["cap_drop"] == ["ALL"] and proxy["capabilities"] == ["NET_BIND_SERVICE"]
    assert proxy["read_only"] and proxy["tmpfs"] == [https.PROXY_TMPFS]
    assert proxy["security_opts"] == ["no-new-privileges"]
    assert proxy["published_ports"] == ["127.0.0.1:443:8443", "127.0.0.1:80:8080"]
    assert proxy["volumes"] == ["/opt/vaultwarden/proxy/etc:/etc/caddy:ro", "/opt/vaultwarden/proxy/data:/data",
                                "/opt/vaultwarden/proxy/config:/config"]
    assert proxy["labels"][LABELS["owner"]] == "vaultwarden" and proxy["labels"][LABELS["role"]] == "proxy"
    assert plan["proxy"]["network"] == {"name": "vaultwarden-proxy-net", "internal": True, "exists": False,
                                        "labels": {LABELS["owner"]: "vaultwarden"}}
    vw = plan["vaultwarden"]
    assert vw["published_ports"] == []
    assert {"name": "vaultwarden-proxy-net"} in vw["networks"]
    assert vw["env"]["DOMAIN"] == "https://vault.example.org"
    assert plan["health"]["url"] == "http://127.0.0.1:80/alive"
    assert plan["proxy"]["root_certificate"] == {
        "path": "/opt/vaultwarden/proxy/data/caddy/pki/authorities/local/root.crt",
        "dest": "vaultwarden-ca/localhost-vaultwarden.crt"}
    owned = [d for d in plan["directories"] if d["path"].startswith("/opt/vaultwarden/proxy/")]
    assert [(d["path"], d["owner"]) for d in owned] == [
        ("/opt/vaultwarden/proxy/etc", None), ("/opt/vaultwarden/proxy/data", "10001"),
        ("/opt/vaultwarden/proxy/config", "10001")]
    assert plan["record"]["proxy"]["image_id"] == "sha256:caddy"


def test_a_converged_proxy_is_left_alone_and_a_new_caddyfile_restarts_it():
    req, stage1, plan = _plans()
    spec = plan["proxy"]["container"]
    running = {"exists": True, "running": True, "image": "sha256:caddy", "labels": dict(spec["labels"])}
    host = facts(containers={"vaultwarden-proxy": running}, images={"sha256:caddy": image("sha256:caddy")},
                 record={"proxy": plan["record"]["proxy"]})
    pinned = request(vaultwarden_domain="https://vault.example.org", vaultwarden_version="1.37.1",
                     vaultwarden_proxy_tag="2.11.4")
    assert planner.plan_pull(pinned, host, libraries())["pull"][-1]["ref"].endswith("caddy:2.11.4")
    again = planner.plan_deploy(req, stage1, host, [])
    assert not again["proxy"]["container"]["apply"]
    other = request(vaultwarden_domain="https://vault.example.org", vaultwarden_version="1.37.1",
                    vaultwarden_http_redirect_port=8081)
    assert planner.plan_deploy(other, planner.plan_pull(other, host, libraries()), host, [])["proxy"]["container"][
        "apply"]


def test_root_vaultwarden_still_gets_a_non_root_proxy():
    req, stage1, plan = _plans(vaultwarden_user="root", vaultwarden_container_port=80)
    assert plan["proxy"]["container"]["user"] == "10001:10001"
    assert "reverse_proxy vaultwarden:80 {" in plan["proxy"]["caddyfile"]["content"]


def test_provided_certificates_are_copied_and_mounted_read_only():
    req, stage1, plan = _plans(vaultwarden_tls="provided", vaultwarden_tls_certificate="files/c.pem",
                               vaultwarden_tls_key="files/k.pem")
    assert plan["proxy"]["certificates"] == [
        {"src": "files/c.pem", "dest": "/opt/vaultwarden/proxy/certs/certificate.pem"},
        {"src": "files/k.pem", "dest": "/opt/vaultwarden/proxy/certs/key.pem"}]
    assert "/opt/vaultwarden/proxy/certs:/certs:ro" in plan["proxy"]["container"]["volumes"]
    assert plan["proxy"]["root_certificate"] is None


def test_external_mode_runs_no_proxy_and_labels_vaultwarden_for_traefik():
    req = request(vaultwarden_domain="https://vault.example.org", vaultwarden_version="1.37.1",
                  vaultwarden_tls="external")
    stage1 = planner.plan_pull(req, facts(), libraries())
    assert stage1["proxy_image"] is None and len(stage1["pull"]) == 1
    plan = planner.plan_deploy(req, stage1, facts(), [{"ref": stage1["image"]["ref"], "image": image("sha256:vw"),
                                                       "changed": True}])
    assert plan["proxy"] is None
    labels = plan["vaultwarden"]["labels"]
    assert labels["traefik.enable"] == "true"
    assert labels["traefik.http.routers.vaultwarden.rule"] == "Host(`vault.example.org`)"
    assert labels["traefik.http.routers.vaultwarden.tls"] == "true"
    assert labels["traefik.http.services.vaultwarden.loadbalancer.server.port"] == "8080"
    assert plan["vaultwarden"]["published_ports"] == ["127.0.0.1:8080:8080"]


def test_absent_removes_the_proxy_and_its_network():
    req = request(vaultwarden_domain="https://vault.example.org")
    own = {LABELS["owner"]: "vaultwarden"}
    host = facts(containers={"vaultwarden-proxy": {"exists": True, "labels": own}},
                 networks={"vaultwarden-proxy-net": {"exists": True, "labels": own}})
    plan = planner.plan_absent(req, host)
    assert plan["containers"] == ["vaultwarden-proxy"] and plan["networks"] == ["vaultwarden-proxy-net"]


def test_a_foreign_proxy_container_is_never_touched():
    req = request(vaultwarden_domain="https://vault.example.org")
    host = facts(containers={"vaultwarden-proxy": {"exists": True, "labels": {}}})
    with pytest.raises(PlanError) as caught:
        planner.plan_pull(req, host, libraries())
    assert "vaultwarden-proxy" in str(caught.value)
