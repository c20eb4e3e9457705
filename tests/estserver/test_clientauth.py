"""Client-certificate listener and re-enrollment (DTM: renew with the old cert as TLS client cert)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certline.app.estserver import CertificateAuthority, EstTestServer, ServerConfig
from tests.estserver.test_enroll import certs_of, leaf_of, verify_chain
from tests.helpers.estserver_fixture import (
    DTM_LABEL,
    TEST_PASSCODE,
    basic_passcode,
    csr_pem,
    est_session,
    make_csr,
    make_key,
    write_client_identity,
)
from tests.helpers.waiting import wait_until


def device_identity(server: EstTestServer, tmp_path: Path, cn: str = "device-100"):
    key = make_key()
    cert = server.issue_client_certificate(cn, key.public_key(), dns_names=(f"{cn}.local",))
    return cert, key, write_client_identity(tmp_path, cert, key, server.chain_pem)


def test_clientauth_listener_rejects_a_connection_without_client_certificate(
    est_server: EstTestServer,
) -> None:
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        est_session(est_server).get(est_server.est_url("cacerts", clientauth=True))
    wait_until(lambda: est_server.handshake_failures("clientauth") >= 1, what="the failed handshake counted")
    assert not [r for r in est_server.requests if r.listener == "clientauth"]


def test_clientauth_listener_rejects_a_certificate_from_another_ca(
    est_server: EstTestServer, tmp_path: Path
) -> None:
    other = CertificateAuthority.create(name="Other Root CA")
    key = make_key()
    cert = other.issue(key.public_key(), x509.Name.from_rfc4514_string("CN=stranger"))
    ident = write_client_identity(tmp_path, cert, key, other.chain_pem.decode())
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        est_session(est_server, cert=ident).get(est_server.est_url("cacerts", clientauth=True))


def test_client_certificate_authenticates_simpleenroll_on_clientauth_listener(
    est_server: EstTestServer, tmp_path: Path
) -> None:
    _, _, ident = device_identity(est_server, tmp_path)
    csr, key = make_csr("device-101")
    resp = est_session(est_server, cert=ident).post(
        est_server.est_url("simpleenroll", DTM_LABEL, clientauth=True),
        data=csr_pem(csr),
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status_code == 200, resp.text
    assert leaf_of(certs_of(resp)).subject == csr.subject
    record = est_server.requests[-1]
    assert (record.listener, record.auth_style) == ("clientauth", "client-cert")
    assert record.client_cert_subject == "CN=device-100"


def test_reenroll_keeps_subject_and_san_of_presented_certificate(
    est_server: EstTestServer, tmp_path: Path
) -> None:
    old_cert, _, ident = device_identity(est_server, tmp_path, "device-102")
    # DTM ignores the CSR's identity fields: ask for something else on purpose
    csr, new_key = make_csr("someone-else", dns_names=("evil.example",))
    resp = est_session(est_server, cert=ident).post(
        est_server.est_url("simplereenroll", DTM_LABEL, "group-7", clientauth=True),
        data=csr_pem(csr),
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status_code == 200, resp.text
    certs = certs_of(resp)
    renewed = leaf_of(certs)
    verify_chain(renewed, est_server, certs)
    assert renewed.subject == old_cert.subject
    assert renewed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value == (
        old_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )
    assert renewed.public_key() == new_key.public_key()
    assert renewed.serial_number != old_cert.serial_number
    assert renewed.not_valid_before_utc >= old_cert.not_valid_before_utc
    [record] = est_server.issued
    assert (record.op, record.subject, record.device_group) == (
        "simplereenroll",
        "CN=device-102",
        "group-7",
    )


def test_reenroll_without_client_certificate_is_401(est_server: EstTestServer) -> None:
    csr, _ = make_csr("device-103")
    resp = est_session(est_server).post(
        est_server.est_url("simplereenroll"),
        data=csr_pem(csr),
        headers={**basic_passcode(), "Content-Type": "text/plain"},
    )
    assert resp.status_code == 401
    assert est_server.issued == []


def test_reenroll_on_passcode_listener_with_client_certificate(
    est_server: EstTestServer, tmp_path: Path
) -> None:
    old_cert, _, ident = device_identity(est_server, tmp_path, "device-104")
    csr, _ = make_csr("ignored")
    resp = est_session(est_server, cert=ident).post(
        est_server.est_url("simplereenroll"),
        data=csr_pem(csr),
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status_code == 200
    assert leaf_of(certs_of(resp)).subject == old_cert.subject


def test_extra_client_ca_authenticates_enroll_but_cannot_be_renewed(tmp_path: Path) -> None:
    bootstrap = CertificateAuthority.create(name="Manufacturer Root CA", intermediate=False)
    config = ServerConfig(extra_client_ca_pem=bootstrap.ca_pem)
    key = make_key()
    idevid = bootstrap.issue(
        key.public_key(),
        x509.Name.from_rfc4514_string("CN=idevid-1"),
        validity=dt.timedelta(days=1),
    )
    ident = write_client_identity(tmp_path, idevid, key)
    with EstTestServer(passcode=TEST_PASSCODE, config=config) as server:
        session = est_session(server, cert=ident)
        csr, _ = make_csr("device-105")
        ok = session.post(
            server.est_url("simpleenroll", clientauth=True),
            data=csr_pem(csr),
            headers={"Content-Type": "text/plain"},
        )
        renew = session.post(
            server.est_url("simplereenroll", clientauth=True),
            data=csr_pem(csr),
            headers={"Content-Type": "text/plain"},
        )
        assert (ok.status_code, renew.status_code) == (200, 403)


def test_issue_client_certificate_is_not_counted_as_est_issuance(est_server: EstTestServer) -> None:
    key = make_key()
    cert = est_server.issue_client_certificate("device-106", key.public_key())
    assert cert.public_key() == key.public_key()
    assert est_server.ca.issued_by_me(cert)
    assert est_server.issued == []
    pem = cert.public_bytes(serialization.Encoding.PEM)
    assert b"PRIVATE" not in pem
