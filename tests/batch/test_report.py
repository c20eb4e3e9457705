"""Batch reports: streamed page by page, yet exactly the report the whole-dict rendering gives."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import UTC, datetime, timedelta

import pytest

from certline.app.batch import report
from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite3", station="st-1")
    yield j
    j.close()


def _batch(journal: Journal, units: int) -> int:
    batch = journal.create_batch(profile_name="p", profile_json={"name": "p"}, work_order='WO-\u00e9"1')
    now = datetime.now(UTC)
    for i in range(units):
        snap = journal.add_device(
            batch,
            f"/dev/ttyUSB{i}",
            then=[(DeviceState.IDENTIFIED, "identified")],
            serial_number=f"SN-{i}",
            model='M\u00fc "quoted"\nnewline',
        )
        if i % 3 == 0:
            journal.transition(
                snap.device_id,
                DeviceState.FAILED,
                "failed: x",
                error='no, "x"',
                error_code="device",
                retry_at=now.isoformat(),  # not pending approval: no retry time in the report
            )
        elif i % 3 == 1:
            journal.transition(
                snap.device_id,
                DeviceState.KEY_READY,
                "key",
                csr_received_der=bytes([0x30, i % 256]),
                chain_pem=f"-----BEGIN CERTIFICATE-----\nAA{i}\n-----END CERTIFICATE-----\nCA\n",
                not_after=(now + timedelta(days=365)).isoformat(),
            )
    return batch


@pytest.mark.parametrize("units", [0, 1, 7])
def test_streamed_json_is_byte_for_byte_the_indented_whole_report(journal, monkeypatch, units):
    monkeypatch.setattr(report, "PAGE_SIZE", 3)  # several pages, and a last page that is full
    batch = _batch(journal, units)
    whole = json.dumps(report.build_json_report(journal, batch), indent=2) + "\n"
    assert report.render(journal, batch, "json") == whole
    parsed = json.loads(whole)
    assert [d["serial_number"] for d in parsed["devices"]] == [f"SN-{i}" for i in range(units)]
    assert parsed["totals"]["devices"] == units
    assert parsed["totals"]["failed"] == len(range(0, units, 3))


def test_csv_has_every_unit_once_in_order(journal, monkeypatch):
    monkeypatch.setattr(report, "PAGE_SIZE", 2)
    batch = _batch(journal, 5)
    reference = io.StringIO()  # the CSV as the JSON entries give it, written by DictWriter
    writer = csv.DictWriter(
        reference, fieldnames=report.CSV_COLUMNS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(report.device_entries(journal, batch))
    assert report.render(journal, batch, "csv") == reference.getvalue()
    rows = list(csv.DictReader(io.StringIO(report.render(journal, batch, "csv"))))
    assert [r["serial_number"] for r in rows] == [f"SN-{i}" for i in range(5)]
    assert rows[0]["error"] == 'no, "x"' and rows[0]["model"] == 'M\u00fc "quoted"\nnewline'


def test_export_writes_a_private_file_and_leaves_nothing_half_written(journal, tmp_path, monkeypatch):
    batch = _batch(journal, 4)
    out = tmp_path / "reports" / "batch.json"
    report.export_report(journal, batch, "json", out)
    assert json.loads(out.read_text(encoding="utf-8"))["totals"]["devices"] == 4
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(journal, "device_rows_after", broken)
    with pytest.raises(OSError):
        report.export_report(journal, batch, "csv", tmp_path / "reports" / "batch.csv")
    assert sorted(p.name for p in out.parent.iterdir()) == ["batch.json"]
