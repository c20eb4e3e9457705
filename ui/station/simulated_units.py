"""Help > "Use simulated units…": the real station window on simulated units, for training.

A trainer walks a new technician through the real window without hardware:
this asks how many units, starts them through :class:`certline.app.station.simulated_units.PortChoice`
(in a worker: opening pseudo-terminals and booting firmware takes a moment)
and from then on every batch, re-enroll and resume of this window runs on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QMenu

from certline.app.station.simulated_units import MAX_UNITS
from certline.ui.plumbing.worker import run_in_background

if TYPE_CHECKING:
    from certline.ui.station.window import MainWindow

translate = QCoreApplication.translate

DEFAULT_UNITS = 4


def install(window: MainWindow) -> QAction:
    """Add the action to the Help menu (next to "About")."""
    action = QAction(translate("MainWindow", "Use &simulated units…"), window)
    action.setStatusTip(
        translate("MainWindow", "Run batches on simulated units instead of USB ports (training)")
    )
    about = window.station_actions.about
    menu = next((o for o in about.associatedObjects() if isinstance(o, QMenu)), None)
    if menu is not None:
        menu.insertAction(about, action)
        menu.insertSeparator(about)
    action.triggered.connect(lambda: ask(window))
    return action


def ask(window: MainWindow) -> QInputDialog:
    """Ask for the number of units (window-modal, no nested event loop), then start them."""
    dialog = QInputDialog(window)
    dialog.setWindowTitle(translate("MainWindow", "Use simulated units"))
    dialog.setLabelText(
        translate(
            "MainWindow",
            "How many simulated units should be plugged in? Batches then run on them instead of "
            "the USB ports, against this profile's EST server.",
        )
    )
    dialog.setInputMode(QInputDialog.InputMode.IntInput)
    dialog.setIntRange(1, MAX_UNITS)
    dialog.setIntValue(DEFAULT_UNITS)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.intValueSelected.connect(lambda count: use(window, count))
    dialog.open()
    return dialog


def use(window: MainWindow, count: int, **options: Any) -> None:
    """Start ``count`` simulated units for the window's profile; says so in the status bar.

    ``options`` go to :meth:`certline.app.station.simulated_units.PortChoice.use_simulated` (tests, screenshots).
    """
    profile, choice = window.session.profile, window.port_choice
    window.show_message(translate("MainWindow", "Starting simulated units…"))
    run_in_background(
        lambda: choice.use_simulated(count, profile.driver, profile.baud, **options),
        lambda ports: _started(window, ports),
        lambda exc: window.show_error(
            translate("MainWindow", "Simulated units could not be started: %1").replace("%1", str(exc))
        ),
        owner=window,
    )


def _started(window: MainWindow, ports: object) -> None:
    count = len(ports) if isinstance(ports, list) else 0
    window.simulated_label.setText(translate("MainWindow", "%1 simulated units").replace("%1", str(count)))
    window.simulated_label.show()
    window.show_message(
        translate("MainWindow", "%1 simulated units plugged in: Start (F5) runs a batch on them").replace(
            "%1", str(count)
        )
    )
    window.simulated_units_ready.emit(count)
