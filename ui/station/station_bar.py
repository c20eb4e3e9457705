"""The strip at the top of the window: what this station is set up to do, and for whom.

Left: profile, EST server, trust anchor, keyring entry -- each an icon plus
words, because a technician must see at a glance whether the station can
enroll. Right: work order and operator. A barcode scanner types like a
keyboard and ends with Enter, so Enter in a field moves on to the next one.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QWidget

from certline.app.batch.events import MesStatus
from certline.ui.plumbing.resources import icon
from certline.ui.station.monitor import SecretState, SecretStatus
from certline.ui.station.state_style import Tone, tone_colour, tone_icon


class StatusItem(QWidget):
    """An icon and a text label whose colour follows a :class:`Tone`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.icon_label = QLabel(self)
        self.text_label = QLabel(self)
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._shown: tuple[object, ...] | None = None
        layout.addWidget(self.icon_label)
        layout.addWidget(self.text_label, 1)

    def set_status(self, tone: Tone, text: str, tooltip: str = "") -> None:
        """Show a status; a repeat of the current one costs nothing (it comes with every batch event)."""
        key = (tone, text, tooltip, self.fontMetrics().height())
        if key == self._shown:
            return
        self._shown = key
        size = self.fontMetrics().height()
        self.icon_label.setPixmap(tone_icon(tone).pixmap(size, size))
        self.text_label.setText(text)
        self.text_label.setStyleSheet(f"color: {tone_colour(tone).name()}; font-weight: 600;")
        self.setToolTip(tooltip)
        self.setAccessibleName(text)

    def text(self) -> str:
        return self.text_label.text()


class StationBar(QFrame):
    """Profile, EST server, trust anchor, keyring entry, work order and operator.

    Signals:
        fields_completed(): Enter was pressed in the last field (a scan finished the form).
    """

    fields_completed = Signal()

    def __init__(self, profile_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.profile_label = QLabel(f"<b>{profile_name}</b>", self)
        self.profile_label.setTextFormat(Qt.TextFormat.RichText)
        self.server = StatusItem(self)
        self.trust = StatusItem(self)
        self.secret = StatusItem(self)
        self.journal = StatusItem(self)
        self.mes = StatusItem(self)
        self.mes.setObjectName("mes_status")
        self.work_order = QLineEdit(self, placeholderText=self.tr("scan or type"))
        self.operator = QLineEdit(self, placeholderText=self.tr("scan or type"))
        self.work_order.setObjectName("work_order")
        self.operator.setObjectName("operator")
        self.work_order.returnPressed.connect(self.operator.setFocus)
        self.operator.returnPressed.connect(self.fields_completed)
        self._lay_out()
        self.set_server(None)
        self.set_trust_anchor(None)
        self.set_secret(None)
        self.set_mes_checking()  # the window says "not configured" once the settings are read

    def _lay_out(self) -> None:
        status = QFormLayout()
        status.addRow(self._caption("action-profile", self.tr("Profile:")), self.profile_label)
        status.addRow(self._caption("server", self.tr("EST server:")), self.server)
        status.addRow(self._caption("trust-anchor", self.tr("Trust anchor:")), self.trust)
        status.addRow(self._caption("keyring", self.tr("Keyring:")), self.secret)
        status.addRow(self._caption("action-history", self.tr("Journal:")), self.journal)
        status.addRow(self._caption("action-export", self.tr("MES:")), self.mes)
        fields = QFormLayout()
        wo_label = QLabel(self.tr("&Work order:"), self)
        wo_label.setBuddy(self.work_order)
        op_label = QLabel(self.tr("&Operator:"), self)
        op_label.setBuddy(self.operator)
        fields.addRow(wo_label, self.work_order)
        fields.addRow(op_label, self.operator)
        layout = QHBoxLayout(self)
        layout.addLayout(status, 3)
        layout.addSpacing(24)
        layout.addLayout(fields, 2)

    def _caption(self, icon_name: str, text: str) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        pic = QLabel(box)
        size = self.fontMetrics().height()
        pic.setPixmap(icon(icon_name).pixmap(size, size))
        row.addWidget(pic)
        row.addWidget(QLabel(text, box))
        return box

    # -- updates from the monitor -------------------------------------------------------
    def set_profile(self, name: str) -> None:
        self.profile_label.setText(f"<b>{name}</b>")

    def set_server(self, reachable: bool | None) -> None:
        if reachable is None:
            self.server.set_status(Tone.WAITING, self.tr("checking…"))
        elif reachable:
            self.server.set_status(Tone.GOOD, self.tr("reachable"))
        else:
            self.server.set_status(Tone.BAD, self.tr("not reachable"))

    def set_journal(self, station: str, shared: bool, where: str, reachable: bool = True) -> None:
        """This station's name and its journal: its own file, or the line's database (and
        whether that database answers; units wait while it does not)."""
        if not shared:
            self.journal.set_status(
                Tone.NEUTRAL, self.tr("station %1, own journal").replace("%1", station), where
            )
        elif reachable:
            self.journal.set_status(
                Tone.GOOD, self.tr("station %1, shared journal").replace("%1", station), where
            )
        else:
            self.journal.set_status(
                Tone.BAD,
                self.tr("station %1, shared journal unreachable: units wait").replace("%1", station),
                where,
            )

    def set_mes(self, status: MesStatus | None, problem: str | None = None) -> None:
        """The MES hand-off: not configured, the backlog (records waiting, and why), or all
        delivered. ``problem``: the hand-off could not start (its settings are wrong)."""
        if problem is not None:
            self.mes.set_status(Tone.BAD, self.tr("not started: check the MES settings"), problem)
        elif status is None or not status.channels:
            self.mes.set_status(Tone.NEUTRAL, self.tr("not configured"))
        elif not status.waiting:
            self.mes.set_status(Tone.GOOD, self.tr("all records delivered"))
        elif status.last_error:
            waiting = status.waiting  # a plain name: lupdate only parses a name as the %n count
            if status.last_error.startswith("folder:"):
                text = self.tr("%n record(s) waiting: drop folder not writable", "", waiting)
            else:
                text = self.tr("%n record(s) waiting: MES not reachable", "", waiting)
            self.mes.set_status(Tone.BAD, text, status.last_error)
        else:
            waiting = status.waiting
            self.mes.set_status(Tone.WAITING, self.tr("%n record(s) waiting", "", waiting))

    def set_mes_checking(self) -> None:
        """The hand-off started and reads its backlog (a shared journal may take a moment)."""
        self.mes.set_status(Tone.WAITING, self.tr("checking…"))

    def set_trust_anchor(self, value: list[str] | str | None) -> None:
        if value is None:
            self.trust.set_status(Tone.WAITING, self.tr("reading…"))
        elif isinstance(value, str):
            self.trust.set_status(Tone.BAD, self.tr("cannot read the CA file"), value)
        elif not value:
            self.trust.set_status(Tone.BAD, self.tr("none pinned: bootstrap the CA in the profile editor"))
        else:
            extra = len(value) - 1  # a plain name: lupdate 6.11 cannot parse an expression as the count
            more = self.tr(" (+%n more)", "", extra) if extra else ""
            short = value[0][:23] + "…"
            self.trust.set_status(Tone.GOOD, f"SHA-256 {short}{more}", "\n".join(value))

    def set_secret(self, status: SecretStatus | None) -> None:
        if status is None:
            self.secret.set_status(Tone.WAITING, self.tr("checking…"))
            return
        texts = {
            SecretState.PRESENT: (Tone.GOOD, self.tr("passcode present")),
            SecretState.MISSING: (Tone.BAD, self.tr("passcode missing")),
            SecretState.NOT_NEEDED: (Tone.NEUTRAL, self.tr("no secret needed")),
            SecretState.UNAVAILABLE: (Tone.BAD, self.tr("keyring unavailable")),
            SecretState.SUPPLIED: (Tone.GOOD, self.tr("secret supplied at start")),
        }
        tone, text = texts[status.state]
        self.secret.set_status(tone, text, status.detail)

    def fields(self) -> tuple[str | None, str | None]:
        """Work order and operator, stripped; None when empty."""
        return (self.work_order.text().strip() or None, self.operator.text().strip() or None)

    def set_signed_in(self, name: str | None) -> None:
        """An empty Operator field records the signed-in operator (docs/roles.md): its placeholder
        says who that is, so the technician sees the name the batch will carry."""
        self.operator.setPlaceholderText(
            self.tr("%1 (signed in)").replace("%1", name) if name else self.tr("scan or type")
        )

    def set_fields_enabled(self, enabled: bool) -> None:
        self.work_order.setReadOnly(not enabled)
        self.operator.setReadOnly(not enabled)
