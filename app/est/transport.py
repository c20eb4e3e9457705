"""HTTP for the EST client: one pooled ``requests`` session, retries, typed errors.

* One :class:`_EstAdapter` (requests' connection-pool manager) per client, whose
  pool holds ``pool_size`` keep-alive connections (plus room for the reachability
  probe and ``/csrattrs``, so a batch never sees "Connection pool is full") and whose
  TLS context is ours (the adapter ignores ``verify``/``cert`` so neither certifi nor
  ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` can add trust). Proxy environment
  variables (``https_proxy``, ``all_proxy``, ``no_proxy``) are honoured, resolved
  once per server origin for the life of the client instead of on every request
  (requests' ``merge_environment_settings`` cost ~12% of client CPU in a batch);
  ``.netrc`` is never read.
* A request goes straight to the adapter's urllib3 pool (:meth:`Transport._send`), not
  through ``requests.Session``: the session's per-request preparation, settings merging,
  hooks and response wrapping were about a quarter of the client's CPU per enrollment
  and did nothing an EST request needs (the pool, the TLS context, the proxy managers and
  the default headers are the same ones requests would use).
* Every request has an overall deadline - connect, TLS handshake, request and the
  complete answer - enforced by :mod:`certline.app.est.deadline` (a watchdog that shuts the
  socket down), because socket timeouts only bound each single read and a server
  dripping a byte at a time would otherwise hold a request forever. Past it the
  request fails with :class:`EstTimeout` naming the server and the limit.
* Retries: connection failures, 5xx and 429 are retried with exponential backoff and
  jitter, honouring ``Retry-After`` on 503 and 429 (delta-seconds or HTTP-date, RFC 9110
  10.2.3); other 4xx and TLS failures never are. A ``Retry-After`` also holds back every other
  request of this client until that time (all workers of a batch share the client), so one
  throttled worker does not leave the others to trip the throttle again. All
  attempts of one call and the waits between them share one budget
  (:meth:`Transport.budget`), so ``timeout=4, retries=1`` ends within ~12 s.
  Waiting uses an event that :meth:`Transport.close` sets, so closing the client
  wakes any worker that is backing off, and closing also ends requests in flight.
* Exceptions from requests/urllib3 can carry the prepared request (and its
  ``Authorization`` header): they are converted to :mod:`certline.app.est.errors` types
  *outside* the ``except`` block, so no original exception is chained or kept
  as ``__context__``.
* :meth:`Transport.post_channel_bound` sends one POST on a dedicated connection
  after reading that connection's ``tls-unique`` (RFC 7030 3.5 proof-of-possession).
"""

from __future__ import annotations

import email.utils
import functools
import http.client
import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.util import Retry, parse_url
from urllib3.util import Timeout as Urllib3Timeout

from certline.app.est.deadline import Deadline, active_deadline, bind
from certline.app.est.errors import (
    EstAuthError,
    EstBadRequest,
    EstConnectionError,
    EstError,
    EstForbidden,
    EstNotFound,
    EstPopUnavailable,
    EstResponseError,
    EstServerError,
    EstThrottled,
    EstTimeout,
    EstTlsError,
)
from certline.app.est.tls_context import fetch_server_certificate_unverified, fingerprint_sha256

log = logging.getLogger("certline.est")

MAX_RESPONSE = 1 << 20
MAX_SERVER_TEXT = 300
USER_AGENT = "certline-est/0.1"
POOL_HEADROOM = 2
"""Connections beyond the batch's concurrency: the reachability probe and ``/csrattrs``
run outside the gateway's slots."""


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


_DEFAULT_HEADERS: dict[str, str] = {
    "User-Agent": USER_AGENT,
    "Accept-Encoding": "gzip, deflate",
    "Accept": "*/*",
}
"""What every request carries besides its own headers (requests' defaults and our User-Agent;
not ``Connection: keep-alive``, which HTTP/1.1 connections are anyway, RFC 9112 9.3)."""

_COALESCE_LIMIT = 64 * 1024
"""Bodies up to this size go out in the same write as the request's header block."""

_NO_RETRIES = Retry(0, read=False)
"""urllib3 retries nothing itself (as in requests' adapter): :meth:`Transport.with_retries` decides."""


class _DeadlineHTTPSConnection(urllib3.connection.HTTPSConnection):
    """urllib3's HTTPS connection, registering its socket with the request's deadline.

    A new socket is registered before the TLS handshake (so a server dripping its
    handshake is cut off too); a pooled keep-alive socket when the next request starts.
    """

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        deadline = active_deadline()
        if deadline is not None:
            deadline.watch(sock)
        return sock

    _held: bytearray | None = None
    """Request bytes collected while :meth:`request` runs, written with one ``sendall``."""

    def request(self, method: str, url: str, body: Any = None, *args: Any, **kwargs: Any) -> None:
        deadline = active_deadline()
        if deadline is not None and self.sock is not None:
            deadline.watch(self.sock)
        if not isinstance(body, bytes) or len(body) > _COALESCE_LIMIT or kwargs.get("chunked"):
            super().request(method, url, body, *args, **kwargs)
            return
        # urllib3 (like http.client) writes the header block and the body with two sends: two
        # TLS records and, with TCP_NODELAY, two segments, so the server wakes and reads twice
        # per request. A CSR is about a kilobyte: collect both and write them at once. The
        # bytes are exactly what urllib3 composed; only the number of writes changes.
        self._held = bytearray()
        try:
            super().request(method, url, body, *args, **kwargs)
            held = bytes(self._held)
        finally:
            self._held = None
        if held:
            super().send(held)

    def send(self, data: Any) -> None:
        if self._held is not None and isinstance(data, bytes | bytearray):
            self._held += data
            return
        super().send(data)


class _DeadlineHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


class _EstAdapter(HTTPAdapter):
    """An adapter whose every pool uses our SSLContext, whatever verify/cert say, and whose
    connections honour the request's overall deadline."""

    def __init__(self, ssl_context: ssl.SSLContext, pool_size: int) -> None:
        self._ssl_context = ssl_context
        super().__init__(pool_connections=4, pool_maxsize=max(1, pool_size), max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "https": _DeadlineHTTPSPool,
        }

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {**manager.pool_classes_by_scheme, "https": _DeadlineHTTPSPool}
        return manager

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


def retryable_status(status: int) -> bool:
    """429 and 5xx are worth another attempt; 501 Not Implemented is not transient."""
    return status == 429 or (500 <= status <= 599 and status != 501)


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
    if status == 429:
        retry_after = parse_retry_after(resp.header("Retry-After"))
        wait = f"; it asks to wait {retry_after:.0f} s" if retry_after is not None else ""
        return EstThrottled(
            f"{what}: the EST server is throttling requests (HTTP 429){wait}{detail}",
            retry_after=retry_after,
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


def timeout_error(what: str, where: str, deadline: Deadline) -> EstTimeout:
    """The error for a request that ran past its overall deadline (or was cut by closing)."""
    if deadline.aborted:
        return EstTimeout(
            f"{what}: the request to the EST server {where} was cancelled after "
            f"{deadline.elapsed():.0f} s without a complete answer (client closed)",
            where=where,
        )
    return EstTimeout(
        f"{what}: timed out after {deadline.describe()}: the EST server {where} did not answer "
        "completely (the limit covers connecting, TLS, sending the request and reading the whole answer)",
        seconds=deadline.seconds,
        where=where,
    )


def _read_bounded(r: Any) -> bytes | None:
    """The whole (decoded) body of urllib3 response ``r``, None when it exceeds MAX_RESPONSE.

    An identity body with a Content-Length within the bound is read with one call (urllib3
    still fails a short body); anything else (chunked, compressed, unknown length) is streamed
    and counted as it is decoded, so a compressed answer cannot grow past the bound either.
    """
    length = r.length_remaining
    if length is not None and length <= MAX_RESPONSE and not r.headers.get("Content-Encoding"):
        data = r.read(decode_content=True)
        return data if len(data) <= MAX_RESPONSE else None
    chunks: list[bytes] = []
    size = 0
    for chunk in r.stream(65536, decode_content=True):
        size += len(chunk)
        if size > MAX_RESPONSE:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@functools.lru_cache(maxsize=64)
def _where(url: str) -> str:
    """``host:port`` of ``url`` for messages and deadlines (cached: every request asks, and a
    client talks to a handful of URLs; ``urlsplit`` per request was ~1 % of its CPU)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 443}"


def _classify(reason: BaseException, exc: BaseException) -> tuple[str, str, bool]:
    """``(kind, reason, verify-failure)`` for a urllib3 failure (``reason`` is what a
    ``MaxRetryError`` wraps, else ``exc`` itself), mapped as requests' adapter maps it."""
    if isinstance(reason, urllib3.exceptions.ProxyError):
        return "conn", _connection_reason(exc), False
    if isinstance(reason, urllib3.exceptions.SSLError | ssl.SSLError):
        text, verify_failure = _ssl_reason(exc)
        return "tls", text, verify_failure
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
        reason, urllib3.exceptions.NewConnectionError
    ):
        return "conn", "timed out connecting", False
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "conn", "timed out waiting for the response", False
    if isinstance(
        reason,
        urllib3.exceptions.ProtocolError
        | urllib3.exceptions.NewConnectionError
        | urllib3.exceptions.ClosedPoolError
        | urllib3.exceptions.DecodeError
        | OSError,
    ):
        return "conn", _connection_reason(exc), False
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        return "conn", _connection_reason(exc), False
    return "other", type(reason).__name__, False


def _connection_reason(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.exceptions.ReadTimeout | TimeoutError | urllib3.exceptions.ReadTimeoutError):
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
        """Overall deadline of one request (connect + TLS + request + whole answer), seconds."""
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self._closed = threading.Event()
        self._hold_lock = threading.Lock()
        self._hold_until = 0.0
        """Monotonic time before which no request is sent (a Retry-After on 429/503)."""
        self._adapter = _EstAdapter(ssl_context, max(1, pool_size) + POOL_HEADROOM)
        # The environment is read once per origin (see proxies_for), not on every request.
        self._proxy_lock = threading.Lock()
        self._proxy_cache: dict[str, dict[str, str]] = {}
        self._target_cache: dict[str, tuple[str, str, int, str]] = {}
        self._pool_cache: dict[tuple[str, str | None], tuple[Any, str]] = {}
        """(URL, proxy) -> (urllib3 pool, request target), see :meth:`_pool_for`."""
        self._inflight_lock = threading.Lock()
        self._inflight: set[Deadline] = set()
        self.scrub: Callable[[str], str] = lambda text: text
        """Removes echoed secrets from server text; the client installs one knowing its secrets."""

    # -- lifecycle

    def close(self) -> None:
        """Close the pool, wake workers backing off and end requests still in flight."""
        self._closed.set()
        with self._inflight_lock:
            inflight = list(self._inflight)
        for deadline in inflight:
            deadline.abort()
        with self._proxy_lock:
            kept = [pool for pool, _path in self._pool_cache.values()]
            self._pool_cache.clear()
        for pool in kept:
            pool.close()
        self._adapter.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def closed_event(self) -> threading.Event:
        """Set by :meth:`close`; waiters use it so closing the client wakes them."""
        return self._closed

    @property
    def budget(self) -> float:
        """Longest one call may take, all attempts and the waits between them included:
        one deadline per attempt plus at most one deadline's worth of backoff."""
        return self.timeout * (self.retries + 1) + min(self.max_backoff, self.timeout)

    @contextmanager
    def deadline(self, url: str, seconds: float | None = None) -> Iterator[Deadline]:
        """The overall deadline of one request to ``url`` (bound to this thread while it runs)."""
        limit = Deadline(self.timeout if seconds is None else seconds, _where(url))
        with self._inflight_lock:
            self._inflight.add(limit)
        if self._closed.is_set():
            limit.abort()
        try:
            with bind(limit):
                yield limit
        finally:
            with self._inflight_lock:
                self._inflight.discard(limit)

    # -- environment

    def proxies_for(self, url: str) -> dict[str, str]:
        """The environment's proxies for ``url``'s origin (``{}`` when ``no_proxy`` bypasses it),
        resolved on first use and kept for the life of this client."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._proxy_lock:
            cached = self._proxy_cache.get(origin)
            if cached is None:
                cached = dict(requests.utils.get_environ_proxies(origin + "/", no_proxy=None))
                self._proxy_cache[origin] = cached
            return cached

    # -- retry loop

    def with_retries(self, send_once: Callable[[float], HttpResponse], what: str) -> HttpResponse:
        """Run ``send_once(limit)`` until it yields a non-5xx response, the attempts are used up
        or the call's :attr:`budget` would be overrun. ``limit`` is the attempt's deadline."""
        ends = time.monotonic() + self.budget
        attempt = 0
        while True:
            attempt += 1
            failure: EstError | None = None
            self._wait_for_hold_off(ends, what)
            limit = min(self.timeout, max(0.001, ends - time.monotonic()))
            try:
                resp = send_once(limit)
            except EstConnectionError as exc:
                failure = exc
                retry_after = None
            else:
                if not retryable_status(resp.status):
                    return resp
                retry_after = (
                    parse_retry_after(resp.header("Retry-After")) if resp.status in (429, 503) else None
                )
                if retry_after is not None:
                    self._hold_off(retry_after)
                failure = error_for_status(resp, what, self.scrub)
            if attempt > self.retries or self._closed.is_set():
                raise failure
            if retry_after is not None and retry_after > self.max_retry_after:
                raise failure  # too long to wait inside one call: let the engine reschedule
            delay = self._delay(attempt, retry_after)
            if time.monotonic() + delay + min(1.0, self.timeout) > ends:
                log.info("%s: %s; no retry, the call's %.0fs budget is spent", what, failure, self.budget)
                raise failure
            log.info("%s: %s; retry %d/%d in %.1fs", what, failure, attempt, self.retries, delay)
            if self._closed.wait(delay):
                raise EstConnectionError(f"{what}: the EST client was closed while retrying")

    def _hold_off(self, seconds: float) -> None:
        """The server asked this client to come back in ``seconds``: no request before then."""
        with self._hold_lock:
            self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    def _wait_for_hold_off(self, ends: float, what: str) -> None:
        """Wait out a Retry-After another request of this client was given (within the call's
        budget: a wait past it ends the call with the server's own answer, the 429/503)."""
        with self._hold_lock:
            until = self._hold_until
        wait = until - time.monotonic()
        if wait <= 0:
            return
        if time.monotonic() + wait > ends:
            raise EstThrottled(
                f"{what}: the EST server asked this station to wait {wait:.0f} s more (Retry-After), "
                "longer than this request may take",
                retry_after=wait,
            )
        log.info("%s: waiting %.1fs, as the EST server asked (Retry-After)", what, wait)
        if self._closed.wait(wait):
            raise EstConnectionError(f"{what}: the EST client was closed while waiting to retry")

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

        def once(limit: float) -> HttpResponse:
            return self._send(method, url, headers, body, what, limit)

        return self.with_retries(once, what) if retry else once(self.timeout)

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        what: str,
        limit: float,
    ) -> HttpResponse:
        if self._closed.is_set():
            raise EstConnectionError(f"{what}: the EST client is closed")
        started = time.monotonic()
        error: tuple[str, str, bool] | None = None  # (kind, reason, verify-failure)
        resp: HttpResponse | None = None
        proxies = self.proxies_for(url)
        all_headers = {**_DEFAULT_HEADERS, **headers}
        if body is not None:
            all_headers["Content-Length"] = str(len(body))
        with self.deadline(url, limit) as deadline:
            try:
                pool, path = self._pool_for(url, proxies)
                r = pool.urlopen(
                    method,
                    path,
                    body=body,
                    headers=all_headers,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=False,
                    decode_content=True,
                    retries=_NO_RETRIES,
                    timeout=Urllib3Timeout(
                        connect=deadline.socket_timeout(15.0), read=deadline.socket_timeout(limit)
                    ),
                )
                consumed = False
                try:
                    body_read = _read_bounded(r)
                    if body_read is None:
                        error = ("size", "", False)
                    else:
                        consumed = True
                        resp = HttpResponse(status=r.status, headers=r.headers, body=body_read)
                finally:
                    if not consumed:
                        r.close()  # an unread rest must not be left on a pooled connection
                    r.release_conn()
            except urllib3.exceptions.MaxRetryError as exc:
                error = _classify(exc.reason if exc.reason is not None else exc, exc)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                error = _classify(exc, exc)
            if deadline.expired or (error is not None and error[0] == "conn" and not deadline.remaining()):
                # Whatever broke (the watchdog's shutdown, or a read timeout at the limit), the
                # cause is the deadline: say so, never "TLS failed" or "connection reset".
                raise timeout_error(what, deadline.where, deadline)
        # Raise outside the except blocks: nothing from urllib3 is chained or kept as context.
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

    def _pool_for(self, url: str, proxies: Mapping[str, str]) -> tuple[Any, str]:
        """The urllib3 pool for ``url`` (direct, or tunnelled through the environment's proxy)
        and the request target; the same pools, TLS context and proxy managers requests'
        adapter would pick, with our TLS context whatever verify/cert/environment say.

        Kept per (URL, proxy) once looked up: the pool manager's key normalisation and lookup
        cost ~50 us per request in a batch (~3 % of the client's CPU per enrollment) and give
        the same pool every time. A kept pool stays this client's pool for that URL even if the
        manager later drops it from its own table (urllib3 2 does not close pools it evicts);
        a pool that was closed is looked up again, and :meth:`close` closes every kept pool.
        """
        proxy = requests.utils.select_proxy(url, dict(proxies)) if proxies else None
        cached = self._pool_cache.get((url, proxy))
        if cached is not None and cached[0].pool is not None:
            return cached
        found = self._lookup_pool(url, proxy)
        with self._proxy_lock:
            if len(self._pool_cache) >= 64:  # a client talks to a handful of URLs
                self._pool_cache.clear()
            self._pool_cache[(url, proxy)] = found
        return found

    def _lookup_pool(self, url: str, proxy: str | None) -> tuple[Any, str]:
        target = self._target_cache.get(url)
        if target is None:
            parsed = parse_url(requests.utils.requote_uri(url))
            if parsed.scheme != "https" or not parsed.host:
                raise urllib3.exceptions.LocationValueError(f"not an https URL: {url}")
            target = (parsed.scheme, parsed.host, parsed.port or 443, parsed.request_uri)
            self._target_cache[url] = target  # a client talks to a handful of URLs
        scheme, host, port, path = target
        manager = self._adapter.proxy_manager_for(proxy) if proxy else self._adapter.poolmanager
        pool = manager.connection_from_host(
            host,
            port=port,
            scheme=scheme,
            pool_kwargs={"ssl_context": self.ssl_context, "cert_reqs": "CERT_REQUIRED"},
        )
        self._adapter.cert_verify(pool, url, True, None)
        return pool, path

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

        def once(limit: float) -> HttpResponse:
            return self._send_bound(url, headers, build_body, what, limit)

        return self.with_retries(once, what)

    def _send_bound(
        self,
        url: str,
        headers: Mapping[str, str],
        build_body: Callable[[bytes], tuple[bytes, Mapping[str, str]]],
        what: str,
        limit: float,
    ) -> HttpResponse:
        if self._closed.is_set():
            raise EstConnectionError(f"{what}: the EST client is closed")
        with self.deadline(url, limit) as deadline:
            resp = self._send_bound_within(url, headers, build_body, what, deadline)
        log.info("EST POST %s (channel-bound, %s) -> HTTP %d", url, resp.tls_version, resp.status)
        return resp

    def _send_bound_within(
        self,
        url: str,
        headers: Mapping[str, str],
        build_body: Callable[[bytes], tuple[bytes, Mapping[str, str]]],
        what: str,
        deadline: Deadline,
    ) -> HttpResponse:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or 443
        where = f"{host}:{port}"
        conn = open_connection(
            url,
            self.ssl_context,
            deadline.socket_timeout(self.timeout),
            deadline=deadline,
            proxies=self.proxies_for(url),
        )
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
        if deadline.expired:
            raise timeout_error(what, where, deadline)
        if error is not None:
            self._raise(error, url, what)
        assert resp is not None
        return resp


def _deadline_connection(
    host: str, port: int, timeout: float, ssl_context: ssl.SSLContext, deadline: Deadline | None
) -> http.client.HTTPSConnection:
    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl_context)
    if deadline is not None:
        # http.client's documented-in-source hook for making the raw socket (stdlib since 3.4).
        create = conn._create_connection  # type: ignore[attr-defined]

        def create_watched(*args: Any, **kwargs: Any) -> socket.socket:
            sock = create(*args, **kwargs)
            deadline.watch(sock)  # before the TLS handshake (and any proxy tunnel) starts
            return sock

        conn._create_connection = create_watched  # type: ignore[attr-defined]
    return conn


def open_connection(
    url: str,
    ssl_context: ssl.SSLContext,
    timeout: float,
    *,
    deadline: Deadline | None = None,
    proxies: Mapping[str, str] | None = None,
) -> http.client.HTTPSConnection:
    """A not-yet-connected HTTPS connection to ``url``'s host, tunnelled through the
    environment's proxy (``https_proxy``/``no_proxy``) when one applies.

    ``proxies`` is the already resolved environment (:meth:`Transport.proxies_for`); without
    it the environment is read now. With ``deadline`` the socket is broken when it passes.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    if proxies is None:
        proxies = requests.utils.get_environ_proxies(url)
    proxy = requests.utils.select_proxy(url, dict(proxies))
    if not proxy:
        return _deadline_connection(host, port, timeout, ssl_context, deadline)
    p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    if p.scheme not in ("http", ""):
        raise EstConnectionError(f"proxy scheme {p.scheme} is not supported for this request")
    conn = _deadline_connection(p.hostname or "", p.port or 8080, timeout, ssl_context, deadline)
    tunnel_headers = {}
    if p.username:
        import base64

        token = f"{unquote(p.username)}:{unquote(p.password or '')}".encode()
        tunnel_headers["Proxy-Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
    conn.set_tunnel(host, port, headers=tunnel_headers)
    return conn
