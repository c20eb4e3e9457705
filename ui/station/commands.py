"""What the station window's actions do, kept out of the window class so both stay short.

Each command is a small function of the window; long work goes to a worker
(support bundle, report export) or to the batch controller.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from certline.app import __version__
from certline.app.batch.events import BatchSnapshot
from certline.app.batch.states import TERMINAL
from certline.app.security.roles import Action
from certline.app.station.support_bundle import default_bundle_name, write_support_bundle
from certline.ui.batch_dialogs.history import HistoryDialog
from certline.ui.batch_dialogs.report_export import ask_and_export
from certline.ui.batch_dialogs.summary import BatchSummaryDialog
from certline.ui.plumbing.resources import icon
from certline.ui.plumbing.settings import LANGUAGE, LARGE_TEXT, LARGE_TEXT_SCALE
from certline.ui.plumbing.worker import run_in_background

if TYPE_CHECKING:
    from certline.ui.station.window import MainWindow


translate = QCoreApplication.translate  # lupdate finds translate("Context", "text") calls


def connect(w: MainWindow) -> None:
    a = w.station_actions
    a.start.triggered.connect(lambda: start(w))
    a.pause.triggered.connect(lambda _checked=False: w.controller.toggle_pause())
    a.stop.triggered.connect(w.controller.stop)
    a.retry.triggered.connect(w.controller.retry_failed)
    a.retry_pending.triggered.connect(w.controller.retry_pending)
    a.skip.triggered.connect(lambda: skip_selected(w))
    a.reprovision.triggered.connect(lambda: reprovision_selected(w))
    a.hands_free.triggered.connect(lambda checked: set_hands_free(w, checked))
    a.export.triggered.connect(lambda: export_report(w))
    a.bundle.triggered.connect(lambda: save_support_bundle(w))
    a.history.triggered.connect(lambda: show_history(w))
    a.profile.triggered.connect(lambda: edit_profile(w))
    a.new_passcode.triggered.connect(lambda: w.passcode_asker.ask(w.passcode_wait_reason()))
    a.shared_journal.triggered.connect(lambda: edit_shared_journal(w))
    a.line_view.triggered.connect(lambda: show_line_view(w))
    a.line_view.setEnabled(w.session.journal.shared)
    a.lock.triggered.connect(lambda: toggle_lock(w))
    a.sign_in.triggered.connect(lambda: toggle_sign_in(w))
    a.sign_in.setVisible(False)  # shown once the station has an engineer PIN (roles are on)
    a.large_text.toggled.connect(lambda on: set_large_text(w, on))
    a.quit.triggered.connect(w.close)
    a.about.triggered.connect(lambda: about(w))
    a.large_text.setChecked(bool(w.settings.get(LARGE_TEXT)))
    current = str(w.settings.get(LANGUAGE))
    for action in w.language_group.actions():
        action.setChecked(action.data() == current)
    w.language_group.triggered.connect(lambda action: set_language(w, action.data()))


def start(w: MainWindow, *, hands_free: bool | None = None) -> None:
    """Start a batch, after the passcode warning when it cannot pay for every unit."""
    from certline.ui.station.passcode_dialog import warn_before_start

    work_order, operator = w.station_bar.fields()
    on = w.station_actions.hands_free.isChecked() if hands_free is None else hands_free
    warn_before_start(w, lambda: w.controller.start(work_order, operator, hands_free=on))


def set_hands_free(w: MainWindow, on: bool) -> None:
    """Idle: F9 starts a hands-free batch at once. Running: start or stop watching for units."""
    from certline.ui.station.batch_controller import Phase

    if w.controller.phase == Phase.IDLE:
        if on:
            start(w, hands_free=True)
        return
    w.controller.set_hands_free(on)


def skip_selected(w: MainWindow) -> None:
    snaps = [s for s in w.table.selected_snapshots() if s.state not in TERMINAL]
    if not snaps:
        w.show_message(
            translate("MainWindow", "Select the units to skip first (finished units cannot be skipped)")
        )
        return
    if w.confirm_skip(snaps):
        w.controller.skip([s.device_id for s in snaps])


def reprovision_selected(w: MainWindow) -> None:
    """Replace the credential of the one selected unit, after a confirmation that names it."""
    snaps = [s for s in w.table.selected_snapshots() if s.error_code == "already-provisioned"]
    if len(snaps) != 1:
        w.show_message(
            translate("MainWindow", "Select one unit that failed because it is already provisioned")
        )
        return
    snap = snaps[0]
    question = translate(
        "MainWindow",
        "Replace the certificate that unit %1 on %2 already holds?\n\n%3\n\n"
        "The old certificate is recorded in the journal first. The unit cannot connect with its old "
        "credential any more once its new key is generated.",
    )
    text = (
        question.replace("%1", snap.serial_number or "?")
        .replace("%2", snap.port)
        .replace("%3", snap.error or "")
    )
    answer = QMessageBox.question(
        w,
        translate("MainWindow", "Re-provision unit %1").replace("%1", snap.serial_number or snap.port),
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    if answer == QMessageBox.StandardButton.Yes:
        w.controller.reprovision(snap.device_id)


def export_report(w: MainWindow) -> None:
    batch_id = w.controller.batch_id
    if batch_id is not None:
        ask_and_export(w, w.session.journal, batch_id, w.session.paths.reports)  # says where it went


def save_support_bundle(w: MainWindow, path: Path | None = None) -> None:
    if path is None:
        name, _ = QFileDialog.getSaveFileName(
            w,
            translate("MainWindow", "Save support bundle"),
            str(Path.home() / default_bundle_name()),
            translate("MainWindow", "Zip archive (*.zip)"),
        )
        if not name:
            return
        path = Path(name)
    session, batch_id = w.session, w.controller.batch_id
    run_in_background(
        lambda: write_support_bundle(
            path,
            logs_dir=session.paths.logs,
            journal=session.journal,
            profile=session.profile,
            batch_id=batch_id,
        ),
        lambda written: w.show_message(
            translate("MainWindow", "Support bundle saved: %1").replace("%1", str(written))
        ),
        lambda exc: w.show_error(
            translate("MainWindow", "The support bundle was not saved: %1").replace("%1", str(exc))
        ),
        owner=w,
    )


def show_history(w: MainWindow) -> HistoryDialog:
    dialog = HistoryDialog(w.session.journal, w.session.paths.reports, w, roles=w.session.roles)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def show_summary(w: MainWindow, snap: BatchSnapshot) -> BatchSummaryDialog:
    dialog = BatchSummaryDialog(
        w.session.journal, snap.batch_id, w.model.snapshots(), w.session.paths.reports, w, counts=snap
    )
    # one per batch, all shift long: closed means gone (kept hidden, each held ~30 widgets)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.retry_requested.connect(w.controller.retry_failed)
    dialog.open()
    notify(
        w,
        translate("MainWindow", "Batch %1 finished").replace("%1", str(snap.batch_id)),
        translate("MainWindow", "%1 done, %2 failed")
        .replace("%1", str(snap.done))
        .replace("%2", str(snap.failed)),
    )
    w.summary_shown.emit(dialog)
    return dialog


def notify(w: MainWindow, title: str, text: str) -> None:
    """A desktop notification when the system tray can show one, else the status bar."""
    from PySide6.QtWidgets import QSystemTrayIcon

    if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
        tray = getattr(w, "_tray", None) or QSystemTrayIcon(w.windowIcon(), w)
        w._tray = tray  # type: ignore[attr-defined]
        tray.show()
        tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)
    w.show_message(f"{title}: {text}")


def edit_profile(w: MainWindow) -> None:
    if not w.session.roles.allows(Action.EDIT_PROFILES):
        w.show_message(
            translate("MainWindow", "The station is locked; unlock it with the engineer PIN (Ctrl+L)")
        )
        return
    from certline.app.config.profile_store import ProfileStore
    from certline.ui.profiles.editor import ProfileEditor

    editor = ProfileEditor(w.session.profile, store=ProfileStore(w.session.paths.profiles), parent=w)
    editor.saved.connect(lambda profile: _profile_saved(w, profile))
    editor.open()


def show_line_view(w: MainWindow) -> None:
    from certline.ui.batch_dialogs.line_view import LineViewDialog

    LineViewDialog(w.session.journal, w.station_bar.work_order.text().strip() or None, w).open()


def edit_shared_journal(w: MainWindow) -> None:
    if not w.session.roles.allows(Action.EDIT_SETTINGS):
        w.show_message(
            translate("MainWindow", "The station is locked; unlock it with the engineer PIN (Ctrl+L)")
        )
        return
    from certline.app.config.settings import SettingsError, load_settings
    from certline.ui.station.shared_journal_dialog import SharedJournalDialog

    try:
        settings = load_settings()
    except SettingsError as exc:
        w.show_message(str(exc))
        return
    dialog = SharedJournalDialog(settings.journal_url, settings.station_name, w)
    dialog.saved.connect(
        lambda: w.show_message(
            translate(
                "MainWindow", "Journal setting saved; it is used from the next start of the station window"
            )
        )
    )
    dialog.open()


def _profile_saved(w: MainWindow, profile: object) -> None:
    w.monitor.refresh_secret()
    w.show_message(
        translate("MainWindow", "Profile saved; it is used from the next start of the station window")
    )
    w.profile_saved.emit(profile)


def toggle_sign_in(w: MainWindow) -> None:
    """Sign in when nobody is, else sign the current operator out (which locks the station)."""
    if w.lock.signed_in:
        w.lock.sign_out()
    else:
        w.lock.sign_in(w)


def toggle_lock(w: MainWindow) -> None:
    if w.lock.locked:
        w.lock.unlock(w)
    else:
        w.lock.lock(w)


def lock_icon(locked: bool) -> QIcon:
    return icon("action-unlock" if locked else "action-lock")


def set_large_text(w: MainWindow, on: bool) -> None:
    """Scale the application font (every window and dialog follows) and remember the choice."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    base = app.property("certline_base_font")
    if not isinstance(base, QFont):
        base = QFont(app.font())
        app.setProperty("certline_base_font", base)
    font = QFont(base)
    if on:
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * LARGE_TEXT_SCALE)
        else:
            font.setPixelSize(round(font.pixelSize() * LARGE_TEXT_SCALE))
    app.setFont(font)
    w.settings.set(LARGE_TEXT, on)


def set_language(w: MainWindow, code: str) -> None:
    w.settings.set(LANGUAGE, code)
    w.show_message(translate("MainWindow", "The language changes the next time Certline starts"))


def confirm_quit(w: MainWindow) -> bool:
    answer = QMessageBox.question(
        w,
        translate("MainWindow", "Quit Certline"),
        translate("MainWindow", "A batch is running. Stop it after the current step and quit?"),
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


def about(w: MainWindow) -> None:
    QMessageBox.about(
        w,
        translate("MainWindow", "About Certline"),
        translate("MainWindow", "Certline %1 — device certificate provisioning over EST (RFC 7030).").replace(
            "%1", __version__
        ),
    )
