"""A scripted HTTPS server on 127.0.0.1 for responses the real test server never sends
(echoed credentials, HTML error pages, redirects, odd multipart). Real TLS, tiny surface."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.est import pki


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


Script = Callable[[Seen], Reply]


@dataclass
class FakeEst:
    url: str
    ca_pem: str
    pki: pki.Pki
    seen: list[Seen]
    server_cert: x509.Certificate


def _server_identity(p: pki.Pki, tmpdir: str) -> tuple[str, x509.Certificate]:
    key = pki.key()
    cert = pki.cert(
        "127.0.0.1", key.public_key(), (p.intermediate, p.int_key), p.int_key, ca=False, ips=["127.0.0.1"]
    )
    path = f"{tmpdir}/server.pem"
    with open(path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
        fh.write(p.intermediate.public_bytes(serialization.Encoding.PEM))
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return path, cert


@contextmanager
def fake_est(script: Script, tmpdir: str) -> Iterator[FakeEst]:
    p = pki.make_pki("Fake EST Root")
    identity, server_cert = _server_identity(p, tmpdir)
    seen: list[Seen] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Seen(self.command, self.path, dict(self.headers.items()), body)
            seen.append(request)
            reply = script(request)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = _handle
        do_POST = _handle

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(identity)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            return  # a client hanging up mid-response is expected in these tests

    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield FakeEst(
            url=f"https://127.0.0.1:{httpd.server_address[1]}",
            ca_pem=p.root.public_bytes(serialization.Encoding.PEM).decode(),
            pki=p,
            seen=seen,
            server_cert=server_cert,
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
