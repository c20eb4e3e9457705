"""A first-time user's day (issue 14), through ``certline-gui``'s own entry point.

Every test starts the station with :func:`certline.ui.gui_main.start` -- what the ``certline-gui``
script's ``main`` runs before the event loop -- never by constructing widgets, against the
EST test server (real TLS on 127.0.0.1) and simulated units on real pseudo-terminals, plugged
in through Help > "Use simulated units…" like a trainer would. After each step every visible
widget's text is scanned for the passcode.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QInputDialog

from certline.app.batch.states import DeviceState
from certline.app.config.paths import station_paths
from certline.app.config.profile import AuthStyle, Profile
from certline.app.config.profile_store import ProfileStore
from certline.ui import gui_main as launch
from certline.ui.plumbing.settings import LANGUAGE, LAST_PROFILE, UiSettings
from certline.ui.plumbing.worker import pending_tasks
from certline.ui.station.batch_controller import Phase
from certline.ui.station.window import MainWindow
from tests.helpers.estserver_fixture import DTM_LABEL, TEST_PASSCODE
from tests.helpers.gui_checks import assert_not_on_screen, covered

WAIT = 60_000
UNITS = 3


class Gui:
    """Starts the station through the entry point; closes what it started."""

    def __init__(self, qtbot) -> None:
        self.qtbot = qtbot
        self.launcher: launch.Launcher | None = None

    def start(self, *argv: str) -> launch.Launcher:
        launcher = launch.start(list(argv))
        assert launcher is not None
        self.launcher = launcher
        return launcher

    def window(self) -> MainWindow:
        self.qtbot.waitUntil(lambda: self.launcher.window is not None, timeout=WAIT)
        window = self.launcher.window
        self.qtbot.waitUntil(window.isVisible, timeout=WAIT)
        return window

    def quit(self) -> None:
        """What closing the window does to ``main``: the loop ends, then ``launcher.close()``."""
        if self.launcher is None:
            return
        if self.launcher.window is not None and self.launcher.window.isVisible():
            self.launcher.window.close()
        self.qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=WAIT)
        self.launcher.close()
        self.launcher = None


@pytest.fixture
def gui(qtbot, qapp, memory_keyring, monkeypatch) -> Iterator[Gui]:
    from certline.ui.station import commands as window_commands

    monkeypatch.setattr(window_commands, "confirm_quit", lambda _window: True)
    helper = Gui(qtbot)
    try:
        yield helper
    finally:
        helper.quit()
        for widget in QApplication.topLevelWidgets():
            widget.close()
        qapp.setQuitOnLastWindowClosed(True)


def store_profile(server, memory_keyring, name: str = "line-1") -> Profile:
    profile = Profile(
        name=name,
        enroll_url=server.est_base(DTM_LABEL),
        reenroll_url=server.est_base(DTM_LABEL, clientauth=True),
        auth_style=AuthStyle.PASSCODE_ONLY,
        ca_bundle_pem=server.ca_pem,
        subject_template={"CN": "{serial}", "O": "Certline Test"},
    )
    ProfileStore().save(profile)
    memory_keyring.set_password("certline", f"{name}/passcode", TEST_PASSCODE)
    return profile


def plug_in_simulated_units(qtbot, window: MainWindow, count: int = UNITS) -> None:
    """Help > Use simulated units…, type the count, OK."""
    window.simulated_action.trigger()
    dialog = window.findChild(QInputDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.setIntValue(count)
    with qtbot.waitSignal(window.simulated_units_ready, timeout=WAIT):
        dialog.accept()
    assert len(window.port_choice.ports()) == count


def run_batch_to_summary(qtbot, window: MainWindow):
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    return shown.args[0]


def files_holding(secret: str) -> list[str]:
    paths = station_paths()
    roots = [paths.data, paths.config, paths.logs, paths.cache]
    return [
        str(f)
        for root in roots
        if root.exists()
        for f in root.rglob("*")
        if f.is_file() and secret.encode() in f.read_bytes()
    ]


def create_first_profile(qtbot, gui: Gui, est_server) -> MainWindow:
    """No profile yet: the first-run dialog, a pasted DTM URL, the bootstrap by fingerprint, Save."""
    from certline.app.est.bootstrap import normalise_fingerprint

    launcher = gui.start()
    qtbot.waitUntil(lambda: launcher.first_profile_editor is not None, timeout=WAIT)
    editor = launcher.first_profile_editor
    qtbot.waitUntil(editor.isVisible)
    assert not any(f.problem.text() for f in editor.form.fields.values()), "red before anything typed"

    qtbot.keyClicks(editor.form.editor("name"), "line-1")
    url = est_server.est_base(DTM_LABEL)  # as copied from the DTM console
    QGuiApplication.clipboard().setText(url)
    editor.form.editor("enroll_url").setFocus()
    editor.form.editor("enroll_url").paste()
    assert editor.form.editor("enroll_url").text() == url

    editor.form.bootstrap_button.click()
    dialog = editor.bootstrap_dialog
    qtbot.waitUntil(lambda: bool(dialog.rows), timeout=WAIT)
    root = normalise_fingerprint(est_server.ca_fingerprint)
    pasted = 0
    for row in dialog.rows:
        if row.fingerprint == root:  # the root's fingerprint, as sent by the PKI administrator
            qtbot.keyClicks(row.pasted, est_server.ca_fingerprint)
            pasted += 1
        else:  # the TLS and intermediate certificates: compared by eye
            row.ticked.setChecked(True)
    assert pasted == 1
    assert dialog.pin_button.isEnabled()
    assert_not_on_screen(TEST_PASSCODE)
    dialog.pin_button.click()
    qtbot.waitUntil(lambda: root in editor.form.trust_label.text(), timeout=WAIT)

    qtbot.keyClicks(editor.form.secret_edit, TEST_PASSCODE)
    assert_not_on_screen(TEST_PASSCODE)
    editor.buttons.button(editor.buttons.StandardButton.Save).click()
    window = gui.window()  # the station opens; the application did not quit on the way
    assert "line-1" in window.windowTitle()
    return window


def test_a_first_run_creates_the_profile_and_opens_the_station(qtbot, gui, est_server, memory_keyring):
    window = create_first_profile(qtbot, gui, est_server)
    qtbot.waitUntil(lambda: window.station_bar.server.text() == "reachable", timeout=WAIT)
    assert memory_keyring.entries[("certline", "line-1/passcode")] == TEST_PASSCODE
    assert_not_on_screen(TEST_PASSCODE)
    gui.quit()
    assert UiSettings().get(LAST_PROFILE) == "line-1"
    journal = station_paths().journal
    assert journal.exists()
    assert not list(journal.parent.glob("*-wal")) and not list(journal.parent.glob("*-shm"))
    assert files_holding(TEST_PASSCODE) == []


def test_b_c_batch_to_the_summary_then_start_again(qtbot, gui, est_server, memory_keyring):
    store_profile(est_server, memory_keyring)
    gui.start()
    window = gui.window()
    plug_in_simulated_units(qtbot, window)
    summary = run_batch_to_summary(qtbot, window)
    qtbot.waitUntil(summary.isVisible)
    assert [s.state for s in window.model.snapshots()] == [DeviceState.DONE] * UNITS
    assert summary.headline.text() == f"All {UNITS} units provisioned and verified."
    assert summary.failed_table is None
    assert covered(summary, summary.headline) == [], "something lies over the headline"
    assert window.log_panel.visible_messages(), "the log panel shows the batch"
    assert_not_on_screen(TEST_PASSCODE)
    summary.close()
    gui.quit()

    # (c) start again: the profile is remembered and nothing is offered for resume
    gui.start()
    window = gui.window()
    assert "line-1" in window.windowTitle()
    qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=WAIT)
    assert not window.resume_action.isEnabled()
    assert_not_on_screen(TEST_PASSCODE)


def test_e_re_enroll_one_unit_from_the_menu(qtbot, gui, est_server, memory_keyring):
    store_profile(est_server, memory_keyring)
    gui.start()
    window = gui.window()
    plug_in_simulated_units(qtbot, window, 1)
    summary = run_batch_to_summary(qtbot, window)
    summary.close()
    qtbot.waitUntil(lambda: window.controller.phase is Phase.IDLE, timeout=WAIT)
    window.field_actions.reenroll.trigger()
    from certline.ui.renewal.reenroll_dialog import ReenrollDialog

    dialog = window.findChild(ReenrollDialog)
    assert dialog is not None and dialog.port.currentText() == window.port_choice.ports()[0]
    dialog.read_button.click()
    qtbot.waitUntil(lambda: not dialog.busy and dialog.renew_button.isEnabled(), timeout=WAIT)
    dialog.renew_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT)
    assert dialog.status.text().startswith("Renewed"), dialog.status.text()
    assert_not_on_screen(TEST_PASSCODE)
    # old and new fit a line PC's screen (they were side by side, 1562 px wide at the least)
    assert dialog.minimumSizeHint().width() <= 1024, dialog.minimumSizeHint()
    assert dialog.before.isVisible() and dialog.after.isVisible() and not dialog.current.isVisible()
    dialog.grab().save(str(station_paths().data / "reenroll-renewed.png"))


def test_f_german_walks_the_same_path(qtbot, gui, est_server, memory_keyring, qapp):
    from certline.ui.plumbing.i18n import remove_translators

    UiSettings().set(LANGUAGE, "de")  # View > Language > Deutsch, chosen in an earlier session
    try:
        window = create_first_profile(qtbot, gui, est_server)
        assert window.station_actions.quit.text() != "&Quit"  # the menus speak German
        assert memory_keyring.entries[("certline", "line-1/passcode")] == TEST_PASSCODE
        plug_in_simulated_units(qtbot, window, 2)
        summary = run_batch_to_summary(qtbot, window)
        qtbot.waitUntil(summary.isVisible)
        assert [s.state for s in window.model.snapshots()] == [DeviceState.DONE] * 2
        assert "provisioned" not in summary.headline.text()  # German, not English
        assert covered(summary, summary.headline) == []
        assert_not_on_screen(TEST_PASSCODE)
        summary.close()
    finally:
        gui.quit()
        remove_translators(qapp)
    assert files_holding(TEST_PASSCODE) == []


def gui_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    import os

    env = dict(os.environ, **(extra or {}))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


@pytest.mark.slow
def test_d_killed_mid_batch_then_resumed(qtbot, gui, est_server, memory_keyring):
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers import env_keyring

    store_profile(est_server, memory_keyring)
    env = gui_environment(env_keyring.environment({("certline", "line-1/passcode"): TEST_PASSCODE}))
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.ui.gui_child", "batch", str(UNITS), "3.0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "RUNNING", "the station did not start a batch"
        time.sleep(1.0)  # the units are generating their keys
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    gui.start()
    window = gui.window()
    qtbot.waitUntil(window.resume_action.isEnabled, timeout=WAIT)  # offered, not started on its own
    assert window.controller.phase is Phase.IDLE
    plug_in_simulated_units(qtbot, window)
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.resume_action.trigger()
    summary = shown.args[0]
    assert [s.state for s in window.model.snapshots()] == [DeviceState.DONE] * UNITS
    assert len({s.serial_number for s in window.model.snapshots()}) == UNITS
    assert len(est_server.issued) == UNITS, "nothing is issued twice for one unit"
    assert covered(summary, summary.headline) == []
    assert_not_on_screen(TEST_PASSCODE)
    summary.close()


def test_a_in_a_real_process_the_station_stays_open_after_the_first_profile(est_server):
    """Issue 14.2: Save closed the dialog, Qt quit (status 0, no window), the session leaked."""
    import subprocess
    import sys

    from tests.helpers import env_keyring

    env = gui_environment(env_keyring.environment({}))
    env["CERTLINE_TEST_PASSCODE"] = TEST_PASSCODE
    url = est_server.est_base(DTM_LABEL)
    done = subprocess.run(
        [sys.executable, "-m", "tests.ui.gui_child", "first-run", url, est_server.ca_fingerprint],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.splitlines() == ["WINDOW"], (done.stdout, done.stderr[-2000:])
    assert done.returncode == 0
    journal = station_paths().journal
    assert journal.exists()
    assert not list(journal.parent.glob("*-wal")) and not list(journal.parent.glob("*-shm"))
    assert UiSettings().get(LAST_PROFILE) == "line-1"
    assert files_holding(TEST_PASSCODE) == []


@pytest.mark.parametrize("display", [None, ":987"], ids=["unset", "stale"])
def test_no_display_says_so_and_exits_non_zero_without_a_core_dump(display):
    """Issue 14.5: Qt aborted (SIGABRT, rc 134) with a misleading xcb-cursor message."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    if display is not None:
        env["DISPLAY"] = display  # no X server listens there
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from certline.ui.gui_main import main; sys.exit(main())"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == launch.NO_DISPLAY, (done.returncode, done.stderr)
    assert done.stderr.count("no display available") == 1, done.stderr  # said once, not logged again
    assert "xcb" not in done.stderr
