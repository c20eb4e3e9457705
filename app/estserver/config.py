"""Behaviour switches of the EST test server (what a real deployment would configure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from certline.app.pki import KeyAlgorithm

PASSCODE_ONLY = "passcode-only"
USER_PASSWORD = "user-password"  # noqa: S105 - a style name, not a password
ALL_BASIC_STYLES = frozenset({PASSCODE_ONLY, USER_PASSWORD})


@dataclass
class ServerConfig:
    """Mutable at runtime: every request reads the current values.

    ``labels``/``device_groups`` of None accept anything (including no label);
    a set restricts them (anything else → 404, like an unknown DTM policy).
    """

    key_algorithm: KeyAlgorithm = KeyAlgorithm.EC_P256
    intermediate: bool = True
    validity_days: float = 365.0
    basic_styles: frozenset[str] = ALL_BASIC_STYLES
    labels: frozenset[str] | None = None
    device_groups: frozenset[str] | None = None
    csrattrs: bytes | None = None
    """DER CsrAttrs for /csrattrs (see ``certline.app.estserver.csrattrs``); None → 204 No Content."""
    csrattrs_requires_auth: bool = True
    answer_retransmissions: bool = True
    """A CSR posted again byte for byte (RFC 7030 4.2.3: a client re-sends the same request after
    202 or a lost response) gets the certificate already issued for it, not a second one.
    False: every POST that is not answered 202 or an error issues a new certificate, as many CAs
    do; tests that must catch a duplicate post turn this off (``every_post_issues``)."""
    serverkeygen_key: str | None = None
    """/serverkeygen makes a key of this type whatever key the CSR carries, as some real servers
    do: ``ec-p256``, ``ec-p384``, ``rsa-2048``, ``rsa-3072`` or ``rsa-4096``. None (the default)
    follows RFC 7030 4.4.1's suggestion: the type of the CSR's public key."""
    require_pop: bool = False
    """RFC 7030 3.5: CSR challengePassword must be base64(tls-unique) of the connection."""
    extra_client_ca_pem: bytes | None = None
    """More trust anchors for client certificates on the clientauth listener (bootstrap certs)."""
    passcode_listener_requests_cert: bool = True
    """Ask for an optional client certificate on the passcode listener (needed to re-enroll there)."""
    passcode_max_uses: int | None = None
    """After this many certificates issued on a passcode, the passcode gets 401 (a DTM usage
    limit); None = unlimited. See ``app/estserver/quota.py``."""
    throttle_limit: int | None = None
    """More enrollment requests than this in any ``throttle_window`` seconds get 429 with
    Retry-After; None = never."""
    throttle_window: float = 60.0
    throttle_retry_after_date: bool = False
    """Send the throttle's Retry-After as an HTTP-date instead of delta-seconds."""
    max_body_bytes: int = 1 << 20
    max_recorded_requests: int = 1000
    handshake_timeout: float = 10.0
    idle_timeout: float = 30.0
    """Keep-alive connections idle this long are closed by the server."""
    tls_hosts: tuple[str, ...] = field(default_factory=lambda: ("127.0.0.1", "localhost"))
