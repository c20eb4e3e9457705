"""Tolerant decoding of EST bodies and the exact bytes of outgoing CSRs."""

from __future__ import annotations

import base64
import textwrap
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certline.app.config.profile import CsrFormat
from certline.app.est import der_reader, encoding
from certline.app.est.encoding import CsrInputError
from certline.app.est.errors import EstResponseError
from tests.est import pki

SEED_CSR = (Path(__file__).parent / "data" / "dtm_seed_csr.pem").read_bytes()


@pytest.fixture(scope="module")
def chain() -> list[x509.Certificate]:
    p = pki.make_pki()
    leaf = p.issue(pki.key().public_key())
    return [leaf, p.intermediate]


def _b64(blob: bytes, width: int | None = 64, eol: bytes = b"\n") -> bytes:
    text = base64.b64encode(blob)
    if width is None:
        return text
    return eol.join(text[i : i + width] for i in range(0, len(text), width)) + eol


def variants(blob: bytes, label: bytes = b"PKCS7") -> dict[str, bytes]:
    return {
        "lf": _b64(blob),
        "crlf": _b64(blob, eol=b"\r\n"),
        "oneline": _b64(blob, None),
        "no-final-newline": _b64(blob).rstrip(),
        "trailing-nul": _b64(blob) + b"\x00",
        "stray-whitespace": b"  \r\n" + _b64(blob, 76).replace(b"\n", b" \n\t") + b"\n\n",
        "pem": b"-----BEGIN " + label + b"-----\n" + _b64(blob) + b"-----END " + label + b"-----\n",
        "pem-crlf": b"-----BEGIN "
        + label
        + b"-----\r\n"
        + _b64(blob, eol=b"\r\n")
        + b"-----END "
        + label
        + b"-----\r\n",
        "pem-squashed": b"-----BEGIN "
        + label
        + b"----- "
        + _b64(blob, None)
        + b" -----END "
        + label
        + b"-----",
        "der": blob,
        "der-trailing-nul": blob + b"\x00",
        "no-padding": _b64(blob, None).rstrip(b"="),
    }


@pytest.mark.parametrize("form", list(variants(b"x").keys()))
def test_pkcs7_certs_decode_in_every_form(form: str, chain: list[x509.Certificate]) -> None:
    body = variants(pki.pkcs7_der(chain))[form]
    assert encoding.parse_certs(body) == chain


def test_pem_certificate_blocks_and_single_der_cert(chain: list[x509.Certificate]) -> None:
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    assert encoding.parse_certs(pem) == chain
    assert encoding.parse_certs(pem.replace(b"\n", b"\r\n")) == chain
    assert encoding.parse_certs(pki.der(chain[0])) == [chain[0]]
    assert encoding.parse_certs(_b64(pki.der(chain[0]))) == [chain[0]]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty"),
        (b"\x00\r\n", "empty"),
        (b"<html>oops</html>", "neither base64"),
        (_b64(b"not a pkcs7 structure at all"), "PKCS#7"),
        (b"-----BEGIN PKCS7-----\n!!!\n-----END PKCS7-----\n", "base64"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "no certificates"),
    ],
)
def test_unusable_bodies_are_typed_errors(body: bytes, why: str) -> None:
    with pytest.raises(EstResponseError, match=why):
        encoding.parse_certs(body)


def test_empty_pkcs7_is_an_error() -> None:
    # A degenerate SignedData with no certificates, hand-built (cryptography refuses to).
    signed_data = bytes.fromhex("30230201013100300b06092a864886f70d0107013100")
    content = bytes.fromhex("a025") + signed_data
    blob = bytes.fromhex("303206092a864886f70d010702") + content
    with pytest.raises(EstResponseError):
        encoding.parse_certs(_b64(blob))


def _with_crls_field(blob: bytes) -> bytes:
    """The same SignedData with an empty ``[1] crls`` before signerInfos (re-encoded by hand)."""

    def tlv(tag: int, value: bytes) -> bytes:
        n = len(value)
        length = bytes([n]) if n < 0x80 else bytes([0x82]) + n.to_bytes(2, "big")
        return bytes([tag]) + length + value

    ci = der_reader.parse_single(blob)
    oid, content = ci.children()
    (signed,) = content.children()
    fields = signed.children()
    inner = b"".join(f.encoded for f in fields[:4]) + b"\xa1\x00" + fields[4].encoded
    return tlv(0x30, oid.encoded + tlv(0xA0, tlv(0x30, inner)))


def _as_ber_indefinite(blob: bytes) -> bytes:
    """The ContentInfo re-framed with a BER indefinite length (as some servers send it)."""
    ci = der_reader.parse_single(blob)
    return b"\x30\x80" + ci.value + b"\x00\x00"


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("shape", ["plain", "with-crls", "ber"])
def test_pkcs7_envelope_read_gives_what_openssl_gives(count: int, shape: str) -> None:
    # The envelope is walked in Python for speed; what comes out must be exactly the
    # certificates, in order, that OpenSSL's PKCS#7 parser finds (BER falls back to it).
    p = pki.make_pki()
    certs = [p.issue(pki.key().public_key()), p.intermediate, p.root][:count]
    blob = {"plain": lambda b: b, "with-crls": _with_crls_field, "ber": _as_ber_indefinite}[shape](
        pki.pkcs7_der(certs)
    )
    from cryptography.hazmat.primitives.serialization import pkcs7

    with warnings.catch_warnings():  # cryptography warns that it fell back to BER
        warnings.simplefilter("ignore" if shape == "ber" else "error")
        by_openssl = list(pkcs7.load_der_pkcs7_certificates(blob))  # wire order (DER sorts a SET OF)
        assert encoding.parse_certs(_b64(blob)) == by_openssl
    assert sorted(map(pki.der, by_openssl)) == sorted(map(pki.der, certs))
    fast = encoding._signed_data_cert_ders(blob)
    assert fast == (None if shape == "ber" else [pki.der(c) for c in by_openssl])


def test_pkcs7_with_an_unparseable_certificate_is_still_refused() -> None:
    p = pki.make_pki()
    blob = bytearray(pki.pkcs7_der([p.intermediate]))
    cert_der = pki.der(p.intermediate)
    at = bytes(blob).index(cert_der)
    blob[at + 8] ^= 0xFF  # inside the TBSCertificate header: no longer a certificate
    with pytest.raises(EstResponseError):
        encoding.parse_certs(bytes(blob))


def test_rfc7030_csr_encoding_is_wrapped_base64_der() -> None:
    csr = encoding.load_csr(SEED_CSR)
    body, headers = encoding.encode_csr(csr, CsrFormat.RFC7030)
    assert headers == {"Content-Type": "application/pkcs10", "Content-Transfer-Encoding": "base64"}
    assert body.endswith(b"\n") and not body.endswith(b"\n\n")
    lines = body.rstrip(b"\n").split(b"\n")
    assert all(len(line) == 64 for line in lines[:-1]) and 0 < len(lines[-1]) <= 64
    assert b"\r" not in body
    assert base64.b64decode(body) == csr.public_bytes(serialization.Encoding.DER)


def test_pem_text_csr_encoding() -> None:
    csr = encoding.load_csr(SEED_CSR)
    body, headers = encoding.encode_csr(csr, CsrFormat.PEM_TEXT)
    assert headers == {"Content-Type": "text/plain"}
    assert body == csr.public_bytes(serialization.Encoding.PEM)
    assert body.startswith(b"-----BEGIN CERTIFICATE REQUEST-----\n")


def test_seed_csr_is_the_complete_dtm_sample() -> None:
    csr = encoding.load_csr(SEED_CSR)
    assert csr.subject.rfc4514_string() == "CN=CN-001,OU=IoT,O=DC,C=US"
    assert isinstance(csr.public_key(), rsa.RSAPublicKey)


def test_csr_accepted_as_pem_squashed_der_and_base64() -> None:
    csr = encoding.load_csr(SEED_CSR)
    der = csr.public_bytes(serialization.Encoding.DER)
    squashed = b" ".join(SEED_CSR.split(b"\n"))  # as in the DTM doc's curl sample
    for form in (SEED_CSR, squashed, der, _b64(der), SEED_CSR.replace(b"\n", b"\r\n")):
        assert encoding.load_csr(form) == csr


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "out of range"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "no CERTIFICATE REQUEST"),
        (b"hello world!", "neither PEM"),
        (_b64(b"\x30\x03\x02\x01\x00"), "not a valid PKCS#10"),
    ],
)
def test_bad_csr_input(data: bytes, why: str) -> None:
    with pytest.raises(CsrInputError, match=why):
        encoding.load_csr(data)


def test_csr_with_broken_signature_is_refused() -> None:
    csr = encoding.load_csr(SEED_CSR)
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0xFF
    with pytest.raises(CsrInputError, match="signature"):
        encoding.load_csr(bytes(der))


@pytest.mark.parametrize("fmt", ["pkcs8", "traditional"])
@pytest.mark.parametrize("wire", ["der", "b64", "pem"])
def test_private_key_normalised_to_pkcs8(fmt: str, wire: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private_format = (
        serialization.PrivateFormat.PKCS8
        if fmt == "pkcs8"
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    der = key.private_bytes(serialization.Encoding.DER, private_format, serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption())
    blob = {"der": der, "b64": _b64(der), "pem": pem}[wire]
    out = encoding.normalise_private_key(blob)
    expected = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert out == expected


def test_encrypted_private_keys_are_not_supported() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    enc_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    enc_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    legacy_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw"),
    )
    for blob in (enc_der, _b64(enc_der), enc_pem, legacy_pem):
        with pytest.raises(EstResponseError, match="not supported"):
            encoding.normalise_private_key(blob)


def test_garbage_key_message_does_not_echo_bytes() -> None:
    junk = _b64(b"\x30\x0a" + b"SECRETKEY!")
    with pytest.raises(EstResponseError) as info:
        encoding.normalise_private_key(junk)
    assert "SECRET" not in str(info.value) and info.value.__cause__ is None


def test_wrap_base64_width() -> None:
    out = encoding.wrap_base64(b"\x01" * 100)
    assert out == textwrap.fill(base64.b64encode(b"\x01" * 100).decode(), 64).encode() + b"\n"
