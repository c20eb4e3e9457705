"""Field re-enrollment of one unit: read its certificate, renew it, compare old and new.

Everything that touches the serial port, the EST server or the journal runs in
:func:`certline.ui.plumbing.worker.run_in_background`; the dialog only shows results. The work
itself is :mod:`certline.app.reenroll` (the same code ``certline reenroll --port`` runs),
so the GUI and the CLI renew a unit identically and journal it the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from certline.app.device.driver import DeviceError, DeviceLost
from certline.app.est.errors import EstError
from certline.app.reenroll import CurrentCredential, ReenrollError, RenewalResult, SigningUnsupported
from certline.app.station import StationSession
from certline.app.station.renewal import read_unit, renew_unit
from certline.ui.plumbing.worker import run_in_background
from certline.ui.widgets.certificate_panel import CertificatePanel

PortProvider = Callable[[], list[str]]


class ReenrollDialog(QDialog):
    """Read and renew the certificate of the unit on one port.

    Attributes:
        port: editable list of ports; read_button, rekey, renew_button: the commands.
        current: the certificate the unit holds now.
        before, after: old and new certificate side by side once a renewal succeeded.
        warnings: the server's warnings (hidden when there are none); status: progress and errors.
    """

    def __init__(
        self,
        session: StationSession,
        parent: QWidget | None = None,
        *,
        port_provider: PortProvider | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._busy = False
        self._read_ok = False
        self.setWindowTitle(self.tr("Re-enroll a unit"))
        self.port = QComboBox(self)
        self.port.setEditable(True)
        self.port.addItems(port_provider() if port_provider else [])
        self.read_button = QPushButton(self.tr("&Read certificate"), self)
        self.rekey = QCheckBox(self.tr("New &key (re-key)"), self)
        self.rekey.setToolTip(self.tr("The unit makes a new key for the new certificate"))
        self.renew_button = QPushButton(self.tr("Re&new"), self)
        self.current = CertificatePanel(self.tr("Current certificate"), self)
        self.before = CertificatePanel(self.tr("Old certificate"), self)
        self.after = CertificatePanel(self.tr("New certificate"), self)
        self.warnings = QGroupBox(self.tr("Warnings"), self)
        self.warning_text = QLabel(self.warnings)
        self.warning_text.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self._lay_out()
        self.read_button.clicked.connect(self.read_certificate)
        self.renew_button.clicked.connect(self.renew)
        self.port.editTextChanged.connect(self._port_changed)
        self._update_buttons()

    def _lay_out(self) -> None:
        port_label = QLabel(self.tr("&Port:"), self)
        port_label.setBuddy(self.port)
        top = QHBoxLayout()
        top.addWidget(port_label)
        top.addWidget(self.port, 1)
        top.addWidget(self.read_button)
        actions = QHBoxLayout()
        actions.addWidget(self.rekey)
        actions.addStretch(1)
        actions.addWidget(self.renew_button)
        # one above the other: side by side, two panels of unbroken SHA-256 and issuer lines made
        # the dialog wider than a line PC's screen after Renew (found by a newcomer at 1440 x 900)
        compare = QVBoxLayout()
        compare.addWidget(self.before)
        compare.addWidget(self.after)
        QVBoxLayout(self.warnings).addWidget(self.warning_text)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.current)
        layout.addLayout(actions)
        layout.addLayout(compare)
        layout.addWidget(self.warnings)
        layout.addWidget(self.status)
        layout.addWidget(box)
        for widget in (self.before, self.after, self.warnings):
            widget.hide()
        self.resize(900, 520)

    # -- commands ------------------------------------------------------------------------
    def read_certificate(self) -> None:
        port = self.port.currentText().strip()
        if not port or self._busy:
            return
        self._start(self.tr("Reading the certificate on %1…").replace("%1", port))
        profile = self.session.profile
        run_in_background(lambda: read_unit(profile, port), self._show_current, self._failed, owner=self)

    def renew(self) -> None:
        port = self.port.currentText().strip()
        if not port or self._busy:
            return
        self._start(self.tr("Renewing the certificate on %1…").replace("%1", port))
        session, rekey = self.session, self.rekey.isChecked()
        run_in_background(
            lambda: renew_unit(session.journal, session.profile, port, rekey=rekey),
            self._show_renewal,
            self._failed,
            owner=self,
        )

    # -- results (main thread) -----------------------------------------------------------
    def _show_current(self, current: CurrentCredential) -> None:
        self.current.show_view(current.view)
        self.before.hide()
        self.after.hide()
        self.current.show()
        self._read_ok = True
        self._finish(self.tr("Unit %1 holds this certificate.").replace("%1", current.identity.serial_number))

    def _show_renewal(self, result: RenewalResult | None) -> None:
        assert result is not None, "the dialog renews without a proceed callback"
        self.before.show_view(result.old)
        self.after.show_view(result.new)
        self.current.show_view(result.new)
        self.current.hide()  # "New certificate" below is what the unit holds now
        self.before.show()
        self.after.show()
        self.warning_text.setText("\n".join(result.warnings))
        self.warnings.setVisible(bool(result.warnings))
        # another Renew now would issue another certificate: it waits for the unit to be read again
        self._read_ok = False
        self._finish(self.tr("Renewed: the new certificate is written to the unit and verified."))

    def _failed(self, exc: BaseException) -> None:
        self._read_ok = False  # what the unit holds now is read again before the next Renew
        if isinstance(exc, SigningUnsupported):
            text = self.tr("This unit cannot be re-enrolled here: %1")
        elif isinstance(exc, ReenrollError):
            text = self.tr("Cannot renew: %1")
        elif isinstance(exc, DeviceLost):
            text = self.tr("The unit was disconnected: %1")
        elif isinstance(exc, DeviceError):
            text = self.tr("The unit did not answer as expected: %1")
        elif isinstance(exc, EstError):
            text = self.tr("The EST server refused or failed: %1")
        else:
            text = self.tr("Unexpected error (%1): %2").replace("%1", type(exc).__name__).replace("%2", "%1")
        self._finish(text.replace("%1", str(exc)), error=True)

    # -- state ---------------------------------------------------------------------------
    def _start(self, message: str) -> None:
        self._busy = True
        self.status.setStyleSheet("")
        self.status.setText(message)
        self.warnings.hide()
        self._update_buttons()

    def _finish(self, message: str, *, error: bool = False) -> None:
        self._busy = False
        self.status.setText(message)
        self.status.setStyleSheet("color: #c62828; font-weight: bold;" if error else "")
        self._update_buttons()

    def _port_changed(self) -> None:
        self._read_ok = False
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_port = bool(self.port.currentText().strip())
        for widget in (self.port, self.read_button, self.rekey):
            widget.setEnabled(not self._busy)
        self.read_button.setEnabled(not self._busy and has_port)
        self.renew_button.setEnabled(not self._busy and has_port and self._read_ok)

    @property
    def busy(self) -> bool:
        """True while a read or renewal runs (tests wait for False)."""
        return self._busy
