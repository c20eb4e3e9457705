"""Small things a technician notices on the first day (issue 14, item 10): what the CLI prints."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from certline.app import pki
from certline.app.batch.est_gateway import EstGateway, GatewayStopped
from certline.app.cli.main import main
from tests.helpers.certs import make_cert, new_key

URL = "https://est.example.com/.well-known/est/cps/IOT_0a1b"


def _cert_with_serial(serial: int) -> x509.Certificate:
    key = new_key()
    now = datetime.now(UTC)
    return make_cert(
        "unit", key.public_key(), key, serial=serial, not_before=now, not_after=now + timedelta(days=1)
    )


@pytest.mark.parametrize(
    ("serial", "shown"),
    [
        (0x0974B8D33E7B7E870B24F3A2990F50F63EE97C93, "0974B8D33E7B7E870B24F3A2990F50F63EE97C93"),
        (0x3C5E5F122AA3F5EA3D4478223A95CADC048241DC, "3C5E5F122AA3F5EA3D4478223A95CADC048241DC"),
        (0x01, "01"),
        (0x0100, "0100"),
    ],
)
def test_certificate_serials_keep_their_leading_zero(serial: int, shown: str) -> None:
    """As openssl x509 -serial and the CA's console print it, so the operator can search for it."""
    assert pki.cert_serial_hex(_cert_with_serial(serial)) == shown


def test_batch_run_without_a_trust_anchor_says_what_to_configure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "add", "line1", "--url", URL]) == 0
    capsys.readouterr()
    rc = main(["batch", "run", "--profile", "line1", "--port", "loop://", "--passcode-env", "PC"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1, err  # one line
    assert err.startswith("certline batch run: profile 'line1' has no trust anchor")
    assert f"certline est cacerts --url {URL} --bootstrap --ca ca.pem" in err
    assert "certline profile edit line1 --ca ca.pem" in err  # not 'profile add --force' with every option
    assert "Fetch from server and compare" in err  # the profile editor's button, by its name
    assert "Traceback" not in err and "internal error" not in err


class _NeverCalled:
    def simpleenroll(self, csr: object) -> object:
        raise AssertionError("a stopped gateway must not send")


def test_a_stopped_gateway_says_why_the_unit_paused() -> None:
    """The engine logs "paused at this step: <reason>"; the reason was empty."""
    gateway = EstGateway(_NeverCalled(), concurrency=1)  # type: ignore[arg-type]
    gateway.stop()
    with pytest.raises(GatewayStopped) as stopped:
        gateway.enroll(b"csr", on_wait=lambda _msg: None, cancel=threading.Event())
    assert str(stopped.value).startswith("batch stopped ")
    assert str(GatewayStopped())


class _InterruptedEngine:
    """An engine whose first wait is interrupted by Ctrl+C, as the CLI sees it."""

    batch_id = 1
    labels = None  # the profile does not ask for scan-in
    quota = None

    def __init__(self) -> None:
        self.waits = 0
        self.stopped = False
        self.ports: list[str] = []

    def add_ports(self, ports: list[str]) -> None:
        self.ports.extend(ports)

    def wait(self, timeout: float | None) -> bool:
        self.waits += 1
        if self.waits == 1:
            raise KeyboardInterrupt
        return True

    def stop(self) -> None:
        self.stopped = True

    def finish(self) -> None:
        raise AssertionError("an interrupted batch is not finished")

    def devices(self) -> list[object]:
        return []

    def all_verified(self) -> bool:
        return True


class _Bus:
    def subscribe(self, callback: object) -> None:
        pass


def test_ctrl_c_on_batch_run_stops_every_unit_and_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from certline.app.cli.batch_cmd import _drive
    from certline.app.station.batch_run import BatchRun

    engine = _InterruptedEngine()
    session = argparse.Namespace(bus=_Bus(), journal=None, profile=None)
    args = argparse.Namespace(port=["/dev/ttyUSB0"], ports=None, count=None, timeout=None)
    run = BatchRun(session)  # type: ignore[arg-type]
    run.engine = engine  # type: ignore[assignment]
    assert _drive(run, args) == 130
    assert engine.stopped and engine.waits == 2  # stopped, then waited for the workers
    captured = capsys.readouterr()
    assert "Stopping after the current step of every device" in captured.err
    assert "Traceback" not in captured.err
