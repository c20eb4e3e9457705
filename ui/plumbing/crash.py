"""Unexpected errors in the GUI: a redacted crash report on disk and a dialog that says where.

Like qutebrowser, Qt's own warnings are routed into ``logging`` (logger
``qt``) so they land in the log file and the support bundle instead of a
console nobody sees. An uncaught exception in a slot does not end the
program (the batch may still be running); the technician is told what to
send to support.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QMessageLogContext, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox

from certline.app.host.log_setup import write_crash_report
from certline.app.security.redaction import scrub

log = logging.getLogger("certline.crash")
qt_log = logging.getLogger("qt")

translate = QCoreApplication.translate  # lupdate finds translate("Context", "text") calls

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    where = f" ({context.file}:{context.line})" if context.file else ""
    qt_log.log(_QT_LEVELS.get(kind, logging.WARNING), "%s%s", message, where)


def install_qt_message_handler() -> None:
    qInstallMessageHandler(_qt_message)


def write_report(exc_info: tuple[type[BaseException], BaseException, TracebackType | None]) -> Path | None:
    """The crash report via ``certline.app.host.log_setup`` (None if writing it fails)."""
    try:
        return write_crash_report(exc_info)
    except OSError as exc:
        log.error("could not write a crash report: %s", exc)
        return None


_dialog_open = False


def _show_dialog(summary: str, report: Path | None) -> None:
    global _dialog_open
    if _dialog_open:  # an error while the dialog is up: it is in the log and the report
        return
    where = (
        translate("Crash", "A report was saved to:\n%1\nPlease send it to support.").replace(
            "%1", str(report)
        )
        if report
        else translate("Crash", "No report could be saved; see the log file.")
    )
    text = (
        translate("Crash", "Certline hit an unexpected error:\n\n%1\n\n%2")
        .replace("%1", summary)
        .replace("%2", where)
    )
    _dialog_open = True
    try:
        QMessageBox.critical(None, translate("Crash", "Certline: unexpected error"), text)
    finally:
        _dialog_open = False


def handle_exception(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    log.critical("unexpected error", exc_info=(exc_type, exc, tb))
    report = write_report((exc_type, exc, tb))
    summary = scrub("".join(traceback.format_exception_only(exc_type, exc)).strip())
    from certline.app.host.program_files import CRASH_HINT, at_start

    if at_start().replaced():  # e.g. zlib.error from an archive replaced by a package upgrade
        summary = f"{CRASH_HINT}\n\n({summary})"
    on_gui_thread = threading.current_thread() is threading.main_thread()
    if QApplication.instance() is not None and on_gui_thread:
        _show_dialog(summary, report)


def install_excepthook() -> None:
    sys.excepthook = handle_exception
