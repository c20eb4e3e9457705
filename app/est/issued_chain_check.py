"""Checks every certificate passes before it leaves the EST client.

Why manual path building rather than ``cryptography.x509.verification``: the
Rust verifier applies the CA/Browser web-PKI profile (SAN required on the leaf,
AKI required on CAs, EKU rules), which rejects perfectly good device
certificates and the in-house CAs factories use. What Certline must guarantee
is narrower and stricter where it matters: the leaf is for *this* key, every
link is signed by the next, every issuer is a CA, everything is in its validity
period, and the path ends at one of the explicitly pinned trust anchors. Every
certificate in the pinned bundle counts as an anchor (like OpenSSL's
partial-chain mode), so pinning an intermediate works too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from certline.app.est import der_reader as der
from certline.app.est.errors import EstResponseError

MAX_PATH = 8
MAX_CERTS = 32
"""Most certificates one EST response may carry: a device chain has 2-4, /cacerts a handful.
Bounds the work of path building (ordering /cacerts is quadratic in signature checks)."""
MAX_CERT_BYTES = 32 * 1024
"""Largest single certificate accepted from a server (device certificates are about 1 KiB)."""
CLOCK_SKEW = timedelta(minutes=5)
"""A freshly issued leaf may be dated slightly in the future by a server whose clock runs ahead."""


def spki(key: object) -> bytes:
    """SubjectPublicKeyInfo DER of a public key (the canonical form to compare keys)."""
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


class _DerMemo:
    """Each certificate's DER, encoded once per verification.

    Why: ``public_bytes`` re-encodes the whole certificate (~8 us) and checking one answer
    asked for the same few certificates' DER about a dozen times (~0.1 ms per enrollment).
    Keyed by identity; the memo holds the certificates, so an ``id`` cannot be reused for
    another object while it lives. The bytes are exactly what ``_der`` returns.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[x509.Certificate, bytes]] = {}

    def __call__(self, cert: x509.Certificate) -> bytes:
        hit = self._by_id.get(id(cert))
        if hit is None:
            hit = (cert, _der(cert))
            self._by_id[id(cert)] = hit
        return hit[1]


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


_ECDSA_HASHES: dict[x509.ObjectIdentifier, type[hashes.HashAlgorithm]] = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: hashes.SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: hashes.SHA384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: hashes.SHA512,
}
_RSA_PKCS1_HASHES: dict[x509.ObjectIdentifier, type[hashes.HashAlgorithm]] = {
    SignatureAlgorithmOID.RSA_WITH_SHA256: hashes.SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384: hashes.SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512: hashes.SHA512,
}


def _span(data: bytes, pos: int, limit: int) -> tuple[int, int]:
    """``(value start, end)`` of the DER element at ``pos`` (see :func:`der.value_span`)."""
    return der.value_span(data, pos, limit)


def _tbs_parts(cert_der: bytes) -> tuple[bytes, bytes, bytes] | None:
    """``(TBSCertificate, issuer Name, subject Name)`` as encoded, of a certificate whose inner
    and outer signature algorithm identifiers are identical (RFC 5280 4.1.1.2), or None."""
    try:
        size = len(cert_der)
        if size > der.MAX_INPUT:
            return None
        outer_start, outer_end = _span(cert_der, 0, size)
        tbs_start, tbs_end = _span(cert_der, outer_start, outer_end)
        outer_alg_end = _span(cert_der, tbs_end, outer_end)[1]
        pos = tbs_start
        if pos < tbs_end and cert_der[pos] == 0xA0:  # [0] version
            pos = _span(cert_der, pos, tbs_end)[1]
        inner_alg_start = _span(cert_der, pos, tbs_end)[1]  # after serialNumber
        issuer_start = _span(cert_der, inner_alg_start, tbs_end)[1]
        validity_start = _span(cert_der, issuer_start, tbs_end)[1]
        subject_start = _span(cert_der, validity_start, tbs_end)[1]
        subject_end = _span(cert_der, subject_start, tbs_end)[1]
    except der.DerError:
        return None
    header = outer_start  # the TBS element starts where the outer SEQUENCE's value does
    if cert_der[inner_alg_start:issuer_start] != cert_der[tbs_end:outer_alg_end]:
        return None
    return (
        cert_der[header:tbs_end],
        cert_der[issuer_start:validity_start],
        cert_der[subject_start:subject_end],
    )


def _signed_part(cert_der: bytes) -> bytes | None:
    """The TBSCertificate bytes (see :func:`_tbs_parts`), or None."""
    parts = _tbs_parts(cert_der)
    return parts[0] if parts is not None else None


def _subject_der(cert_der: bytes) -> bytes | None:
    """The subject Name of a certificate as encoded (see :func:`_tbs_parts`), or None."""
    parts = _tbs_parts(cert_der)
    return parts[2] if parts is not None else None


def _verify_with_key(
    cert: x509.Certificate,
    cert_der: bytes,
    issuer: x509.Certificate,
    key: object,
    issuer_subject_der: bytes | None = None,
) -> bool:
    """``cert`` was signed by ``key`` (the public key of ``issuer``, already loaded).

    What ``verify_directly_issued_by`` checks (issuer name = issuer's subject as encoded, inner
    = outer signature algorithm, the signature over the TBS bytes), for ECDSA and RSA PKCS#1
    v1.5 with SHA-2; any other algorithm, or an issuer whose subject could not be read
    (``issuer_subject_der`` None), is left to the library. The names are compared as encoded,
    as the library does: ``x509.Name`` equality ignores the string type (a PrintableString and
    a UTF8String CN compare equal), so comparing Name objects accepted a leaf the library refuses,
    and building them cost more than the comparison.
    """
    oid = cert.signature_algorithm_oid
    is_ec = isinstance(key, ec.EllipticCurvePublicKey) and oid in _ECDSA_HASHES
    is_rsa = isinstance(key, rsa.RSAPublicKey) and oid in _RSA_PKCS1_HASHES
    if not (is_ec or is_rsa) or issuer_subject_der is None:
        return _issued_by(cert, issuer)
    parts = _tbs_parts(cert_der)
    if parts is None:
        return False
    signed, issuer_name_der, _subject = parts
    if issuer_name_der != issuer_subject_der:
        return False
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, signed, ec.ECDSA(_ECDSA_HASHES[oid]()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, signed, padding.PKCS1v15(), _RSA_PKCS1_HASHES[oid]())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


class VerifiedLinks:
    """What one EST client has verified about its CAs (thread-safe, bounded).

    Why: every answer of a batch carries the same issuing CA, and checking its signature
    under the trust anchor again for every unit was a third of the client's signature work;
    loading that CA's public key again for every leaf check was another ~0.1 ms (OpenSSL 3
    key import). Kept, keyed by the exact DER: links *between CA certificates* ("these two
    byte strings verified before") and each issuer's parsed public key. The leaf's signature
    is never cached: every issued certificate is checked against its issuer, and validity
    periods, CA flags and path lengths are checked on every answer.
    """

    MAX_ENTRIES = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._links: set[tuple[bytes, bytes]] = set()
        self._keys: dict[bytes, tuple[object, bytes | None]] = {}

    def issued_by(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        der_of: Callable[[x509.Certificate], bytes] = _der,
    ) -> bool:
        key = (der_of(cert), der_of(issuer))
        with self._lock:
            if key in self._links:
                return True
        if not _issued_by(cert, issuer):
            return False
        with self._lock:
            if len(self._links) >= self.MAX_ENTRIES:
                self._links.clear()
            self._links.add(key)
        return True

    def leaf_issued_by(
        self,
        leaf: x509.Certificate,
        leaf_der: bytes,
        issuer: x509.Certificate,
        der_of: Callable[[x509.Certificate], bytes] = _der,
    ) -> bool:
        """The leaf's signature under ``issuer``, checked now (only the issuer's key and its
        subject as encoded, both read off the issuer's exact DER, are reused)."""
        issuer_der = der_of(issuer)
        with self._lock:
            known = self._keys.get(issuer_der)
        if known is None:
            try:
                known = (issuer.public_key(), _subject_der(issuer_der))
            except (ValueError, UnsupportedAlgorithm):
                return _issued_by(leaf, issuer)
            with self._lock:
                if len(self._keys) >= self.MAX_ENTRIES:
                    self._keys.clear()
                self._keys[issuer_der] = known
        key, subject_der = known
        return _verify_with_key(leaf, leaf_der, issuer, key, subject_der)

    def __len__(self) -> int:
        with self._lock:
            return len(self._links)


def _check_ca(cert: x509.Certificate, depth_below: int) -> str | None:
    """Why ``cert`` may not issue certificates (None when it may)."""
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        if cert.version == x509.Version.v1 and cert.issuer == cert.subject:
            return None  # legacy v1 self-signed root
        return "has no basicConstraints extension"
    if not bc.ca:
        return "is not a CA certificate (basicConstraints cA=false)"
    if bc.path_length is not None and depth_below > bc.path_length:
        return f"allows a path length of {bc.path_length} below it, the chain needs {depth_below}"
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not ku.key_cert_sign:
        return "has a keyUsage without keyCertSign"
    return None


def _check_time(cert: x509.Certificate, now: datetime, role: str) -> None:
    if cert.not_valid_before_utc - CLOCK_SKEW > now:
        raise EstResponseError(
            f"the {role} certificate {_name(cert)} is not valid before "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    if cert.not_valid_after_utc < now:
        raise EstResponseError(
            f"the {role} certificate {_name(cert)} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )


def _name(cert: x509.Certificate) -> str:
    try:
        return repr(cert.subject.rfc4514_string())
    except ValueError:
        return "(unprintable subject)"


def check_response_size(
    certs: Sequence[x509.Certificate], der_of: Callable[[x509.Certificate], bytes] = _der
) -> None:
    """Refuse a response with more certificates, or a bigger certificate, than any chain needs."""
    if len(certs) > MAX_CERTS:
        raise EstResponseError(
            f"the server sent {len(certs)} certificates; a response of more than {MAX_CERTS} "
            "is not a certificate chain"
        )
    for cert in certs:
        size = len(der_of(cert))
        if size > MAX_CERT_BYTES:
            raise EstResponseError(
                f"the server sent a certificate of {size} bytes ({_name(cert)}); "
                f"the limit is {MAX_CERT_BYTES} bytes"
            )


def _spki_as_encoded(cert_der: bytes) -> bytes | None:
    """The subjectPublicKeyInfo of a certificate exactly as encoded (the element after the
    subject in the TBS), or None when the TBS cannot be walked."""
    try:
        size = len(cert_der)
        outer_start, outer_end = _span(cert_der, 0, size)
        tbs_start, tbs_end = _span(cert_der, outer_start, outer_end)
        pos = tbs_start
        if pos < tbs_end and cert_der[pos] == 0xA0:  # [0] version
            pos = _span(cert_der, pos, tbs_end)[1]
        for _field in range(5):  # serialNumber, signature, issuer, validity, subject
            pos = _span(cert_der, pos, tbs_end)[1]
        return cert_der[pos : _span(cert_der, pos, tbs_end)[1]]
    except der.DerError:
        return None


def find_leaf(
    certs: Sequence[x509.Certificate],
    public_key_spki: bytes,
    der_of: Callable[[x509.Certificate], bytes] = _der,
) -> x509.Certificate:
    """The certificate whose public key is ``public_key_spki`` (the key's canonical SPKI DER).

    A certificate whose SPKI *as encoded* is byte-identical to ``public_key_spki`` carries that
    key without importing it (OpenSSL's key import and re-encoding cost ~20-40 us per answer);
    any other certificate's key is imported and compared in canonical form, as before.
    """
    for cert in certs:
        if _spki_as_encoded(der_of(cert)) == public_key_spki:
            return cert
        try:
            if spki(cert.public_key()) == public_key_spki:
                return cert
        except (ValueError, UnsupportedAlgorithm):
            continue
    if len(certs) == 1:
        raise EstResponseError(
            "the server issued a certificate for a different public key than the request's"
        )
    raise EstResponseError(
        f"none of the {len(certs)} certificates the server sent is for the request's public key"
    )


def build_chain(
    certs: Sequence[x509.Certificate],
    public_key_spki: bytes,
    trust_anchors: Sequence[x509.Certificate],
    *,
    now: datetime | None = None,
    links: VerifiedLinks | None = None,
) -> tuple[tuple[x509.Certificate, ...], tuple[str, ...]]:
    """Verify an enrollment response and return ``(chain leaf-first, warnings)``.

    The chain holds the leaf and the certificates the server sent that lie on the path to
    the trust anchor, in order; certificates not on the path are dropped with a warning.
    Raises :class:`EstResponseError` when the key does not match or no path reaches an anchor.
    ``links`` (one per client) remembers verified CA-to-CA signatures; the leaf's is always checked.
    """
    if not trust_anchors:
        raise EstResponseError("no trust anchors are configured to verify the certificate")
    der_of = _DerMemo()
    check_response_size(certs, der_of)
    now = now or datetime.now(UTC)
    leaf = find_leaf(certs, public_key_spki, der_of)
    _check_time(leaf, now, "issued")
    anchor_ders = {der_of(a) for a in trust_anchors}
    leaf_der = der_of(leaf)

    def leaf_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        if links is None:
            return _issued_by(cert, issuer)
        return links.leaf_issued_by(cert, leaf_der, issuer, der_of)

    def ca_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        if links is None:
            return _issued_by(cert, issuer)
        return links.issued_by(cert, issuer, der_of)

    path = [leaf]
    current = leaf
    sent = [c for c in certs if c is not leaf]
    reached = leaf_der in anchor_ders
    while not reached:
        if len(path) > MAX_PATH:
            raise EstResponseError("the certificate chain is too long or loops")
        # The leaf's signature is verified afresh every time; links between CAs may be cached.
        issued_by = leaf_issued_by if current is leaf else ca_issued_by
        anchor = next((a for a in trust_anchors if issued_by(current, a)), None)
        if anchor is not None:
            _require_issuer(anchor, len(path) - 1, now, "trust anchor")
            # keep the anchor in the chain only when the server sent it too
            if any(der_of(c) == der_of(anchor) for c in sent):
                path.append(anchor)
            reached = True
            break
        issuer = next(
            (c for c in sent if all(c is not p for p in path) and issued_by(current, c)),
            None,
        )
        if issuer is None:
            raise EstResponseError(
                f"the certificate chain does not reach a trusted CA: no trusted issuer for "
                f"{_name(current)} (issuer {current.issuer.rfc4514_string()!r})"
            )
        _require_issuer(issuer, len(path) - 1, now, "intermediate CA")
        path.append(issuer)
        current = issuer
        reached = der_of(issuer) in anchor_ders
    warnings: tuple[str, ...] = ()
    extra = [c for c in sent if all(c is not p for p in path) and der_of(c) not in anchor_ders]
    if extra:
        warnings = (
            f"ignored {len(extra)} certificate(s) from the server that are not on the chain: "
            + ", ".join(_name(c) for c in extra),
        )
    return tuple(path), warnings


def _require_issuer(cert: x509.Certificate, depth_below: int, now: datetime, role: str) -> None:
    problem = _check_ca(cert, depth_below)
    if problem:
        raise EstResponseError(f"the {role} {_name(cert)} {problem}")
    _check_time(cert, now, role)


def order_ca_certs(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """/cacerts content ordered issuer-after-subject where links exist (stable otherwise)."""
    check_response_size(certs)
    remaining = list(certs)
    ordered: list[x509.Certificate] = []
    # start from certificates nobody else in the set was issued by (the lowest ones)
    while remaining:
        lowest = next(
            (c for c in remaining if not any(o is not c and _issued_by(o, c) for o in remaining)),
            remaining[0],
        )
        ordered.append(lowest)
        remaining.remove(lowest)
    return ordered


def certs_signed_by(anchor: x509.Certificate, certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """``anchor`` plus every certificate in ``certs`` that chains up to it (for safe pinning)."""
    trusted = [anchor]
    changed = True
    while changed:
        changed = False
        for cert in certs:
            if any(_der(cert) == _der(t) for t in trusted):
                continue
            if any(_issued_by(cert, t) and _check_ca(t, 0) is None for t in trusted):
                trusted.append(cert)
                changed = True
    return trusted


def identity_warnings(new: x509.Certificate, old: x509.Certificate) -> tuple[str, ...]:
    """Warnings when a renewed certificate's subject or SAN differ from the one it renews."""
    warnings = []
    if new.subject != old.subject:
        warnings.append(
            f"the server changed the subject on renewal: {old.subject.rfc4514_string()!r} -> "
            f"{new.subject.rfc4514_string()!r}"
        )
    if _san(new) != _san(old):
        warnings.append(f"the server changed the subjectAltName on renewal: {_san(old)} -> {_san(new)}")
    return tuple(warnings)


def _san(cert: x509.Certificate) -> list[str]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return sorted(f"{type(n).__name__}:{n.value}" for n in names)
