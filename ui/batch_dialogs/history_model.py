"""The device list of a past batch: lean rows, filled a page at a time as the view asks for more.

A past batch may have 100,000 units. The station's live model
(:class:`~certline.ui.station.device_model.DeviceTableModel`) keeps a ``QStandardItem`` per cell
and every role's value, ~12 KB per row: 1.2 GB for such a batch. Here a row is its
:class:`DeviceSnapshot` and a tuple of its column texts (~1.5 KB), made in the worker
that read the page, so the GUI thread only inserts a page of ready rows; colours, icons
and the progress bar are shared per state. ``data()`` runs in Python, which is cheap
while no batch runs in this process; a past batch does not change, so there is no
per-frame update to coalesce.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.states import DeviceState
from certline.ui.station.device_model import (
    PROGRESS_ROLE,
    SNAPSHOT_ROLE,
    Column,
    elapsed_seconds,
    format_elapsed,
    progress_brush,
)
from certline.ui.station.state_style import look

Index = QModelIndex | QPersistentModelIndex
Row = tuple[DeviceSnapshot, tuple[str, ...]]
_WORDS = frozenset({DeviceState.DONE, DeviceState.FAILED, DeviceState.SKIPPED})
#: columns with more than a text: icon, colour, bar, tooltip, the snapshot
_STYLED_COLUMNS = frozenset({Column.PORT, Column.STATE, Column.PROGRESS, Column.DETAILS, Column.CERT_SERIAL})


def _tr(text: str) -> str:
    return QCoreApplication.translate("DeviceTableModel", text)  # the live table's words


def details_text(snap: DeviceSnapshot) -> str:
    if snap.state == DeviceState.FAILED and snap.error:
        if not snap.failed_step:
            return snap.error
        return _tr("%1 (step: %2)").replace("%1", snap.error).replace("%2", snap.failed_step)
    return snap.step


def history_row(snap: DeviceSnapshot, now: datetime | None = None) -> Row:
    """One row's column texts (any thread: the worker that read the page makes them)."""
    state = look(snap.state)
    percent = round(snap.progress * 100)
    texts = (
        snap.port,
        snap.serial_number or "—",
        snap.model or "—",
        state.text,
        state.text if snap.state in _WORDS else f"{percent} %",
        format_elapsed(elapsed_seconds(snap, now or datetime.now(UTC))),
        snap.cert_serial or "",
        snap.cert_not_after.date().isoformat() if snap.cert_not_after else "",
        details_text(snap),
    )
    return snap, texts


class HistoryDeviceModel(QAbstractTableModel):
    """Rows of one past batch, appended a page at a time (``canFetchMore``/``fetchMore``).

    Attributes:
        more: called when the view wants more rows (starts reading the next page).
        exhausted: the last page has been read.
        loading: a page is being read.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self.more: Callable[[], None] | None = None
        self.exhausted = True
        self.loading = False
        self.bar_width = 100
        self._headers = [
            _tr("Port"),
            _tr("Serial number"),
            _tr("Model"),
            _tr("State"),
            _tr("Progress"),
            _tr("Elapsed"),
            _tr("Certificate serial"),
            _tr("Expires"),
            _tr("Step / error"),
        ]
        self._state_brushes: dict[DeviceState, QBrush] = {}

    # -- rows -------------------------------------------------------------------------------
    def clear(self) -> None:
        if self._rows:
            self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
            self._rows = []
            self.endRemoveRows()

    def append_rows(self, rows: list[Row]) -> None:
        """Add one page of ready rows at the end (one insertion)."""
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def snapshot(self, row: int) -> DeviceSnapshot:
        return self._rows[row][0]

    def set_progress_width(self, width: int) -> None:
        if width > 0 and width != self.bar_width:
            self.bar_width = width
            if self._rows:
                self.dataChanged.emit(
                    self.index(0, Column.PROGRESS),
                    self.index(len(self._rows) - 1, Column.PROGRESS),
                    [Qt.ItemDataRole.BackgroundRole],
                )

    # -- Qt model interface -----------------------------------------------------------------
    def canFetchMore(self, parent: Index) -> bool:  # noqa: N802 - Qt override
        return not parent.isValid() and not self.exhausted and not self.loading and self.more is not None

    def fetchMore(self, parent: Index) -> None:  # noqa: N802 - Qt override
        if self.canFetchMore(parent) and self.more is not None:
            self.more()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            if 0 <= section < len(Column):
                return self._headers[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        snap, texts = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return texts[column]
        if column == Column.STATE:
            if role == Qt.ItemDataRole.DecorationRole:
                return look(snap.state).icon
            if role == Qt.ItemDataRole.ForegroundRole:
                return self._brush(snap.state)
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{texts[Column.STATE]}: {snap.step}"
        elif column == Column.PROGRESS:
            if role == Qt.ItemDataRole.BackgroundRole:
                colour = look(snap.state).colour if snap.state in _WORDS else _highlight()
                return progress_brush(round(snap.progress * 100), colour, self.bar_width)
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return Qt.AlignmentFlag.AlignCenter
            if role == PROGRESS_ROLE:
                return snap.progress
        elif column == Column.DETAILS:
            if role == Qt.ItemDataRole.ForegroundRole:
                return self._brush(snap.state)
            if role == Qt.ItemDataRole.ToolTipRole:
                return texts[Column.DETAILS] or None
        elif column == Column.CERT_SERIAL and role == Qt.ItemDataRole.ToolTipRole and snap.cert_fingerprint:
            return _tr("SHA-256 fingerprint: %1").replace("%1", snap.cert_fingerprint)
        elif column == Column.PORT and role == SNAPSHOT_ROLE:
            return snap
        return None

    def multiData(self, index: Index, span: QModelRoleDataSpan | QModelRoleData, /) -> None:  # noqa: N802
        """Every role the delegate asks for in one Python call per painted cell (not one per role);
        plain columns answer their text and nothing else without a lookup."""
        items = [span] if isinstance(span, QModelRoleData) else cast(Iterable[QModelRoleData], span)
        row, column = index.row(), index.column()
        if not index.isValid() or not 0 <= row < len(self._rows):
            for item in items:
                item.clearData()
            return
        text = self._rows[row][1][column]
        plain = column not in _STYLED_COLUMNS
        for item in items:
            role = item.role()
            if role == Qt.ItemDataRole.DisplayRole:
                item.setData(text)
                continue
            value = None if plain else self.data(index, role)
            if value is None:
                item.clearData()
            else:
                item.setData(value)

    def _brush(self, state: DeviceState) -> QBrush:
        brush = self._state_brushes.get(state)
        if brush is None:
            brush = self._state_brushes[state] = QBrush(look(state).colour)
        return brush


def _highlight() -> QColor:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    return QApplication.palette().color(QPalette.ColorRole.Highlight)
