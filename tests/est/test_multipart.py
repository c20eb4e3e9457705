"""multipart/mixed as /serverkeygen servers really send it."""

from __future__ import annotations

import pytest

from certline.app.est.errors import EstResponseError
from certline.app.est.multipart import boundary_of, parse_multipart


def body(eol: bytes, *, closing: bool = True, preamble: bytes = b"") -> bytes:
    parts = [
        preamble,
        b"--est" + eol,
        b"Content-Type: application/pkcs8" + eol,
        b"Content-Transfer-Encoding: base64" + eol,
        eol,
        b"S0VZ" + eol,
        b"--est" + eol,
        b"Content-Type: application/pkcs7-mime;" + eol,
        b"  smime-type=certs-only" + eol,
        eol,
        b"Q0VSVA==" + eol,
    ]
    if closing:
        parts.append(b"--est--" + eol)
    return b"".join(parts)


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
@pytest.mark.parametrize("closing", [True, False])
def test_parts_with_crlf_or_lf_and_optional_closing_delimiter(eol: bytes, closing: bool) -> None:
    parts = parse_multipart(
        body(eol, closing=closing, preamble=b"This is a preamble" + eol), "multipart/mixed; boundary=est"
    )
    assert [p.content_type for p in parts] == [
        "application/pkcs8",
        "application/pkcs7-mime; smime-type=certs-only",
    ]
    assert parts[0].body.strip() == b"S0VZ"
    assert parts[1].body.strip() == b"Q0VSVA=="


def test_quoted_boundary() -> None:
    assert boundary_of('multipart/mixed; boundary="a b:c"') == "a b:c"
    assert boundary_of("Multipart/Mixed;Boundary=xyz;charset=x") == "xyz"


@pytest.mark.parametrize(
    "ctype", [None, "application/pkcs7-mime", "multipart/mixed", "multipart/mixed; boundary="]
)
def test_missing_multipart_or_boundary(ctype: str | None) -> None:
    with pytest.raises(EstResponseError):
        parse_multipart(b"--x\r\n\r\nabc\r\n--x--\r\n", ctype)


def test_no_delimiters_or_too_many_parts() -> None:
    with pytest.raises(EstResponseError, match="no part delimiters"):
        parse_multipart(b"just text", "multipart/mixed; boundary=est")
    many = b"".join(b"--est\r\n\r\nx\r\n" for _ in range(20)) + b"--est--\r\n"
    with pytest.raises(EstResponseError, match="too many"):
        parse_multipart(many, "multipart/mixed; boundary=est")


def test_malformed_header_line() -> None:
    with pytest.raises(EstResponseError, match="header"):
        parse_multipart(b"--est\r\nno colon here\r\n\r\nx\r\n--est--", "multipart/mixed; boundary=est")
