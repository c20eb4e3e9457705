"""EST semantics of the test server, independent of sockets.

:class:`EstService` turns an :class:`EstRequest` (already read off a TLS
connection) into a :class:`Response`. Authentication, issuance, the issuance
record and every fault that changes *what* is answered live here; faults that
change *how* bytes leave the socket (slow, truncate, reset) are the HTTP
handler's business.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import hashlib
import hmac
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AttributeOID, ExtensionOID, NameOID

from certline.app.estserver import wire
from certline.app.estserver.ca import CertificateAuthority, CertPublicKey, key_like, key_of_type, spki_sha256
from certline.app.estserver.config import PASSCODE_ONLY, USER_PASSWORD, ServerConfig
from certline.app.estserver.faults import Encoding, FaultConfig, FaultKind, MalformedVariant
from certline.app.estserver.quota import PasscodeUses, Throttle, retry_after_header
from certline.app.estserver.records import IssuanceLog, IssuedRecord
from certline.app.estserver.routes import Operation, Route

log = logging.getLogger(__name__)

PASSCODE_LISTENER = "passcode"
CLIENTAUTH_LISTENER = "clientauth"
CLIENT_CERT = "client-cert"
_ENROLLING_OPS = frozenset({Operation.SIMPLEENROLL, Operation.SIMPLEREENROLL, Operation.SERVERKEYGEN})


@dataclass
class EstRequest:
    """A request as the service needs it. ``peer_cert`` is already TLS-verified.

    Headers (Authorization) and body stay out of ``repr``.
    """

    method: str
    route: Route
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    listener: str = PASSCODE_LISTENER
    peer_cert: x509.Certificate | None = None
    tls_version: str | None = None
    tls_unique: bytes | None = None

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False
    auth_style: str | None = None
    drop: bool = False
    """Close the connection without sending anything (the close_after_issue fault)."""
    new_certificate: bool = False
    """This answer issued a certificate (not a 202, an error or a retransmission from the cache)."""


def text_response(status: int, message: str, **kwargs: object) -> Response:
    return Response(
        status,
        message.encode("utf-8") + b"\n",
        [("Content-Type", "text/plain; charset=utf-8")],
        **kwargs,  # type: ignore[arg-type]
    )


def _unauthorized(message: str) -> Response:
    resp = text_response(401, message)
    resp.headers.append(("WWW-Authenticate", 'Basic realm="est"'))
    return resp


class _Rejected(Exception):
    """Internal: short-circuit request handling with a ready response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class EstService:
    """Authentication, CSR handling, issuance and response encoding."""

    def __init__(
        self,
        ca: CertificateAuthority,
        config: ServerConfig,
        faults: FaultConfig,
        issuance: IssuanceLog,
        *,
        passcode: str | None = None,
        passcodes: Mapping[str, str] | None = None,
        users: Mapping[str, str] | None = None,
    ) -> None:
        self.ca = ca
        self.config = config
        self.faults = faults
        self.issuance = issuance
        self._passcode = passcode
        self._passcodes = dict(passcodes or {})
        self._users = dict(users or {})
        self._lazy_lock = threading.Lock()
        self._rogue_ca: CertificateAuthority | None = None
        self._envelope_recipient: x509.Certificate | None = None
        self._answered: dict[tuple[Operation, str], bytes] = {}
        """Chains already issued, by (operation, CSR SHA-256), for retransmitted requests."""
        self._count_lock = threading.Lock()
        self.post_count = 0
        """Every POST received (any route, any answer): duplicates cannot hide behind a cache."""
        self.posts_by_csr: dict[str, int] = {}
        """POSTs per CSR SHA-256 (hex) that carried a decodable CSR, whatever the answer."""
        self.passcode_uses = PasscodeUses()
        self.throttle = Throttle()

    def __repr__(self) -> str:
        return f"EstService(root={self.ca.root_cert.subject.rfc4514_string()!r})"

    # ------------------------------------------------------------------ entry
    def handle(self, req: EstRequest) -> Response:
        route = req.route
        op = route.op
        if req.method == "POST":
            self._count_post(req.body)
        if req.method != op.method:
            resp = text_response(405, f"{op.value} requires {op.method}")
            resp.headers.append(("Allow", op.method))
            return resp
        try:
            self._check_scope(route)
            fault = self.faults.take(FaultKind.ERROR5XX, op)
            if fault is not None:
                resp = text_response(fault.status, f"injected server error {fault.status}")
                if fault.retry_after is not None:
                    resp.headers.append(("Retry-After", _retry_after_value(fault.retry_after)))
                return resp
            if op in _ENROLLING_OPS:
                self._check_throttle()
            style = self._authenticate(req)
            if op is Operation.CACERTS:
                return self._cacerts()
            if op is Operation.CSRATTRS:
                resp = self._csrattrs()
            else:
                passcode = self._passcode_of(req) if style == PASSCODE_ONLY else None
                if passcode is not None and self.passcode_uses.spent(passcode, self.config.passcode_max_uses):
                    raise _Rejected(_unauthorized("passcode usage limit reached"))
                resp = self._issue(req)
                if passcode is not None and resp.new_certificate:
                    self.passcode_uses.count(passcode)
            resp.auth_style = style
            return resp
        except _Rejected as rejected:
            return rejected.response

    def _count_post(self, body: bytes) -> None:
        """Count the POST, and the CSR it carries, before anything decides how it is answered."""
        try:
            _csr, csr_der = wire.load_csr(body)
        except wire.CsrDecodeError:
            csr_der = None
        with self._count_lock:
            self.post_count += 1
            if csr_der is not None:
                digest = hashlib.sha256(csr_der).hexdigest()
                self.posts_by_csr[digest] = self.posts_by_csr.get(digest, 0) + 1

    def set_passcode(self, passcode: str | None) -> None:
        """Replace the passcode accepted for every label (a new DTM passcode); the old one is refused."""
        self._passcode = passcode

    def _check_throttle(self) -> None:
        wait = self.throttle.admit(self.config.throttle_limit, self.config.throttle_window)
        if wait is not None:
            resp = text_response(429, "too many enrollment requests; slow down")
            resp.headers.append(
                ("Retry-After", retry_after_header(wait, as_date=self.config.throttle_retry_after_date))
            )
            raise _Rejected(resp)

    def _passcode_of(self, req: EstRequest) -> str | None:
        """The passcode a passcode-only request authenticated with (to count its uses)."""
        header = req.header("Authorization") or ""
        _scheme, _, token = header.strip().partition(" ")
        try:
            decoded = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        for passcode in self._valid_passcodes(req.route.label):
            if hmac.compare_digest(decoded, passcode.encode("utf-8")):
                return passcode
        return None

    # ------------------------------------------------------------ auth, scope
    def _check_scope(self, route: Route) -> None:
        cfg = self.config
        if cfg.labels is not None and route.label not in cfg.labels:
            raise _Rejected(text_response(404, "unknown EST label"))
        if (
            cfg.device_groups is not None
            and route.device_group is not None
            and route.device_group not in cfg.device_groups
        ):
            raise _Rejected(text_response(404, "unknown device group"))

    def _authenticate(self, req: EstRequest) -> str | None:
        op = req.route.op
        if op is Operation.CACERTS:
            return None
        if op is Operation.CSRATTRS and not self.config.csrattrs_requires_auth:
            return None
        if self.faults.take(FaultKind.REJECT_PASSCODE, op) is not None:
            raise _Rejected(_unauthorized("credentials rejected (injected)"))
        if op is Operation.SIMPLEREENROLL:
            if req.peer_cert is None:
                raise _Rejected(
                    _unauthorized(
                        "simplereenroll requires the certificate being renewed as TLS client certificate"
                    )
                )
            if not self.ca.issued_by_me(req.peer_cert):
                raise _Rejected(
                    text_response(403, "client certificate was not issued by this CA; cannot renew it")
                )
            return CLIENT_CERT
        if req.listener == CLIENTAUTH_LISTENER:
            if req.peer_cert is None:  # the TLS layer requires one; belt and braces
                raise _Rejected(_unauthorized("client certificate required"))
            return CLIENT_CERT
        style = self._check_basic(req.header("Authorization"), req.route.label)
        if style is None:
            raise _Rejected(_unauthorized("missing or wrong credentials"))
        return style

    def _valid_passcodes(self, label: str | None) -> list[str]:
        if label is not None and label in self._passcodes:
            return [self._passcodes[label]]
        return [self._passcode] if self._passcode is not None else []

    def _check_basic(self, header: str | None, label: str | None) -> str | None:
        """Which Basic style matched (passcode-only or user-password), or None."""
        if not header:
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            return None
        try:
            decoded = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        styles = self.config.basic_styles
        if PASSCODE_ONLY in styles:
            for passcode in self._valid_passcodes(label):
                if hmac.compare_digest(decoded, passcode.encode("utf-8")):
                    return PASSCODE_ONLY
        if USER_PASSWORD in styles and b":" in decoded:
            user_b, _, password_b = decoded.partition(b":")
            try:
                user = user_b.decode("utf-8")
            except UnicodeDecodeError:
                return None
            expected = self._users.get(user)
            if expected is not None and hmac.compare_digest(password_b, expected.encode("utf-8")):
                return USER_PASSWORD
        return None

    # -------------------------------------------------------------- responses
    def _certs_only(self, der: bytes, op: Operation) -> Response:
        """certs-only body, honouring the malformed and encoding faults."""
        malformed = self.faults.take(FaultKind.MALFORMED, op)
        if malformed is not None:
            if malformed.variant == MalformedVariant.BASE64:
                return Response(
                    200,
                    b"%%% this is not base64 at all %%%\n",
                    [("Content-Type", wire.CERTS_ONLY), ("Content-Transfer-Encoding", "base64")],
                )
            der = b"\x30\x82\x01\x00" + b"\x01\x02\x03 not a pkcs7 structure" * 4
        return self._encoded(der, wire.CERTS_ONLY, op)

    def _encoded(self, der: bytes, content_type: str, op: Operation) -> Response:
        fault = self.faults.take(FaultKind.ENCODING, op)
        variant = Encoding(fault.variant) if fault is not None else Encoding.LF
        headers = [("Content-Type", content_type)]
        if variant is Encoding.DER:
            return Response(200, der, headers)
        if variant is not Encoding.NO_CTE:
            headers.append(("Content-Transfer-Encoding", "base64"))
        if variant is Encoding.CRLF:
            body = wire.b64_lines(der, newline=b"\r\n")
        elif variant is Encoding.ONELINE:
            body = wire.b64_lines(der, width=0)
        elif variant is Encoding.PEM:
            body = b"-----BEGIN PKCS7-----\n" + wire.b64_lines(der) + b"-----END PKCS7-----\n"
        else:
            body = wire.b64_lines(der)
        if variant is Encoding.NUL:
            body += b"\x00"
        return Response(200, body, headers)

    def _cacerts(self) -> Response:
        ca = self.ca
        if self.faults.take(FaultKind.UNKNOWN_CA, Operation.CACERTS) is not None:
            ca = self._rogue()  # bootstrap must notice the fingerprint does not match
        return self._certs_only(wire.certs_only_der(ca.chain), Operation.CACERTS)

    def _csrattrs(self) -> Response:
        der = self.config.csrattrs
        if der is None:
            return Response(204)
        return self._encoded(der, wire.CSRATTRS, Operation.CSRATTRS)

    # ---------------------------------------------------------------- issuing
    def _issue(self, req: EstRequest) -> Response:
        op = req.route.op
        ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
        if ctype and ctype not in wire.CSR_CONTENT_TYPES:
            raise _Rejected(text_response(415, f"unsupported CSR content type {ctype}"))
        try:
            csr, csr_der = wire.load_csr(req.body)
        except wire.CsrDecodeError as exc:
            raise _Rejected(text_response(400, f"bad CSR: {exc}")) from exc
        csr_digest = hashlib.sha256(csr_der).hexdigest()
        if self.config.require_pop:
            self._check_pop(req, csr)
        pending = self.faults.pending_for(csr_digest, op)
        if pending is not None:
            retry = pending.retry_after if pending.retry_after is not None else 1.0
            value = (
                email.utils.formatdate(dt.datetime.now(dt.UTC).timestamp() + retry, usegmt=True)
                if pending.retry_after_date
                else _retry_after_value(retry)
            )
            return Response(202, b"", [("Retry-After", value)], close=True)

        cached = self._answered.get((op, csr_digest)) if self.config.answer_retransmissions else None
        if cached is not None and op is not Operation.SERVERKEYGEN:
            log.info("retransmitted CSR %s: answering with the certificate already issued", csr_digest[:16])
            return self._certs_only(cached, op)

        public_key = csr.public_key()
        fault_names: list[str] = []
        if op is Operation.SIMPLEREENROLL:
            assert req.peer_cert is not None  # _authenticate guarantees it
            subject = req.peer_cert.subject
            san = _san_of_cert(req.peer_cert)
            if self.faults.take(FaultKind.CHANGE_SUBJECT, op) is not None:
                subject = _changed_subject(subject)
                fault_names.append(FaultKind.CHANGE_SUBJECT.value)
        else:
            subject = csr.subject
            san = _san_of_csr(csr)

        server_key = None
        if op is Operation.SERVERKEYGEN:
            chosen = self.config.serverkeygen_key
            server_key = key_of_type(chosen) if chosen else key_like(public_key)
            cert_key: object = server_key.public_key()
        else:
            cert_key = public_key
        if self.faults.take(FaultKind.WRONG_KEY, op) is not None:
            cert_key = key_like(cert_key).public_key()
            fault_names.append(FaultKind.WRONG_KEY.value)
        ca = self.ca
        if self.faults.take(FaultKind.UNKNOWN_CA, op) is not None:
            ca = self._rogue()
            fault_names.append(FaultKind.UNKNOWN_CA.value)

        cert = ca.issue(
            cert_key,  # type: ignore[arg-type]
            subject,
            san=san,
            validity=dt.timedelta(days=self.config.validity_days),
        )
        self.issuance.append(
            IssuedRecord(
                serial=cert.serial_number,
                subject=cert.subject.rfc4514_string(),
                public_key_sha256=spki_sha256(cert.public_key()),
                csr_sha256=csr_digest,
                label=req.route.label,
                device_group=req.route.device_group,
                issued_at=dt.datetime.now(dt.UTC),
                op=op.value,
                listener=req.listener,
                not_after=cert.not_valid_after_utc,
                fault=",".join(fault_names) or None,
            )
        )
        log.info(
            "issued serial %x to %s via %s (label=%s, device group=%s)",
            cert.serial_number,
            cert.subject.rfc4514_string(),
            op.value,
            req.route.label,
            req.route.device_group,
        )
        chain_der = wire.certs_only_der([cert, *ca.intermediates])
        if not fault_names:
            self._answered[(op, csr_digest)] = chain_der
        if server_key is None:
            response = self._certs_only(chain_der, op)
        else:
            response = self._serverkeygen_response(server_key, chain_der)
        response.drop = self.faults.take(FaultKind.CLOSE_AFTER_ISSUE, op) is not None
        response.new_certificate = True
        return response

    def _check_pop(self, req: EstRequest, csr: x509.CertificateSigningRequest) -> None:
        if req.tls_unique is None:
            raise _Rejected(
                text_response(
                    400, f"proof-of-possession requires tls-unique (TLS 1.2); connection is {req.tls_version}"
                )
            )
        try:
            attr = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD)
        except x509.AttributeNotFound as exc:
            raise _Rejected(text_response(400, "CSR lacks the challengePassword tls-unique binding")) from exc
        got = attr.value if isinstance(attr.value, bytes) else str(attr.value).encode()
        expected = base64.b64encode(req.tls_unique)
        if not hmac.compare_digest(got.strip(), expected):
            raise _Rejected(
                text_response(400, "challengePassword does not match this connection's tls-unique")
            )

    def _serverkeygen_response(self, key: object, chain_der: bytes) -> Response:
        op = Operation.SERVERKEYGEN
        if self.faults.take(FaultKind.KEYGEN_ENCRYPTED, op) is not None:
            key_part = (wire.SERVER_GENERATED_KEY, wire.b64_lines(self._envelope(key)))
        else:
            fmt = serialization.PrivateFormat.PKCS8
            if self.faults.take(FaultKind.KEYGEN_PKCS1, op) is not None:
                fmt = serialization.PrivateFormat.TraditionalOpenSSL
            key_der = key.private_bytes(  # type: ignore[attr-defined]
                serialization.Encoding.DER, fmt, serialization.NoEncryption()
            )
            key_part = (wire.PKCS8, wire.b64_lines(key_der))
        cert_part = (wire.CERTS_ONLY, wire.b64_lines(chain_der))
        parts = [key_part, cert_part]
        if self.faults.take(FaultKind.KEYGEN_REVERSE, op) is not None:
            parts.reverse()
        boundary = wire.new_boundary()
        body = wire.multipart(parts, boundary)
        return Response(200, body, [("Content-Type", f"multipart/mixed; boundary={boundary}")])

    # ------------------------------------------------------------------ lazy
    def _rogue(self) -> CertificateAuthority:
        with self._lazy_lock:
            if self._rogue_ca is None:
                self._rogue_ca = CertificateAuthority.create(name="Unknown Rogue Root CA")
            return self._rogue_ca

    def _envelope(self, key: object) -> bytes:
        """CMS EnvelopedData around the key, to a throwaway RSA recipient (client can't open it)."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        key_der = key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with self._lazy_lock:
            if self._envelope_recipient is None:
                rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                self._envelope_recipient = self.ca.issue(
                    rsa_key.public_key(),
                    x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "key escrow recipient")]),
                )
            recipient = self._envelope_recipient
        return (
            pkcs7.PKCS7EnvelopeBuilder()
            .set_data(key_der)
            .add_recipient(recipient)
            .encrypt(serialization.Encoding.DER, [])
        )


def _retry_after_value(seconds: float) -> str:
    return str(max(0, int(round(seconds))))


def _san_of_csr(csr: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        ext = csr.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    return value if isinstance(value, x509.SubjectAlternativeName) else None


def _san_of_cert(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    return value if isinstance(value, x509.SubjectAlternativeName) else None


def _changed_subject(subject: x509.Name) -> x509.Name:
    """Same attributes, CN suffixed: what a server that "fixes up" identities would do."""
    attrs: list[Any] = []
    changed = False
    for attr in subject:
        if attr.oid == NameOID.COMMON_NAME and not changed:
            attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, f"{attr.value!s}-changed"))
            changed = True
        else:
            attrs.append(attr)
    if not changed:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, "changed-by-server"))
    return x509.Name(attrs)


__all__ = [
    "CLIENTAUTH_LISTENER",
    "CLIENT_CERT",
    "PASSCODE_LISTENER",
    "CertPublicKey",
    "EstRequest",
    "EstService",
    "Response",
    "text_response",
]
