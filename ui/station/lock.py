"""Station lock in the window: an engineer PIN guards profile editing and settings.

The PIN rules and hashing live in :mod:`app.security.station_lock`; this module only
asks for PINs (masked) and runs the slow PBKDF2 work in a worker. A locked
station still runs batches with the profile it was given.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from app.security.station_lock import MIN_PIN_LENGTH, StationLock
from ui.plumbing.worker import run_in_background


class PinDialog(QDialog):
    """Asks for the engineer PIN, or for a new one twice (``confirm=True``)."""

    def __init__(
        self, title: str, prompt: str, *, confirm: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.pin_edit = QLineEdit(self, echoMode=QLineEdit.EchoMode.Password)
        self.pin_edit.setObjectName("pin")
        self.repeat_edit = QLineEdit(self, echoMode=QLineEdit.EchoMode.Password) if confirm else None
        self.problem = QLabel(self)
        self.problem.setStyleSheet("color: #c62828;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        form = QFormLayout()
        form.addRow(self.tr("&PIN:"), self.pin_edit)
        if self.repeat_edit is not None:
            self.repeat_edit.setObjectName("pin_repeat")
            form.addRow(self.tr("&Repeat PIN:"), self.repeat_edit)
            self.repeat_edit.textChanged.connect(self._validate)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(prompt, self, wordWrap=True))
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.pin_edit.textChanged.connect(self._validate)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._validate()

    def _validate(self) -> None:
        problem = ""
        pin = self.pin_edit.text()
        if self.repeat_edit is not None:
            if len(pin) < MIN_PIN_LENGTH:
                problem = self.tr("At least %1 characters.").replace("%1", str(MIN_PIN_LENGTH))
            elif pin != self.repeat_edit.text():
                problem = self.tr("The two PINs differ.")
        elif not pin:
            problem = " "
        self.problem.setText(problem.strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)

    def pin(self) -> str:
        return self.pin_edit.text()


class LockController(QObject):
    """Knows whether the station is locked and changes it, asking for PINs as needed.

    Attributes:
        locked: the last known state (refreshed in a worker at start).

    Signals:
        locked_changed(bool): the station was locked or unlocked.
        failed(str): wrong PIN or the lock file could not be used.
    """

    locked_changed = Signal(bool)
    failed = Signal(str)

    def __init__(self, lock: StationLock, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.station_lock = lock
        self.locked = False

    def refresh(self) -> None:
        run_in_background(lambda: self.station_lock.locked, self._set_locked, self._failed, owner=self)

    def _set_locked(self, locked: object) -> None:
        self.locked = bool(locked)
        self.locked_changed.emit(self.locked)

    def _failed(self, exc: BaseException) -> None:
        self.failed.emit(str(exc))

    def lock(self, parent: QWidget | None) -> None:
        """Lock; the first time, the engineer chooses the PIN."""
        lock = self.station_lock
        run_in_background(
            lock.has_pin, lambda has: self._lock_with(bool(has), parent), self._failed, owner=self
        )

    def _lock_with(self, has_pin: bool, parent: QWidget | None) -> None:
        lock = self.station_lock
        if has_pin:

            def lock_now() -> bool:
                lock.lock()
                return True

            run_in_background(lock_now, self._set_locked, self._failed, owner=self)
            return
        dialog = PinDialog(
            self.tr("Set engineer PIN"),
            self.tr(
                "Choose the engineer PIN. It is needed to edit profiles and settings while the station "
                "is locked."
            ),
            confirm=True,
            parent=parent,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        pin = dialog.pin()

        def set_and_lock() -> bool:
            lock.set_pin(pin)
            lock.lock()
            return True

        run_in_background(set_and_lock, self._set_locked, self._failed, owner=self)

    def unlock(self, parent: QWidget | None) -> None:
        dialog = PinDialog(
            self.tr("Unlock station"),
            self.tr("Enter the engineer PIN to unlock profiles and settings."),
            parent=parent,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.unlock_with(dialog.pin())

    def unlock_with(self, pin: str) -> None:
        lock = self.station_lock
        run_in_background(lambda: lock.unlock(pin), self._unlocked, self._failed, owner=self)

    def _unlocked(self, ok: object) -> None:
        if ok:
            self._set_locked(False)
        else:
            self.failed.emit(self.tr("Wrong PIN; the station stays locked."))
