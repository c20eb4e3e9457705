"""Framing, check tokens, chunking and argument encoding of the Certline protocol."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certline.app.device.certline_protocol import (
    ChunkError,
    Frame,
    crc32_hex,
    decode_value,
    encode_pairs,
    format_frame,
    next_request_id,
    parse_chunk,
    parse_frame,
    parse_pairs,
    split_chunks,
)


def test_frame_round_trip_with_check_token() -> None:
    line = format_frame("17", "OK", "serial=CL-000001", "fw=1.4.2")
    assert line.endswith(b"\r\n")
    body = b"@17 OK serial=CL-000001 fw=1.4.2"
    assert line == body + b" *" + crc32_hex(body).encode() + b"\r\n"
    assert parse_frame(line.rstrip()) == Frame("17", "OK", ("serial=CL-000001", "fw=1.4.2"), True)


def test_garbage_before_a_frame_does_not_hide_it() -> None:
    frame = parse_frame(b"\x00\xfe booting... @@ 12" + format_frame("3", "ACK", "0").rstrip())
    assert frame == Frame("3", "ACK", ("0",), True)


@pytest.mark.parametrize("line", [b"", b"Certline boot ROM 2.1", b"@ OK", b"@x OK", b"@12", b"\xff@\xfe1 OK"])
def test_lines_without_a_frame_are_ignored(line: bytes) -> None:
    assert parse_frame(line) is None


def test_every_truncation_of_a_frame_is_detected() -> None:
    line = format_frame("9", "OK", "len=246", "crc=0a1b2c3d", "sha256=" + "ab" * 32).rstrip()
    for cut in range(len(b"@9 O"), len(line)):
        frame = parse_frame(line[:cut])
        assert frame is None or not frame.intact, cut


def test_a_damaged_character_is_detected() -> None:
    line = bytearray(format_frame("9", "OK", "serial=CL-000001").rstrip())
    line[12] ^= 0x01
    frame = parse_frame(bytes(line))
    assert frame is not None and frame.req_id == "9" and not frame.intact


def test_arguments_must_be_tokens() -> None:
    for bad in ("two words", "mail@example", "star*", ""):
        with pytest.raises(ValueError):
            format_frame("1", "CSR", bad)


def test_crc32_is_the_ieee_crc() -> None:
    assert crc32_hex(b"123456789") == "cbf43926"
    assert crc32_hex(b"") == "00000000"
    assert crc32_hex(b"x") == f"{zlib.crc32(b'x'):08x}"


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=300))
def test_chunks_reassemble_to_the_payload(payload: bytes, size: int) -> None:
    chunks = list(split_chunks(payload, size))
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert all(0 < len(c.data) <= size for c in chunks)
    assert b"".join(parse_chunk(c.args()).data for c in chunks) == payload


def test_chunk_checks_name_the_problem() -> None:
    seq, length, crc, b64 = next(split_chunks(b"hello world", 192)).args()
    assert parse_chunk((seq, length, crc, b64)).data == b"hello world"
    with pytest.raises(ChunkError) as info:
        parse_chunk((seq, length, "00000000", b64))
    assert info.value.reason == "crc"
    with pytest.raises(ChunkError) as info:
        parse_chunk((seq, "12", crc, b64))
    assert info.value.reason == "len"
    with pytest.raises(ChunkError) as info:
        parse_chunk((seq, length, crc, "!!!"))
    assert info.value.reason == "b64"
    with pytest.raises(ChunkError) as info:
        parse_chunk((seq, length))
    assert info.value.reason == "syntax"


@given(st.dictionaries(st.sampled_from(["CN", "O", "OU", "cp"]), st.text(max_size=40)))
def test_values_with_spaces_and_unicode_survive_encoding(pairs: dict[str, str]) -> None:
    tokens = encode_pairs(pairs)
    line = format_frame("5", "CSR", *tokens)  # must be a valid frame whatever the values
    frame = parse_frame(line.rstrip())
    assert frame is not None and frame.intact
    assert parse_pairs(frame.args) == pairs


def test_bad_percent_encoding_is_rejected() -> None:
    with pytest.raises(ValueError):
        decode_value("%ff%fe")
    with pytest.raises(ValueError):
        parse_pairs(("novalue",))


def test_request_ids_wrap_without_using_the_event_id() -> None:
    assert next_request_id(0) == 1
    assert next_request_id(41) == 42
    assert next_request_id(65535) == 1


def test_the_spec_example_frame_is_exact() -> None:
    assert format_frame("17", "HELLO", "1") == b"@17 HELLO 1 *52f49221\r\n"
