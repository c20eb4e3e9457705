"""The station window's actions, their shortcuts, menus and toolbar, declared in one place.

Function keys for the batch (F5 start ... F9 hands-free) because a technician
with gloves and a scanner in one hand finds them without looking; every
action is also in a menu (Alt+letter) so the whole window works without a
mouse.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtCore import QCoreApplication, QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from certline.ui.plumbing.resources import icon

translate = QCoreApplication.translate  # lupdate finds translate("Context", "text") calls


@dataclass
class StationActions:
    start: QAction
    pause: QAction
    stop: QAction
    retry: QAction
    retry_pending: QAction
    skip: QAction
    reprovision: QAction
    hands_free: QAction
    export: QAction
    bundle: QAction
    history: QAction
    profile: QAction
    new_passcode: QAction
    shared_journal: QAction
    line_view: QAction
    lock: QAction
    sign_in: QAction
    large_text: QAction
    quit: QAction
    about: QAction

    def all(self) -> list[QAction]:
        return [getattr(self, f.name) for f in fields(self)]


def _action(
    parent: QObject,
    icon_name: str | None,
    text: str,
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None,
    tip: str,
    *,
    checkable: bool = False,
) -> QAction:
    action = QAction(icon(icon_name) if icon_name else QIcon(), text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    shown = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip} ({shown})" if shown else tip)
    action.setStatusTip(tip)
    action.setCheckable(checkable)
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    return action


def create_actions(window: QMainWindow) -> StationActions:
    return StationActions(
        start=_action(
            window,
            "action-start",
            translate("MainWindow", "&Start"),
            "F5",
            translate("MainWindow", "Start a batch on the connected units"),
        ),
        pause=_action(
            window,
            "action-pause",
            translate("MainWindow", "&Pause"),
            "F6",
            translate("MainWindow", "Pause after the current step"),
            checkable=True,
        ),
        stop=_action(
            window,
            "action-stop",
            translate("MainWindow", "S&top"),
            "F7",
            translate("MainWindow", "Stop the batch after the current step"),
        ),
        retry=_action(
            window,
            "action-retry",
            translate("MainWindow", "&Retry failed"),
            "F8",
            translate("MainWindow", "Run the failed units again"),
        ),
        retry_pending=_action(
            window,
            "action-retry",
            translate("MainWindow", "Retry &pending"),
            "Shift+F8",
            translate("MainWindow", "Ask the EST server again now for the units pending approval"),
        ),
        skip=_action(
            window,
            "action-skip",
            translate("MainWindow", "S&kip selected"),
            QKeySequence(Qt.Key.Key_Delete),
            translate("MainWindow", "Leave the selected units out of this batch"),
        ),
        reprovision=_action(
            window,
            "action-retry",
            translate("MainWindow", "Re-&provision selected unit…"),
            None,
            translate("MainWindow", "Replace the certificate a unit already holds (asks first)"),
        ),
        hands_free=_action(
            window,
            "action-handsfree",
            translate("MainWindow", "&Hands-free"),
            "F9",
            translate("MainWindow", "Provision every unit as soon as it is plugged in"),
            checkable=True,
        ),
        export=_action(
            window,
            "action-export",
            translate("MainWindow", "&Export report…"),
            "Ctrl+E",
            translate("MainWindow", "Save the batch report as CSV or JSON"),
        ),
        bundle=_action(
            window,
            "action-bundle",
            translate("MainWindow", "Save support &bundle…"),
            None,
            translate(
                "MainWindow", "Save logs, this batch and the profile (no secrets) as a zip for support"
            ),
        ),
        history=_action(
            window,
            "action-history",
            translate("MainWindow", "&History"),
            "Ctrl+H",
            translate("MainWindow", "Show past batches"),
        ),
        profile=_action(
            window,
            "action-profile",
            translate("MainWindow", "&Profile editor…"),
            "Ctrl+P",
            translate("MainWindow", "Edit the EST profile of this station"),
        ),
        new_passcode=_action(
            window,
            None,
            translate("MainWindow", "New &passcode…"),
            None,
            translate("MainWindow", "Store the next passcode from the CA; a batch waiting for one goes on"),
        ),
        lock=_action(
            window,
            "action-lock",
            translate("MainWindow", "&Lock station"),
            "Ctrl+L",
            translate("MainWindow", "Lock profiles and settings with the engineer PIN"),
        ),
        sign_in=_action(
            window,
            None,
            translate("MainWindow", "Sign &in…"),
            "Ctrl+I",
            translate("MainWindow", "Sign in as technician or engineer with your PIN, or sign out"),
        ),
        shared_journal=_action(
            window,
            None,
            translate("MainWindow", "Shared &journal…"),
            None,
            translate(
                "MainWindow", "Use the line's shared journal database (PostgreSQL) and test the connection"
            ),
        ),
        line_view=_action(
            window,
            None,
            translate("MainWindow", "&Line view…"),
            None,
            translate("MainWindow", "Shared journal: units per station and which station holds which unit"),
        ),
        large_text=_action(
            window,
            None,
            translate("MainWindow", "&Large text"),
            "Ctrl++",
            translate("MainWindow", "Bigger text for the factory floor"),
            checkable=True,
        ),
        quit=_action(
            window,
            None,
            translate("MainWindow", "&Quit"),
            QKeySequence.StandardKey.Quit,
            translate("MainWindow", "Close Certline"),
        ),
        about=_action(
            window,
            None,
            translate("MainWindow", "&About Certline"),
            None,
            translate("MainWindow", "Version and licence"),
        ),
    )


def build_menus(window: QMainWindow, actions: StationActions) -> tuple[QMenu, QActionGroup]:
    """Menus and toolbar; returns the language menu's group (its actions carry the language code)."""
    bar = window.menuBar()
    batch = bar.addMenu(translate("MainWindow", "&Batch"))
    for action in (
        actions.start,
        actions.pause,
        actions.stop,
        actions.retry,
        actions.retry_pending,
        actions.skip,
    ):
        batch.addAction(action)
    batch.addAction(actions.reprovision)
    batch.addSeparator()
    batch.addAction(actions.hands_free)
    batch.addSeparator()
    batch.addAction(actions.export)
    batch.addAction(actions.history)
    batch.addAction(actions.line_view)
    station = bar.addMenu(translate("MainWindow", "&Station"))
    station.addAction(actions.profile)
    station.addAction(actions.new_passcode)
    station.addAction(actions.shared_journal)
    station.addAction(actions.lock)
    station.addAction(actions.sign_in)
    station.addSeparator()
    station.addAction(actions.bundle)
    station.addSeparator()
    station.addAction(actions.quit)
    view = bar.addMenu(translate("MainWindow", "&View"))
    view.addAction(actions.large_text)
    language_menu = view.addMenu(translate("MainWindow", "&Language"))
    group = QActionGroup(window)
    for code, name in (
        ("auto", translate("MainWindow", "Follow the system")),
        ("en", "English"),
        ("de", "Deutsch"),
    ):
        action = language_menu.addAction(name)
        action.setCheckable(True)
        action.setData(code)
        group.addAction(action)
    help_menu = bar.addMenu(translate("MainWindow", "&Help"))
    help_menu.addAction(actions.about)
    toolbar = QToolBar(translate("MainWindow", "Batch"), window)
    toolbar.setObjectName("batch_toolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
    for action in (
        actions.start,
        actions.pause,
        actions.stop,
        actions.retry,
        actions.skip,
        actions.hands_free,
    ):
        toolbar.addAction(action)
    toolbar.addSeparator()
    for action in (actions.export, actions.history, actions.profile, actions.lock):
        toolbar.addAction(action)
    window.addToolBar(toolbar)
    return language_menu, group
