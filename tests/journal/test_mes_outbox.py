"""The MES outbox in the journal, the same tests for the SQLite and the PostgreSQL backend.

A unit's record is queued by its DONE or FAILED transition in the same transaction, carries
what the journal says (and the hash of that transition's audit record), and stays queued per
channel until that channel delivered it.
"""

from __future__ import annotations

import json

import pytest

from certline.app.batch.journal_api import JournalBackend
from certline.app.batch.states import DeviceState
from tests.journal.test_journal_backends import _walk_to_done


def _audit_record(journal: JournalBackend, seq: int) -> dict:
    return next(r for r in journal.audit.records() if r["seq"] == seq)


def test_a_done_unit_has_its_record_queued_with_the_journal_facts(journal: JournalBackend):
    batch = journal.create_batch(
        profile_name="p", profile_json={"name": "p"}, work_order="WO-9", operator="ana", station="st-1"
    )
    dev = _walk_to_done(journal, batch, "S1")
    pending = journal.mes_pending("http")
    assert [p.device_id for p in pending] == [dev]
    record = json.loads(pending[0].body)
    assert record["idempotency_key"] == pending[0].key
    assert record["outcome"] == "done" and record["serial"] == "S1"
    assert record["csr_sha256"] == "ab" * 32
    assert record["certificate"]["serial"] == "01"
    assert record["certificate"]["sha256_fingerprint"] == "ff" * 32
    assert record["certificate"]["not_after"] == journal.device_row(dev)["not_after"]
    assert (record["operator"], record["work_order"], record["station"]) == ("ana", "WO-9", "st-1")
    assert record["error"] is None
    audit = _audit_record(journal, record["audit"]["seq"])
    assert audit["hash"] == record["audit"]["hash"]
    assert audit["kind"] == "device-done" and json.loads(audit["payload"])["device"] == dev
    assert journal.audit.verify().ok


def test_a_failed_unit_is_queued_too_with_its_error_and_a_skipped_one_is_not(journal: JournalBackend):
    batch = journal.create_batch(profile_name="p", profile_json={})
    dev = journal.add_device(batch, "/dev/ttyA", then=[(DeviceState.IDENTIFIED, "id")], serial_number="F1")
    journal.transition(
        dev.device_id, DeviceState.FAILED, "failed: enrol", error="EST said 401", error_code="auth",
        failed_step="enrolling",
    )  # fmt: skip
    journal.set_step(dev.device_id, "failed: enrol (noted)")  # a re-entered FAILED queues nothing new
    # a unit that failed before it was identified is journaled in one add_device
    journal.add_device(
        batch, "/dev/ttyB", then=[(DeviceState.IDENTIFIED, "id"), (DeviceState.FAILED, "failed: no answer")],
        error="no answer", error_code="device-timeout",
    )  # fmt: skip
    journal.add_device(
        batch, "/dev/ttyC", then=[(DeviceState.IDENTIFIED, "id"), (DeviceState.SKIPPED, "skip")]
    )
    records = [json.loads(p.body) for p in journal.mes_pending("folder")]
    assert [(r["outcome"], r["port"]) for r in records] == [("failed", "/dev/ttyA"), ("failed", "/dev/ttyB")]
    assert records[0]["error"] == {"code": "auth", "message": "EST said 401", "step": "enrolling"}
    assert records[0]["certificate"] is None
    assert journal.mes_backlog(["folder"]).waiting == 2


def test_each_channel_delivers_on_its_own_and_the_backlog_counts_what_is_left(journal: JournalBackend):
    batch = journal.create_batch(profile_name="p", profile_json={})
    first = _walk_to_done(journal, batch, "S1")
    second = _walk_to_done(journal, batch, "S2")
    keys = [p.key for p in journal.mes_pending("http")]
    assert len(set(keys)) == 2
    assert journal.mes_backlog(["folder", "http"]).waiting == 2
    assert journal.mes_backlog([]).waiting == 0

    journal.mes_note_failure(keys[0], "http", "HTTP 500 from mes.example")
    backlog = journal.mes_backlog(["http"])
    assert backlog.waiting == 2 and backlog.last_error == "http: HTTP 500 from mes.example"
    assert journal.mes_pending("http")[0].attempts == 1

    journal.mes_mark_delivered(keys[0], "http")
    journal.mes_mark_delivered(keys[0], "http")  # a second mark changes nothing
    assert [p.device_id for p in journal.mes_pending("http")] == [second]
    assert [p.device_id for p in journal.mes_pending("folder")] == [first, second]
    assert journal.mes_backlog(["http"]).waiting == 1
    assert journal.mes_backlog(["folder", "http"]).waiting == 2
    for key in keys:
        journal.mes_mark_delivered(key, "http")
        journal.mes_mark_delivered(key, "folder")
    assert journal.mes_backlog(["folder", "http"]).waiting == 0
    assert journal.mes_pending("http") == []


def test_an_unknown_channel_is_refused(journal: JournalBackend):
    with pytest.raises(ValueError, match="unknown MES channel"):
        journal.mes_pending("ftp")


def test_each_station_delivers_the_records_it_wrote(journal: JournalBackend, tmp_path, request):
    """Shared journal: another station never picks up this station's records (so no record is sent
    by two stations). Own SQLite journal: every record in it is this station's, also after the
    station was renamed."""
    batch = journal.create_batch(profile_name="p", profile_json={})
    _walk_to_done(journal, batch, "S1")
    if journal.shared:
        from certline.app.batch.journal_pg import PgJournal

        cluster = request.getfixturevalue("pg_cluster")
        other = PgJournal(
            request.getfixturevalue("pg_url"), station="st-2", password=cluster.password,
            audit_head=tmp_path / "head-2",
        )  # fmt: skip
    else:
        from certline.app.batch.journal import Journal

        journal.close()
        other = Journal(tmp_path / "journal.sqlite3", station="renamed")
    try:
        expected = 0 if journal.shared else 1
        assert len(other.mes_pending("http")) == expected
        assert other.mes_backlog(["http"]).waiting == expected
    finally:
        other.close()


def test_the_delivery_worker_drains_either_backend_into_a_drop_folder(journal: JournalBackend, tmp_path):
    from certline.app.mes.config import MesConfig
    from certline.app.mes.delivery import MesDelivery

    batch = journal.create_batch(profile_name="p", profile_json={})
    _walk_to_done(journal, batch, "S1")
    _walk_to_done(journal, batch, "S2")
    keys = {record.key for record in journal.mes_pending("folder")}
    assert len(keys) == 2
    delivery = MesDelivery(journal, MesConfig(drop_folder=tmp_path))
    delivery.deliver_round(ignore_backoff=True)
    delivery.close()
    assert {p.stem for p in tmp_path.glob("*.json")} == keys
    assert journal.mes_backlog(["folder"]).waiting == 0
