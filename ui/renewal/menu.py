"""The field-engineer entries of the Station menu: "Re-enroll a unit…" and "Certificate expiry…".

Kept out of :mod:`certline.ui.station.actions` so the batch actions (and their toolbar) stay
the technician's; these two open dialogs and need nothing from the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from certline.ui.renewal.expiry_dialog import ExpiryDialog
    from certline.ui.renewal.reenroll_dialog import ReenrollDialog
    from certline.ui.station.window import MainWindow

translate = QCoreApplication.translate


@dataclass
class FieldActions:
    reenroll: QAction
    expiry: QAction


def install(window: MainWindow, port_provider: Callable[[], list[str]]) -> FieldActions:
    """Add both actions to the menu that holds "Save support bundle…", above "Quit"."""
    actions = FieldActions(
        reenroll=QAction(translate("MainWindow", "&Re-enroll a unit…"), window),
        expiry=QAction(translate("MainWindow", "Certificate e&xpiry…"), window),
    )
    actions.reenroll.setStatusTip(translate("MainWindow", "Renew one unit's certificate before it expires"))
    actions.expiry.setStatusTip(translate("MainWindow", "Every unit of this station by certificate expiry"))
    quit_action = window.station_actions.quit
    menu = next((o for o in quit_action.associatedObjects() if isinstance(o, QMenu)), None)
    if menu is not None:
        menu.insertActions(quit_action, [actions.reenroll, actions.expiry])
        menu.insertSeparator(quit_action)
    actions.reenroll.triggered.connect(lambda: open_reenroll(window, port_provider))
    actions.expiry.triggered.connect(lambda: open_expiry(window))
    return actions


def open_reenroll(window: MainWindow, port_provider: Callable[[], list[str]]) -> ReenrollDialog:
    # the dialogs load when first opened: they bring the EST client and its HTTP stack, ~100 ms of
    # the window's start-up for something a field engineer opens now and then
    from certline.ui.renewal.reenroll_dialog import ReenrollDialog

    dialog = ReenrollDialog(window.session, window, port_provider=port_provider)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def open_expiry(window: MainWindow) -> ExpiryDialog:
    from certline.ui.renewal.expiry_dialog import ExpiryDialog

    dialog = ExpiryDialog(window.session.journal, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
