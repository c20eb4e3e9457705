"""The journal contract, the same tests for the SQLite and the PostgreSQL backend."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from certline.app.batch.journal_api import JournalBackend, JournalError
from certline.app.batch.states import DeviceState, IllegalTransition


def _walk_to_done(journal: JournalBackend, batch: int, serial: str) -> int:
    journal.claim_unit("p", serial)
    snap = journal.add_device(
        batch, "/dev/ttyA", then=[(DeviceState.IDENTIFIED, "identified")], serial_number=serial
    )
    dev = snap.device_id
    journal.transition(dev, DeviceState.KEY_READY, "key", csr_der=b"\x30\x03\x02\x01\x00")
    journal.transition(dev, DeviceState.CSR_READY, "csr", csr_sha256="ab" * 32)
    journal.transition(dev, DeviceState.ENROLLING, "enrolling")
    now = datetime.now(UTC)
    journal.record_certificate(
        dev, operation="enroll", chain_pem="PEM", cert_serial="01", fingerprint="ff" * 32,
        not_before=now, not_after=now + timedelta(days=365), issuer="CN=CA", subject=f"CN={serial}",
    )  # fmt: skip
    journal.transition(dev, DeviceState.ISSUED, "issued", cert_serial="01", cert_fingerprint="ff" * 32)
    for state in (DeviceState.WRITING, DeviceState.WRITTEN, DeviceState.VERIFIED, DeviceState.DONE):
        journal.transition(dev, state, state.value)
    journal.release_unit("p", serial)
    return dev


def test_a_unit_walks_to_done_and_every_step_is_in_its_history(journal: JournalBackend):
    batch = journal.create_batch(
        profile_name="p", profile_json={"name": "p"}, work_order="W1", expected=["S1"]
    )
    dev = _walk_to_done(journal, batch, "S1")
    snap = journal.device(dev)
    assert snap.state == DeviceState.DONE and snap.cert_serial == "01"
    assert [t.state for t in journal.history(dev)][:3] == [
        DeviceState.DETECTED,
        DeviceState.IDENTIFIED,
        DeviceState.KEY_READY,
    ]
    assert journal.history(dev)[-1].state == DeviceState.DONE
    assert journal.device_row(dev)["csr_der"] == b"\x30\x03\x02\x01\x00"
    assert journal.find_done_by_serial("S1").device_id == dev
    assert journal.find_unfinished_by_serial("S1") is None
    assert [c["cert_serial"] for c in journal.certificates_for("S1")] == ["01"]
    assert len(journal.all_certificates()) == 1
    record = journal.batch(batch)
    assert record.expected == ("S1",) and record.work_order == "W1"
    assert journal.unfinished_batches()[0].id == batch  # not ended yet
    journal.end_batch(batch)
    assert journal.unfinished_batches() == []
    verdict = journal.audit.verify()
    assert verdict.ok, verdict.problems
    assert verdict.records >= 10
    assert set(journal.audit.verify_stations()) == {"st-1"}


def test_an_unfinished_unit_is_found_for_resume(journal: JournalBackend):
    batch = journal.create_batch(profile_name="p", profile_json={})
    dev = journal.add_device(batch, "/dev/ttyB", then=[(DeviceState.IDENTIFIED, "id")], serial_number="S2")
    journal.transition(dev.device_id, DeviceState.CSR_READY, "csr", csr_der=b"x")
    assert journal.find_unfinished_by_serial("S2").device_id == dev.device_id
    assert [s.device_id for s in journal.unfinished_devices(batch)] == [dev.device_id]
    assert journal.set_step(dev.device_id, "waiting").step == "waiting"


def test_an_illegal_transition_is_refused_and_changes_nothing(journal: JournalBackend):
    batch = journal.create_batch(profile_name="p", profile_json={})
    dev = journal.add_device(batch, "/dev/ttyC", serial_number="S3").device_id
    with pytest.raises(IllegalTransition):
        journal.transition(dev, DeviceState.DONE, "done")
    assert journal.device(dev).state == DeviceState.DETECTED
    assert journal.audit.verify().ok


def test_each_step_lasts_until_the_next_one_starts(journal: JournalBackend):
    """The unit's details show how long each step took: a step's duration is the time to the next
    transition of the same unit (to the millisecond), a step text alone closes the one before it,
    and the latest step is still open."""
    batch = journal.create_batch(profile_name="p", profile_json={})
    other = journal.add_device(batch, "/dev/ttyF", serial_number="S8").device_id
    dev = journal.add_device(
        batch, "/dev/ttyG", then=[(DeviceState.IDENTIFIED, "id")], serial_number="S7"
    ).device_id
    for state in (DeviceState.KEY_READY, DeviceState.CSR_READY):
        time.sleep(0.03)
        journal.transition(dev, state, state.value)
        journal.set_step(other, "still detected")  # another unit's changes close nothing of this one
    time.sleep(0.03)
    journal.set_step(dev, "waiting for the EST server")
    history = journal.history(dev)
    assert [t.step for t in history] == [
        "detected",
        "id",
        "key-ready",
        "csr-ready",
        "waiting for the EST server",
    ]
    for this, following in zip(history, history[1:], strict=False):
        gap_ms = (following.at - this.at).total_seconds() * 1000
        assert this.duration_ms is not None and abs(this.duration_ms - gap_ms) <= 1, (this, following)
    assert [t.duration_ms is not None and t.duration_ms >= 25 for t in history[2:-1]] == [True, True]
    assert history[-1].duration_ms is None
    assert journal.history(other)[-1].duration_ms is None


def test_unknown_rows_and_fields_are_errors(journal: JournalBackend):
    with pytest.raises(KeyError):
        journal.device(424242)
    with pytest.raises(KeyError):
        journal.batch(424242)
    batch = journal.create_batch(profile_name="p", profile_json={})
    with pytest.raises(ValueError, match="unknown device fields"):
        journal.add_device(batch, "/dev/x", password="nope")


def test_an_edited_audit_record_is_detected(journal: JournalBackend):
    batch = journal.create_batch(profile_name="p", profile_json={})
    journal.add_device(batch, "/dev/ttyD", serial_number="S4")
    _tamper(journal, "UPDATE audit SET payload = replace(payload, 'S4', 'S5')")
    verdict = journal.audit.verify()
    assert not verdict.ok
    assert any("edited" in p for p in verdict.problems)


def test_deleting_the_newest_audit_records_is_detected(journal: JournalBackend):
    batch = journal.create_batch(profile_name="p", profile_json={})
    journal.add_device(batch, "/dev/ttyE", serial_number="S6")
    _tamper(journal, "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)")
    assert not journal.audit.verify().ok


def test_errors_reach_callers_as_journal_errors_not_driver_errors(journal: JournalBackend):
    journal.close()
    with pytest.raises(JournalError):
        journal.create_batch(profile_name="p", profile_json={})


def _tamper(journal: JournalBackend, statement: str) -> None:
    """Edit the stored records behind the journal's back, as an attacker with DB access would."""
    if journal.shared:
        import psycopg

        password = journal._pool.kwargs["password"]
        with psycopg.connect(journal._url, password=password, autocommit=True) as conn:
            conn.execute(statement.encode())
    else:
        with journal._lock:
            journal._db.execute(statement)


def test_a_journal_written_by_a_newer_certline_is_refused(tmp_path):
    """SQLite side of the schema rule (the PostgreSQL side is in test_shared_journal)."""
    import sqlite3

    from certline.app.batch.journal import Journal
    from certline.app.batch.journal_api import SchemaTooNew

    path = tmp_path / "journal.sqlite3"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(SchemaTooNew, match="schema version 99"):
        Journal(path)


def test_the_columns_added_after_the_first_schema_are_journaled(journal: JournalBackend):
    """The CSR as received and the replaced certificate (main's re-provisioning) on both backends."""
    batch = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    dev = journal.add_device(batch, "/dev/ttyA", then=[(DeviceState.IDENTIFIED, "identified")]).device_id
    journal.transition(
        dev,
        DeviceState.KEY_READY,
        "key",
        csr_received_der=b"\x30\x03\x02\x01\x07",
        csr_received_sha256="cd" * 32,
        replaced_chain_pem="OLD PEM",
        replaced_sha256="ef" * 32,
    )
    row = journal.device_row(dev)
    assert row["csr_received_der"] == b"\x30\x03\x02\x01\x07"
    assert (row["csr_received_sha256"], row["replaced_chain_pem"], row["replaced_sha256"]) == (
        "cd" * 32,
        "OLD PEM",
        "ef" * 32,
    )


def test_operator_actions_go_to_the_audit_and_batches_transitions_are_read_in_order(
    journal: JournalBackend,
):
    first = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    second = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    a = journal.add_device(first, "/dev/a", then=[(DeviceState.IDENTIFIED, "identified")]).device_id
    b = journal.add_device(second, "/dev/b", then=[(DeviceState.IDENTIFIED, "identified")]).device_id
    journal.transition(a, DeviceState.FAILED, "failed: x", error="x", error_code="device")
    journal.append_audit("label-reprinted", {"device": a, "operator": "op"})
    assert [r["kind"] for r in journal.audit.records()][-1] == "label-reprinted"
    assert journal.audit.verify().ok
    rows = journal.transitions_of_batches([first, second])
    assert [(device, t.state) for device, t in rows] == [
        (a, DeviceState.DETECTED),
        (a, DeviceState.IDENTIFIED),
        (b, DeviceState.DETECTED),
        (b, DeviceState.IDENTIFIED),
        (a, DeviceState.FAILED),
    ]
    assert journal.transitions_of_batches([second]) == [r for r in rows if r[0] == b]


def test_one_job_per_unit_row_and_a_new_row_is_claimed_by_its_finder(journal: JournalBackend):
    from certline.app.batch.claim_owner import new_claim_owner

    batch = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    finder, other = new_claim_owner("port:/dev/a"), new_claim_owner("detached:1")
    dev = journal.add_device(
        batch, "/dev/a", then=[(DeviceState.IDENTIFIED, "identified")], claimed_by=finder
    ).device_id
    assert journal.claim_holder(dev) == finder
    assert not journal.claim(dev, other), "a second job got the unit"
    journal.release(dev, finder)
    assert journal.claim_holder(dev) is None
    assert journal.claim(dev, other)
    journal.release(dev, other)


def test_the_scanned_label_is_journaled_and_shown_with_the_unit(journal: JournalBackend):
    """Scan-in (SQLite column added on open, PostgreSQL migration 6): the label as scanned."""
    batch = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    dev = journal.add_device(batch, "/dev/ttyA", then=[(DeviceState.IDENTIFIED, "identified")]).device_id
    journal.transition(dev, DeviceState.AWAITING_LABEL, "waiting for its label to be scanned")
    snap = journal.set_step(dev, "comparing", scanned_label='{"serial": "CL-1"}')
    assert snap.state == DeviceState.AWAITING_LABEL and snap.scanned_label == '{"serial": "CL-1"}'
    assert journal.device_row(dev)["scanned_label"] == '{"serial": "CL-1"}'
    assert [s.device_id for s in journal.unfinished_devices(batch)] == [dev]
    assert journal.transition(dev, DeviceState.KEY_READY, "key").scanned_label == '{"serial": "CL-1"}'


def test_a_work_orders_finished_serials_span_its_batches(journal: JournalBackend):
    """The expected-serials count of a work order counts units finished in any of its batches."""
    first = journal.create_batch(
        profile_name="p", profile_json={}, work_order="W9", expected=["S1", "S2", "S3"]
    )
    _walk_to_done(journal, first, "S1")
    second = journal.create_batch(
        profile_name="p", profile_json={}, work_order="W9", expected=["S1", "S2", "S3"]
    )
    _walk_to_done(journal, second, "S2")
    failed = journal.add_device(
        second, "/dev/ttyB", then=[(DeviceState.IDENTIFIED, "identified")], serial_number="S3"
    )
    journal.transition(failed.device_id, DeviceState.FAILED, "refused", error="no", error_code="device")
    other = journal.create_batch(profile_name="p", profile_json={}, work_order="W10")
    _walk_to_done(journal, other, "S4")
    assert journal.finished_serials("W9") == {"S1", "S2"}
    assert journal.finished_serials("W10") == {"S4"}
    assert journal.finished_serials("W11") == set()


def test_snapshots_equal_the_full_rows_they_come_from(journal: JournalBackend):
    """Snapshot reads select only the snapshot's columns; they show what the full row says."""
    from certline.app.batch.journal_api import snapshot_from_row

    batch = journal.create_batch(profile_name="p", profile_json={})
    dev = _walk_to_done(journal, batch, "S1")
    full = snapshot_from_row(journal.device_row(dev))
    assert journal.device(dev) == full
    assert journal.devices(batch) == [full]
    assert journal.find_done_by_serial("S1") == full


def test_the_snapshot_a_write_returns_is_the_row_the_journal_holds(journal: JournalBackend):
    """Views get the snapshot a write returns, not a re-read: it must be exactly the stored row."""
    batch = journal.create_batch(profile_name="p", profile_json={})
    added = journal.add_device(
        batch, "/dev/ttyR", then=[(DeviceState.IDENTIFIED, "identified")], serial_number="S9", model="m"
    )
    assert added == journal.device(added.device_id)
    dev = added.device_id
    retry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    written = [
        journal.transition(dev, DeviceState.CSR_READY, "csr", csr_der=b"\x30\x00", csr_sha256="ab" * 32),
        journal.set_step(dev, "still there", port="/dev/ttyS"),
        journal.transition(dev, DeviceState.ENROLLING, "enrolling", enroll_attempts=1),
        journal.transition(
            dev,
            DeviceState.PENDING_APPROVAL,
            "waiting",
            retry_at=retry.isoformat(),
            not_after=retry.isoformat(),
        ),
        journal.transition(
            dev, DeviceState.FAILED, "failed: x", error="x", error_code="est", failed_step="enrolling"
        ),
    ]
    for snap in written[:-1]:
        assert snap.device_id == dev and snap.batch_id == batch
    assert written[1].state == DeviceState.CSR_READY and written[1].port == "/dev/ttyS"
    assert written[3].retry_at == retry and written[3].cert_not_after == retry
    assert written[-1] == journal.device(dev)


def test_a_batch_is_read_page_by_page_in_id_order_and_counted_by_state(journal: JournalBackend):
    """Keyset paging (reports and the history view read big batches this way): every device of the
    batch exactly once, in id order, no device of another batch, and counts per state."""
    batch = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    other = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    ids = []
    for i in range(7):
        ids.append(
            journal.add_device(
                batch, f"/dev/u{i}", then=[(DeviceState.IDENTIFIED, "identified")], serial_number=f"S{i}"
            ).device_id
        )
        journal.add_device(other, f"/dev/o{i}")
    journal.transition(ids[2], DeviceState.FAILED, "failed: x", error="x", error_code="device")
    pages, after = [], 0
    while page := journal.device_rows_after(batch, after, limit=3):
        pages.append([row["id"] for row in page])
        after = page[-1]["id"]
    assert pages == [ids[0:3], ids[3:6], ids[6:7]]
    assert journal.device_rows_after(batch, 0, limit=100) == journal.device_rows(batch)
    assert journal.device_state_counts(batch) == {"identified": 6, "failed": 1}
    assert journal.device_state_counts(other) == {"detected": 7}


def test_failed_devices_are_the_batchs_failed_units_only(journal: JournalBackend):
    """What the engine looks through for every unit plugged in: this batch's failures, no other row."""
    batch = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    other = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    done = _walk_to_done(journal, batch, "S1")
    failed = journal.add_device(
        batch, "/dev/ttyB", then=[(DeviceState.FAILED, "failed: busy")], error="busy", failed_step="identify"
    ).device_id
    running = journal.add_device(batch, "/dev/ttyC", then=[(DeviceState.IDENTIFIED, "identified")]).device_id
    journal.add_device(other, "/dev/ttyD", then=[(DeviceState.FAILED, "failed: garbage")], error="garbage")
    found = journal.failed_devices(batch)
    assert [s.device_id for s in found] == [failed]
    assert found[0].port == "/dev/ttyB" and found[0].serial_number is None
    assert done not in [s.device_id for s in found] and running not in [s.device_id for s in found]
    journal.transition(running, DeviceState.FAILED, "failed: lost", error="lost")
    assert [s.device_id for s in journal.failed_devices(batch)] == [failed, running]


def test_a_snapshot_says_whether_its_unit_is_a_field_re_enrollment(journal: JournalBackend):
    """The batch engine and ``batch resume`` leave a re-enrollment's unfinished unit alone by its
    snapshot's ``kind`` (app/batch/unfinished_renewal.py): every read and write must carry it."""
    batch = journal.create_batch(profile_name="p", profile_json={})
    renewal = journal.add_device(batch, "/dev/ttyR", kind="reenroll", serial_number="S7")
    assert renewal.kind == "reenroll"
    moved = journal.transition(renewal.device_id, DeviceState.IDENTIFIED, "renewing")
    assert moved.kind == "reenroll"
    found = journal.find_unfinished_by_serial("S7")
    assert found is not None and found.kind == "reenroll"
    assert [d.kind for d in journal.unfinished_devices(batch)] == ["reenroll"]
    enrolled = journal.add_device(batch, "/dev/ttyE", serial_number="S8")
    assert enrolled.kind == journal.device(enrolled.device_id).kind == "enroll"


def test_the_expiry_listing_shows_the_certificate_a_unit_holds_not_one_only_issued(journal: JournalBackend):
    """Found from outside: after a renewal was cut off during the write, ``certline expiry``
    listed the new certificate, which the unit never got, and hid the one it holds."""
    batch = journal.create_batch(profile_name="p", profile_json={})
    _walk_to_done(journal, batch, "S1")
    renewal = journal.create_batch(profile_name="p", profile_json={})
    dev = journal.add_device(
        renewal, "/dev/ttyA", kind="reenroll", then=[(DeviceState.IDENTIFIED, "renewing")], serial_number="S1"
    ).device_id
    journal.transition(dev, DeviceState.CSR_READY, "csr", csr_der=b"\x30\x00")
    journal.transition(dev, DeviceState.ENROLLING, "enrolling")
    now = datetime.now(UTC)
    journal.record_certificate(
        dev, operation="simplereenroll", chain_pem="PEM2", cert_serial="02", fingerprint="ee" * 32,
        not_before=now, not_after=now + timedelta(days=700), issuer="CN=CA", subject="CN=S1",
    )  # fmt: skip
    journal.transition(dev, DeviceState.ISSUED, "issued", cert_serial="02", cert_fingerprint="ee" * 32)
    journal.transition(dev, DeviceState.WRITING, "writing")
    assert [c["cert_serial"] for c in journal.all_certificates()] == ["01"]  # cut off here
    for state in (DeviceState.WRITTEN, DeviceState.VERIFIED, DeviceState.DONE):
        journal.transition(dev, state, state.value)
    assert [c["cert_serial"] for c in journal.all_certificates()] == ["02"]
