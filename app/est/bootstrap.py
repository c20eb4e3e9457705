"""First contact with an unknown EST CA (RFC 7030 4.1.1 "bootstrap distribution of CA certificates").

1. :func:`fetch_cacerts_unverified` GETs ``/cacerts`` over TLS *without* verifying
   the server -- the only place in Certline where verification is off, through
   :func:`certline.app.est.tls_context.insecure_context_for_bootstrap_only`. No credential is ever
   sent on that connection.
2. The operator compares the SHA-256 fingerprints it returns (the server's TLS
   certificate and every CA certificate) with ones obtained out of band.
3. Only after that confirmation, :func:`pin` turns the confirmed CA (plus any
   returned certificate that chains up to it) into the PEM stored in
   ``profile.ca_bundle_pem``. Nothing is trusted automatically.
"""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509

from certline.app.config.est_urls import parse_est_url
from certline.app.est import encoding
from certline.app.est.deadline import Deadline, bind
from certline.app.est.errors import EstConnectionError, EstError, EstTimeout, EstTlsError
from certline.app.est.issued_chain_check import certs_signed_by, order_ca_certs
from certline.app.est.tls_context import fingerprint_sha256, insecure_context_for_bootstrap_only
from certline.app.est.transport import (
    MAX_RESPONSE,
    USER_AGENT,
    HttpResponse,
    error_for_status,
    open_connection,
)
from certline.app.pki import fingerprint as cert_fingerprint  # one fingerprint format everywhere


@dataclass(frozen=True)
class BootstrapResult:
    """What an unverified ``/cacerts`` returned, for out-of-band comparison. Not trusted yet."""

    url: str
    server_certificate: x509.Certificate
    server_fingerprint: str
    ca_certs: tuple[x509.Certificate, ...]
    ca_fingerprints: tuple[str, ...]
    server_issued_by_ca: bool
    """The TLS server certificate was signed by one of the returned CAs. When False, a bundle
    pinned from these CAs alone will not verify the server's TLS certificate."""


def normalise_fingerprint(text: str) -> str:
    """Accept ``AB:CD..``, ``abcd..``, ``SHA256:..``, ``sha256 Fingerprint=..`` -> ``AB:CD:..``."""
    cleaned = text.strip()
    for prefix in ("sha256 fingerprint=", "sha256:", "sha-256:", "sha256="):
        if cleaned.lower().startswith(prefix):
            cleaned = cleaned[len(prefix) :]
    hexdigits = "".join(ch for ch in cleaned if ch not in ": \t-").upper()
    if len(hexdigits) != 64 or any(ch not in "0123456789ABCDEF" for ch in hexdigits):
        raise ValueError("a SHA-256 fingerprint is 64 hex digits (colons optional)")
    return ":".join(hexdigits[i : i + 2] for i in range(0, 64, 2))


def fetch_cacerts_unverified(
    url: str,
    *,
    label: str | None = None,
    device_group: str | None = None,
    timeout: float = 30.0,
) -> BootstrapResult:
    """GET ``/cacerts`` WITHOUT verifying the server (bootstrap only; see module doc)."""
    cacerts_url = parse_est_url(url, label=label, device_group=device_group).url("cacerts")
    parts = urlsplit(cacerts_url)
    where = f"{parts.hostname}:{parts.port or 443}"
    limit = Deadline(timeout, where)  # overall: a server dripping bytes cannot hold the bootstrap
    conn = open_connection(cacerts_url, insecure_context_for_bootstrap_only(), timeout, deadline=limit)
    with bind(limit):
        failure, server_der, resp = _get_cacerts(conn, parts.path, where)
    if limit.expired:
        failure = EstTimeout(
            f"bootstrap: timed out after {limit.describe()}: "
            f"the EST server {where} did not answer completely",
            seconds=limit.seconds,
            where=where,
        )
    if failure is not None:
        raise failure
    assert resp is not None
    return _bootstrap_result(cacerts_url, where, server_der, resp)


def _get_cacerts(
    conn: http.client.HTTPSConnection, path: str, where: str
) -> tuple[EstError | None, bytes | None, HttpResponse | None]:
    failure: EstError | None = None
    server_der: bytes | None = None
    resp: HttpResponse | None = None
    try:
        conn.connect()
        sock = conn.sock
        if isinstance(sock, ssl.SSLSocket):
            server_der = sock.getpeercert(binary_form=True)
        conn.request("GET", path, headers={"User-Agent": USER_AGENT})
        raw = conn.getresponse()
        body = raw.read(MAX_RESPONSE + 1)
        resp = HttpResponse(status=raw.status, headers=dict(raw.getheaders()), body=body)
    except ssl.SSLError as exc:
        failure = EstTlsError(f"bootstrap: TLS with {where} failed: {exc.reason or type(exc).__name__}")
    except (OSError, http.client.HTTPException) as exc:
        failure = EstConnectionError(f"bootstrap: cannot reach {where}: {type(exc).__name__}")
    finally:
        conn.close()
    return failure, server_der, resp


def _bootstrap_result(
    cacerts_url: str, where: str, server_der: bytes | None, resp: HttpResponse
) -> BootstrapResult:
    if resp.status != 200:
        raise error_for_status(resp, "bootstrap /cacerts", lambda s: s)
    if len(resp.body) > MAX_RESPONSE:
        raise EstConnectionError(f"bootstrap: the /cacerts response from {where} is too large")
    if not server_der:
        raise EstTlsError(f"bootstrap: {where} presented no certificate")
    server_cert = x509.load_der_x509_certificate(server_der)
    cas = order_ca_certs(encoding.parse_certs(resp.body, "/cacerts"))
    return BootstrapResult(
        url=cacerts_url,
        server_certificate=server_cert,
        server_fingerprint=fingerprint_sha256(server_der),
        ca_certs=tuple(cas),
        ca_fingerprints=tuple(cert_fingerprint(c) for c in cas),
        server_issued_by_ca=_issued_by_any(server_cert, cas),
    )


def _issued_by_any(cert: x509.Certificate, cas: list[x509.Certificate]) -> bool:
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
            return True
        except Exception:  # noqa: BLE001, S112 - any failure just means "not this one"
            continue
    return False


def pin(result: BootstrapResult, confirmed_fingerprint: str) -> str:
    """The PEM bundle to store as ``profile.ca_bundle_pem`` once the operator confirmed
    ``confirmed_fingerprint`` out of band.

    The confirmed certificate must be one of the returned CA certificates; the bundle holds
    it plus every returned certificate that chains up to it (issuer-signed, CA-flagged).
    Anything else the server sent stays untrusted. Raises ``ValueError`` on a mismatch.
    """
    wanted = normalise_fingerprint(confirmed_fingerprint)
    for cert, fp in zip(result.ca_certs, result.ca_fingerprints, strict=True):
        if fp == wanted:
            trusted = certs_signed_by(cert, list(result.ca_certs))
            return encoding.certs_to_pem(order_ca_certs(trusted))
    if wanted == result.server_fingerprint:
        raise ValueError("that is the server's TLS certificate; confirm the fingerprint of a CA certificate")
    raise ValueError("the confirmed fingerprint matches none of the CA certificates the server sent")
