"""Big batch counters, readable from across the bench: done, in progress, failed, ...

Each tile is a number, a caption and an icon in the tile's colour; the number
is sized relative to the application font so the large-text setting scales it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from certline.app.batch.events import BatchSnapshot
from certline.ui.station.state_style import Tone, tone_colour, tone_icon

NUMBER_SCALE = 2.4


class CounterTile(QFrame):
    """One number with its caption."""

    def __init__(self, caption: str, tone: Tone, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._tone = tone
        self._caption_text = caption
        self.number = QLabel("", self)
        self.number.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.number.setStyleSheet(f"color: {tone_colour(tone).name()};")
        self.icon = QLabel(self)
        self.caption = QLabel(caption, self)
        head = QHBoxLayout()
        head.addStretch(1)
        head.addWidget(self.icon)
        head.addWidget(self.caption)
        head.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 6)
        layout.setSpacing(0)
        layout.addWidget(self.number)
        layout.addLayout(head)
        self._apply_font()
        self.set_value(0)

    def set_value(self, value: int | None) -> None:
        text = "—" if value is None else str(value)
        if text == self.number.text():
            return  # every batch event carries all counters; most do not change
        self.number.setText(text)
        self.setAccessibleName(f"{self._caption_text}: {self.number.text()}")

    def value_text(self) -> str:
        return self.number.text()

    def _apply_font(self) -> None:
        big = QFont(self.font())
        if big.pointSizeF() > 0:
            big.setPointSizeF(big.pointSizeF() * NUMBER_SCALE)
        else:
            big.setPixelSize(round(big.pixelSize() * NUMBER_SCALE))
        big.setBold(True)
        self.number.setFont(big)
        size = self.fontMetrics().height()
        self.icon.setPixmap(tone_icon(self._tone).pixmap(size, size))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.FontChange:
            self._apply_font()
        super().changeEvent(event)


class BatchCounters(QWidget):
    """Done, skipped, in progress, failed, pending approval and expected remaining.

    Done counts units provisioned now; a unit left out (already provisioned, skipped) is counted
    under Skipped, so a technician never reads a skip as a success.

    Attributes:
        done, skipped, in_progress, failed, pending, remaining: the tiles (tests read their text).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.done = CounterTile(self.tr("Done"), Tone.GOOD, self)
        self.skipped = CounterTile(self.tr("Skipped"), Tone.NEUTRAL, self)
        self.in_progress = CounterTile(self.tr("In progress"), Tone.WORKING, self)
        self.failed = CounterTile(self.tr("Failed"), Tone.BAD, self)
        self.pending = CounterTile(self.tr("Pending approval"), Tone.ATTENTION, self)
        self.remaining = CounterTile(self.tr("Expected remaining"), Tone.NEUTRAL, self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for tile in (self.done, self.skipped, self.in_progress, self.failed, self.pending, self.remaining):
            layout.addWidget(tile)
        self.remaining.set_value(None)

    def update_batch(self, snap: BatchSnapshot) -> None:
        self.done.set_value(snap.done - snap.skipped)  # the engine's "done" is "needs nothing more"
        self.skipped.set_value(snap.skipped)
        self.in_progress.set_value(snap.in_progress)
        self.failed.set_value(snap.failed)
        self.pending.set_value(snap.pending_approval)
        self.remaining.set_value(snap.expected_remaining)

    def clear(self) -> None:
        for tile in (self.done, self.skipped, self.in_progress, self.failed, self.pending):
            tile.set_value(0)
        self.remaining.set_value(None)
