"""The Statistics view, opened from the station window on a journal with a known shift."""

from __future__ import annotations

import csv
import sys

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMenu

from certline.app.batch import journal as journal_module
from certline.app.station.line_stats import StatsScope, line_stats
from certline.app.station.line_stats_export import to_csv
from certline.ui.batch_dialogs import statistics as statistics_view
from certline.ui.plumbing.worker import pending_tasks
from tests.helpers.line_journal import SHIFT_START, Clock, write_line_shift


def test_the_chart_library_is_not_loaded_until_the_view_opens():
    import subprocess

    code = "import sys, certline.ui.station.window; print('pyqtgraph' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_statistics_view_draws_the_shift_and_exports_png_and_csv(qtbot, window, station, tmp_path):
    journal = station.session.journal
    with pytest.MonkeyPatch.context() as patch:
        clock = Clock(SHIFT_START)
        patch.setattr(journal_module, "utcnow", clock)
        write_line_shift(journal, clock)
    menu_texts = [a.text() for m in window.menuBar().findChildren(QMenu) for a in m.actions()]
    assert window.statistics_action.text() in menu_texts
    window.station_bar.work_order.setText("WO-7")

    dialog = statistics_view.open_statistics(window)
    assert dialog.work_order.text() == "WO-7"
    qtbot.waitUntil(lambda: dialog.stats is not None, timeout=15000)
    expected = line_stats(journal, StatsScope(work_order="WO-7")).to_dict()
    assert dialog.stats == expected
    assert "20.0%" in dialog.summary.text() and "(1 of 5 units)" in dialog.summary.text()
    hours = expected["units_per_hour"]
    assert dialog.bar_heights("per_hour") == [[h["done"] for h in hours], [h["failed"] for h in hours]]
    assert sum(dialog.bar_heights("per_hour")[0]) == 3
    assert dialog.bar_heights("by_step") == [[2, 1, 1]]
    assert dialog.bar_heights("by_cause") == [[2, 1, 1]]
    p50, p95 = dialog.bar_heights("step_times")
    assert p50[4] == 20.0 and p95[4] == 40.0  # enrolling
    assert dialog.bar_heights("stations") == [[25.0, 50.0]]

    png, table = tmp_path / "statistics.png", tmp_path / "statistics.csv"
    dialog.export_png(png)
    qtbot.waitUntil(lambda: dialog.last_export == png or "Cannot" in dialog.status.text(), timeout=15000)
    assert dialog.last_export == png, dialog.status.text()
    dialog.export_csv(table)
    qtbot.waitUntil(lambda: dialog.last_export == table, timeout=15000)
    image = QImage(str(png))
    assert image.width() > 600 and image.height() > 400
    assert table.read_text(encoding="utf-8") == to_csv(expected)
    with table.open(encoding="utf-8", newline="") as exported:
        rows = list(csv.DictReader(exported))
    assert {"section": "failures_by_step", "name": "enrolling", "metric": "count", "value": "2"} in rows

    dialog.work_order.setText("WO-8")
    dialog.reload()
    qtbot.waitUntil(lambda: dialog.stats is not None and dialog.stats["scope"]["work_order"] == "WO-8")
    assert dialog.bar_heights("by_cause") == [[1]]
    dialog.work_order.clear()
    dialog.batch.setValue(2)
    dialog.reload()
    qtbot.waitUntil(lambda: dialog.stats is not None and dialog.stats["scope"]["batch"] == 2)
    assert dialog.bar_heights("stations") == [[50.0]]  # line B alone
    dialog.close()
    qtbot.waitUntil(lambda: pending_tasks() == 0)
