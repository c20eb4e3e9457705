"""HTTP/1.1 over TLS: the listener and request handler of the EST test server.

The TLS handshake runs in the per-connection thread (not in ``accept``) so a
client that stalls mid-handshake cannot block the listener. Every live
connection is tracked so ``close_all`` can cut idle keep-alive connections and
``stop()`` returns promptly without leaking threads.

Transport faults (slow, truncate, close_after_headers, reset) are applied here,
after :class:`~certline.app.estserver.service.EstService` decided what to answer.
"""

from __future__ import annotations

import http.server
import logging
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from cryptography import x509

from certline.app.estserver.faults import FaultConfig, FaultKind
from certline.app.estserver.records import RequestLog, RequestRecord
from certline.app.estserver.routes import Operation, RouteError, parse_path
from certline.app.estserver.service import EstRequest, EstService, Response, text_response

log = logging.getLogger(__name__)


class TlsListener(http.server.ThreadingHTTPServer):
    """One TLS port. ``context_for_connection`` picks the SSLContext per accepted socket
    (so the tls12_only fault can switch versions at runtime)."""

    daemon_threads = True  # never keep the interpreter alive for a stuck client...
    block_on_close = False  # ...and the stdlib does not track daemon threads: see _workers

    def __init__(
        self,
        address: tuple[str, int],
        *,
        name: str,
        service: EstService,
        faults: FaultConfig,
        requests_log: RequestLog,
        context_for_connection: Callable[[], ssl.SSLContext],
        stopping: threading.Event,
        handshake_timeout: float,
        idle_timeout: float,
    ) -> None:
        self.listener_name = name
        self.service = service
        self.faults = faults
        self.requests_log = requests_log
        self._context_for_connection = context_for_connection
        self.stopping = stopping
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._reset: set[int] = set()
        self._workers: set[threading.Thread] = set()
        self.connections_accepted = 0
        self.handshake_failures = 0
        super().__init__(address, EstRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall for
        # seconds on machines without DNS; the test server never needs it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        # headers and body leave in separate TLS records: without NODELAY, Nagle holds the body
        # until the client's delayed ACK (~40 ms per keep-alive request on Linux)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = self._context_for_connection()
        return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self._worker,
            args=(request, client_address),
            name=f"est-{self.listener_name}-conn",
            daemon=True,
        )
        with self._conn_lock:
            self._connections.add(request)
            self._workers.add(worker)
            self.connections_accepted += 1
        worker.start()

    def _worker(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._workers.discard(threading.current_thread())

    def join_workers(self, timeout: float) -> list[threading.Thread]:
        """Wait for connection threads to finish; returns any still alive after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._conn_lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        return [w for w in workers if w.is_alive()]

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.handshake_timeout)
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            with self._conn_lock:
                self.handshake_failures += 1
            log.debug("%s: TLS handshake from %s failed: %s", self.listener_name, client_address, exc)
            return
        super().finish_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
            reset = id(request) in self._reset
            self._reset.discard(id(request))
        if reset:
            try:
                socket.socket.close(request)  # linger 0 is set: RST, no FIN, no close_notify
            except OSError:
                pass
            return
        super().shutdown_request(request)

    def mark_reset(self, request: socket.socket) -> None:
        request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._conn_lock:
            self._reset.add(id(request))

    def close_all(self) -> None:
        """Shut down every live connection so blocked handler threads wake up and exit."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("%s: error handling request from %s", self.listener_name, client_address, exc_info=True)


class EstRequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CertlineEstTestServer/1"
    server: TlsListener

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # the request line holds the path only; headers (Authorization) are never logged
        log.debug("%s %s - %s", self.server.listener_name, self.client_address[0], format % args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    # ----------------------------------------------------------------- plumbing
    _record: RequestRecord | None = None

    def _read_body(self) -> bytes | None:
        """Request body (Content-Length or chunked); None after answering 400/413 itself."""
        limit = self.server.service.config.max_body_bytes
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = bytearray()
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    self._send(text_response(400, "bad chunked encoding", close=True))
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(chunks)
                if len(chunks) + size > limit:
                    self._send(text_response(413, "request body too large", close=True))
                    return None
                chunks += self.rfile.read(size)
                self.rfile.readline(1024)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._send(text_response(400, "bad Content-Length", close=True))
            return None
        if length > limit:
            self._send(text_response(413, "request body too large", close=True))
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _peer(self) -> tuple[x509.Certificate | None, str | None, bytes | None]:
        conn = self.connection
        if not isinstance(conn, ssl.SSLSocket):
            return None, None, None
        der = conn.getpeercert(binary_form=True)
        cert = x509.load_der_x509_certificate(der) if der else None
        version = conn.version()
        tls_unique = conn.get_channel_binding("tls-unique") if version == "TLSv1.2" else None
        return cert, version, tls_unique

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            return
        record = RequestRecord(
            method=self.command,
            path=self.path,
            headers=list(self.headers.items()),
            body=body,
            listener=self.server.listener_name,
        )
        self._record: RequestRecord | None = record
        try:
            self._dispatch(record, body)
        finally:
            self._commit_record()  # only if an exception skipped the normal path

    def _commit_record(self) -> None:
        """Publish the request record *before* answering: a client that has its response
        must find its request in ``server.requests`` (no race with the handler thread)."""
        record, self._record = self._record, None
        if record is not None:
            self.server.requests_log.append(record)

    def _dispatch(self, record: RequestRecord, body: bytes) -> None:
        try:
            route = parse_path(self.path)
        except RouteError as exc:
            record.status = 404
            self._commit_record()
            self._send(text_response(404, str(exc)))
            return
        record.op, record.label, record.device_group = route.op.value, route.label, route.device_group
        peer_cert, version, tls_unique = self._peer()
        record.client_cert_subject = peer_cert.subject.rfc4514_string() if peer_cert else None
        record.tls_version = version
        request = EstRequest(
            method=self.command,
            route=route,
            headers=dict(self.headers.items()),
            body=body,
            listener=self.server.listener_name,
            peer_cert=peer_cert,
            tls_version=version,
            tls_unique=tls_unique,
        )
        response = self.server.service.handle(request)
        record.status = response.status
        record.auth_style = response.auth_style
        self._commit_record()
        self._send_with_faults(response, route.op)

    def _send_with_faults(self, response: Response, op: Operation) -> None:
        faults = self.server.faults
        if response.drop:
            self.close_connection = True  # issued and recorded; the client never hears of it
            return
        if faults.take(FaultKind.RESET, op) is not None:
            self.close_connection = True
            self.server.mark_reset(self.connection)
            return
        slow = faults.take(FaultKind.SLOW, op)
        if slow is not None and self.server.stopping.wait(slow.seconds):
            self.close_connection = True
            return
        if faults.take(FaultKind.CLOSE_AFTER_HEADERS, op) is not None:
            self._send(response, body_bytes=0)
            self.close_connection = True
            return
        if faults.take(FaultKind.TRUNCATE, op) is not None and response.body:
            self._send(response, body_bytes=len(response.body) // 2)
            self.close_connection = True
            return
        self._send(response)

    def _send(self, response: Response, *, body_bytes: int | None = None) -> None:
        """Status, headers (Content-Length always the full length), then ``body_bytes`` of body."""
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if response.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        body = response.body if body_bytes is None else response.body[:body_bytes]
        if body:
            self.wfile.write(body)
        self.wfile.flush()
