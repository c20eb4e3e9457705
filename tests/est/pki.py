"""Throwaway certificates for EST client unit tests (no network)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from tests.helpers.certs import CA_KEY_USAGE, cert_name, make_cert, new_key

NOW = datetime.now(UTC)


def name(cn: str) -> x509.Name:
    return cert_name(cn)


def key() -> ec.EllipticCurvePrivateKey:
    return new_key()


def cert(
    subject: str,
    public_key: object,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    signing_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    path_length: int | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_cert_sign: bool = True,
    san: list[str] | None = None,
    ips: list[str] | None = None,
    basic_constraints: bool = True,
) -> x509.Certificate:
    """The EST tests' shape on top of :func:`tests.helpers.certs.make_cert`: CAs carry a key
    usage (``key_cert_sign`` off makes a CA that may not sign), validity starts at ``NOW``."""
    return make_cert(
        subject,
        public_key,  # type: ignore[arg-type]
        signing_key,
        issuer=issuer[0] if issuer else None,
        ca=ca if basic_constraints else None,
        path_length=path_length,
        key_usage=_ca_key_usage(key_cert_sign) if ca else None,
        not_before=not_before or NOW - timedelta(days=1),
        not_after=not_after or NOW + timedelta(days=30),
        dns_names=san or (),
        ips=ips or (),
    )


def _ca_key_usage(key_cert_sign: bool) -> x509.KeyUsage:
    """The CA key usage, with keyCertSign switched as asked."""
    if key_cert_sign:
        return CA_KEY_USAGE
    return x509.KeyUsage(True, False, False, False, False, False, True, False, False)


@dataclass
class Pki:
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    int_key: ec.EllipticCurvePrivateKey
    intermediate: x509.Certificate

    def issue(self, public_key: object, cn: str = "device-1", **kw: object) -> x509.Certificate:
        return cert(cn, public_key, (self.intermediate, self.int_key), self.int_key, ca=False, **kw)  # type: ignore[arg-type]


def make_pki(root_cn: str = "Test Root") -> Pki:
    root_key = key()
    root = cert(root_cn, root_key.public_key(), None, root_key, ca=True)
    int_key = key()
    intermediate = cert(
        root_cn + " Issuing", int_key.public_key(), (root, root_key), root_key, ca=True, path_length=0
    )
    return Pki(root_key, root, int_key, intermediate)


def csr_for(private_key: ec.EllipticCurvePrivateKey, cn: str = "device-1") -> x509.CertificateSigningRequest:
    return x509.CertificateSigningRequestBuilder().subject_name(name(cn)).sign(private_key, hashes.SHA256())


def pkcs7_der(certs: list[x509.Certificate]) -> bytes:
    return pkcs7.serialize_certificates(certs, serialization.Encoding.DER)


def der(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.DER)
