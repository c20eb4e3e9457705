"""Batch reports: streamed page by page, yet exactly the report the whole-dict rendering gives."""

from __future__ import annotations

import base64
import csv
import io
import json
import stat
from datetime import UTC, datetime, timedelta

import pytest

from certline.app.batch import journal_report_sqlite as report_sql
from certline.app.batch import report, report_entry
from certline.app.batch.journal import Journal
from certline.app.batch.journal_api import JournalBackend
from certline.app.batch.states import DeviceState
from tests.helpers.pg_cluster import PgCluster, pg_cluster, pg_url  # noqa: F401 - fixtures


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

    monkeypatch.setattr(journal, "device_report_csv_after", broken)  # what the CSV export reads
    with pytest.raises(OSError):
        report.export_report(journal, batch, "csv", tmp_path / "reports" / "batch.csv")
    assert sorted(p.name for p in out.parent.iterdir()) == ["batch.json"]


# -- the journal's report pages (the SQLite journal makes them in SQL) ---------------------------


_LEAF = "-----BEGIN CERTIFICATE-----\nMIIBleaf+/=\n-----END CERTIFICATE-----\n"
_CA = "-----BEGIN CERTIFICATE-----\nMIICA\n-----END CERTIFICATE-----\n"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_journal(request: pytest.FixtureRequest, tmp_path):
    if request.param == "sqlite":
        j: JournalBackend = Journal(tmp_path / "journal.sqlite3", station="st-1")
    else:
        from certline.app.batch.journal_pg import PgJournal

        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        j = PgJournal(
            request.getfixturevalue("pg_url"), station="st-1", password=cluster.password,
            audit_head=tmp_path / "head",
        )  # fmt: skip
    yield j
    j.close()


def _odd_batch(journal: JournalBackend) -> tuple[int, list[int]]:
    """Units whose entries take every path: plain ASCII ones (SQLite: made in SQL) among units
    with non-ASCII text, DEL, control characters, quotes, ``%`` and ``'`` (made in Python),
    failed, pending approval, server-generated key (no CSR), a replaced certificate, a CSR as
    received, a chain without a final newline or without any END line, an empty chain, chains
    whose END line is followed by CR, a control character or a quote (escaped in JSON)."""
    batch = journal.create_batch(profile_name="p", profile_json={"name": "p"}, work_order="WO-1")
    now = datetime.now(UTC).isoformat()
    S = DeviceState
    units: list[tuple[dict, list[tuple[DeviceState, dict]]]] = [
        ({"serial_number": "SN-plain"}, [(S.KEY_READY, {"csr_received_der": b"\x30\x82\x01\x00" * 9,
          "csr_received_sha256": "ab" * 32, "csr_sha256": "cd" * 32}),
         (S.ENROLLING, {}), (S.ISSUED, {"chain_pem": _LEAF + _CA, "cert_serial": "0A",
          "cert_fingerprint": "ef" * 32, "not_after": now, "issuer": "CN=Sub CA,O=X"})]),
        ({"serial_number": "SN-\u00fc\u20ac\U0001f600", "model": "M\u00fcller"}, [
         (S.FAILED, {"error": "no \u201cquote\u201d", "error_code": "device"})]),
        ({"serial_number": "SN-del\x7f", "model": "tab\there\x01\x1f\r\n"}, []),
        ({"serial_number": "SN-%s%d%%'quote'\"dq\"\\"}, [(S.ENROLLING, {}), (S.PENDING_APPROVAL,
          {"retry_at": now})]),
        ({"serial_number": "SN-failed-retry"}, [(S.FAILED, {"error": "x", "retry_at": now,
          "failed_step": "enrolling"})]),
        ({"serial_number": "SN-server-key"}, [(S.ENROLLING, {}), (S.ISSUED, {"chain_pem": _LEAF,
          "replaced_chain_pem": _CA, "replaced_sha256": "01" * 32, "scanned_label": "LBL 7"})]),
        ({"serial_number": "SN-no-final-newline"}, [(S.ENROLLING, {}), (S.ISSUED,
          {"chain_pem": _LEAF.rstrip("\n")})]),
        ({"serial_number": "SN-crlf"}, [(S.ENROLLING, {}), (S.ISSUED,
          {"chain_pem": _LEAF.replace("\n", "\r\n") + "\u00e9"})]),
        ({"serial_number": "SN-no-end"}, [(S.ENROLLING, {}), (S.ISSUED, {"chain_pem": "garbage"})]),
        ({"serial_number": "SN-empty-chain"}, [(S.ENROLLING, {}), (S.ISSUED, {"chain_pem": "",
          "csr_received_der": b""})]),
        ({"serial_number": None, "model": None}, []),
        ({"serial_number": "SN-crlf-ascii"}, [(S.ENROLLING, {}), (S.ISSUED,
          {"chain_pem": (_LEAF + _CA).replace("\n", "\r\n")})]),
        ({"serial_number": "SN-control-after-end"}, [(S.ENROLLING, {}), (S.ISSUED,
          {"chain_pem": _LEAF.rstrip("\n") + "\x01" + _CA})]),
        ({"serial_number": "SN-quote-after-end"}, [(S.ENROLLING, {}), (S.ISSUED,
          {"chain_pem": _LEAF.rstrip("\n") + '"' + _CA})]),
    ]  # fmt: skip
    ids = []
    for n, (fields, steps) in enumerate(units):
        snap = journal.add_device(batch, f"/dev/ttyUSB{n}", then=[(S.IDENTIFIED, "identified")], **fields)
        for state, changes in steps:
            journal.transition(snap.device_id, state, state.value, **changes)
        ids.append(snap.device_id)
    return batch, ids


def test_the_journal_pages_of_entries_are_exactly_the_entries_made_in_python(any_journal, monkeypatch):
    """What the export writes (SQLite: entries made by SQLite's json_quote and printf, Python
    for the rows it cannot quote alike) is exactly json.dumps of the report, on both backends."""
    batch, ids = _odd_batch(any_journal)
    by_python = [
        report_entry.entry_json(report_entry.entry_from_row(row))
        for row in report.device_rows(any_journal, batch)
    ]
    assert any_journal.device_report_json_after(batch, 0, 100) == list(zip(ids, by_python, strict=True))
    assert any_journal.device_report_json_after(batch, ids[3], 2) == list(
        zip(ids[4:6], by_python[4:6], strict=True)
    )
    csv_lines = [
        report_entry.csv_line(report_entry.csv_values(row)) for row in report.device_rows(any_journal, batch)
    ]
    assert any_journal.device_report_csv_after(batch, 0, 100) == list(zip(ids, csv_lines, strict=True))
    monkeypatch.setattr(report, "PAGE_SIZE", 4)
    monkeypatch.setattr(report, "_ENTRIES_PER_WRITE", 3)  # pages written in parts, one of them short
    whole = json.dumps(report.build_json_report(any_journal, batch), indent=2) + "\n"
    assert report.render(any_journal, batch, "json") == whole
    entries = json.loads(whole)["devices"]
    assert entries[1]["serial_number"] == "SN-\u00fc\u20ac\U0001f600" and "\\ud83d\\ude00" in whole
    assert [e["retry_at"] is not None for e in entries] == [i == 3 for i in range(len(ids))]
    assert entries[0]["certificate_pem"] == _LEAF and entries[0]["chain_pem"] == _LEAF + _CA
    assert entries[0]["csr_as_received_base64"] == base64.b64encode(b"\x30\x82\x01\x00" * 9).decode()
    assert entries[6]["certificate_pem"] == _LEAF.rstrip("\n") and entries[8]["certificate_pem"] is None
    assert entries[9]["chain_pem"] is None and entries[9]["csr_as_received_base64"] is None
    reference = io.StringIO()
    writer = csv.DictWriter(
        reference, fieldnames=report.CSV_COLUMNS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(report.device_entries(any_journal, batch))
    assert report.render(any_journal, batch, "csv") == reference.getvalue()


def test_a_sqlite_that_quotes_differently_gets_every_entry_and_line_made_in_python(journal, monkeypatch):
    """The fast paths depend on SQLite quoting ASCII as json.dumps and the csv writer do; a
    journal opened on an SQLite that does not (checked at open) makes everything in Python."""
    batch, _ = _odd_batch(journal)
    expected = journal.device_report_json_after(batch), journal.device_report_csv_after(batch)
    monkeypatch.setattr(journal, "_sql_report", False)
    monkeypatch.setattr(journal, "_sql_csv", False)
    monkeypatch.setattr(report_sql, "json_page", None)  # not called
    monkeypatch.setattr(report_sql, "csv_page", None)
    assert (journal.device_report_json_after(batch), journal.device_report_csv_after(batch)) == expected


def test_sqlite_quoting_is_checked_against_json_dumps_and_the_csv_writer(tmp_path, monkeypatch):
    import sqlite3

    db = sqlite3.connect(tmp_path / "x.sqlite3")
    assert report_sql.sql_quotes_like_python(db)  # this SQLite (the fast paths are tested above)
    assert report_sql.sql_csv_like_python(db)
    monkeypatch.setattr(report_sql, "_CSV_QUOTED_BY", ",")  # SQL that quotes too few fields
    assert not report_sql.sql_csv_like_python(db)
    monkeypatch.undo()
    db.create_function("json_quote", 1, lambda value: json.dumps(value, ensure_ascii=False).upper())
    db.create_function("replace", 3, lambda text, old, new: text)  # a quote not doubled
    assert not report_sql.sql_quotes_like_python(db)
    assert not report_sql.sql_csv_like_python(db)
