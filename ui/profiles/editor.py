"""The profile editor: every profile field, checked as you type; the passcode goes to the keyring.

The passcode field is masked and never filled in: the editor only says
whether the keyring holds one. Typing a value replaces it on Save (in a
worker: keyring calls may wait on D-Bus). Profiles are saved, imported and
exported through ``certline.app.config.profile_store`` -- never with a secret in them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from certline.app import pki
from certline.app.config.profile import AuthStyle, Profile
from certline.app.config.profile_store import ProfileStore, export_profile, profile_from_json
from certline.app.est.credentials import Credentials
from certline.ui.plumbing.resources import icon
from certline.ui.plumbing.worker import run_in_background
from certline.ui.profiles.form import ProfileForm
from certline.ui.profiles.server_check import (
    CheckResult,
    ClientFactory,
    default_client_factory,
    run_connection_test,
)
from certline.ui.profiles.validation import field_problems, overall_problem
from certline.ui.station.state_style import Tone, tone_colour, tone_icon

SecretStoreFactory = Callable[[], Any]


def _typed_credentials(profile: Profile, typed: str) -> Credentials:
    """Blocking: the secret just typed (not stored yet), the rest from the keyring if it is usable."""
    from certline.app.station.credential_source import CredentialSource

    return CredentialSource(typed=typed).credentials(profile, strict=False)


def _secret_store() -> Any:
    from certline.app.security.secret_store import SecretStore

    return SecretStore()


def secret_purpose(profile: Profile) -> str:
    """The keyring entry the editor's secret field holds (the rule is certline.app.security.secret_needs)."""
    from certline.app.security.secret_needs import typed_secret_purpose

    return typed_secret_purpose(profile).value


class ProfileEditor(QDialog):
    """Edit, validate, test, import/export and save one profile.

    Attributes:
        form: the field tabs.
        results: the "Test connection" outcome, one line per operation.

    Signals:
        saved(Profile): the profile (and the new secret, if typed) were stored.
    """

    saved = Signal(object)

    def __init__(
        self,
        profile: Profile | None,
        *,
        store: ProfileStore | None = None,
        secret_store: SecretStoreFactory = _secret_store,
        client_factory: ClientFactory = default_client_factory,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Profile editor"))
        self.store = store or ProfileStore()
        self._secret_store = secret_store
        self._client_factory = client_factory
        self._secret_stored = False
        self.form = ProfileForm(self)
        self.results = QListWidget(self)
        self.results.setMaximumHeight(110)
        self.results.hide()
        self.problem = QLabel(self, wordWrap=True)
        self.problem.setStyleSheet(f"color: {tone_colour(Tone.BAD).name()};")
        self.test_button = QPushButton(icon("server"), self.tr("&Test connection"), self)
        self.import_button = QPushButton(self.tr("&Import…"), self)
        self.export_button = QPushButton(self.tr("E&xport…"), self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        for button in (self.test_button, self.import_button, self.export_button):
            self.buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(self.results)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._connect()
        # an empty URL field (the placeholder shows the form): a pasted URL must not become https://https://…
        self.form.load(profile or Profile(name="", enroll_url=""), self._fingerprints(profile))
        if profile is not None:
            self.form.mark_all_touched()  # an existing profile's problems are shown at once
        self._original_name = profile.name if profile else None
        self.resize(780, 640)
        self._refresh_secret_status()
        self.validate()

    def _connect(self) -> None:
        self.form.changed.connect(self.validate)
        self.form.auth_style.currentIndexChanged.connect(self._refresh_secret_status)
        # a lambda, not the slot itself: textChanged carries the typed text, which must never
        # arrive in _show_secret_status's ``error`` (it would be shown: "Keyring unavailable: <passcode>")
        self.form.secret_edit.textChanged.connect(lambda _text: self._show_secret_status())
        self.form.import_ca_button.clicked.connect(self._import_ca)
        self.form.bootstrap_button.clicked.connect(self._bootstrap)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.test_button.clicked.connect(self.test_connection)
        self.import_button.clicked.connect(self._import_profile)
        self.export_button.clicked.connect(self._export_profile)

    @staticmethod
    def _fingerprints(profile: Profile | None) -> list[str] | None:
        if profile is None or not profile.ca_bundle_pem:
            return None
        try:
            return [pki.fingerprint(c) for c in pki.pem_to_chain(profile.ca_bundle_pem)]
        except ValueError:
            return None

    # -- validation -----------------------------------------------------------------------
    def validate(self) -> bool:
        """Show every problem next to its field; Save is enabled only for a valid profile."""
        profile = self.form.profile()
        problems = field_problems(profile)
        shown = self.form.show_problems(problems)
        overall = None if problems else overall_problem(profile)
        tone = Tone.BAD
        if overall is None and problems and not shown:
            # nothing touched yet: no red, but say why Save is still off
            tone, overall = Tone.NEUTRAL, self.tr("Fill in the profile name and the enrollment URL to save.")
        self.problem.setText(overall or "")
        self.problem.setStyleSheet(f"color: {tone_colour(tone).name()};")
        ok = not problems and overall is None
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(ok)
        self.export_button.setEnabled(ok)
        style = profile.auth_style
        self.form.editor("username").setEnabled(style is AuthStyle.USER_PASSWORD)
        for key in ("client_cert_file", "client_key_file", "client_p12_file"):
            self.form.fields[key].setEnabled(style is AuthStyle.CLIENT_CERT)
        return ok

    # -- the secret -----------------------------------------------------------------------
    def _refresh_secret_status(self) -> None:
        profile = self.form.profile()
        self.form.secret_caption.setText(
            {
                AuthStyle.PASSCODE_ONLY: self.tr("&Passcode:"),
                AuthStyle.USER_PASSWORD: self.tr("&Password:"),
                AuthStyle.CLIENT_CERT: self.tr("Key &password:"),
            }[profile.auth_style]
        )
        name = self._original_name or profile.name
        if not name:
            self._secret_known(False)
            return
        factory, purpose = self._secret_store, secret_purpose(profile)
        run_in_background(
            lambda: factory().has(name, purpose),
            self._secret_known,
            lambda exc: self._show_secret_status(str(exc)),
            owner=self,
        )

    def _secret_known(self, present: object) -> None:
        self._secret_stored = bool(present)
        self._show_secret_status()

    def _show_secret_status(self, error: str | None = None) -> None:
        if error:
            tone, text = Tone.BAD, self.tr("Keyring unavailable: %1").replace("%1", error)
        elif self.form.secret_edit.text():
            tone, text = Tone.ATTENTION, self.tr("Will be stored in the keyring when you save.")
        elif self._secret_stored:
            tone, text = Tone.GOOD, self.tr("Stored in the keyring. Type a new value to replace it.")
        else:
            tone, text = Tone.ATTENTION, self.tr("Not stored yet.")
        self.form.secret_status.setText(text)
        self.form.secret_status.setStyleSheet(f"color: {tone_colour(tone).name()};")

    # -- saving ---------------------------------------------------------------------------
    def save(self) -> None:
        if not self.validate():
            return
        profile, secret = self.form.profile(), self.form.secret_edit.text()
        store, factory = self.store, self._secret_store
        renamed_from = self._original_name if self._original_name != profile.name else None

        def write() -> Profile:
            from certline.app.station.profile_save import save_profile_and_secret

            return save_profile_and_secret(store, factory, profile, secret, renamed_from=renamed_from)

        self.buttons.setEnabled(False)
        run_in_background(write, self._saved, self._save_failed, owner=self)

    def _saved(self, profile: object) -> None:
        self.form.secret_edit.clear()
        self.buttons.setEnabled(True)
        self.saved.emit(profile)
        self.accept()

    def _save_failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.problem.setText(self.tr("Not saved: %1").replace("%1", str(exc)))

    # -- test connection ------------------------------------------------------------------
    def test_connection(self) -> None:
        profile, secret, factory = self.form.profile(), self.form.secret_edit.text(), self._client_factory
        self.results.clear()
        self.results.addItem(QListWidgetItem(tone_icon(Tone.WAITING), self.tr("Testing…")))
        self.results.show()
        self.test_button.setEnabled(False)
        run_in_background(
            lambda: run_connection_test(profile, _typed_credentials(profile, secret), factory),
            self._tested,
            lambda exc: self._tested([CheckResult("", False, str(exc))]),
            owner=self,
        )

    def _tested(self, results: list[CheckResult]) -> None:
        self.test_button.setEnabled(True)
        self.results.clear()
        for result in results:
            tone = Tone.NEUTRAL if result.ok is None else Tone.GOOD if result.ok else Tone.BAD
            verdict = (
                self.tr("not checked")
                if result.ok is None
                else self.tr("OK")
                if result.ok
                else self.tr("failed")
            )
            item = QListWidgetItem(tone_icon(tone), f"{result.operation}: {verdict} — {result.detail}")
            item.setToolTip(result.detail)
            self.results.addItem(item)
            if result.tls_untrusted:
                self.results.addItem(
                    self.tr("The server is not trusted yet: use “Fetch from server and compare…”.")
                )

    # -- trust anchor ---------------------------------------------------------------------
    def _import_ca(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("Import CA certificates"),
            "",
            self.tr("PEM certificates (*.pem *.crt *.cer);;All files (*)"),
        )
        if name:
            run_in_background(
                lambda: _read_ca_file(Path(name)),
                self._ca_read,
                lambda exc: self.problem.setText(str(exc)),
                owner=self,
            )

    def _ca_read(self, result: object) -> None:
        pem, fingerprints = cast(tuple[str, list[str]], result)
        self.form.set_ca_bundle_pem(pem, fingerprints)

    def _bootstrap(self) -> None:
        from certline.app.est.bootstrap import fetch_cacerts_unverified
        from certline.ui.profiles.bootstrap_dialog import BootstrapDialog

        profile = self.form.profile()
        dialog = BootstrapDialog(
            lambda: fetch_cacerts_unverified(
                profile.enroll_url, label=profile.label, device_group=profile.device_group
            ),
            self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._pinned(dialog.pinned_pem))
        self.bootstrap_dialog = dialog  # tests and the screenshots script reach it here
        dialog.open()  # window-modal, without a nested event loop

    def _pinned(self, pem: str | None) -> None:
        if pem:
            self._ca_read(_parse_ca_pem(pem))

    # -- import / export ------------------------------------------------------------------
    def _import_profile(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, self.tr("Import profile"), "", self.tr("Profiles (*.json)")
        )
        if name:
            run_in_background(
                lambda: _read_profile(Path(name)),
                self._imported,
                lambda exc: self.problem.setText(str(exc)),
                owner=self,
            )

    def _imported(self, profile: object) -> None:
        assert isinstance(profile, Profile)
        self._original_name = None
        self.form.load(profile, self._fingerprints(profile))
        self.form.mark_all_touched()
        self.validate()
        self._refresh_secret_status()

    def _export_profile(self) -> None:
        profile = self.form.profile()
        name, _ = QFileDialog.getSaveFileName(
            self,
            self.tr("Export profile (without secrets)"),
            f"{profile.name}.json",
            self.tr("Profiles (*.json)"),
        )
        if name:
            run_in_background(
                lambda: export_profile(profile, Path(name)),
                None,
                lambda exc: self.problem.setText(str(exc)),
                owner=self,
            )


def _parse_ca_pem(pem: str) -> tuple[str, list[str]]:
    certs = pki.pem_to_chain(pem)
    if not certs:
        raise ValueError("no PEM certificate in the file")
    return pki.chain_to_pem(certs), [pki.fingerprint(c) for c in certs]


def _read_ca_file(path: Path) -> tuple[str, list[str]]:
    return _parse_ca_pem(path.read_text(encoding="ascii", errors="replace"))


def _read_profile(path: Path) -> Profile:
    return profile_from_json(json.loads(path.read_text(encoding="utf-8")), source=str(path))
