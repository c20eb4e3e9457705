"""Shared helpers for tests that talk to the EST test server.

Use the ``est_server`` fixture (import it into a conftest or test module) or
build an :class:`~certline.app.estserver.EstTestServer` directly. ``est_session`` gives a
``requests`` session that trusts only the server's root CA.

Note: ``requests`` lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` override a
*session's* ``verify`` when ``trust_env`` is on; the session here turns
``trust_env`` off so the pinned test CA is really what gets used.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certline.app.estserver import EstTestServer

TEST_PASSCODE = "wTvQtkUGcU81AhVmodGE"  # the DTM doc's sample; a test value, not a secret
TEST_USER = "estuser"
TEST_PASSWORD = "est-password"  # noqa: S105
DTM_LABEL = "cps/IOT_33fd0b45-3188-45ed-9458-6cedc8ccf509"


@pytest.fixture
def est_server(tmp_path: Path) -> Iterator[EstTestServer]:
    """Running server with passcode ``TEST_PASSCODE`` and user ``TEST_USER``; state in tmp_path."""
    server = EstTestServer(
        state_dir=tmp_path / "est-state",
        passcode=TEST_PASSCODE,
        users={TEST_USER: TEST_PASSWORD},
    )
    with server:
        yield server


def est_session(server: EstTestServer, *, cert: tuple[str, str] | None = None) -> requests.Session:
    """Session that verifies against the server's root only (keep-alive pooled)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.ca_file)
    if cert is not None:
        session.cert = cert
    return session


def basic_passcode(passcode: str = TEST_PASSCODE) -> dict[str, str]:
    """DTM style: ``Authorization: Basic base64(passcode)``."""
    return {"Authorization": "Basic " + base64.b64encode(passcode.encode()).decode()}


def basic_user(user: str = TEST_USER, password: str = TEST_PASSWORD) -> dict[str, str]:
    """RFC 7617 style: ``Authorization: Basic base64(user:password)``."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def make_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_csr(
    common_name: str,
    key: ec.EllipticCurvePrivateKey | None = None,
    *,
    dns_names: tuple[str, ...] = (),
    challenge_password: str | None = None,
) -> tuple[x509.CertificateSigningRequest, ec.EllipticCurvePrivateKey]:
    key = key or make_key()
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    if challenge_password is not None:
        builder = builder.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, challenge_password.encode())
    return builder.sign(key, hashes.SHA256()), key


def csr_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def csr_b64(csr: x509.CertificateSigningRequest) -> bytes:
    """RFC 7030 body: base64 of DER wrapped at 64 columns."""
    text = base64.b64encode(csr.public_bytes(serialization.Encoding.DER))
    return b"\n".join(text[i : i + 64] for i in range(0, len(text), 64)) + b"\n"


def write_client_identity(
    directory: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, chain_pem: str = ""
) -> tuple[str, str]:
    """Cert (+chain) and key PEM files for ``requests``' ``cert=``; tests only (tmp_path)."""
    cert_path = directory / "client.pem"
    key_path = directory / "client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + chain_pem.encode())
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)
