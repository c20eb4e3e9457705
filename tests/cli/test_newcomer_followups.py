"""What a newcomer tripped over on the command line (issue 14 walk-through), kept fixed.

Each test runs ``certline`` through its real ``main`` under the test's own CERTLINE_HOME.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from certline.app.cli.main import main
from tests.helpers.estserver_fixture import DTM_LABEL, TEST_PASSCODE, est_server  # noqa: F401


@pytest.fixture
def profile(est_server, tmp_path: Path) -> str:  # noqa: F811
    ca = tmp_path / "ca.pem"
    ca.write_text(est_server.ca_pem)
    assert main(["profile", "add", "p1", "--url", est_server.est_base(DTM_LABEL), "--ca", str(ca)]) == 0
    return "p1"


def test_reenroll_refuses_a_passcode_variable_that_is_not_set(
    profile: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    rc = main(["reenroll", "--profile", profile, "--port", "/dev/null", "--passcode-env", "NOT_SET_ANYWHERE"])
    assert rc == 2
    assert "environment variable NOT_SET_ANYWHERE is not set" in capsys.readouterr().err


def test_ports_auto_with_nothing_plugged_in_says_what_it_waits_for(
    profile: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSCODE", TEST_PASSCODE)
    monkeypatch.setattr("certline.app.station.hands_free.profile_port_source", _no_ports)
    monkeypatch.setattr("certline.app.cli.batch_cmd.profile_port_source", _no_ports)
    rc = main(
        [
            "batch",
            "run",
            "--profile",
            profile,
            "--ports",
            "auto",
            "--timeout",
            "0.5",
            "--passcode-env",
            "PASSCODE",
        ]
    )
    err = capsys.readouterr().err
    assert "No USB serial unit is connected yet" in err and "0.5 s" in err
    assert rc == 1  # nothing was provisioned: not a success


def test_an_empty_expiry_list_says_so(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["expiry"]) == 0
    assert "No certificates in the journal match." in capsys.readouterr().out


def _no_ports(_profile: object) -> object:
    class Nothing:
        def ports(self) -> list[object]:
            return []

    return Nothing()


def test_batch_status_counts_skipped_units(capsys: pytest.CaptureFixture[str]) -> None:
    """A newcomer's batch skipped a unit that was already provisioned and ``batch status`` said
    "1 devices: 0 done, 0 failed, 0 unfinished": the unit was in none of the counts."""
    from certline.app.batch.journal import Journal
    from certline.app.batch.states import DeviceState
    from certline.app.config.paths import station_paths

    journal = Journal(station_paths().journal)
    try:
        batch = journal.create_batch(profile_name="p1", profile_json={}, work_order="WO-7")
        states = {"S1": DeviceState.DONE, "S2": DeviceState.SKIPPED, "S3": DeviceState.FAILED, "S4": None}
        for serial, state in states.items():
            unit = journal.add_device(batch, f"/dev/tty{serial}", serial_number=serial).device_id
            if state is DeviceState.DONE:
                path = [
                    DeviceState.IDENTIFIED,
                    DeviceState.KEY_READY,
                    DeviceState.CSR_READY,
                    DeviceState.ENROLLING,
                ]
                path += [DeviceState.ISSUED, DeviceState.WRITING, DeviceState.WRITTEN, DeviceState.VERIFIED]
                for step in (*path, DeviceState.DONE):
                    journal.transition(unit, step, step.value)
            elif state is not None:
                journal.transition(unit, state, state.value)
    finally:
        journal.close()
    capsys.readouterr()
    assert main(["batch", "status"]) == 0
    out = capsys.readouterr().out
    assert "4 device(s): 1 done, 1 skipped, 1 failed, 1 unfinished" in out and "WO-7" in out
