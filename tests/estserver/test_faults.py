"""Every injectable fault, over real TLS."""

from __future__ import annotations

import base64
import email.utils
import http.client
import ssl
import threading

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from certline.app.estserver import (
    Encoding,
    EstTestServer,
    FaultKind,
    FaultSpecError,
    ServerConfig,
    parse_fault_spec,
)
from tests.estserver.test_enroll import certs_of, leaf_of, verify_chain
from tests.helpers.estserver_fixture import (
    TEST_PASSCODE,
    basic_passcode,
    csr_pem,
    est_session,
    make_csr,
    make_key,
    write_client_identity,
)

NETWORK_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)


def enroll(server: EstTestServer, body: bytes, session: requests.Session | None = None, **kw):
    return (session or est_session(server)).post(
        server.est_url(kw.pop("op", "simpleenroll")),
        data=body,
        headers={**basic_passcode(), "Content-Type": "text/plain"},
        **kw,
    )


def test_pending_answers_202_n_times_for_the_same_csr_then_issues(est_server: EstTestServer) -> None:
    est_server.faults.add_spec("pending=2:3")
    csr, _ = make_csr("device-300")
    session = est_session(est_server)
    statuses = []
    for _ in range(3):
        resp = enroll(est_server, csr_pem(csr), session)
        statuses.append(resp.status_code)
        if resp.status_code == 202:
            assert resp.headers["Retry-After"] == "3"
            assert resp.headers["Connection"] == "close"
            assert resp.content == b""
    assert statuses == [202, 202, 200]
    assert len(est_server.issued) == 1
    # another CSR gets its own two 202s
    other, _ = make_csr("device-301")
    assert enroll(est_server, csr_pem(other), session).status_code == 202


def test_pending_retry_after_as_http_date(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.PENDING, count=1, retry_after=30, retry_after_date=True)
    csr, _ = make_csr("device-302")
    resp = enroll(est_server, csr_pem(csr))
    assert resp.status_code == 202
    assert email.utils.parsedate_to_datetime(resp.headers["Retry-After"]).tzinfo is not None


def test_error5xx_n_times_with_retry_after_scoped_to_operation(est_server: EstTestServer) -> None:
    est_server.faults.add_spec("error5xx=2:503:7@simpleenroll")
    session = est_session(est_server)
    assert session.get(est_server.est_url("cacerts")).status_code == 200  # other op untouched
    csr, _ = make_csr("device-303")
    first = enroll(est_server, csr_pem(csr), session)
    second = enroll(est_server, csr_pem(csr), session)
    third = enroll(est_server, csr_pem(csr), session)
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.headers["Retry-After"] == "7"
    assert est_server.faults.active() == []


def test_reject_passcode_gives_401_even_with_the_right_passcode(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.REJECT_PASSCODE, times=1)
    csr, _ = make_csr("device-304")
    resp = enroll(est_server, csr_pem(csr))
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="est"'
    assert enroll(est_server, csr_pem(csr)).status_code == 200


def test_slow_response_times_out_the_client_and_stop_is_prompt(tmp_path) -> None:
    server = EstTestServer(passcode=TEST_PASSCODE).start()
    try:
        server.faults.add_spec("slow=60@cacerts")
        with pytest.raises(requests.exceptions.ReadTimeout):
            est_session(server).get(server.est_url("cacerts"), timeout=0.3)
    finally:
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        stopper.join(timeout=10)  # the 60 s wait is interrupted by stop()
    assert not stopper.is_alive()
    server.close()  # removes its temporary CA file
    assert not [t for t in threading.enumerate() if t.name.startswith("est-")]


def test_truncated_body_is_a_transport_error(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.TRUNCATE, op="cacerts", times=1)
    with pytest.raises(NETWORK_ERRORS):
        est_session(est_server).get(est_server.est_url("cacerts"))
    assert est_session(est_server).get(est_server.est_url("cacerts")).status_code == 200


def test_close_after_headers_and_reset(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.CLOSE_AFTER_HEADERS, times=1)
    with pytest.raises(NETWORK_ERRORS):
        est_session(est_server).get(est_server.est_url("cacerts"))
    est_server.faults.add(FaultKind.RESET, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        est_session(est_server).get(est_server.est_url("cacerts"))


@pytest.mark.parametrize("variant", ["pkcs7", "base64"])
def test_malformed_body(est_server: EstTestServer, variant: str) -> None:
    est_server.faults.add(FaultKind.MALFORMED, variant=variant)
    csr, _ = make_csr("device-305")
    resp = enroll(est_server, csr_pem(csr))
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        pkcs7.load_der_pkcs7_certificates(base64.b64decode(resp.content, validate=True))


def test_wrong_key_issues_a_certificate_for_another_key(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.WRONG_KEY, times=1)
    csr, key = make_csr("device-306")
    leaf = leaf_of(certs_of(enroll(est_server, csr_pem(csr))))
    assert leaf.public_key() != key.public_key()
    assert est_server.issued[-1].fault == "wrong_key"


def test_unknown_ca_chain_does_not_reach_the_trust_anchor(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.UNKNOWN_CA, times=1)
    csr, key = make_csr("device-307")
    certs = certs_of(enroll(est_server, csr_pem(csr)))
    leaf = leaf_of(certs)
    assert leaf.public_key() == key.public_key()
    with pytest.raises(x509.verification.VerificationError):
        verify_chain(leaf, est_server, certs)


def test_change_subject_on_reenroll(est_server: EstTestServer, tmp_path) -> None:
    key = make_key()
    old = est_server.issue_client_certificate("device-308", key.public_key())
    ident = write_client_identity(tmp_path, old, key, est_server.chain_pem)
    est_server.faults.add(FaultKind.CHANGE_SUBJECT, times=1)
    csr, _ = make_csr("device-308")
    resp = est_session(est_server, cert=ident).post(
        est_server.est_url("simplereenroll", clientauth=True),
        data=csr_pem(csr),
        headers={"Content-Type": "text/plain"},
    )
    renewed = leaf_of(certs_of(resp))
    assert renewed.subject != old.subject
    assert renewed.subject.rfc4514_string() == "CN=device-308-changed"


@pytest.mark.parametrize("variant", list(Encoding))
def test_encoding_variants_still_carry_the_same_pkcs7(est_server: EstTestServer, variant: Encoding) -> None:
    est_server.faults.add(FaultKind.ENCODING, variant=variant.value, op="cacerts")
    resp = est_session(est_server).get(est_server.est_url("cacerts"))
    body = resp.content
    cte = resp.headers.get("Content-Transfer-Encoding")
    if variant in (Encoding.NO_CTE, Encoding.DER):
        assert cte is None
    else:
        assert cte == "base64"
    if variant is Encoding.DER:
        der = body
    else:
        if variant is Encoding.CRLF:
            assert b"\r\n" in body
        if variant is Encoding.NUL:
            assert body.endswith(b"\x00")
        if variant is Encoding.PEM:
            assert body.startswith(b"-----BEGIN PKCS7-----")
        if variant is Encoding.ONELINE:
            assert body.count(b"\n") == 1
        text = body.strip(b"\x00\r\n ")
        text = b"".join(line for line in text.splitlines() if not line.startswith(b"-----"))
        der = base64.b64decode(text)
    assert len(pkcs7.load_der_pkcs7_certificates(der)) == 2


def test_tls12_only_caps_the_protocol_version(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.TLS12_ONLY, times=1)
    session = est_session(est_server)
    session.get(est_server.est_url("cacerts"))
    assert est_server.requests[-1].tls_version == "TLSv1.2"
    est_session(est_server).get(est_server.est_url("cacerts"))
    assert est_server.requests[-1].tls_version == "TLSv1.3"


def _pop_enroll(server: EstTestServer, *, binding: str | None) -> int:
    """Enroll over one raw TLS connection, putting base64(tls-unique) in challengePassword."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=10)
    try:
        conn.connect()
        assert isinstance(conn.sock, ssl.SSLSocket)
        unique = conn.sock.get_channel_binding("tls-unique")
        assert unique is not None
        pw = base64.b64encode(unique).decode() if binding is None else binding
        csr, _ = make_csr("device-309", challenge_password=pw)
        conn.request(
            "POST",
            server.est_url("simpleenroll").split(str(server.port), 1)[1],
            body=csr_pem(csr),
            headers={**basic_passcode(), "Content-Type": "text/plain"},
        )
        return conn.getresponse().status
    finally:
        conn.close()


def test_require_pop_checks_tls_unique_in_challenge_password() -> None:
    with EstTestServer(passcode=TEST_PASSCODE, config=ServerConfig(require_pop=True)) as server:
        server.faults.add(FaultKind.TLS12_ONLY)
        assert _pop_enroll(server, binding=None) == 200
        assert _pop_enroll(server, binding="AAAAAAAAAAAAAAAA") == 400
        server.faults.clear()
        # TLS 1.3 has no tls-unique: the server refuses PoP-linked enrollment
        csr, _ = make_csr("device-310")
        resp = enroll(server, csr_pem(csr))
        assert resp.status_code == 400
        assert "tls-unique" in resp.text


def test_keep_alive_reuses_one_connection(est_server: EstTestServer) -> None:
    session = est_session(est_server)
    csr, _ = make_csr("device-311")
    for _ in range(3):
        assert session.get(est_server.est_url("cacerts")).status_code == 200
    assert enroll(est_server, csr_pem(csr), session).status_code == 200
    assert est_server.connection_count() == 1


@pytest.mark.parametrize(
    ("spec", "kind", "op", "times"),
    [
        ("pending=2", FaultKind.PENDING, None, None),
        ("error5xx=3:502", FaultKind.ERROR5XX, None, 3),
        ("truncate@cacerts*2", FaultKind.TRUNCATE, "cacerts", 2),
        ("encoding=pem", FaultKind.ENCODING, None, None),
        ("wrong-key", FaultKind.WRONG_KEY, None, None),
    ],
)
def test_fault_spec_parsing(spec: str, kind: FaultKind, op: str | None, times: int | None) -> None:
    fault = parse_fault_spec(spec)
    assert (fault.kind, fault.op, fault.times) == (kind, op, times)
    assert parse_fault_spec(fault.spec()) == fault


@pytest.mark.parametrize("spec", ["nosuch", "error5xx=1:404", "slow=abc", "encoding=utf16", "truncate=3"])
def test_bad_fault_specs_are_rejected(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_fault_spec(spec)
