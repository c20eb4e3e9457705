"""Can this unit take the key the EST server generated? Decided before anything is written.

RFC 7030 4.4.1 lets a ``/serverkeygen`` server choose the key; Certline asks for the
type of the CSR's public key (the profile's ``key_algorithm``), but some servers
ignore that (one real server returns RSA-4096 whatever is asked). Sending such a key
to a unit that cannot hold it only yields a misleading device error, after the
certificate was issued. So the key is checked against what the unit declares
(``Capabilities.key_algorithms``), re-encoded as PKCS#8 (the encoding the server used
is never a reason to fail), and when the unit cannot take it the issued certificate is
journaled as "issued, not installed" and the unit fails with a message naming both.

The key itself never appears in a message, the journal or a log line.
"""

from __future__ import annotations

from collections.abc import Sequence

from certline.app import pki
from certline.app.batch.journal_api import JournalBackend
from certline.app.device.driver import KeyAlgorithm
from certline.app.est.results import ServerKeygenResult

NOT_INSTALLED_OPERATION = "serverkeygen-not-installed"
"""``certificates.operation`` of a certificate the server issued but Certline did not install."""


class ServerKeyUnusable(Exception):
    """The unit cannot take the server's key; the message names the key type and the unit."""

    code = "server-key-unusable"


def key_for_unit(private_key: bytes, accepts: Sequence[KeyAlgorithm], unit: str) -> bytes:
    """The server key as PKCS#8 DER, if ``unit`` declares its algorithm; else :class:`ServerKeyUnusable`."""
    reason: str | None = None
    try:
        pkcs8, public_key = pki.private_key_to_pkcs8(private_key)
    except ValueError as exc:
        reason = str(exc)
    if reason is not None:  # raised outside the except block: nothing chained, not even context
        raise ServerKeyUnusable(f"unit {unit}: {reason}")
    algorithm = pki.key_algorithm_of(public_key)
    if algorithm is None or algorithm not in accepts:
        offered = ", ".join(a.value for a in accepts) or "no key types"
        raise ServerKeyUnusable(
            f"the EST server generated an {pki.describe_key(public_key)} key; unit {unit} accepts {offered}"
        )
    return pkcs8


def record_not_installed(journal: JournalBackend, device_id: int, result: ServerKeygenResult) -> str:
    """Journal the issued certificate as not installed; returns the sentence for the unit's error."""
    leaf = result.leaf
    serial, fingerprint = pki.cert_serial_hex(leaf), pki.fingerprint(leaf)
    journal.record_certificate(
        device_id,
        operation=NOT_INSTALLED_OPERATION,
        chain_pem=pki.chain_to_pem(result.chain),
        cert_serial=serial,
        fingerprint=fingerprint,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        issuer=leaf.issuer.rfc4514_string(),
        subject=leaf.subject.rfc4514_string(),
    )
    return (
        f"the EST server issued certificate {serial} (SHA-256 {fingerprint}), which was not installed "
        "(nothing was written to the unit; revoke it on the CA if your policy requires)"
    )
