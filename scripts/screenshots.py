"""Screenshots for the docs from a real run: ``xvfb-run -a .venv/bin/python scripts/screenshots.py``.

Everything on the pictures is real: the station is started through ``certline-gui``'s own
entry (:func:`certline.ui.gui_main.start`) with no profile, against the local HTTPS EST test server
(``certline.app.estserver``), and batches run on simulated units on real pseudo-terminals, plugged in
the way a trainer does (Help > Use simulated units). The script walks the first day: the
first-run dialog, the bootstrap (fingerprint) dialog, the filled-in profile, the empty
station, a batch with one unit that refuses its certificate, its summary, and a second batch
where every unit succeeds. The passcode goes into an in-memory keyring, never the user's.
PNGs go to ``docs/screenshots/`` (``--out``); look at every one before committing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
HOME = Path(tempfile.mkdtemp(prefix="certline-shots-"))
os.environ["CERTLINE_HOME"] = str(HOME / "station")  # never the user's profiles, journal or settings

import keyring  # noqa: E402
from keyring.backend import KeyringBackend  # noqa: E402
from keyring.compat import properties  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtWidgets import QDialogButtonBox, QWidget  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
LABEL = "cps/IOT_7c1d9a52-3f1e-4a8b-9d2e-0c6b5f4a1e93"
UNITS = 8
FAILING_UNIT = 3  # refuses to store its certificate: the failure case
SLOW_UNITS = (5, 6, 7)  # still working when the first picture is taken
_out = OUT


class MemoryKeyring(KeyringBackend):
    """The passcode lives in this process only."""

    @properties.classproperty
    def priority(cls) -> float:
        return 0.1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


def wait_until(condition: Callable[[], object], timeout_s: float = 60.0) -> None:
    deadline = datetime.now() + timedelta(seconds=timeout_s)
    while not condition():
        if datetime.now() > deadline:
            raise TimeoutError("the station did not reach the expected state")
        settle(50)


def settle(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, name: str) -> None:
    settle()
    path = _out / f"{name}.png"
    widget.grab().save(str(path))
    print(f"saved {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-text", action="store_true", help="take the pictures with large text on")
    parser.add_argument("--language", default="en", help="UI language (en, de)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to save the PNGs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    global _out
    _out = args.out
    keyring.set_keyring(MemoryKeyring())

    from certline.app.est.bootstrap import normalise_fingerprint
    from certline.app.estserver import EstTestServer
    from certline.app.sim.flash import Flash
    from certline.ui import gui_main as launch
    from certline.ui.plumbing.settings import LANGUAGE, UiSettings
    from certline.ui.profiles.editor import ProfileEditor
    from certline.ui.station import commands as window_commands
    from certline.ui.station import simulated_units

    UiSettings().set(LANGUAGE, args.language)
    passcode = secrets.token_urlsafe(16)
    server = EstTestServer(state_dir=HOME / "est-server", passcode=passcode)
    server.start()
    launcher = launch.start([])
    assert launcher is not None, "no display: run under xvfb-run"
    try:
        # -- first run: no profile yet ----------------------------------------------------------
        wait_until(lambda: launcher.first_profile_editor is not None)
        editor = launcher.first_profile_editor
        assert isinstance(editor, ProfileEditor)
        editor.resize(820, 660)
        wait_until(editor.isVisible)
        save(editor, "first-run")

        editor.form.editor("name").setFocus()
        editor.form.editor("name").insert("acme-line-1")
        QGuiApplication.clipboard().setText(server.est_base(LABEL))  # as copied from the DTM console
        editor.form.editor("enroll_url").setFocus()
        editor.form.editor("enroll_url").paste()
        editor.form.bootstrap_button.click()
        dialog = editor.bootstrap_dialog
        wait_until(lambda: dialog.rows)
        root_fp = normalise_fingerprint(server.ca_fingerprint)
        for row in dialog.rows:
            if row.fingerprint == root_fp:
                row.pasted.setText(server.ca_fingerprint)  # read out by the PKI administrator
            else:
                row.ticked.setChecked(True)
        save(dialog, "bootstrap-dialog")
        dialog.pin_button.click()
        wait_until(lambda: root_fp in editor.form.trust_label.text())
        editor.form.secret_edit.setFocus()
        editor.form.secret_edit.insert(passcode)
        save(editor, "profile-editor")
        editor.buttons.button(QDialogButtonBox.StandardButton.Save).click()

        # -- the station window ---------------------------------------------------------------
        wait_until(lambda: launcher.window is not None and launcher.window.isVisible())
        window = launcher.window
        assert window is not None
        if args.large_text:
            window.station_actions.large_text.setChecked(True)
        window.resize(1440, 900)
        window.station_bar.work_order.setText("WO-2024-0815")
        window.station_bar.operator.setText("m.keller")
        wait_until(lambda: window.station_bar.server.text() not in ("", "checking…"))
        settle(800)
        save(window, "station-empty")

        window.station_actions.profile.trigger()
        wait_until(lambda: window.findChild(ProfileEditor) is not None)
        profile_editor = window.findChild(ProfileEditor)
        profile_editor.resize(820, 660)
        profile_editor.form.setCurrentIndex(1)
        save(profile_editor, "profile-editor-authentication")
        profile_editor.reject()

        # -- a batch with one failing unit ---------------------------------------------------
        ready: list[int] = []
        window.simulated_units_ready.connect(ready.append)
        faults = [f"dev{FAILING_UNIT}:refuse"] + [f"dev{i}:slow=0.3" for i in SLOW_UNITS]
        simulated_units.use(window, UNITS, keygen_latency=0.4, faults=faults)
        wait_until(lambda: ready)
        shown: list[QWidget] = []
        window.summary_shown.connect(shown.append)
        window_commands.start(window)
        wait_until(lambda: window.counters.failed.value_text() == "1")
        wait_until(lambda: sum(s.state.value == "done" for s in window.model.snapshots()) >= 4)
        window.model.flush()
        failed_row = next(r for r, s in enumerate(window.model.snapshots()) if s.state.value == "failed")
        window.table.selectRow(failed_row)
        wait_until(lambda: window.details.steps.rowCount() > 1)
        save(window, "station-batch-with-failure")
        wait_until(lambda: shown, 120)
        save(shown[-1], "batch-summary-failure")
        shown[-1].close()
        window.table.selectRow(0)
        window.details.setCurrentIndex(1)
        save(window, "station-batch-finished")

        # -- a second bench where every unit succeeds --------------------------------------------
        ready.clear()
        second_tray = HOME / "bench-2"
        for index in range(4):  # another tray: units with their own serial numbers
            Flash(second_tray / f"certline-{index}.flash.json").update(serial=f"CL-{101 + index:06d}")
        simulated_units.use(window, 4, keygen_latency=0.2, state_dir=second_tray)
        wait_until(lambda: ready)
        count = len(shown)
        window_commands.start(window)
        wait_until(lambda: len(shown) > count, 120)
        save(shown[-1], "batch-summary")
        shown[-1].close()

        # -- roles: a locked station, a technician signed in (docs/roles.md) --------------------

        lock = window.lock.station_lock
        lock.set_pin("8642-eng")
        lock.set_technician_pin("1357-tec", engineer_pin="8642-eng")
        window.lock.lock(window)
        wait_until(lambda: window.lock.locked)
        window.lock.sign_in_with("m.keller", "1357-tec")
        wait_until(lambda: window.lock.signed_in)
        settle(600)
        save(window, "station-roles-technician")
    finally:
        window_commands.confirm_quit = lambda _window: True
        if launcher.window is not None:
            launcher.window.close()
        settle(200)
        launcher.close()
        server.stop()
        shutil.rmtree(HOME, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
