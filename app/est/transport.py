"""HTTP for the EST client: one pooled ``requests`` session, retries, typed errors.

* One :class:`requests.Session` per client, mounted with :class:`_EstAdapter` whose
  pool holds ``pool_size`` keep-alive connections and whose TLS context is ours
  (the adapter ignores ``verify``/``cert`` so neither certifi nor
  ``REQUESTS_CA_BUNDLE`` can add trust). Proxy environment variables are honoured
  (``trust_env``); ``.netrc`` is not (an explicit auth object is always passed).
* Retries: connection failures and 5xx are retried with exponential backoff and
  jitter, honouring ``Retry-After`` on 503; 4xx and TLS failures never are.
  Waiting uses an event that :meth:`Transport.close` sets, so closing the client
  wakes any worker that is backing off.
* Exceptions from requests/urllib3 can carry the prepared request (and its
  ``Authorization`` header): they are converted to :mod:`app.est.errors` types
  *outside* the ``except`` block, so no original exception is chained or kept
  as ``__context__``.
* :meth:`Transport.post_channel_bound` sends one POST on a dedicated connection
  after reading that connection's ``tls-unique`` (RFC 7030 3.5 proof-of-possession).
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.structures import CaseInsensitiveDict

from app.est.errors import (
    EstAuthError,
    EstBadRequest,
    EstConnectionError,
    EstError,
    EstForbidden,
    EstNotFound,
    EstPopUnavailable,
    EstResponseError,
    EstServerError,
    EstTlsError,
)
from app.est.tls import fetch_server_certificate_unverified, fingerprint_sha256

log = logging.getLogger("certline.est")

MAX_RESPONSE = 1 << 20
MAX_SERVER_TEXT = 300
USER_AGENT = "certline-est/0.1"


@dataclass(frozen=True)
class HttpResponse:
    """A complete, bounded HTTP response (body fully read, connection released)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    tls_version: str | None = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


# ---------------------------------------------------------------------------- requests plumbing


class _NoNetrc(AuthBase):
    """An explicit no-op auth: stops requests from reading ~/.netrc into our requests."""

    def __call__(self, r: Any) -> Any:
        return r

    def __repr__(self) -> str:
        return "_NoNetrc()"


class _EstAdapter(HTTPAdapter):
    """An adapter whose every pool uses our SSLContext, whatever verify/cert say."""

    def __init__(self, ssl_context: ssl.SSLContext, pool_size: int) -> None:
        self._ssl_context = ssl_context
        super().__init__(pool_connections=4, pool_maxsize=max(1, pool_size), max_retries=0)

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        host_params, _ignored = super().build_connection_pool_key_attributes(request, True, None)
        return host_params, {"ssl_context": self._ssl_context, "cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # Never let requests point the pool at certifi or a bundle from the environment.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None
        conn.cert_file = None
        conn.key_file = None


# ---------------------------------------------------------------------------- helpers


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(min(int(text), 86400 * 7))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


def server_text(resp: HttpResponse, scrub: Callable[[str], str]) -> str:
    """The server's explanation, as one bounded line, with any echoed secret removed."""
    raw = resp.body[: MAX_SERVER_TEXT * 8].decode("utf-8", "replace")
    ctype = (resp.header("Content-Type") or "").lower()
    if "html" in ctype or raw.lstrip().startswith("<"):
        raw = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.S | re.I)
        raw = re.sub(r"<[^>]+>", " ", raw)
    raw = "".join(ch if ch.isprintable() else " " for ch in raw)
    text = scrub(" ".join(raw.split()))
    if len(text) > MAX_SERVER_TEXT:
        text = text[: MAX_SERVER_TEXT - 3] + "..."
    return text


def error_for_status(resp: HttpResponse, what: str, scrub: Callable[[str], str]) -> EstError:
    """The typed error for a non-success status (the caller decides which statuses succeed)."""
    text = server_text(resp, scrub)
    status = resp.status
    detail = f": {text}" if text else ""
    if status == 401:
        return EstAuthError(
            f"{what}: the EST server rejected the credentials (HTTP 401){detail}",
            status=status,
            server_text=text,
        )
    if status == 403:
        return EstForbidden(
            f"{what}: the EST server refused the request (HTTP 403){detail}",
            status=status,
            server_text=text,
        )
    if status == 404:
        return EstNotFound(
            f"{what}: not found on the EST server (HTTP 404) - check the URL, label and device group{detail}",
            status=status,
            server_text=text,
        )
    if 500 <= status <= 599:
        retry_after = parse_retry_after(resp.header("Retry-After")) if status == 503 else None
        return EstServerError(
            f"{what}: EST server error (HTTP {status}){detail}",
            retry_after=retry_after,
            status=status,
            server_text=text,
        )
    if 300 <= status <= 399:
        where = resp.header("Location") or "elsewhere"
        return EstBadRequest(
            f"{what}: the EST server redirected to {where} (HTTP {status}); update the profile URL",
            status=status,
            server_text=text,
        )
    return EstBadRequest(
        f"{what}: the EST server rejected the request (HTTP {status}){detail}",
        status=status,
        server_text=text,
    )


def _ssl_reason(exc: BaseException) -> tuple[str, bool]:
    """(human reason, is-certificate-verification-failure) from a wrapped TLS exception."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return (current.verify_message or current.reason or "certificate verify failed"), True
        if isinstance(current, ssl.SSLError):
            return (current.reason or current.__class__.__name__), False
        for nxt in (current.__cause__, current.__context__):
            if nxt is not None:
                stack.append(nxt)
        stack.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return "TLS handshake failed", False


_TLS_REASONS: tuple[tuple[str, str], ...] = (
    ("CERTIFICATE_REQUIRED", "the server requires a TLS client certificate"),
    ("BAD_CERTIFICATE", "the server rejected the TLS client certificate"),
    ("CERTIFICATE_UNKNOWN", "the server rejected the TLS client certificate"),
    ("UNKNOWN_CA", "the server does not trust the TLS client certificate's issuer"),
    ("CERTIFICATE_EXPIRED", "the server says the TLS client certificate expired"),
    ("CERTIFICATE_REVOKED", "the server says the TLS client certificate is revoked"),
    ("PROTOCOL_VERSION", "no common TLS version (Certline needs TLS 1.2 or newer)"),
    ("UNSUPPORTED_PROTOCOL", "no common TLS version (Certline needs TLS 1.2 or newer)"),
    ("WRONG_VERSION_NUMBER", "the server did not answer with TLS (is it plain HTTP?)"),
    ("HANDSHAKE_FAILURE", "handshake failure (no common cipher, or a client certificate is required)"),
)


def _friendly_tls(reason: str) -> str:
    """OpenSSL's reason code plus what it usually means for an operator."""
    upper = reason.upper()
    for code, meaning in _TLS_REASONS:
        if code in upper:
            return f"{meaning} ({reason})"
    return reason


def _connection_reason(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.exceptions.ReadTimeout | TimeoutError):
        return "timed out waiting for the response"
    text = str(exc)
    for pattern, reason in (
        (r"refused", "connection refused"),
        (r"reset by peer|ECONNRESET|Connection reset", "connection reset by the server"),
        (r"RemoteDisconnected|closed connection|without response", "the server closed the connection"),
        (r"Name or service not known|nodename nor servname|getaddrinfo", "host name not found"),
        (r"IncompleteRead|ChunkedEncodingError|ProtocolError", "the response was cut short"),
        (r"timed out", "timed out"),
    ):
        if re.search(pattern, text, re.I):
            return reason
    return type(exc).__name__


# ---------------------------------------------------------------------------- the transport


class Transport:
    """Pooled, retrying HTTPS for one EST client (thread-safe)."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        *,
        pool_size: int = 4,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_after: float = 120.0,
    ) -> None:
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self._closed = threading.Event()
        self._session = requests.Session()
        self._session.trust_env = True
        self._session.headers["User-Agent"] = USER_AGENT
        adapter = _EstAdapter(ssl_context, pool_size)
        self._session.mount("https://", adapter)
        self.scrub: Callable[[str], str] = lambda text: text
        """Removes echoed secrets from server text; the client installs one knowing its secrets."""

    # -- lifecycle

    def close(self) -> None:
        self._closed.set()
        self._session.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def closed_event(self) -> threading.Event:
        """Set by :meth:`close`; waiters use it so closing the client wakes them."""
        return self._closed

    # -- retry loop

    def with_retries(self, send_once: Callable[[], HttpResponse], what: str) -> HttpResponse:
        """Run ``send_once`` until it yields a non-5xx response or the attempts are used up."""
        attempt = 0
        while True:
            attempt += 1
            failure: EstError | None = None
            try:
                resp = send_once()
            except EstConnectionError as exc:
                failure = exc
                retry_after = None
            else:
                if resp.status < 500 or resp.status == 501:  # 501 Not Implemented is not transient
                    return resp
                retry_after = parse_retry_after(resp.header("Retry-After")) if resp.status == 503 else None
                failure = error_for_status(resp, what, self.scrub)
            if attempt > self.retries:
                raise failure
            if retry_after is not None and retry_after > self.max_retry_after:
                raise failure  # too long to wait inside one call: let the engine reschedule
            delay = self._delay(attempt, retry_after)
            log.info("%s: %s; retry %d/%d in %.1fs", what, failure, attempt, self.retries, delay)
            if self._closed.wait(delay):
                raise EstConnectionError(f"{what}: the EST client was closed while retrying")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after + random.uniform(0, min(1.0, retry_after * 0.1))
        base = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return base * random.uniform(0.5, 1.5)

    # -- pooled requests

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        what: str,
        retry: bool = True,
    ) -> HttpResponse:
        """One EST request through the pool (retried unless ``retry`` is False)."""

        def once() -> HttpResponse:
            return self._send(method, url, headers, body, what)

        return self.with_retries(once, what) if retry else once()

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, what: str
    ) -> HttpResponse:
        if self._closed.is_set():
            raise EstConnectionError(f"{what}: the EST client is closed")
        started = time.monotonic()
        error: tuple[str, str, bool] | None = None  # (kind, reason, verify-failure)
        resp: HttpResponse | None = None
        try:
            r = self._session.request(
                method,
                url,
                headers=dict(headers),
                data=body,
                timeout=(min(self.timeout, 15.0), self.timeout),
                auth=_NoNetrc(),
                allow_redirects=False,
                stream=True,
            )
            try:
                chunks: list[bytes] = []
                size = 0
                for chunk in r.iter_content(65536):
                    size += len(chunk)
                    if size > MAX_RESPONSE:
                        error = ("size", "", False)
                        break
                    chunks.append(chunk)
                if error is None:
                    resp = HttpResponse(
                        status=r.status_code,
                        headers=CaseInsensitiveDict(r.headers),
                        body=b"".join(chunks),
                    )
            finally:
                r.close()
        except requests.exceptions.SSLError as exc:
            reason, verify_failure = _ssl_reason(exc)
            error = ("tls", reason, verify_failure)
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            error = ("conn", _connection_reason(exc), False)
        except requests.exceptions.RequestException as exc:
            error = ("other", type(exc).__name__, False)
        # Raise outside the except blocks: nothing from requests is chained or kept as context.
        if error is not None:
            self._raise(error, url, what)
        assert resp is not None
        log.info(
            "EST %s %s -> HTTP %d (%d bytes, %.2fs)",
            method,
            url,
            resp.status,
            len(resp.body),
            time.monotonic() - started,
        )
        return resp

    def _raise(self, error: tuple[str, str, bool], url: str, what: str) -> None:
        kind, reason, verify_failure = error
        parts = urlsplit(url)
        where = f"{parts.hostname}:{parts.port or 443}"
        if kind == "tls":
            raise self.tls_error(what, where, reason, verify_failure, parts.hostname, parts.port)
        if kind == "size":  # a bad answer, not an unreachable server: retrying gets the same bytes
            raise EstResponseError(f"{what}: the response from {where} is larger than {MAX_RESPONSE} bytes")
        raise EstConnectionError(f"{what}: cannot reach the EST server {where}: {reason}")

    def tls_error(
        self,
        what: str,
        where: str,
        reason: str,
        verify_failure: bool,
        host: str | None,
        port: int | None,
    ) -> EstTlsError:
        """An :class:`EstTlsError`, with the server certificate's fingerprint (display only)."""
        fp: str | None = None
        if host:
            cert = fetch_server_certificate_unverified(host, port or 443, timeout=min(self.timeout, 10))
            if cert is not None:
                from cryptography.hazmat.primitives.serialization import Encoding

                fp = fingerprint_sha256(cert.public_bytes(Encoding.DER))
        if verify_failure:
            message = f"{what}: the EST server {where} is not trusted: {reason}"
        else:
            message = f"{what}: TLS with {where} failed: {_friendly_tls(reason)}"
        if fp:
            message += f" (server certificate SHA-256 {fp})"
        return EstTlsError(message, fingerprint=fp)

    # -- channel-bound POST (proof of possession)

    def post_channel_bound(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        build_body: Callable[[bytes], tuple[bytes, Mapping[str, str]]],
        what: str,
    ) -> HttpResponse:
        """POST on a fresh TLS 1.2 connection, building the body from its ``tls-unique``.

        Retried like :meth:`request`; every attempt is a new connection, so ``build_body``
        is called again with that connection's value.
        """

        def once() -> HttpResponse:
            return self._send_bound(url, headers, build_body, what)

        return self.with_retries(once, what)

    def _send_bound(
        self,
        url: str,
        headers: Mapping[str, str],
        build_body: Callable[[bytes], tuple[bytes, Mapping[str, str]]],
        what: str,
    ) -> HttpResponse:
        if self._closed.is_set():
            raise EstConnectionError(f"{what}: the EST client is closed")
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or 443
        where = f"{host}:{port}"
        conn = open_connection(url, self.ssl_context, self.timeout)
        error: tuple[str, str, bool] | None = None
        resp: HttpResponse | None = None
        try:
            conn.connect()
            sock = conn.sock
            if not isinstance(sock, ssl.SSLSocket):
                raise EstConnectionError(f"{what}: no TLS connection to {where}")
            version = sock.version()
            if version != "TLSv1.2":
                raise EstPopUnavailable(
                    f"{what}: the server negotiated {version}; proof-of-possession linking with "
                    "tls-unique (RFC 7030 3.5) needs TLS 1.2. Ask the server operator to allow "
                    "TLS 1.2 for EST or to drop the challengePassword requirement."
                )
            tls_unique = sock.get_channel_binding("tls-unique")
            if not tls_unique:
                raise EstPopUnavailable(f"{what}: the TLS library did not expose tls-unique")
            body, content_headers = build_body(tls_unique)
            path = parts.path or "/"
            conn.request(
                "POST",
                path,
                body=body,
                headers={
                    "User-Agent": USER_AGENT,
                    **dict(headers),
                    **dict(content_headers),
                },
            )
            raw = conn.getresponse()
            data = raw.read(MAX_RESPONSE + 1)
            if len(data) > MAX_RESPONSE:
                error = ("size", "", False)
            else:
                resp = HttpResponse(
                    status=raw.status,
                    headers=CaseInsensitiveDict(raw.getheaders()),
                    body=data,
                    tls_version=version,
                )
        except ssl.SSLCertVerificationError as exc:
            error = ("tls", exc.verify_message or exc.reason or "certificate verify failed", True)
        except ssl.SSLError as exc:
            error = ("tls", exc.reason or type(exc).__name__, False)
        except (OSError, http.client.HTTPException) as exc:
            error = ("conn", _connection_reason(exc), False)
        finally:
            conn.close()
        if error is not None:
            self._raise(error, url, what)
        assert resp is not None
        log.info("EST POST %s (channel-bound, %s) -> HTTP %d", url, resp.tls_version, resp.status)
        return resp


def open_connection(url: str, ssl_context: ssl.SSLContext, timeout: float) -> http.client.HTTPSConnection:
    """A not-yet-connected HTTPS connection to ``url``'s host, tunnelled through the
    environment's proxy (``https_proxy``/``no_proxy``) when one applies."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    proxies = requests.utils.get_environ_proxies(url)
    proxy = requests.utils.select_proxy(url, proxies)
    if not proxy:
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl_context)
    p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    if p.scheme not in ("http", ""):
        raise EstConnectionError(f"proxy scheme {p.scheme} is not supported for this request")
    conn = http.client.HTTPSConnection(p.hostname or "", p.port or 8080, timeout=timeout, context=ssl_context)
    tunnel_headers = {}
    if p.username:
        import base64

        token = f"{unquote(p.username)}:{unquote(p.password or '')}".encode()
        tunnel_headers["Proxy-Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
    conn.set_tunnel(host, port, headers=tunnel_headers)
    return conn
