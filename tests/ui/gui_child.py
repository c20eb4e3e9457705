"""The station as a technician runs it, in a child process a test can kill (issue 14, journey d).

Started as ``python -m tests.ui.gui_child UNITS KEYGEN_SECONDS [certline-gui args]``. It starts
exactly as the ``certline-gui`` script does (:func:`ui.launch.start`, then the event loop), then
does what the technician would: Help > Use simulated units, Start (F5). It prints ``RUNNING``
once the batch has started and runs until killed.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ui import launch, simulated_units


def main() -> int:
    units, keygen = int(sys.argv[1]), float(sys.argv[2])
    launcher = launch.start(sys.argv[3:])
    if launcher is None:
        return launch.NO_DISPLAY
    app = QApplication.instance()
    assert app is not None

    def drive() -> None:
        window = launcher.window
        if window is None:
            QTimer.singleShot(50, drive)
            return
        window.controller.batch_started.connect(lambda _id: print("RUNNING", flush=True))
        window.simulated_units_ready.connect(lambda _n: window.station_actions.start.trigger())
        simulated_units.use(window, units, keygen_latency=keygen)

    QTimer.singleShot(0, drive)
    try:
        return app.exec()
    finally:
        launcher.close()


if __name__ == "__main__":
    sys.exit(main())
