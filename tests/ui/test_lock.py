"""The engineer PIN: hashed (never stored), constant-time checked, and what locking stops in the window."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from certline.app.security.station_lock import StationLock, StationLockError
from certline.ui.station.lock import PinDialog


@pytest.fixture
def lock(tmp_path) -> StationLock:
    return StationLock(tmp_path / "config" / "station-lock.json", iterations=1000)


def test_pin_is_stored_only_as_a_salted_hash(lock):
    lock.set_pin("4711-ab")
    stored = lock.path.read_text()
    assert "4711-ab" not in stored
    data = json.loads(stored)["pin"]
    assert data["algorithm"] == "pbkdf2-hmac-sha256" and data["salt"] and data["hash"]
    assert oct(lock.path.stat().st_mode & 0o777) == "0o600"
    assert lock.verify("4711-ab") and not lock.verify("4711-ac")


def test_lock_needs_a_pin_and_unlock_needs_the_right_one(lock):
    with pytest.raises(StationLockError):
        lock.lock()
    lock.set_pin("2468")
    lock.lock()
    assert lock.locked
    assert not lock.unlock("1357") and lock.locked
    assert lock.unlock("2468") and not lock.locked


def test_changing_the_pin_needs_the_current_one(lock):
    lock.set_pin("2468")
    with pytest.raises(StationLockError):
        lock.set_pin("9999", current_pin="0000")
    lock.set_pin("9999", current_pin="2468")
    assert lock.verify("9999")
    with pytest.raises(StationLockError):
        lock.set_pin("12")  # too short


def test_pin_dialog_for_a_new_pin_wants_it_twice(qtbot):
    dialog = PinDialog("Set engineer PIN", "Choose a PIN", confirm=True)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.pin_edit.setText("2468")
    dialog.repeat_edit.setText("2467")
    assert not ok.isEnabled() and dialog.problem.text()
    dialog.repeat_edit.setText("2468")
    assert ok.isEnabled()
    assert dialog.pin_edit.echoMode() == dialog.pin_edit.EchoMode.Password


def test_locked_station_runs_batches_but_cannot_edit_profiles(qtbot, window):
    window.lock.station_lock.set_pin("2468")
    with qtbot.waitSignal(window.lock.locked_changed, timeout=10_000, check_params_cb=lambda locked: locked):
        window.lock.lock(window)
    assert window.lock.locked
    assert not window.station_actions.profile.isEnabled()
    assert window.station_actions.start.isEnabled()
    assert "Unlock" in window.station_actions.lock.text().replace("&", "")
    with qtbot.waitSignal(window.lock.failed, timeout=10_000) as refused:
        window.lock.unlock_with("1111")
    assert "Wrong PIN" in refused.args[0] and window.lock.locked
    with qtbot.waitSignal(
        window.lock.locked_changed, timeout=10_000, check_params_cb=lambda locked: not locked
    ):
        window.lock.unlock_with("2468")
    assert window.station_actions.profile.isEnabled()
