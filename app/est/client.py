"""The EST client (RFC 7030 / 8951 / 9908) every Certline enrollment goes through.

Nothing leaves this class unverified: a certificate is returned only after the
PKCS#7 parsed, the leaf's key equals the CSR's key (or, for ``/serverkeygen``,
the returned private key's), and the chain reached a pinned trust anchor; it is
ordered leaf first. Failures are the typed errors of :mod:`certline.app.est.errors`.

Thread-safe: one client (one pooled session) serves a whole batch of workers.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certline.app.config.est_urls import EstEndpoint, parse_est_url
from certline.app.config.profile import AuthStyle, Profile
from certline.app.est import encoding
from certline.app.est.credentials import Credentials
from certline.app.est.csrattrs import parse_csrattrs
from certline.app.est.encoding import CsrFactory
from certline.app.est.errors import (
    EstAuthError,
    EstBadRequest,
    EstError,
    EstForbidden,
    EstPending,
    EstPopUnavailable,
    EstResponseError,
    EstServerError,
)
from certline.app.est.issued_chain_check import (
    VerifiedLinks,
    build_chain,
    identity_warnings,
    order_ca_certs,
    spki,
)
from certline.app.est.multipart import Part, parse_multipart
from certline.app.est.results import CsrAttributes, EnrollResult, ServerKeygenResult
from certline.app.est.tls_context import ClientCertFiles, verified_context
from certline.app.est.transport import HttpResponse, Transport, error_for_status, parse_retry_after
from certline.app.security import redaction

log = logging.getLogger("certline.est")

Signer = Callable[[bytes, str, str], bytes]
"""Signs a TLS handshake digest with the device key (see ``app/est/device_key_https.py``)."""

DEFAULT_RETRY_AFTER = 60.0
"""Wait used when a 202 carries no (valid) Retry-After, which RFC 7030 requires but servers omit."""


def load_trust_anchors(profile: Profile) -> list[x509.Certificate]:
    """The profile's pinned CA bundle (``ca_bundle_pem`` preferred over ``ca_bundle_file``)."""
    if profile.ca_bundle_pem:
        return encoding.load_pem_certs(profile.ca_bundle_pem)
    if profile.ca_bundle_file:
        try:
            data = Path(profile.ca_bundle_file).read_bytes()
        except OSError as exc:
            raise EstError(f"cannot read the CA bundle {profile.ca_bundle_file}: {exc.strerror}") from None
        return encoding.load_pem_certs(data)
    return []


class EstClient:
    """EST operations for one profile. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        profile: Profile,
        credentials: Credentials,
        *,
        pool_size: int = 4,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 120.0,
    ) -> None:
        self.profile = profile
        self._credentials = credentials
        # process-wide log scrubbing of these values and their base64 forms (certline.app.security.redaction)
        redaction.register_secrets(credentials.secrets())
        self.timeout = timeout
        self._anchors = load_trust_anchors(profile)
        self._enroll_ep = parse_est_url(
            profile.enroll_url, label=profile.label, device_group=profile.device_group
        )
        self._reenroll_ep = (
            parse_est_url(profile.reenroll_url, label=profile.label, device_group=profile.device_group)
            if profile.reenroll_url
            else self._enroll_ep
        )
        self._client_files = ClientCertFiles(
            cert_file=profile.client_cert_file,
            key_file=profile.client_key_file,
            p12_file=profile.client_p12_file,
        )
        if profile.auth_style == AuthStyle.CLIENT_CERT and not self._client_files.configured:
            raise EstError("the profile uses client-certificate auth but names no certificate")
        context = verified_context(self._anchors, self._client_files, key_password=credentials.p12_password)
        self._transport = Transport(
            context,
            pool_size=pool_size,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_retry_after=max_retry_after,
        )
        self._transport.scrub = self._scrub
        self._attrs_lock = threading.Lock()
        self._attrs_cache: CsrAttributes | None = None
        self._links = VerifiedLinks()
        """CA-to-CA signatures verified by this client (the leaf's is checked on every answer)."""

    def use_credentials(self, credentials: Credentials) -> None:
        """Send these secrets from the next request on (a new passcode while a batch runs).

        Only the Basic-auth secrets can change here: a client-certificate password is bound into
        the TLS context, which is built once.
        """
        redaction.register_secrets(credentials.secrets())
        self._credentials = Credentials(
            passcode=credentials.passcode,
            password=credentials.password,
            p12_password=self._credentials.p12_password,
        )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close pooled connections and wake any worker waiting to retry."""
        self._transport.close()

    def __enter__(self) -> EstClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EstClient(profile={self.profile.name!r}, base={self._enroll_ep.base!r})"

    # ------------------------------------------------------------------ public API

    @property
    def endpoint(self) -> EstEndpoint:
        return self._enroll_ep

    @property
    def reenroll_endpoint(self) -> EstEndpoint:
        return self._reenroll_ep

    def trust_anchors(self) -> list[x509.Certificate]:
        """The pinned trust anchors every response is verified against."""
        return list(self._anchors)

    def cacerts(self) -> list[x509.Certificate]:
        """``/cacerts``: the CA certificates, issuing CA first where the links are visible."""
        what = "cacerts"
        resp = self._transport.request(
            "GET", self._enroll_ep.url("cacerts"), headers=self._headers(optional_auth=True), what=what
        )
        if resp.status != 200:
            raise error_for_status(resp, what, self._scrub)
        return order_ca_certs(encoding.parse_certs(resp.body, "/cacerts"))

    def csrattrs(self) -> CsrAttributes:
        """``/csrattrs``; 204, 404 and an empty SEQUENCE all mean "no attributes" (and so does
        501: a server that does not implement the operation has no requirements to state)."""
        what = "csrattrs"
        resp = self._transport.request(
            "GET", self._enroll_ep.url("csrattrs"), headers=self._headers(optional_auth=True), what=what
        )
        if resp.status in (204, 404, 501):
            attrs = CsrAttributes()
        elif resp.status == 200:
            body = resp.body.replace(b"\x00", b"").strip()
            attrs = parse_csrattrs(encoding.decode_body(resp.body, "/csrattrs") if body else b"")
        else:
            raise error_for_status(resp, what, self._scrub)
        with self._attrs_lock:
            self._attrs_cache = attrs
        return attrs

    def simpleenroll(self, csr: bytes | CsrFactory) -> EnrollResult:
        """``/simpleenroll``. Raises :class:`EstPending` on 202 (poll with the same CSR)."""
        resp, csr_obj = self._post_csr("simpleenroll", self._enroll_ep, csr)
        certs = self._certs_from(resp, "simpleenroll")
        chain, warnings = build_chain(certs, spki(csr_obj.public_key()), self._anchors, links=self._links)
        return EnrollResult(chain=chain, warnings=warnings)

    def simplereenroll(
        self,
        csr: bytes | CsrFactory,
        current_cert: x509.Certificate,
        *,
        signer: Signer | None = None,
        client_chain: Sequence[x509.Certificate] | None = None,
    ) -> EnrollResult:
        """``/simplereenroll`` on the re-enroll URL.

        With ``signer`` the TLS client authentication is done with the device-held key
        (``app/est/device_key_https.py``, presenting ``client_chain`` or ``current_cert``);
        otherwise with the profile's client certificate files (or Basic auth if none).
        A changed subject or subjectAltName is reported in ``warnings``.
        """
        if signer is not None:
            resp, csr_obj = self._post_external(
                csr, current_cert, signer, list(client_chain or [current_cert])
            )
        else:
            resp, csr_obj = self._post_csr("simplereenroll", self._reenroll_ep, csr, reenroll=True)
        certs = self._certs_from(resp, "simplereenroll")
        chain, warnings = build_chain(certs, spki(csr_obj.public_key()), self._anchors, links=self._links)
        warnings = warnings + identity_warnings(chain[0], current_cert)
        return EnrollResult(chain=chain, warnings=warnings)

    def serverkeygen(self, csr: bytes | CsrFactory) -> ServerKeygenResult:
        """``/serverkeygen``: certificate plus server-generated key (PKCS#8 DER, memory only)."""
        what = "serverkeygen"
        resp, _csr_obj = self._post_csr(what, self._enroll_ep, csr)
        self._check_success(resp, what)
        key_pkcs8, certs = _split_keygen(resp)
        key = serialization.load_der_private_key(key_pkcs8, password=None)
        chain, warnings = build_chain(certs, spki(key.public_key()), self._anchors, links=self._links)
        return ServerKeygenResult(chain=chain, warnings=warnings, private_key_pkcs8=key_pkcs8)

    # ------------------------------------------------------------------ request building

    def _scrub(self, text: str) -> str:
        """Remove any echo of our secrets (or their Basic tokens) from server text."""
        for secret in self._credentials.secrets():
            variants = {secret, base64.b64encode(secret.encode()).decode("ascii")}
            if self.profile.username:
                token = f"{self.profile.username}:{secret}".encode()
                variants.add(base64.b64encode(token).decode("ascii"))
            for variant in variants:
                if len(variant) >= 4:
                    text = text.replace(variant, redaction.REDACTED)
        return redaction.scrub(text)

    def _basic_token(self) -> str | None:
        style = self.profile.auth_style
        secret = self._credentials.basic_secret
        if style == AuthStyle.PASSCODE_ONLY and self._credentials.passcode:
            return base64.b64encode(self._credentials.passcode.encode("utf-8")).decode("ascii")
        if style == AuthStyle.USER_PASSWORD and secret:
            if not self.profile.username:
                raise EstAuthError("user-password auth needs a user name in the profile")
            pair = f"{self.profile.username}:{secret}".encode()
            return base64.b64encode(pair).decode("ascii")
        return None

    def _headers(self, *, optional_auth: bool = False, reenroll: bool = False) -> dict[str, str]:
        """Request headers with Basic auth when the profile uses it.

        Re-enrollment authenticates with the client certificate when one is configured, so
        the passcode is not sent to the (often separate) client-auth host.
        """
        headers: dict[str, str] = {}
        if reenroll and self._client_files.configured:
            return headers
        token = self._basic_token()
        if token:
            headers["Authorization"] = f"Basic {token}"
        elif (
            not optional_auth
            and self.profile.auth_style != AuthStyle.CLIENT_CERT
            and not self._client_files.configured
        ):
            raise EstAuthError(
                f"no {'passcode' if self.profile.auth_style == AuthStyle.PASSCODE_ONLY else 'password'}"
                " is available for this profile (keyring entry or environment variable)"
            )
        return headers

    def _cached_attrs(self) -> CsrAttributes:
        with self._attrs_lock:
            cached = self._attrs_cache
        if cached is not None:
            return cached
        try:
            return self.csrattrs()
        except (EstBadRequest, EstForbidden, EstServerError, EstResponseError) as exc:
            # Only asked to learn whether PoP is wanted: a broken /csrattrs must not block
            # enrollment (the enroll request itself will say if the server insists).
            log.warning("csrattrs unusable (%s); assuming no proof-of-possession requirement", exc)
            attrs = CsrAttributes()
            with self._attrs_lock:
                self._attrs_cache = attrs
            return attrs

    def _pop_needed(self, csr: bytes | CsrFactory) -> bool:
        if self.profile.require_pop:
            return True
        if not callable(csr):
            return False  # a fixed CSR cannot carry tls-unique; the server will say if it minds
        return self._cached_attrs().challenge_password_required

    def _post_csr(
        self, op: str, endpoint: EstEndpoint, csr: bytes | CsrFactory, *, reenroll: bool = False
    ) -> tuple[HttpResponse, x509.CertificateSigningRequest]:
        """POST a CSR (channel-bound when proof-of-possession is needed)."""
        url = endpoint.url(op)
        headers = self._headers(reenroll=reenroll)
        fmt = self.profile.csr_format
        if self._pop_needed(csr):
            if not callable(csr):
                raise EstPopUnavailable(
                    f"{op}: proof-of-possession is required but the CSR was made before the TLS "
                    "connection; pass a CSR factory so tls-unique can go into challengePassword"
                )
            factory = csr
            made: list[x509.CertificateSigningRequest] = []

            def build(tls_unique: bytes) -> tuple[bytes, Mapping[str, str]]:
                csr_obj = encoding.load_csr(factory(tls_unique))
                made.append(csr_obj)
                return encoding.encode_csr(csr_obj, fmt)

            resp = self._transport.post_channel_bound(url, headers=headers, build_body=build, what=op)
            return resp, made[-1]
        csr_bytes = csr(None) if callable(csr) else csr
        csr_obj = encoding.load_csr(csr_bytes)
        body, content_headers = encoding.encode_csr(csr_obj, fmt)
        resp = self._transport.request(
            "POST", url, headers={**headers, **content_headers}, body=body, what=op
        )
        return resp, csr_obj

    def _post_external(
        self,
        csr: bytes | CsrFactory,
        current_cert: x509.Certificate,
        signer: Signer,
        client_chain: list[x509.Certificate],
    ) -> tuple[HttpResponse, x509.CertificateSigningRequest]:
        """POST /simplereenroll over a TLS session whose client key stays on the device."""
        op = "simplereenroll"
        from certline.app.est import (
            device_key_https as external_tls,  # lazy: tlslite-ng is loaded only when a device signs
        )

        if self.profile.require_pop:
            raise EstPopUnavailable(
                f"{op}: proof-of-possession linking is not supported when the device key "
                "authenticates the TLS session"
            )
        csr_obj = encoding.load_csr(csr(None) if callable(csr) else csr)
        body, content_headers = encoding.encode_csr(csr_obj, self.profile.csr_format)
        url = self._reenroll_ep.url(op)
        headers = {"User-Agent": "certline-est/0.1", **content_headers}
        post: Any = external_tls.post_with_external_key

        def once(limit: float) -> HttpResponse:
            with self._transport.deadline(url, limit) as deadline:  # closing the client ends it too
                status, resp_headers, resp_body = post(
                    url,
                    headers,
                    body,
                    client_chain=client_chain,
                    signer=signer,
                    trust_anchors=self._anchors,
                    timeout=limit,
                    deadline=deadline,
                )
            return HttpResponse(status=status, headers=dict(resp_headers), body=resp_body)

        resp = self._transport.with_retries(once, op)
        return resp, csr_obj

    # ------------------------------------------------------------------ response handling

    def _check_success(self, resp: HttpResponse, what: str) -> None:
        if resp.status == 200:
            return
        if resp.status == 202:
            retry_after = parse_retry_after(resp.header("Retry-After"))
            if retry_after is None:
                retry_after = DEFAULT_RETRY_AFTER
            retry_at = datetime.now(UTC) + timedelta(seconds=retry_after)
            raise EstPending(
                f"{what}: the request awaits approval on the EST server; "
                f"poll again in {retry_after:.0f}s with the same CSR",
                retry_at=retry_at,
                retry_after=retry_after,
            )
        if resp.status == 204:
            raise EstResponseError(f"{what}: the server answered 204 with no certificate")
        raise error_for_status(resp, what, self._scrub)

    def _certs_from(self, resp: HttpResponse, what: str) -> list[x509.Certificate]:
        self._check_success(resp, what)
        return encoding.parse_certs(resp.body, f"/{what}")


# ---------------------------------------------------------------------- serverkeygen parts

_ENCRYPTED_KEY_MSG = (
    "serverkeygen: the server returned an encrypted private key (CMS EnvelopedData); "
    "encrypted server-generated keys are not supported - configure the policy to return "
    "the key unencrypted over TLS"
)


def _split_keygen(resp: HttpResponse) -> tuple[bytes, list[x509.Certificate]]:
    """``(PKCS#8 DER key, certificates)`` from a serverkeygen multipart response."""
    parts = parse_multipart(resp.body, resp.header("Content-Type"))
    key: bytes | None = None
    certs: list[x509.Certificate] | None = None
    undecided: list[Part] = []
    for part in parts:
        ctype = part.content_type.lower()
        if "server-generated-key" in ctype or "enveloped" in ctype:
            raise EstResponseError(_ENCRYPTED_KEY_MSG)
        if "certs-only" in ctype and certs is None:
            certs = encoding.parse_certs(part.body, "/serverkeygen certificate part")
        elif ("pkcs8" in ctype or "private" in ctype) and key is None:
            key = encoding.normalise_private_key(part.body)
        else:
            undecided.append(part)
    for part in undecided:  # unlabelled or mislabelled parts: decide by content
        if certs is None:
            try:
                certs = encoding.parse_certs(part.body, "/serverkeygen certificate part")
                continue
            except EstResponseError:
                pass
        if key is None:
            key = encoding.normalise_private_key(part.body)
    if key is None:
        raise EstResponseError("serverkeygen: the response has no private key part")
    if certs is None:
        raise EstResponseError("serverkeygen: the response has no certificate part")
    return key, certs
