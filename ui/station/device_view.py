"""The device table view: the model, sensible column widths, selection.

Rows are selected whole; the selection is what "Skip selected" acts on and
what the details panel shows.

Nothing here runs Python while the table paints (no item delegate, no ``paintEvent``
override): a repaint during a busy batch would otherwise wait for the GIL once per
cell against the engine's worker threads (docs/benchmarks.md, GUI responsiveness).
Long texts are elided in the middle, so ports, serials and certificate serials keep
both ends (the digits people compare); the full text is in the tooltip where it is long.
The empty table's hint is a label on the viewport, shown only while there are no rows.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from certline.app.batch.events import DeviceSnapshot
from certline.ui.station.device_model import Column, DeviceTableModel


class _HasProgressWidth(Protocol):
    def set_progress_width(self, width: int) -> None: ...


def follow_progress_width(view: QTableView, model: _HasProgressWidth) -> None:
    """Keep the model's progress bars as wide as the view's progress column."""
    view.horizontalHeader().sectionResized.connect(
        lambda section, _old, new: model.set_progress_width(new) if section == Column.PROGRESS else None
    )
    model.set_progress_width(view.columnWidth(Column.PROGRESS))


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
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
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
        self.empty_text = self.tr("Connect the units, then press Start (F5) — or Hands-free (F9).")
        self.empty_hint = QLabel(self.empty_text, self.viewport())
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.empty_hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        QVBoxLayout(self.viewport()).addWidget(self.empty_hint)
        for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset):
            signal.connect(self._rows_changed)
        self._rows_changed()
        follow_progress_width(self, model)
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
            self.empty_hint.setText(text)

    def _set_widths(self) -> None:
        em = self.fontMetrics().horizontalAdvance("M")
        widths = {
            Column.PORT: 11,
            Column.SERIAL: 11,
            Column.MODEL: 7,
            Column.STATE: 11,
            Column.PROGRESS: 9,
            Column.ELAPSED: 6,
            Column.CERT_SERIAL: 12,
            Column.EXPIRES: 8,
        }
        for column, width in widths.items():
            self.setColumnWidth(column, width * em)
        self.verticalHeader().setDefaultSectionSize(round(self.fontMetrics().height() * 1.9))

    def _rows_changed(self) -> None:
        """An empty table says what to do instead of staying blank."""
        self.empty_hint.setVisible(self.model().rowCount() == 0)

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
