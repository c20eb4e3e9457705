"""A minimal DER *encoder* for the few ASN.1 structures the test server builds by hand.

``cryptography`` encodes certificates, CSRs and PKCS#7 but has no public API
for arbitrary ASN.1 such as the ``/csrattrs`` ``CsrAttrs`` SEQUENCE, and pulling
in a full ASN.1 library for a test fixture is not worth it. Encoding only (the
server never parses these), definite lengths, DER SET OF ordering.
"""

from __future__ import annotations


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """Tag (single octet), DER length, content."""
    return bytes([tag]) + _length(len(content)) + content


def integer(value: int) -> bytes:
    length = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return tlv(0x02, value.to_bytes(length, "big", signed=True))


def boolean(value: bool) -> bytes:
    return tlv(0x01, b"\xff" if value else b"\x00")


def null() -> bytes:
    return tlv(0x05, b"")


def octet_string(data: bytes) -> bytes:
    return tlv(0x04, data)


def bit_string(data: bytes, unused_bits: int = 0) -> bytes:
    return tlv(0x03, bytes([unused_bits]) + data)


def utf8_string(text: str) -> bytes:
    return tlv(0x0C, text.encode("utf-8"))


def printable_string(text: str) -> bytes:
    return tlv(0x13, text.encode("ascii"))


def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from dotted text, e.g. ``"1.2.840.113549.1.9.7"``."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"invalid OID {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def sequence(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    """SET OF with DER ordering (encodings sorted as octet strings)."""
    return tlv(0x31, b"".join(sorted(items)))


def context(number: int, content: bytes, *, constructed: bool = True) -> bytes:
    """Context-specific tag ``[number]`` (IMPLICIT: ``content`` is the inner value's content)."""
    if number > 30:
        raise ValueError("high tag numbers are not needed here")
    return tlv((0xA0 if constructed else 0x80) | number, content)


def content_of(encoded: bytes) -> bytes:
    """Strip tag and length from a single TLV (to re-tag it IMPLICITly)."""
    if len(encoded) < 2:
        raise ValueError("not a TLV")
    first = encoded[1]
    if first < 0x80:
        return encoded[2 : 2 + first]
    n = first & 0x7F
    length = int.from_bytes(encoded[2 : 2 + n], "big")
    return encoded[2 + n : 2 + n + length]
