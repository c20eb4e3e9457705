"""``EstTestServer``: the local HTTPS EST server used by tests, the demo and ``certline est-server``.

Two TLS listeners, like DigiCert DTM: the passcode listener (``url``) and a
client-certificate listener (``clientauth_url``) whose handshake requires a
certificate chaining to this CA (or to ``config.extra_client_ca_pem``). Both
serve the same EST routes. Loopback only by default.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import ssl
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from certline.app.estserver.ca import CertificateAuthority, CertPublicKey, spki_sha256
from certline.app.estserver.config import ServerConfig
from certline.app.estserver.faults import FaultConfig, FaultKind
from certline.app.estserver.listener import TlsListener
from certline.app.estserver.records import IssuanceLog, IssuedRecord, RequestLog, RequestRecord
from certline.app.estserver.routes import WELL_KNOWN, Operation, build_path
from certline.app.estserver.service import CLIENTAUTH_LISTENER, PASSCODE_LISTENER, EstService

log = logging.getLogger(__name__)


def _tmp_parent() -> str | None:
    """Prefer a memory-backed tmpfs for the TLS key file that ``ssl`` insists on reading."""
    shm = Path("/dev/shm")  # noqa: S108 - only a parent for a private mkdtemp
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class EstTestServer:
    """A real RFC 7030 server over TLS on 127.0.0.1 with a throwaway CA and fault injection.

    Credentials: ``passcode`` is accepted for every label, ``passcodes`` maps a
    label to its own passcode, ``users`` maps user → password for the
    ``user:password`` Basic style. With none of them a random passcode is made
    (read it from :attr:`passcode`) unless ``auto_passcode`` is False, which leaves
    Basic authentication with nothing to match (client certificates only).
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clientauth_port: int = 0,
        *,
        passcode: str | None = None,
        passcodes: Mapping[str, str] | None = None,
        users: Mapping[str, str] | None = None,
        config: ServerConfig | None = None,
        auto_passcode: bool = True,
    ) -> None:
        self.config = config or ServerConfig()
        self.host = host
        self._ports = (port, clientauth_port)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        if auto_passcode and passcode is None and not passcodes and not users:
            passcode = secrets.token_urlsafe(12)
        self._passcode = passcode
        self.faults = FaultConfig()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.ca = CertificateAuthority.load_or_create(
                self.state_dir / "ca",
                key_algorithm=self.config.key_algorithm,
                intermediate=self.config.intermediate,
            )
            self._issuance = IssuanceLog(self.state_dir / "issued.jsonl")
        else:
            self.ca = CertificateAuthority.create(
                key_algorithm=self.config.key_algorithm, intermediate=self.config.intermediate
            )
            self._issuance = IssuanceLog()
        self._requests = RequestLog(self.config.max_recorded_requests)
        self.service = EstService(
            self.ca,
            self.config,
            self.faults,
            self._issuance,
            passcode=passcode,
            passcodes=passcodes,
            users=users,
        )
        self._stopping = threading.Event()
        self._listeners: list[TlsListener] = []
        self._threads: list[threading.Thread] = []
        self._ca_file: Path | None = None

    def __repr__(self) -> str:
        state = "running" if self._listeners else "stopped"
        return f"EstTestServer({state}, ports={self._ports if not self._listeners else None})"

    # -------------------------------------------------------------- lifecycle
    def start(self) -> EstTestServer:
        if self._listeners:
            return self
        self._stopping.clear()
        self._ca_file = self._write_ca_file()
        contexts = self._build_contexts()

        def chooser(name: str) -> ssl.SSLContext:
            capped = self.faults.take(FaultKind.TLS12_ONLY) is not None
            return contexts[(name, capped)]

        try:
            for name, port in ((PASSCODE_LISTENER, self._ports[0]), (CLIENTAUTH_LISTENER, self._ports[1])):
                listener = TlsListener(
                    (self.host, port),
                    name=name,
                    service=self.service,
                    faults=self.faults,
                    requests_log=self._requests,
                    context_for_connection=lambda n=name: chooser(n),  # type: ignore[misc]
                    stopping=self._stopping,
                    handshake_timeout=self.config.handshake_timeout,
                    idle_timeout=self.config.idle_timeout,
                )
                self._listeners.append(listener)
        except OSError:
            self._close_listeners()
            raise
        for listener in self._listeners:
            thread = threading.Thread(
                target=listener.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"est-{listener.listener_name}-{listener.server_port}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop accepting, cut live connections, join every thread. Idempotent.

        A later :meth:`start` binds the same ports again, so clients' URLs stay valid
        across a simulated server restart.
        """
        self._stopping.set()
        if self._listeners:
            self._ports = (self.port, self.clientauth_port)
        for listener in self._listeners:
            listener.shutdown()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self._close_listeners()

    def close(self) -> None:
        """:meth:`stop` and remove the temporary CA file (no restart expected after this)."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self._ca_file = None

    def _close_listeners(self) -> None:
        for listener in self._listeners:
            listener.server_close()
            listener.close_all()
        for listener in self._listeners:
            stuck = listener.join_workers(timeout=10.0)
            if stuck:  # every socket was shut down, so this means a bug, not a slow client
                log.warning("%d EST connection threads did not stop", len(stuck))
        self._listeners.clear()

    def __enter__(self) -> EstTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -------------------------------------------------------------------- TLS
    def _build_contexts(self) -> dict[tuple[str, bool], ssl.SSLContext]:
        cert, key = self.ca.issue_tls_server(self.config.tls_hosts + (self.host,))
        chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, self.ca.root_cert))
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        client_cas = self.ca.chain_pem.decode("ascii")
        if self.config.extra_client_ca_pem:
            client_cas += "\n" + self.config.extra_client_ca_pem.decode("ascii")
        contexts: dict[tuple[str, bool], ssl.SSLContext] = {}
        # ssl can only load a key from a file: write it owner-only, load, delete at once
        with tempfile.TemporaryDirectory(prefix="certline-est-", dir=_tmp_parent()) as tmp:
            cert_path, key_path = Path(tmp) / "tls.pem", Path(tmp) / "tls.key"
            cert_path.write_bytes(chain_pem)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key_pem)
            for name in (PASSCODE_LISTENER, CLIENTAUTH_LISTENER):
                for capped in (False, True):
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                    if capped:
                        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
                    ctx.load_cert_chain(cert_path, key_path)
                    if name == CLIENTAUTH_LISTENER:
                        ctx.verify_mode = ssl.CERT_REQUIRED
                        ctx.load_verify_locations(cadata=client_cas)
                    elif self.config.passcode_listener_requests_cert:
                        ctx.verify_mode = ssl.CERT_OPTIONAL
                        ctx.load_verify_locations(cadata=client_cas)
                    contexts[(name, capped)] = ctx
        return contexts

    def _write_ca_file(self) -> Path:
        if self.state_dir is not None:
            directory = self.state_dir
        else:
            # kept across stop()/start() so verify= paths stay valid; removed when this
            # object is garbage collected or the interpreter exits (TemporaryDirectory finalizer)
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="certline-est-ca-")
            directory = Path(self._tmp.name)
        path = directory / "ca.pem"
        path.write_bytes(self.ca.ca_pem)
        return path

    # ------------------------------------------------------------- addresses
    def _listener(self, name: str) -> TlsListener:
        for listener in self._listeners:
            if listener.listener_name == name:
                return listener
        raise RuntimeError("EST test server is not running")

    def _bound_port(self, name: str, index: int) -> int:
        if self._listeners:
            return self._listener(name).server_port
        if self._ports[index]:
            return self._ports[index]  # stopped: the port it had (and will take again)
        raise RuntimeError("EST test server was never started")

    @property
    def port(self) -> int:
        """Passcode listener port; after :meth:`stop` still the port a restart will reuse."""
        return self._bound_port(PASSCODE_LISTENER, 0)

    @property
    def clientauth_port(self) -> int:
        return self._bound_port(CLIENTAUTH_LISTENER, 1)

    def _origin(self, port: int) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{port}"

    @property
    def url(self) -> str:
        """Origin of the passcode listener, e.g. ``https://127.0.0.1:40123``."""
        return self._origin(self.port)

    @property
    def clientauth_url(self) -> str:
        """Origin of the client-certificate listener (DTM's ``clientauth.HOST``)."""
        return self._origin(self.clientauth_port)

    def est_base(self, label: str | None = None, *, clientauth: bool = False) -> str:
        """``https://127.0.0.1:PORT/.well-known/est[/label]`` (no trailing slash)."""
        origin = self.clientauth_url if clientauth else self.url
        if not label:
            return origin + WELL_KNOWN
        return origin + build_path(Operation.CACERTS, label).rsplit("/", 1)[0]

    def est_url(
        self,
        op: Operation | str,
        label: str | None = None,
        device_group: str | None = None,
        *,
        clientauth: bool = False,
        group_style: str = "suffix",
    ) -> str:
        """Full URL of one operation; DTM puts the device group after it (``suffix``)."""
        origin = self.clientauth_url if clientauth else self.url
        return origin + build_path(op, label, device_group, group_style=group_style)

    # ------------------------------------------------------------ CA material
    @property
    def passcode(self) -> str | None:
        """The label-independent passcode (generated when none was configured)."""
        return self._passcode

    def set_passcode(self, passcode: str | None) -> None:
        """Issue a new passcode (the old one is refused from now on), as a CA portal does."""
        self._passcode = passcode
        self.service.set_passcode(passcode)

    @property
    def throttled_count(self) -> int:
        """How many requests this server answered 429 (its throttle)."""
        return self.service.throttle.refused

    @property
    def ca_pem(self) -> str:
        """Root certificate (the trust anchor) as PEM text."""
        return self.ca.ca_pem.decode("ascii")

    @property
    def chain_pem(self) -> str:
        """Issuing CA then root, PEM text (what /cacerts returns)."""
        return self.ca.chain_pem.decode("ascii")

    @property
    def ca_file(self) -> Path:
        """PEM file of the root (state dir, or a private temp dir); for ``verify=``."""
        if self._ca_file is None:
            raise RuntimeError("EST test server is not running")
        return self._ca_file

    @property
    def ca_fingerprint(self) -> str:
        """SHA-256 of the root certificate, colon-separated upper-case hex."""
        return self.ca.fingerprint

    @property
    def ca_fingerprint_hex(self) -> str:
        """SHA-256 of the root certificate, plain lower-case hex."""
        return self.ca.fingerprint.replace(":", "").lower()

    # ------------------------------------------------------------- records
    @property
    def issued(self) -> list[IssuedRecord]:
        """Every certificate issued (including before a restart when a state dir is used)."""
        return self._issuance.snapshot()

    def issued_for_key(self, public_key: object) -> list[IssuedRecord]:
        """Issuance records whose certificate carries ``public_key``."""
        digest = spki_sha256(public_key)
        return [r for r in self._issuance.snapshot() if r.public_key_sha256 == digest]

    @property
    def post_count(self) -> int:
        """Every POST this server received since it started (not bounded like :attr:`requests`)."""
        return self.service.post_count

    def posts_for_csr(self, csr_der: bytes) -> int:
        """How many POSTs carried exactly this CSR (DER), whatever they were answered."""
        return self.service.posts_by_csr.get(hashlib.sha256(csr_der).hexdigest(), 0)

    @property
    def requests(self) -> list[RequestRecord]:
        """The most recent requests (bounded), oldest first."""
        return self._requests.snapshot()

    def clear_requests(self) -> None:
        self._requests.clear()

    def connection_count(self, listener: str = PASSCODE_LISTENER) -> int:
        """TCP connections accepted so far on a listener (keep-alive reuse shows as fewer)."""
        return self._listener(listener).connections_accepted

    def handshake_failures(self, listener: str = CLIENTAUTH_LISTENER) -> int:
        """TLS handshakes that failed on a listener (e.g. no or untrusted client certificate)."""
        return self._listener(listener).handshake_failures

    # ------------------------------------------------------------- helpers
    def issue_client_certificate(
        self,
        subject_cn: str,
        public_key: CertPublicKey,
        *,
        dns_names: tuple[str, ...] = (),
        validity_days: float | None = None,
    ) -> x509.Certificate:
        """A device certificate from this CA (to renew, or to use as TLS client cert).

        Not added to :attr:`issued`: that record counts what clients obtained over EST.
        """
        san = x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]) if dns_names else None
        days = self.config.validity_days if validity_days is None else validity_days
        return self.ca.issue(
            public_key,
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]),
            san=san,
            validity=dt.timedelta(days=days),
        )
