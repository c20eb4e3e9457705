"""Bytes on the wire: CSR decoding and EST response bodies.

Decoding is deliberately tolerant (base64 with any wrapping, PEM, PEM squashed
onto one line as in DTM's curl sample, raw DER) because the server under test
is the *client*. Encoding follows RFC 7030/8951 by default, with the variants
the ``encoding`` fault needs to exercise the client's tolerant decoder.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only"
SERVER_GENERATED_KEY = "application/pkcs7-mime; smime-type=server-generated-key"
PKCS8 = "application/pkcs8"
CSRATTRS = "application/csrattrs"

CSR_CONTENT_TYPES = frozenset(
    {"application/pkcs10", "application/x-pkcs10", "text/plain", "application/x-pem-file"}
)

_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


class CsrDecodeError(ValueError):
    """The request body is not a usable PKCS#10 CSR; the message is the 400 reason."""


def _b64decode_loose(data: bytes) -> bytes:
    compact = re.sub(rb"\s+", b"", data)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CsrDecodeError("body is neither PEM nor valid base64") from exc


def decode_csr_body(body: bytes) -> bytes:
    """DER of the CSR in ``body``: PEM (any whitespace, even one line), base64 DER or raw DER."""
    data = body.strip(b"\x00 \t\r\n")
    if not data:
        raise CsrDecodeError("empty request body")
    match = _PEM_RE.search(data)
    if match:
        if b"REQUEST" not in match.group(1):
            raise CsrDecodeError(f"PEM block is {match.group(1).decode('ascii')}, not a CSR")
        return _b64decode_loose(match.group(2))
    if data[:1] == b"\x30" and not re.fullmatch(rb"[A-Za-z0-9+/=\s]+", data):
        return data  # raw DER (not an RFC 7030 encoding, but harmless to accept)
    return _b64decode_loose(data)


def load_csr(body: bytes) -> tuple[x509.CertificateSigningRequest, bytes]:
    """Parse and self-signature-check a CSR; returns the CSR and its DER."""
    der = decode_csr_body(body)
    try:
        csr = x509.load_der_x509_csr(der)
    except ValueError as exc:
        raise CsrDecodeError("body does not contain a DER PKCS#10 CertificationRequest") from exc
    try:
        valid = csr.is_signature_valid
    except Exception as exc:  # noqa: BLE001 - unsupported algorithms surface as various errors
        raise CsrDecodeError(f"CSR signature cannot be checked: {type(exc).__name__}") from exc
    if not valid:
        raise CsrDecodeError("CSR self-signature does not verify")
    return csr, der


def b64_lines(data: bytes, *, width: int = 64, newline: bytes = b"\n") -> bytes:
    """Base64 wrapped at ``width`` columns (0 = one line), newline-terminated."""
    text = base64.b64encode(data)
    if width <= 0:
        return text + newline
    return b"".join(text[i : i + width] + newline for i in range(0, len(text), width))


def certs_only_der(certs: Sequence[x509.Certificate]) -> bytes:
    """Degenerate PKCS#7 SignedData (certs-only) holding ``certs``."""
    return pkcs7.serialize_certificates(list(certs), serialization.Encoding.DER)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def new_boundary() -> str:
    return "est-" + secrets.token_hex(12)


def multipart(parts: Sequence[tuple[str, bytes]], boundary: str) -> bytes:
    """multipart/mixed body; each part is (content-type, base64 body) with CTE base64."""
    out = bytearray()
    for content_type, payload in parts:
        out += f"--{boundary}\r\n".encode("ascii")
        out += f"Content-Type: {content_type}\r\n".encode("ascii")
        out += b"Content-Transfer-Encoding: base64\r\n\r\n"
        out += payload
        if not payload.endswith(b"\n"):
            out += b"\r\n"
    out += f"--{boundary}--\r\n".encode("ascii")
    return bytes(out)
