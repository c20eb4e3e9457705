"""Small X.509 helpers shared by the engine, reports and views (no network, no device I/O)."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

MAX_CSR_BYTES = 16 * 1024

_NAME_OIDS: dict[str, x509.ObjectIdentifier] = {
    "CN": x509.NameOID.COMMON_NAME,
    "O": x509.NameOID.ORGANIZATION_NAME,
    "OU": x509.NameOID.ORGANIZATIONAL_UNIT_NAME,
    "C": x509.NameOID.COUNTRY_NAME,
    "L": x509.NameOID.LOCALITY_NAME,
    "ST": x509.NameOID.STATE_OR_PROVINCE_NAME,
    "serialNumber": x509.NameOID.SERIAL_NUMBER,
}


class KeyAlgorithm(enum.StrEnum):
    """Key types a profile can ask for and a device can declare.

    It lives here, with the other key and certificate helpers, so that profiles and the PKI
    code do not depend on the device layer that uses them.
    """

    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"


class CsrRejected(ValueError):
    """A CSR from a device failed validation; the message says exactly why."""


#: DER of the ``ecdsa-with-SHA256/384/512`` OIDs (RFC 5758 3.2: their AlgorithmIdentifier MUST omit
#: the parameters field).
_ECDSA_SHA2_OIDS = tuple(bytes.fromhex("06082a8648ce3d0403") + bytes([last]) for last in (0x02, 0x03, 0x04))
_DER_NULL = b"\x05\x00"


def _der_header(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, header length, content length) of the DER element at ``offset``; ValueError if cut."""
    if offset + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[offset], data[offset + 1]
    if first < 0x80:
        return tag, 2, first
    count = first & 0x7F
    if count == 0 or count > 3 or offset + 2 + count > len(data):
        raise ValueError("bad length")
    length = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
    return tag, 2 + count, length


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def normalise_csr_der(csr_der: bytes) -> bytes:
    """The CSR with an explicit NULL dropped from its outer ``ecdsa-with-SHA*`` AlgorithmIdentifier.

    nRF91 modems (mfw 1.3.x and 2.0.x) encode the CSR's signatureAlgorithm as
    ``SEQUENCE { ecdsa-with-SHA256, NULL }``, which RFC 5758 forbids; cryptography 49+
    refuses to parse it. The signature covers only CertificationRequestInfo, which this
    leaves byte for byte as it is, so the normalised CSR verifies exactly when the original
    does. Nordic's nRF Cloud utilities do the same (``_normalize_ecdsa_csr_der`` in
    ``nrfcloud_utils/modem_credentials_parser.py``). Anything else - a CSR without the quirk,
    or bytes that are not shaped like a CSR - is returned unchanged for the parser to judge.
    """
    try:
        tag, head, length = _der_header(csr_der, 0)
        if tag != 0x30 or head + length != len(csr_der):
            return csr_der
        info_tag, info_head, info_len = _der_header(csr_der, head)
        info_end = head + info_head + info_len
        alg_tag, alg_head, alg_len = _der_header(csr_der, info_end)
        if info_tag != 0x30 or alg_tag != 0x30:
            return csr_der
        alg_value = csr_der[info_end + alg_head : info_end + alg_head + alg_len]
        oid = alg_value[: -len(_DER_NULL)]
        if alg_value[-len(_DER_NULL) :] != _DER_NULL or oid not in _ECDSA_SHA2_OIDS:
            return csr_der
        rest = csr_der[info_end + alg_head + alg_len :]
    except ValueError:
        return csr_der
    body = csr_der[head:info_end] + b"\x30" + _der_length(len(oid)) + oid + rest
    return b"\x30" + _der_length(len(body)) + body


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated upper-case hex (what openssl and browsers show)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def cert_serial_hex(cert: x509.Certificate) -> str:
    """The serial number as upper-case hex in whole bytes, leading zeros kept ("0A1B", not "A1B").

    That is how ``openssl x509 -serial`` and CA consoles (DigiCert DTM) show it, so an operator
    can search for the printed value there.
    """
    serial = cert.serial_number
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big").hex().upper()


def chain_to_pem(chain: Sequence[x509.Certificate]) -> str:
    """PEM with LF line endings, leaf first: the exact bytes written to devices and hashed."""
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in chain)


def pem_to_chain(pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem.encode("ascii"))


def public_key_der(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def subject_to_dict(name: x509.Name) -> dict[str, str]:
    reverse = {oid: short for short, oid in _NAME_OIDS.items()}
    return {reverse.get(attr.oid, attr.oid.dotted_string): str(attr.value) for attr in name}


def subject_from_dict(subject: dict[str, str]) -> x509.Name:
    try:
        return x509.Name([x509.NameAttribute(_NAME_OIDS[k], v) for k, v in subject.items()])
    except KeyError as exc:
        raise ValueError(f"unsupported subject attribute {exc.args[0]!r}") from None


def key_algorithm_of(public_key: object) -> KeyAlgorithm | None:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": KeyAlgorithm.EC_P256, "secp384r1": KeyAlgorithm.EC_P384}.get(
            public_key.curve.name
        )
    if isinstance(public_key, rsa.RSAPublicKey):
        return {2048: KeyAlgorithm.RSA_2048, 3072: KeyAlgorithm.RSA_3072}.get(public_key.key_size)
    return None


def check_device_csr(
    csr_der: bytes, *, expected_subject: dict[str, str], expected_algorithm: KeyAlgorithm | None
) -> x509.CertificateSigningRequest:
    """Validate a CSR a device produced before it goes anywhere near the EST server.

    Bounded size, DER parse (after :func:`normalise_csr_der`), self-signature (proof the device
    holds the key), subject equal to the profile's template filled with the serial number the
    device reported, key type as asked. The returned CSR is the normalised one: post its bytes.
    """
    if not csr_der or len(csr_der) > MAX_CSR_BYTES:
        raise CsrRejected(f"CSR size {len(csr_der)} bytes is outside 1..{MAX_CSR_BYTES}")
    try:
        csr = x509.load_der_x509_csr(normalise_csr_der(csr_der))
    except (ValueError, x509.InvalidVersion):
        raise CsrRejected("the device sent bytes that are not a DER PKCS#10 CSR") from None
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):  # the key itself is unusable (e.g. off the curve)
        raise CsrRejected("the CSR carries a malformed or unsupported public key") from None
    if not valid:
        raise CsrRejected("the CSR's self-signature is invalid (the device may not hold the key)")
    got = subject_to_dict(csr.subject)
    if got != expected_subject:
        raise CsrRejected(f"CSR subject {got} differs from the profile's {expected_subject}")
    if expected_algorithm is not None:
        actual = key_algorithm_of(csr.public_key())
        if actual != expected_algorithm:
            shown = actual.value if actual else "an unsupported key type"
            raise CsrRejected(f"CSR key is {shown}, the profile asks for {expected_algorithm.value}")
    return csr


def verify_digest_signature(cert: x509.Certificate, digest: bytes, signature: bytes) -> bool:
    """True when ``signature`` over the SHA-256 ``digest`` verifies with the certificate's key."""
    key = cert.public_key()
    prehashed = utils.Prehashed(hashes.SHA256())
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def private_key_to_pkcs8(blob: bytes) -> tuple[bytes, object]:
    """``(unencrypted PKCS#8 DER, public key)`` of a private key in PKCS#8, PKCS#1 or SEC1, DER or PEM.

    Servers label keys loosely (PKCS#1 under ``application/pkcs8`` is common); devices import
    PKCS#8 only. Re-encoding here means the encoding is never why a unit rejects a key. The
    error never carries key bytes (nothing chained either).
    """
    load = serialization.load_pem_private_key if b"-----BEGIN" in blob else serialization.load_der_private_key
    key: object | None
    try:
        key = load(blob, password=None)
    except Exception:  # noqa: BLE001 - never chain: the exception may hold key bytes
        key = None
    if key is None or not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("the server-generated key is not a usable unencrypted EC or RSA private key")
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pkcs8, key.public_key()


def describe_key(public_key: object) -> str:
    """Operator wording of a key type, e.g. ``RSA-4096`` or ``EC P-256``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"EC {names.get(public_key.curve.name, public_key.curve.name)}"
    return type(public_key).__name__
