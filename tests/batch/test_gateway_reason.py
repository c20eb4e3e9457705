"""A unit waiting for an unreachable EST server says why (the reason reaches its journaled step)."""

from __future__ import annotations

import threading

import pytest

from certline.app.batch.est_gateway import EstGateway, GatewayStopped
from certline.app.est.errors import EstError, EstTimeout
from certline.app.est.results import CsrAttributes


class _TimingOutClient:
    def __init__(self) -> None:
        self.posts = 0

    def cacerts(self) -> list[object]:
        raise EstTimeout("cacerts: timed out after 10 s: the EST server est.example:443 did not answer")

    def csrattrs(self) -> CsrAttributes:
        return CsrAttributes()

    def simpleenroll(self, csr: object) -> object:
        self.posts += 1
        raise EstTimeout(
            "simpleenroll: timed out after 10 s: the EST server est.example:443 did not answer completely",
            seconds=10.0,
            where="est.example:443",
        )

    def serverkeygen(self, csr: object) -> object:
        raise EstError("unused")


@pytest.mark.timeout(20)
def test_waiting_unit_step_names_the_server_and_the_timeout() -> None:
    client = _TimingOutClient()
    gateway = EstGateway(client, concurrency=1, probe_interval=5.0)  # type: ignore[arg-type]
    steps: list[str] = []
    waiting = threading.Event()

    def on_wait(step: str) -> None:
        steps.append(step)
        waiting.set()

    cancel = threading.Event()
    result: list[BaseException] = []

    def run() -> None:
        try:
            gateway.enroll(b"csr", on_wait=on_wait, cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            result.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert waiting.wait(5)
    gateway.stop()
    worker.join(5)
    assert isinstance(result[0], GatewayStopped)
    assert client.posts == 1
    assert "est.example:443" in steps[-1] and "10 s" in steps[-1], steps


class _HangingClient(_TimingOutClient):
    """simpleenroll hangs until the request is cut off (like the client being closed at stop)."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.cut = threading.Event()

    def simpleenroll(self, csr: object) -> object:
        self.posts += 1
        self.started.set()
        self.cut.wait(10)
        raise EstTimeout(
            "simpleenroll: the request to the EST server est.example:443 was cancelled after 7 s "
            "without a complete answer (client closed)"
        )


@pytest.mark.timeout(20)
def test_a_request_cut_off_by_the_stop_leaves_its_reason_in_the_step() -> None:
    client = _HangingClient()
    gateway = EstGateway(client, concurrency=1, probe_interval=5.0)  # type: ignore[arg-type]
    steps: list[str] = []
    result: list[BaseException] = []

    def run() -> None:
        try:
            gateway.enroll(b"csr", on_wait=steps.append)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            result.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert client.started.wait(5)
    gateway.stop()
    client.cut.set()  # what StationSession.abort_requests does to a request in flight
    worker.join(5)
    assert isinstance(result[0], GatewayStopped)
    assert steps and steps[-1].startswith("stopped while waiting for the EST server")
    assert "est.example:443" in steps[-1] and "7 s" in steps[-1]


class _ThrottlingClient(_TimingOutClient):
    """Answers every enrollment with 429 and a Retry-After of ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__()
        self.retry_after = retry_after

    def simpleenroll(self, csr: object) -> object:
        from certline.app.est.errors import EstThrottled

        self.posts += 1
        raise EstThrottled(
            f"simpleenroll: the EST server is throttling requests (HTTP 429); it asks to wait "
            f"{self.retry_after:.0f} s",
            retry_after=self.retry_after,
            status=429,
        )


def test_a_throttle_longer_than_the_batch_waits_fails_the_unit_with_the_servers_answer() -> None:
    from certline.app.est.errors import EstThrottled

    client = _ThrottlingClient(retry_after=7200)
    gateway = EstGateway(client, concurrency=1, max_retry_wait=600)  # type: ignore[arg-type]
    with pytest.raises(EstThrottled, match="asks to wait 7200 s"):
        gateway.enroll(b"csr", on_wait=lambda _s: None)
    assert client.posts == 1, "no second request before the time the server asked for"


def test_a_throttle_within_the_batch_policy_is_waited_out_and_said() -> None:
    client = _ThrottlingClient(retry_after=30)
    gateway = EstGateway(client, concurrency=1)  # type: ignore[arg-type]
    steps: list[str] = []
    cancel = threading.Event()

    def on_wait(step: str) -> None:
        steps.append(step)
        cancel.set()  # the operator skips the unit while it waits

    with pytest.raises(GatewayStopped):
        gateway.enroll(b"csr", on_wait=on_wait, cancel=cancel)
    assert client.posts == 1
    assert steps == [
        "EST server busy (simpleenroll: the EST server is throttling requests (HTTP 429); it asks to "
        "wait 30 s); retrying in 30 s"
    ]
