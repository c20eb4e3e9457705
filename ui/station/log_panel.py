"""The log panel: engine events and library log records, filterable by level and device.

Lines arrive through the :class:`~certline.ui.station.event_bridge.EventBridge` as ``LogEvent``,
one frame's lines at a time; messages are scrubbed once more on the way in (a secret must
never be on screen either). The model keeps the newest :data:`MAX_LINES` lines and removes
old ones from the top, so a day-long batch does not grow memory without bound.

The cells are ``QStandardItem``s: the text, colour and tooltip of a line are set once when it
arrives and painting reads them in C++, without a Python call (and a GIL acquisition against
the engine's busy worker threads) per painted cell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
)
from PySide6.QtGui import QBrush, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from certline.app.batch.events import LogEvent
from certline.app.security.redaction import scrub
from certline.ui.station.state_style import Tone, tone_colour

MAX_LINES = 5000
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class LogLine:
    at: datetime
    level: int
    message: str
    port: str | None
    device_id: int | None


class LogModel(QStandardItemModel):
    """Columns: time, level, port, message; :attr:`lines` holds the same lines as data."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(0, 4, parent)
        self.lines: list[LogLine] = []
        self.setHorizontalHeaderLabels(
            [self.tr("Time"), self.tr("Level"), self.tr("Port"), self.tr("Message")]
        )
        self._brushes = {
            Tone.BAD: QBrush(tone_colour(Tone.BAD)),
            Tone.ATTENTION: QBrush(tone_colour(Tone.ATTENTION)),
        }

    def append(self, event: LogEvent) -> None:
        self.extend([event])

    def extend(self, events: list[LogEvent]) -> None:
        """Add lines at the bottom, then drop the oldest beyond :data:`MAX_LINES` (one removal)."""
        events = events[-MAX_LINES:]
        now = datetime.now()
        for event in events:
            line = LogLine(now, event.level, scrub(event.message), event.port, event.device_id)
            self.lines.append(line)
            self.appendRow(self._items(line))
        drop = len(self.lines) - MAX_LINES
        if drop > 0:
            del self.lines[:drop]
            self.removeRows(0, drop)

    def _items(self, line: LogLine) -> list[QStandardItem]:
        items = [
            QStandardItem(line.at.strftime("%H:%M:%S")),
            QStandardItem(logging.getLevelName(line.level)),
            QStandardItem(line.port or ""),
            QStandardItem(line.message),
        ]
        items[3].setToolTip(line.message)
        if line.level >= logging.WARNING:
            brush = self._brushes[Tone.BAD if line.level >= logging.ERROR else Tone.ATTENTION]
            for item in items:
                item.setForeground(brush)
        for item in items:
            item.setEditable(False)
        return items


class LogFilter(QSortFilterProxyModel):
    """Shows lines at or above ``min_level`` and, when set, only those of one port."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.min_level = logging.INFO
        self.port: str | None = None

    def set_filter(self, min_level: int, port: str | None) -> None:
        self.beginFilterChange()
        self.min_level, self.port = min_level, port
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802 - Qt override
        model = self.sourceModel()
        assert isinstance(model, LogModel)
        line = model.lines[source_row]
        return line.level >= self.min_level and (self.port is None or line.port == self.port)


class LogPanel(QWidget):
    """Filter combos above a table of log lines that follows the newest line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LogModel(self)
        self.proxy = LogFilter(self)
        self.proxy.setSourceModel(self.model)
        self.level = QComboBox(self)
        for text, level in (
            (self.tr("Everything"), logging.DEBUG),
            (self.tr("Information and above"), logging.INFO),
            (self.tr("Warnings and errors"), logging.WARNING),
            (self.tr("Errors only"), logging.ERROR),
        ):
            self.level.addItem(text, level)
        self.level.setCurrentIndex(1)
        self.device = QComboBox(self)
        self.device.addItem(self.tr("All devices"), None)
        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(False)
        self.view.setTabKeyNavigation(False)
        metrics = self.view.fontMetrics()
        for column, sample in ((0, "00:00:00"), (1, "WARNING"), (2, "/dev/ttyACM00")):
            self.view.setColumnWidth(column, metrics.horizontalAdvance(sample) + 3 * metrics.height())
        self._lay_out()
        self.level.currentIndexChanged.connect(self._refilter)
        self.device.currentIndexChanged.connect(self._refilter)

    def _lay_out(self) -> None:
        level_label = QLabel(self.tr("&Level:"), self)
        level_label.setBuddy(self.level)
        device_label = QLabel(self.tr("&Device:"), self)
        device_label.setBuddy(self.device)
        bar = QHBoxLayout()
        bar.addWidget(level_label)
        bar.addWidget(self.level)
        bar.addSpacing(12)
        bar.addWidget(device_label)
        bar.addWidget(self.device)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view)

    def add_event(self, event: LogEvent) -> None:
        self.add_events([event])

    def add_events(self, events: list[LogEvent]) -> None:
        """One frame's lines: one append, at most one trim and one scroll."""
        for port in dict.fromkeys(event.port for event in events if event.port):
            if self.device.findData(port) < 0:
                self.device.addItem(port, port)
        scroll = self.view.verticalScrollBar()
        at_bottom = scroll.value() >= scroll.maximum() - 2
        self.model.extend(events)
        if at_bottom:
            self.view.scrollToBottom()

    def _refilter(self) -> None:
        self.proxy.set_filter(self.level.currentData(), self.device.currentData())

    def visible_messages(self) -> list[str]:
        return [self.proxy.index(r, 3).data() for r in range(self.proxy.rowCount())]
