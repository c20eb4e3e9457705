"""The history view reads a big batch a page at a time, as the operator scrolls."""

from __future__ import annotations

from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState


def test_history_loads_a_batch_page_by_page_as_the_view_scrolls_to_the_end(qtbot, tmp_path, monkeypatch):
    from certline.ui.batch_dialogs import history
    from certline.ui.station.device_model import Column

    monkeypatch.setattr(history, "PAGE_SIZE", 5)
    journal = Journal(tmp_path / "journal.sqlite3", station="st-1")
    batch = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    other = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    for i in range(40):
        journal.add_device(
            batch, f"/dev/u{i}", then=[(DeviceState.IDENTIFIED, "id")], serial_number=f"S{i:02d}"
        )
    journal.add_device(other, "/dev/x", serial_number="OTHER")
    reads: list[tuple[int, int]] = []
    original = journal.device_rows_after

    def counting(batch_id: int, after_id: int = 0, limit: int = 1000):
        reads.append((batch_id, after_id))
        return original(batch_id, after_id, limit)

    monkeypatch.setattr(journal, "device_rows_after", counting)
    dialog = history.HistoryDialog(journal, tmp_path / "reports")
    qtbot.addWidget(dialog)
    dialog.resize(600, 300)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.devices.rowCount() == 1, timeout=5000)  # the newest batch, selected
    reads.clear()
    dialog.batches.selectRow(1)  # the first batch (newest is on top)
    qtbot.waitUntil(lambda: dialog.devices.rowCount() >= 5, timeout=5000)
    qtbot.wait(200)
    shown = dialog.devices.rowCount()
    assert shown < 40, "only what fills the view is read at first"
    bar = dialog.device_view.verticalScrollBar()
    for _ in range(40):
        if dialog.devices.rowCount() == 40:
            break
        bar.setValue(bar.maximum())
        qtbot.wait(30)
    assert [dialog.devices.index(r, Column.SERIAL).data() for r in range(40)] == [
        f"S{i:02d}" for i in range(40)
    ]
    assert all(batch_id == batch for batch_id, _ in reads)
    assert len(reads) >= 40 // 5
    journal.close()


def test_history_rows_pass_the_qt_model_tester_and_read_like_the_live_table(qtmodeltester, qapp):
    from datetime import UTC, datetime

    from certline.app.batch.events import DeviceSnapshot
    from certline.app.batch.states import progress_of
    from certline.ui.batch_dialogs.history_model import HistoryDeviceModel, history_row
    from certline.ui.station.device_model import Column, DeviceTableModel

    now = datetime.now(UTC)
    snaps = [
        DeviceSnapshot(
            device_id=i,
            batch_id=1,
            port=f"/dev/u{i}",
            serial_number=f"S{i}",
            model="M",
            state=state,
            step=state.value,
            progress=progress_of(state),
            started_at=now,
            updated_at=now,
            error="refused" if state is DeviceState.FAILED else None,
            failed_step="key" if state is DeviceState.FAILED else None,
        )  # fmt: skip
        for i, state in enumerate((DeviceState.ENROLLING, DeviceState.DONE, DeviceState.FAILED))
    ]
    model = HistoryDeviceModel()
    model.append_rows([history_row(s, now) for s in snaps])
    live = DeviceTableModel(batch_interval_ms=0)
    live.set_devices(snaps)
    for row in range(3):
        for column in Column:
            if column != Column.ELAPSED:
                assert model.index(row, column).data() == live.index(row, column).data(), (row, column)
    qtmodeltester.check(model)
