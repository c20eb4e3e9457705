"""Core EST flows against the test server over real TLS sockets."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from certline.app.estserver import EstTestServer, spki_sha256
from tests.helpers.estserver_fixture import (
    DTM_LABEL,
    TEST_PASSCODE,
    basic_passcode,
    basic_user,
    csr_b64,
    csr_pem,
    est_session,
    make_csr,
)


def certs_of(resp: requests.Response) -> list[x509.Certificate]:
    assert resp.headers["Content-Type"].startswith("application/pkcs7-mime")
    return pkcs7.load_der_pkcs7_certificates(base64.b64decode(resp.content))


def leaf_of(certs: list[x509.Certificate]) -> x509.Certificate:
    leaves = [c for c in certs if not _is_ca(c)]
    assert len(leaves) == 1
    return leaves[0]


def _is_ca(cert: x509.Certificate) -> bool:
    return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def verify_chain(leaf: x509.Certificate, server: EstTestServer, extra: list[x509.Certificate]) -> None:
    """Leaf → intermediate(s) in ``extra`` → the server's root, by signature."""
    root = x509.load_pem_x509_certificate(server.ca_pem.encode())
    store = x509.verification.Store([root])
    builder = x509.verification.PolicyBuilder().store(store)
    verifier = builder.build_client_verifier()
    verifier.verify(leaf, [c for c in extra if c != leaf])


def test_cacerts_returns_chain_to_the_trust_anchor_without_auth(est_server: EstTestServer) -> None:
    resp = est_session(est_server).get(est_server.est_url("cacerts"))
    assert resp.status_code == 200
    assert resp.headers["Content-Transfer-Encoding"] == "base64"
    certs = certs_of(resp)
    root = x509.load_pem_x509_certificate(est_server.ca_pem.encode())
    assert root in certs
    assert len(certs) == 2  # root + issuing intermediate
    assert est_server.ca_fingerprint_hex == root.fingerprint(hashes.SHA256()).hex()


@pytest.mark.parametrize(
    ("auth", "body_fn", "ctype", "style"),
    [
        (basic_passcode(), csr_pem, "text/plain", "passcode-only"),
        (basic_passcode(), csr_b64, "application/pkcs10", "passcode-only"),
        (basic_user(), csr_b64, "application/pkcs10", "user-password"),
        (basic_user(), csr_pem, "application/pkcs10", "user-password"),  # PEM mislabelled
    ],
)
def test_simpleenroll_issues_a_leaf_that_chains_to_the_root(
    est_server: EstTestServer, auth: dict[str, str], body_fn, ctype: str, style: str
) -> None:
    csr, key = make_csr("device-001", dns_names=("device-001.local",))
    resp = est_session(est_server).post(
        est_server.est_url("simpleenroll"),
        data=body_fn(csr),
        headers={**auth, "Content-Type": ctype},
    )
    assert resp.status_code == 200, resp.text
    certs = certs_of(resp)
    leaf = leaf_of(certs)
    assert leaf.subject == csr.subject
    assert leaf.public_key() == key.public_key()
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["device-001.local"]
    verify_chain(leaf, est_server, certs)
    [record] = est_server.issued
    assert record.serial == leaf.serial_number
    assert record.public_key_sha256 == spki_sha256(key.public_key())
    assert record.op == "simpleenroll"
    assert est_server.requests[-1].auth_style == style


def test_wrong_or_missing_passcode_is_401_with_basic_challenge(est_server: EstTestServer) -> None:
    csr, _ = make_csr("device-002")
    session = est_session(est_server)
    for headers in ({}, basic_passcode("not-the-passcode"), basic_user("estuser", "nope")):
        resp = session.post(
            est_server.est_url("simpleenroll"),
            data=csr_pem(csr),
            headers={**headers, "Content-Type": "text/plain"},
        )
        assert resp.status_code == 401
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="est"'
    assert est_server.issued == []


def test_passcode_style_can_be_disabled(tmp_path) -> None:
    from certline.app.estserver import ServerConfig

    config = ServerConfig(basic_styles=frozenset({"user-password"}))
    with EstTestServer(passcode=TEST_PASSCODE, users={"u": "p"}, config=config) as server:
        csr, _ = make_csr("device-003")
        session = est_session(server)
        url = server.est_url("simpleenroll")
        body = csr_pem(csr)
        ctype = {"Content-Type": "text/plain"}
        r1 = session.post(url, data=body, headers={**ctype, **basic_passcode()})
        r2 = session.post(url, data=body, headers={**ctype, **basic_user("u", "p")})
        assert (r1.status_code, r2.status_code) == (401, 200)


def test_dtm_url_shape_records_label_and_device_group(est_server: EstTestServer) -> None:
    label = f"cps/IOT_{uuid.uuid4()}"
    group = str(uuid.uuid4())
    csr, _ = make_csr("device-004")
    session = est_session(est_server)
    base = est_server.est_base(label)
    assert base.endswith(f"/.well-known/est/{label}")
    resp = session.post(
        f"{base}/simpleenroll/{group}",
        data=csr_pem(csr),
        headers={**basic_passcode(), "Content-Type": "text/plain"},
    )
    assert resp.status_code == 200
    resp = session.get(f"{base}/device-group/{group}/cacerts")
    assert resp.status_code == 200
    enroll, cacerts = est_server.requests[-2:]
    assert (enroll.op, enroll.label, enroll.device_group) == ("simpleenroll", label, group)
    assert (cacerts.op, cacerts.label, cacerts.device_group) == ("cacerts", label, group)
    assert est_server.issued[-1].label == label
    assert est_server.issued[-1].device_group == group


def test_requests_are_recorded_byte_exact_and_repr_hides_authorization(
    est_server: EstTestServer,
) -> None:
    csr, _ = make_csr("device-005")
    body = csr_pem(csr)
    est_session(est_server).post(
        est_server.est_url("simpleenroll", DTM_LABEL),
        data=body,
        headers={**basic_passcode(), "Content-Type": "text/plain"},
    )
    record = est_server.requests[-1]
    assert record.body == body
    assert record.content_type == "text/plain"
    assert record.authorization == basic_passcode()["Authorization"]
    assert TEST_PASSCODE not in repr(record)
    assert basic_passcode()["Authorization"].split()[1] not in repr(record)


def test_issuance_record_persists_across_restart(tmp_path) -> None:
    state = tmp_path / "state"
    csr, key = make_csr("device-006")
    with EstTestServer(state_dir=state, passcode=TEST_PASSCODE) as first:
        anchor = first.ca_pem
        resp = est_session(first).post(
            first.est_url("simpleenroll"),
            data=csr_pem(csr),
            headers={**basic_passcode(), "Content-Type": "text/plain"},
        )
        assert resp.status_code == 200
    with EstTestServer(state_dir=state, passcode=TEST_PASSCODE) as second:
        assert second.ca_pem == anchor
        assert [r.public_key_sha256 for r in second.issued_for_key(key.public_key())] == [
            spki_sha256(key.public_key())
        ]
    lines = (state / "issued.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["subject"] == "CN=device-006"
    assert not any(TEST_PASSCODE in p.read_text(errors="ignore") for p in state.rglob("*") if p.is_file())


def test_bad_csr_signature_is_400_with_reason(est_server: EstTestServer) -> None:
    csr, _ = make_csr("device-007")
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0xFF  # corrupt the signature
    resp = est_session(est_server).post(
        est_server.est_url("simpleenroll"),
        data=base64.b64encode(bytes(der)),
        headers={**basic_passcode(), "Content-Type": "application/pkcs10"},
    )
    assert resp.status_code == 400
    assert "signature" in resp.text
