"""``certline-gui``: start the station window for the last-used profile.

Start-up order matters: logging first (so a failure to start is in the log),
then the application with translations and the crash hook, then the profile.
Loading the profile's secret from the keyring and opening the journal may
wait (D-Bus unlock prompt, fsync), so the session is built in a worker and
the window opens when it is ready. Without any profile the editor opens
instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtWidgets import QDialog, QMessageBox

from app.est.credentials import Credentials
from app.profile import Profile
from app.station import StationSession
from ui.app_window import ensure_application, settle_garbage_collector
from ui.hands_free import HandsFree, profile_port_source
from ui.main_window import MainWindow
from ui.station_monitor import keyring_secret_status
from ui.ui_settings import LAST_PROFILE, UiSettings
from ui.worker import run_in_background

log = logging.getLogger(__name__)
translate = QCoreApplication.translate  # lupdate finds translate("Context", "text") calls


def build_session(name: str | None) -> StationSession:
    """Blocking: load the named (or the only/first) profile and its secret, open the journal."""
    from app.profile_store import ProfileStore
    from app.secrets import SecretStore, SecretStoreError

    store = ProfileStore()
    names = store.list()
    if name not in names:
        if not names:
            raise LookupError("no profile")
        name = names[0]
    profile = store.load(name)
    try:
        credentials = SecretStore().credentials_for(profile)
    except SecretStoreError as exc:
        log.warning("keyring unavailable, starting without the profile's secret: %s", exc)
        credentials = Credentials()
    from app.batch.journal_url import journal_url, open_journal, station_name
    from app.paths import station_paths

    # the station setting "Shared journal" (or CERTLINE_JOURNAL_URL) selects the line's database
    journal = open_journal(journal_url(), sqlite_path=station_paths().journal, station=station_name())
    return StationSession(profile, credentials, journal=journal)


def port_provider_for(profile: Profile):  # noqa: ANN201 - a PortProvider
    source = profile_port_source(profile)
    return lambda: [p.device for p in source.ports()]


class Launcher(QObject):
    """Opens (and re-opens, after a profile edit) the station window; owns the session."""

    def __init__(self, settings: UiSettings) -> None:
        super().__init__()
        self.settings = settings
        self.window: MainWindow | None = None
        self.session: StationSession | None = None

    def open(self, name: str | None) -> None:
        run_in_background(lambda: build_session(name), self._opened, self._open_failed, owner=self)

    def _opened(self, session: object) -> None:
        assert isinstance(session, StationSession)
        old_window, old_session = self.window, self.session
        self.session = session
        self.settings.set(LAST_PROFILE, session.profile.name)
        self.window = MainWindow(
            session,
            port_provider_for(session.profile),
            settings=self.settings,
            hands_free=HandsFree(profile_port_source(session.profile)),
            secret_check=keyring_secret_status,
        )
        self.window.profile_saved.connect(lambda profile: self.open(profile.name))
        settle_garbage_collector()
        self.window.show()
        if old_window is not None:
            old_window.close()
            old_window.deleteLater()
        if old_session is not None:
            run_in_background(old_session.close)

    def _open_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, LookupError):
            QMessageBox.warning(
                None,
                translate("Launcher", "Certline"),
                translate("Launcher", "The profile could not be opened: %1").replace("%1", str(exc)),
            )
        self._first_profile()

    def _first_profile(self) -> None:
        from ui.profile_editor import ProfileEditor

        editor = ProfileEditor(None)
        editor.setWindowTitle(translate("Launcher", "Certline: create the first profile"))
        editor.saved.connect(lambda profile: self.open(profile.name))
        if editor.exec() != QDialog.DialogCode.Accepted and self.window is None:
            QCoreApplication.quit()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="certline-gui", description="Certline provisioning station")
    parser.add_argument("--profile", help="open this profile instead of the last used one")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from app.logsetup import configure_gui_logging

    configure_gui_logging(debug=args.debug)
    settings = UiSettings()
    app = ensure_application(settings=settings)  # also installs the crash hook and Qt log routing
    launcher = Launcher(settings)
    launcher.open(args.profile or settings.get(LAST_PROFILE) or None)
    code = app.exec()
    launcher.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
