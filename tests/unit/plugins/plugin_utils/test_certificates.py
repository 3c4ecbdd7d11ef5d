# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vaultwarden_tls provided: a certificate that would not serve the domain is refused before any change."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.homelab.vaultwarden.plugins.plugin_utils import certificates

NOW = datetime.datetime(2026, 12, 4, 20, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def make(names=("vault.example.org",), not_before=NOW - DAY, not_after=NOW + 90 * DAY, key=None, san=True):
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "x")])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def check(cert_pem, key_pem, host="vault.example.org"):
    return certificates.check_certificate("cert.pem", cert_pem, "key.pem", key_pem, host, now=NOW)


def test_a_good_certificate_passes_and_has_a_stable_digest():
    cert, key = make()
    assert check(cert, key) == check(cert, key)
    wildcard = make(names=("*.example.org",))
    assert check(*wildcard)


REFUSED = [
    (dict(not_after=NOW - DAY), "vaultwarden_tls_certificate", "expired on 2026-12-03"),
    (dict(not_before=NOW + DAY), "vaultwarden_tls_certificate", "not valid before 2026-12-05"),
    (dict(names=("other.example.org",)), "vaultwarden_tls_certificate", "not for vault.example.org"),
    (dict(names=("*.vault.example.org",)), "vaultwarden_tls_certificate", "not for vault.example.org"),
    (dict(san=False), "vaultwarden_tls_certificate", "none in subjectAltName; common name vault.example.org"),
]


@pytest.mark.parametrize("options, variable, why", REFUSED)
def test_expired_early_or_mismatched_certificates_are_refused(options, variable, why):
    with pytest.raises(certificates.CertificateError) as caught:
        check(*make(**options))
    got_variable, value, reason, fix = caught.value.args_tuple
    assert (got_variable, value) == (variable, "cert.pem")
    assert why in reason and fix


def test_a_key_of_another_certificate_is_refused():
    cert, _key = make()
    _other, key = make()
    with pytest.raises(certificates.CertificateError) as caught:
        check(cert, key)
    assert caught.value.args_tuple[0] == "vaultwarden_tls_key" and "not the key of cert.pem" in caught.value.args_tuple[2]


@pytest.mark.parametrize("cert, key, variable", [
    (b"not a certificate", None, "vaultwarden_tls_certificate"),
    (None, b"not a key", "vaultwarden_tls_key"),
])
def test_files_that_are_not_pem_are_refused(cert, key, variable):
    good_cert, good_key = make()
    with pytest.raises(certificates.CertificateError) as caught:
        check(cert or good_cert, key or good_key)
    assert caught.value.args_tuple[0] == variable


@pytest.mark.parametrize("pattern, host, matches", [
    ("vault.example.org", "VAULT.example.org", True), ("*.example.org", "vault.example.org", True),
    ("*.example.org", "example.org", False), ("*.example.org", "a.vault.example.org", False),
    ("vault.example.org.", "vault.example.org", True),
])
def test_names_match_as_rfc_6125_says(pattern, host, matches):
    assert certificates.name_matches(pattern, host) is matches
