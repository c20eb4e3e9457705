"""The profile editor's fields, in four tabs, with a problem line under every field.

Server (name, URLs, label, device group, trust anchor), Authentication (style,
user name, client credential files), Certificate (key generation and
algorithm, subject template, CSR encoding, proof of possession) and Station
(driver, baud, concurrency, port filters). :meth:`ProfileForm.profile` builds
a :class:`~certline.app.config.profile.Profile` from what is on screen; secrets are not part
of it (the editor handles the passcode field separately).
"""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from certline.app.config.profile import AuthStyle, CsrFormat, KeyGeneration, Profile, ScanIn
from certline.app.device.discovery import FILTER_LABELS
from certline.app.pki import KeyAlgorithm
from certline.app.station.passcode_change import QUOTA_FIELDS
from certline.ui.station.state_style import Tone, tone_colour, tone_icon

SUBJECT_ATTRS = ("CN", "O", "OU", "C")
PORT_FILTER_KEYS = ("vid_pid", "description", "manufacturer", "serial_number")
BAUD_RATES = ("9600", "19200", "38400", "57600", "115200", "230400", "460800", "921600", "1000000")


def _driver_names() -> list[str]:
    from certline.app.device.registry import driver_names  # lazy: the registry imports every driver

    return driver_names()


class Field(QWidget):
    """An editor widget with its problem line underneath."""

    def __init__(self, editor: QWidget, parent: QWidget | None = None, *, browse: bool = False) -> None:
        super().__init__(parent)
        self.editor = editor
        self.problem = QLabel(self, wordWrap=True)
        self.problem.setStyleSheet(f"color: {tone_colour(Tone.BAD).name()};")
        # the problem line always takes its one line of room, so the fields below do not jump
        # under the mouse while a problem comes and goes as the user types
        self.problem.setText("Xg")
        self.problem.setMinimumHeight(self.problem.sizeHint().height())
        self.problem.setText("")
        self.touched = False  # a problem is shown only once the user edited the field
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(editor, 1)
        self.browse: QPushButton | None = None
        if browse:
            self.browse = QPushButton(self.tr("Browse…"), self)
            row.addWidget(self.browse)
            self.browse.clicked.connect(self._pick_file)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.problem)
        self.setFocusProxy(editor)

    def set_problem(self, text: str | None) -> bool:
        """Show ``text`` under the field once it was touched; True when a problem is on screen."""
        shown = text if self.touched else None
        self.problem.setText(shown or "")
        self.problem.setToolTip(shown or "")
        self.editor.setAccessibleDescription(shown or "")
        return bool(shown)

    def _pick_file(self) -> None:
        assert isinstance(self.editor, QLineEdit)
        name, _ = QFileDialog.getOpenFileName(self, self.tr("Choose a file"), self.editor.text())
        if name:
            self.editor.setText(name)


def _combo(parent: QWidget, values: type[enum.Enum], labels: dict[object, str]) -> QComboBox:
    combo = QComboBox(parent)
    for value in values:
        combo.addItem(labels.get(value, str(value.value)), value.value)  # Qt keeps a StrEnum as str
    return combo


def _number(text: str | None, kind: type) -> Any:
    """The typed number, None for an empty field, or the text itself (validation names it)."""
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        return text


class ProfileForm(QTabWidget):
    """Every :class:`Profile` field as an editor.

    Attributes:
        fields: field name (``subject.CN`` for subject attributes) -> :class:`Field`.

    Signals:
        changed(): any field was edited (re-validate).
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields: dict[str, Field] = {}
        self._extra_subject: dict[str, str] = {}
        self._label_printing: dict[str, Any] | None = None
        self._scan_in_timeout = Profile.scan_in_timeout
        self._ca_bundle_pem: str | None = None
        self._request_timeout = Profile.request_timeout
        """Kept from the loaded profile (no editor yet; set with 'certline profile add --request-timeout')."""
        self._passcode_quota: dict[str, Any] = {name: getattr(Profile, name) for name in QUOTA_FIELDS}
        """The passcode's id kept as loaded (set with a new passcode: the "New passcode" dialog or
        'certline profile set-passcode'); its limits and the rate have fields (docs/quota.md)."""
        self.addTab(self._server_page(), self.tr("&Server"))
        self.addTab(self._auth_page(), self.tr("&Authentication"))
        self.addTab(self._certificate_page(), self.tr("&Certificate"))
        self.addTab(self._station_page(), self.tr("S&tation"))
        for field in self.fields.values():
            self._watch(field)

    # -- pages --------------------------------------------------------------------------
    def _add(
        self, form: QFormLayout, key: str, label: str, editor: QWidget, *, browse: bool = False
    ) -> Field:
        field = Field(editor, form.parentWidget(), browse=browse)
        editor.setObjectName(key)
        self.fields[key] = field
        caption = QLabel(label, form.parentWidget())
        caption.setBuddy(editor)
        form.addRow(caption, field)
        return field

    def _server_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self._add(form, "name", self.tr("Profile &name:"), QLineEdit(page))
        self._add(
            form,
            "enroll_url",
            self.tr("&Enrollment URL:"),
            QLineEdit(page, placeholderText="https://est.example.com/.well-known/est"),
        )
        self._add(
            form,
            "reenroll_url",
            self.tr("&Re-enrollment URL:"),
            QLineEdit(page, placeholderText=self.tr("optional, e.g. https://clientauth.HOST/…")),
        )
        self._add(form, "label", self.tr("&Label (CA policy):"), QLineEdit(page, placeholderText="cps/IOT_…"))
        self._add(
            form,
            "device_group",
            self.tr("&Device group:"),
            QLineEdit(page, placeholderText=self.tr("optional")),
        )
        self.trust_label = QLabel(page, wordWrap=True)
        self.trust_label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.trust_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.import_ca_button = QPushButton(self.tr("&Import CA file…"), page)
        self.bootstrap_button = QPushButton(self.tr("&Fetch from server and compare…"), page)
        self.clear_ca_button = QPushButton(self.tr("Clear"), page)
        buttons = QHBoxLayout()
        for button in (self.import_ca_button, self.bootstrap_button, self.clear_ca_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        form.addRow(self.tr("Pinned trust anchor:"), self.trust_label)
        form.addRow("", self._wrap(page, buttons))
        self._add(form, "ca_bundle_file", self.tr("or CA bundle &file:"), QLineEdit(page), browse=True)
        self.clear_ca_button.clicked.connect(lambda: self.set_ca_bundle_pem(None))
        return page

    def _auth_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.auth_style = _combo(
            page,
            AuthStyle,
            {
                AuthStyle.PASSCODE_ONLY: self.tr("Passcode only (DigiCert DTM)"),
                AuthStyle.USER_PASSWORD: self.tr("User name and password"),
                AuthStyle.CLIENT_CERT: self.tr("TLS client certificate"),
            },
        )
        self._add(form, "auth_style", self.tr("Au&thentication:"), self.auth_style)
        self._add(form, "username", self.tr("&User name:"), QLineEdit(page))
        self.secret_edit = QLineEdit(page, echoMode=QLineEdit.EchoMode.Password)
        self.secret_edit.setObjectName("secret")
        self.secret_status = QLabel(page, wordWrap=True)
        self.secret_caption = QLabel(self.tr("&Passcode:"), page)
        self.secret_caption.setBuddy(self.secret_edit)
        form.addRow(self.secret_caption, self.secret_edit)
        form.addRow("", self.secret_status)
        self._add(
            form, "client_cert_file", self.tr("Client &certificate (PEM):"), QLineEdit(page), browse=True
        )
        self._add(form, "client_key_file", self.tr("Client &key (PEM):"), QLineEdit(page), browse=True)
        self._add(form, "client_p12_file", self.tr("or PKCS#&12 file:"), QLineEdit(page), browse=True)
        return page

    def _certificate_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.key_generation = _combo(
            page,
            KeyGeneration,
            {
                KeyGeneration.DEVICE: self.tr("On the device (CSR from the device)"),
                KeyGeneration.SERVER: self.tr("On the EST server (/serverkeygen)"),
            },
        )
        self._add(form, "key_generation", self.tr("&Key generation:"), self.key_generation)
        self.key_algorithm = _combo(
            page,
            KeyAlgorithm,
            {
                KeyAlgorithm.EC_P256: "ECDSA P-256",
                KeyAlgorithm.EC_P384: "ECDSA P-384",
                KeyAlgorithm.RSA_2048: "RSA 2048",
                KeyAlgorithm.RSA_3072: "RSA 3072",
            },
        )
        self._add(form, "key_algorithm", self.tr("Key &algorithm:"), self.key_algorithm)
        for attr in SUBJECT_ATTRS:
            hint = "{serial}" if attr == "CN" else self.tr("optional")
            self._add(
                form,
                f"subject.{attr}",
                self.tr("Subject %1:").replace("%1", attr),
                QLineEdit(page, placeholderText=hint),
            )
        self.csr_format = _combo(
            page,
            CsrFormat,
            {
                CsrFormat.RFC7030: self.tr("RFC 7030 (base64 DER, application/pkcs10)"),
                CsrFormat.PEM_TEXT: self.tr("PEM as text/plain (DigiCert DTM)"),
            },
        )
        self._add(form, "csr_format", self.tr("CSR &encoding:"), self.csr_format)
        self._add(
            form, "require_pop", "", QCheckBox(self.tr("Require proof of possession (tls-unique)"), page)
        )
        self._add(
            form,
            "allow_new_enrollment_fallback",
            "",
            QCheckBox(self.tr("Allow a fresh enrollment when a device cannot re-enroll"), page),
        )
        return page

    def _station_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        driver = QComboBox(page, editable=True)
        driver.addItems(_driver_names())
        self._add(form, "driver", self.tr("Device &driver:"), driver)
        baud = QComboBox(page, editable=True)
        baud.addItems(BAUD_RATES)
        self._add(form, "baud", self.tr("&Baud rate:"), baud)
        concurrency = QSpinBox(page, minimum=1, maximum=64)
        self._add(form, "concurrency", self.tr("&Parallel enrollments:"), concurrency)
        for key in PORT_FILTER_KEYS:
            self._add(
                form,
                f"port_filters.{key}",
                self.tr("%1 filter:").replace("%1", FILTER_LABELS[key]),
                QLineEdit(page, placeholderText=self.tr("optional")),
            )
        self._add(
            form,
            "include_non_usb_ports",
            "",
            QCheckBox(self.tr("Also use serial ports without a USB VID:PID (built-in UARTs)"), page),
        )
        self._add(
            form,
            "scan_in",
            "",
            QCheckBox(self.tr("Scan each unit's label before provisioning it (scan-in)"), page),
        )
        self._add(
            form,
            "passcode_max_uses",
            self.tr("Passcode &uses allowed:"),
            QLineEdit(page, placeholderText=self.tr("e.g. 500 (empty: no limit)")),
        )
        self._add(
            form,
            "passcode_expires",
            self.tr("Passcode e&xpires on:"),
            QLineEdit(page, placeholderText=self.tr("YYYY-MM-DD (empty: never)")),
        )
        self._add(
            form,
            "max_enrollments_per_minute",
            self.tr("&Max enrollments per minute:"),
            QLineEdit(page, placeholderText=self.tr("stay under the CA's throttle (empty: no limit)")),
        )
        return page

    @staticmethod
    def _wrap(parent: QWidget, layout: QHBoxLayout) -> QWidget:
        box = QWidget(parent)
        layout.setContentsMargins(0, 0, 0, 0)
        box.setLayout(layout)
        return box

    def _watch(self, field: Field) -> None:
        editor = field.editor

        def touch(*_args: object) -> None:
            field.touched = True

        if isinstance(editor, QLineEdit):
            editor.textEdited.connect(touch)  # the user typed (not load()/set_text())
            editor.editingFinished.connect(touch)
            editor.editingFinished.connect(self.changed)
            editor.textChanged.connect(self.changed)
        elif isinstance(editor, QComboBox):
            editor.activated.connect(touch)
            line_edit = editor.lineEdit()
            if line_edit is not None:
                line_edit.textEdited.connect(touch)
            editor.currentIndexChanged.connect(self.changed)
            editor.editTextChanged.connect(self.changed)
        elif isinstance(editor, QCheckBox):
            editor.toggled.connect(self.changed)
        elif isinstance(editor, QSpinBox):
            editor.valueChanged.connect(self.changed)

    # -- values ---------------------------------------------------------------------------
    def editor(self, key: str) -> QWidget:
        return self.fields[key].editor

    def text(self, key: str) -> str | None:
        editor = self.editor(key)
        value = editor.currentText() if isinstance(editor, QComboBox) else editor.text()  # type: ignore[attr-defined]
        return value.strip() or None

    def set_text(self, key: str, value: str | None) -> None:
        editor = self.editor(key)
        if isinstance(editor, QComboBox):
            editor.setEditText(value or "")
        else:
            editor.setText(value or "")  # type: ignore[attr-defined]

    @staticmethod
    def _select(combo: QComboBox, value: enum.Enum) -> None:
        combo.setCurrentIndex(max(0, combo.findData(value.value)))

    def set_ca_bundle_pem(self, pem: str | None, fingerprints: list[str] | None = None) -> None:
        self._ca_bundle_pem = pem
        if pem is None:
            self.trust_label.setText(self.tr("none pinned"))
        elif fingerprints:
            self.trust_label.setText("\n".join(fingerprints))
            self.trust_label.setToolTip(self.tr("SHA-256 fingerprints of the pinned CA certificates"))
        else:
            self.trust_label.setText(self.tr("pinned (PEM in the profile)"))
        self.changed.emit()

    def load(self, profile: Profile, fingerprints: list[str] | None = None) -> None:
        for key in (
            "name",
            "enroll_url",
            "reenroll_url",
            "label",
            "device_group",
            "username",
            "client_cert_file",
            "client_key_file",
            "client_p12_file",
            "ca_bundle_file",
            "driver",
        ):
            self.set_text(key, getattr(profile, key))
        self.set_text("baud", str(profile.baud))
        self._select(self.auth_style, profile.auth_style)
        self._select(self.key_generation, profile.key_generation)
        self._select(self.key_algorithm, profile.key_algorithm)
        self._select(self.csr_format, profile.csr_format)
        self.editor("require_pop").setChecked(profile.require_pop)  # type: ignore[attr-defined]
        self.editor("allow_new_enrollment_fallback").setChecked(profile.allow_new_enrollment_fallback)  # type: ignore[attr-defined]
        self.editor("concurrency").setValue(profile.concurrency)  # type: ignore[attr-defined]
        self._request_timeout = profile.request_timeout
        self._passcode_quota = {name: getattr(profile, name) for name in QUOTA_FIELDS}
        for key in ("passcode_max_uses", "passcode_expires", "max_enrollments_per_minute"):
            value = getattr(profile, key)
            self.set_text(
                key, None if value is None else f"{value:g}" if isinstance(value, float) else str(value)
            )
        for attr in SUBJECT_ATTRS:
            self.set_text(f"subject.{attr}", profile.subject_template.get(attr))
        self._extra_subject = {k: v for k, v in profile.subject_template.items() if k not in SUBJECT_ATTRS}
        self._label_printing = profile.label_printing  # no editor yet: kept as loaded (docs/labels.md)
        for key in PORT_FILTER_KEYS:
            self.set_text(f"port_filters.{key}", profile.port_filters.get(key))
        self.editor("include_non_usb_ports").setChecked(profile.include_non_usb_ports)  # type: ignore[attr-defined]
        self.editor("scan_in").setChecked(profile.scan_in == ScanIn.REQUIRED)  # type: ignore[attr-defined]
        self._scan_in_timeout = profile.scan_in_timeout  # no editor: kept as loaded (docs/scan-in.md)
        self.set_ca_bundle_pem(profile.ca_bundle_pem, fingerprints)

    def profile(self) -> Profile:
        """The profile on screen (may be invalid: check with ``certline.ui.profiles.validation``)."""
        subject = {a: v for a in SUBJECT_ATTRS if (v := self.text(f"subject.{a}"))}
        subject.update(self._extra_subject)
        filters = {k: v for k in PORT_FILTER_KEYS if (v := self.text(f"port_filters.{k}"))}
        baud = self.text("baud") or ""
        return Profile(
            name=self.text("name") or "",
            enroll_url=self.text("enroll_url") or "",
            reenroll_url=self.text("reenroll_url"),
            label=self.text("label"),
            device_group=self.text("device_group"),
            auth_style=AuthStyle(self.auth_style.currentData()),
            username=self.text("username"),
            client_cert_file=self.text("client_cert_file"),
            client_key_file=self.text("client_key_file"),
            client_p12_file=self.text("client_p12_file"),
            ca_bundle_file=self.text("ca_bundle_file"),
            ca_bundle_pem=self._ca_bundle_pem,
            csr_format=CsrFormat(self.csr_format.currentData()),
            key_generation=KeyGeneration(self.key_generation.currentData()),
            key_algorithm=KeyAlgorithm(self.key_algorithm.currentData()),
            subject_template=subject,
            require_pop=self.editor("require_pop").isChecked(),  # type: ignore[attr-defined]
            concurrency=self.editor("concurrency").value(),  # type: ignore[attr-defined]
            request_timeout=self._request_timeout,
            driver=self.text("driver") or "",
            baud=int(baud) if baud.isdigit() else 0,
            port_filters=filters,
            include_non_usb_ports=self.editor("include_non_usb_ports").isChecked(),  # type: ignore[attr-defined]
            allow_new_enrollment_fallback=self.editor("allow_new_enrollment_fallback").isChecked(),  # type: ignore[attr-defined]
            label_printing=self._label_printing,
            scan_in=ScanIn.REQUIRED if self.editor("scan_in").isChecked() else ScanIn.OFF,  # type: ignore[attr-defined]
            scan_in_timeout=self._scan_in_timeout,
            passcode_id=self._passcode_quota["passcode_id"],
            passcode_max_uses=_number(self.text("passcode_max_uses"), int),
            passcode_expires=self.text("passcode_expires"),
            max_enrollments_per_minute=_number(self.text("max_enrollments_per_minute"), float),
        )

    def mark_all_touched(self) -> None:
        """Show every field's problem from now on (an existing profile, an imported one)."""
        for field in self.fields.values():
            field.touched = True

    def show_problems(self, problems: dict[str, str]) -> bool:
        """Problem lines under the touched fields; a tab showing a problem gets the "failed" icon.

        Returns True when at least one problem is on screen.
        """
        bad_pages, any_shown = set(), False
        for key, field in self.fields.items():
            page = field.parentWidget()
            shown = field.set_problem(problems.get(key))
            any_shown = any_shown or shown
            if shown and page is not None:
                bad_pages.add(self.indexOf(page))
        for index in range(self.count()):
            self.setTabIcon(index, tone_icon(Tone.BAD) if index in bad_pages else self._blank_icon())
        return any_shown

    def _blank_icon(self) -> QIcon:
        """A transparent icon: a tab without a problem keeps the same height as one with it."""
        size = self.tabBar().iconSize()
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        return QIcon(pixmap)
