"""Paints a progress bar in a table cell from the model's ``PROGRESS_ROLE`` (0..1).

A delegate rather than an index widget: hundreds of rows cost nothing, and
the bar uses the platform style so it looks native and scales with the DPI.
The bar's text is the current step in words so the bar never stands alone.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from app.batch.events import DeviceSnapshot
from app.batch.states import DeviceState
from ui.station.device_model import PROGRESS_ROLE, SNAPSHOT_ROLE
from ui.station.state_style import look

#: finished states whose bar shows the outcome in words instead of "100 %"
_WORDS = frozenset({DeviceState.DONE, DeviceState.FAILED, DeviceState.SKIPPED})


class ProgressDelegate(QStyledItemDelegate):
    """Draws ``PROGRESS_ROLE`` as a ``QStyleOptionProgressBar`` with the state in words."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        snap: DeviceSnapshot | None = index.data(SNAPSHOT_ROLE)
        progress = snap.progress if snap is not None else index.data(PROGRESS_ROLE)
        if progress is None:
            super().paint(painter, option, index)
            return
        style = option.widget.style() if option.widget is not None else QApplication.style()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 3, -3, -3)
        bar.minimum = 0
        bar.maximum = 100
        bar.progress = round(float(progress) * 100)
        bar.text = self._text(snap, bar.progress)
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.direction = option.direction
        bar.fontMetrics = option.fontMetrics
        bar.palette = self._palette(option, snap)
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)

    def _text(self, snap: DeviceSnapshot | None, percent: int) -> str:
        if snap is not None and snap.state in _WORDS:
            return look(snap.state).text
        return f"{percent} %"

    @staticmethod
    def _palette(option: QStyleOptionViewItem, snap: DeviceSnapshot | None) -> QPalette:
        """The bar's chunk takes the state's colour once the device is finished."""
        palette = QPalette(option.palette)
        if snap is not None and snap.state in _WORDS:
            palette.setColor(QPalette.ColorRole.Highlight, look(snap.state).colour)
        return palette

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), option.fontMetrics.horizontalAdvance("100 %") * 3), hint.height())
