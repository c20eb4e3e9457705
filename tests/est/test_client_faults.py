"""Every fault the test server can inject ends in a success after retry or a specific typed error."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certline.app.config.profile import Profile
from certline.app.est.client import EstClient
from certline.app.est.credentials import Credentials
from certline.app.est.errors import (
    EstAuthError,
    EstConnectionError,
    EstPending,
    EstResponseError,
    EstServerError,
    EstThrottled,
    EstTlsError,
)
from certline.app.est.issued_chain_check import spki
from certline.app.estserver import Encoding, EstTestServer, FaultKind, ServerConfig
from tests.est import pki
from tests.est.helpers import posts, ssl_peer_fingerprint
from tests.helpers.estserver_fixture import TEST_PASSCODE, csr_pem, make_csr

MakeClient = Callable[..., EstClient]


def enroll_posts(server: EstTestServer, expected: int, op: str = "simpleenroll") -> int:
    """How many requests for ``op`` the server logged, once ``expected`` are in (or timeout)."""
    return len(posts(server, op, at_least=expected))


# ------------------------------------------------------------------ 202 pending


def test_pending_raises_with_retry_after_seconds(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.faults.add_spec("pending=1:7")
    csr, _ = make_csr("dev")
    before = datetime.now(UTC)
    with pytest.raises(EstPending) as info:
        make_client().simpleenroll(csr_pem(csr))
    assert info.value.retry_after == 7
    assert 6 <= (info.value.retry_at - before).total_seconds() <= 9
    assert info.value.retryable


def test_pending_with_http_date_retry_after(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.faults.add_spec("pending=1:30:date")
    csr, _ = make_csr("dev")
    with pytest.raises(EstPending) as info:
        make_client().simpleenroll(csr_pem(csr))
    assert 25 <= info.value.retry_after <= 31


# ------------------------------------------------------------------ retried faults


def test_5xx_is_retried_then_succeeds(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.faults.add_spec("error5xx=2:500@simpleenroll")
    csr, _ = make_csr("dev")
    make_client(retries=3).simpleenroll(csr_pem(csr))
    assert enroll_posts(est_server, 3) == 3


def test_503_retry_after_is_honoured(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.faults.add_spec("error5xx=1:503:0@simpleenroll")
    csr, _ = make_csr("dev")
    make_client(retries=1).simpleenroll(csr_pem(csr))
    assert enroll_posts(est_server, 2) == 2


def test_503_retry_after_beyond_limit_is_returned_to_the_caller(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    est_server.faults.add_spec("error5xx=1:503:3600@simpleenroll")
    csr, _ = make_csr("dev")
    with pytest.raises(EstServerError) as info:
        make_client(retries=3, max_retry_after=60).simpleenroll(csr_pem(csr))
    assert info.value.retry_after is not None and info.value.retry_after > 3000
    assert info.value.status == 503 and info.value.retryable
    assert enroll_posts(est_server, 1) == 1


def test_429_is_a_throttle_with_its_retry_after_and_holds_back_the_clients_next_request(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    """A 429 whose Retry-After is longer than one call may wait goes back to the caller typed;
    until that time the same client sends nothing more (every worker of a batch shares it)."""
    est_server.config.throttle_limit = 1
    est_server.config.throttle_window = 3600.0
    client = make_client(retries=3, max_retry_after=60)
    client.simpleenroll(csr_pem(make_csr("first")[0]))
    with pytest.raises(EstThrottled) as info:
        client.simpleenroll(csr_pem(make_csr("second")[0]))
    assert info.value.status == 429 and info.value.retryable and info.value.code == "throttled"
    assert info.value.retry_after is not None and info.value.retry_after > 3000
    assert "throttling requests (HTTP 429); it asks to wait" in str(info.value)
    posts_so_far = est_server.post_count
    with pytest.raises(EstThrottled, match="asked this station to wait"):
        client.simpleenroll(csr_pem(make_csr("third")[0]))
    assert est_server.post_count == posts_so_far, "nothing was sent during the server's Retry-After"


def test_5xx_exhausting_retries_is_a_server_error(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.faults.add_spec("error5xx=10:502@simpleenroll")
    csr, _ = make_csr("dev")
    with pytest.raises(EstServerError, match="HTTP 502"):
        make_client(retries=2).simpleenroll(csr_pem(csr))
    assert enroll_posts(est_server, 3) == 3


@pytest.mark.parametrize("fault", ["reset", "close_after_headers", "truncate"])
def test_broken_connections_are_retried(
    make_client: MakeClient, est_server: EstTestServer, fault: str
) -> None:
    est_server.faults.add(FaultKind(fault), op="simpleenroll", times=1)
    csr, key = make_csr("dev")
    result = make_client(retries=2).simpleenroll(csr_pem(csr))
    assert spki(result.leaf.public_key()) == spki(key.public_key())
    assert enroll_posts(est_server, 2) == 2


def test_persistent_reset_is_a_connection_error(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.RESET, op="simpleenroll")
    csr, _ = make_csr("dev")
    with pytest.raises(EstConnectionError) as info:
        make_client(retries=1).simpleenroll(csr_pem(csr))
    assert info.value.retryable
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_slow_server_times_out_then_retry_succeeds(
    make_client: MakeClient, est_server: EstTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    est_server.faults.add_spec("slow=5@simpleenroll*1")
    csr, key = make_csr("dev")
    with caplog.at_level(logging.INFO, logger="certline.est"):
        result = make_client(timeout=0.5, retries=1).simpleenroll(csr_pem(csr))
    # the first answer came 5 s late, past the 0.5 s timeout: the certificate is the retry's
    assert est_server.faults.fired == ["slow=5@simpleenroll*1"]
    retries = [r.getMessage() for r in caplog.records if "retry 1/1" in r.getMessage()]
    assert len(retries) == 1 and "simpleenroll" in retries[0], caplog.text
    assert spki(result.leaf.public_key()) == spki(key.public_key())


def test_unreachable_server_is_a_connection_error() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    p = pki.make_pki()
    profile = Profile(name="x", enroll_url=f"https://127.0.0.1:{port}", ca_bundle_pem=_pem(p.root))
    with EstClient(profile, Credentials(passcode="pw"), retries=1, backoff=0.01) as client:
        with pytest.raises(EstConnectionError, match="connection refused"):
            client.cacerts()


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# ------------------------------------------------------------------ non-retried faults


def test_rejected_passcode_is_not_retried(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.REJECT_PASSCODE, op="simpleenroll")
    csr, _ = make_csr("dev")
    with pytest.raises(EstAuthError, match="rejected"):
        make_client(retries=3).simpleenroll(csr_pem(csr))
    assert enroll_posts(est_server, 1) == 1


@pytest.mark.parametrize(("variant", "why"), [("base64", "base64"), ("pkcs7", "PKCS#7")])
def test_malformed_bodies_are_response_errors(
    make_client: MakeClient, est_server: EstTestServer, variant: str, why: str
) -> None:
    est_server.faults.add_spec(f"malformed={variant}@simpleenroll")
    csr, _ = make_csr("dev")
    with pytest.raises(EstResponseError, match=why):
        make_client().simpleenroll(csr_pem(csr))


def test_certificate_for_another_key_is_refused(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.WRONG_KEY, op="simpleenroll")
    csr, _ = make_csr("dev")
    with pytest.raises(EstResponseError, match="public key"):
        make_client().simpleenroll(csr_pem(csr))


def test_certificate_from_unknown_ca_is_refused(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.faults.add(FaultKind.UNKNOWN_CA, op="simpleenroll")
    csr, _ = make_csr("dev")
    with pytest.raises(EstResponseError, match="trusted CA"):
        make_client().simpleenroll(csr_pem(csr))


@pytest.mark.parametrize("variant", [e.value for e in Encoding])
@pytest.mark.parametrize("op", ["cacerts", "simpleenroll"])
def test_every_body_encoding_decodes(
    make_client: MakeClient, est_server: EstTestServer, variant: str, op: str
) -> None:
    est_server.faults.add(FaultKind.ENCODING, variant=variant)
    client = make_client()
    if op == "cacerts":
        assert len(client.cacerts()) == 2
    else:
        csr, key = make_csr("dev")
        assert spki(client.simpleenroll(csr_pem(csr)).leaf.public_key()) == spki(key.public_key())


# ------------------------------------------------------------------ TLS


def test_untrusted_server_reports_its_fingerprint(make_client: MakeClient, est_server: EstTestServer) -> None:
    other = pki.make_pki("Some Other Root")
    client = make_client(ca_bundle_pem=_pem(other.root), retries=3)
    with pytest.raises(EstTlsError) as info:
        client.cacerts()
    exc = info.value
    assert "not trusted" in str(exc)
    assert exc.fingerprint is not None and exc.fingerprint in str(exc)
    served = ssl_peer_fingerprint(est_server)
    assert exc.fingerprint == served
    assert not exc.retryable
    assert exc.__context__ is None
    assert len(est_server.requests) == 0


def test_hostname_mismatch_is_a_tls_error(make_client: MakeClient) -> None:
    server = EstTestServer(passcode=TEST_PASSCODE, config=ServerConfig(tls_hosts=("est.example.invalid",)))
    with server:
        # the certificate names est.example.invalid and 127.0.0.1, not "localhost"
        client = make_client(enroll_url=f"https://localhost:{server.port}", ca_bundle_pem=server.ca_pem)
        with pytest.raises(EstTlsError, match="not trusted") as info:
            client.cacerts()
        assert "localhost" in str(info.value)
        assert info.value.fingerprint == ssl_peer_fingerprint(server)


def test_environment_ca_bundle_cannot_add_trust(
    make_client: MakeClient, est_server: EstTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQUESTS_CA_BUNDLE pointing at the server's CA must not rescue an unpinned server."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(est_server.ca_file))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(est_server.ca_file))
    other = pki.make_pki("Other")
    with pytest.raises(EstTlsError):
        make_client(ca_bundle_pem=_pem(other.root)).cacerts()


def test_no_trust_anchors_is_refused_up_front(est_server: EstTestServer) -> None:
    with pytest.raises(EstTlsError, match="no trust anchors"):
        EstClient(Profile(name="x", enroll_url=est_server.url), Credentials(passcode="x"))
