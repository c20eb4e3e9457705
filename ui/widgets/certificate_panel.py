"""How a certificate looks in the field views: its fields, and how urgent its expiry is.

Urgency is shown as a word, an icon and a colour (never the colour alone), with
the same tones the device table uses, so "expired" looks like "failed" and
"soon" like "needs attention" everywhere in the station.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QWidget

from certline.app.reenroll import CertificateView
from certline.ui.station.state_style import Tone, tone_colour, tone_icon

_CONTEXT = "Urgency"

#: urgency from :meth:`CertificateView.urgency` -> (untranslated label, tone)
_URGENCY: dict[str, tuple[object, Tone]] = {
    "expired": (QT_TRANSLATE_NOOP("Urgency", "Expired"), Tone.BAD),
    "critical": (QT_TRANSLATE_NOOP("Urgency", "Critical: under 7 days"), Tone.BAD),
    "soon": (QT_TRANSLATE_NOOP("Urgency", "Renew soon: under 30 days"), Tone.ATTENTION),
    "ok": (QT_TRANSLATE_NOOP("Urgency", "OK"), Tone.GOOD),
}


@dataclass(frozen=True)
class UrgencyLook:
    """Translated word, colour and icon for one urgency level."""

    text: str
    colour: QColor
    icon: QIcon


def urgency_look(urgency: str) -> UrgencyLook:
    label, tone = _URGENCY.get(urgency, _URGENCY["ok"])
    return UrgencyLook(QCoreApplication.translate(_CONTEXT, str(label)), tone_colour(tone), tone_icon(tone))


class CertificatePanel(QGroupBox):
    """The fields of one certificate, selectable so an engineer can copy a serial or fingerprint.

    Attributes:
        subject, san, issuer, serial, validity, days_left, fingerprint: the value labels.
        urgency_icon: the icon next to the days left (shape, not only colour).
    """

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        form = QFormLayout(self)
        self.subject = self._row(form, self.tr("Subject:"))
        self.san = self._row(form, self.tr("Alternative names:"))
        self.issuer = self._row(form, self.tr("Issuer:"))
        self.serial = self._row(form, self.tr("Serial:"))
        self.validity = self._row(form, self.tr("Valid:"))
        self.urgency_icon = QLabel(self)
        self.days_left = QLabel(self)
        self.days_left.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        holder = QWidget(self)
        line = QHBoxLayout(holder)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.urgency_icon)
        line.addWidget(self.days_left, 1)
        form.addRow(self.tr("Days left:"), holder)
        self.fingerprint = self._row(form, self.tr("SHA-256:"))

    def _row(self, form: QFormLayout, caption: str) -> QLabel:
        label = QLabel("—", self)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(caption, label)
        return label

    def show_view(self, view: CertificateView) -> None:
        """Fill the labels from ``view``; days left carry the urgency word, icon and colour."""
        self.subject.setText(view.subject)
        self.san.setText(", ".join(view.san) or "—")
        self.issuer.setText(view.issuer)
        self.serial.setText(view.serial)
        self.validity.setText(
            self.tr("%1 to %2 UTC")
            .replace("%1", f"{view.not_before:%Y-%m-%d %H:%M}")
            .replace("%2", f"{view.not_after:%Y-%m-%d %H:%M}")
        )
        self.fingerprint.setText(view.fingerprint)
        look = urgency_look(view.urgency())
        days = round(view.days_left())
        self.days_left.setText(self.tr("%1 days (%2)").replace("%1", str(days)).replace("%2", look.text))
        self.days_left.setStyleSheet(f"color: {look.colour.name()}; font-weight: bold;")
        self.urgency_icon.setPixmap(look.icon.pixmap(16, 16))
        self.urgency_icon.setAccessibleName(look.text)
