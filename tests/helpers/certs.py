"""The one builder for throwaway test certificates.

Tests need certificates of many shapes (a self-signed root, an intermediate, a leaf for a CSR,
a server certificate with an IP address in its SAN); they all come from :func:`make_cert`, so
a test states only what is special about its certificate. Keys are P-256 and signatures
SHA-256 unless a test passes its own key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import NameOID

#: keyCertSign and cRLSign (plus digitalSignature): what a CA certificate's key usage says.
CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def cert_name(cn: str) -> x509.Name:
    """A distinguished name with only a common name."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key (fast to generate, accepted everywhere Certline looks)."""
    return ec.generate_private_key(ec.SECP256R1())


def make_cert(
    subject: str | x509.Name,
    public_key: CertificatePublicKeyTypes,
    signing_key: CertificateIssuerPrivateKeyTypes,
    *,
    issuer: x509.Certificate | None = None,
    ca: bool | None = None,
    path_length: int | None = None,
    key_usage: x509.KeyUsage | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    serial: int | None = None,
    dns_names: Sequence[str] = (),
    ips: Sequence[str] = (),
    extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
) -> x509.Certificate:
    """A certificate for ``public_key`` signed by ``signing_key``.

    ``issuer`` is the issuing CA certificate (its subject becomes the issuer name); without it
    the certificate is self-signed (issuer name = subject). ``ca`` adds a critical
    BasicConstraints (None: no BasicConstraints at all, as some real leaves have).
    Validity defaults to one day back, 30 days ahead; ``extensions`` are (extension, critical).
    """
    now = datetime.now(UTC)
    subject_name = cert_name(subject) if isinstance(subject, str) else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer.subject if issuer is not None else subject_name)
        .public_key(public_key)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=30))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


def self_signed_ca(cn: str, *, days: int = 30) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A fresh root CA key and certificate (BasicConstraints CA, no key usage)."""
    key = new_key()
    now = datetime.now(UTC)
    return key, make_cert(cn, key.public_key(), key, ca=True, not_after=now + timedelta(days=days))
