"""The line at a glance (shared journal only): units per station and state for the work order,
and which station holds which unit right now. Read in a worker thread, refreshed on demand."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from certline.ui.plumbing.worker import run_in_background

translate = QCoreApplication.translate


def read_line(journal: Any, work_order: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Blocking: (units per station and state, live unit holders)."""
    return journal.line_progress(work_order), journal.unit_holders(work_order)


class LineViewDialog(QDialog):
    def __init__(self, journal: Any, work_order: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.journal = journal
        self.setWindowTitle(translate("LineView", "Line view"))
        self.work_order = QLineEdit(work_order or "")
        self.work_order.setPlaceholderText(translate("LineView", "all work orders"))
        self.refresh_button = QPushButton(translate("LineView", "Refresh"))
        self.refresh_button.clicked.connect(self.refresh)
        self.work_order.returnPressed.connect(self.refresh)
        self.progress = QTableWidget(0, 3, self)
        self.progress.setHorizontalHeaderLabels(
            [translate("LineView", "Station"), translate("LineView", "State"), translate("LineView", "Units")]
        )
        self.holders = QTableWidget(0, 3, self)
        self.holders.setHorizontalHeaderLabels(
            [
                translate("LineView", "Serial number"),
                translate("LineView", "Held by"),
                translate("LineView", "Lease until"),
            ]
        )
        self.status = QLabel("")
        top = QHBoxLayout()
        top.addWidget(QLabel(translate("LineView", "Work order:")))
        top.addWidget(self.work_order, 1)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(QLabel(translate("LineView", "Units per station")))
        layout.addWidget(self.progress)
        layout.addWidget(QLabel(translate("LineView", "Units being worked on")))
        layout.addWidget(self.holders)
        layout.addWidget(self.status)
        self.resize(640, 520)
        self.refresh()

    def refresh(self) -> None:
        order = self.work_order.text().strip() or None
        self.refresh_button.setEnabled(False)
        self.status.setText(translate("LineView", "Reading the shared journal…"))
        run_in_background(lambda: read_line(self.journal, order), self._show, self._failed, owner=self)

    def _show(self, result: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
        progress, holders = result
        _fill(self.progress, [(r["station"], r["state"], str(r["units"])) for r in progress])
        _fill(
            self.holders,
            [
                (r["serial_number"], r["holder"], r["lease_until"].astimezone().strftime("%H:%M:%S"))
                for r in holders
            ],
        )
        self.refresh_button.setEnabled(True)
        self.status.setText("")

    def _failed(self, exc: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        self.status.setText(translate("LineView", "Cannot read the shared journal: {0}").format(str(exc)))


def _fill(table: QTableWidget, rows: list[tuple[str, str, str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(value))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
