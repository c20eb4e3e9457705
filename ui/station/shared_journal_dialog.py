"""Station setting "Shared journal": the line's PostgreSQL URL, this station's name, the
database password (to the OS keyring, never shown) and a connection test.

Everything that talks to the database or the keyring runs in a worker thread; the logic lives
in ``certline.app.batch.journal_url`` (``test_connection``, ``save_journal_settings``).
"""

from __future__ import annotations

import socket

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from certline.app.batch.journal_url import save_journal_settings, test_connection
from certline.ui.plumbing.worker import run_in_background

translate = QCoreApplication.translate


class SharedJournalDialog(QDialog):
    saved = Signal()

    def __init__(self, url: str | None, station: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(translate("SharedJournal", "Shared journal"))
        self.url = QLineEdit(url or "")
        self.url.setPlaceholderText(
            "postgresql://certline@db.line:5432/certline?sslmode=verify-full&sslrootcert=…"
        )
        self.url.setMinimumWidth(520)
        self.station = QLineEdit(station or "")
        self.station.setPlaceholderText(socket.gethostname())
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(
            translate("SharedJournal", "unchanged (keyring, .pgpass or certificate)")
        )
        form = QFormLayout()
        form.addRow(translate("SharedJournal", "Database URL"), self.url)
        form.addRow(translate("SharedJournal", "Station name"), self.station)
        form.addRow(translate("SharedJournal", "Password"), self.password)
        hint = QLabel(
            translate(
                "SharedJournal",
                "Empty URL: this station's own journal. The password goes to the OS keyring, never "
                "into the URL. Takes effect when the station window is opened again.",
            )
        )
        hint.setWordWrap(True)
        self.test_button = QPushButton(translate("SharedJournal", "Test connection"))
        self.test_button.clicked.connect(self.test)
        self.outcome = QLabel("")
        self.outcome.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.test_button)
        layout.addWidget(self.outcome)
        layout.addWidget(buttons)

    def _values(self) -> tuple[str, str | None, str | None]:
        return self.url.text().strip(), self.station.text().strip() or None, self.password.text() or None

    def test(self) -> None:
        url, station, password = self._values()
        if not url:
            self.outcome.setText(translate("SharedJournal", "No URL: the station uses its own journal."))
            return
        self.test_button.setEnabled(False)
        self.outcome.setText(translate("SharedJournal", "Connecting…"))
        run_in_background(
            lambda: test_connection(url, station, password), self._tested, self._failed, owner=self
        )

    def _tested(self, stations: str) -> None:
        self.test_button.setEnabled(True)
        self.outcome.setText(
            translate("SharedJournal", "Connected. Stations on this journal: {0}").format(stations or "-")
        )

    def _failed(self, exc: BaseException) -> None:
        self.test_button.setEnabled(True)
        self.outcome.setText(translate("SharedJournal", "Not connected: {0}").format(str(exc)))

    def save(self) -> None:
        url, station, password = self._values()
        self.outcome.setText(translate("SharedJournal", "Saving…"))
        run_in_background(
            lambda: save_journal_settings(url or None, station, password),
            self._saved,
            self._failed,
            owner=self,
        )

    def _saved(self, _result: object) -> None:
        self.password.clear()
        self.saved.emit()
        self.accept()
