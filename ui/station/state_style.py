"""How a device state looks: words, an icon and a colour -- never the colour alone.

Technicians read the table from a distance and some of them cannot tell red
from green, so every state has a distinct icon shape and a word as well as a
colour. The colours are dark enough to pass WCAG AA as text on a white row.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from PySide6.QtGui import QColor, QIcon

from certline.app.batch.states import DeviceState
from certline.ui.plumbing.resources import icon


class Tone(enum.Enum):
    """The few visual families every state falls into (also used by counters and the station bar)."""

    WAITING = "waiting"
    WORKING = "working"
    ATTENTION = "attention"
    GOOD = "good"
    BAD = "bad"
    NEUTRAL = "neutral"


TONE_COLOURS: dict[Tone, str] = {
    Tone.WAITING: "#616161",
    Tone.WORKING: "#1565c0",
    Tone.ATTENTION: "#b34700",
    Tone.GOOD: "#2e7d32",
    Tone.BAD: "#c62828",
    Tone.NEUTRAL: "#616161",
}

TONE_ICONS: dict[Tone, str] = {
    Tone.WAITING: "state-waiting",
    Tone.WORKING: "state-working",
    Tone.ATTENTION: "state-pending",
    Tone.GOOD: "state-done",
    Tone.BAD: "state-failed",
    Tone.NEUTRAL: "state-skipped",
}

_CONTEXT = "DeviceState"

#: state -> (untranslated label, tone); labels are marked for lupdate, translated on use.
_STATES: dict[DeviceState, tuple[object, Tone]] = {
    DeviceState.DETECTED: (QT_TRANSLATE_NOOP("DeviceState", "Detected"), Tone.WAITING),
    DeviceState.IDENTIFIED: (QT_TRANSLATE_NOOP("DeviceState", "Identified"), Tone.WORKING),
    DeviceState.AWAITING_LABEL: (QT_TRANSLATE_NOOP("DeviceState", "Scan its label"), Tone.ATTENTION),
    DeviceState.KEY_READY: (QT_TRANSLATE_NOOP("DeviceState", "Key ready"), Tone.WORKING),
    DeviceState.CSR_READY: (QT_TRANSLATE_NOOP("DeviceState", "CSR ready"), Tone.WORKING),
    DeviceState.ENROLLING: (QT_TRANSLATE_NOOP("DeviceState", "Enrolling"), Tone.WORKING),
    DeviceState.PENDING_APPROVAL: (QT_TRANSLATE_NOOP("DeviceState", "Pending approval"), Tone.ATTENTION),
    DeviceState.ISSUED: (QT_TRANSLATE_NOOP("DeviceState", "Issued"), Tone.WORKING),
    DeviceState.WRITING: (QT_TRANSLATE_NOOP("DeviceState", "Writing"), Tone.WORKING),
    DeviceState.WRITTEN: (QT_TRANSLATE_NOOP("DeviceState", "Written"), Tone.WORKING),
    DeviceState.VERIFIED: (QT_TRANSLATE_NOOP("DeviceState", "Verified"), Tone.WORKING),
    DeviceState.DONE: (QT_TRANSLATE_NOOP("DeviceState", "Done"), Tone.GOOD),
    DeviceState.FAILED: (QT_TRANSLATE_NOOP("DeviceState", "Failed"), Tone.BAD),
    DeviceState.SKIPPED: (QT_TRANSLATE_NOOP("DeviceState", "Skipped"), Tone.NEUTRAL),
}


@dataclass(frozen=True)
class StateLook:
    text: str
    tone: Tone

    @property
    def colour(self) -> QColor:
        return QColor(TONE_COLOURS[self.tone])

    @property
    def icon(self) -> QIcon:
        return tone_icon(self.tone)


def look(state: DeviceState) -> StateLook:
    """Translated label and tone for ``state``."""
    label, tone = _STATES[state]
    return StateLook(QCoreApplication.translate(_CONTEXT, str(label)), tone)


def tone_colour(tone: Tone) -> QColor:
    return QColor(TONE_COLOURS[tone])


#: one icon per tone, made on first use (on the GUI thread, once a QApplication exists)
_TONE_ICONS: dict[Tone, QIcon] = {}


def tone_icon(tone: Tone) -> QIcon:
    """The tone's icon, one shared instance per tone.

    Shared, not loaded anew per call: loading stats the SVG file (a system call that lets the
    engine's worker threads take the GIL from the GUI thread mid-update), and a view keeps its
    rendered pixmaps per icon instance, so a new instance per table update meant the SVG was
    rendered again at every repaint and every row's icon looked changed.
    """
    found = _TONE_ICONS.get(tone)
    if found is None:
        found = _TONE_ICONS[tone] = icon(TONE_ICONS[tone])
    return found
