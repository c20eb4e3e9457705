"""A TLS server on 127.0.0.1 that answers one byte at a time (a "slowloris" in reverse).

Each byte arrives well within any per-read socket timeout, so only an overall
deadline can stop a client from waiting for minutes. ``phase`` says where the
dripping happens: during the TLS ``handshake`` (the server's flight), in the
response ``headers``, or in the ``body`` after complete headers.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers.certs import CA_KEY_USAGE, make_cert, new_key

BODY_BYTES = 2000


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca_and_server() -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    now = datetime.now(UTC)
    ca_key = new_key()
    ca = make_cert(
        "Trickle Test CA",
        ca_key.public_key(),
        ca_key,
        ca=True,
        key_usage=CA_KEY_USAGE,
        not_after=now + timedelta(days=2),
        extensions=[(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)],
    )
    key = new_key()
    server = make_cert(
        "127.0.0.1",
        key.public_key(),
        ca_key,
        issuer=ca,
        ca=False,
        not_after=now + timedelta(days=2),
        ips=["127.0.0.1"],
        extensions=[
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
            (x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False),
        ],
    )
    return ca, server, key


class TrickleServer:
    """Drips its answer one byte every ``interval`` seconds; counts connections."""

    def __init__(self, phase: str, *, interval: float = 0.05) -> None:
        assert phase in ("handshake", "headers", "body")
        self.phase = phase
        self.interval = interval
        ca, server, key = _ca_and_server()
        self.ca = ca
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode("ascii")
        with tempfile.TemporaryDirectory() as tmp:
            cert_path, key_path = Path(tmp) / "s.pem", Path(tmp) / "s.key"
            cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(cert_path, key_path)
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.base_url = f"https://127.0.0.1:{self.port}/.well-known/est"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _drip(self, raw: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self._stop.wait(self.interval):
                return
            raw.sendall(data[i : i + 1])

    def _serve(self, raw: socket.socket) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self._ctx.wrap_bio(incoming, outgoing, server_side=True)
        raw.settimeout(30)
        try:
            while True:  # handshake, with our flight sent whole or byte by byte
                try:
                    tls.do_handshake()
                    done = True
                except ssl.SSLWantReadError:
                    done = False
                flight = outgoing.read()
                if flight:
                    if self.phase == "handshake":
                        self._drip(raw, flight)
                        return
                    raw.sendall(flight)
                if done:
                    break
                data = raw.recv(65536)
                if not data:
                    return
                incoming.write(data)
            request = b""
            while b"\r\n\r\n" not in request:
                try:
                    request += tls.read(65536)
                except ssl.SSLWantReadError:
                    data = raw.recv(65536)
                    if not data:
                        return
                    incoming.write(data)
                raw.sendall(outgoing.read())
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/pkcs7-mime\r\n"
                f"Content-Length: {BODY_BYTES}\r\n\r\n"
            ).encode("ascii")
            body = b"A" * BODY_BYTES
            if self.phase == "headers":
                tls.write(head + body)
                self._drip(raw, outgoing.read())
                return
            tls.write(head)
            raw.sendall(outgoing.read())
            tls.write(body)
            self._drip(raw, outgoing.read())
        except (OSError, ssl.SSLError):
            return
        finally:
            raw.close()

    def close(self) -> None:
        self._stop.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self._thread.join(timeout=5)
