"""Typed EST errors. Messages carry the server's text but never a credential or key."""

from __future__ import annotations

from datetime import datetime


class EstError(Exception):
    """Any failure of an EST operation. ``retryable`` tells the batch engine whether backing off helps."""

    retryable = False
    code = "est"

    def __init__(self, message: str, *, status: int | None = None, server_text: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.server_text = server_text


class EstAuthError(EstError):
    """401: passcode rejected or credentials missing."""

    code = "unauthorized"


class EstForbidden(EstError):
    """403: authenticated but not allowed (policy, IP restriction, operational hours)."""

    code = "forbidden"


class EstNotFound(EstError):
    """404: wrong URL, label or device group."""

    code = "not-found"


class EstBadRequest(EstError):
    """400 and other 4xx: the server rejected the request; its reason is in ``server_text``."""

    code = "bad-request"


class EstServerError(EstError):
    """5xx: retried with backoff; ``retry_after`` honours the server's Retry-After on 503."""

    code = "server-error"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class EstThrottled(EstServerError):
    """429 Too Many Requests: the server throttles this client. Retried like a 503, after the
    ``Retry-After`` it sends (RFC 6585 4, RFC 9110 10.2.3), never sooner."""

    code = "throttled"


class EstConnectionError(EstError):
    """Connection refused, reset or timed out: the server is unreachable for now."""

    code = "unreachable"
    retryable = True


class EstTimeout(EstConnectionError):
    """The request ran past its overall deadline (connect + TLS + request + whole answer).

    ``where`` is the server's ``host:port``, ``seconds`` the limit that was exceeded.
    """

    code = "timeout"

    def __init__(self, message: str, *, seconds: float | None = None, where: str | None = None) -> None:
        super().__init__(message)
        self.seconds = seconds
        self.where = where


class EstTlsError(EstError):
    """TLS failure: untrusted server certificate or hostname mismatch. Never retried.

    ``fingerprint`` is the SHA-256 of the server certificate (hex, colon separated) when known,
    so an operator can compare it out of band.
    """

    code = "tls"

    def __init__(self, message: str, *, fingerprint: str | None = None) -> None:
        super().__init__(message)
        self.fingerprint = fingerprint


class EstResponseError(EstError):
    """The server answered 2xx but the body is unusable: unparseable PKCS#7, a certificate for
    another key, a chain that does not reach the trust anchors, an encrypted server key."""

    code = "bad-response"


class EstPending(EstError):
    """202 Accepted: the request waits for approval. Poll again at ``retry_at`` with the same CSR."""

    code = "pending"
    retryable = True

    def __init__(self, message: str, *, retry_at: datetime, retry_after: float) -> None:
        super().__init__(message, status=202)
        self.retry_at = retry_at
        self.retry_after = retry_after


class EstPopUnavailable(EstError):
    """Proof-of-possession linking (tls-unique) was required but the connection is TLS 1.3."""

    code = "pop-unavailable"
