"""The server-generated key check: what a unit can take, in whatever encoding the server used."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certline.app.batch.server_key import ServerKeyUnusable, key_for_unit
from certline.app.device.driver import KeyAlgorithm

P256_RSA2048 = (KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_2048)
Fmt = serialization.PrivateFormat


def _encoded(key: object, fmt: Fmt, encoding: serialization.Encoding) -> bytes:
    return key.private_bytes(encoding, fmt, serialization.NoEncryption())  # type: ignore[attr-defined]


def test_a_key_type_the_unit_does_not_declare_is_refused_naming_both() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    blob = _encoded(key, Fmt.TraditionalOpenSSL, serialization.Encoding.DER)  # PKCS#1
    with pytest.raises(ServerKeyUnusable) as caught:
        key_for_unit(blob, P256_RSA2048, "CL-000001")
    assert str(caught.value) == (
        "the EST server generated an RSA-4096 key; unit CL-000001 accepts ec-p256, rsa-2048"
    )
    assert caught.value.code == "server-key-unusable"


@pytest.mark.parametrize("fmt", [Fmt.PKCS8, Fmt.TraditionalOpenSSL], ids=["pkcs8", "sec1"])
@pytest.mark.parametrize("encoding", [serialization.Encoding.DER, serialization.Encoding.PEM])
def test_every_encoding_of_an_accepted_key_becomes_the_same_pkcs8(
    fmt: Fmt, encoding: serialization.Encoding
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    expected = _encoded(key, Fmt.PKCS8, serialization.Encoding.DER)
    assert key_for_unit(_encoded(key, fmt, encoding), P256_RSA2048, "CL-000001") == expected


def test_rsa_pkcs1_is_normalised_to_pkcs8() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    got = key_for_unit(_encoded(key, Fmt.TraditionalOpenSSL, serialization.Encoding.DER), P256_RSA2048, "u")
    assert got == _encoded(key, Fmt.PKCS8, serialization.Encoding.DER)


def test_garbage_is_refused_without_echoing_it() -> None:
    secretish = b"\x30\x82\x01\x00" + b"K3Y-MATERIAL" * 20
    with pytest.raises(ServerKeyUnusable) as caught:
        key_for_unit(secretish, P256_RSA2048, "CL-000002")
    assert "K3Y" not in str(caught.value) and caught.value.__cause__ is None
    assert caught.value.__context__ is None
