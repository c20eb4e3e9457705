"""Issue 19 part 1: the journal counts a passcode's uses by its non-secret id, on both backends,
and on the shared journal the count is the line's (two stations, one limit)."""

from __future__ import annotations

import threading

from certline.app.batch.journal_api import JournalBackend, StepChange
from certline.app.batch.states import DeviceState


def _units(journal: JournalBackend, count: int) -> list[int]:
    batch = journal.create_batch(profile_name="p", profile_json={"name": "p"})
    return [
        journal.add_device(
            batch, f"/dev/ttyA{i}", then=[(DeviceState.IDENTIFIED, "identified")], serial_number=f"S{i}"
        ).device_id
        for i in range(count)
    ]


def test_uses_are_reserved_up_to_the_limit_and_paid_or_given_back(journal: JournalBackend):
    a, b, c, d = _units(journal, 4)
    assert journal.reserve_passcode_use("gen-1", a, max_uses=3)
    assert journal.reserve_passcode_use("gen-1", b, max_uses=3)
    assert journal.reserve_passcode_use("gen-1", c, max_uses=3)
    assert not journal.reserve_passcode_use("gen-1", d, max_uses=3), "the fourth use is refused"
    usage = journal.passcode_usage("gen-1")
    assert (usage.issued, usage.in_flight, usage.spent) == (0, 3, 3)

    journal.settle_passcode_use("gen-1", a, issued=True)
    journal.settle_passcode_use("gen-1", b, issued=False)  # refused by the server: not a use
    usage = journal.passcode_usage("gen-1")
    assert (usage.issued, usage.in_flight) == (1, 1)
    assert journal.reserve_passcode_use("gen-1", d, max_uses=3), "the use given back is free again"
    assert not journal.reserve_passcode_use("gen-1", b, max_uses=3)

    # giving back never undoes a paid use
    journal.settle_passcode_use("gen-1", a, issued=False)
    assert journal.passcode_usage("gen-1").issued == 1


def test_a_unit_sending_its_csr_again_pays_once(journal: JournalBackend):
    (unit,) = _units(journal, 1)
    assert journal.reserve_passcode_use("gen-1", unit, max_uses=1)
    assert journal.reserve_passcode_use("gen-1", unit, max_uses=1), "its own reservation, not a new use"
    assert journal.passcode_usage("gen-1").spent == 1


def test_a_csr_and_its_step_into_enrolling_are_journaled_with_the_use_or_not_at_all(journal: JournalBackend):
    paid, unpaid = _units(journal, 2)
    ready = StepChange(DeviceState.CSR_READY, "CSR ready", {"csr_der": b"csr", "csr_sha256": "ab"})
    enrolling = StepChange(DeviceState.ENROLLING, "enrolling with the EST server", {"enroll_attempts": 1})

    snapshots = journal.advance_reserving(paid, [ready, enrolling], passcode_id="gen-1", max_uses=1)
    assert snapshots is not None
    assert [s.state for s in snapshots] == [DeviceState.CSR_READY, DeviceState.ENROLLING]
    assert [t.state for t in journal.history(paid)][-2:] == [DeviceState.CSR_READY, DeviceState.ENROLLING]
    assert journal.device_row(paid)["csr_der"] == b"csr"
    assert journal.passcode_usage("gen-1").in_flight == 1

    # the passcode cannot pay for a second unit: none of its changes are written
    assert journal.advance_reserving(unpaid, [ready, enrolling], passcode_id="gen-1", max_uses=1) is None
    assert journal.device(unpaid).state == DeviceState.IDENTIFIED
    assert journal.device_row(unpaid)["csr_der"] is None
    assert journal.passcode_usage("gen-1").spent == 1
    assert journal.audit.verify().ok


def test_each_passcode_has_its_own_count_and_no_limit_means_no_refusal(journal: JournalBackend):
    units = _units(journal, 3)
    for unit in units:
        assert journal.reserve_passcode_use("old", unit, max_uses=None)
        journal.settle_passcode_use("old", unit, issued=True)
    assert journal.passcode_usage("old").issued == 3
    assert journal.passcode_usage("new").spent == 0
    assert journal.reserve_passcode_use("new", units[0], max_uses=1)


def test_two_stations_on_the_shared_journal_share_one_limit(pg_cluster, pg_url, tmp_path):
    from certline.app.batch.journal_pg import PgJournal

    stations = [
        PgJournal(pg_url, station=name, password=pg_cluster.password, audit_head=tmp_path / name)
        for name in ("st-1", "st-2")
    ]
    try:
        units = {j.station: _units(j, 6) for j in stations}
        granted: list[int] = []
        lock = threading.Lock()

        def take(journal: PgJournal) -> None:
            for unit in units[journal.station]:
                if journal.reserve_passcode_use("gen-line", unit, max_uses=7):
                    with lock:
                        granted.append(unit)

        threads = [threading.Thread(target=take, args=(j,)) for j in stations]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(granted) == 7, "twelve units asked, the line's limit is seven"
        for journal in stations:
            assert journal.passcode_usage("gen-line").spent == 7
    finally:
        for journal in stations:
            journal.close()
