"""Exporting a batch report (CSV or JSON) from any window: pick a file, write it in a worker.

The report itself is ``certline.app.batch.report``'s: the GUI only chooses where and
in which format, so a report saved from the window is byte-for-byte what the
CLI writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMainWindow, QMessageBox, QWidget

from certline.app.batch.journal_api import JournalBackend
from certline.ui.plumbing.worker import run_in_background

FORMATS = ("csv", "json")


log = logging.getLogger(__name__)
translate = QCoreApplication.translate  # lupdate finds translate("Context", "text") calls


def write_report(journal: JournalBackend, batch_id: int, fmt: str, path: Path) -> Path:
    """Blocking: render and write the report (run in a worker)."""
    from certline.app.batch.report import export_report

    return export_report(journal, batch_id, fmt, path)


def format_for(path: Path, selected_filter: str = "") -> str:
    """The format named by the file suffix, else by the chosen filter; CSV by default."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    return "json" if "json" in selected_filter.lower() else "csv"


def export_in_background(
    journal: JournalBackend,
    batch_id: int,
    path: Path,
    *,
    fmt: str | None = None,
    on_done: Callable[[Path], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    owner: QObject | None = None,
) -> None:
    chosen = fmt or format_for(path)
    if path.suffix.lower().lstrip(".") not in FORMATS:
        path = path.with_suffix(f".{chosen}")
    run_in_background(lambda: write_report(journal, batch_id, chosen, path), on_done, on_error, owner=owner)


def ask_and_export(
    parent: QWidget,
    journal: JournalBackend,
    batch_id: int,
    directory: Path,
    *,
    on_done: Callable[[Path], None] | None = None,
    fmt: str | None = None,
) -> None:
    """Ask for a file name (CSV or JSON) and export there; errors are shown in a message box.

    Where the report went is said in the status bar of the main window ``parent`` belongs to
    (or is), for an export from the toolbar, the summary or the history alike. The export
    outlives ``parent`` when that is a dialog closed before the file is written (a summary or
    the history, deleted on close): a failure is then shown in front of that main window
    instead of being dropped with the dialog, and ``on_done`` is not called once the dialog
    has been deleted. The failure box does not block: a batch may be running behind it.
    """
    csv_filter, json_filter = (
        translate("ReportExport", "CSV report (*.csv)"),
        translate("ReportExport", "JSON report (*.json)"),
    )
    start = directory / f"batch-{batch_id}.{fmt or 'csv'}"
    filters = ";;".join((json_filter, csv_filter) if fmt == "json" else (csv_filter, json_filter))
    name, selected = QFileDialog.getSaveFileName(
        parent, translate("ReportExport", "Export batch report"), str(start), filters
    )
    if not name:
        return
    path = Path(name)
    anchor = _lasting_window(parent)

    def done(written: Path) -> None:
        if isinstance(anchor, QMainWindow):
            anchor.statusBar().showMessage(
                translate("ReportExport", "Report saved: %1").replace("%1", str(written)), 10_000
            )
        if on_done is not None and shiboken6.isValid(parent):
            on_done(written)

    def failed(exc: BaseException) -> None:
        text = translate("ReportExport", "The report was not written: %1").replace("%1", str(exc))
        target = parent if shiboken6.isValid(parent) and parent.isVisible() else anchor
        if not target.isVisible():  # the station window was closed meanwhile: no one to show it to
            log.warning("%s", text)
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            translate("ReportExport", "Export batch report"),
            text,
            QMessageBox.StandardButton.Ok,
            target,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    export_in_background(
        journal,
        batch_id,
        path,
        fmt=format_for(path, selected),
        on_done=done,
        on_error=failed,
        owner=anchor,
    )


def _lasting_window(widget: QWidget) -> QWidget:
    """The first window up from ``widget`` that is not a dialog (the station window), else the
    top dialog: what is still open when a dialog that started an export has been closed."""
    window = widget.window()
    while isinstance(window, QDialog) and (up := window.parentWidget()) is not None:
        window = up.window()
    return window
