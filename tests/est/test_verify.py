"""Nothing leaves the client unless the key matches and the chain reaches a pinned anchor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from certline.app.est.errors import EstResponseError
from certline.app.est.issued_chain_check import (
    VerifiedLinks,
    build_chain,
    certs_signed_by,
    identity_warnings,
    order_ca_certs,
    spki,
)
from tests.est import pki
from tests.helpers.certs import make_cert


@pytest.fixture(scope="module")
def p() -> pki.Pki:
    return pki.make_pki()


def test_chain_is_reordered_leaf_first(p: pki.Pki) -> None:
    k = pki.key()
    leaf = p.issue(k.public_key())
    chain, warnings = build_chain([p.root, p.intermediate, leaf], spki(k.public_key()), [p.root])
    assert chain == (leaf, p.intermediate, p.root)
    assert warnings == ()


def test_leaf_only_response_verifies_through_pinned_intermediate(p: pki.Pki) -> None:
    k = pki.key()
    leaf = p.issue(k.public_key())
    chain, _ = build_chain([leaf], spki(k.public_key()), [p.root, p.intermediate])
    assert chain == (leaf,)


def test_leaf_only_response_without_intermediate_fails(p: pki.Pki) -> None:
    k = pki.key()
    leaf = p.issue(k.public_key())
    with pytest.raises(EstResponseError, match="does not reach a trusted CA"):
        build_chain([leaf], spki(k.public_key()), [p.root])


def test_certificate_for_another_key_is_refused(p: pki.Pki) -> None:
    leaf = p.issue(pki.key().public_key())
    with pytest.raises(EstResponseError, match="different public key"):
        build_chain([leaf], spki(pki.key().public_key()), [p.root, p.intermediate])
    with pytest.raises(EstResponseError, match="none of the 2"):
        build_chain([leaf, p.intermediate], spki(pki.key().public_key()), [p.root])


def test_chain_from_an_unknown_ca_is_refused(p: pki.Pki) -> None:
    rogue = pki.make_pki("Rogue Root")
    k = pki.key()
    leaf = rogue.issue(k.public_key())
    with pytest.raises(EstResponseError, match="does not reach a trusted CA"):
        build_chain([leaf, rogue.intermediate, rogue.root], spki(k.public_key()), [p.root])


def test_unrelated_extra_certificates_are_dropped_with_a_warning(p: pki.Pki) -> None:
    k = pki.key()
    leaf = p.issue(k.public_key())
    stranger = pki.make_pki("Stranger").root
    chain, warnings = build_chain([leaf, stranger, p.intermediate], spki(k.public_key()), [p.root])
    assert chain == (leaf, p.intermediate)
    assert len(warnings) == 1 and "Stranger" in warnings[0]


def test_issuer_that_is_not_a_ca_is_refused(p: pki.Pki) -> None:
    fake_ca_key = pki.key()
    fake_ca = pki.cert("Not A CA", fake_ca_key.public_key(), (p.intermediate, p.int_key), p.int_key, ca=False)
    k = pki.key()
    leaf = pki.cert("dev", k.public_key(), (fake_ca, fake_ca_key), fake_ca_key, ca=False)
    with pytest.raises(EstResponseError, match="not a CA"):
        build_chain([leaf, fake_ca, p.intermediate], spki(k.public_key()), [p.root])


def test_path_length_constraint_is_enforced(p: pki.Pki) -> None:
    sub_key = pki.key()
    sub = pki.cert("Sub CA", sub_key.public_key(), (p.intermediate, p.int_key), p.int_key, ca=True)
    k = pki.key()
    leaf = pki.cert("dev", k.public_key(), (sub, sub_key), sub_key, ca=False)
    with pytest.raises(EstResponseError, match="path length"):
        build_chain([leaf, sub, p.intermediate], spki(k.public_key()), [p.root])


def test_expired_leaf_is_refused_but_small_clock_skew_is_tolerated(p: pki.Pki) -> None:
    k = pki.key()
    expired = p.issue(
        k.public_key(), not_before=pki.NOW - timedelta(days=10), not_after=pki.NOW - timedelta(days=1)
    )
    with pytest.raises(EstResponseError, match="expired"):
        build_chain([expired, p.intermediate], spki(k.public_key()), [p.root])
    early = p.issue(k.public_key(), not_before=pki.NOW + timedelta(minutes=2))
    assert build_chain([early, p.intermediate], spki(k.public_key()), [p.root])[0][0] == early
    future = p.issue(k.public_key(), not_before=pki.NOW + timedelta(days=1))
    with pytest.raises(EstResponseError, match="not valid before"):
        build_chain([future, p.intermediate], spki(k.public_key()), [p.root])


def test_no_trust_anchors_means_no_result(p: pki.Pki) -> None:
    k = pki.key()
    with pytest.raises(EstResponseError, match="no trust anchors"):
        build_chain([p.issue(k.public_key())], spki(k.public_key()), [])


def test_cacerts_ordering_and_pinning_subset(p: pki.Pki) -> None:
    assert order_ca_certs([p.root, p.intermediate]) == [p.intermediate, p.root]
    stranger = pki.make_pki("Stranger").root
    pinned = certs_signed_by(p.root, [p.root, p.intermediate, stranger])
    assert pinned == [p.root, p.intermediate]


def test_identity_warnings_on_renewal(p: pki.Pki) -> None:
    k = pki.key()
    old = p.issue(k.public_key(), cn="dev-1", san=["dev-1.example"])
    same = p.issue(k.public_key(), cn="dev-1", san=["dev-1.example"])
    assert identity_warnings(same, old) == ()
    renamed = p.issue(k.public_key(), cn="dev-2", san=["dev-2.example"])
    warnings = identity_warnings(renamed, old)
    assert len(warnings) == 2
    assert "subject" in warnings[0] and "subjectAltName" in warnings[1]


def test_remembered_ca_links_never_excuse_a_forged_leaf(p: pki.Pki) -> None:
    """A client remembers the issuing CA's signature under the anchor, never a leaf's: after
    genuine answers warmed the cache, a leaf naming the same issuer but signed by another key
    is still refused, and an expired intermediate is still caught."""
    links = VerifiedLinks()
    k = pki.key()
    good = p.issue(k.public_key())
    for _ in range(2):
        chain, _ = build_chain([good, p.intermediate], spki(k.public_key()), [p.root], links=links)
        assert chain == (good, p.intermediate)
    assert len(links) == 1  # intermediate -> root only
    forger = pki.key()
    forged = pki.cert("device-1", k.public_key(), (p.intermediate, forger), forger, ca=False)
    with pytest.raises(EstResponseError, match="does not reach a trusted CA"):
        build_chain([forged, p.intermediate], spki(k.public_key()), [p.root], links=links)
    stale = pki.cert(
        "Test Root Issuing",
        p.int_key.public_key(),
        (p.root, p.root_key),
        p.root_key,
        ca=True,
        not_before=pki.NOW - timedelta(days=60),
        not_after=pki.NOW - timedelta(days=1),
    )
    with pytest.raises(EstResponseError, match="expired"):
        build_chain([good, stale], spki(k.public_key()), [p.root], links=links)


def _library_says(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, InvalidSignature):
        return False
    return True


@pytest.mark.parametrize("algorithm", ["ec", "rsa"])
def test_leaf_check_with_a_remembered_issuer_key_agrees_with_the_library(algorithm: str) -> None:
    """The leaf's signature is checked with the issuer's key loaded once per client; on a
    genuine leaf, a leaf signed by another key under the same issuer name, and a leaf naming
    another issuer, the answer must be the library's (``verify_directly_issued_by``)."""
    new_key = {
        "ec": pki.key,
        "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }[algorithm]
    ca_key = new_key()
    ca = make_cert("Algo CA", ca_key.public_key(), ca_key, ca=True)
    other_key = new_key()
    other_ca = make_cert("Other CA", other_key.public_key(), other_key, ca=True)
    device = pki.key().public_key()
    genuine = make_cert("dev", device, ca_key, issuer=ca, ca=False)
    forged = make_cert("dev", device, other_key, issuer=ca, ca=False)  # names ca, signed by other
    elsewhere = make_cert("dev", device, other_key, issuer=other_ca, ca=False)
    # signed by the CA's key, but its issuer name is the CA's subject with the CN re-encoded as
    # a UTF8String instead of a PrintableString: equal as x509.Name objects, not as encoded
    printable_ca = make_cert(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Algo CA", _type=_ASN1Type.PrintableString)]),
        ca_key.public_key(),
        ca_key,
        ca=True,
    )
    utf8_issuer = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev")]))
        .issuer_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Algo CA", _type=_ASN1Type.UTF8String)])
        )
        .public_key(device)
        .serial_number(x509.random_serial_number())
        .not_valid_before(genuine.not_valid_before_utc)
        .not_valid_after(genuine.not_valid_after_utc)
        .sign(ca_key, hashes.SHA256())
    )
    assert utf8_issuer.issuer == printable_ca.subject  # what the Name objects say
    links = VerifiedLinks()
    cases = (
        (genuine, ca, True),
        (forged, ca, False),
        (elsewhere, ca, False),
        (utf8_issuer, printable_ca, False),
    )
    for _ in range(2):  # first with a freshly loaded key, then with the remembered one
        for cert, issuer, expected in cases:
            got = links.leaf_issued_by(cert, cert.public_bytes(Encoding.DER), issuer)
            assert got is expected is _library_says(cert, issuer)


def test_leaf_with_mismatched_inner_signature_algorithm_is_refused(p: pki.Pki) -> None:
    """RFC 5280 4.1.1.2: the TBS signature field must equal signatureAlgorithm. A leaf whose
    outer identifier was rewritten (signature still over the original TBS) is not issued by
    the CA, as the library says too."""
    leaf = p.issue(pki.key().public_key())
    blob = leaf.public_bytes(Encoding.DER)
    sha256 = bytes.fromhex("06082a8648ce3d040302")  # ecdsa-with-SHA256
    sha384 = bytes.fromhex("06082a8648ce3d040303")
    at = blob.rindex(sha256)  # the outer AlgorithmIdentifier comes last but for the signature
    tampered_der = blob[:at] + sha384 + blob[at + len(sha256) :]
    tampered = x509.load_der_x509_certificate(tampered_der)
    links = VerifiedLinks()
    assert links.leaf_issued_by(leaf, blob, p.intermediate)
    assert not links.leaf_issued_by(tampered, tampered_der, p.intermediate)
    assert not _library_says(tampered, p.intermediate)
