"""``certline-gui``: start the station window for the last-used profile.

Start-up order matters: logging first (so a failure to start is in the log),
then a check that there is a display at all (Qt aborts the process without
one), then the application with translations and the crash hook, then the
profile. Loading the profile's secret from the keyring and opening the
journal may wait (D-Bus unlock prompt, fsync), so the session is built in a
worker and the window opens when it is ready. Without any profile the editor
opens instead.

Between the editor closing and the station window opening no window is
shown, so Qt's quit-on-last-window-closed is off: the :class:`Launcher` ends
the application itself when the station window closes (or the first profile
is not created), and closes every session it built.

:func:`start` is everything :func:`main` does before the event loop; the GUI
tests call it in-process, so they start the station exactly as the script.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, QObject, Qt
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from certline.app.config.profile import Profile
from certline.app.host.display import display_problem
from certline.app.station import StationSession
from certline.app.station.hands_free import HandsFree, profile_port_source
from certline.ui.application import ensure_application, settle_garbage_collector
from certline.ui.plumbing.settings import LANGUAGE, LAST_PROFILE, UiSettings
from certline.ui.plumbing.worker import run_in_background, wait_for_workers
from certline.ui.station import install_notices
from certline.ui.station.monitor import keyring_secret_status
from certline.ui.station.window import MainWindow

log = logging.getLogger(__name__)
translate = QCoreApplication.translate  # lupdate finds translate("Context", "text") calls


def build_session(name: str | None) -> StationSession:
    """Blocking: load the named (or the only/first) profile and its secret, open the journal."""
    from certline.app.config.profile_store import ProfileStore
    from certline.app.station.credential_source import CredentialSource

    store = ProfileStore()
    names = store.list()
    if name not in names:
        if not names:
            raise LookupError("no profile")
        name = names[0]
    profile = store.load(name)
    from certline.app.batch.journal_url import journal_url, open_journal, station_name
    from certline.app.config.paths import station_paths

    # not strict: without its secret the window still opens and the station bar says what is missing
    credentials = CredentialSource().credentials(profile, strict=False)
    # the station setting "Shared journal" (or CERTLINE_JOURNAL_URL) selects the line's database
    journal = open_journal(journal_url(), sqlite_path=station_paths().journal, station=station_name())
    session = StationSession(profile, credentials, journal=journal)
    session.prepare_devices()  # the device hosts start while the window opens, not at the first unit
    return session


def port_provider_for(profile: Profile):  # noqa: ANN201 - a PortProvider
    source = profile_port_source(profile)
    return lambda: [p.device for p in source.ports()]


class Launcher(QObject):
    """Opens (and re-opens, after a profile edit) the station window; owns the sessions it built."""

    def __init__(self, settings: UiSettings) -> None:
        super().__init__()
        self.settings = settings
        self.window: MainWindow | None = None
        self.session: StationSession | None = None
        self.first_profile_editor: QDialog | None = None
        self._built: list[StationSession] = []  # every session built and not closed yet
        self._built_lock = threading.Lock()

    def open(self, name: str | None) -> None:
        run_in_background(lambda: self._build(name), self._opened, self._open_failed, owner=self)

    def _build(self, name: str | None) -> StationSession:
        """Worker thread: build the session and remember it, so quitting early still closes it."""
        session = build_session(name)
        with self._built_lock:
            self._built.append(session)
        return session

    def _opened(self, session: object) -> None:
        assert isinstance(session, StationSession)
        old_window, old_session = self.window, self.session
        self.session = session
        self.settings.set(LAST_PROFILE, session.profile.name)
        self.settings.sync()
        window = MainWindow(
            session,
            port_provider_for(session.profile),
            settings=self.settings,
            hands_free=HandsFree(profile_port_source(session.profile)),
            secret_check=keyring_secret_status,
        )
        self.window = window
        window.profile_saved.connect(lambda profile: self.open(profile.name))
        window.closed.connect(lambda: self._window_closed(window))
        self.program_watch = install_notices.install(window)  # serial permission, upgrade
        settle_garbage_collector()
        window.show()
        if old_window is not None:
            old_window.close()
            old_window.deleteLater()
        if old_session is not None:
            run_in_background(lambda: self._close_session(old_session))

    def _window_closed(self, window: MainWindow) -> None:
        if window is self.window:  # not the one replaced after a profile edit
            QCoreApplication.quit()

    def _open_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, LookupError):
            QMessageBox.warning(
                None,
                translate("Launcher", "Certline"),
                translate("Launcher", "The profile could not be opened: %1").replace("%1", str(exc)),
            )
        self._first_profile()

    def _first_profile(self) -> None:
        from certline.ui.profiles.editor import ProfileEditor

        editor = ProfileEditor(None)
        editor.setWindowTitle(translate("Launcher", "Certline: create the first profile"))
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.saved.connect(lambda profile: self.open(profile.name))
        editor.finished.connect(self._first_profile_closed)
        self.first_profile_editor = editor
        editor.show()  # no nested event loop: the launcher carries on when it is done

    def _first_profile_closed(self, result: int) -> None:
        self.first_profile_editor = None
        if result != QDialog.DialogCode.Accepted and self.window is None:
            QCoreApplication.quit()

    def _close_session(self, session: StationSession) -> None:
        with self._built_lock:
            if session not in self._built:
                return
            self._built.remove(session)
        session.close()

    def close(self) -> None:
        """After the event loop: let running workers finish, then close every session built."""
        wait_for_workers()
        with self._built_lock:
            sessions, self._built = self._built, []
        for session in sessions:
            session.close()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="certline-gui", description="Certline provisioning station")
    parser.add_argument("--profile", help="open this profile instead of the last used one")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    return parser.parse_args(list(argv))


#: exit status when no window can be opened (no display); like a command-line usage error
NO_DISPLAY = 2


def start(argv: Sequence[str] | None = None) -> Launcher | None:
    """Everything ``certline-gui`` does before the event loop; None when there is no display."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from certline.app.host.program_files import at_start

    at_start()  # the program files as started: an upgrade under the window is noticed later
    from certline.app.host.log_setup import configure_gui_logging

    configure_gui_logging(debug=args.debug)
    problem = display_problem()
    if problem is not None:
        # in the log file only: the terminal gets the one message below, with what to do
        log.info("no display available (%s); certline-gui not started", problem)
        print(
            f"certline-gui: no display available ({problem}). "
            "Start it in a desktop session, or use the command line: certline --help",
            file=sys.stderr,
        )
        return None
    settings = UiSettings()
    existing = QCoreApplication.instance()
    app = ensure_application(settings=settings)  # also installs the crash hook and Qt log routing
    if existing is not None:  # embedded (the GUI tests): the language still comes from the settings
        from certline.ui.plumbing.i18n import install_translators

        install_translators(app, str(settings.get(LANGUAGE)))
    app.setQuitOnLastWindowClosed(False)  # the launcher quits when the station window closes
    launcher = Launcher(settings)
    launcher.open(args.profile or settings.get(LAST_PROFILE) or None)
    return launcher


def main(argv: Sequence[str] | None = None) -> int:
    launcher = start(argv)
    if launcher is None:
        return NO_DISPLAY
    app = QApplication.instance()
    assert app is not None
    try:
        code = app.exec()
    finally:
        launcher.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
