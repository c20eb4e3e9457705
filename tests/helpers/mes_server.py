"""A local MES endpoint for tests: HTTPS on 127.0.0.1 that can fail (500), hang and recover.

Like a careful MES it keeps one record per ``Idempotency-Key`` and answers a replay with 200, so
a test can tell "each record once" (``stored``) from "how often it was sent" (``requests``).
``mode``: ``"ok"`` stores and answers 201; ``"fail"`` answers 500 without storing; ``"hang"``
reads the request and then never answers (until the server is closed): the client's deadline
must cut it off.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tests.helpers.certs import make_cert, new_key, self_signed_ca


@dataclass
class Received:
    key: str | None
    body: bytes
    authorization: str | None
    answered: int | None  # None: left hanging


@dataclass
class FakeMes:
    url: str
    ca_file: Path
    mode: str = "ok"
    requests: list[Received] = field(default_factory=list)
    stored: dict[str, dict] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    fail_body: bytes = b"database down"

    def answered_2xx(self, key: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.key == key and r.answered and 200 <= r.answered < 300)

    def sent(self, key: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.key == key]


def _handler(mes: FakeMes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            raw_key = self.headers.get("Idempotency-Key")
            key = raw_key[1:-1] if raw_key and raw_key.startswith('"') and raw_key.endswith('"') else raw_key
            received = Received(key, body, self.headers.get("Authorization"), None)
            with mes.lock:
                mes.requests.append(received)
                mode = mes.mode
            if mode == "hang":
                mes.release.wait(30)
                return
            if mode == "fail":
                received.answered = 500
                self._answer(500, mes.fail_body)
                return
            with mes.lock:
                replay = key in mes.stored
                if not replay and key is not None:
                    mes.stored[key] = json.loads(body)
            received.answered = 200 if replay else 201
            self._answer(received.answered, b'{"ok":true}')

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def fake_mes(tmp_path: Path) -> Iterator[FakeMes]:
    """Start the MES on a free port with a throwaway CA (``ca_file`` for the client)."""
    ca_key, ca_cert = self_signed_ca("Test MES CA")
    key = new_key()
    cert = make_cert("127.0.0.1", key.public_key(), ca_key, issuer=ca_cert, ips=["127.0.0.1"])
    ca_file = tmp_path / "mes-ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file = tmp_path / "mes-server.pem"
    cert_file.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    mes = FakeMes(url="", ca_file=ca_file)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(mes))
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    mes.url = f"https://127.0.0.1:{server.server_address[1]}/api/units"
    thread = threading.Thread(target=server.serve_forever, name="fake-mes", daemon=True)
    thread.start()
    try:
        yield mes
    finally:
        mes.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
