"""The scan field: where a keyboard-wedge barcode scanner types each unit's label.

A thin Qt adapter over :class:`certline.app.station.scan_in.KeyBurst` (scanner or person, by key speed
and terminator) and :meth:`certline.app.station.batch_run.BatchRun.scan` (which unit the label is for).
While a batch runs, :class:`ScanFocusKeeper` gives the field the keyboard focus back whenever
it moves elsewhere in the station window, so a scan is never typed into the device table; it
never takes the focus from a dialog, a menu or a field the operator is typing into.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from certline.app.batch.label_desk import ScanOutcome
from certline.app.station.scan_in import KeyBurst, Verdict
from certline.ui.station.state_style import Tone, tone_colour

_TERMINATORS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab)


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class ScanField(QLineEdit):
    """A line edit that reports a scan (fast keys + terminator) and ignores slow typing.

    Signals:
        scanned(str): a label came in at scanner speed, ended by Enter or Tab.
        typed(str): Enter after text typed at human speed (not taken as a scan).
        entered_by_hand(str): Ctrl+Enter: the operator submits what they typed, on purpose.
        discard_requested(): Esc in the empty field: forget the scans waiting for a unit.
    """

    scanned = Signal(str)
    typed = Signal(str)
    entered_by_hand = Signal(str)
    discard_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.burst = KeyBurst()
        self.setPlaceholderText(self.tr("Scan a unit's label here"))
        self.setAccessibleName(self.tr("Label scan"))
        self.setClearButtonEnabled(True)

    @staticmethod
    def _stamp(event: QKeyEvent) -> int:
        """The key's time: the window system's timestamp (when the key really came), else now."""
        stamp = int(event.timestamp())
        return stamp if stamp > 0 else _now_ms()

    def event(self, event: QEvent) -> bool:  # noqa: D401 - Qt override
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Delete
            and not self.text()
        ):
            event.ignore()  # nothing to delete here: Del is the window's "Skip selected"
            return False
        # Tab never reaches keyPressEvent (it moves the focus first): a scanner's Tab suffix
        # ends a scan like Enter does
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Tab
        ):
            self.keyPressEvent(event)
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        if key in _TERMINATORS:
            at = self._stamp(event)
            if key != Qt.Key.Key_Tab and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                text = self.text().strip()
                self.burst.reset()
                self.clear()
                if text:
                    self.entered_by_hand.emit(text)
                return
            result = self.burst.terminate(at)
            if result.verdict is Verdict.SCANNED:
                self.clear()
                self.scanned.emit(result.text)
            elif result.verdict is Verdict.TYPED:
                self.typed.emit(result.text)
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            self.burst.reset()
            if self.text():
                self.clear()
            else:
                self.discard_requested.emit()
            return
        if key == Qt.Key.Key_Backspace:
            self.burst.backspace()
        elif event.text() and event.text().isprintable():
            self.burst.key(event.text(), self._stamp(event))
        super().keyPressEvent(event)


class ScanPanel(QFrame):
    """The scan field with what became of the last scan and how many units wait for a label."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.caption = QLabel(self.tr("Label:"), self)
        self.field = ScanField(self)
        self.caption.setBuddy(self.field)
        self.result = QLabel(self)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.waiting = QLabel(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.field, 2)
        layout.addWidget(self.result, 3)
        layout.addWidget(self.waiting)
        self.field.typed.connect(self._typed)
        self.set_counts(0, 0)

    def show_outcome(self, outcome: ScanOutcome) -> None:
        tone = Tone.GOOD if outcome.accepted else Tone.BAD
        self.result.setStyleSheet(f"color: {tone_colour(tone).name()};")
        self.result.setText(outcome.message)

    def show_problem(self, text: str) -> None:
        self.result.setStyleSheet(f"color: {tone_colour(Tone.BAD).name()};")
        self.result.setText(text)

    def _typed(self, _text: str) -> None:
        self.result.setStyleSheet(f"color: {tone_colour(Tone.ATTENTION).name()};")
        self.result.setText(
            self.tr("That was typed, not scanned: scan the label, or press Ctrl+Enter to enter it by hand")
        )

    def set_counts(self, awaiting: int, queued: int) -> None:
        parts = []
        if awaiting:
            parts.append(self.tr("%n unit(s) wait for their label", "", awaiting))
        if queued:
            parts.append(self.tr("%n scan(s) wait for a unit", "", queued))
        self.waiting.setText(" · ".join(parts))


class ScanFocusKeeper(QObject):
    """Gives the scan field the focus back while a batch runs (see the module docstring)."""

    def __init__(self, field: ScanField, window: QWidget) -> None:
        super().__init__(field)
        self.field = field
        self.window = window
        self.active = False
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.focusChanged.connect(self._focus_changed)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.window and event.type() == QEvent.Type.WindowActivate and self.active:
            QTimer.singleShot(0, self._take_back)  # back from a dialog or another program
        return False

    def set_active(self, active: bool) -> None:
        """Watch the window only while active: the filter is a Python call per event the window
        gets (a dozen a second while a batch repaints it), each one a wait for the GIL."""
        if active != self.active:
            if active:
                self.window.installEventFilter(self)
            else:
                self.window.removeEventFilter(self)
        self.active = active
        if active:
            self._take_back()

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if self.active and new is not self.field:
            QTimer.singleShot(0, self._take_back)

    def _take_back(self) -> None:
        if not self.active or not self.field.isVisible() or not self.field.isEnabled():
            return
        if QApplication.activeModalWidget() is not None or QApplication.activePopupWidget() is not None:
            return  # a dialog or a menu is open: the operator is working there
        if not self.window.isActiveWindow():
            return  # another window (a non-modal dialog, another program) has the keyboard
        focused = QApplication.focusWidget()
        if focused is self.field:
            return
        if focused is not None and _is_text_input(focused):
            return  # the operator is typing into another field of the window
        self.field.setFocus(Qt.FocusReason.OtherFocusReason)


def _is_text_input(widget: QWidget) -> bool:
    if isinstance(widget, QLineEdit | QAbstractSpinBox | QPlainTextEdit):
        return not getattr(widget, "isReadOnly", lambda: False)()
    if isinstance(widget, QTextEdit):
        return not widget.isReadOnly()
    return isinstance(widget, QComboBox) and widget.isEditable()
