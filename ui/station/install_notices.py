"""What the installation itself tells the technician at the station window.

* **Serial permission on first start.** Graphical installers do not show the package's
  post-install note, so once the window is up, a worker opens the USB serial ports
  read-only (:func:`certline.app.device.serial_access.first_start_problem`); a port this user may
  not open gets a warning box naming the group and the fix.
* **Program replaced while running.** A package upgrade replaces the files a frozen
  Certline still reads lazily (:mod:`certline.app.host.program_files`). A timer asks a worker every few
  seconds whether they changed; when they did, the batch is paused after the current
  step and the technician is asked to restart, once.

Only wiring lives here: the checks are Qt-free in ``app/``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer

from certline.app.device.serial_access import first_start_problem
from certline.app.host.program_files import RESTART_MESSAGE, ProgramFiles, at_start
from certline.ui.plumbing.worker import run_in_background
from certline.ui.station.batch_controller import Phase

if TYPE_CHECKING:
    from certline.ui.station.window import MainWindow

log = logging.getLogger(__name__)
PROGRAM_CHECK_INTERVAL_MS = 5_000


def check_serial_permission(window: MainWindow) -> None:
    """Start the serial permission check; a problem becomes a (non-blocking) warning box."""

    def report(problem: str | None) -> None:
        if problem:
            window.show_error(problem)

    run_in_background(first_start_problem, report, owner=window)


class ProgramReplacedWatch:
    """Polls :class:`ProgramFiles` from a worker; on a change pauses the batch and asks for a restart."""

    def __init__(self, window: MainWindow, files: ProgramFiles | None = None) -> None:
        self.window = window
        self.files = files if files is not None else at_start()
        self.notified = False
        self._checking = False
        self.timer = QTimer(window)
        self.timer.setInterval(PROGRAM_CHECK_INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        if self.files.watching:
            self.timer.start()

    def check(self) -> None:
        if self._checking or self.notified:
            return
        self._checking = True
        run_in_background(self.files.replaced, self._checked, self._failed, owner=self.window)

    def _failed(self, _exc: BaseException) -> None:
        self._checking = False

    def _checked(self, replaced: object) -> None:
        self._checking = False
        if not replaced or self.notified:
            return
        self.notified = True
        self.timer.stop()
        controller = self.window.controller
        if controller.phase == Phase.RUNNING and not controller.paused:
            controller.toggle_pause()
        names = ", ".join(str(p) for p in replaced) if isinstance(replaced, list) else str(replaced)
        log.warning("program files replaced while running (%s): batch paused, restart needed", names)
        self.window.show_error(RESTART_MESSAGE.format(files=names))


def install(window: MainWindow) -> ProgramReplacedWatch:
    """Wire both notices to a freshly shown station window."""
    check_serial_permission(window)
    return ProgramReplacedWatch(window)
