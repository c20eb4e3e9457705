"""Pause, stop, skip, hands-free, export and history, through the window's actions."""

from __future__ import annotations

import csv
import threading

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from certline.app.batch.states import TERMINAL, DeviceState
from certline.ui.batch_dialogs.summary import BatchSummaryDialog
from certline.ui.plumbing.worker import pending_tasks
from certline.ui.station.batch_controller import Phase
from certline.ui.station.commands import show_history
from tests.batch.fakes import FakeDevice

WAIT = 20_000


_held: list[HeldDevice] = []


class HeldDevice(FakeDevice):
    """Stops in key generation until the test lets it go (a slow unit)."""

    def __init__(self, port: str, serial: str) -> None:
        super().__init__(port, serial)
        self.entered = threading.Event()
        self.release = threading.Event()
        _held.append(self)

    def generate_key(self, algorithm) -> None:  # noqa: ANN001
        self.entered.set()
        self.release.wait(30)
        super().generate_key(algorithm)


@pytest.fixture(autouse=True)
def release_held_devices():
    """A failing test must not leave a port thread waiting for 30 s."""
    yield
    while _held:
        _held.pop().release.set()


def states(window) -> list[DeviceState]:
    return [s.state for s in window.model.snapshots()]


def test_pause_waits_after_the_current_step_and_resume_finishes(qtbot, window, station):
    held = HeldDevice("/dev/fake0", "SN-HELD")
    station.devices["/dev/fake0"] = held
    window.station_actions.start.trigger()
    qtbot.waitUntil(held.entered.is_set, timeout=WAIT)
    qtbot.waitUntil(lambda: window.station_actions.pause.isEnabled(), timeout=WAIT)
    window.station_actions.pause.trigger()
    assert window.controller.paused and window.station_actions.pause.isChecked()
    assert "paused" in window.batch_label.text()
    assert window.station_actions.pause.text() == "Resume"
    held.release.set()
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.pause.trigger()  # resume
    assert not window.controller.paused
    shown.args[0].close()
    assert states(window) == [DeviceState.DONE] * 4


def test_stop_closes_the_batch_and_start_is_possible_again(qtbot, window, station):
    held = HeldDevice("/dev/fake3", "SN-HELD")
    station.devices["/dev/fake3"] = held
    window.station_actions.start.trigger()
    qtbot.waitUntil(held.entered.is_set, timeout=WAIT)
    window.station_actions.stop.trigger()
    assert window.controller.phase is Phase.STOPPING
    held.release.set()
    # the lifecycle goes idle on the command queue; the buttons follow when the window hears of it
    qtbot.waitUntil(
        lambda: window.controller.phase is Phase.IDLE and window.station_actions.start.isEnabled(),
        timeout=WAIT,
    )
    assert station.session.journal.batch(window.controller.batch_id).ended_at is not None
    assert not window.station_actions.stop.isEnabled()


def test_skip_selected_takes_the_unit_out_of_the_batch(qtbot, window, station, monkeypatch):
    held = HeldDevice("/dev/fake2", "SN-HELD")
    station.devices["/dev/fake2"] = held
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.station_actions.start.trigger()
    qtbot.waitUntil(held.entered.is_set, timeout=WAIT)
    qtbot.waitUntil(lambda: any(s.serial_number == "SN-HELD" for s in window.model.snapshots()), timeout=WAIT)
    window.model.flush()
    row = next(r for r, s in enumerate(window.model.snapshots()) if s.serial_number == "SN-HELD")
    window.table.selectRow(row)
    window.station_actions.skip.trigger()
    held.release.set()
    qtbot.waitUntil(lambda: window.model.snapshot(row).state in TERMINAL, timeout=WAIT)
    snap = window.model.snapshot(row)
    assert snap.state != DeviceState.DONE
    assert "skipped by the operator" in (snap.error or snap.step)


def test_hands_free_provisions_units_as_they_are_plugged_in(qtbot, window, station):
    window.station_actions.hands_free.trigger()  # F9 while idle: a hands-free batch starts at once
    qtbot.waitUntil(lambda: states(window) == [DeviceState.DONE] * 4, timeout=WAIT)
    assert window.controller.phase is Phase.RUNNING and window.controller.hands_free_on
    assert "hands-free" in window.batch_label.text()
    station.devices["/dev/fake9"] = FakeDevice("/dev/fake9", "SN-LATE")  # plugged in later
    qtbot.waitUntil(lambda: states(window) == [DeviceState.DONE] * 5, timeout=WAIT)
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.hands_free.trigger()  # off: the batch closes once nothing is left
    shown.args[0].close()
    assert window.controller.phase is Phase.IDLE and not window.controller.hands_free_on


def test_export_report_writes_the_batch_as_csv(qtbot, window, station, monkeypatch, tmp_path):
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    shown.args[0].close()
    target = tmp_path / "report.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV report (*.csv)"))
    window.station_actions.export.trigger()
    qtbot.waitUntil(lambda: target.exists() and pending_tasks() == 0, timeout=WAIT)
    with target.open(newline="") as report:
        rows = list(csv.DictReader(report))
    assert sorted(r["serial_number"] for r in rows) == ["SN-0000", "SN-0001", "SN-0002", "SN-0003"]
    assert all(r["state"] == "done" and r["certificate_serial"] for r in rows)


def test_history_lists_past_batches_with_their_devices(qtbot, window, station):
    for _ in range(2):
        with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
            window.station_actions.start.trigger()
        shown.args[0].close()
    dialog = show_history(window)
    qtbot.waitUntil(lambda: dialog.batches.rowCount() == 2, timeout=WAIT)
    assert dialog.batches.item(0, 0).text() == str(window.controller.batch_id)
    qtbot.waitUntil(lambda: dialog.devices.rowCount() == 4, timeout=WAIT)
    dialog.close()


def test_retry_pending_asks_again_for_units_the_server_left_pending(qtbot, window, station):
    """The counter shows the units left pending (with the server's time in their row); "Retry
    pending" runs the same use case as 'certline batch resume' and they finish."""
    station.est.pending_times = 4
    station.est.pending_retry_after = 3600  # manual approval: longer than the batch waits
    window.station_actions.start.trigger()
    qtbot.waitUntil(lambda: states(window) == [DeviceState.PENDING_APPROVAL] * 4, timeout=WAIT)
    qtbot.waitUntil(lambda: window.counters.pending.number.text() == "4", timeout=WAIT)
    assert all("retry at" in s.step for s in window.model.snapshots())
    assert window.station_actions.retry_pending.isEnabled()
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.retry_pending.trigger()
    shown.args[0].close()
    assert states(window) == [DeviceState.DONE] * 4
    assert window.counters.pending.number.text() == "0"
    assert len(station.est.issued) == 4 and station.est.calls == 8


def test_a_closed_batch_summary_is_released_not_kept_hidden(qtbot, window, station):
    """A station runs batch after batch all shift. Each summary, once closed, must be gone,
    not hidden and kept: the soak (docs/benchmarks.md §9) saw the window hold ~30 more widgets
    once a summary had opened, which batch after batch would never give back."""
    for _ in range(3):
        with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
            window.station_actions.start.trigger()
        shown.args[0].close()
    qtbot.waitUntil(lambda: not window.findChildren(BatchSummaryDialog), timeout=WAIT)


def test_an_export_that_fails_after_its_summary_was_closed_is_still_reported(
    qtbot, window, station, monkeypatch, tmp_path
):
    """The technician clicks Export CSV, then closes the summary before the file is written: a
    failure must still reach them (in front of the station window), not vanish with the dialog."""
    from certline.ui.batch_dialogs import report_export

    writing = threading.Event()
    may_fail = threading.Event()

    def slow_failing_write(*_args):  # noqa: ANN202 - a stand-in for a full disk
        writing.set()
        may_fail.wait(WAIT / 1000)
        raise OSError(28, "No space left on device")

    def warnings() -> list[QMessageBox]:
        return [box for box in window.findChildren(QMessageBox) if box.isVisible()]

    monkeypatch.setattr(report_export, "write_report", slow_failing_write)
    target = tmp_path / "report.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV report (*.csv)"))
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    summary = shown.args[0]
    try:
        summary.csv_button.click()
        qtbot.waitUntil(writing.is_set, timeout=WAIT)
        summary.close()
        qtbot.waitUntil(lambda: not window.findChildren(BatchSummaryDialog), timeout=WAIT)
    finally:
        may_fail.set()  # a failed step must not leave the worker waiting for the whole timeout
    qtbot.waitUntil(lambda: bool(warnings()), timeout=WAIT)
    box = warnings()[0]
    assert box.parentWidget() is window
    assert "The report was not written" in box.text() and "No space left on device" in box.text()
    box.close()


def test_an_export_from_the_summary_says_where_the_report_was_saved(
    qtbot, window, station, monkeypatch, tmp_path
):
    """A technician who exports from the summary sees that it worked and where the file is, in
    the station window's status bar, as after the toolbar's Export report."""
    target = tmp_path / "from-summary.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV report (*.csv)"))
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    shown.args[0].csv_button.click()
    qtbot.waitUntil(lambda: target.exists() and pending_tasks() == 0, timeout=WAIT)
    assert window.statusBar().currentMessage() == f"Report saved: {target}"
    shown.args[0].close()
    window.statusBar().clearMessage()
    window.station_actions.export.trigger()  # the toolbar's export says it once, the same way
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Report saved"), timeout=WAIT)
    assert window.statusBar().currentMessage() == f"Report saved: {target}"
