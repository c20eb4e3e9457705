"""Server lifecycle (restart, no leaked threads), label scoping and tolerant CSR decoding."""

from __future__ import annotations

import base64
import threading

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from certline.app.estserver import EstTestServer, FaultKind, ServerConfig
from certline.app.estserver.wire import CsrDecodeError, decode_csr_body
from tests.estserver.test_enroll import certs_of
from tests.helpers.estserver_fixture import (
    DTM_LABEL,
    basic_passcode,
    csr_pem,
    est_session,
    make_csr,
)


def test_stop_closes_idle_keepalive_connections_and_leaks_no_threads() -> None:
    before = set(threading.enumerate())
    server = EstTestServer(passcode="pc").start()
    sessions = [est_session(server) for _ in range(3)]
    for session in sessions:  # three pooled connections left open and idle
        assert session.get(server.est_url("cacerts")).status_code == 200
    try:
        server.stop()
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        assert leaked == []
        with pytest.raises(requests.exceptions.ConnectionError):
            sessions[0].get(server.est_url("cacerts"), timeout=5)
    finally:
        server.close()  # removes its temporary CA file
        for session in sessions:
            session.close()


def test_restart_keeps_ports_and_trust_anchor(tmp_path) -> None:
    server = EstTestServer(state_dir=tmp_path / "s", passcode="pc").start()
    try:
        url, anchor = server.url, server.ca_pem
        session = est_session(server)
        assert session.get(server.est_url("cacerts")).status_code == 200
        server.stop()
        server.start()
        assert (server.url, server.ca_pem) == (url, anchor)
        # the pooled connection died with the old listener; a retry reconnects
        assert est_session(server).get(server.est_url("cacerts")).status_code == 200
    finally:
        server.stop()


def test_unknown_label_and_device_group_are_404_when_restricted() -> None:
    config = ServerConfig(labels=frozenset({DTM_LABEL}), device_groups=frozenset({"g1"}))
    with EstTestServer(passcode="pc", config=config) as server:
        session = est_session(server)
        assert session.get(server.est_url("cacerts", DTM_LABEL)).status_code == 200
        assert session.get(server.est_url("cacerts", DTM_LABEL, "g1")).status_code == 200
        assert session.get(server.est_url("cacerts", "cps/IOT_other")).status_code == 404
        assert session.get(server.est_url("cacerts", DTM_LABEL, "g2")).status_code == 404
        assert session.get(server.est_url("cacerts")).status_code == 404


def test_per_label_passcodes() -> None:
    with EstTestServer(passcodes={"cps/IOT_a": "pass-a", "cps/IOT_b": "pass-b"}) as server:
        csr, _ = make_csr("device-400")
        session = est_session(server)

        def status(label: str, passcode: str) -> int:
            return session.post(
                server.est_url("simpleenroll", label),
                data=csr_pem(csr),
                headers={**basic_passcode(passcode), "Content-Type": "text/plain"},
            ).status_code

        assert status("cps/IOT_a", "pass-a") == 200
        assert status("cps/IOT_b", "pass-a") == 401
        assert status("cps/IOT_b", "pass-b") == 200


def test_unknown_ca_scoped_to_cacerts_serves_a_foreign_chain(est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.UNKNOWN_CA, op="cacerts", times=1)
    certs = certs_of(est_session(est_server).get(est_server.est_url("cacerts")))
    anchor = est_server.ca_pem.encode()
    assert all(c.public_bytes(serialization.Encoding.PEM) != anchor for c in certs)


def test_error_statuses_are_recorded(est_server: EstTestServer) -> None:
    session = est_session(est_server)
    session.get(est_server.url + "/not-est")
    session.get(est_server.est_url("simpleenroll"))  # wrong method
    assert [r.status for r in est_server.requests[-2:]] == [404, 405]


def test_wrong_content_type_is_415(est_server: EstTestServer) -> None:
    csr, _ = make_csr("device-401")
    resp = est_session(est_server).post(
        est_server.est_url("simpleenroll"),
        data=csr_pem(csr),
        headers={**basic_passcode(), "Content-Type": "application/json"},
    )
    assert resp.status_code == 415


def _der() -> bytes:
    csr, _ = make_csr("device-402")
    return csr.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    "encode",
    [
        lambda d: base64.b64encode(d),  # one line
        lambda d: base64.encodebytes(d),  # 76 columns, LF
        lambda d: base64.encodebytes(d).replace(b"\n", b"\r\n") + b"\x00",  # CRLF + NUL
        lambda d: (
            b"-----BEGIN CERTIFICATE REQUEST-----\n"
            + base64.encodebytes(d)
            + b"-----END CERTIFICATE REQUEST-----\n"
        ),
        # DTM's curl sample: the PEM squashed onto one line with spaces
        lambda d: (
            b"-----BEGIN CERTIFICATE REQUEST----- "
            + b" ".join(base64.encodebytes(d).split())
            + b" -----END CERTIFICATE REQUEST-----"
        ),
        lambda d: d,  # raw DER
    ],
)
def test_csr_body_decoding_is_tolerant(encode) -> None:
    der = _der()
    assert decode_csr_body(encode(der)) == der


@pytest.mark.parametrize(
    "body",
    [b"", b"!!!not base64!!!", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
)
def test_csr_body_garbage_is_rejected(body: bytes) -> None:
    with pytest.raises(CsrDecodeError):
        decode_csr_body(body)


def test_concurrent_enrollments_each_get_one_certificate(est_server: EstTestServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    csrs = [make_csr(f"device-5{i:02d}") for i in range(8)]

    def enroll_one(index: int) -> int:
        csr, _ = csrs[index]
        return (
            est_session(est_server)
            .post(
                est_server.est_url("simpleenroll", DTM_LABEL),
                data=csr_pem(csr),
                headers={**basic_passcode(), "Content-Type": "text/plain"},
            )
            .status_code
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(enroll_one, range(8))) == [200] * 8
    assert sorted(r.subject for r in est_server.issued) == sorted(f"CN=device-5{i:02d}" for i in range(8))


def test_server_logs_never_contain_the_passcode(est_server: EstTestServer, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    csr, _ = make_csr("device-600")
    session = est_session(est_server)
    for headers in (basic_passcode(), basic_passcode("wrong-passcode")):
        session.post(
            est_server.est_url("simpleenroll"),
            data=csr_pem(csr),
            headers={**headers, "Content-Type": "text/plain"},
        )
    text = caplog.text
    assert "issued serial" in text  # the server did log
    for secret in (est_server.passcode or "", "wrong-passcode"):
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode() not in text
