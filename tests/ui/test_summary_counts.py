"""The end-of-batch summary counts every unit of the batch, not only the rows the live table kept."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from certline.app.batch.events import BatchSnapshot, DeviceSnapshot
from certline.app.batch.states import DeviceState
from certline.ui.batch_dialogs.summary import BatchSummaryDialog
from tests.helpers.snapshots import T0, snapshot


def row(device_id: int, state: DeviceState) -> DeviceSnapshot:
    error = "the device refused the key" if state == DeviceState.FAILED else None
    return snapshot(device_id, state, progress=1.0, updated_at=T0, error=error)


def test_counts_come_from_the_batch_not_from_the_rows_the_table_kept(qtbot, tmp_path: Path):
    kept = [row(1, DeviceState.FAILED), row(1999, DeviceState.DONE), row(2000, DeviceState.SKIPPED)]
    totals = BatchSnapshot(
        batch_id=1,
        done=1999,
        in_progress=0,
        failed=1,
        pending_approval=0,
        expected_remaining=None,
        finished=True,
        skipped=4,
    )
    dialog = BatchSummaryDialog(None, 1, kept, tmp_path, counts=totals)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    assert dialog.counters.done.value_text() == "1995"
    assert dialog.counters.skipped.value_text() == "4"
    assert dialog.counters.failed.value_text() == "1"
    assert dialog.counters.in_progress.value_text() == "0"
    assert "1995 of 2000" in dialog.headline.text()
    assert dialog.failed_table is not None and dialog.failed_table.rowCount() == 1


def test_a_long_failure_reason_is_shown_whole_with_its_advice(qtbot, tmp_path: Path):
    """Noticed last round: the summary cut a long reason to one elided line, and its end is the
    advice (what to check). The row now grows until every line of the reason fits its column."""
    advice = "check the URL, label and device group"
    reason = (
        "enroll: not found on the EST server (HTTP 404) - "
        + advice
        + ": The requested profile IOT_0a1b2c3d-4e5f-6789-abcd-ef0123456789 does not exist or is disabled"
    )
    failed = snapshot(7, DeviceState.FAILED, progress=1.0, updated_at=T0, error=reason)
    dialog = BatchSummaryDialog(None, 1, [failed, row(8, DeviceState.DONE)], tmp_path)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    table = dialog.failed_table
    assert table is not None
    column = table.columnWidth(2)
    assert table.fontMetrics().horizontalAdvance(reason) > column  # it does not fit on one line
    needed = (
        table.fontMetrics().boundingRect(0, 0, column - 8, 10_000, Qt.TextFlag.TextWordWrap, reason).height()
    )
    qtbot.waitUntil(lambda: table.rowHeight(0) >= needed)
    assert table.item(0, 2).text() == reason
