"""Every EST request has an overall deadline: a server dripping bytes cannot hold it.

The trickle server sends one byte every 50 ms - far inside any per-read socket timeout -
so without an overall deadline these requests would run for minutes (the pytest timeout
marks catch that). The bounds asserted are generous multiples of the deadline: they check
"ends near the deadline instead of never", not speed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from cryptography import x509

from certline.app.config.profile import Profile
from certline.app.est.client import EstClient
from certline.app.est.credentials import Credentials
from certline.app.est.device_key_https import post_with_external_key, signer_from_private_key
from certline.app.est.errors import EstConnectionError, EstTimeout
from tests.est.pki import make_pki
from tests.est.trickle import TrickleServer
from tests.helpers.estserver_fixture import csr_pem, make_csr
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=["handshake", "headers", "body"])
def trickle(request: pytest.FixtureRequest) -> Iterator[TrickleServer]:
    server = TrickleServer(request.param)
    yield server
    server.close()


def _client(server: TrickleServer, **kwargs: float) -> EstClient:
    profile = Profile(name="trickle", enroll_url=server.base_url, ca_bundle_pem=server.ca_pem)
    return EstClient(profile, Credentials(passcode="not-a-real-passcode"), pool_size=1, **kwargs)  # type: ignore[arg-type]


def test_enroll_against_a_dripping_server_fails_at_its_deadline(trickle: TrickleServer) -> None:
    csr, _ = make_csr("drip")
    with _client(trickle, timeout=1.0, retries=0) as client:
        started = time.monotonic()
        with pytest.raises(EstTimeout) as caught:
            client.simpleenroll(csr_pem(csr))
        elapsed = time.monotonic() - started
    assert elapsed < 4.0, f"{trickle.phase}: took {elapsed:.1f}s for a 1 s deadline"
    message = str(caught.value)
    assert f"127.0.0.1:{trickle.port}" in message
    assert "1 s" in message
    assert caught.value.code == "timeout"
    assert isinstance(caught.value, EstConnectionError)  # still retryable by the batch gateway


def test_retries_share_one_budget() -> None:
    """`--timeout 1 --retries 1` makes two attempts and ends within the call's budget."""
    server = TrickleServer("body")
    try:
        csr, _ = make_csr("budget")
        with _client(server, timeout=1.0, retries=1, backoff=0.01) as client:
            started = time.monotonic()
            with pytest.raises(EstTimeout):
                client.simpleenroll(csr_pem(csr))
            elapsed = time.monotonic() - started
            budget = client._transport.budget
        assert server.connections == 2
        assert budget == pytest.approx(3.0)
        assert elapsed < budget + 1.5
    finally:
        server.close()


def test_closing_the_client_ends_a_request_in_flight() -> None:
    server = TrickleServer("body")
    try:
        csr, _ = make_csr("close")
        client = _client(server, timeout=30.0, retries=0)
        errors: list[BaseException] = []

        def enroll() -> None:
            try:
                client.simpleenroll(csr_pem(csr))
            except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
                errors.append(exc)

        worker = threading.Thread(target=enroll)
        worker.start()
        wait_until(lambda: server.connections >= 1, timeout=5.0, what="the client connecting")
        client.close()
        worker.join(5.0)
        assert not worker.is_alive(), "closing the client did not end the request"
        assert errors and isinstance(errors[0], EstConnectionError)
        assert "cancelled" in str(errors[0]) or "closed" in str(errors[0])
    finally:
        server.close()


@pytest.mark.parametrize("phase", ["handshake", "body"])
def test_device_key_tls_path_has_the_deadline_too(phase: str) -> None:
    """The tlslite path (re-enroll with the key on the device) is bounded the same way."""
    from cryptography.hazmat.primitives.asymmetric import ec

    server = TrickleServer(phase)
    pki = make_pki("Device CA")
    device_key = ec.generate_private_key(ec.SECP256R1())
    device_cert = pki.issue(device_key.public_key())
    anchor = x509.load_pem_x509_certificate(server.ca_pem.encode())
    try:
        started = time.monotonic()
        with pytest.raises(EstTimeout) as caught:
            post_with_external_key(
                server.base_url + "/simplereenroll",
                {"Content-Type": "application/pkcs10"},
                b"csr",
                client_chain=[device_cert],
                signer=signer_from_private_key(device_key),
                trust_anchors=[anchor],
                timeout=1.0,
            )
        elapsed = time.monotonic() - started
        assert elapsed < 4.0, f"{phase}: took {elapsed:.1f}s for a 1 s deadline"
        assert f"127.0.0.1:{server.port}" in str(caught.value)
        assert "1 s" in str(caught.value)
    finally:
        server.close()


@pytest.mark.parametrize("phase", ["handshake", "body"])
def test_bootstrap_fetch_has_the_deadline_too(phase: str) -> None:
    from certline.app.est.bootstrap import fetch_cacerts_unverified

    server = TrickleServer(phase)
    try:
        started = time.monotonic()
        with pytest.raises(EstTimeout) as caught:
            fetch_cacerts_unverified(server.base_url, timeout=1.0)
        assert time.monotonic() - started < 4.0
        assert f"127.0.0.1:{server.port}" in str(caught.value) and "1 s" in str(caught.value)
    finally:
        server.close()


def test_a_live_deadline_behind_finished_ones_still_fires() -> None:
    """The watchdog drops requests that already ended instead of waking for each of them;
    a request still running behind them must still be cut off at its own deadline."""
    from certline.app.est.deadline import Deadline, bind

    for _ in range(50):  # finished requests whose deadlines come first
        with bind(Deadline(0.2, "earlier:443")):
            pass
    left, right = socket.socketpair()
    try:
        live = Deadline(0.5, "live:443")
        with bind(live):
            live.watch(left)
            left.settimeout(20)
            started = time.monotonic()
            assert left.recv(1) == b""  # woken by the watchdog's shutdown, not by the peer
        assert live.expired and not live.aborted
        assert time.monotonic() - started < 10
    finally:
        left.close()
        right.close()
