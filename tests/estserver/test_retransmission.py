"""A CSR sent again byte for byte gets the certificate already issued, not a second one.

This is what makes a station crash between "server issued" and "station journaled" safe:
the station re-sends the journaled CSR (RFC 7030 4.2.3) and the issuance record stays at one.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.serialization import pkcs7

from tests.helpers.estserver_fixture import (
    basic_passcode,
    csr_b64,
    est_session,
    make_csr,
    make_key,
)


def _enroll(server, body):
    session = est_session(server)
    headers = {
        **basic_passcode(),
        "Content-Type": "application/pkcs10",
        "Content-Transfer-Encoding": "base64",
    }
    resp = session.post(server.est_base() + "/simpleenroll", data=body, headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    return pkcs7.load_der_pkcs7_certificates(base64.b64decode(resp.content))[0]


def test_same_csr_twice_returns_the_same_certificate(est_server):
    body = csr_b64(make_csr("unit-1")[0])
    first = _enroll(est_server, body)
    second = _enroll(est_server, body)
    assert first == second
    assert len(est_server.issued) == 1


def test_new_csr_for_the_same_key_is_a_new_certificate(est_server):
    key = make_key()
    first = _enroll(est_server, csr_b64(make_csr("unit-1", key)[0]))
    second = _enroll(est_server, csr_b64(make_csr("unit-1", key)[0]))
    assert first.serial_number != second.serial_number
    assert len(est_server.issued) == 2


def test_retransmission_answering_can_be_turned_off(est_server):
    est_server.config.answer_retransmissions = False
    body = csr_b64(make_csr("unit-1")[0])
    assert _enroll(est_server, body).serial_number != _enroll(est_server, body).serial_number
