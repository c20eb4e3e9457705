"""The station window driven like a technician would: scan, F5, watch rows go green, F8 to retry."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from certline.app.batch.states import DeviceState
from certline.ui.batch_dialogs.summary import BatchSummaryDialog
from certline.ui.plumbing.settings import LARGE_TEXT, UiSettings
from certline.ui.station.batch_controller import Phase
from certline.ui.station.device_model import Column
from tests.ui.conftest import FlakyDevice

WAIT = 20_000


def states(window) -> list[DeviceState]:
    return [s.state for s in window.model.snapshots()]


def test_scanner_enter_moves_from_work_order_to_operator(qtbot, window):
    bar = window.station_bar
    bar.work_order.setFocus()
    qtbot.waitUntil(bar.work_order.hasFocus)
    qtbot.keyClicks(bar.work_order, "WO-4711")
    qtbot.keyClick(bar.work_order, Qt.Key.Key_Return)
    qtbot.waitUntil(bar.operator.hasFocus)
    qtbot.keyClicks(bar.operator, "jdoe")
    assert bar.fields() == ("WO-4711", "jdoe")


def test_full_batch_ends_green_with_a_summary(qtbot, window, station):
    window.station_bar.work_order.setText("WO-1")
    window.station_bar.operator.setText("anna")
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    qtbot.waitUntil(lambda: states(window) == [DeviceState.DONE] * 4, timeout=WAIT)
    dialog = shown.args[0]
    assert isinstance(dialog, BatchSummaryDialog)
    assert dialog.counters.done.value_text() == "4" and dialog.counters.failed.value_text() == "0"
    assert window.counters.done.value_text() == "4"
    assert window.counters.failed.value_text() == "0"
    assert window.controller.phase is Phase.IDLE
    assert all(window.model.index(r, Column.CERT_SERIAL).data() for r in range(4))
    batch = station.session.journal.batch(window.controller.batch_id)
    assert (batch.work_order, batch.operator) == ("WO-1", "anna")
    assert batch.ended_at is not None
    assert window.station_actions.start.isEnabled() and window.station_actions.export.isEnabled()
    assert not window.station_actions.retry.isEnabled()  # nothing failed: nothing to retry
    dialog.close()


def test_failed_device_shows_its_error_and_retry_makes_it_green(qtbot, window, station):
    station.devices["/dev/fake1"] = FlakyDevice("/dev/fake1", "SN-FLAKY")
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    qtbot.waitUntil(lambda: sorted(states(window)).count(DeviceState.DONE) == 3, timeout=WAIT)
    failed_row = next(r for r, s in enumerate(window.model.snapshots()) if s.state == DeviceState.FAILED)
    assert "key storage is full" in window.model.index(failed_row, Column.DETAILS).data()
    assert window.model.index(failed_row, Column.STATE).data() == "Failed"
    assert window.counters.failed.value_text() == "1"
    shown.args[0].close()
    assert window.station_actions.retry.isEnabled()
    window.station_actions.retry.trigger()
    qtbot.waitUntil(lambda: states(window) == [DeviceState.DONE] * 4, timeout=WAIT)
    qtbot.waitUntil(lambda: window.counters.failed.value_text() == "0", timeout=WAIT)
    assert len(station.est.issued) == 4


def test_selecting_a_device_shows_its_steps_and_certificate(qtbot, window, station):
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    shown.args[0].close()
    window.table.selectRow(0)
    fields = window.details.cert_fields
    snap = window.model.snapshot(0)
    qtbot.waitUntil(lambda: fields["serial"].text() == snap.cert_serial, timeout=WAIT)
    assert fields["fingerprint"].text() == snap.cert_fingerprint
    assert snap.serial_number in fields["subject"].text()
    assert "Fake CA" in fields["issuer"].text()
    steps = [window.details.steps.item(r, 1).text() for r in range(window.details.steps.rowCount())]
    assert steps[0] == "Detected" and steps[-1] == "Done" and "Enrolling" in steps


def test_log_panel_filters_by_level_and_device(qtbot, window, station, caplog):
    caplog.set_level(logging.INFO)  # what configure_gui_logging does in the real program
    station.devices["/dev/fake2"] = FlakyDevice("/dev/fake2", "SN-FLAKY", failures=5)
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    shown.args[0].close()
    panel = window.log_panel
    qtbot.waitUntil(lambda: any("key storage is full" in m for m in panel.visible_messages()), timeout=WAIT)
    panel.level.setCurrentIndex(panel.level.findData(40))  # errors only
    assert panel.visible_messages() and all("failed" in m for m in panel.visible_messages())
    panel.level.setCurrentIndex(0)
    assert any("started" in m for m in panel.visible_messages())  # station lines have no port
    panel.device.setCurrentIndex(panel.device.findData("/dev/fake2"))
    shown_ports = {panel.proxy.index(r, 2).data() for r in range(panel.proxy.rowCount())}
    assert shown_ports == {"/dev/fake2"}


def test_large_text_is_applied_and_remembered_as_a_bool(qtbot, window, ui_settings):
    before = QApplication.instance().font().pointSizeF()
    window.station_actions.large_text.trigger()
    assert QApplication.instance().font().pointSizeF() > before * 1.2
    ui_settings.sync()
    reread = UiSettings(
        type(ui_settings.qsettings)(ui_settings.qsettings.fileName(), ui_settings.qsettings.format())
    )
    assert reread.get(LARGE_TEXT) is True
    window.station_actions.large_text.trigger()
    assert QApplication.instance().font().pointSizeF() == before
    assert ui_settings.get(LARGE_TEXT) is False


def test_every_action_has_a_shortcut_or_menu_entry_and_a_tooltip(window):
    shortcuts = {a.shortcut().toString() for a in window.station_actions.all() if not a.shortcut().isEmpty()}
    assert {"F5", "F6", "F7", "F8", "F9", "Del", "Ctrl+E", "Ctrl+H", "Ctrl+P", "Ctrl+L"} <= shortcuts
    menu_actions = {a for m in window.menuBar().actions() for a in m.menu().actions()}
    assert all(a in menu_actions for a in window.station_actions.all())
    assert all(a.toolTip() for a in window.station_actions.all())


def test_a_unit_failing_at_once_still_gets_its_row(qtbot, window, station):
    from certline.app.device.driver import DeviceLost

    class DeadOnArrival(FlakyDevice):
        def identify(self):
            raise DeviceLost("no answer to HELLO")

    station.devices["/dev/fake0"] = DeadOnArrival("/dev/fake0", "SN-DOA")
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    shown.args[0].close()
    assert sorted(states(window)) == sorted([DeviceState.FAILED] + [DeviceState.DONE] * 3)
    assert window.counters.failed.value_text() == "1"


def test_a_batch_that_cannot_start_says_why_and_start_stays_available(qtbot, window, station, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("the journal is on a read-only disk")

    monkeypatch.setattr(station.session, "start_batch", refuse)
    window.station_actions.start.trigger()
    qtbot.waitUntil(lambda: "read-only disk" in window.statusBar().currentMessage(), timeout=WAIT)
    assert window.controller.phase is Phase.IDLE and window.station_actions.start.isEnabled()


def test_tab_reaches_every_working_control(qtbot, window, station):
    """Everything a technician works with is reachable without a mouse, also with a full table."""
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    shown.args[0].close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    wanted = {
        window.station_bar.work_order,
        window.station_bar.operator,
        window.table,
        window.details.steps,
        window.log_panel.level,
        window.log_panel.device,
        window.log_panel.view,
    }
    window.station_bar.work_order.setFocus()
    qtbot.waitUntil(window.station_bar.work_order.hasFocus)
    seen = set()
    for _ in range(60):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        seen.add(QApplication.focusWidget())
    assert wanted <= seen


def test_skipped_units_are_not_counted_as_done(qtbot):
    """A unit left out (already provisioned, a duplicate) must not read as provisioned."""
    from certline.app.batch.events import BatchSnapshot
    from certline.ui.station.counters import BatchCounters

    counters = BatchCounters()
    qtbot.addWidget(counters)
    counters.update_batch(
        BatchSnapshot(
            batch_id=1, done=5, in_progress=0, failed=1, pending_approval=0, expected_remaining=None,
            finished=True, skipped=2,
        )
    )  # fmt: skip
    assert (counters.done.value_text(), counters.skipped.value_text()) == ("3", "2")
