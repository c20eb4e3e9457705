"""Hostile bytes into every response decoder: only typed EstResponseError comes out, never a crash."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from certline.app.est import encoding
from certline.app.est.errors import EstResponseError
from certline.app.est.multipart import parse_multipart
from tests.est import pki

_P = pki.make_pki()
_CHAIN = pki.pkcs7_der([_P.issue(pki.key().public_key()), _P.intermediate])
_KEY = pki.key().private_bytes(
    serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)

SEEDS = st.sampled_from(
    [_CHAIN, base64.encodebytes(_CHAIN), _KEY, base64.encodebytes(_KEY), b"-----BEGIN PKCS7-----\n"]
)


def _mutate(seed: bytes, pos: int, value: int, cut: int) -> bytes:
    data = bytearray(seed)
    if data:
        data[pos % len(data)] = value
    return bytes(data[: max(1, len(data) - cut)])


@settings(max_examples=250, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.builds(_mutate, SEEDS, st.integers(0, 4000), st.integers(0, 255), st.integers(0, 40)),
    )
)
def test_certificate_decoding_only_raises_typed_errors(blob: bytes) -> None:
    try:
        encoding.parse_certs(blob)
    except EstResponseError:
        pass


@settings(max_examples=250, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.builds(_mutate, SEEDS, st.integers(0, 4000), st.integers(0, 255), st.integers(0, 40)),
    )
)
def test_private_key_decoding_only_raises_typed_errors(blob: bytes) -> None:
    try:
        encoding.normalise_private_key(blob)
    except EstResponseError:
        pass


@settings(max_examples=250, deadline=None)
@given(
    st.binary(max_size=400),
    st.sampled_from(["multipart/mixed; boundary=b", 'multipart/mixed; boundary="x y"', "text/plain"]),
)
def test_multipart_parsing_only_raises_typed_errors(blob: bytes, ctype: str) -> None:
    try:
        parse_multipart(b"--b\r\n" + blob, ctype)
    except EstResponseError:
        pass
