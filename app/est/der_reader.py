"""A minimal, bounded DER reader (TLV walker) for the few structures EST needs by hand.

Why not a full ASN.1 library: ``/csrattrs`` is a loose ``SEQUENCE OF`` ANY whose
members real servers get wrong in several ways, and we only need tags, lengths,
OIDs and integers. Every input comes from a network peer, so the reader is
defensive: definite lengths only, length fields bounded, nesting depth bounded,
and every failure is a :class:`DerError` (a ``ValueError``) -- never an
``IndexError`` or a runaway loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MAX_DEPTH = 32
MAX_INPUT = 1 << 20  # 1 MiB: far more than any csrattrs or key part

# universal tags (class + constructed bit included, as they appear on the wire)
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
IA5_STRING = 0x16
SEQUENCE = 0x30
SET = 0x31


class DerError(ValueError):
    """The bytes are not the DER structure expected."""


@dataclass(frozen=True)
class Tlv:
    """One element: ``tag`` byte, the whole ``data`` buffer and the value's [start, end)."""

    tag: int
    data: bytes
    start: int
    end: int
    header_start: int

    @property
    def value(self) -> bytes:
        return self.data[self.start : self.end]

    @property
    def encoded(self) -> bytes:
        """The complete TLV encoding (header and value)."""
        return self.data[self.header_start : self.end]

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def children(self) -> list[Tlv]:
        """The elements inside a constructed element."""
        if not self.constructed:
            raise DerError(f"element with tag 0x{self.tag:02x} is not constructed")
        return list(iter_tlvs(self.data, self.start, self.end))


def read_tlv(data: bytes, offset: int = 0, end: int | None = None) -> Tlv:
    """Read one TLV at ``offset``; the element must fit before ``end``."""
    limit = len(data) if end is None else end
    if len(data) > MAX_INPUT:
        raise DerError("DER input too large")
    if offset >= limit:
        raise DerError("unexpected end of DER data (tag)")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DerError("high-tag-number form is not supported")
    pos = offset + 1
    if pos >= limit:
        raise DerError("unexpected end of DER data (length)")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError("indefinite length is not DER")
    else:
        count = first & 0x7F
        if count > 4:
            raise DerError("DER length field too long")
        if pos + count > limit:
            raise DerError("unexpected end of DER data (long length)")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > limit:
        raise DerError("DER element runs past the end of its container")
    return Tlv(tag=tag, data=data, start=pos, end=pos + length, header_start=offset)


def value_span(data: bytes, pos: int, limit: int, tag: int | None = None) -> tuple[int, int]:
    """``(value start, value end)`` of the element at ``pos``: low tag number (exactly ``tag``
    when given), definite length of at most four length bytes, inside ``limit``.

    The rules of :func:`read_tlv` without building a :class:`Tlv`, for the hot paths that walk
    every answer's certificates (the PKCS#7 envelope, each TBS): a ``Tlv`` per element cost
    ~45 us of the ~1.5 ms a verified enrollment takes.
    """
    if pos + 2 > limit or data[pos] & 0x1F == 0x1F:
        raise DerError("unexpected end of DER data or high-tag-number form")
    if tag is not None and data[pos] != tag:
        raise DerError(f"unexpected element: tag 0x{data[pos]:02x} where 0x{tag:02x} belongs")
    first = data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if not 0 < count <= 4 or pos + count > limit:
            raise DerError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > limit:
        raise DerError("DER element runs past the end of its container")
    return pos, pos + length


def iter_tlvs(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Tlv]:
    """Every element between ``start`` and ``end`` (exactly filling the range)."""
    limit = len(data) if end is None else end
    pos = start
    while pos < limit:
        tlv = read_tlv(data, pos, limit)
        yield tlv
        pos = tlv.end


def parse_single(data: bytes, *, allow_trailing: bool = False) -> Tlv:
    """Parse ``data`` as exactly one element (optionally ignoring bytes after it)."""
    tlv = read_tlv(data, 0)
    if tlv.end != len(data) and not allow_trailing:
        raise DerError(f"{len(data) - tlv.end} stray bytes after the DER element")
    return tlv


def check_depth(tlv: Tlv, depth: int = 0) -> None:
    """Walk the whole tree once so malformed nesting fails early and boundedly."""
    if depth > MAX_DEPTH:
        raise DerError("DER nesting too deep")
    if tlv.constructed:
        for child in tlv.children():
            check_depth(child, depth + 1)


def decode_oid(tlv: Tlv) -> str:
    """Dotted string of an OBJECT IDENTIFIER element."""
    if tlv.tag != OID:
        raise DerError(f"expected an OBJECT IDENTIFIER, found tag 0x{tlv.tag:02x}")
    value = tlv.value
    if not value or len(value) > 128:
        raise DerError("OBJECT IDENTIFIER length out of range")
    if value[-1] & 0x80:
        raise DerError("truncated OBJECT IDENTIFIER")
    arcs: list[int] = []
    current = 0
    for i, byte in enumerate(value):
        if current == 0 and byte == 0x80 and (i == 0 or not value[i - 1] & 0x80):
            raise DerError("non-minimal OBJECT IDENTIFIER arc")
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = arcs[0]
    if first < 40:
        head = [0, first]
    elif first < 80:
        head = [1, first - 40]
    else:
        head = [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def decode_integer(tlv: Tlv) -> int:
    """Value of an INTEGER element (bounded to 64 bytes: sizes and versions, not keys)."""
    if tlv.tag != INTEGER:
        raise DerError(f"expected an INTEGER, found tag 0x{tlv.tag:02x}")
    value = tlv.value
    if not value or len(value) > 64:
        raise DerError("INTEGER length out of range")
    return int.from_bytes(value, "big", signed=True)


def decode_string(tlv: Tlv) -> str:
    """Text of the common string types (lenient: undecodable bytes are replaced)."""
    if tlv.tag not in (UTF8_STRING, PRINTABLE_STRING, IA5_STRING, 0x14, 0x1E):
        raise DerError(f"expected a string, found tag 0x{tlv.tag:02x}")
    if tlv.tag == 0x1E:
        return tlv.value.decode("utf-16-be", "replace")
    return tlv.value.decode("utf-8", "replace")
