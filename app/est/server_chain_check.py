"""Check the EST server's certificate chain and name against explicit trust anchors.

tlslite-ng checks that the server holds the key of the certificate it sent, but
not that the certificate chains to anything we trust nor that it names the host
we dialled. That is done here with ``cryptography``'s RFC 5280 / CA/B path
validator, before the device signs anything and before any request byte goes out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from certline.app.est.errors import EstTlsError
from certline.app.pki import fingerprint as cert_fingerprint  # one fingerprint format everywhere


def _subject_for(host: str) -> x509.DNSName | x509.IPAddress:
    try:
        return x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return x509.DNSName(host)


def _names_in(cert: x509.Certificate) -> str:
    """The leaf's DNS and IP SANs, for an error message an operator can act on."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "none"
    names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return ", ".join(names) or "none"


def _matches_name(cert: x509.Certificate, host: str) -> bool:
    """Loose name check used only to word the error (the validator's own check is authoritative)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    subject = _subject_for(host)
    if isinstance(subject, x509.IPAddress):
        return subject.value in san.get_values_for_type(x509.IPAddress)
    wanted = host.lower().rstrip(".")
    for name in san.get_values_for_type(x509.DNSName):
        pattern = name.lower().rstrip(".")
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def _untrusted_reason(
    chain: Sequence[x509.Certificate],
    trust_anchors: Sequence[x509.Certificate],
    now: datetime,
    error: VerificationError,
) -> str:
    """Say in operator terms why the chain failed; the validator's own text is the fallback."""
    leaf = chain[0]
    if now > leaf.not_valid_after_utc:
        return f"its certificate is not trusted: it expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    if now < leaf.not_valid_before_utc:
        return (
            f"its certificate is not trusted: it is not valid before "
            f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC (check this computer's clock)"
        )
    known = {c.subject for c in chain[1:]} | {a.subject for a in trust_anchors}
    if leaf.issuer not in known or "candidates exhausted" in str(error):
        return (
            f"its certificate is not trusted: issued by {leaf.issuer.rfc4514_string()}, "
            "which does not lead to a configured trust anchor"
        )
    return f"its certificate is not trusted ({error})"


def verify_server_chain(
    chain: Sequence[x509.Certificate],
    host: str,
    trust_anchors: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
) -> None:
    """Raise :class:`EstTlsError` unless ``chain`` (leaf first) chains to an anchor and names ``host``.

    The error carries the leaf's SHA-256 fingerprint so the operator can compare it out of band.
    """
    if not chain:
        raise EstTlsError("the server sent no certificate")
    leaf = chain[0]
    fingerprint = cert_fingerprint(leaf)
    if not trust_anchors:
        raise EstTlsError(
            f"no trust anchors configured for {host}; server certificate SHA-256 {fingerprint}",
            fingerprint=fingerprint,
        )
    when = now or datetime.now(UTC)
    builder = PolicyBuilder().store(Store(list(trust_anchors))).time(when)
    verifier = builder.build_server_verifier(_subject_for(host))
    try:
        verifier.verify(leaf, list(chain[1:]))
    except VerificationError as exc:
        if not _matches_name(leaf, host):
            reason = f"its certificate is for {_names_in(leaf)}, not {host}"
        else:
            reason = _untrusted_reason(chain, trust_anchors, when, exc)
        raise EstTlsError(
            f"refusing server {host}: {reason}; server certificate SHA-256 {fingerprint}",
            fingerprint=fingerprint,
        ) from None
