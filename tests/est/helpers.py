"""Small helpers for EST client tests."""

from __future__ import annotations

import base64
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certline.app.estserver import EstTestServer, RequestRecord
from tests.helpers.waiting import wait_until


def posts(server: EstTestServer, op: str = "simpleenroll", at_least: int = 1) -> list[RequestRecord]:
    """The recorded requests for ``op`` once at least ``at_least`` have been logged (the server
    logs a request just *after* sending its response, so a client can see the answer first)."""

    def records() -> list[RequestRecord]:
        return [r for r in server.requests if r.op == op]

    wait_until(lambda: len(records()) >= at_least, what=f"{at_least} recorded {op} request(s)")
    return records()


def last(server: EstTestServer, op: str) -> RequestRecord:
    return posts(server, op)[-1]


def ssl_peer_fingerprint(server: EstTestServer) -> str:
    """SHA-256 of the certificate the server presents (fetched here without verification)."""
    import socket

    from certline.app.est.tls_context import fingerprint_sha256, insecure_context_for_bootstrap_only

    ctx = insecure_context_for_bootstrap_only()
    with socket.create_connection(("127.0.0.1", server.port)) as sock, ctx.wrap_socket(sock) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der
    return fingerprint_sha256(der)


def pop_factory(key: ec.EllipticCurvePrivateKey, made: list[bytes | None]) -> Callable[[bytes | None], bytes]:
    """A device-like CSR factory putting base64(tls-unique) into challengePassword."""

    def factory(tls_unique: bytes | None) -> bytes:
        made.append(tls_unique)
        builder = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pop-dev")])
        )
        if tls_unique is not None:
            builder = builder.add_attribute(
                x509.oid.AttributeOID.CHALLENGE_PASSWORD, base64.b64encode(tls_unique)
            )
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    return factory
