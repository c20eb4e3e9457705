"""The test server's throwaway certificate authority.

Root -> (optional) issuing intermediate -> leaves, so clients always see chains
longer than one certificate. The server's own TLS certificate is signed by the
root and regenerated on every start (clients pin the root, never the TLS leaf).

When a state directory is given the root and issuing keys are kept there
(owner-only files) so a restarted server keeps its trust anchor; this is test
CA material, not station secrets. Without a state directory everything lives in
memory and disappears with the process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certline.app.pki import KeyAlgorithm
from certline.app.pki import fingerprint as cert_fingerprint  # one fingerprint format everywhere

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
"""Key types the CA itself signs with."""

CertPublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
"""Public key types a leaf may certify."""

_BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock skew between test processes


def generate_key(algorithm: KeyAlgorithm | str) -> PrivateKey:
    """Fresh private key of the named Certline key algorithm."""
    algo = KeyAlgorithm(algorithm)
    if algo is KeyAlgorithm.EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if algo is KeyAlgorithm.EC_P384:
        return ec.generate_private_key(ec.SECP384R1())
    if algo is KeyAlgorithm.RSA_2048:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def key_of_type(name: str) -> PrivateKey:
    """A new private key named like ``ec-p256`` or ``rsa-4096`` (a server's own keygen choice)."""
    kind, _, size = name.lower().partition("-")
    if kind == "ec" and size in ("p256", "p384"):
        return ec.generate_private_key(ec.SECP256R1() if size == "p256" else ec.SECP384R1())
    if kind == "rsa" and size.isdigit() and int(size) in (2048, 3072, 4096):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(size))
    raise ValueError(f"unsupported server key type {name!r} (ec-p256, ec-p384, rsa-2048/3072/4096)")


def key_like(public_key: object) -> PrivateKey:
    """A new private key of the same type and size as ``public_key`` (server keygen, wrong_key)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return ec.generate_private_key(public_key.curve)
    if isinstance(public_key, rsa.RSAPublicKey):
        return rsa.generate_private_key(public_exponent=65537, key_size=public_key.key_size)
    return ec.generate_private_key(ec.SECP256R1())


def _hash_for(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def spki_sha256(public_key: object) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo: the identity of a key across CSRs and certs."""
    der = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str, org: str = "Certline EST test server") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_cert(
    subject: x509.Name,
    key: PrivateKey,
    issuer_cert: x509.Certificate | None,
    issuer_key: PrivateKey,
    *,
    path_length: int | None,
    days: int,
) -> x509.Certificate:
    now = _now()
    issuer_name = issuer_cert.subject if issuer_cert is not None else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    return builder.sign(issuer_key, _hash_for(issuer_key))


@dataclass(frozen=True)
class CaFiles:
    """Where a persisted CA lives inside a state directory."""

    directory: Path

    @property
    def root_cert(self) -> Path:
        return self.directory / "root.pem"

    @property
    def root_key(self) -> Path:
        return self.directory / "root.key"

    @property
    def issuing_cert(self) -> Path:
        return self.directory / "issuing.pem"

    @property
    def issuing_key(self) -> Path:
        return self.directory / "issuing.key"


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` owner-only before any byte is written (no window with wider mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported CA key type in {path.name}")
    return key


class CertificateAuthority:
    """Root + optional issuing CA that signs every certificate the test server hands out."""

    def __init__(
        self,
        root_key: PrivateKey,
        root_cert: x509.Certificate,
        issuing_key: PrivateKey | None = None,
        issuing_cert: x509.Certificate | None = None,
    ) -> None:
        self.root_key = root_key
        self.root_cert = root_cert
        self._issuing_key = issuing_key
        self._issuing_cert = issuing_cert

    def __repr__(self) -> str:  # keys stay out of reprs
        return f"CertificateAuthority(root={self.root_cert.subject.rfc4514_string()!r})"

    # ----------------------------------------------------------- construction
    @classmethod
    def create(
        cls,
        *,
        key_algorithm: KeyAlgorithm | str = KeyAlgorithm.EC_P256,
        intermediate: bool = True,
        name: str = "Certline Test Root CA",
        days: int = 3650,
    ) -> CertificateAuthority:
        """New in-memory CA; ``name`` keeps rogue CAs (unknown_ca fault) distinguishable."""
        tag = secrets.token_hex(4)
        root_key = generate_key(key_algorithm)
        root_cert = _ca_cert(_name(f"{name} {tag}"), root_key, None, root_key, path_length=None, days=days)
        if not intermediate:
            return cls(root_key, root_cert)
        issuing_key = generate_key(key_algorithm)
        issuing_cert = _ca_cert(
            _name(f"{name.replace('Root', 'Issuing')} {tag}"),
            issuing_key,
            root_cert,
            root_key,
            path_length=0,
            days=days,
        )
        return cls(root_key, root_cert, issuing_key, issuing_cert)

    @classmethod
    def load_or_create(
        cls,
        directory: Path,
        *,
        key_algorithm: KeyAlgorithm | str = KeyAlgorithm.EC_P256,
        intermediate: bool = True,
    ) -> CertificateAuthority:
        """Load the CA persisted in ``directory`` or create and persist a new one.

        An existing CA wins over the arguments: a restarted server must keep its trust anchor.
        """
        files = CaFiles(directory)
        if files.root_cert.exists() and files.root_key.exists():
            root_cert = x509.load_pem_x509_certificate(files.root_cert.read_bytes())
            root_key = _load_key(files.root_key)
            if files.issuing_cert.exists() and files.issuing_key.exists():
                issuing_cert = x509.load_pem_x509_certificate(files.issuing_cert.read_bytes())
                return cls(root_key, root_cert, _load_key(files.issuing_key), issuing_cert)
            return cls(root_key, root_cert)
        ca = cls.create(key_algorithm=key_algorithm, intermediate=intermediate)
        ca.save(directory)
        return ca

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        files = CaFiles(directory)
        _write_private(files.root_key, _key_pem(self.root_key))
        files.root_cert.write_bytes(self.root_cert.public_bytes(serialization.Encoding.PEM))
        if self._issuing_key is not None and self._issuing_cert is not None:
            _write_private(files.issuing_key, _key_pem(self._issuing_key))
            files.issuing_cert.write_bytes(self._issuing_cert.public_bytes(serialization.Encoding.PEM))

    # ------------------------------------------------------------- properties
    @property
    def issuing_key(self) -> PrivateKey:
        return self._issuing_key if self._issuing_key is not None else self.root_key

    @property
    def issuing_cert(self) -> x509.Certificate:
        return self._issuing_cert if self._issuing_cert is not None else self.root_cert

    @property
    def has_intermediate(self) -> bool:
        return self._issuing_cert is not None

    @property
    def intermediates(self) -> tuple[x509.Certificate, ...]:
        """Certificates between a leaf and the root (sent along with every issued leaf)."""
        return (self._issuing_cert,) if self._issuing_cert is not None else ()

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Issuing CA first, root last: what /cacerts returns."""
        return (*self.intermediates, self.root_cert)

    @property
    def ca_pem(self) -> bytes:
        return self.root_cert.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    @property
    def fingerprint(self) -> str:
        return cert_fingerprint(self.root_cert)

    # ---------------------------------------------------------------- issuing
    def issue(
        self,
        public_key: CertPublicKey,
        subject: x509.Name,
        *,
        san: x509.SubjectAlternativeName | None = None,
        validity: dt.timedelta = dt.timedelta(days=365),
        server_auth: bool = True,
    ) -> x509.Certificate:
        """Sign an end-entity certificate with a random serial (clientAuth + serverAuth EKU)."""
        now = _now()
        issuer_key = self.issuing_key
        key_usage_encipher = isinstance(public_key, rsa.RSAPublicKey)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server_auth:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.issuing_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=key_usage_encipher,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )
        if san is not None and len(san) > 0:
            builder = builder.add_extension(san, critical=False)
        return builder.sign(issuer_key, _hash_for(issuer_key))

    def issue_tls_server(
        self, hosts: Sequence[str] = ("127.0.0.1", "localhost")
    ) -> tuple[x509.Certificate, PrivateKey]:
        """The listener certificate: signed by the root, SANs for every host (IPs as iPAddress)."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in dict.fromkeys(hosts):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("Certline EST test server TLS"))
            .issuer_name(self.root_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()),
                critical=False,
            )
            .sign(self.root_key, _hash_for(self.root_key))
        )
        return cert, key

    def issued_by_me(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` carries a valid signature of this CA's issuing key."""
        if cert.issuer != self.issuing_cert.subject:
            return False
        try:
            cert.verify_directly_issued_by(self.issuing_cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True
