"""Certline serial protocol, version 1: framing, CRC32 chunking and argument encoding.

Shared by the host driver and the simulator so both sides agree byte for byte;
``docs/device-protocol.md`` is the normative description for firmware authors.

Frames are ASCII lines ``@<id> <VERB> [args...] *<crc32>``. Receivers start a
frame at the *last* ``@`` on a line: ``@`` never occurs in base64 nor in
percent-encoded arguments, so garbage glued to the front of a line (a boot
banner without a newline, line noise) does not hide the frame that follows it.
The trailing check token (CRC-32 of the frame text before it) makes any
truncated or damaged line detectable, so no reply is ever half-believed.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

PROTOCOL_MAJOR = 1
PROTOCOL_VERSION = "1.0"

#: id of unsolicited events (``@0 BOOT ...``); requests use 1..65535
EVENT_ID = "0"
MAX_REQUEST_ID = 65535

#: longest frame (bytes, terminator excluded) either side must accept
MAX_FRAME_LINE = 1024
#: payload bytes per chunk unless HELLO announces a smaller ``maxchunk``
DEFAULT_CHUNK_SIZE = 192
#: largest payload (chain PEM, PKCS#8 key, CSR) a conforming device must handle
MAX_PAYLOAD = 16 * 1024

_ID_RE = re.compile(r"^(0|[1-9][0-9]{0,4})$")
_VERB_RE = re.compile(r"^[A-Z][A-Z0-9]{0,15}$")
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")


class FrameError(ValueError):
    """A frame or one of its arguments does not follow the grammar."""


@dataclass(frozen=True)
class Frame:
    """One parsed line: the request id it belongs to, the verb and the space-separated arguments.

    ``intact`` is False when the check token is missing or wrong: the line was
    truncated or damaged and nothing in it may be trusted except, perhaps, the id.
    """

    req_id: str
    verb: str
    args: tuple[str, ...] = ()
    intact: bool = True

    def encode(self) -> bytes:
        return format_frame(self.req_id, self.verb, *self.args)


def format_frame(req_id: str | int, verb: str, *args: str, eol: bytes = b"\r\n") -> bytes:
    """Serialise one frame with its check token. Arguments must be tokens (no spaces, ``@`` or ``*``)."""
    for arg in args:
        if not _TOKEN_RE.fullmatch(arg) or "@" in arg or "*" in arg:
            raise FrameError("argument is not a printable token")
    text = " ".join((f"@{req_id}", verb, *args))
    line = f"{text} *{crc32_hex(text.encode('ascii'))}"
    if len(line) > MAX_FRAME_LINE:
        raise FrameError(f"frame of {len(line)} bytes exceeds {MAX_FRAME_LINE}")
    return line.encode("ascii") + eol


def parse_frame(line: bytes) -> Frame | None:
    """The frame on ``line`` (starting at its last ``@``), or None when the line holds none.

    None means "ignore this line" (banner, log output, garbage). A frame whose
    check token fails is still returned, with ``intact=False``, so a receiver can
    tell "my reply arrived damaged" (retry) from "not for me" (ignore).
    """
    start = line.rfind(b"@")
    if start < 0:
        return None
    try:
        text = line[start:].decode("ascii")
    except UnicodeDecodeError:
        return None
    body, sep, check = text.rpartition(" *")
    intact = bool(sep) and len(check) == 8 and crc32_hex(body.encode("ascii")) == check.lower()
    parts = (body if intact else text)[1:].split(" ")
    if len(parts) < 2 or not _ID_RE.fullmatch(parts[0]):
        return None
    return Frame(parts[0], parts[1], tuple(parts[2:]), intact)


def is_valid_verb(verb: str) -> bool:
    return bool(_VERB_RE.fullmatch(verb))


def transmit_seconds(nbytes: int, baud: int) -> float:
    """Wire time of ``nbytes`` at ``baud`` with 8N1 framing (10 bit times per byte)."""
    return nbytes * 10.0 / baud


def crc32_hex(data: bytes) -> str:
    """CRC-32 (IEEE 802.3, as zlib/PNG/Ethernet) as 8 lower-case hex digits."""
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


@dataclass(frozen=True)
class Chunk:
    """One piece of a payload, as carried by DATA (device→host) and CHUNK (host→device)."""

    seq: int
    data: bytes = field(repr=False)  # may be private key material (KEYIMPORT)

    def args(self) -> tuple[str, str, str, str]:
        """``<seq> <len> <crc32> <base64>`` as frame arguments."""
        b64 = base64.b64encode(self.data).decode("ascii")
        return (str(self.seq), str(len(self.data)), crc32_hex(self.data), b64)


def split_chunks(payload: bytes, size: int = DEFAULT_CHUNK_SIZE) -> Iterator[Chunk]:
    """Cut ``payload`` into chunks numbered from 0. An empty payload yields no chunk."""
    if size < 1:
        raise ValueError("chunk size must be positive")
    for seq, offset in enumerate(range(0, len(payload), size)):
        yield Chunk(seq, payload[offset : offset + size])


class ChunkError(FrameError):
    """A chunk failed its checks. ``reason`` is the NAK reason word: crc, len, b64 or syntax."""

    def __init__(self, reason: str, seq: int | None = None) -> None:
        super().__init__(f"chunk {seq if seq is not None else '?'} rejected: {reason}")
        self.reason = reason
        self.seq = seq


def parse_chunk(args: tuple[str, ...]) -> Chunk:
    """Decode and verify ``<seq> <len> <crc32> <base64>``; raises :class:`ChunkError`."""
    if len(args) != 4 or not args[0].isdigit() or not args[1].isdigit():
        raise ChunkError("syntax")
    seq, length = int(args[0]), int(args[1])
    try:
        data = base64.b64decode(args[3], validate=True)
    except (binascii.Error, ValueError):
        raise ChunkError("b64", seq) from None
    if len(data) != length:
        raise ChunkError("len", seq)
    if crc32_hex(data) != args[2].lower():
        raise ChunkError("crc", seq)
    return Chunk(seq, data)


def encode_value(value: str) -> str:
    """Percent-encode (UTF-8) everything but RFC 3986 unreserved characters, so values are tokens."""
    return quote(value, safe="")


def decode_value(token: str) -> str:
    try:
        return unquote(token, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise FrameError("value is not percent-encoded UTF-8") from None


def encode_pairs(pairs: Mapping[str, str]) -> tuple[str, ...]:
    """``key=value`` tokens with percent-encoded values, in mapping order."""
    return tuple(f"{key}={encode_value(value)}" for key, value in pairs.items())


def parse_pairs(args: tuple[str, ...]) -> dict[str, str]:
    """Decode ``key=value`` tokens. Later duplicates win; a token without ``=`` is a FrameError."""
    result: dict[str, str] = {}
    for token in args:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise FrameError("expected key=value")
        result[key] = decode_value(value)
    return result


def next_request_id(previous: int) -> int:
    """Request ids run 1..65535 and wrap, never producing the event id 0."""
    return previous % MAX_REQUEST_ID + 1
