# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side checks of a provided certificate and key (vaultwarden_tls: provided), before any change.

Uses ``cryptography`` (an ansible-core dependency); never shipped to hosts.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - ansible-core depends on cryptography; reported when a check is asked for
    x509 = serialization = NameOID = None


class CertificateError(ValueError):
    """(variable, value, why, fix) as the planner's PlanError takes them."""

    def __init__(self, variable, value, why, fix):
        self.args_tuple = (variable, value, why, fix)
        super().__init__("%s %r is refused: %s. %s" % (variable, value, why, fix))


def _names(cert):
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [n.lower() for n in san.get_values_for_type(x509.DNSName)]
        names += [str(a) for a in san.get_values_for_type(x509.IPAddress)]
        return names
    except x509.ExtensionNotFound:
        # Clients ignore the common name when a certificate has no subjectAltName; so do we (RFC 6125).
        return []


def name_matches(pattern, host):
    """RFC 6125 matching: exact, or one leftmost wildcard label (*.example.org matches a.example.org only)."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if pattern.startswith("*.") and "." in host:
        return host.split(".", 1)[1] == pattern[2:] and "*" not in pattern[2:]
    return False


def _not_before(cert):
    return getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def _not_after(cert):
    return getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def check_certificate(cert_path, cert_pem, key_path, key_pem, host, now=None):
    """Refuse a certificate that is expired, not yet valid, not for ``host`` or not the key's; returns its digest."""
    if x509 is None:
        raise CertificateError("vaultwarden_tls_certificate", cert_path, "checking it needs the Python package "
                               "cryptography on the controller, which is missing",
                               "Install it (pip install cryptography, or apt-get install python3-cryptography).")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as exc:
        raise CertificateError("vaultwarden_tls_certificate", cert_path, "it is not a PEM certificate (%s)" % exc,
                               "Give the PEM file of the server certificate (then its intermediates).")
    cert = chain[0]
    if now > _not_after(cert):
        raise CertificateError("vaultwarden_tls_certificate", cert_path, "it expired on %s"
                               % _not_after(cert).strftime("%Y-%m-%d %H:%M UTC"),
                               "Renew it and run again; nothing was changed.")
    if now < _not_before(cert):
        raise CertificateError("vaultwarden_tls_certificate", cert_path, "it is not valid before %s"
                               % _not_before(cert).strftime("%Y-%m-%d %H:%M UTC"),
                               "Check the clock of the machine that made it, or wait; nothing was changed.")
    names = _names(cert)
    try:
        wanted_ip = str(ipaddress.ip_address(host))
    except ValueError:
        wanted_ip = None
    if not any((n == wanted_ip) if wanted_ip else name_matches(n, host) for n in names):
        subject = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        raise CertificateError("vaultwarden_tls_certificate", cert_path, "it is not for %s (its names: %s)" % (
            host, ", ".join(names) or "none in subjectAltName%s" % (
                "; common name %s" % subject[0].value if subject else "")),
            "Give a certificate whose subjectAltName holds %s, or change vaultwarden_domain." % host)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError("vaultwarden_tls_key", key_path, "it is not an unencrypted PEM private key (%s)" % exc,
                               "Give the key without a passphrase (Caddy cannot ask for one).")
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise CertificateError("vaultwarden_tls_key", key_path, "it is not the key of %s" % cert_path,
                               "Give the private key the certificate was issued for.")
    return hashlib.sha256(cert_pem + b"\0" + key_pem).hexdigest()[:24]
