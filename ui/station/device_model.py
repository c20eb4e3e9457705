"""The device table: one row per journal device row, updated row by row.

Snapshots arrive many times a second while a batch runs. Like qutebrowser's
download list, the model keeps the newest snapshot per device and flushes on
a short timer: new devices are inserted in one ``insertRows``, and the changed
rows of one flush are announced with one ``dataChanged`` per contiguous range.
The model is never reset wholesale, so the selection and scroll position
survive a busy batch. Of the units that need nothing more, only the newest are kept
(:mod:`certline.app.station.live_rows`): a hands-free shift does not pile up thousands of rows.

Painting must not run Python while the engine's worker threads hold the GIL most
of the time (docs/benchmarks.md, GUI responsiveness): every Python call the GUI
thread makes from a paint waits for the GIL. So the cells are ``QStandardItem``s
whose roles are set once per change (only the roles whose value changed), and
the view paints plain cells entirely in C++. The progress column needs no
delegate either: its bar is a ``BackgroundRole`` gradient brush with a hard stop
at the unit's progress (cached per percent and colour), its text the percentage,
or the outcome in words once the unit is finished.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import NamedTuple

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QIcon,
    QLinearGradient,
    QPalette,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import QApplication

from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.states import TERMINAL, DeviceState
from certline.app.station.live_rows import DROP_SLACK, KEEP_FINISHED, rows_to_drop
from certline.ui.station.state_style import StateLook, Tone, look

Cell = dict[int, object]
DISPLAY = Qt.ItemDataRole.DisplayRole

SNAPSHOT_ROLE = Qt.ItemDataRole.UserRole + 1
"""The row's :class:`DeviceSnapshot` (column 0)."""
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2
"""Fraction 0..1 of the happy path (progress column)."""
# looked up once: an attribute of a Qt enum costs more than the dict insert it keys (per row, per flush)
_DECORATION = Qt.ItemDataRole.DecorationRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole
_BACKGROUND = Qt.ItemDataRole.BackgroundRole
_CENTER = Qt.AlignmentFlag.AlignCenter
_MISSING = object()

FLUSH_INTERVAL_MS = 100
#: rows the station window applies per pass of the event loop: about 1 ms of Python, well inside
#: the interpreter's 5 ms switch interval (64 changed rows took 5-7 ms in one pass)
ROWS_PER_PASS = 16
ELAPSED_TICK_MS = 1000
#: how strongly the progress bar's fill shows behind the cell text (0..255)
PROGRESS_FILL_ALPHA = 110

#: finished states whose progress cell shows the outcome in words instead of "100 %"
_WORDS = frozenset({DeviceState.DONE, DeviceState.FAILED, DeviceState.SKIPPED})
_ITEM_FLAGS = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled


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


_BARS: dict[tuple[int, int, int], QBrush] = {}


def progress_brush(percent: int, colour: QColor, width: int) -> QBrush | None:
    """A brush that fills the first ``percent`` % of a ``width``-pixel cell (None at 0 %).

    In logical coordinates from the cell's left edge: the item view style sets the brush origin
    to the cell's top-left before it fills the background (an object-bounding gradient would be
    shifted by that origin a second time). Shared per value: cells compare and copy cheaply.
    """
    if percent <= 0 or width <= 0:
        return None
    key = (min(percent, 100), colour.rgba(), width)
    brush = _BARS.get(key)
    if brush is None:
        fill = QColor(colour)
        fill.setAlpha(PROGRESS_FILL_ALPHA)
        clear = QColor(fill)
        clear.setAlpha(0)
        stop = key[0] / 100
        gradient = QLinearGradient(0, 0, width, 0)
        gradient.setColorAt(0.0, fill)
        gradient.setColorAt(stop, fill)
        if stop < 1.0:
            gradient.setColorAt(min(1.0, stop + 0.0001), clear)
            gradient.setColorAt(1.0, clear)
        brush = _BARS[key] = QBrush(gradient)
    return brush


class _Look(NamedTuple):
    """A state's look for one flush: translated words, and the brush, icon and colour shared by
    every flush (the same objects, so an unchanged cell compares by identity)."""

    look: StateLook
    foreground: QBrush
    icon: QIcon
    colour: QColor


def _ranges(rows: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Contiguous (first, last) runs of the sorted ``rows``."""
    first = last = None
    for row in sorted(rows):
        if last is not None and row == last + 1:
            last = row
            continue
        if first is not None and last is not None:
            yield first, last
        first = last = row
    if first is not None and last is not None:
        yield first, last


class DeviceTableModel(QStandardItemModel):
    """Table model over :class:`DeviceSnapshot`, keyed by ``device_id``.

    Attributes:
        batch_interval_ms: how long updates are collected before one redraw (0: immediately).
        rows_per_pass: with ``batch_interval_ms`` 0, apply at most this many queued rows at once
            and the rest in the next passes of the event loop (None: all at once). A long pass
            holds the GIL past the interpreter's switch interval while the engine's port workers
            wait for it; they then take it away mid-pass and the GUI thread waits to get it back,
            with its event loop stopped. Short passes let the loop run between them.
        keep_finished: how many DONE/SKIPPED units the table keeps (the newest; see live_rows).
        dropped_finished: how many finished units of the shown batch were dropped from the table.
    """

    finished_dropped = Signal(int)
    """How many finished units of the shown batch are no longer in the table (after each drop,
    and 0 when another batch is shown)."""

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        batch_interval_ms: int = FLUSH_INTERVAL_MS,
        rows_per_pass: int | None = None,
        keep_finished: int = KEEP_FINISHED,
    ) -> None:
        super().__init__(0, len(Column), parent)
        self.keep_finished = keep_finished
        self.dropped_finished = 0
        self._rows: list[DeviceSnapshot] = []
        self._cells: list[list[Cell]] = []
        self._row_of: dict[int, int] = {}
        self._pending: dict[int, DeviceSnapshot] = {}
        self._looks: dict[DeviceState, _Look] = {}
        self._tone_brushes: dict[Tone, QBrush] = {}
        self._highlight: QColor | None = None
        self._now: datetime | None = None
        self._bar_width = 100
        self.batch_interval_ms = batch_interval_ms
        self._flush_timer = QTimer(self, singleShot=True, interval=batch_interval_ms)
        self._flush_timer.timeout.connect(self.flush)
        self.rows_per_pass = rows_per_pass
        self._next_pass = QTimer(self, singleShot=True, interval=0)
        self._next_pass.timeout.connect(self._flush_pass)
        self._tick = QTimer(self, interval=ELAPSED_TICK_MS)
        self._tick.timeout.connect(self._tick_elapsed)
        self._tick.start()
        headers = {
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
        self.setHorizontalHeaderLabels([headers[column] for column in Column])

    # -- updates ----------------------------------------------------------------------------
    def update_device(self, snap: DeviceSnapshot) -> None:
        """Queue ``snap``; the newest snapshot per device wins at the next flush."""
        self.update_devices([snap])

    def update_devices(self, snaps: Iterable[DeviceSnapshot]) -> None:
        """Queue several snapshots (one frame's worth) with one timer check."""
        for snap in snaps:
            self._pending[snap.device_id] = snap
        if self.batch_interval_ms <= 0:
            self._flush_pass()
        elif self._pending and not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush_pass(self) -> None:
        """Apply up to :attr:`rows_per_pass` queued rows now, the rest in the next pass."""
        limit = self.rows_per_pass
        if limit is None or len(self._pending) <= limit:
            self.flush()
            return
        part = dict(itertools.islice(self._pending.items(), limit))
        for device_id in part:
            del self._pending[device_id]
        self._apply_pending(part)
        if not self._next_pass.isActive():
            self._next_pass.start()

    def flush(self) -> None:
        """Apply all queued snapshots: one ``insertRows`` for new devices, one ``dataChanged``
        per contiguous range of changed rows."""
        pending, self._pending = self._pending, {}
        self._apply_pending(pending)

    def _apply_pending(self, pending: dict[int, DeviceSnapshot]) -> None:
        if not pending:
            return
        self._new_flush()
        new: list[DeviceSnapshot] = []
        changed: list[int] = []
        blocked = self.blockSignals(True)  # per-item signals replaced by the ranges below
        try:
            for snap in pending.values():
                row = self._row_of.get(snap.device_id)
                if row is None:
                    new.append(snap)
                    continue
                self._rows[row] = snap
                if self._apply(row, self._make_cells(snap)):
                    changed.append(row)
        finally:
            self.blockSignals(blocked)
        last_column = len(Column) - 1
        for first, last in _ranges(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))
        if new:
            self._append(new)
        self._drop_finished()

    def _drop_finished(self) -> None:
        """Remove the oldest finished rows beyond :attr:`keep_finished` (one range at a time,
        bottom first, so the rows above keep their numbers while the rest are removed)."""
        if len(self._rows) <= self.keep_finished + DROP_SLACK:
            return  # cannot hold more finished rows than that: skip the scan
        drop = rows_to_drop([snap.state for snap in self._rows], keep=self.keep_finished)
        if not drop:
            return
        for first, last in reversed(list(_ranges(drop))):
            self.removeRows(first, last - first + 1)
            del self._rows[first : last + 1]
            del self._cells[first : last + 1]
        self._row_of = {snap.device_id: row for row, snap in enumerate(self._rows)}
        self.dropped_finished += len(drop)
        self.finished_dropped.emit(self.dropped_finished)

    def _new_flush(self) -> None:
        """Values shared by the rows of one flush: translated words, the palette, the clock."""
        self._looks.clear()
        self._highlight = None
        self._now = datetime.now(UTC)

    def _highlight_colour(self) -> QColor:
        if self._highlight is None:
            self._highlight = _highlight()
        return self._highlight

    def _append(self, snaps: list[DeviceSnapshot]) -> None:
        first = len(self._rows)
        cells = [self._make_cells(snap) for snap in snaps]
        self.insertRows(first, len(snaps))  # one rowsInserted for the lot (empty cells until below)
        blocked = self.blockSignals(True)
        try:
            for offset, (snap, row_cells) in enumerate(zip(snaps, cells, strict=True)):
                row = first + offset
                self._row_of[snap.device_id] = row
                self._rows.append(snap)
                self._cells.append(row_cells)
                for column, cell in enumerate(row_cells):
                    item = QStandardItem()
                    item.setFlags(_ITEM_FLAGS)
                    for role, value in cell.items():
                        item.setData(value, role)
                    self.setItem(row, column, item)
        finally:
            self.blockSignals(blocked)
        self.dataChanged.emit(self.index(first, 0), self.index(len(self._rows) - 1, len(Column) - 1))

    def _apply(self, row: int, cells: list[Cell]) -> bool:
        """Set the roles whose value changed; True if any did."""
        old_cells, self._cells[row] = self._cells[row], cells
        changed = False
        for column, (old, new) in enumerate(zip(old_cells, cells, strict=True)):
            if old == new:
                continue
            item = self.item(row, column)
            for role, value in new.items():
                before = old.get(role, _MISSING)
                if before is not value and before != value:
                    item.setData(value, role)
            for role in old.keys() - new.keys():
                item.setData(None, role)
            changed = True
        return changed

    def append_devices(self, snaps: list[DeviceSnapshot]) -> None:
        """Add rows at the end at once (a page of a past batch); known devices are updated."""
        self._pending.update((snap.device_id, snap) for snap in snaps)
        self.flush()

    def set_devices(self, snaps: list[DeviceSnapshot]) -> None:
        """Show another batch: remove the old rows, insert these (no model reset)."""
        self._pending.clear()
        if self.dropped_finished:
            self.dropped_finished = 0
            self.finished_dropped.emit(0)
        if self._rows:
            self._rows.clear()
            self._cells.clear()
            self._row_of.clear()
            self.removeRows(0, self.rowCount())
        for snap in snaps:
            self._pending[snap.device_id] = snap
        self.flush()

    def _tick_elapsed(self) -> None:
        live = [r for r, s in enumerate(self._rows) if s.state not in TERMINAL]
        if not live:
            return
        now = datetime.now(UTC)
        blocked = self.blockSignals(True)
        try:
            for row in live:
                text = format_elapsed(elapsed_seconds(self._rows[row], now))
                cell = self._cells[row][Column.ELAPSED]
                if cell.get(DISPLAY) != text:
                    cell[DISPLAY] = text
                    self.item(row, Column.ELAPSED).setData(text, DISPLAY)
        finally:
            self.blockSignals(blocked)
        self.dataChanged.emit(
            self.index(min(live), Column.ELAPSED),
            self.index(max(live), Column.ELAPSED),
            [Qt.ItemDataRole.DisplayRole],
        )

    def set_progress_width(self, width: int) -> None:
        """The progress column is ``width`` pixels wide now (the view says so when it changes)."""
        if width == self._bar_width or width <= 0:
            return
        self._bar_width = width
        self._new_flush()
        blocked = self.blockSignals(True)
        try:
            for row, snap in enumerate(self._rows):
                self._apply(row, self._make_cells(snap))
        finally:
            self.blockSignals(blocked)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, Column.PROGRESS),
                self.index(len(self._rows) - 1, Column.PROGRESS),
                [Qt.ItemDataRole.BackgroundRole],
            )

    # -- access -----------------------------------------------------------------------------
    def snapshot(self, row: int) -> DeviceSnapshot:
        return self._rows[row]

    def snapshots(self) -> list[DeviceSnapshot]:
        return list(self._rows)

    def row_of(self, device_id: int) -> int | None:
        return self._row_of.get(device_id)

    # -- cells ------------------------------------------------------------------------------
    def _look(self, state: DeviceState) -> _Look:
        found = self._looks.get(state)
        if found is None:
            state_look = look(state)
            brush = self._tone_brushes.get(state_look.tone)
            if brush is None:
                brush = self._tone_brushes[state_look.tone] = QBrush(state_look.colour)
            found = self._looks[state] = _Look(state_look, brush, state_look.icon, state_look.colour)
        return found

    def _make_cells(self, snap: DeviceSnapshot) -> list[Cell]:
        """Everything any view may ask about this row, computed once per update."""
        found = self._look(snap.state)
        state, foreground = found.look, found.foreground
        details = self._details(snap)
        percent = round(snap.progress * 100)
        finished = snap.state in _WORDS
        bar_colour = found.colour if finished else self._highlight_colour()
        cells: list[Cell] = [
            {DISPLAY: snap.port, SNAPSHOT_ROLE: snap},
            {DISPLAY: snap.serial_number or "—"},
            {DISPLAY: snap.model or "—"},
            {
                DISPLAY: state.text,
                _DECORATION: found.icon,
                _FOREGROUND: foreground,
                _TOOLTIP: f"{state.text}: {snap.step}",
            },
            {
                DISPLAY: state.text if finished else f"{percent} %",
                PROGRESS_ROLE: snap.progress,
                _ALIGNMENT: _CENTER,
            },
            {DISPLAY: format_elapsed(elapsed_seconds(snap, self._now))},
            {DISPLAY: snap.cert_serial or ""},
            {DISPLAY: snap.cert_not_after.date().isoformat() if snap.cert_not_after else ""},
            {DISPLAY: details, _FOREGROUND: foreground},
        ]
        bar = progress_brush(percent, bar_colour, self._bar_width)
        if bar is not None:
            cells[Column.PROGRESS][_BACKGROUND] = bar
        if details:
            cells[Column.DETAILS][_TOOLTIP] = details
        if snap.cert_fingerprint:
            cells[Column.CERT_SERIAL][_TOOLTIP] = self.tr("SHA-256 fingerprint: %1").replace(
                "%1", snap.cert_fingerprint
            )
        return cells

    def _details(self, snap: DeviceSnapshot) -> str:
        if snap.state == DeviceState.FAILED and snap.error:
            if not snap.failed_step:
                return snap.error
            return self.tr("%1 (step: %2)").replace("%1", snap.error).replace("%2", snap.failed_step)
        return snap.step


def _highlight() -> QColor:
    """The platform's highlight colour: the bar of a unit still in progress."""
    return QApplication.palette().color(QPalette.ColorRole.Highlight)
