"""HTTPS POST authenticated with a client certificate whose key stays on the device.

EST ``/simplereenroll`` (and DTM's ``clientauth.HOST``) demands TLS client
authentication with the certificate being renewed. Its private key never leaves
the device, and Python's :mod:`ssl` cannot sign with a key it does not hold, so
this module runs the handshake with tlslite-ng and a key object that forwards
the CertificateVerify signature to the device (:mod:`certline.app.est.device_key_tlslite`).

tlslite-ng does not validate the server's certificate chain, so we do it
(:mod:`certline.app.est.server_chain_check`) as soon as the server's Certificate message
arrives - before the device is asked to sign - and again after the handshake,
before a single request byte is written.
"""

from __future__ import annotations

import ipaddress
import socket
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

with warnings.catch_warnings():
    # tlslite-ng's package __init__ imports its unused asyncore integration (warns on 3.11).
    warnings.filterwarnings(
        "ignore", message="The asyncore module is deprecated", category=DeprecationWarning
    )
    from tlslite import HandshakeSettings, TLSConnection
    from tlslite.constants import AlertDescription
    from tlslite.errors import TLSAbruptCloseError, TLSError, TLSLocalAlert, TLSRemoteAlert
    from tlslite.x509 import X509
    from tlslite.x509certchain import X509CertChain

from certline.app.est.deadline import Deadline, bind
from certline.app.est.device_key_tlslite import (
    ExternalKey,
    ExternalKeyError,
    Signer,
    external_key_for,
    signer_from_private_key,
)
from certline.app.est.errors import EstConnectionError, EstError, EstResponseError, EstTimeout, EstTlsError
from certline.app.est.server_chain_check import verify_server_chain

__all__ = [
    "MAX_RESPONSE_BYTES",
    "Signer",
    "post_with_external_key",
    "signer_from_private_key",
]

MAX_RESPONSE_BYTES = 1 << 20
"""EST answers are a few kilobytes; anything past 1 MiB is a broken or hostile server."""

_MAX_HEADER_BYTES = 64 * 1024
_READ_CHUNK = 16 * 1024

# Alerts with which a server says "I do not accept your certificate (or its signature)".
_CLIENT_CERT_ALERTS = {
    AlertDescription.bad_certificate,
    AlertDescription.unsupported_certificate,
    AlertDescription.certificate_revoked,
    AlertDescription.certificate_expired,
    AlertDescription.certificate_unknown,
    AlertDescription.unknown_ca,
    AlertDescription.access_denied,
    AlertDescription.decrypt_error,
    AlertDescription.certificate_required,
}
_NEGOTIATION_ALERTS = {
    AlertDescription.handshake_failure,
    AlertDescription.protocol_version,
    AlertDescription.insufficient_security,
}


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    path: str
    host_header: str


def _parse_url(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise ValueError("client-certificate EST needs an https:// URL")
    host = parts.hostname
    if not host:
        raise ValueError("URL has no host")
    try:
        port = parts.port or 443
    except ValueError as exc:
        raise ValueError("URL has an invalid port") from exc
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if port == 443 else f"{bracketed}:{port}"
    return _Target(host=host, port=port, path=path, host_header=host_header)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _build_request(target: _Target, headers: dict[str, str], body: bytes) -> bytes:
    """Serialise the POST; refuses CR/LF in headers (naming the header, never echoing its value)."""
    reserved = {"host", "content-length", "connection", "transfer-encoding"}
    lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.host_header}"]
    for name, value in headers.items():
        if not name or any(c in name for c in "\r\n:\0 ") or any(c in value for c in "\r\n\0"):
            raise ValueError(f"invalid HTTP header {name!r}")
        if name.lower() not in reserved:
            lines.append(f"{name}: {value}")
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def _settings_for(key: ExternalKey) -> HandshakeSettings:
    """TLS 1.2-1.3, forward-secret AEAD suites, and signature hashes the device can produce.

    For ECDSA the hash matching the curve is listed first, so a TLS 1.2 server that offers it
    gets a signature over the digest the device expects (TLS 1.3 binds it anyway).
    """
    settings = HandshakeSettings()
    settings.minVersion = (3, 3)
    settings.maxVersion = (3, 4)
    settings.versions = [(3, 4), (3, 3)]
    # No native crypto backend is loaded into tlslite, so records are ciphered in pure Python;
    # ChaCha20-Poly1305 is the fastest there (~1.5x AES-GCM), and EST bodies are small anyway.
    settings.cipherNames = ["chacha20-poly1305", "aes128gcm", "aes256gcm"]
    settings.macNames = ["aead"]
    settings.keyExchangeNames = ["ecdhe_ecdsa", "ecdhe_rsa"]
    settings.eccCurves = ["x25519", "secp256r1", "secp384r1"]
    settings.keyShares = ["x25519"]
    settings.more_sig_schemes = []
    settings.dsaSigHashes = []
    settings.rsaSigHashes = ["sha256", "sha384", "sha512"]
    # PKCS#1 v1.5 first: in TLS 1.2 that is what every device signs; TLS 1.3 skips it for PSS.
    settings.rsaSchemes = ["pkcs1", "pss"]
    hashes = ["sha256", "sha384", "sha512"]
    preferred = getattr(key, "tls13_hash", "sha256")
    settings.ecdsaSigHashes = [preferred] + [h for h in hashes if h != preferred]
    settings.use_heartbeat_extension = False
    # tlslite-ng 0.8 decides whether to send the *client* Certificate compressed by looking at
    # its own ClientHello instead of the server's CertificateRequest, so with compression on it
    # sends a CompressedCertificate the server never agreed to (OpenSSL: unexpected_message).
    settings.certificate_compression_send = []
    settings.certificate_compression_receive = []
    return settings


def _to_cryptography(chain: Any) -> list[x509.Certificate]:
    """tlslite X509CertChain -> cryptography certificates (leaf first)."""
    return [x509.load_der_x509_certificate(bytes(cert.bytes)) for cert in chain.x509List]


def _to_tlslite(chain: Sequence[x509.Certificate]) -> X509CertChain:
    certs = []
    for cert in chain:
        parsed = X509()
        parsed.parseBinary(bytearray(cert.public_bytes(Encoding.DER)))
        certs.append(parsed)
    return X509CertChain(certs)


class _DeferredSendErrorSocket:
    """Socket wrapper that reports a failed send at the next read instead of at once.

    A server that rejects our client certificate sends an alert and closes; our next write
    (the rest of the TLS 1.3 flight, or the request) then fails with EPIPE/ECONNRESET while
    the alert saying *why* still sits unread in the receive queue. tlslite gives up on the
    first socket error, so we let the failed send pass and let the following read surface the
    alert (or the reset, if there was none).
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.send_failed = False

    def send(self, data: bytes) -> int:
        if not self.send_failed:
            try:
                return self._sock.send(data)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                self.send_failed = True
        return len(data)

    def sendall(self, data: bytes) -> None:
        if not self.send_failed:
            try:
                self._sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                self.send_failed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _VerifyingConnection(TLSConnection):
    """A TLSConnection that vets the server's chain the moment it arrives.

    ``_clientGetKeyFromChain`` is tlslite's (private) step that receives the server Certificate
    in both TLS 1.2 and 1.3, before the client's CertificateVerify is produced. Hooking it means
    the device never signs for an untrusted server. Should a tlslite upgrade rename it, the
    post-handshake check in :func:`post_with_external_key` still stops the request.
    """

    def __init__(
        self, sock: _DeferredSendErrorSocket, check: Callable[[list[x509.Certificate]], None]
    ) -> None:
        super().__init__(sock)
        self._certline_check = check
        self.certline_error: EstTlsError | None = None

    def _clientGetKeyFromChain(self, certificate: Any, settings: Any, tack_ext: Any = None) -> Any:
        try:
            self._certline_check(_to_cryptography(certificate.cert_chain))
        except EstTlsError as exc:
            self.certline_error = exc
            yield from self._sendError(AlertDescription.bad_certificate, str(exc))
        except (ValueError, AttributeError):
            self.certline_error = EstTlsError("the server sent a certificate that cannot be parsed")
            yield from self._sendError(AlertDescription.bad_certificate, "unparseable server certificate")
        yield from super()._clientGetKeyFromChain(certificate, settings, tack_ext)


def _alert_error(alert: TLSRemoteAlert, host: str) -> EstTlsError:
    name = AlertDescription.toStr(alert.description)
    if alert.description in _CLIENT_CERT_ALERTS:
        return EstTlsError(f"server {host} rejected our client certificate (TLS alert {name})")
    if alert.description in _NEGOTIATION_ALERTS:
        return EstTlsError(f"no TLS version or cipher suite in common with server {host} (TLS alert {name})")
    return EstTlsError(f"server {host} aborted the TLS connection (TLS alert {name})")


def _handshake_error(exc: BaseException, conn: _VerifyingConnection, key: ExternalKey, host: str) -> EstError:
    """Turn whatever the handshake raised into the most specific explanation we have."""
    if conn.certline_error is not None:
        return conn.certline_error
    if key.signature_rejected:
        return EstTlsError(
            "the device's handshake signature does not verify with the certificate being renewed: "
            "the device's active key is not this certificate's key"
        )
    if isinstance(exc, TLSRemoteAlert):
        return _alert_error(exc, host)
    if isinstance(exc, TLSAbruptCloseError):
        return EstConnectionError(f"server {host} closed the connection during the TLS handshake")
    if isinstance(exc, TLSLocalAlert):
        return EstTlsError(f"TLS handshake with {host} failed: {exc.message or exc}")
    if isinstance(exc, TimeoutError):
        return EstConnectionError(f"timed out during the TLS handshake with {host}")
    if isinstance(exc, OSError):
        reason = exc.strerror or exc
        return EstConnectionError(f"connection to {host} failed during the TLS handshake: {reason}")
    return EstTlsError(f"TLS handshake with {host} failed: {exc}")


class _ResponseReader:
    """Buffered reads over the TLS connection with a hard size cap."""

    def __init__(self, conn: TLSConnection, host: str) -> None:
        self._conn = conn
        self._host = host
        self._buf = bytearray()
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        try:
            data = self._conn.read(max=_READ_CHUNK)
        except TLSAbruptCloseError:
            # Servers often skip close_notify; callers decide whether the body is complete.
            data = b""
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def _incomplete(self) -> EstConnectionError:
        return EstConnectionError(
            f"server {self._host} closed the connection before the response was complete"
        )

    def read_until(self, marker: bytes, limit: int) -> bytes:
        while True:
            idx = self._buf.find(marker)
            if idx >= 0:
                out = bytes(self._buf[: idx + len(marker)])
                del self._buf[: idx + len(marker)]
                return out
            if len(self._buf) > limit:
                raise EstResponseError(f"server {self._host} sent an oversized HTTP header or chunk line")
            if not self._fill():
                raise self._incomplete()

    def read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise self._incomplete()
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def read_to_eof(self, limit: int) -> bytes:
        while self._fill():
            if len(self._buf) > limit:
                raise _too_large(self._host)
        out = bytes(self._buf)
        self._buf.clear()
        return out


def _too_large(host: str) -> EstResponseError:
    return EstResponseError(f"response from {host} is larger than {MAX_RESPONSE_BYTES} bytes")


def _parse_head(raw: bytes, host: str) -> tuple[int, dict[str, str]]:
    try:
        text = raw.decode("latin-1")
        status_line, *header_lines = text.split("\r\n")
        version, code, *_ = status_line.split(" ", 2)
        if not version.startswith("HTTP/1.") or len(code) != 3:
            raise ValueError(status_line)
        status = int(code)
    except ValueError:
        raise EstResponseError(f"server {host} sent a malformed HTTP status line") from None
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise EstResponseError(f"server {host} sent a malformed HTTP header")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return status, headers


def _read_chunked(reader: _ResponseReader, host: str) -> bytes:
    body = bytearray()
    while True:
        line = reader.read_until(b"\r\n", 1024).decode("latin-1").strip()
        try:
            size = int(line.split(";", 1)[0], 16)
        except ValueError:
            raise EstResponseError(f"server {host} sent a malformed chunked body") from None
        if size == 0:
            # Skip trailers up to the blank line.
            while reader.read_until(b"\r\n", _MAX_HEADER_BYTES) != b"\r\n":
                pass
            return bytes(body)
        if len(body) + size > MAX_RESPONSE_BYTES:
            raise _too_large(host)
        body += reader.read_exact(size)
        if reader.read_exact(2) != b"\r\n":
            raise EstResponseError(f"server {host} sent a malformed chunked body")


def _read_response(conn: TLSConnection, host: str) -> tuple[int, dict[str, str], bytes]:
    reader = _ResponseReader(conn, host)
    while True:
        status, headers = _parse_head(reader.read_until(b"\r\n\r\n", _MAX_HEADER_BYTES), host)
        if not (100 <= status < 200):
            break  # 1xx (e.g. an unsolicited 100 Continue) precede the real answer
    if status in (204, 304):
        return status, headers, b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, headers, _read_chunked(reader, host)
    if "content-length" in headers:
        try:
            length = int(headers["content-length"].split(",")[0].strip())
        except ValueError:
            raise EstResponseError(f"server {host} sent an invalid Content-Length") from None
        if length < 0:
            raise EstResponseError(f"server {host} sent an invalid Content-Length")
        if length > MAX_RESPONSE_BYTES:
            raise _too_large(host)
        return status, headers, reader.read_exact(length)
    return status, headers, reader.read_to_eof(MAX_RESPONSE_BYTES)


def _connect(target: _Target, timeout: float, deadline: Deadline) -> socket.socket:
    try:
        sock = socket.create_connection((target.host, target.port), timeout=deadline.socket_timeout(timeout))
    except TimeoutError:
        raise EstConnectionError(f"timed out connecting to {target.host}:{target.port}") from None
    except OSError as exc:
        raise EstConnectionError(
            f"cannot connect to {target.host}:{target.port}: {exc.strerror or exc}"
        ) from None
    sock.settimeout(deadline.socket_timeout(timeout))
    deadline.watch(sock)
    return sock


def _close_quietly(conn: TLSConnection) -> None:
    try:
        conn.close()
    except (TLSError, OSError):
        pass
    try:
        conn.sock.close()
    except OSError:
        pass


def post_with_external_key(
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    client_chain: list[x509.Certificate],
    signer: Signer,
    trust_anchors: list[x509.Certificate],
    timeout: float = 30.0,
    deadline: Deadline | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """POST ``body`` to ``url`` over TLS, authenticated with ``client_chain`` and ``signer``.

    ``client_chain`` is leaf first; its leaf's public key is the key ``signer`` signs with
    (``DeviceDriver.sign_digest``). The server must chain to ``trust_anchors`` and name the
    URL's host, or :class:`EstTlsError` (with the server certificate's SHA-256) is raised and
    nothing is sent. Returns ``(status, headers with lower-case names, body)``; HTTP error
    statuses are returned, not raised - the EST client maps them.

    Raises :class:`EstConnectionError` for unreachable/timeouts/resets, :class:`EstTlsError`
    for handshake and certificate failures, :class:`EstResponseError` for a malformed or
    oversized response. An exception raised by ``signer`` (e.g. ``DeviceError``) propagates
    unchanged.

    ``timeout`` is the overall deadline of the exchange (connect, handshake - device signature
    included - request and whole answer), enforced by :mod:`certline.app.est.deadline` so a server
    dripping bytes cannot hold it; past it :class:`EstTimeout` names the server and the limit.
    A caller that tracks its requests passes its own bound ``deadline`` instead.
    """
    target = _parse_url(url)
    where = f"{target.host}:{target.port}"
    scope = nullcontext(deadline) if deadline is not None else bind(Deadline(timeout, where))
    timed_out = False
    with scope as limit:
        try:
            return _post(url, headers, body, client_chain, signer, trust_anchors, timeout, limit)
        except (EstConnectionError, EstTlsError, EstResponseError):
            if not limit.expired:
                raise
            timed_out = True
    assert timed_out  # raised here, outside the except block: no chained context
    raise _timeout_error(where, limit)


def _timeout_error(where: str, limit: Deadline) -> EstTimeout:
    if limit.aborted:
        return EstTimeout(
            f"the request to the EST server {where} was cancelled after {limit.elapsed():.0f} s "
            "without a complete answer (client closed)",
            where=where,
        )
    return EstTimeout(
        f"timed out after {limit.describe()}: the EST server {where} did not answer completely "
        "(the limit covers connecting, the TLS handshake, sending the request and reading the whole answer)",
        seconds=limit.seconds,
        where=where,
    )


def _post(
    url: str,
    headers: dict[str, str],
    body: bytes,
    client_chain: list[x509.Certificate],
    signer: Signer,
    trust_anchors: list[x509.Certificate],
    timeout: float,
    limit: Deadline,
) -> tuple[int, dict[str, str], bytes]:
    if not client_chain:
        raise ValueError("client_chain must hold at least the certificate being renewed")
    target = _parse_url(url)
    request = _build_request(target, headers, body)
    try:
        key = external_key_for(client_chain[0], signer)
        tls_chain = _to_tlslite(client_chain)
    except (ExternalKeyError, SyntaxError, ValueError) as exc:
        raise EstTlsError(f"the client certificate cannot be used for TLS: {exc}") from None
    settings = _settings_for(key)

    def check(chain: list[x509.Certificate]) -> None:
        verify_server_chain(chain, target.host, trust_anchors)

    sock = _DeferredSendErrorSocket(_connect(target, timeout, limit))
    conn = _VerifyingConnection(sock, check)
    try:
        try:
            conn.handshakeClientCert(
                tls_chain,
                key,
                settings=settings,
                serverName=None if _is_ip(target.host) else target.host,
                reqTack=False,
            )
        except Exception as exc:  # noqa: BLE001 - tlslite raises many types; all re-raised typed below
            if key.signer_error is not None:
                raise key.signer_error from None
            raise _handshake_error(exc, conn, key, target.host) from None

        # Belt and braces: never rely on the in-handshake hook alone.
        server_chain = conn.session.serverCertChain if conn.session else None
        if server_chain is None or not server_chain.x509List:
            raise EstTlsError(f"server {target.host} sent no certificate")
        check(_to_cryptography(server_chain))

        try:
            conn.write(request)
            return _read_response(conn, target.host)
        except TLSRemoteAlert as exc:
            # TLS 1.3: the server judges our certificate after its handshake ends, so a
            # rejection surfaces here.
            raise _alert_error(exc, target.host) from None
        except TLSError as exc:
            raise EstTlsError(f"TLS error talking to {target.host}: {exc}") from None
        except TimeoutError:
            raise EstConnectionError(f"timed out waiting for {target.host}") from None
        except OSError as exc:
            raise EstConnectionError(f"connection to {target.host} failed: {exc.strerror or exc}") from None
    finally:
        _close_quietly(conn)
