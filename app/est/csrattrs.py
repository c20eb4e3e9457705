"""Parse a ``/csrattrs`` response into :class:`CsrAttributes`.

``CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID`` where ``AttrOrOID`` is a bare
OID or an ``Attribute { type OID, values SET OF ANY }`` (RFC 7030 4.5.2, RFC 8951
3.5). Understood forms:

* key type, RFC 7030 style: ``id-ecPublicKey { <curve OID> }``; RFC 9908 3.2:
  ``rsaEncryption { INTEGER <bits> }``; an empty value set or a bare OID means
  "any key of this type";
* requested extensions: ``extensionRequest`` holding ``Extensions`` (RFC 9908) or,
  as in the RFC 7030 example, bare extension OIDs;
* ``challengePassword`` (bare OID or attribute): the server wants the CSR linked
  to the TLS channel (RFC 7030 3.5);
* the RFC 9908 ``CertificationRequestInfoTemplate``: subject template, key type
  (algorithm parameters or a placeholder key) and extension templates.

Anything else is kept in ``other_oids`` (RFC 8951: ignore what you do not know).
Structure errors are :class:`EstResponseError`; parsing is bounded by :mod:`certline.app.est.der_reader`.
"""

from __future__ import annotations

from dataclasses import replace

from certline.app.est import der_reader as der
from certline.app.est.errors import EstResponseError
from certline.app.est.results import CsrAttributes
from certline.app.pki import KeyAlgorithm

CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"  # noqa: S105 - an OID, not a password
EXTENSION_REQUEST = "1.2.840.113549.1.9.14"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
TEMPLATE = "1.2.840.113549.1.9.16.2.61"  # id-aa-certificationRequestInfoTemplate
EXTENSION_REQ_TEMPLATE = "1.2.840.113549.1.9.16.2.62"  # id-aa-extensionReqTemplate

CURVES: dict[str, tuple[str, KeyAlgorithm | None]] = {
    "1.2.840.10045.3.1.7": ("P-256", KeyAlgorithm.EC_P256),
    "1.3.132.0.34": ("P-384", KeyAlgorithm.EC_P384),
    "1.3.132.0.35": ("P-521", None),
    "1.3.132.0.10": ("secp256k1", None),
}
RSA_SIZES: dict[int, KeyAlgorithm] = {2048: KeyAlgorithm.RSA_2048, 3072: KeyAlgorithm.RSA_3072}

NAME_OIDS: dict[str, str] = {
    "2.5.4.3": "CN",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.5": "serialNumber",
}

MAX_ITEMS = 256


class _Acc:
    """Mutable accumulator while walking the attributes."""

    def __init__(self) -> None:
        self.key: KeyAlgorithm | None = None
        self.unsupported_key: str | None = None
        self.challenge = False
        self.extensions: list[str] = []
        self.other: list[str] = []
        self.subject: dict[str, str] = {}

    def add_ext(self, oid: str) -> None:
        if oid not in self.extensions:
            self.extensions.append(oid)

    def add_other(self, oid: str) -> None:
        if oid not in self.other:
            self.other.append(oid)

    def key_requirement(self, algorithm: KeyAlgorithm | None, description: str | None) -> None:
        """Record a key type; the first supported one wins, an unsupported one is remembered."""
        if self.key is not None:
            return
        if algorithm is not None:
            self.key = algorithm
            self.unsupported_key = None
        elif description and self.unsupported_key is None:
            self.unsupported_key = description


def parse_csrattrs(blob: bytes) -> CsrAttributes:
    """Parse DER ``CsrAttrs``; an empty SEQUENCE (or empty input) means "no attributes"."""
    if not blob:
        return CsrAttributes()
    try:
        root = der.parse_single(blob, allow_trailing=True)
        der.check_depth(root)
        if root.tag != der.SEQUENCE:
            raise EstResponseError("the /csrattrs response is not a DER SEQUENCE")
        items = root.children()
        if len(items) > MAX_ITEMS:
            raise EstResponseError("the /csrattrs response has too many entries")
        acc = _Acc()
        for item in items:
            _item(item, acc)
    except der.DerError as exc:
        raise EstResponseError(f"the /csrattrs response is malformed DER: {exc}") from None
    attrs = CsrAttributes(
        key_algorithm=acc.key,
        challenge_password_required=acc.challenge,
        extension_oids=tuple(acc.extensions),
        other_oids=tuple(acc.other),
        template_subject=acc.subject,
    )
    if acc.key is None and acc.unsupported_key:
        attrs = replace(attrs, unsupported_key=acc.unsupported_key)
    return attrs


def _item(item: der.Tlv, acc: _Acc) -> None:
    if item.tag == der.OID:
        _bare_oid(der.decode_oid(item), acc)
        return
    if item.tag != der.SEQUENCE:
        acc.add_other(f"unknown-tag-0x{item.tag:02x}")
        return
    kids = item.children()
    if len(kids) != 2 or kids[0].tag != der.OID or kids[1].tag != der.SET:
        raise der.DerError("an attribute is not SEQUENCE { OID, SET }")
    _attribute(der.decode_oid(kids[0]), kids[1].children(), acc)


def _bare_oid(oid: str, acc: _Acc) -> None:
    if oid == CHALLENGE_PASSWORD:
        acc.challenge = True
    else:
        acc.add_other(oid)  # includes bare key types ("any") and signature algorithms


def _attribute(oid: str, values: list[der.Tlv], acc: _Acc) -> None:
    if oid == CHALLENGE_PASSWORD:
        acc.challenge = True
    elif oid == EC_PUBLIC_KEY:
        _ec_values(values, acc)
    elif oid == RSA_ENCRYPTION:
        _rsa_values(values, acc)
    elif oid == EXTENSION_REQUEST:
        for value in values:
            _extension_request_value(value, acc)
    elif oid == TEMPLATE:
        for value in values:
            _template(value, acc)
    else:
        acc.add_other(oid)


def _ec_values(values: list[der.Tlv], acc: _Acc) -> None:
    if not values:
        acc.add_other(EC_PUBLIC_KEY)
        return
    for value in values:
        if value.tag != der.OID:
            raise der.DerError("id-ecPublicKey value is not a curve OID")
        curve = der.decode_oid(value)
        name, algorithm = CURVES.get(curve, (curve, None))
        acc.key_requirement(algorithm, f"EC curve {name}")


def _rsa_values(values: list[der.Tlv], acc: _Acc) -> None:
    if not values:
        acc.add_other(RSA_ENCRYPTION)
        return
    for value in values:
        bits = der.decode_integer(value)
        acc.key_requirement(RSA_SIZES.get(bits), f"RSA {bits} bits")


def _extension_request_value(value: der.Tlv, acc: _Acc) -> None:
    if value.tag == der.OID:  # RFC 7030 example form: bare extension OIDs
        acc.add_ext(der.decode_oid(value))
        return
    if value.tag != der.SEQUENCE:
        raise der.DerError("extensionRequest value is neither Extensions nor an OID")
    for ext in value.children():
        if ext.tag == der.OID:
            acc.add_ext(der.decode_oid(ext))
            continue
        ext_kids = ext.children() if ext.tag == der.SEQUENCE else []
        if not ext_kids or ext_kids[0].tag != der.OID:
            raise der.DerError("an Extension does not start with its OID")
        acc.add_ext(der.decode_oid(ext_kids[0]))


def _template(value: der.Tlv, acc: _Acc) -> None:
    """CertificationRequestInfoTemplate ::= SEQUENCE { version INTEGER, subject NameTemplate
    OPTIONAL, subjectPKInfo [0] OPTIONAL, attributes [1] }"""
    if value.tag != der.SEQUENCE:
        raise der.DerError("the CSR template is not a SEQUENCE")
    kids = value.children()
    if not kids or kids[0].tag != der.INTEGER:
        raise der.DerError("the CSR template has no version")
    for kid in kids[1:]:
        if kid.tag == der.SEQUENCE:
            _name_template(kid, acc)
        elif kid.tag == 0xA0:
            _spki_template(kid, acc)
        elif kid.tag == 0xA1:
            for attr in kid.children():
                _template_attribute(attr, acc)


def _name_template(name: der.Tlv, acc: _Acc) -> None:
    for rdn in name.children():
        if rdn.tag != der.SET:
            raise der.DerError("a subject template RDN is not a SET")
        for atv in rdn.children():
            parts = atv.children()
            if not parts or parts[0].tag != der.OID:
                raise der.DerError("a subject template attribute has no type")
            oid = der.decode_oid(parts[0])
            short = NAME_OIDS.get(oid, oid)
            text = ""
            if len(parts) > 1:
                try:
                    text = der.decode_string(parts[1])
                except der.DerError:
                    text = ""
            acc.subject.setdefault(short, text)


def _spki_template(spki: der.Tlv, acc: _Acc) -> None:
    kids = spki.children()
    if not kids or kids[0].tag != der.SEQUENCE:
        raise der.DerError("the template's subjectPKInfo has no algorithm")
    alg = kids[0].children()
    if not alg or alg[0].tag != der.OID:
        raise der.DerError("the template's key algorithm has no OID")
    alg_oid = der.decode_oid(alg[0])
    if alg_oid == EC_PUBLIC_KEY:
        if len(alg) > 1 and alg[1].tag == der.OID:
            curve = der.decode_oid(alg[1])
            name, algorithm = CURVES.get(curve, (curve, None))
            acc.key_requirement(algorithm, f"EC curve {name}")
        else:
            acc.add_other(EC_PUBLIC_KEY)
    elif alg_oid == RSA_ENCRYPTION:
        bits = _placeholder_rsa_bits(kids[1]) if len(kids) > 1 else None
        if bits:
            acc.key_requirement(RSA_SIZES.get(bits), f"RSA {bits} bits")
        else:
            acc.add_other(RSA_ENCRYPTION)
    else:
        acc.key_requirement(None, f"key algorithm {alg_oid}")


def _placeholder_rsa_bits(bitstring: der.Tlv) -> int | None:
    """Modulus size of a placeholder RSAPublicKey in the template, when there is one."""
    if bitstring.tag != der.BIT_STRING or len(bitstring.value) < 2:
        return None
    try:
        rsa_key = der.parse_single(bitstring.value[1:], allow_trailing=True)
        modulus = rsa_key.children()[0]
    except (der.DerError, IndexError):
        return None
    if modulus.tag != der.INTEGER:
        return None
    digits = modulus.value.lstrip(b"\x00")
    return len(digits) * 8 if digits else None


def _template_attribute(attr: der.Tlv, acc: _Acc) -> None:
    kids = attr.children()
    if len(kids) != 2 or kids[0].tag != der.OID or kids[1].tag != der.SET:
        raise der.DerError("a template attribute is not SEQUENCE { OID, SET }")
    oid = der.decode_oid(kids[0])
    values = kids[1].children()
    if oid == EXTENSION_REQ_TEMPLATE:
        for value in values:  # ExtensionReqTemplate ::= SEQUENCE OF ExtensionTemplate
            for ext in value.children():
                parts = ext.children()
                if not parts or parts[0].tag != der.OID:
                    raise der.DerError("an extension template has no OID")
                acc.add_ext(der.decode_oid(parts[0]))
    else:
        _attribute(oid, values, acc)
