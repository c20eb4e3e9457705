"""First contact with an unknown EST CA: show fingerprints, let a person confirm the anchor, then pin.

RFC 7030 4.1.1: certificates fetched without verification are only trusted
after someone compared their fingerprints with values obtained out of band
(the DTM console, a phone call, a printed sheet). This dialog shows the
SHA-256 fingerprint of the server's TLS certificate and of every CA
certificate; each one must be confirmed -- by pasting the out-of-band value
(it must match) or by ticking "compared" -- before "Pin as trust anchor" is
enabled. Nothing is ever pinned without that.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from certline.app.est.bootstrap import BootstrapResult, normalise_fingerprint, pin
from certline.ui.plumbing.resources import icon
from certline.ui.plumbing.worker import run_in_background
from certline.ui.station.state_style import Tone, tone_colour


class FingerprintRow(QGroupBox):
    """One certificate: its subject, its fingerprint, and the operator's confirmation."""

    def __init__(
        self, title: str, cert: x509.Certificate, fingerprint: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(title, parent)
        self.fingerprint = fingerprint
        subject = QLabel(cert.subject.rfc4514_string(), self, wordWrap=True)
        shown = QLabel(fingerprint, self, wordWrap=True)
        shown.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pasted = QLineEdit(self, placeholderText=self.tr("paste the fingerprint you were given"))
        self.ticked = QCheckBox(self.tr("I compared this fingerprint with the out-of-band value"), self)
        self.verdict = QLabel(self)
        grid = QGridLayout(self)
        grid.addWidget(QLabel(self.tr("Subject:"), self), 0, 0)
        grid.addWidget(subject, 0, 1)
        grid.addWidget(QLabel(self.tr("SHA-256:"), self), 1, 0)
        grid.addWidget(shown, 1, 1)
        grid.addWidget(QLabel(self.tr("Confirm:"), self), 2, 0)
        grid.addWidget(self.pasted, 2, 1)
        grid.addWidget(self.ticked, 3, 1)
        grid.addWidget(self.verdict, 4, 1)
        grid.setColumnStretch(1, 1)
        self.pasted.textChanged.connect(self._update_verdict)
        self.ticked.toggled.connect(self._update_verdict)
        self._update_verdict()

    def paste_matches(self) -> bool | None:
        """True/False for a pasted value, None when nothing was pasted."""
        text = self.pasted.text().strip()
        if not text:
            return None
        try:
            return normalise_fingerprint(text) == self.fingerprint
        except ValueError:
            return False

    def confirmed(self) -> bool:
        match = self.paste_matches()
        return match is True or (match is None and self.ticked.isChecked())

    def _update_verdict(self) -> None:
        match = self.paste_matches()
        if match is False:
            tone, text = Tone.BAD, self.tr("✗ Does NOT match — do not pin; ask your PKI administrator")
        elif self.confirmed():
            tone, text = Tone.GOOD, self.tr("✓ Confirmed")
        else:
            tone, text = Tone.ATTENTION, self.tr("Not confirmed yet")
        self.verdict.setText(text)
        self.verdict.setStyleSheet(f"color: {tone_colour(tone).name()}; font-weight: 600;")


def anchor_index(result: BootstrapResult) -> int:
    """The CA to pin: the self-signed root if the server sent one, else the last (topmost) CA."""
    for index, cert in enumerate(result.ca_certs):
        if cert.subject == cert.issuer:
            return index
    return len(result.ca_certs) - 1


class BootstrapDialog(QDialog):
    """Fetches ``/cacerts`` unverified (in a worker), asks for confirmation, returns the PEM to pin.

    Attributes:
        fetched: what the server sent (None until it answered).
        rows: one :class:`FingerprintRow` per certificate (server first).
        pinned_pem: the trust-anchor PEM after "Pin as trust anchor" (None before).
    """

    def __init__(self, fetch: Callable[[], BootstrapResult], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Trust a new EST server"))
        self.fetched: BootstrapResult | None = None
        self.rows: list[FingerprintRow] = []
        self.pinned_pem: str | None = None
        intro = QLabel(
            self.tr(
                "Certline has not seen this server's CA before. Compare the fingerprint of the CA marked "
                "“to pin” with the value your PKI administrator gave you (not from this screen or an "
                "e-mail from the server side), by pasting it or by eye. Compare the others too if you "
                "were given them. Only pin if what you compare matches."
            ),
            self,
            wordWrap=True,
        )
        self.status = QLabel(self.tr("Contacting the server…"), self, wordWrap=True)
        self.rows_box = QVBoxLayout()
        self.pin_button = QPushButton(icon("trust-anchor"), self.tr("&Pin as trust anchor"), self)
        self.pin_button.setEnabled(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        buttons.addButton(self.pin_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.rejected.connect(self.reject)
        self.pin_button.clicked.connect(self._pin)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(self.rows_box)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(760, 520)
        run_in_background(fetch, self.show_result, self._fetch_failed, owner=self)

    def show_result(self, result: BootstrapResult) -> None:
        self.fetched = result
        self.rows = [
            FingerprintRow(
                self.tr("TLS server certificate"), result.server_certificate, result.server_fingerprint, self
            )
        ]
        anchor = anchor_index(result) if result.ca_certs else -1
        for n, (cert, fp) in enumerate(zip(result.ca_certs, result.ca_fingerprints, strict=True), start=1):
            title = self.tr("CA certificate %1").replace("%1", str(n))
            if n - 1 == anchor:
                title = self.tr("CA certificate %1 — to pin as trust anchor").replace("%1", str(n))
            self.rows.append(FingerprintRow(title, cert, fp, self))
        for row in self.rows:
            self.rows_box.addWidget(row)
            row.pasted.textChanged.connect(self._update_pin_button)
            row.ticked.toggled.connect(self._update_pin_button)
        note = self.tr("Fetched from %1.").replace("%1", result.url)
        if not result.server_issued_by_ca:
            note += " " + self.tr(
                "Warning: the server's TLS certificate is not issued by these CAs, so pinning "
                "them will not make the connection trusted."
            )
        self.status.setText(note)
        self._update_pin_button()

    def _fetch_failed(self, exc: BaseException) -> None:
        self.status.setText(self.tr("Could not fetch the CA certificates: %1").replace("%1", str(exc)))
        self.status.setStyleSheet(f"color: {tone_colour(Tone.BAD).name()};")

    def anchor_row(self) -> FingerprintRow | None:
        """The row of the CA that would be pinned (rows[0] is the server's TLS certificate)."""
        if self.fetched is None or not self.fetched.ca_certs:
            return None
        return self.rows[1 + anchor_index(self.fetched)]

    def all_confirmed(self) -> bool:
        """The CA to pin is confirmed, and nothing pasted anywhere contradicts what was fetched.

        Only the anchor must be compared: it is what Certline will trust, and every later
        connection verifies the server's chain against it. That is also the one fingerprint a PKI
        administrator (and ``certline est-server``, and ``certline est --bootstrap``) gives. The
        other rows are there to compare when those values were given too; a mismatch in any
        row still blocks pinning.
        """
        anchor = self.anchor_row()
        return (
            anchor is not None
            and anchor.confirmed()
            and not any(row.paste_matches() is False for row in self.rows)
        )

    def _update_pin_button(self) -> None:
        self.pin_button.setEnabled(
            self.fetched is not None and bool(self.fetched.ca_certs) and self.all_confirmed()
        )

    def _pin(self) -> None:
        if self.fetched is None or not self.all_confirmed():
            return
        index = anchor_index(self.fetched)
        try:
            self.pinned_pem = pin(self.fetched, self.fetched.ca_fingerprints[index])
        except ValueError as exc:
            self._fetch_failed(exc)
            return
        self.accept()
