"""The log panel: engine events and library log records, filterable by level and device.

Lines arrive through the :class:`~ui.station.event_bridge.EventBridge` as ``LogEvent``;
messages are scrubbed once more on the way in (a secret must never be on
screen either). The model keeps the newest :data:`MAX_LINES` lines and removes
old ones from the top, so a day-long batch does not grow memory without bound.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from app.batch.events import LogEvent
from app.security.redaction import scrub
from ui.station.state_style import Tone, tone_colour

MAX_LINES = 5000
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class LogLine:
    at: datetime
    level: int
    message: str
    port: str | None
    device_id: int | None


class LogModel(QAbstractTableModel):
    """Columns: time, level, port, message."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lines: list[LogLine] = []
        self._headers = [self.tr("Time"), self.tr("Level"), self.tr("Port"), self.tr("Message")]

    def append(self, event: LogEvent) -> None:
        if len(self.lines) >= MAX_LINES:
            drop = len(self.lines) - MAX_LINES + 1
            self.beginRemoveRows(QModelIndex(), 0, drop - 1)
            del self.lines[:drop]
            self.endRemoveRows()
        line = LogLine(datetime.now(), event.level, scrub(event.message), event.port, event.device_id)
        self.beginInsertRows(QModelIndex(), len(self.lines), len(self.lines))
        self.lines.append(line)
        self.endInsertRows()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self.lines)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else 4

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < 4
        ):
            return self._headers[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.lines):
            return None
        line = self.lines[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                line.at.strftime("%H:%M:%S"),
                logging.getLevelName(line.level),
                line.port or "",
                line.message,
            )[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and line.level >= logging.WARNING:
            return QBrush(tone_colour(Tone.BAD if line.level >= logging.ERROR else Tone.ATTENTION))
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 3:
            return line.message
        return None


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
        if event.port and self.device.findData(event.port) < 0:
            self.device.addItem(event.port, event.port)
        scroll = self.view.verticalScrollBar()
        at_bottom = scroll.value() >= scroll.maximum() - 2
        self.model.append(event)
        if at_bottom:
            self.view.scrollToBottom()

    def _refilter(self) -> None:
        self.proxy.set_filter(self.level.currentData(), self.device.currentData())

    def visible_messages(self) -> list[str]:
        return [self.proxy.index(r, 3).data() for r in range(self.proxy.rowCount())]
