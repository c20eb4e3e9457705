"""The selected device: its step-by-step history and the certificate it received.

Reading the journal and parsing the chain happen in a worker; the panel only
shows the answer. A request counter drops answers for a device that is no
longer selected, so a slow read never overwrites a newer selection.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QWidget,
)

from certline.app import pki
from certline.app.batch.journal_api import JournalBackend, TransitionRecord
from certline.ui.plumbing.worker import run_in_background
from certline.ui.station.state_style import look


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    fingerprint: str


@dataclass(frozen=True)
class DeviceDetails:
    device_id: int
    history: list[TransitionRecord]
    certificate: CertificateInfo | None


def certificate_info(chain_pem: str | None) -> CertificateInfo | None:
    """Leaf certificate facts for display, or None when the device has no certificate yet."""
    if not chain_pem:
        return None
    leaf: x509.Certificate = pki.pem_to_chain(chain_pem)[0]
    return CertificateInfo(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        serial=pki.cert_serial_hex(leaf),
        not_before=leaf.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC"),
        not_after=leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC"),
        fingerprint=pki.fingerprint(leaf),
    )


def load_details(journal: JournalBackend, device_id: int) -> DeviceDetails:
    """Blocking journal read; run it in a worker."""
    row = journal.device_row(device_id)
    return DeviceDetails(device_id, journal.history(device_id), certificate_info(row.get("chain_pem")))


class DeviceDetailsPanel(QTabWidget):
    """Tabs "Steps" (transition history) and "Certificate" for one device."""

    def __init__(self, journal: JournalBackend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._journal = journal
        self._request = 0
        self.device_id: int | None = None
        self.steps = QTableWidget(0, 4, self)
        self.steps.setHorizontalHeaderLabels(
            [self.tr("Time"), self.tr("State"), self.tr("Step"), self.tr("Took")]
        )
        self.steps.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.steps.verticalHeader().hide()
        self.steps.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.steps.setWordWrap(True)
        self.steps.setTabKeyNavigation(False)
        self.cert_page = QWidget(self)
        self.cert_fields: dict[str, QLineEdit] = {}
        form = QFormLayout(self.cert_page)
        for key, caption in (
            ("subject", self.tr("Subject")),
            ("issuer", self.tr("Issuer")),
            ("serial", self.tr("Serial")),
            ("not_before", self.tr("Valid from")),
            ("not_after", self.tr("Valid until")),
            ("fingerprint", self.tr("SHA-256 fingerprint")),
        ):
            # read-only line edits: long values (fingerprints) scroll instead of widening the panel,
            # and can be selected and copied for an out-of-band comparison
            label = QLineEdit("—", self.cert_page, readOnly=True, frame=False)
            label.setCursorMoveStyle(Qt.CursorMoveStyle.LogicalMoveStyle)
            self.cert_fields[key] = label
            form.addRow(caption + ":", label)
        self.addTab(self.steps, self.tr("Steps"))
        self.addTab(self.cert_page, self.tr("Certificate"))
        self.clear()

    def show_device(self, device_id: int | None) -> None:
        """Load ``device_id`` in the background (None clears the panel)."""
        self.device_id = device_id
        self._request += 1
        if device_id is None:
            self.clear()
            return
        request = self._request
        journal = self._journal
        run_in_background(
            lambda: load_details(journal, device_id),
            lambda details: self._loaded(request, details),
            lambda exc: self._failed(request, exc),
            owner=self,
        )

    def refresh(self) -> None:
        if self.device_id is not None:
            self.show_device(self.device_id)

    def clear(self) -> None:
        self.steps.setRowCount(0)
        for label in self.cert_fields.values():
            label.setText("—")

    def _loaded(self, request: int, details: DeviceDetails) -> None:
        if request != self._request:
            return
        self._fill_steps(details.history)
        cert = details.certificate
        for key, label in self.cert_fields.items():
            label.setText(getattr(cert, key) if cert is not None else self.tr("no certificate yet"))
            label.setCursorPosition(0)
            label.setToolTip(label.text())

    def _failed(self, request: int, exc: BaseException) -> None:
        if request == self._request:
            self.clear()
            self.cert_fields["subject"].setText(
                self.tr("Cannot read this device: %1").replace("%1", str(exc))
            )

    def _fill_steps(self, history: list[TransitionRecord]) -> None:
        self.steps.setRowCount(len(history))
        for row, record in enumerate(history):
            state = look(record.state)
            took = f"{record.duration_ms / 1000:.1f} s" if record.duration_ms is not None else ""
            items = [
                QTableWidgetItem(record.at.astimezone().strftime("%H:%M:%S")),
                QTableWidgetItem(state.icon, state.text),
                QTableWidgetItem(record.step),
                QTableWidgetItem(took),
            ]
            items[1].setForeground(state.colour)
            items[2].setToolTip(record.step)
            for column, item in enumerate(items):
                self.steps.setItem(row, column, item)
        self.steps.resizeColumnToContents(0)
        self.steps.resizeColumnToContents(1)
        self.steps.resizeRowsToContents()
