"""The station as a technician runs it, in a child process a test can watch or kill (issue 14).

Started as ``python -m tests.ui.gui_child MODE ...``; it starts exactly as the ``certline-gui``
script does (:func:`certline.ui.gui_main.start`, the event loop, ``launcher.close()``) and then does what
the technician would:

* ``batch UNITS KEYGEN_SECONDS``: Help > Use simulated units, Start (F5); prints ``RUNNING``
  once the batch has started and runs until killed (journey d).
* ``first-run URL FINGERPRINT``: fills the first-run dialog (name ``line-1``, the URL, the
  bootstrap with the root CA's fingerprint, the passcode from ``CERTLINE_TEST_PASSCODE``),
  saves, prints ``WINDOW`` when the station window is shown and closes it, so the process
  must end by itself with status 0 (issue 14.2).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from certline.ui import gui_main as launch
from certline.ui.station import simulated_units


def when(condition: Callable[[], object], then: Callable[[], None]) -> None:
    """Run ``then`` on the GUI thread once ``condition()`` is true (polled every 50 ms)."""

    def poll() -> None:
        if condition():
            then()
        else:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(0, poll)


def batch(launcher: launch.Launcher, units: int, keygen: float) -> None:
    def go() -> None:
        window = launcher.window
        assert window is not None
        window.controller.batch_started.connect(lambda _id: print("RUNNING", flush=True))
        window.simulated_units_ready.connect(lambda _n: window.station_actions.start.trigger())
        simulated_units.use(window, units, keygen_latency=keygen)

    when(lambda: launcher.window is not None, go)


def first_run(launcher: launch.Launcher, url: str, fingerprint: str) -> None:
    from certline.app.est.bootstrap import normalise_fingerprint

    root = normalise_fingerprint(fingerprint)

    def fill() -> None:
        editor = launcher.first_profile_editor
        assert editor is not None
        editor.form.editor("name").insert("line-1")
        editor.form.editor("enroll_url").insert(url)
        editor.form.bootstrap_button.click()
        dialog = editor.bootstrap_dialog

        def confirm() -> None:
            for row in dialog.rows:
                if row.fingerprint == root:
                    row.pasted.setText(fingerprint)
                else:
                    row.ticked.setChecked(True)
            dialog.pin_button.click()
            editor.form.secret_edit.insert(os.environ["CERTLINE_TEST_PASSCODE"])
            editor.buttons.button(QDialogButtonBox.StandardButton.Save).click()

        when(lambda: dialog.rows, confirm)

    def opened() -> None:
        print("WINDOW", flush=True)
        QTimer.singleShot(300, launcher.window.close)

    when(lambda: launcher.first_profile_editor is not None, fill)
    when(lambda: launcher.window is not None and launcher.window.isVisible(), opened)


def main() -> int:
    mode, args = sys.argv[1], sys.argv[2:]
    launcher = launch.start([])
    if launcher is None:
        return launch.NO_DISPLAY
    app = QApplication.instance()
    assert app is not None
    if mode == "batch":
        batch(launcher, int(args[0]), float(args[1]))
    else:
        first_run(launcher, args[0], args[1])
    try:
        return app.exec()
    finally:
        launcher.close()


if __name__ == "__main__":
    sys.exit(main())
