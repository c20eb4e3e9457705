"""/csrattrs parsing: every form servers send, and a DER reader that fails only with typed errors."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from certline.app.est import der_reader as der
from certline.app.est.csrattrs import parse_csrattrs
from certline.app.est.errors import EstResponseError
from certline.app.estserver import csrattrs as build
from certline.app.estserver import der_writer as enc
from certline.app.pki import KeyAlgorithm

# RFC 7030 section 4.5.2's example, byte for byte as published.
RFC7030_EXAMPLE = base64.b64decode(
    "MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw=="
)


def test_rfc7030_published_example() -> None:
    attrs = parse_csrattrs(RFC7030_EXAMPLE)
    assert attrs.challenge_password_required
    assert attrs.key_algorithm is KeyAlgorithm.EC_P384
    assert attrs.extension_oids == (build.MAC_ADDRESS,)
    assert build.ECDSA_WITH_SHA384 in attrs.other_oids


@pytest.mark.parametrize("blob", [b"", b"\x30\x00"])
def test_empty_means_no_attributes(blob: bytes) -> None:
    attrs = parse_csrattrs(blob)
    assert attrs.key_algorithm is None
    assert not attrs.challenge_password_required
    assert attrs.extension_oids == () and attrs.other_oids == ()


@pytest.mark.parametrize(
    "algorithm",
    [KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384, KeyAlgorithm.RSA_2048, KeyAlgorithm.RSA_3072],
)
def test_key_type_attribute_forms(algorithm: KeyAlgorithm) -> None:
    attrs = parse_csrattrs(build.csr_attrs(build.key_type(algorithm), build.signature_hint(algorithm)))
    assert attrs.key_algorithm is algorithm
    assert attrs.unsupported_key is None


def test_unsupported_key_requirement_is_reported_not_ignored() -> None:
    rsa4096 = build.attribute(build.RSA_ENCRYPTION, enc.integer(4096))
    attrs = parse_csrattrs(build.csr_attrs(rsa4096))
    assert attrs.key_algorithm is None
    assert attrs.unsupported_key == "RSA 4096 bits"
    p521 = build.attribute(build.EC_PUBLIC_KEY, enc.oid(build.SECP521R1))
    assert parse_csrattrs(build.csr_attrs(p521)).unsupported_key == "EC curve P-521"


def test_supported_alternative_wins_over_unsupported() -> None:
    p521 = build.attribute(build.EC_PUBLIC_KEY, enc.oid(build.SECP521R1))
    attrs = parse_csrattrs(build.csr_attrs(p521, build.key_type(KeyAlgorithm.EC_P256)))
    assert attrs.key_algorithm is KeyAlgorithm.EC_P256
    assert attrs.unsupported_key is None


def test_any_key_of_a_type_is_not_a_specific_algorithm() -> None:
    attrs = parse_csrattrs(
        build.csr_attrs(build.attribute(build.EC_PUBLIC_KEY), build.oid_item(build.RSA_ENCRYPTION))
    )
    assert attrs.key_algorithm is None and attrs.unsupported_key is None
    assert set(attrs.other_oids) == {build.EC_PUBLIC_KEY, build.RSA_ENCRYPTION}


def test_challenge_password_as_attribute_form() -> None:
    blob = build.csr_attrs(build.attribute(build.CHALLENGE_PASSWORD))
    assert parse_csrattrs(blob).challenge_password_required


def test_extension_request_with_real_extensions_and_bare_oids() -> None:
    real = build.extension_request(
        ("2.5.29.17", False, b"\x30\x00"), ("2.5.29.15", True, b"\x03\x02\x07\x80")
    )
    assert parse_csrattrs(build.csr_attrs(real)).extension_oids == ("2.5.29.17", "2.5.29.15")
    bare = build.extension_request_oids("2.5.29.17", build.MAC_ADDRESS)
    assert parse_csrattrs(build.csr_attrs(bare)).extension_oids == ("2.5.29.17", build.MAC_ADDRESS)


def test_rfc9908_template() -> None:
    attrs = parse_csrattrs(build.PRESETS["template"]())  # type: ignore[arg-type]
    assert attrs.key_algorithm is KeyAlgorithm.EC_P256
    assert attrs.template_subject == {"CN": "", "O": "Certline"}
    assert attrs.extension_oids == ("2.5.29.17", "2.5.29.15")


def test_rfc9908_template_rsa_size_from_placeholder_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    rsa_public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    spki = enc.sequence(enc.oid(build.RSA_ENCRYPTION), enc.null()) + enc.bit_string(rsa_public)
    tmpl = enc.sequence(enc.integer(0), enc.sequence(), enc.context(0, spki), enc.context(1, b""))
    attrs = parse_csrattrs(build.csr_attrs(build.attribute(build.CERTIFICATION_REQUEST_INFO_TEMPLATE, tmpl)))
    assert attrs.key_algorithm is KeyAlgorithm.RSA_3072


@pytest.mark.parametrize("preset", ["rfc7030", "ec-p256", "ec-p384", "rsa-2048", "pop", "template", "empty"])
def test_every_server_preset_parses(preset: str) -> None:
    blob = build.PRESETS[preset]()
    assert blob is not None
    parse_csrattrs(blob)


def test_unknown_attributes_are_kept_not_fatal() -> None:
    blob = build.csr_attrs(
        build.attribute("1.3.6.1.4.1.99999.1", enc.integer(7)), build.oid_item("1.3.6.1.4.1.99999.2")
    )
    assert parse_csrattrs(blob).other_oids == ("1.3.6.1.4.1.99999.1", "1.3.6.1.4.1.99999.2")


@pytest.mark.parametrize(
    "blob",
    [
        b"\x31\x00",  # SET, not SEQUENCE
        b"\x30\x05\x06\x03\x2a",  # truncated
        b"\x30\x80\x00\x00",  # indefinite length
        b"\x30\x84\xff\xff\xff\xff",  # absurd length
        enc.sequence(enc.sequence(enc.oid("1.2.3"))),  # attribute without values
        enc.sequence(enc.sequence(enc.oid(build.EC_PUBLIC_KEY), enc.set_of(enc.integer(1)))),
        b"\x30\x03\x06\x01\x80",  # truncated OID arc
    ],
)
def test_malformed_input_is_a_typed_error(blob: bytes) -> None:
    with pytest.raises(EstResponseError):
        parse_csrattrs(blob)


def test_deep_nesting_is_bounded() -> None:
    blob = b"\x30\x00"
    for _ in range(200):
        blob = enc.sequence(blob)
    with pytest.raises(EstResponseError, match="deep"):
        parse_csrattrs(blob)


def test_oid_decoding_known_values() -> None:
    for dotted in ("1.2.840.113549.1.9.7", "2.5.29.17", "1.3.132.0.34", "2.999.1234567"):
        assert der.decode_oid(der.parse_single(enc.oid(dotted))) == dotted


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_only_raise_typed_errors(blob: bytes) -> None:
    try:
        parse_csrattrs(blob)
    except EstResponseError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(RFC7030_EXAMPLE) - 1), st.integers(0, 255))
def test_fuzz_mutated_example_only_raises_typed_errors(pos: int, value: int) -> None:
    blob = bytearray(RFC7030_EXAMPLE)
    blob[pos] = value
    try:
        parse_csrattrs(bytes(blob))
    except EstResponseError:
        pass
