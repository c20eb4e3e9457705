"""The station window reacts to the installation: upgraded under it, serial ports it may not open."""

from __future__ import annotations

import os
import threading

import pytest
from PySide6.QtWidgets import QMessageBox

from certline.app.batch.states import DeviceState
from certline.app.host.program_files import ProgramFiles
from certline.ui.station import install_notices
from certline.ui.station.batch_controller import Phase
from tests.batch.fakes import FakeDevice

WAIT = 20_000


class HeldDevice(FakeDevice):
    """Stops in key generation until the test lets it go (a unit mid-step during the upgrade)."""

    def __init__(self, port: str, serial: str) -> None:
        super().__init__(port, serial)
        self.entered = threading.Event()
        self.release = threading.Event()

    def generate_key(self, algorithm) -> None:  # noqa: ANN001
        self.entered.set()
        self.release.wait(30)
        super().generate_key(algorithm)


def warnings_shown(window) -> list[str]:
    return [box.text() for box in window.findChildren(QMessageBox) if box.isVisible()]


def unit_state(window, port: str) -> DeviceState | None:
    return next((s.state for s in window.model.snapshots() if s.port == port), None)


@pytest.fixture
def program_file(tmp_path):
    path = tmp_path / "opt" / "certline"
    path.parent.mkdir()
    path.write_bytes(b"old program")
    return path


def test_an_upgrade_mid_batch_pauses_after_the_current_step_and_asks_for_a_restart(
    qtbot, window, station, program_file, tmp_path
):
    held = HeldDevice("/dev/fake0", "SN-HELD")
    station.devices["/dev/fake0"] = held
    watch = install_notices.ProgramReplacedWatch(window, ProgramFiles([program_file]))
    assert watch.timer.isActive()
    window.station_actions.start.trigger()
    qtbot.waitUntil(held.entered.is_set, timeout=WAIT)
    qtbot.waitUntil(lambda: window.controller.phase is Phase.RUNNING, timeout=WAIT)

    watch.check()  # nothing changed yet
    qtbot.waitUntil(lambda: not watch._checking, timeout=WAIT)
    assert not window.controller.paused and not warnings_shown(window)

    new = tmp_path / "certline.dpkg-new"  # what dpkg does: write beside, rename over
    new.write_bytes(b"new program, other size")
    os.replace(new, program_file)
    watch.check()
    qtbot.waitUntil(lambda: watch.notified, timeout=WAIT)
    assert window.controller.paused
    assert any(
        "updated while it was running" in text and str(program_file) in text
        for text in warnings_shown(window)
    )
    assert not watch.timer.isActive()

    held.release.set()  # the step in progress finishes and is journaled; the unit then waits
    qtbot.waitUntil(lambda: unit_state(window, "/dev/fake0") is DeviceState.KEY_READY, timeout=WAIT)
    assert window.controller.paused
    window.station_actions.stop.trigger()
    qtbot.waitUntil(lambda: window.controller.phase is Phase.IDLE, timeout=WAIT)


def test_a_source_tree_watches_nothing(window):
    watch = install_notices.ProgramReplacedWatch(window, ProgramFiles([]))
    assert not watch.timer.isActive()


def test_a_serial_permission_problem_becomes_a_warning(qtbot, window, monkeypatch):
    message = "Certline cannot open the serial port(s) /dev/ttyACM0: permission denied ..."
    monkeypatch.setattr(install_notices, "first_start_problem", lambda: message)
    install_notices.check_serial_permission(window)
    qtbot.waitUntil(lambda: message in warnings_shown(window), timeout=WAIT)


def test_an_error_after_an_upgrade_says_restart_instead_of_unexpected_error(
    monkeypatch, qapp, program_file, tmp_path
):
    """What the technician saw in the issue: zlib.error after apt replaced the running program."""
    import sys
    import zlib

    from certline.app.host import program_files
    from certline.ui.plumbing import crash

    monkeypatch.setattr(program_files, "_AT_START", ProgramFiles([program_file]))
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    new = tmp_path / "certline.dpkg-new"
    new.write_bytes(b"new program")
    os.replace(new, program_file)
    try:
        raise zlib.error("Error -3 while decompressing data: invalid distance too far back")
    except zlib.error:
        crash.handle_exception(*sys.exc_info())
    assert shown and shown[0].split("\n")[2].startswith("Certline was updated while it was running"), shown


def test_an_error_without_an_upgrade_is_reported_as_before(monkeypatch, qapp, program_file):
    import sys

    from certline.app.host import program_files
    from certline.ui.plumbing import crash

    monkeypatch.setattr(program_files, "_AT_START", ProgramFiles([program_file]))
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    try:
        raise RuntimeError("plain bug")
    except RuntimeError:
        crash.handle_exception(*sys.exc_info())
    assert "updated while it was running" not in shown[0] and "plain bug" in shown[0]
