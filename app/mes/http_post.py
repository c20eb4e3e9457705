"""POST one MES record: TLS always verified, an overall deadline, an ``Idempotency-Key`` header.

* The header is the IETF draft's ``Idempotency-Key`` (draft-ietf-httpapi-idempotency-key-header),
  its value a Structured Field String: the record's key in double quotes. The same key is in the
  body (``idempotency_key``); a retry sends the same key and the very same bytes, so the MES
  recognises a record it already has (it must dedupe on the key: delivery is at-least-once).
* Every POST has one overall deadline (connect + TLS + request + the whole answer), enforced by
  the EST client's watchdog (:mod:`certline.app.est.deadline`): a MES that accepts the connection and
  never answers, or drips its answer, is cut off when the deadline passes.
* TLS: ``https://`` with certificate and host name verification, against the CA file given in the
  settings or the system's trust store; environment CA variables, proxies and ``.netrc`` are not
  read. Plain ``http://`` is accepted only to this computer (see :mod:`certline.app.mes.config`).
* The token (``Authorization: Bearer``) is never part of a message: errors carry the status, the
  server's first words (scrubbed of registered secrets) or the connection failure's reason.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from certline.app.est.deadline import Deadline, active_deadline, bind
from certline.app.mes.config import MesConfig, check_url
from certline.app.mes.delivery_error import MesDeliveryError
from certline.app.security.redaction import scrub

USER_AGENT = "certline-mes/1"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_ANSWER = 64 * 1024
#: statuses worth retrying soon (the MES is busy or down); other 4xx mean it refused the record
TRANSIENT = frozenset({408, 425, 429})


class _Watched:
    """A urllib3 connection whose socket the current request's deadline may break."""

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        deadline = active_deadline()
        if deadline is not None:
            deadline.watch(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = active_deadline()
        sock = getattr(self, "sock", None)
        if deadline is not None and sock is not None:
            deadline.watch(sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _MesAdapter(HTTPAdapter):
    """Pools whose sockets honour the deadline and whose TLS context is ours, whatever
    ``verify`` or the environment say."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        super().__init__(pool_connections=1, pool_maxsize=2, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        host_params, _ignored = super().build_connection_pool_key_attributes(request, True, None)
        return host_params, {"ssl_context": self._ssl_context, "cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


class _NoNetrc(AuthBase):
    def __call__(self, r: Any) -> Any:
        return r


def tls_context(config: MesConfig) -> ssl.SSLContext:
    """Verification on, always: the configured CA file, else the system trust store."""
    try:
        context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise MesDeliveryError(
            f"cannot read the MES CA file {config.ca_file}: {exc}", transient=False
        ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class MesPoster:
    """Sends records to ``config.url`` over one keep-alive session (one thread at a time)."""

    def __init__(self, config: MesConfig) -> None:
        if config.url is None:
            raise ValueError("no MES URL configured")
        check_url(config.url)
        self.url = config.url
        self.timeout = config.timeout
        parts = urlsplit(config.url)
        self.where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies, CA bundles or .netrc from the environment
        self._session.headers["User-Agent"] = USER_AGENT
        adapter = _MesAdapter(tls_context(config))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._token = config.token

    def close(self) -> None:
        self._session.close()

    def post(self, key: str, body: str) -> int:
        """POST one record; returns the 2xx status, raises :class:`MesDeliveryError` otherwise."""
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json, */*;q=0.1",
            IDEMPOTENCY_HEADER: f'"{key}"',
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        deadline = Deadline(self.timeout, self.where)
        failure: str | None = None
        status = 0
        answer = b""
        retry_after: str | None = None
        with bind(deadline):
            try:
                response = self._session.post(
                    self.url,
                    data=body.encode("utf-8"),
                    headers=headers,
                    timeout=(deadline.socket_timeout(self.timeout), deadline.socket_timeout(self.timeout)),
                    allow_redirects=False,
                    stream=True,
                    auth=_NoNetrc(),
                )
                try:
                    status = response.status_code
                    retry_after = response.headers.get("Retry-After")
                    for chunk in response.iter_content(8192):
                        answer += chunk
                        if len(answer) >= MAX_ANSWER:
                            break
                finally:
                    response.close()
            except (requests.RequestException, OSError) as exc:
                failure = _reason(exc)  # outside the except block below: nothing chained or kept
        if deadline.expired:
            raise MesDeliveryError(
                f"the MES {self.where} did not answer within {deadline.describe()}", transient=True
            )
        if failure is not None:
            raise MesDeliveryError(f"cannot reach the MES {self.where}: {failure}", transient=True)
        if 200 <= status < 300:
            return status
        text = scrub(answer[:200].decode("utf-8", "replace").strip().replace("\n", " "))
        message = f"the MES {self.where} answered HTTP {status}" + (f": {text}" if text else "")
        transient = status >= 500 or status in TRANSIENT
        raise MesDeliveryError(message, transient=transient, retry_after=_seconds(retry_after))


def _reason(exc: BaseException) -> str:
    """A short, header-free reason for a failed connection."""
    if isinstance(exc, requests.exceptions.SSLError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return "its TLS certificate is not trusted (check mes_ca_file)"
        return "TLS failed"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "unknown host"
        return "connection failed"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    return type(exc).__name__


def _seconds(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())
