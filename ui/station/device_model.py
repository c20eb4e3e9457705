"""The device table: one row per journal device row, updated row by row.

Snapshots arrive many times a second while a batch runs. Like qutebrowser's
download list, the model keeps the newest snapshot per device and flushes on
a short timer: a new device is inserted with ``beginInsertRows``, a known one
emits ``dataChanged`` for its row only. The model is never reset wholesale, so
the selection and scroll position survive a busy batch.

Painting must stay cheap while the engine's worker threads hold the GIL most
of the time (see docs/benchmarks.md, GUI responsiveness): every cell's values
are computed once per flush into a per-role dict, and ``multiData`` hands the
view all roles of a cell in one Python call instead of one call per role.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
)
from PySide6.QtGui import QBrush

from app.batch.events import DeviceSnapshot
from app.batch.states import TERMINAL, DeviceState
from ui.station.state_style import look

Index = QModelIndex | QPersistentModelIndex
Cell = dict[int, object]
DISPLAY = Qt.ItemDataRole.DisplayRole

SNAPSHOT_ROLE = Qt.ItemDataRole.UserRole + 1
"""The row's :class:`DeviceSnapshot` (any column)."""
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2
"""Fraction 0..1 of the happy path, for the progress delegate."""

FLUSH_INTERVAL_MS = 100
ELAPSED_TICK_MS = 1000


class Column(enum.IntEnum):
    PORT = 0
    SERIAL = 1
    MODEL = 2
    STATE = 3
    PROGRESS = 4
    ELAPSED = 5
    CERT_SERIAL = 6
    EXPIRES = 7
    DETAILS = 8


def format_elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def elapsed_seconds(snap: DeviceSnapshot, now: datetime | None = None) -> float:
    """Time spent so far; frozen at the last update once the device is finished."""
    end = snap.updated_at if snap.state in TERMINAL else (now or datetime.now(UTC))
    return (end - snap.started_at).total_seconds()


class DeviceTableModel(QAbstractTableModel):
    """Table model over :class:`DeviceSnapshot`, keyed by ``device_id``.

    Attributes:
        batch_interval_ms: how long updates are collected before one redraw (0: immediately).
    """

    def __init__(self, parent: QObject | None = None, *, batch_interval_ms: int = FLUSH_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._rows: list[DeviceSnapshot] = []
        self._cells: list[list[Cell]] = []
        self._row_of: dict[int, int] = {}
        self._pending: dict[int, DeviceSnapshot] = {}
        self.batch_interval_ms = batch_interval_ms
        self._flush_timer = QTimer(self, singleShot=True, interval=batch_interval_ms)
        self._flush_timer.timeout.connect(self.flush)
        self._tick = QTimer(self, interval=ELAPSED_TICK_MS)
        self._tick.timeout.connect(self._tick_elapsed)
        self._tick.start()
        self._headers = {
            Column.PORT: self.tr("Port"),
            Column.SERIAL: self.tr("Serial number"),
            Column.MODEL: self.tr("Model"),
            Column.STATE: self.tr("State"),
            Column.PROGRESS: self.tr("Progress"),
            Column.ELAPSED: self.tr("Elapsed"),
            Column.CERT_SERIAL: self.tr("Certificate serial"),
            Column.EXPIRES: self.tr("Expires"),
            Column.DETAILS: self.tr("Step / error"),
        }

    # -- updates ----------------------------------------------------------------------------
    def update_device(self, snap: DeviceSnapshot) -> None:
        """Queue ``snap``; the newest snapshot per device wins at the next flush."""
        self._pending[snap.device_id] = snap
        if self.batch_interval_ms <= 0:
            self.flush()
        elif not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        """Apply queued snapshots: insert new rows, emit ``dataChanged`` per changed row."""
        pending, self._pending = self._pending, {}
        new = [s for s in pending.values() if s.device_id not in self._row_of]
        for snap in pending.values():
            row = self._row_of.get(snap.device_id)
            if row is not None:
                self._rows[row] = snap
                self._cells[row] = self._make_cells(snap)
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for snap in new:
                self._row_of[snap.device_id] = len(self._rows)
                self._rows.append(snap)
                self._cells.append(self._make_cells(snap))
            self.endInsertRows()

    def set_devices(self, snaps: list[DeviceSnapshot]) -> None:
        """Show another batch: remove the old rows, insert these (no model reset)."""
        self._pending.clear()
        if self._rows:
            self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
            self._rows.clear()
            self._cells.clear()
            self._row_of.clear()
            self.endRemoveRows()
        for snap in snaps:
            self._pending[snap.device_id] = snap
        self.flush()

    def _tick_elapsed(self) -> None:
        live = [r for r, s in enumerate(self._rows) if s.state not in TERMINAL]
        now = datetime.now(UTC)
        for row in live:
            self._cells[row][Column.ELAPSED][DISPLAY] = format_elapsed(elapsed_seconds(self._rows[row], now))
        if live:
            self.dataChanged.emit(
                self.index(min(live), Column.ELAPSED),
                self.index(max(live), Column.ELAPSED),
                [Qt.ItemDataRole.DisplayRole],
            )

    # -- access -----------------------------------------------------------------------------
    def snapshot(self, row: int) -> DeviceSnapshot:
        return self._rows[row]

    def snapshots(self) -> list[DeviceSnapshot]:
        return list(self._rows)

    def row_of(self, device_id: int) -> int | None:
        return self._row_of.get(device_id)

    # -- Qt model interface ------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            if 0 <= section < len(Column):
                return self._headers[Column(section)]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self._cells[index.row()][index.column()].get(role)

    def multiData(self, index: Index, span: QModelRoleDataSpan | QModelRoleData, /) -> None:  # noqa: N802
        """Every role the view asks for in one call (what the delegate does per painted cell)."""
        items = [span] if isinstance(span, QModelRoleData) else cast(Iterable[QModelRoleData], span)
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            for item in items:
                item.clearData()
            return
        cell = self._cells[index.row()][index.column()]
        for item in items:
            value = cell.get(item.role())
            if value is None:
                item.clearData()
            else:
                item.setData(value)

    def _make_cells(self, snap: DeviceSnapshot) -> list[Cell]:
        """Everything any view may ask about this row, computed once per update."""
        state = look(snap.state)
        cells: list[Cell] = []
        for column in Column:
            cell: Cell = {
                SNAPSHOT_ROLE: snap,
                PROGRESS_ROLE: snap.progress,
                DISPLAY: self._display(snap, column),
            }
            tooltip = self._tooltip(snap, column)
            if tooltip:
                cell[Qt.ItemDataRole.ToolTipRole] = tooltip
            if column == Column.STATE:
                cell[Qt.ItemDataRole.DecorationRole] = state.icon
            if column in (Column.STATE, Column.DETAILS):
                cell[Qt.ItemDataRole.ForegroundRole] = QBrush(state.colour)
            cells.append(cell)
        return cells

    def _display(self, snap: DeviceSnapshot, column: Column) -> str | None:
        if column == Column.PORT:
            return snap.port
        if column == Column.SERIAL:
            return snap.serial_number or "—"
        if column == Column.MODEL:
            return snap.model or "—"
        if column == Column.STATE:
            return look(snap.state).text
        if column == Column.PROGRESS:
            return f"{round(snap.progress * 100)} %"
        if column == Column.ELAPSED:
            return format_elapsed(elapsed_seconds(snap))
        if column == Column.CERT_SERIAL:
            return snap.cert_serial or ""
        if column == Column.EXPIRES:
            return snap.cert_not_after.date().isoformat() if snap.cert_not_after else ""
        return self._details(snap)

    def _details(self, snap: DeviceSnapshot) -> str:
        if snap.state == DeviceState.FAILED and snap.error:
            if not snap.failed_step:
                return snap.error
            return self.tr("%1 (step: %2)").replace("%1", snap.error).replace("%2", snap.failed_step)
        return snap.step

    def _tooltip(self, snap: DeviceSnapshot, column: Column) -> str | None:
        if column == Column.DETAILS:
            return self._details(snap)
        if column == Column.CERT_SERIAL and snap.cert_fingerprint:
            return self.tr("SHA-256 fingerprint: %1").replace("%1", snap.cert_fingerprint)
        if column == Column.STATE:
            return f"{look(snap.state).text}: {snap.step}"
        return None
