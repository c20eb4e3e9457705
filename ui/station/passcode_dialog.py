"""The passcode quota in the station window: the warning before Start and the "New passcode" dialog.

The rules are :mod:`certline.app.station.passcode_change` (the outlook, storing a new passcode, the running
batch going on with it), which ``certline profile set-passcode`` and ``certline batch run`` use
too. Here only the asking: the journal read and the keyring write run on a worker thread; the
typed passcode goes from the field to that worker and the field is cleared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from certline.app.batch.events import LogEvent
from certline.app.config.profile import Profile
from certline.app.security.roles import Action
from certline.app.station.passcode_change import (
    PasscodeRefused,
    QuotaOutlook,
    continue_with_new_passcode,
    quota_outlook,
    set_new_passcode,
)
from certline.ui.plumbing.worker import run_in_background

if TYPE_CHECKING:
    from certline.ui.station.window import MainWindow

log = logging.getLogger(__name__)
translate = QCoreApplication.translate


def _note(w: MainWindow, text: str) -> None:
    """In the log pane (kept) and the status bar (seen)."""
    w.log_panel.add_event(LogEvent(logging.INFO, text))
    w.show_message(text)


class NewPasscodeDialog(QDialog):
    """Asks the engineer for the next passcode, its usage limit, expiry and name (all but the
    passcode optional). Non-modal: the table keeps updating behind it."""

    def __init__(self, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newPasscodeDialog")
        self.setWindowTitle(self.tr("New passcode needed"))
        self.setMaximumWidth(560)
        layout = QVBoxLayout(self)
        self.reason = QLabel(reason)
        self.reason.setObjectName("passcodeWaitReason")
        self.reason.setWordWrap(True)
        layout.addWidget(self.reason)
        hint = QLabel(
            self.tr(
                "Units wait at their last journaled step; nothing has failed. Enter the next "
                "passcode from the CA's portal and the batch goes on with it."
            )
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        form = QFormLayout()
        self.passcode = QLineEdit()
        self.passcode.setObjectName("newPasscode")
        self.passcode.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(self.tr("New passcode:"), self.passcode)
        self.uses = QLineEdit()
        self.uses.setObjectName("newPasscodeUses")
        self.uses.setPlaceholderText(self.tr("e.g. 500 (empty: no limit)"))
        form.addRow(self.tr("Uses allowed:"), self.uses)
        self.expires = QLineEdit()
        self.expires.setObjectName("newPasscodeExpires")
        self.expires.setPlaceholderText(self.tr("YYYY-MM-DD (empty: never)"))
        form.addRow(self.tr("Expires on:"), self.expires)
        self.name = QLineEdit()
        self.name.setObjectName("newPasscodeName")
        self.name.setPlaceholderText(self.tr("its name on the CA's portal (optional)"))
        form.addRow(self.tr("Passcode name:"), self.name)
        layout.addLayout(form)
        self.error = QLabel("")
        self.error.setObjectName("newPasscodeError")
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Use this passcode"))
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def set_reason(self, reason: str) -> None:
        self.reason.setText(reason)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.buttons.setEnabled(True)


def warn_before_start(w: MainWindow, start: Callable[[], None]) -> None:
    """Start the batch, after a warning the operator confirms when the passcode cannot pay for
    every unit plugged in (or for none). The journal read runs on a worker thread."""
    profile = w.session.profile
    journal = w.session.journal
    provider = w.controller.port_provider

    def look() -> QuotaOutlook | None:
        return quota_outlook(profile, journal, len(provider()), expected_phrase="units plugged in")

    def decide(outlook: QuotaOutlook | None) -> None:
        if outlook is None:
            start()
            return
        _note(w, translate("PasscodeQuota", "Passcode: %1").replace("%1", outlook.message))
        if not outlook.short:
            start()
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            translate("PasscodeQuota", "Passcode running out"),
            outlook.message,
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            w,
        )
        box.setObjectName("passcodeWarning")
        box.setInformativeText(
            translate(
                "PasscodeQuota",
                "Start anyway? Before the passcode runs out the batch waits and asks for a new one; "
                "no unit fails because of it.",
            )
        )
        box.button(QMessageBox.StandardButton.Ok).setText(translate("PasscodeQuota", "Start anyway"))
        box.finished.connect(lambda result: start() if result == QMessageBox.StandardButton.Ok else None)
        box.open()

    def unknown(exc: BaseException) -> None:
        log.warning("passcode outlook unavailable (%s); starting without it", exc)
        start()

    run_in_background(look, decide, unknown, owner=w)


class PasscodeAsker:
    """Opens the dialog once when the running batch starts waiting for a new passcode (not again
    after the engineer closed it: Station > New passcode… opens it any time); stores the passcode
    off the GUI thread and lets the batch go on. A locked station asks nobody: changing the
    passcode is the engineer's, like the profile, so it says how to go on instead."""

    def __init__(self, w: MainWindow) -> None:
        self.w = w
        self.dialog: NewPasscodeDialog | None = None
        self._asked_for_this_wait = False

    def on_wait(self, reason: str | None) -> None:
        if reason is None:
            self._asked_for_this_wait = False
            if self.dialog is not None:
                self.dialog.close()
                self.dialog = None
            return
        if self.dialog is not None:
            self.dialog.set_reason(reason)
            return
        if self._asked_for_this_wait:
            return
        self._asked_for_this_wait = True
        if not self.w.session.roles.allows(Action.CHANGE_SECRETS):
            self.w.show_error(
                translate(
                    "PasscodeQuota",
                    "%1\n\nAn engineer unlocks the station and enters it with Station > New passcode….",
                ).replace("%1", reason)
            )
            return
        self.ask(reason)

    def ask(self, reason: str) -> None:
        """Open the dialog (or bring it forward)."""
        if self.dialog is not None:
            self.dialog.set_reason(reason)
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        dialog = NewPasscodeDialog(reason, self.w)
        dialog.buttons.accepted.connect(lambda: self._submit(dialog))
        dialog.finished.connect(lambda _r: self._closed(dialog))
        self.dialog = dialog
        dialog.open()

    def _closed(self, dialog: NewPasscodeDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def _submit(self, dialog: NewPasscodeDialog) -> None:
        value = dialog.passcode.text()
        dialog.passcode.clear()
        uses_text = dialog.uses.text().strip()
        try:
            uses = int(uses_text) if uses_text else None
        except ValueError:
            dialog.show_error(dialog.tr("Uses allowed must be a whole number."))
            return
        expires = dialog.expires.text().strip() or None
        name = dialog.name.text().strip() or None
        session = self.w.session
        profile = session.profile
        dialog.buttons.setEnabled(False)

        def store() -> Profile:
            updated = set_new_passcode(
                profile,
                value,
                max_uses=uses,
                expires=expires,
                passcode_id=name,
                journal=session.journal,
                roles=session.roles,
            )
            continue_with_new_passcode(session, updated, value)
            return updated

        def done(updated: Profile) -> None:
            _note(
                self.w,
                translate("PasscodeQuota", "New passcode in use, counted as %1").replace(
                    "%1", repr(updated.passcode_id)
                ),
            )
            dialog.accept()

        def failed(exc: BaseException) -> None:
            text = str(exc) if isinstance(exc, PasscodeRefused) else f"{type(exc).__name__}: {exc}"
            dialog.show_error(text)

        run_in_background(store, done, failed, owner=dialog)
