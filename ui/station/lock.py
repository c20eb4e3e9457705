"""Station lock and sign-in in the window: the engineer PIN guards profiles and settings,
the technician PIN (if set) the batch controls.

The rules live in :mod:`certline.app.security.roles` and :mod:`certline.app.security.station_lock`, the use
cases in :mod:`certline.app.station.sign_in`; this module only asks for names and PINs (masked) and
runs the slow PBKDF2 work in a worker. A locked station still runs batches.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from certline.app.security.roles import Operator, Role
from certline.app.security.station_lock import (
    MIN_PIN_LENGTH,
    LockStatus,
    StationLock,
    StationLockError,
    StationLockUnreadable,
)
from certline.app.station.session import StationSession
from certline.app.station.sign_in import lock_station, sign_in, sign_out
from certline.ui.plumbing.worker import run_in_background


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


class SignInDialog(QDialog):
    """Name and PIN: the PIN says the role (technician or engineer), the name goes into the audit."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Sign in"))
        self.name_edit = QLineEdit(name, self)
        self.name_edit.setObjectName("operator_name")
        self.pin_edit = QLineEdit(self, echoMode=QLineEdit.EchoMode.Password)
        self.pin_edit.setObjectName("pin")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        form = QFormLayout()
        form.addRow(self.tr("&Name:"), self.name_edit)
        form.addRow(self.tr("&PIN:"), self.pin_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                self.tr(
                    "Technicians sign in with the technician PIN, engineers with the engineer PIN. "
                    "Your name is recorded with every batch you start."
                ),
                self,
                wordWrap=True,
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.pin_edit.textChanged.connect(self._validate)
        self.name_edit.textChanged.connect(self._validate)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._validate()
        (self.pin_edit if name else self.name_edit).setFocus()

    def _validate(self) -> None:
        ok = bool(self.pin_edit.text()) and bool(self.name_edit.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def credentials(self) -> tuple[str, str]:
        return self.name_edit.text().strip(), self.pin_edit.text()


class LockController(QObject):
    """The station's lock and who is signed in, changed through the use cases of
    :mod:`certline.app.station.sign_in` in a worker (PBKDF2 and the audit write are slow).

    Attributes:
        locked: the last known lock state (refreshed in a worker at start).
        roles_on: whether an engineer PIN is set (roles are enforced).
        signed_in: whether someone signed in with a PIN in this window (Sign out then ends it).

    Signals:
        locked_changed(bool): the station was locked or unlocked.
        operator_changed(): someone signed in or out (read ``session.roles.operator``).
        failed(str): wrong PIN or the lock file could not be used.
        message(str): who signed in or out, for the status bar.
    """

    locked_changed = Signal(bool)
    operator_changed = Signal()
    failed = Signal(str)
    message = Signal(str)

    def __init__(self, session: StationSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        lock = session.roles.station_lock
        assert lock is not None, "the station window's session has a station lock"
        self.station_lock: StationLock = lock
        self.locked = False
        self.roles_on = False
        self.signed_in = False

    def refresh(self) -> None:
        lock = self.station_lock
        run_in_background(lock.status, self._refreshed, self._failed, owner=self)

    def _refreshed(self, status: object) -> None:
        assert isinstance(status, LockStatus)
        self.roles_on = status.roles_on
        self._set_locked(status.locked)
        if status.problem:
            self.failed.emit(status.problem)

    def _set_locked(self, locked: object) -> None:
        self.locked = bool(locked)
        self.locked_changed.emit(self.locked)
        self.operator_changed.emit()

    def _failed(self, exc: BaseException) -> None:
        self.failed.emit(str(exc))

    def lock(self, parent: QWidget | None) -> None:
        """Lock; the first time, the engineer chooses the PIN. A lock file that is not a lock
        cannot be written: whoever is signed in is signed out, and the window says why."""
        lock = self.station_lock
        run_in_background(lock.status, lambda status: self._lock_as(status, parent), self._failed, owner=self)

    def _lock_as(self, status: object, parent: QWidget | None) -> None:
        assert isinstance(status, LockStatus)
        if status.problem:
            self.sign_out()
        else:
            self._lock_with(status.roles_on, parent)

    def _lock_with(self, has_pin: bool, parent: QWidget | None) -> None:
        session = self.session
        pin: str | None = None
        if not has_pin:
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

        def lock_now() -> bool:
            lock_station(session, pin)
            return True

        self.roles_on = True
        self.signed_in = False
        run_in_background(lock_now, self._set_locked, self._failed_then_refresh, owner=self)

    def _failed_then_refresh(self, exc: BaseException) -> None:
        self._failed(exc)
        self.refresh()  # show what the lock file says now (a damaged one: locked)

    def unlock(self, parent: QWidget | None) -> None:
        dialog = PinDialog(
            self.tr("Unlock station"),
            self.tr("Enter the engineer PIN to unlock profiles and settings."),
            parent=parent,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.unlock_with(dialog.pin())

    def unlock_with(self, pin: str, name: str = "") -> None:
        session = self.session
        run_in_background(
            lambda: sign_in(session, name or self._current_name(), pin, engineer_only=True),
            lambda _operator: self._signed_in_unlocked(),
            lambda exc: self.failed.emit(
                self.tr("Wrong PIN; the station stays locked.")
                if isinstance(exc, StationLockError) and not isinstance(exc, StationLockUnreadable)
                else str(exc)
            ),
            owner=self,
        )

    def sign_in(self, parent: QWidget | None) -> None:
        dialog = SignInDialog(self._current_name(), parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.sign_in_with(*dialog.credentials())

    def sign_in_with(self, name: str, pin: str) -> None:
        session = self.session

        def done(operator: object) -> None:
            assert isinstance(operator, Operator)
            self.signed_in = True
            role = self.tr("engineer") if operator.role == Role.ENGINEER else self.tr("technician")
            self.message.emit(self.tr("Signed in: %1 (%2)").replace("%1", operator.name).replace("%2", role))
            self._set_locked(operator.role != Role.ENGINEER and self.locked)

        run_in_background(
            lambda: sign_in(session, name, pin),
            done,
            lambda exc: self.failed.emit(
                self.tr("Wrong PIN; nobody was signed in.")
                if isinstance(exc, StationLockError) and not isinstance(exc, StationLockUnreadable)
                else str(exc)
            ),
            owner=self,
        )

    def _signed_in_unlocked(self) -> None:
        self.signed_in = True
        self._set_locked(False)

    def sign_out(self) -> None:
        self.signed_in = False
        session = self.session
        lock = self.station_lock

        def out() -> LockStatus:
            sign_out(session)
            return lock.status()

        run_in_background(out, self._signed_out, self._failed, owner=self)

    def _signed_out(self, status: object) -> None:
        assert isinstance(status, LockStatus)
        if status.locked and not status.problem:
            self.message.emit(self.tr("Signed out; the station is locked"))
        self._refreshed(status)  # a damaged lock file: locked, and the window says why

    def _current_name(self) -> str:
        operator = self.session.roles.operator
        return operator.name if operator is not None else ""
