"""Past batches: when, which work order, who ran it, and every unit with its outcome.

"Reprint label" prints a done unit's label again (app/labels/reprint.py: the
batch's label settings, audited); the printing runs in a worker.

The list and each batch's devices are read from the journal in a worker; the
device list reuses the station's table model, so a past batch looks exactly like
a running one did. A batch's devices are read a page at a time
(:data:`PAGE_SIZE` rows, keyset paging through ``device_rows_after``) as the
operator scrolls (Qt's ``canFetchMore``/``fetchMore``): a 100,000-unit batch
opens as fast as a small one, holds the journal for one page at a time, and the
GUI thread only ever inserts one page of rows made ready in the worker
(:mod:`certline.ui.batch_dialogs.history_model`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.journal_api import BatchRecord, JournalBackend, snapshot_from_row
from certline.app.batch.states import DeviceState
from certline.app.labels.outputs import sink_for
from certline.app.labels.reprint import print_label, reprint_settings
from certline.app.security.roles import Action, RoleGate, RoleRequired
from certline.ui.batch_dialogs.history_model import HistoryDeviceModel, Row, history_row
from certline.ui.batch_dialogs.report_export import ask_and_export
from certline.ui.plumbing.label_printer import QtPrinterSink
from certline.ui.plumbing.resources import icon
from certline.ui.plumbing.worker import run_in_background
from certline.ui.station.device_view import follow_progress_width

#: devices read per journal call while the operator scrolls through a batch
PAGE_SIZE = 256


def _when(record: BatchRecord) -> str:
    return record.started_at.astimezone().strftime("%Y-%m-%d %H:%M")


class HistoryDialog(QDialog):
    """Batches on top, the selected batch's devices below, "Export report…" for it.

    Attributes:
        batches: the table of past batches (newest first).
        devices: the device model of the selected batch.
    """

    def __init__(
        self,
        journal: JournalBackend,
        reports_dir: Path,
        parent: QWidget | None = None,
        *,
        roles: RoleGate | None = None,
    ) -> None:
        super().__init__(parent)
        self.journal, self.reports_dir = journal, reports_dir
        self.roles = roles or RoleGate.unrestricted()
        self.records: list[BatchRecord] = []
        self._request = 0
        self.setWindowTitle(self.tr("Batch history"))
        self.batches = QTableWidget(0, 6, self)
        self.batches.setHorizontalHeaderLabels(
            [
                self.tr("Batch"),
                self.tr("Started"),
                self.tr("Ended"),
                self.tr("Work order"),
                self.tr("Operator"),
                self.tr("Profile"),
            ]
        )
        self.batches.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.batches.horizontalHeader().setStretchLastSection(True)
        self.batches.verticalHeader().hide()
        self.batches.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.batches.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.batches.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.batches.setTabKeyNavigation(False)
        self.devices = HistoryDeviceModel(self)
        self.devices.more = self._load_page
        self._after = 0
        self.device_view = QTableView(self)
        self.device_view.setModel(self.devices)
        self.device_view.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        follow_progress_width(self.device_view, self.devices)
        self.device_view.horizontalHeader().setStretchLastSection(True)
        self.device_view.verticalHeader().hide()
        self.device_view.setTabKeyNavigation(False)
        self.status = QLabel(self.tr("Loading…"), self)
        self.export_button = QPushButton(icon("action-export"), self.tr("&Export report…"), self)
        self.export_button.setEnabled(False)
        self.reprint_button = QPushButton(self.tr("&Reprint label"), self)
        self.reprint_button.setToolTip(
            self.tr("Print the selected done unit's label again (recorded in the audit)")
        )
        self.reprint_button.setEnabled(False)
        self._lay_out()
        self.batches.itemSelectionChanged.connect(self._batch_selected)
        self.export_button.clicked.connect(self._export)
        self.reprint_button.clicked.connect(self._reprint)
        self.device_view.selectionModel().selectionChanged.connect(self._device_selected)
        self.resize(1000, 640)
        run_in_background(lambda: journal.batches(), self._show_batches, self._load_failed, owner=self)

    def _lay_out(self) -> None:
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self.batches)
        splitter.addWidget(self.device_view)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        box.addButton(self.export_button, QDialogButtonBox.ButtonRole.ActionRole)
        box.addButton(self.reprint_button, QDialogButtonBox.ButtonRole.ActionRole)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        layout.addWidget(self.status)
        layout.addWidget(box)

    def _show_batches(self, records: list[BatchRecord]) -> None:
        self.records = records
        self.batches.setRowCount(len(records))
        for row, record in enumerate(records):
            ended = (
                record.ended_at.astimezone().strftime("%Y-%m-%d %H:%M")
                if record.ended_at
                else self.tr("open")
            )
            values = (
                str(record.id),
                _when(record),
                ended,
                record.work_order or "—",
                record.operator or "—",
                record.profile_name,
            )
            for column, value in enumerate(values):
                self.batches.setItem(row, column, QTableWidgetItem(value))
        count = len(records)  # a plain name: lupdate 6.11 cannot parse a call as the count
        self.status.setText(self.tr("%n batch(es)", "", count))
        if records:
            self.batches.selectRow(0)

    def _load_failed(self, exc: BaseException) -> None:
        self.status.setText(self.tr("Cannot read the journal: %1").replace("%1", str(exc)))

    def selected_batch(self) -> int | None:
        rows = self.batches.selectionModel().selectedRows()
        return self.records[rows[0].row()].id if rows else None

    def _batch_selected(self) -> None:
        batch_id = self.selected_batch()
        self.export_button.setEnabled(batch_id is not None)
        if batch_id is None:
            return
        self._request += 1
        self._after = 0
        self.devices.clear()
        self.devices.exhausted = False
        self.devices.loading = False
        self._load_page()

    def _load_page(self) -> None:
        """Read the next page of the selected batch in a worker (the GUI thread never reads)."""
        batch_id = self.selected_batch()
        if batch_id is None or self.devices.loading or self.devices.exhausted:
            return
        self.devices.loading = True
        journal, after, request = self.journal, self._after, self._request

        def read() -> list[Row]:  # the rows' texts are made here too, not on the GUI thread
            return [
                history_row(snapshot_from_row(row))
                for row in journal.device_rows_after(batch_id, after, PAGE_SIZE)
            ]

        run_in_background(
            read, lambda snaps: self._show_devices(request, snaps), self._load_failed, owner=self
        )

    def _show_devices(self, request: int, rows: list[Row]) -> None:
        if request != self._request:
            return  # another batch was selected meanwhile
        first_page = self._after == 0
        self.devices.loading = False
        self.devices.exhausted = len(rows) < PAGE_SIZE
        if rows:
            self._after = rows[-1][0].device_id
            self.devices.append_rows(rows)
        if first_page:
            self.device_view.resizeColumnsToContents()
        bar = self.device_view.verticalScrollBar()
        if not self.devices.exhausted and bar.maximum() - bar.value() < bar.pageStep():
            self._load_page()  # the view is not full yet (or the operator is at the end)

    def _export(self) -> None:
        batch_id = self.selected_batch()
        if batch_id is not None:
            ask_and_export(self, self.journal, batch_id, self.reports_dir)

    def selected_device(self) -> DeviceSnapshot | None:
        rows = self.device_view.selectionModel().selectedRows() or [
            index for index in self.device_view.selectionModel().selectedIndexes() if index.column() == 0
        ]
        return self.devices.snapshot(rows[0].row()) if rows else None

    def _device_selected(self) -> None:
        snap = self.selected_device()
        self.reprint_button.setEnabled(snap is not None and snap.state is DeviceState.DONE)

    def _reprint(self) -> None:
        snap = self.selected_device()
        if snap is None or snap.state is not DeviceState.DONE:
            return
        journal, device_id, batch_id = self.journal, snap.device_id, snap.batch_id
        try:
            operator = self.roles.require(Action.PRINT_LABELS).name  # recorded in the reprint's audit
        except RoleRequired as exc:
            self.status.setText(str(exc))
            return

        def reprint() -> str:
            settings = reprint_settings(journal, batch_id)
            sink = sink_for(settings, QtPrinterSink)
            return print_label(journal, device_id, settings, sink, reprint=True, operator=operator)

        self.reprint_button.setEnabled(False)
        self.status.setText(self.tr("Printing the label…"))
        run_in_background(reprint, self._reprinted, self._reprint_failed, owner=self)

    def _reprinted(self, where: str) -> None:
        self._device_selected()
        self.status.setText(self.tr("Label reprinted: %1").replace("%1", where))

    def _reprint_failed(self, exc: BaseException) -> None:
        self._device_selected()
        self.status.setText(self.tr("Label not printed: %1").replace("%1", str(exc)))
