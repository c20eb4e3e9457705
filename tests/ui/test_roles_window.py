"""Roles in the station window (issue 19 part 6), started through ``certline-gui``'s entry point.

A locked station with both PINs set: nobody may start a batch until someone signs in; the
technician PIN lets a technician run the batch but not re-provision or edit profiles; the
engineer PIN unlocks both. Every sign-in (and the refused one) is in the audit with its
operator, and no PIN is ever on screen.
"""

from __future__ import annotations

import json

from certline.app.batch.states import DeviceState
from certline.app.config.paths import station_paths
from certline.app.security.station_lock import StationLock
from certline.ui.plumbing.worker import pending_tasks
from tests.helpers.gui_checks import assert_not_on_screen
from tests.ui.test_first_day import WAIT, gui, plug_in_simulated_units, run_batch_to_summary, store_profile  # noqa: F401

ENGINEER_PIN = "8642-eng"
TECHNICIAN_PIN = "1357-tec"


def _locked_station() -> StationLock:
    lock = StationLock.for_config_dir(station_paths().config, iterations=1000)
    lock.set_pin(ENGINEER_PIN)
    lock.set_technician_pin(TECHNICIAN_PIN, engineer_pin=ENGINEER_PIN)
    lock.lock()
    return lock


def _sign_in(qtbot, window, name: str, pin: str) -> None:
    with qtbot.waitSignal(window.lock.operator_changed, timeout=WAIT):
        window.lock.sign_in_with(name, pin)
    qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=WAIT)


def test_sign_in_decides_what_the_window_allows(qtbot, gui, est_server, memory_keyring):  # noqa: F811
    store_profile(est_server, memory_keyring)
    lock = _locked_station()
    gui.start()
    window = gui.window()
    actions = window.station_actions
    qtbot.waitUntil(lambda: window.lock.roles_on and actions.sign_in.isVisible(), timeout=WAIT)
    assert not actions.start.isEnabled() and not actions.profile.isEnabled()
    assert "sign in to start" in window.batch_label.text()
    assert window.table.empty_text.startswith("Sign in (Ctrl+I)")  # the toolbar offers only "Unlock"

    with qtbot.waitSignal(window.lock.failed, timeout=WAIT) as refused:
        window.lock.sign_in_with("tia", "0000-bad")
    assert "Wrong PIN" in refused.args[0] and not actions.start.isEnabled()

    _sign_in(qtbot, window, "tia", TECHNICIAN_PIN)
    assert actions.start.isEnabled() and not actions.profile.isEnabled()
    assert "tia (technician)" in window.batch_label.text()
    assert actions.sign_in.text().replace("&", "") == "Sign out tia"
    assert not window.table.empty_text.startswith("Sign in")
    assert window.station_bar.operator.placeholderText() == "tia (signed in)"  # what an empty field records
    window.grab().save(str(station_paths().data / "roles-technician.png"))

    plug_in_simulated_units(qtbot, window, 2)
    summary = run_batch_to_summary(qtbot, window)
    summary.close()
    assert [s.state for s in window.model.snapshots()] == [DeviceState.DONE] * 2
    assert not actions.reprovision.isEnabled()  # engineers only

    _sign_in(qtbot, window, "ben", ENGINEER_PIN)
    assert actions.profile.isEnabled() and actions.reprovision.isEnabled()
    assert not window.lock.locked and "ben (engineer)" in window.batch_label.text()
    assert window.station_bar.operator.placeholderText() == "ben (signed in)"
    assert_not_on_screen(ENGINEER_PIN)
    assert_not_on_screen(TECHNICIAN_PIN)

    records = [(r["kind"], json.loads(r["payload"])) for r in window.session.journal.audit.records()]
    signs = [(kind, p["operator"], p.get("role")) for kind, p in records if "sign" in kind]
    assert signs == [
        ("sign-in-refused", "tia", None),
        ("operator-signed-in", "tia", "technician"),
        ("operator-signed-in", "ben", "engineer"),
    ]
    gui.quit()  # closing the window ends the engineer's sign-in: the next user finds it locked
    assert lock.locked
    batch = [p for kind, p in records if kind == "batch-started"]
    assert batch and batch[0]["operator"] == "tia"  # nobody typed a name: the signed-in technician
    assert all(p["operator"] == "tia" for kind, p in records if kind.startswith("device-"))


def test_a_lock_file_saved_over_keeps_the_window_locked(qtbot, gui, est_server, memory_keyring):  # noqa: F811
    """The lock file overwritten (an export saved over it): the window starts, runs batches as a
    technician, keeps profiles closed, and sign-in says what is wrong instead of "Wrong PIN"."""
    store_profile(est_server, memory_keyring)
    lock = _locked_station()
    lock.path.write_text('{"name": "line1", "enroll_url": "https://est.example.com"}', encoding="utf-8")
    gui.start()
    window = gui.window()
    actions = window.station_actions
    qtbot.waitUntil(
        lambda: window.lock.roles_on and _error_box_saying("is not a station lock", window), timeout=WAIT
    )
    qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=WAIT)
    assert window.lock.locked and actions.sign_in.isVisible()
    assert (
        actions.start.isEnabled() and not actions.profile.isEnabled() and not actions.reprovision.isEnabled()
    )
    assert "locked" in window.batch_label.text() and "(technician)" in window.batch_label.text()
    window.grab().save(str(station_paths().data / "roles-damaged-lock-start.png"))

    with qtbot.waitSignal(window.lock.failed, timeout=WAIT) as refused:
        window.lock.sign_in_with("ben", ENGINEER_PIN)
    assert "is not a station lock" in refused.args[0] and "Wrong PIN" not in refused.args[0]
    qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=WAIT)
    assert not actions.profile.isEnabled() and not actions.reprovision.isEnabled()
    window.grab().save(str(station_paths().data / "roles-damaged-lock.png"))


def _error_box_saying(text: str, window) -> bool:
    """A warning box the window opened (show_error) holds ``text``; a box stays until closed,
    unlike the status bar, which the next message overwrites."""
    from PySide6.QtWidgets import QMessageBox

    return any(text in box.text() for box in window.findChildren(QMessageBox) if box.isVisible())
