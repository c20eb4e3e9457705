"""/serverkeygen multipart responses and /csrattrs bodies."""

from __future__ import annotations

import base64
import email.parser
import email.policy

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from certline.app.estserver import EstTestServer, FaultKind, csrattrs
from certline.app.pki import KeyAlgorithm
from tests.estserver.test_enroll import leaf_of
from tests.helpers.estserver_fixture import basic_passcode, csr_b64, csr_pem, est_session, make_csr


def parts_of(resp: requests.Response) -> list[tuple[str, bytes]]:
    """(content-type, decoded payload) of each MIME part."""
    raw = f"Content-Type: {resp.headers['Content-Type']}\r\n\r\n".encode() + resp.content
    msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    assert msg.is_multipart()
    out = []
    for part in msg.iter_parts():
        ctype = part.get_content_type()
        if part.get_param("smime-type"):
            ctype += f"; smime-type={part.get_param('smime-type')}"
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out.append((ctype, payload))
    return out


def keygen(server: EstTestServer, body: bytes = b"", ctype: str = "text/plain") -> requests.Response:
    if not body:
        csr, _ = make_csr("device-200")
        body = csr_pem(csr)
    return est_session(server).post(
        server.est_url("serverkeygen"),
        data=body,
        headers={**basic_passcode(), "Content-Type": ctype},
    )


def test_serverkeygen_returns_pkcs8_key_and_matching_certificate(est_server: EstTestServer) -> None:
    csr, device_key = make_csr("device-200")
    resp = keygen(est_server, csr_b64(csr), "application/pkcs10")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    (key_type, key_der), (cert_type, p7) = parts_of(resp)
    assert key_type == "application/pkcs8"
    assert cert_type == "application/pkcs7-mime; smime-type=certs-only"
    key = serialization.load_der_private_key(key_der, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == device_key.curve.name
    leaf = leaf_of(pkcs7.load_der_pkcs7_certificates(p7))
    assert leaf.public_key() == key.public_key()
    assert leaf.public_key() != device_key.public_key()
    assert leaf.subject == csr.subject
    assert est_server.issued[-1].op == "serverkeygen"


def test_serverkeygen_fault_reverse_order(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.KEYGEN_REVERSE, times=1)
    types = [t for t, _ in parts_of(keygen(est_server))]
    assert types == ["application/pkcs7-mime; smime-type=certs-only", "application/pkcs8"]


def test_serverkeygen_fault_pkcs1_key_labelled_pkcs8(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.KEYGEN_PKCS1)
    (key_type, key_der), _ = parts_of(keygen(est_server))
    assert key_type == "application/pkcs8"
    # SEC1/PKCS#1 "traditional" DER, which a strict PKCS#8 parser rejects
    key = serialization.load_der_private_key(key_der, password=None)
    assert key_der != key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_serverkeygen_fault_encrypted_key_part(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.KEYGEN_ENCRYPTED)
    (key_type, key_blob), _ = parts_of(keygen(est_server))
    assert key_type == "application/pkcs7-mime; smime-type=server-generated-key"
    with pytest.raises(ValueError):
        serialization.load_der_private_key(key_blob, password=None)


def test_csrattrs_defaults_to_204(est_server: EstTestServer) -> None:
    resp = est_session(est_server).get(est_server.est_url("csrattrs"), headers=basic_passcode())
    assert resp.status_code == 204
    assert resp.content == b""


def test_csrattrs_requires_auth_unless_configured(est_server: EstTestServer) -> None:
    session = est_session(est_server)
    assert session.get(est_server.est_url("csrattrs")).status_code == 401
    est_server.config.csrattrs_requires_auth = False
    assert session.get(est_server.est_url("csrattrs")).status_code == 204


def test_csrattrs_serves_configured_der_as_base64(est_server: EstTestServer) -> None:
    body = csrattrs.csr_attrs(
        csrattrs.challenge_password(),
        csrattrs.key_type(KeyAlgorithm.EC_P384),
        csrattrs.oid_item(csrattrs.ECDSA_WITH_SHA384),
    )
    est_server.config.csrattrs = body
    resp = est_session(est_server).get(est_server.est_url("csrattrs"), headers=basic_passcode())
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/csrattrs"
    assert base64.b64decode(resp.content) == body


def test_csrattrs_rfc7030_preset_is_the_rfc_example_bytes() -> None:
    # RFC 7030 section 4.5.2 example, base64 as printed in the RFC
    expected = base64.b64decode("MDIGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiBgcrBgEBAQEWBggqhkjOPQQDAw==")
    assert csrattrs.PRESETS["rfc7030"]() == expected


def test_csrattrs_template_contains_rfc9908_oids() -> None:
    der = csrattrs.PRESETS["template"]()
    assert der is not None
    from certline.app.estserver import der_writer as d

    assert d.oid(csrattrs.CERTIFICATION_REQUEST_INFO_TEMPLATE) in der
    assert d.oid(csrattrs.EXTENSION_REQ_TEMPLATE) in der
