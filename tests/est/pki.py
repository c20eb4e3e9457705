"""Throwaway certificates for EST client unit tests (no network)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

NOW = datetime.now(UTC)


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


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
    issuer_name = issuer[0].subject if issuer else name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(issuer_name)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=1))
        .not_valid_after(not_after or NOW + timedelta(days=30))
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, key_cert_sign, True, False, False), critical=True
        )
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in san or []]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips or []]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


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
