"""The device table model: per-row updates, never a reset, state shown as words + icon + colour."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt

from certline.app.batch.states import DeviceState, progress_of
from certline.ui.station.device_model import PROGRESS_ROLE, Column, DeviceTableModel, format_elapsed
from certline.ui.station.state_style import Tone, look
from tests.helpers.snapshots import T0, snapshot

snap = snapshot  # a unit's snapshot (tests/helpers/snapshots.py)


def test_model_passes_qt_model_tester(qapp, qtmodeltester):  # the model starts timers: needs the app
    model = DeviceTableModel(batch_interval_ms=0)
    model.update_device(snap(1))
    model.update_device(snap(2, DeviceState.FAILED, error="the device refused the key", failed_step="key"))
    model.update_device(
        snap(3, DeviceState.DONE, cert_serial="1A2B", cert_not_after=T0 + timedelta(days=365))
    )
    qtmodeltester.check(model)


def test_known_device_changes_one_row_and_new_device_is_inserted(qtbot):
    model = DeviceTableModel(batch_interval_ms=0)
    model.update_device(snap(1))
    model.update_device(snap(2))
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    with qtbot.waitSignal(model.dataChanged) as changed:
        model.update_device(snap(2, DeviceState.ENROLLING))
    top, bottom = changed.args[0], changed.args[1]
    assert (top.row(), bottom.row()) == (1, 1)
    with qtbot.waitSignal(model.rowsInserted) as inserted:
        model.update_device(snap(7))
    assert inserted.args[1] == 2
    assert model.rowCount() == 3 and not resets


def test_updates_are_batched_until_the_timer_flushes(qtbot):
    model = DeviceTableModel(batch_interval_ms=50)
    for state in (DeviceState.DETECTED, DeviceState.IDENTIFIED, DeviceState.KEY_READY):
        model.update_device(snap(1, state))
    assert model.rowCount() == 0  # nothing drawn yet
    qtbot.waitUntil(lambda: model.rowCount() == 1)
    assert model.snapshot(0).state == DeviceState.KEY_READY  # only the newest one counts


def test_a_large_frame_is_applied_a_few_rows_per_pass_in_order_and_newest_wins(qtbot):
    model = DeviceTableModel(batch_interval_ms=0, rows_per_pass=2)
    model.update_devices([snap(i) for i in range(1, 6)])
    assert model.rowCount() == 2  # the rest waits for the next pass of the event loop
    model.update_device(snap(4, DeviceState.ENROLLING))  # arrives before its row is shown
    qtbot.waitUntil(lambda: model.rowCount() == 5)
    assert [s.device_id for s in model.snapshots()] == [1, 2, 3, 4, 5]
    assert model.snapshot(3).state == DeviceState.ENROLLING
    model.update_devices([snap(i, DeviceState.DONE) for i in range(1, 6)])
    model.flush()  # what the window does before the batch summary: everything at once
    assert all(s.state == DeviceState.DONE for s in model.snapshots())


def test_failed_row_says_what_went_wrong_in_words_with_icon_and_colour():
    model = DeviceTableModel(batch_interval_ms=0)
    model.update_device(
        snap(1, DeviceState.FAILED, error="the device refused the key", failed_step="key-ready")
    )
    state = model.index(0, Column.STATE)
    assert state.data() == "Failed"
    assert not state.data(Qt.ItemDataRole.DecorationRole).isNull()
    assert state.data(Qt.ItemDataRole.ForegroundRole).color() == look(DeviceState.FAILED).colour
    assert look(DeviceState.FAILED).tone is Tone.BAD
    details = model.index(0, Column.DETAILS).data()
    assert "the device refused the key" in details and "key-ready" in details


def test_done_row_shows_certificate_serial_expiry_and_frozen_elapsed_time():
    model = DeviceTableModel(batch_interval_ms=0)
    not_after = datetime(2026, 3, 1, tzinfo=UTC)
    model.update_device(snap(1, DeviceState.DONE, cert_serial="7F01", cert_not_after=not_after))
    assert model.index(0, Column.CERT_SERIAL).data() == "7F01"
    assert model.index(0, Column.EXPIRES).data() == "2026-03-01"
    assert model.index(0, Column.ELAPSED).data() == "1:15"
    assert model.index(0, Column.PROGRESS).data(PROGRESS_ROLE) == 1.0


def test_showing_another_batch_replaces_rows_without_a_reset(qtbot):
    model = DeviceTableModel(batch_interval_ms=0)
    model.update_device(snap(1))
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    model.set_devices([replace(snap(5), batch_id=2), replace(snap(6), batch_id=2)])
    assert [s.device_id for s in model.snapshots()] == [5, 6]
    assert not resets


def test_elapsed_format():
    assert format_elapsed(5) == "0:05"
    assert format_elapsed(3725) == "1:02:05"


def test_multidata_answers_exactly_what_data_answers():
    from PySide6.QtCore import QModelRoleData, QModelRoleDataSpan

    model = DeviceTableModel(batch_interval_ms=0)
    model.update_device(snap(1, DeviceState.FAILED, error="refused", failed_step="key-ready"))
    roles = [
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.FontRole,
        PROGRESS_ROLE,
    ]
    for column in Column:
        index = model.index(0, column)
        for role in roles:
            item = QModelRoleData(int(role))
            model.multiData(index, QModelRoleDataSpan(item))
            assert _comparable(item.data()) == _comparable(index.data(role)), (column, role)


def _comparable(value):
    from PySide6.QtGui import QIcon

    return value.cacheKey() if isinstance(value, QIcon) else value


def test_one_flush_announces_each_contiguous_range_of_changed_rows_once(qtbot):
    model = DeviceTableModel(batch_interval_ms=50)
    model.set_devices([snap(i) for i in range(1, 7)])
    ranges: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, _roles=(): ranges.append((top.row(), bottom.row())))
    for device_id in (1, 2, 3, 5, 6):
        model.update_device(snap(device_id, DeviceState.ENROLLING))
    model.update_device(snap(4))  # unchanged: no redraw for it
    model.flush()
    assert sorted(ranges) == [(0, 2), (4, 5)]
    assert model.index(4, Column.STATE).data() == look(DeviceState.ENROLLING).text


def test_progress_column_is_a_bar_in_the_cell_background_with_words_once_finished():
    model = DeviceTableModel(batch_interval_ms=0)
    model.set_progress_width(200)
    model.update_device(snap(1, DeviceState.ENROLLING))
    model.update_device(snap(2, DeviceState.DONE))
    half = model.index(0, Column.PROGRESS)
    assert half.data() == f"{round(progress_of(DeviceState.ENROLLING) * 100)} %"
    stops = half.data(Qt.ItemDataRole.BackgroundRole).gradient().stops()
    assert stops[1][0] == pytest.approx(progress_of(DeviceState.ENROLLING), abs=0.01)
    assert stops[-1][1].alpha() == 0  # the rest of the cell stays clear
    assert model.index(1, Column.PROGRESS).data() == look(DeviceState.DONE).text


def test_long_batch_keeps_units_that_need_a_look_and_only_the_newest_finished_ones(qtbot, qtmodeltester):
    model = DeviceTableModel(batch_interval_ms=0, keep_finished=3)
    model.update_device(snap(1, DeviceState.FAILED, error="the device refused the key"))
    model.update_device(snap(2, DeviceState.ENROLLING))
    for device_id in range(3, 60):
        model.update_device(snap(device_id, DeviceState.DONE))
    ids = [s.device_id for s in model.snapshots()]
    assert ids[:2] == [1, 2]  # the failed unit and the unit in progress stay
    assert len(ids) <= 2 + 3 + 50 and ids[-3:] == [57, 58, 59]  # the newest finished ones stay
    assert model.dropped_finished == 57 - (len(ids) - 2)
    model.update_device(snap(2, DeviceState.DONE, cert_serial="2B"))  # updates still find their row
    assert model.index(model.row_of(2), Column.CERT_SERIAL).data() == "2B"
    assert all(model.row_of(s.device_id) == row for row, s in enumerate(model.snapshots()))
    qtmodeltester.check(model)


def test_the_window_says_when_older_finished_units_left_the_table(window, qtbot):
    """Rows must not vanish without a word: the window names how many left and where they are."""
    assert not window.dropped_note.isVisible()
    window.model.keep_finished = 3
    window.model.update_devices([snap(i, DeviceState.DONE) for i in range(1, 80)])
    # applied a few rows per pass; older finished rows dropped as the table passes its limit
    qtbot.waitUntil(lambda: window.model.rowCount() + window.model.dropped_finished == 79)
    dropped = window.model.dropped_finished
    assert dropped > 0
    assert window.dropped_note.isVisible()
    text = window.dropped_note.text()
    assert "newest 3 finished" in text and f"{dropped} older finished unit" in text
    assert "History" in text
    window.model.set_devices([])  # another batch shown: nothing of it was dropped
    assert not window.dropped_note.isVisible()
