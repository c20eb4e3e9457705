"""Builders for ``/csrattrs`` bodies (RFC 7030 4.5, clarified by RFC 8951 and RFC 9908).

``CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID`` where an item is a bare
OID ("please include this") or an ``Attribute { type, SET OF values }``. The
common forms real servers send are covered, plus the RFC 9908 template
(``id-aa-certificationRequestInfoTemplate``) so the client's parser sees each::

    config.csrattrs = csr_attrs(
        challenge_password(),                 # OID form: PoP with tls-unique wanted
        key_type(KeyAlgorithm.EC_P384),       # ecPublicKey attribute, curve as value
        oid_item(ECDSA_WITH_SHA384),          # signature algorithm hint
    )
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

from certline.app.estserver import der_writer as der
from certline.app.pki import KeyAlgorithm

CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"  # noqa: S105 - an OID
EXTENSION_REQUEST = "1.2.840.113549.1.9.14"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
SECP256R1 = "1.2.840.10045.3.1.7"
SECP384R1 = "1.3.132.0.34"
SECP521R1 = "1.3.132.0.35"
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
ECDSA_WITH_SHA384 = "1.2.840.10045.4.3.3"
SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
MAC_ADDRESS = "1.3.6.1.1.1.1.22"
CERTIFICATION_REQUEST_INFO_TEMPLATE = "1.2.840.113549.1.9.16.2.61"
"""RFC 9908 id-aa-certificationRequestInfoTemplate."""
EXTENSION_REQ_TEMPLATE = "1.2.840.113549.1.9.16.2.62"
"""RFC 9908 id-aa-extensionReqTemplate."""

_CURVES = {KeyAlgorithm.EC_P256: SECP256R1, KeyAlgorithm.EC_P384: SECP384R1}
_RSA_BITS = {KeyAlgorithm.RSA_2048: 2048, KeyAlgorithm.RSA_3072: 3072}

ExtensionSpec = tuple[str, bool, bytes | None]
"""(extension OID, critical, DER extnValue or None = "fill in yourself" in a template)."""


def oid_item(dotted: str) -> bytes:
    """The bare-OID choice of AttrOrOID."""
    return der.oid(dotted)


def attribute(type_oid: str, *values: bytes) -> bytes:
    """``Attribute ::= SEQUENCE { type OID, values SET OF ANY }`` (values already DER)."""
    return der.sequence(der.oid(type_oid), der.set_of(*values))


def csr_attrs(*items: bytes) -> bytes:
    """The whole ``CsrAttrs`` body (DER); base64 is added by the server."""
    return der.sequence(*items)


def challenge_password() -> bytes:
    """challengePassword as a bare OID: the server wants tls-unique linking (RFC 7030 3.5)."""
    return oid_item(CHALLENGE_PASSWORD)


def key_type(algorithm: KeyAlgorithm | str) -> bytes:
    """Key type attribute: ``ecPublicKey {curve}`` or ``rsaEncryption {INTEGER bits}`` (RFC 9908 3.2)."""
    algo = KeyAlgorithm(algorithm)
    if algo in _CURVES:
        return attribute(EC_PUBLIC_KEY, der.oid(_CURVES[algo]))
    return attribute(RSA_ENCRYPTION, der.integer(_RSA_BITS[algo]))


def signature_hint(algorithm: KeyAlgorithm | str) -> bytes:
    """Bare OID of the signature algorithm a CSR for ``algorithm`` should use."""
    algo = KeyAlgorithm(algorithm)
    if algo is KeyAlgorithm.EC_P384:
        return oid_item(ECDSA_WITH_SHA384)
    if algo is KeyAlgorithm.EC_P256:
        return oid_item(ECDSA_WITH_SHA256)
    return oid_item(SHA256_WITH_RSA)


def _extension(spec: ExtensionSpec) -> bytes:
    ext_oid, critical, value = spec
    parts = [der.oid(ext_oid)]
    if critical:
        parts.append(der.boolean(True))
    if value is not None:
        parts.append(der.octet_string(value))
    return der.sequence(*parts)


def extension_spec(value: x509.ExtensionType, *, critical: bool = False) -> ExtensionSpec:
    """An :data:`ExtensionSpec` from a ``cryptography`` extension value."""
    return (value.oid.dotted_string, critical, value.public_bytes())


def extension_request(*extensions: ExtensionSpec) -> bytes:
    """``extensionRequest`` attribute whose value is one ``Extensions`` with real values."""
    return attribute(EXTENSION_REQUEST, der.sequence(*(_extension(e) for e in extensions)))


def extension_request_oids(*oids: str) -> bytes:
    """``extensionRequest`` attribute listing bare OIDs (an RFC 7030-era form servers still send)."""
    return attribute(EXTENSION_REQUEST, *(der.oid(o) for o in oids))


def template(
    subject: Sequence[tuple[str, str | None]] = (),
    *,
    key_algorithm: KeyAlgorithm | str | None = None,
    extensions: Sequence[ExtensionSpec] = (),
) -> bytes:
    """RFC 9908 template attribute (``id-aa-certificationRequestInfoTemplate``).

    ``subject`` is (attribute OID, value or None); None means the client fills
    that RDN in. Extensions whose value is None are likewise left to the client.
    """
    rdns = []
    for attr_oid, value in subject:
        parts = [der.oid(attr_oid)]
        if value is not None:
            parts.append(der.utf8_string(value))
        rdns.append(der.set_of(der.sequence(*parts)))
    body = [der.integer(0), der.sequence(*rdns)]
    if key_algorithm is not None:
        algo = KeyAlgorithm(key_algorithm)
        if algo in _CURVES:
            alg_id = der.sequence(der.oid(EC_PUBLIC_KEY), der.oid(_CURVES[algo]))
        else:
            alg_id = der.sequence(der.oid(RSA_ENCRYPTION), der.null())
        # [0] IMPLICIT SubjectPublicKeyInfoTemplate: algorithm only, no key bits
        body.append(der.context(0, alg_id))
    inner_attrs = b""
    if extensions:
        inner_attrs = attribute(EXTENSION_REQ_TEMPLATE, der.sequence(*(_extension(e) for e in extensions)))
    body.append(der.context(1, inner_attrs))  # [1] IMPLICIT Attributes (a SET)
    return attribute(CERTIFICATION_REQUEST_INFO_TEMPLATE, der.sequence(*body))


# ----------------------------------------------------------------- presets
def _rfc7030_example() -> bytes:
    """RFC 7030 4.5.2's example (challengePassword, P-384, macAddress, ecdsaWithSHA384)."""
    return csr_attrs(
        challenge_password(),
        key_type(KeyAlgorithm.EC_P384),
        oid_item(MAC_ADDRESS),
        oid_item(ECDSA_WITH_SHA384),
    )


def _template_example() -> bytes:
    san = x509.SubjectAlternativeName([x509.DNSName("device.example")])
    return csr_attrs(
        template(
            [
                (NameOID.COMMON_NAME.dotted_string, None),
                (NameOID.ORGANIZATION_NAME.dotted_string, "Certline"),
            ],
            key_algorithm=KeyAlgorithm.EC_P256,
            extensions=[
                (san.oid.dotted_string, False, None),
                extension_spec(
                    x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                    critical=True,
                ),
            ],
        )
    )


PRESETS: dict[str, Callable[[], bytes | None]] = {
    "none": lambda: None,
    "empty": lambda: csr_attrs(),
    "rfc7030": _rfc7030_example,
    "ec-p256": lambda: csr_attrs(key_type(KeyAlgorithm.EC_P256), signature_hint(KeyAlgorithm.EC_P256)),
    "ec-p384": lambda: csr_attrs(key_type(KeyAlgorithm.EC_P384), signature_hint(KeyAlgorithm.EC_P384)),
    "rsa-2048": lambda: csr_attrs(key_type(KeyAlgorithm.RSA_2048), signature_hint(KeyAlgorithm.RSA_2048)),
    "pop": lambda: csr_attrs(challenge_password()),
    "template": _template_example,
}
"""Named ``/csrattrs`` bodies for the CLI's ``--csrattrs`` (``none`` → 204)."""
