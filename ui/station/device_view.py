"""The device table view: the model, the progress delegate, sensible column widths, selection.

Rows are selected whole; the selection is what "Skip selected" acts on and
what the details panel shows.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from app.batch.events import DeviceSnapshot
from ui.station.device_model import Column, DeviceTableModel
from ui.station.progress_delegate import ProgressDelegate


class MiddleElideDelegate(QStyledItemDelegate):
    """Long certificate serials keep both ends visible (people compare the first and last digits)."""

    mode = Qt.TextElideMode.ElideMiddle

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        option.textElideMode = self.mode


class LeftElideDelegate(MiddleElideDelegate):
    """Long port paths keep their end, the part that tells units apart (…/by-id/usb-…-if00, …/ttyCERT3)."""

    mode = Qt.TextElideMode.ElideLeft

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        option.features &= ~QStyleOptionViewItem.ViewItemFeature.WrapText  # one line, elided


class DeviceView(QTableView):
    """Table of devices.

    Signals:
        device_selected(object): device id of the current row, or None.
    """

    device_selected = Signal(object)

    def __init__(self, model: DeviceTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setObjectName("devices")
        self.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self))
        self.setItemDelegateForColumn(Column.CERT_SERIAL, MiddleElideDelegate(self))
        self.setItemDelegateForColumn(Column.PORT, LeftElideDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setTabKeyNavigation(False)  # Tab leaves the table; arrow keys move between rows
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._set_widths()
        self.setAccessibleName(self.tr("Devices"))
        self.empty_text = ""
        self.set_sign_in_needed(False)
        self.selectionModel().selectionChanged.connect(self._selection_changed)

    def set_sign_in_needed(self, needed: bool) -> None:
        """On a locked station nobody may start until someone signs in: the empty table says so,
        since the toolbar only offers "Unlock station" (the engineer's way in)."""
        text = (
            self.tr("Sign in (Ctrl+I), connect the units, then press Start (F5).")
            if needed
            else self.tr("Connect the units, then press Start (F5) — or Hands-free (F9).")
        )
        if text != self.empty_text:
            self.empty_text = text
            self.viewport().update()

    def _set_widths(self) -> None:
        em = self.fontMetrics().horizontalAdvance("M")
        widths = {
            Column.PORT: 11,
            Column.SERIAL: 11,
            Column.MODEL: 8,
            Column.STATE: 11,
            Column.PROGRESS: 11,
            Column.ELAPSED: 6,
            Column.CERT_SERIAL: 14,
            Column.EXPIRES: 8,
        }
        for column, width in widths.items():
            self.setColumnWidth(column, width * em)
        self.verticalHeader().setDefaultSectionSize(round(self.fontMetrics().height() * 1.9))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        """An empty table says what to do instead of staying blank."""
        super().paintEvent(event)
        if self.model().rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)

    def changeEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt override
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            self._set_widths()

    def device_model(self) -> DeviceTableModel:
        model = self.model()
        assert isinstance(model, DeviceTableModel)
        return model

    def selected_snapshots(self) -> list[DeviceSnapshot]:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [self.device_model().snapshot(row) for row in rows]

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        current = self.selectionModel().currentIndex()
        rows = self.selectionModel().selectedRows()
        if current.isValid() and any(r.row() == current.row() for r in rows):
            self.device_selected.emit(self.device_model().snapshot(current.row()).device_id)
        elif rows:
            self.device_selected.emit(self.device_model().snapshot(rows[0].row()).device_id)
        else:
            self.device_selected.emit(None)
