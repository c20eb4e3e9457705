"""Scan-in in the station window, started through ``certline-gui``'s entry point.

Simulated units on real pseudo-terminals, the EST test server over TLS. Labels arrive as
synthetic key events with the timestamps a keyboard-wedge scanner gives them (a few ms apart,
Enter or Tab at the end) or a person types them (far slower); only the first kind is a scan.
"""

# ruff: noqa: F811 - the station fixture (gui) is imported by name so pytest finds it here
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from certline.app.batch.states import DeviceState
from certline.app.config.profile import AuthStyle, Profile, ScanIn
from certline.app.config.profile_store import ProfileStore
from certline.app.station.scan_in import KeyBurst, Verdict
from certline.ui.station.scan_field import ScanField
from tests.helpers.estserver_fixture import DTM_LABEL, TEST_PASSCODE
from tests.ui.test_first_day import WAIT, gui, plug_in_simulated_units, store_profile  # noqa: F401

SCANNER_GAP_MS = 8
TYPING_GAP_MS = 180


def store_scan_profile(server, memory_keyring) -> None:
    ProfileStore().save(
        Profile(
            name="scan-line",
            enroll_url=server.est_base(DTM_LABEL),
            auth_style=AuthStyle.PASSCODE_ONLY,
            ca_bundle_pem=server.ca_pem,
            subject_template={"CN": "{serial}", "O": "Certline Test"},
            scan_in=ScanIn.REQUIRED,
        )
    )
    memory_keyring.set_password("certline", "scan-line/passcode", TEST_PASSCODE)


class Keys:
    """Key presses with window-system timestamps, sent to whatever widget has the focus."""

    def __init__(self) -> None:
        self.clock_ms = 5_000_000

    def type(self, text: str, gap_ms: int, end: Qt.Key = Qt.Key.Key_Return) -> None:
        for char in text:
            self._press(Qt.Key(ord(char.upper())), char, gap_ms)
        self._press(end, "\t" if end == Qt.Key.Key_Tab else "\r", gap_ms)

    def _press(self, key: Qt.Key, text: str, gap_ms: int) -> None:
        self.clock_ms += gap_ms
        target = QApplication.focusWidget()
        assert target is not None, "nothing has the keyboard focus"
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text)
            event.setTimestamp(self.clock_ms)
            QApplication.sendEvent(target, event)


def test_the_burst_rule_tells_a_scanner_from_a_person():
    burst = KeyBurst()
    for i, char in enumerate("CL-000001"):
        burst.key(char, 1000 + i * SCANNER_GAP_MS)
    assert burst.terminate(1000 + 9 * SCANNER_GAP_MS).text == "CL-000001"
    for i, char in enumerate("CL-000001"):
        burst.key(char, 5000 + i * TYPING_GAP_MS)
    typed = burst.terminate(5000 + 9 * TYPING_GAP_MS)
    assert typed.verdict is Verdict.TYPED and typed.text == "CL-000001"
    burst.key("x", 9000)  # a stray key, then a scan: the stray key is not part of the label
    for i, char in enumerate("CL-2"):
        burst.key(char, 9500 + i * SCANNER_GAP_MS)
    assert burst.terminate(9500 + 4 * SCANNER_GAP_MS).text == "CL-2"
    burst.key("A", 10_000)
    burst.key("B", 10_005)
    assert burst.terminate(10_010).verdict is Verdict.TYPED  # two quick keys are no label


def test_labels_scanned_into_the_window_bind_units_and_a_mismatch_fails_its_unit(
    qtbot, gui, est_server, memory_keyring
):
    store_scan_profile(est_server, memory_keyring)
    gui.start()
    window = gui.window()
    field = window.scan_panel.field
    assert window.scan_panel.isVisible()
    plug_in_simulated_units(qtbot, window, 2)
    window.activateWindow()
    window.station_actions.start.trigger()

    def waiting() -> list:
        return [s for s in window.model.snapshots() if s.state == DeviceState.AWAITING_LABEL]

    qtbot.waitUntil(lambda: len(waiting()) == 2, timeout=WAIT)
    qtbot.waitUntil(field.hasFocus, timeout=WAIT)
    assert "2 unit(s) wait for their label" in window.scan_panel.waiting.text()
    serials = sorted(s.serial_number for s in waiting())

    window.table.setFocus()  # the technician clicked the table: the scan field takes it back
    assert window.table.hasFocus()
    qtbot.waitUntil(field.hasFocus, timeout=WAIT)

    box = QMessageBox(QMessageBox.Icon.Information, "Certline", "a dialog", parent=window)
    box.open()  # a dialog keeps its focus while the batch runs
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is box, timeout=WAIT)
    box.setFocus()
    qtbot.wait(100)
    assert not field.hasFocus()
    box.close()
    window.activateWindow()  # the window manager hands the station window the keyboard again
    qtbot.waitUntil(field.hasFocus, timeout=WAIT)

    asked: list[list] = []
    window.confirm_skip = lambda snaps: asked.append(snaps) or False  # type: ignore[method-assign]
    window.table.selectRow(0)
    qtbot.waitUntil(field.hasFocus, timeout=WAIT)
    qtbot.keyClick(field, Qt.Key.Key_Delete)  # Del still means "Skip selected" from the empty field
    assert len(asked) == 1 and len(asked[0]) == 1

    keys = Keys()
    with qtbot.assertNotEmitted(field.scanned):
        keys.type(serials[0], TYPING_GAP_MS)  # a person typing the serial is no scan
    assert "typed, not scanned" in window.scan_panel.result.text()
    assert len(waiting()) == 2
    field.clear()

    with qtbot.waitSignal(window.controller.scan_result, timeout=WAIT):
        keys.type(serials[0], SCANNER_GAP_MS)
    assert f"serial {serials[0]} → unit {serials[0]}" in window.scan_panel.result.text()
    with qtbot.waitSignal(window.controller.scan_result, timeout=WAIT):
        keys.type("CL-424242", SCANNER_GAP_MS, end=Qt.Key.Key_Tab)  # Tab suffix, wrong label
    assert field.text() == "" and field.hasFocus()
    assert f"→ unit {serials[1]} on " in window.scan_panel.result.text()
    assert "does not name this unit" in window.scan_panel.result.text()

    def by_serial() -> dict:
        return {s.serial_number: s for s in window.model.snapshots()}

    qtbot.waitUntil(lambda: by_serial()[serials[0]].state == DeviceState.DONE, timeout=WAIT)
    qtbot.waitUntil(lambda: by_serial()[serials[1]].state == DeviceState.FAILED, timeout=WAIT)
    failed = by_serial()[serials[1]]
    assert failed.error_code == "label-mismatch"
    assert "CL-424242" in (failed.error or "") and serials[1] in (failed.error or "")
    assert len(est_server.issued) == 1


def test_the_scan_field_is_hidden_when_the_profile_does_not_ask(qtbot, gui, est_server, memory_keyring):
    store_profile(est_server, memory_keyring)
    gui.start()
    window = gui.window()
    assert not window.scan_panel.isVisible()
    assert isinstance(window.scan_panel.field, ScanField)


def test_a_label_scanned_before_its_unit_waits_and_esc_forgets_it(qtbot, gui, est_server, memory_keyring):
    from certline.ui.station.batch_controller import Phase

    store_scan_profile(est_server, memory_keyring)
    gui.start()
    window = gui.window()
    field = window.scan_panel.field
    window.activateWindow()
    window.station_actions.hands_free.trigger()  # a hands-free batch: units come later
    qtbot.waitUntil(lambda: window.controller.phase == Phase.RUNNING and window.controller.hands_free_on)
    qtbot.waitUntil(field.hasFocus, timeout=WAIT)
    keys = Keys()
    with qtbot.waitSignal(window.controller.scan_result, timeout=WAIT):
        keys.type("CL-000001", SCANNER_GAP_MS)
    assert "serial CL-000001: waits for its unit" in window.scan_panel.result.text()
    qtbot.waitUntil(lambda: "1 scan(s) wait for a unit" in window.scan_panel.waiting.text(), timeout=WAIT)
    with qtbot.waitSignal(window.controller.message, timeout=WAIT) as said:
        qtbot.keyClick(field, Qt.Key.Key_Escape)  # the field is empty: forget the waiting scans
    assert said.args == ["1 waiting scan(s) forgotten"]
    qtbot.waitUntil(lambda: window.scan_panel.waiting.text() == "", timeout=WAIT)
