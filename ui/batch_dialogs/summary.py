"""The end-of-batch summary: how many units are done, which failed and why, export the report.

Shown when the engine reports ``BatchSnapshot.finished``. The failed units
are listed with their error in words so the technician can set them aside
(or retry them) without reading the log.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from certline.app.batch.events import BatchSnapshot, DeviceSnapshot
from certline.app.batch.journal_api import JournalBackend
from certline.app.batch.states import DeviceState
from certline.ui.batch_dialogs.report_export import ask_and_export
from certline.ui.plumbing.resources import icon
from certline.ui.station.counters import BatchCounters
from certline.ui.station.state_style import look


class LeftElideDelegate(QStyledItemDelegate):
    """Long port paths keep their end, the part that tells units apart (…/by-id/usb-…-if00, …/ttyCERT3).

    (A static table shown after the batch: a Python delegate costs nothing here.)"""

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideLeft
        option.features &= ~QStyleOptionViewItem.ViewItemFeature.WrapText  # one line, elided


class BatchSummaryDialog(QDialog):
    """Counters, the failed units, and export buttons for one finished batch.

    Signals:
        retry_requested(): the technician asked to retry the failed units.
        exported(Path): a report was written.
    """

    retry_requested = Signal()
    exported = Signal(Path)

    def __init__(
        self,
        journal: JournalBackend,
        batch_id: int,
        devices: list[DeviceSnapshot],
        reports_dir: Path,
        parent: QWidget | None = None,
        counts: BatchSnapshot | None = None,
    ) -> None:
        """``devices``: the units to list (every failed one among them); ``counts``: the batch's
        totals when ``devices`` is not every unit (the live table keeps only the newest finished
        units, see :mod:`certline.app.station.live_rows`)."""
        super().__init__(parent)
        self.journal, self.batch_id, self.reports_dir = journal, batch_id, reports_dir
        self.setWindowTitle(self.tr("Batch %1 finished").replace("%1", str(batch_id)))
        failed = [d for d in devices if d.state == DeviceState.FAILED]
        if counts is not None:
            skipped = counts.skipped
            done = counts.done - counts.skipped  # the snapshot's done counts SKIPPED units too
            failed_count = counts.failed
            total = counts.done + counts.failed + counts.in_progress
        else:
            done = sum(1 for d in devices if d.state == DeviceState.DONE)
            skipped = sum(1 for d in devices if d.state == DeviceState.SKIPPED)
            failed_count = len(failed)
            total = len(devices)
        headline = QLabel(self._headline(total, done, failed_count, skipped), self)
        headline.setWordWrap(True)
        headline.setStyleSheet("font-size: 130%; font-weight: 600;")
        self.counters = BatchCounters(self)
        self.counters.done.set_value(done)
        self.counters.skipped.set_value(skipped)
        self.counters.in_progress.set_value(total - done - skipped - failed_count)
        self.counters.failed.set_value(failed_count)
        self.counters.pending.hide()
        self.counters.remaining.hide()
        self.headline = headline
        layout = QVBoxLayout(self)
        layout.addWidget(headline)
        layout.addWidget(self.counters)
        # only when something failed: a table made with the dialog as parent and left out of the
        # layout would lie, empty, over the headline
        self.failed_table: QTableWidget | None = None
        if failed:
            self.failed_table = self._failed_table(failed)
            layout.addWidget(QLabel(self.tr("Units that failed:"), self))
            layout.addWidget(self.failed_table)
        else:
            layout.addStretch(1)  # headline and counters stay together at the top
        layout.addWidget(self._buttons(bool(failed)))
        self.resize(720, 420 if failed else 240)

    def _headline(self, total: int, done: int, failed: int, skipped: int) -> str:
        if failed:
            return (
                self.tr("%1 of %2 units provisioned; %3 failed.")
                .replace("%1", str(done))
                .replace("%2", str(total))
                .replace("%3", str(failed))
            )
        if skipped:
            return (
                self.tr("%1 units provisioned, %2 skipped.")
                .replace("%1", str(done))
                .replace("%2", str(skipped))
            )
        return self.tr("All %1 units provisioned and verified.").replace("%1", str(done))

    def _failed_table(self, failed: list[DeviceSnapshot]) -> QTableWidget:
        table = QTableWidget(len(failed), 3, self)
        table.setHorizontalHeaderLabels([self.tr("Serial number"), self.tr("Port"), self.tr("Error")])
        table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setTabKeyNavigation(False)
        for row, snap in enumerate(failed):
            serial = QTableWidgetItem(look(snap.state).icon, snap.serial_number or "—")
            error = QTableWidgetItem(snap.error or snap.step)
            error.setToolTip(snap.error or snap.step)
            port = QTableWidgetItem(snap.port)
            port.setToolTip(snap.port)
            for column, item in enumerate((serial, port, error)):
                table.setItem(row, column, item)
        table.resizeColumnToContents(0)
        table.resizeColumnToContents(1)
        # the error wraps and its row grows to show all of it: its end is the advice (what to check,
        # what to do), which an elided line would cut off
        table.setWordWrap(True)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # a long port path keeps its distinctive end and leaves the room to the error
        table.setItemDelegateForColumn(1, LeftElideDelegate(table))
        em = table.fontMetrics().horizontalAdvance("M")
        table.setColumnWidth(1, min(table.columnWidth(1), 14 * em))
        return table

    def _buttons(self, has_failures: bool) -> QDialogButtonBox:
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.csv_button = QPushButton(icon("action-export"), self.tr("Export &CSV…"), self)
        self.json_button = QPushButton(icon("action-export"), self.tr("Export &JSON…"), self)
        box.addButton(self.csv_button, QDialogButtonBox.ButtonRole.ActionRole)
        box.addButton(self.json_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.csv_button.clicked.connect(lambda: self._export("csv"))
        self.json_button.clicked.connect(lambda: self._export("json"))
        if has_failures:
            retry = QPushButton(icon("action-retry"), self.tr("&Retry failed"), self)
            box.addButton(retry, QDialogButtonBox.ButtonRole.ActionRole)
            retry.clicked.connect(self._retry)
        box.rejected.connect(self.reject)
        box.button(QDialogButtonBox.StandardButton.Close).setDefault(True)
        return box

    def _export(self, fmt: str) -> None:
        ask_and_export(
            self, self.journal, self.batch_id, self.reports_dir, on_done=self.exported.emit, fmt=fmt
        )

    def _retry(self) -> None:
        self.retry_requested.emit()
        self.accept()
