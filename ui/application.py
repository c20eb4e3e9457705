"""Opening the station window for a session someone else built (``certline demo``, tests).

The launcher (:mod:`certline.ui.gui_main`) builds a session from a stored profile and
the keyring; the demo builds one pointed at the simulator and the local EST
test server. Both end up here.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from certline.app.station import StationSession
from certline.app.station.hands_free import PortProvider
from certline.ui.plumbing.crash import install_excepthook, install_qt_message_handler
from certline.ui.plumbing.i18n import install_translators
from certline.ui.plumbing.resources import app_icon
from certline.ui.plumbing.settings import LANGUAGE, UiSettings
from certline.ui.station import commands as window_commands
from certline.ui.station.monitor import keyring_secret_status
from certline.ui.station.window import MainWindow


def ensure_application(
    argv: Sequence[str] | None = None, *, settings: UiSettings | None = None
) -> QApplication:
    """The running QApplication, or a new one with Certline's name, icon, translations and crash hook."""
    existing = QCoreApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    if existing is not None:
        raise RuntimeError("a non-GUI QCoreApplication is already running")
    from PySide6.QtCore import Qt

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName("Certline")
    app.setOrganizationName("Certline")
    app.setApplicationDisplayName("Certline")
    app.setDesktopFileName("certline")
    app.setWindowIcon(app_icon())
    install_qt_message_handler()  # Qt's warnings go to the log file, not a console nobody reads
    install_excepthook()  # an error in a slot: crash report + dialog, the batch keeps running
    install_translators(app, str((settings or UiSettings()).get(LANGUAGE)))
    return app


def settle_garbage_collector() -> None:
    """Move the long-lived start-up objects (Qt wrappers, modules) out of the collected generations.

    A full collection during a batch otherwise walks all of them with the GIL held and stalls the
    event loop for 30-50 ms (docs/benchmarks.md, GUI responsiveness); objects made later are
    collected as usual.
    """
    gc.collect()
    gc.freeze()


def open_station_window(
    session: StationSession,
    port_provider: PortProvider,
    *,
    autostart: bool = False,
    settings: UiSettings | None = None,
    keyring_check: bool = False,
    show: bool = True,
) -> MainWindow:
    """Build, show and return the station window for ``session``.

    ``autostart`` starts a batch on ``port_provider()``'s ports as soon as the event
    loop runs. ``keyring_check`` shows whether the keyring holds the profile's secret;
    leave it off when the session was given its secret directly (the demo). The caller
    runs ``app.exec()`` and closes the session afterwards.
    """
    settings = settings or UiSettings()
    ensure_application(settings=settings)
    window = MainWindow(
        session,
        port_provider,
        settings=settings,
        secret_check=keyring_secret_status if keyring_check else None,
    )
    settle_garbage_collector()
    if show:
        window.show()
    if autostart:
        QTimer.singleShot(0, lambda: window_commands.start(window))
    return window
