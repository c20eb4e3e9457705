"""Bytes on the wire: tolerant decoding of EST bodies and encoding of outgoing CSRs.

Servers disagree on the transfer encoding of the same content (RFC 8951 settled
on "always base64, whatever Content-Transfer-Encoding says", but older servers
send raw DER, PEM armour, CRLF or LF lines, one long line, a trailing NUL). So
decoding never trusts the headers: it looks at the bytes. Anything that still
cannot be decoded becomes an :class:`EstResponseError` naming what was wrong.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from certline.app.config.profile import CsrFormat
from certline.app.est import der_reader as der
from certline.app.est.errors import EstResponseError

MAX_BODY = 1 << 20

CsrFactory = Callable[[bytes | None], bytes]
"""Builds a CSR given the TLS ``tls-unique`` value of the connection it will travel on (or None)."""

_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 #]+)-----(.*?)-----END \1-----", re.DOTALL)
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/=\-_\s]*")
_B64_STRICT = re.compile(rb"[A-Za-z0-9+/\-_]*={0,2}")
_B64_IGNORED = b" \t\n\r\x0b\x0c\x00"
"""What base64 decoding skips: ASCII whitespace (what ``\\s`` matches in a bytes pattern) and NUL."""


class CsrInputError(ValueError):
    """A CSR handed to the client is not a valid PKCS#10 request (local input, not the server)."""


# ---------------------------------------------------------------------------- generic decoding


def _looks_like_der(data: bytes) -> bool:
    """True when ``data`` is binary ASN.1: one complete DER SEQUENCE (trailing padding
    allowed), or a SEQUENCE with bytes no text encoding would contain (e.g. BER)."""
    if data[:1] != b"\x30":
        return False
    try:
        tlv = der.read_tlv(data, 0)
    except der.DerError:
        return not _B64_CHARS.fullmatch(data)
    return not data[tlv.end :].strip(b"\x00 \t\r\n")


def _trim_der(data: bytes) -> bytes:
    """The first DER element of ``data`` without trailing padding (BER is returned as is)."""
    try:
        return data[: der.read_tlv(data, 0).end]
    except der.DerError:
        return data


def b64decode_tolerant(text: bytes) -> bytes:
    """Decode base64 with any line breaks, stray whitespace, missing padding or url-safe alphabet."""
    # bytes.translate deletes exactly what rb"[\s\x00]+" matches, several times faster
    compact = text.translate(None, _B64_IGNORED)
    if not compact:
        raise ValueError("empty base64 text")
    if not _B64_STRICT.fullmatch(compact):
        raise ValueError("not base64 text")
    compact = compact.rstrip(b"=")
    if len(compact) % 4 == 1:
        raise ValueError("base64 text has an impossible length")
    compact += b"=" * (-len(compact) % 4)
    try:
        if b"-" in compact or b"_" in compact:
            return base64.urlsafe_b64decode(compact)
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64") from exc


def pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """``(label, der)`` for every PEM block (armour lines may use CRLF, LF or be squashed)."""
    blocks = []
    for match in _PEM_RE.finditer(data):
        label = match.group(1).decode("ascii").strip()
        body = match.group(2)
        # RFC 1421 headers (Proc-Type, DEK-Info) mark encrypted legacy PEM: keep them visible.
        if b":" in body.split(b"\n\n")[0] and b"DEK-Info" in body:
            blocks.append((label + " (ENCRYPTED)", b""))
            continue
        try:
            blocks.append((label, b64decode_tolerant(body)))
        except ValueError:
            raise EstResponseError(f"the PEM {label} block is not valid base64") from None
    return blocks


def decode_body(body: bytes, what: str) -> bytes:
    """The DER inside an EST body: raw DER, base64 (any wrapping), or a single PEM block."""
    if len(body) > MAX_BODY:
        raise EstResponseError(f"the {what} response is larger than {MAX_BODY} bytes")
    if _looks_like_der(body):
        return _trim_der(body)
    data = body.replace(b"\x00", b"").strip()
    if not data:
        raise EstResponseError(f"the server sent an empty {what} response")
    if b"-----BEGIN" in data:
        blocks = pem_blocks(data)
        if not blocks:
            raise EstResponseError(f"the {what} response has broken PEM armour")
        return blocks[0][1]
    try:
        decoded = b64decode_tolerant(data)
    except ValueError:
        raise EstResponseError(
            f"the {what} response is neither base64, PEM nor DER ({_describe(data)})"
        ) from None
    return decoded


def _describe(data: bytes) -> str:
    printable = data[:40].decode("ascii", "replace")
    printable = "".join(ch if ch.isprintable() else "." for ch in printable)
    return f"starts with {printable!r}, {len(data)} bytes"


# ---------------------------------------------------------------------------- certificates


def parse_certs(body: bytes, what: str = "certificate") -> list[x509.Certificate]:
    """Certificates in an EST response, in the order sent.

    Accepts a certs-only PKCS#7 (base64, PEM ``PKCS7``/``CMS`` armour or raw DER),
    PEM ``CERTIFICATE`` blocks, or a single DER/base64 certificate.
    """
    if len(body) > MAX_BODY:
        raise EstResponseError(f"the {what} response is larger than {MAX_BODY} bytes")
    if b"-----BEGIN" in body:
        certs: list[x509.Certificate] = []
        for label, blob in pem_blocks(body.replace(b"\x00", b"")):
            if "CERTIFICATE" in label and "REQUEST" not in label:
                certs.append(_load_cert(blob, what))
            elif label in ("PKCS7", "CMS", "PKCS #7 SIGNED DATA"):
                certs.extend(_load_pkcs7(blob, what))
        if not certs:
            raise EstResponseError(f"the {what} response has PEM armour but no certificates")
        return certs
    blob = decode_body(body, what)
    try:
        return _load_pkcs7(blob, what)
    except EstResponseError:
        try:
            return [x509.load_der_x509_certificate(blob)]
        except (ValueError, x509.InvalidVersion):
            pass
        raise


def _load_cert(blob: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(blob)
    except (ValueError, x509.InvalidVersion):
        raise EstResponseError(f"the {what} response holds an unparseable certificate") from None


_SIGNED_DATA_OID_TLV = bytes.fromhex("06092a864886f70d010702")  # OID 1.2.840.113549.1.7.2
_CONTEXT_0 = 0xA0  # [0] constructed: ContentInfo.content, SignedData.certificates
_CONTEXT_1 = 0xA1  # [1] constructed: SignedData.crls


def _element(data: bytes, pos: int, limit: int, tag: int) -> tuple[int, int]:
    """``(value start, value end)`` of the DER element at ``pos``, which must carry ``tag``
    (see :func:`der.value_span`)."""
    return der.value_span(data, pos, limit, tag)


def _signed_data_cert_ders(blob: bytes) -> list[bytes] | None:
    """The certificates' DER of a plain certs-only SignedData, read straight off the bytes.

    Why: ``pkcs7.load_der_pkcs7_certificates`` cost ~0.1-0.2 ms per answer on the station
    (as much as a signature check; it builds an OpenSSL PKCS7 object). Walking the DER envelope
    (RFC 5652 5.1: ContentInfo { signedData, [0] SignedData { version, digestAlgorithms,
    encapContentInfo, [0] IMPLICIT certificates, [1] crls OPTIONAL, signerInfos } }) and
    handing each certificate to ``x509.load_der_x509_certificate`` (the parser the library's
    own path ends in too) gives the same certificates in the same order. Anything not exactly
    that DER shape (BER, indefinite lengths, no certificates, other content types, trailing
    bytes) returns None and the library's parser decides as before. What the certificates are
    worth is decided by chain verification either way.
    """
    try:
        size = len(blob)
        start, end = _element(blob, 0, size, der.SEQUENCE)
        if end != size or blob[start : start + len(_SIGNED_DATA_OID_TLV)] != _SIGNED_DATA_OID_TLV:
            return None
        pos = start + len(_SIGNED_DATA_OID_TLV)
        inner, inner_end = _element(blob, pos, end, _CONTEXT_0)
        if inner_end != end:
            return None
        pos, sd_end = _element(blob, inner, inner_end, der.SEQUENCE)
        if sd_end != inner_end:
            return None
        pos = _element(blob, pos, sd_end, der.INTEGER)[1]  # version
        pos = _element(blob, pos, sd_end, der.SET)[1]  # digestAlgorithms
        pos = _element(blob, pos, sd_end, der.SEQUENCE)[1]  # encapContentInfo
        certs_start, certs_end = _element(blob, pos, sd_end, _CONTEXT_0)
        pos = certs_end
        if pos < sd_end and blob[pos] == _CONTEXT_1:
            pos = _element(blob, pos, sd_end, _CONTEXT_1)[1]  # crls
        if _element(blob, pos, sd_end, der.SET)[1] != sd_end:  # signerInfos, and nothing after
            return None
        ders = []
        pos = certs_start
        while pos < certs_end:
            value_end = _element(blob, pos, certs_end, der.SEQUENCE)[1]
            ders.append(blob[pos:value_end])
            pos = value_end
    except der.DerError:
        return None
    return ders or None


def _load_pkcs7(blob: bytes, what: str) -> list[x509.Certificate]:
    ders = _signed_data_cert_ders(blob)
    if ders is not None:
        try:
            return [x509.load_der_x509_certificate(d) for d in ders]
        except (ValueError, x509.InvalidVersion):
            pass  # let the full parser below produce its usual error
    try:
        certs = pkcs7.load_der_pkcs7_certificates(blob)
    except ValueError:
        raise EstResponseError(f"the {what} response is not a PKCS#7 certs-only message") from None
    except Exception as exc:  # noqa: BLE001 - cryptography raises assorted types on junk
        raise EstResponseError(
            f"the {what} response is not a usable PKCS#7 message ({type(exc).__name__})"
        ) from None
    if not certs:
        raise EstResponseError(f"the {what} response is a PKCS#7 message without certificates")
    return list(certs)


def certs_to_pem(certs: list[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs)


def load_pem_certs(pem: str | bytes) -> list[x509.Certificate]:
    """Certificates from a PEM bundle (also tolerates a DER certificate or PKCS#7)."""
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    return parse_certs(data, "CA bundle")


# ---------------------------------------------------------------------------- CSRs


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    """A CSR from PEM (even squashed onto one line), base64 DER or raw DER."""
    if not data or len(data) > 64 * 1024:
        raise CsrInputError(f"CSR size {len(data)} bytes is out of range")
    blob: bytes
    if b"-----BEGIN" in data:
        try:
            blocks = [b for label, b in pem_blocks(data) if "REQUEST" in label]
        except EstResponseError as exc:  # a local CSR, not a server response
            raise CsrInputError(str(exc)) from None
        if not blocks:
            raise CsrInputError("the PEM data holds no CERTIFICATE REQUEST block")
        blob = blocks[0]
    elif _looks_like_der(data):
        blob = _trim_der(data)
    else:
        try:
            blob = b64decode_tolerant(data)
        except ValueError:
            raise CsrInputError("the CSR is neither PEM, base64 nor DER") from None
    try:
        csr = x509.load_der_x509_csr(blob)
    except (ValueError, x509.InvalidVersion):
        raise CsrInputError("the CSR is not a valid PKCS#10 request") from None
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):  # the public key itself is unusable
        raise CsrInputError("the CSR carries a malformed or unsupported public key") from None
    if not valid:
        raise CsrInputError("the CSR's self-signature is invalid")
    return csr


def encode_csr(csr: x509.CertificateSigningRequest, fmt: CsrFormat) -> tuple[bytes, dict[str, str]]:
    """Request body and content headers for a CSR in the profile's format.

    ``rfc7030``: base64 of the DER wrapped at 64 columns, LF line ends, final newline,
    ``application/pkcs10`` with ``Content-Transfer-Encoding: base64``.
    ``pem-text``: the PEM CSR as ``text/plain`` (DTM).
    """
    if fmt == CsrFormat.PEM_TEXT:
        return csr.public_bytes(serialization.Encoding.PEM), {"Content-Type": "text/plain"}
    return wrap_base64(csr.public_bytes(serialization.Encoding.DER)), {
        "Content-Type": "application/pkcs10",
        "Content-Transfer-Encoding": "base64",
    }


def wrap_base64(blob: bytes, width: int = 64) -> bytes:
    text = base64.b64encode(blob)
    lines = [text[i : i + width] for i in range(0, len(text), width)]
    return b"\n".join(lines) + b"\n"


# ---------------------------------------------------------------------------- private keys


def normalise_private_key(blob: bytes) -> bytes:
    """PKCS#8 DER of an unencrypted private key given as PKCS#8, PKCS#1 or SEC1 (DER or PEM).

    Encrypted keys raise :class:`EstResponseError` ("not supported"). The key material never
    appears in a message.
    """
    data = blob
    if b"-----BEGIN" in blob:
        blocks = pem_blocks(blob.replace(b"\x00", b""))
        if not blocks:
            raise EstResponseError("the server key part has broken PEM armour")
        label, data = blocks[0]
        if "ENCRYPTED" in label:
            raise EstResponseError(
                "the server sent an encrypted private key; encrypted server-generated keys "
                "are not supported (ask for an unencrypted key over the TLS channel)"
            )
    elif _looks_like_der(blob):
        data = _trim_der(blob)
    else:
        try:
            data = b64decode_tolerant(blob)
        except ValueError:
            raise EstResponseError("the server key part is neither base64, PEM nor DER") from None
    if _is_encrypted_pkcs8(data):
        raise EstResponseError(
            "the server sent an encrypted PKCS#8 key; encrypted server-generated keys are not supported"
        )
    try:
        key = serialization.load_der_private_key(data, password=None)
    except TypeError:
        raise EstResponseError("the server sent a password-protected key, which is not supported") from None
    except Exception:  # noqa: BLE001 - never chain: the exception may hold key bytes
        raise EstResponseError("the server key part is not a usable private key") from None
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _is_encrypted_pkcs8(data: bytes) -> bool:
    """EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier SEQUENCE, OCTET STRING }."""
    try:
        outer = der.parse_single(data, allow_trailing=True)
        kids = outer.children()
    except der.DerError:
        return False
    return (
        outer.tag == der.SEQUENCE
        and len(kids) == 2
        and kids[0].tag == der.SEQUENCE
        and kids[1].tag == der.OCTET_STRING
    )
