"""Offer to resume a batch this station left unfinished, found in the journal at start-up.

After a crash or a power cut the journal knows exactly which units were mid-way. The window
checks once, in a worker (a SQLite read), and when something is unfinished it enables
"Resume unfinished batch" (Ctrl+R) and says so in the status bar; it never resumes on its own,
because the units may not be connected yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from certline.app.station.resume_choice import ResumeChoice, choose_batch_to_resume
from certline.ui.plumbing.worker import run_in_background

if TYPE_CHECKING:
    from certline.ui.station.window import MainWindow

translate = QCoreApplication.translate


def install(window: MainWindow) -> QAction:
    """Add the (disabled) action next to "Retry failed" and start the journal check."""
    action = QAction(translate("MainWindow", "Resume &unfinished batch"), window)
    action.setShortcut(QKeySequence("Ctrl+R"))
    action.setEnabled(False)
    anchor = window.station_actions.retry
    menu = next((o for o in anchor.associatedObjects() if isinstance(o, QMenu)), None)
    if menu is not None:
        menu.addAction(action)
    window.addAction(action)
    found: dict[str, int] = {}

    def offer(choice: ResumeChoice | None) -> None:
        if choice is None:
            return
        batch_id, units = choice.batch.id, choice.unfinished_units
        found["batch"] = batch_id
        action.setEnabled(True)
        window.show_message(
            translate("MainWindow", "Batch %1 has %2 unfinished unit(s): Ctrl+R resumes it")
            .replace("%1", str(batch_id))
            .replace("%2", str(units))
        )

    def resume() -> None:
        if "batch" in found:
            action.setEnabled(False)
            window.controller.resume_unfinished(found.pop("batch"))

    action.triggered.connect(resume)
    journal, name = window.session.journal, window.session.profile.name
    run_in_background(lambda: choose_batch_to_resume(journal, profile_name=name), offer, owner=window)
    return action
