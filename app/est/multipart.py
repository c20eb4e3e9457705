"""``multipart/mixed`` parsing for ``/serverkeygen`` responses (RFC 7030 4.4.2).

A small hand parser instead of :mod:`email`: servers mix CRLF and LF, pad with
blank lines, omit the closing delimiter or send parts in either order, and the
:mod:`email` package silently accepts far too much while hiding where a body
really ends. Bounded by part count and input size; errors are
:class:`EstResponseError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from certline.app.est.errors import EstResponseError

MAX_PARTS = 8


@dataclass(frozen=True)
class Part:
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").strip()


def boundary_of(content_type: str | None) -> str:
    """The ``boundary`` parameter of a multipart Content-Type."""
    if not content_type or "multipart" not in content_type.lower():
        raise EstResponseError(
            f"expected a multipart/mixed response, got {content_type or 'no Content-Type'}"
        )
    match = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', content_type, re.I)
    if not match:
        raise EstResponseError("the multipart response has no boundary parameter")
    boundary = match.group(1) or match.group(2)
    if not 1 <= len(boundary) <= 200:
        raise EstResponseError("the multipart boundary has an invalid length")
    return boundary


def parse_multipart(body: bytes, content_type: str | None) -> list[Part]:
    """The parts of a multipart body (preamble and epilogue ignored)."""
    boundary = boundary_of(content_type).encode("latin-1")
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?=\r?\n|$)")
    positions = list(delimiter.finditer(body))
    if not positions:
        raise EstResponseError("the multipart response contains no part delimiters")
    parts: list[Part] = []
    for current, nxt in zip(positions, positions[1:] + [None], strict=False):
        if current.group(1):  # closing delimiter "--boundary--"
            break
        start = current.end()
        end = nxt.start() if nxt is not None else len(body)
        parts.append(_parse_part(body[start:end]))
        if len(parts) > MAX_PARTS:
            raise EstResponseError("the multipart response has too many parts")
    if not parts:
        raise EstResponseError("the multipart response has no parts")
    return parts


def _parse_part(raw: bytes) -> Part:
    # strip the line break that ends the delimiter line
    if raw.startswith(b"\r\n"):
        raw = raw[2:]
    elif raw.startswith(b"\n"):
        raw = raw[1:]
    match = re.search(rb"\r?\n\r?\n", raw)
    if raw.startswith((b"\r\n", b"\n")):
        header_blob, body = b"", raw.lstrip(b"\r\n")
    elif match is None:
        header_blob, body = raw, b""
    else:
        header_blob, body = raw[: match.start()], raw[match.end() :]
    headers: dict[str, str] = {}
    for line in re.split(rb"\r?\n", header_blob):
        if not line.strip():
            continue
        if line[:1] in (b" ", b"\t") and headers:  # folded header continuation
            last = next(reversed(headers))
            headers[last] += " " + line.strip().decode("latin-1")
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise EstResponseError("a multipart part has a malformed header line")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return Part(headers=headers, body=body)
