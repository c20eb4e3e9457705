"""Issue 19 part 1 in the station window, started through ``certline-gui``'s entry point: the
warning before Start, the "New passcode" dialog when the passcode's uses are spent, and the batch
going on with the new passcode (the keyring written off the GUI thread), nothing issued twice.

Against the EST test server (real TLS) with a use limit and its retransmission cache off, and
simulated units plugged in through Help > "Use simulated units…".

Screenshots go to ``tmp_path``; with ``CERTLINE_SCREENSHOT_DIR`` set they are also written there
(that is how ``docs/screenshots/passcode-*.png`` were made).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from certline.app.batch.states import DeviceState
from certline.app.config.profile_store import ProfileStore
from certline.ui.station.passcode_dialog import NewPasscodeDialog
from tests.helpers.estserver_fixture import TEST_PASSCODE
from tests.helpers.gui_checks import assert_not_on_screen

from .test_first_day import WAIT, gui, plug_in_simulated_units, store_profile  # noqa: F401 - fixture

NEW_PASSCODE = "second-passcode-4711"  # a test value, not a secret


def _screenshot(tmp_path: Path, name: str, area: QRect) -> Path:
    """The screen (the window and the dialog over it), cut to ``area``; looked at by a person."""
    QApplication.processEvents()
    image = QGuiApplication.primaryScreen().grabWindow(0, area.x(), area.y(), area.width(), area.height())
    path = tmp_path / name
    assert image.save(str(path))
    target = os.environ.get("CERTLINE_SCREENSHOT_DIR")
    if target:
        image.save(str(Path(target) / name))
    return path


def _message_box() -> QMessageBox | None:
    for widget in QApplication.topLevelWidgets():
        if (
            isinstance(widget, QMessageBox)
            and widget.objectName() == "passcodeWarning"
            and widget.isVisible()
        ):
            return widget
    return None


def _passcode_dialog() -> NewPasscodeDialog | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, NewPasscodeDialog) and widget.isVisible():
            return widget
    return None


def test_warning_then_new_passcode_dialog_then_the_batch_finishes(
    qtbot,
    gui,  # noqa: F811 - the fixture imported above
    est_server,
    memory_keyring,
    tmp_path,
):
    est_server.config.answer_retransmissions = False
    est_server.config.passcode_max_uses = 2
    profile = store_profile(est_server, memory_keyring)
    limits = {"passcode_id": "dtm-line-1", "passcode_max_uses": 2, "passcode_expires": "2099-12-31"}
    ProfileStore().save(dataclasses.replace(profile, **limits))  # type: ignore[arg-type]
    gui.start()
    window = gui.window()
    window.resize(790, 600)
    plug_in_simulated_units(qtbot, window, 3)

    window.station_actions.start.trigger()
    qtbot.waitUntil(lambda: _message_box() is not None, timeout=WAIT)
    box = _message_box()
    assert box is not None
    assert box.text().startswith(
        "3 units plugged in; the passcode has 2 uses left, and expires on 2099-12-31 23:59 UTC"
    )
    _screenshot(tmp_path, "passcode-warning.png", window.frameGeometry())
    assert est_server.post_count == 0, "nothing is sent before the operator confirms"
    box.button(QMessageBox.StandardButton.Ok).click()

    qtbot.waitUntil(lambda: _passcode_dialog() is not None, timeout=WAIT)
    dialog = _passcode_dialog()
    assert dialog is not None
    qtbot.waitUntil(lambda: len(est_server.issued) == 2, timeout=WAIT)
    assert "uses are spent" in dialog.reason.text()
    assert not any(s.state == DeviceState.FAILED for s in window.model.snapshots())
    qtbot.keyClicks(dialog.passcode, NEW_PASSCODE)
    qtbot.keyClicks(dialog.uses, "100")
    qtbot.keyClicks(dialog.name, "dtm-line-1b")
    qtbot.waitUntil(
        lambda: "uses are spent" in dialog.reason.text() and "2 enrollments" in dialog.reason.text(),
        timeout=WAIT,
    )
    _screenshot(tmp_path, "passcode-new-dialog.png", window.frameGeometry())
    assert_not_on_screen(NEW_PASSCODE)
    est_server.set_passcode(NEW_PASSCODE)

    with qtbot.waitSignal(window.summary_shown, timeout=WAIT):
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert memory_keyring.entries[("certline", "line-1/passcode")] == NEW_PASSCODE
    assert ProfileStore().load("line-1").passcode_id == "dtm-line-1b"
    assert [s.state for s in window.model.snapshots()] == [DeviceState.DONE] * 3
    assert len(est_server.issued) == 3 and est_server.post_count == 3, "each unit posted once"
    assert _passcode_dialog() is None
    assert_not_on_screen(NEW_PASSCODE)
    assert_not_on_screen(TEST_PASSCODE)

    window.station_actions.new_passcode.trigger()  # Station > New passcode…, any time
    manual = _passcode_dialog()
    assert manual is not None and manual.reason.text().startswith("Store the next passcode from the CA")
    manual.reject()
    for widget in QApplication.topLevelWidgets():
        if widget.objectName() == "batchSummaryDialog" or widget.isWindow() and widget is not window:
            widget.close()
