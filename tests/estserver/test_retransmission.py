"""A CSR sent again byte for byte gets the certificate already issued, not a second one.

This is what makes a station crash between "server issued" and "station journaled" safe:
the station re-sends the journaled CSR (RFC 7030 4.2.3) and the issuance record stays at one.
"""

from __future__ import annotations

import base64

import pytest
import requests
from cryptography.hazmat.primitives import serialization
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


def test_every_post_counts_whatever_it_was_answered(est_server):
    """The strict mode tests rely on: no cache, every POST counted, 202/5xx/lost answers included."""
    est_server.config.answer_retransmissions = False
    csr, _key = make_csr("unit-1")
    body = csr_b64(csr)
    est_server.faults.add("pending", op="simpleenroll", count=1, retry_after=3600, times=1)
    est_server.faults.add("error5xx", op="simpleenroll", times=1, status=503)
    session = est_session(est_server)
    headers = {
        **basic_passcode(),
        "Content-Type": "application/pkcs10",
        "Content-Transfer-Encoding": "base64",
    }
    url = est_server.est_base() + "/simpleenroll"
    assert session.post(url, data=body, headers=headers, timeout=10).status_code == 503
    pending = session.post(url, data=body, headers=headers, timeout=10)
    assert pending.status_code == 202 and pending.headers["Retry-After"] == "3600"
    first = _enroll(est_server, body)
    second = _enroll(est_server, body)
    assert first.serial_number != second.serial_number, "a re-sent CSR is a second certificate here"
    assert est_server.post_count == 4
    assert est_server.posts_for_csr(csr.public_bytes(serialization.Encoding.DER)) == 4
    assert len(est_server.issued) == 2


def test_close_after_issue_issues_and_then_says_nothing(est_server):
    est_server.faults.add("close_after_issue", op="simpleenroll", times=1)
    session = est_session(est_server)
    headers = {
        **basic_passcode(),
        "Content-Type": "application/pkcs10",
        "Content-Transfer-Encoding": "base64",
    }
    with pytest.raises(requests.ConnectionError):
        session.post(
            est_server.est_base() + "/simpleenroll",
            data=csr_b64(make_csr("unit-1")[0]),
            headers=headers,
            timeout=10,
        )
    assert len(est_server.issued) == 1 and est_server.post_count == 1
