"""Line-wide guarantees of the shared journal, with two station handles on one real PostgreSQL."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from certline.app.batch.journal_api import ClaimLost, SchemaTooNew, UnitDoneElsewhere, UnitHeldElsewhere
from certline.app.batch.journal_pg import PgJournal
from certline.app.batch.states import DeviceState

from .test_journal_backends import _walk_to_done


@pytest.fixture
def station(pg_cluster, pg_url, tmp_path):
    opened: list[PgJournal] = []

    def open_station(name: str, **options) -> PgJournal:
        journal = PgJournal(
            pg_url,
            station=name,
            password=pg_cluster.password,
            audit_head=tmp_path / f"{name}.head",
            **options,
        )
        opened.append(journal)
        return journal

    yield open_station
    for journal in opened:
        journal.close()


def test_a_unit_is_held_by_one_station_and_the_refusal_names_it(station):
    a, b = station("st-a"), station("st-b")
    a.claim_unit("p", "SN1")
    with pytest.raises(UnitHeldElsewhere, match="station st-a") as refused:
        b.claim_unit("p", "SN1")
    assert refused.value.station == "st-a"
    a.claim_unit("p", "SN1")  # the holder may renew its own claim
    b.claim_unit("other-profile", "SN1")  # the serial is per profile
    a.release_unit("p", "SN1")
    b.claim_unit("p", "SN1")


def test_concurrent_claims_of_one_unit_let_exactly_one_station_win(station):
    stations = [station(f"st-{i}") for i in range(6)]
    winners: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(len(stations))

    def claim(journal: PgJournal) -> None:
        start.wait()
        try:
            journal.claim_unit("p", "RACE")
            winners.append(journal.station)
        except UnitHeldElsewhere:
            refused.append(journal.station)

    threads = [threading.Thread(target=claim, args=(s,)) for s in stations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(winners) == 1 and len(refused) == 5


def test_a_unit_done_anywhere_is_refused_everywhere_naming_the_first_station_and_time(station):
    a, b = station("st-a"), station("st-b")
    batch = a.create_batch(profile_name="p", profile_json={})
    device = _walk_to_done(a, batch, "SN2")
    with pytest.raises(UnitDoneElsewhere, match=r"first provisioned at station st-a on \d{4}-") as refused:
        b.claim_unit("p", "SN2")
    assert refused.value.device_id == device
    b.claim_unit("p", "SN2", reprovision=True)  # only when asked explicitly


def test_a_dead_stations_lease_expires_and_another_station_resumes_its_row(station):
    a = station("st-a", lease_seconds=1.0)
    b = station("st-b", lease_seconds=1.0)
    batch = a.create_batch(profile_name="p", profile_json={})
    a.claim_unit("p", "SN3")
    dev = a.add_device(batch, "/dev/a", then=[(DeviceState.IDENTIFIED, "id")], serial_number="SN3").device_id
    a.transition(dev, DeviceState.CSR_READY, "csr", csr_der=b"csr")
    a.close()  # the station dies: nobody renews its lease
    with pytest.raises(UnitHeldElsewhere):
        b.claim_unit("p", "SN3")
    time.sleep(1.5)
    b.claim_unit("p", "SN3")
    resumable = b.find_unfinished_by_serial("SN3")
    assert resumable is not None and resumable.device_id == dev
    assert b.device_row(dev)["csr_der"] == b"csr"  # the journaled CSR, not a new one
    b.transition(dev, DeviceState.ENROLLING, "enrolling")
    assert b.device_row(dev)["station"] == "st-b"


def test_a_station_whose_lease_was_taken_over_cannot_write_the_units_next_step(station):
    a = station("st-a", lease_seconds=0.5)
    b = station("st-b", lease_seconds=30)
    batch = a.create_batch(profile_name="p", profile_json={})
    a.claim_unit("p", "SN4")
    dev = a.add_device(batch, "/dev/a", then=[(DeviceState.IDENTIFIED, "id")], serial_number="SN4").device_id
    a._held.clear()  # a station that stalled: its lease is no longer renewed
    time.sleep(1.0)
    b.claim_unit("p", "SN4")
    with pytest.raises(ClaimLost, match="taken over by station st-b"):
        a.transition(dev, DeviceState.CSR_READY, "csr")
    a.transition(dev, DeviceState.FAILED, "failed: lease lost")  # recording the stop is allowed


def test_each_station_keeps_its_own_audit_chain(station):
    a, b = station("st-a"), station("st-b")
    for journal in (a, b):
        batch = journal.create_batch(profile_name="p", profile_json={})
        journal.add_device(batch, "/dev/x", serial_number=f"SN-{journal.station}")
    verdicts = a.audit.verify_stations()
    assert set(verdicts) == {"st-a", "st-b"}
    assert all(v.ok and v.records == 2 for v in verdicts.values())  # batch + device
    with psycopg.connect(a._url, password=a._pool.kwargs["password"], autocommit=True) as conn:
        conn.execute("UPDATE audit SET payload = payload || ' ' WHERE station = 'st-b' AND seq = 2")
    verdicts = a.audit.verify_stations()
    assert verdicts["st-a"].ok and not verdicts["st-b"].ok


def test_the_work_orders_expected_list_is_the_same_line_wide(station):
    a, b = station("st-a"), station("st-b")
    a.create_batch(profile_name="p", profile_json={}, work_order="WO-7", expected=["A", "B"])
    later = b.create_batch(profile_name="p", profile_json={}, work_order="WO-7")
    assert b.batch(later).expected == ("A", "B")
    with pytest.raises(Exception, match="different expected-serials list"):
        b.create_batch(profile_name="p", profile_json={}, work_order="WO-7", expected=["A"])


def test_a_journal_migrated_by_a_newer_certline_is_refused(station, pg_cluster, pg_url):
    station("st-a")
    with psycopg.connect(pg_url, password=pg_cluster.password, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations(version, applied_by) VALUES (99, 'future')")
    with pytest.raises(SchemaTooNew, match="version 99"):
        station("st-b")


def test_the_station_waits_while_the_database_is_down_and_continues_when_it_is_back(station, pg_cluster):
    a = station("st-a", connect_timeout=1.0)
    batch = a.create_batch(profile_name="p", profile_json={})
    reachability: list[bool] = []
    a.on_reachable = reachability.append
    pg_cluster.stop()
    result: dict[str, int] = {}
    try:
        writer = threading.Thread(
            target=lambda: result.setdefault(
                "device", a.add_device(batch, "/dev/a", serial_number="SN5").device_id
            )
        )
        writer.start()
        time.sleep(2.5)
        assert writer.is_alive(), "the write must wait for the database, not fail or go missing"
        assert reachability == [False]
    finally:
        pg_cluster.start()
    writer.join(30)
    assert not writer.is_alive()
    assert [s.serial_number for s in a.devices(batch)] == ["SN5"]  # written once
    assert reachability == [False, True]
    assert a.audit.verify().ok


def test_a_unit_rows_job_claim_of_another_station_is_live_while_renewed_and_taken_over_after(station):
    """One job per unit line-wide: a job's claim on a unit row (main's ``Journal.claim``) held by
    another host's station is respected while that station renews it, and taken over once its
    lease ran out (the station died)."""
    a = station("st-a", lease_seconds=1.0)
    b = station("st-b", lease_seconds=1.0)
    batch = a.create_batch(profile_name="p", profile_json={})
    dev = a.add_device(batch, "/dev/a", then=[(DeviceState.IDENTIFIED, "id")], serial_number="SN9").device_id
    elsewhere = "other-host/1:1/port:/dev/a#0"  # a job on another PC: its process cannot be checked
    assert a.claim(dev, elsewhere)
    time.sleep(1.5)  # longer than the lease: st-a's renewal thread keeps the claim live
    assert b.claim_holder(dev) == elsewhere
    assert not b.claim(dev, "st-b-job")
    a.close()  # st-a dies: nobody renews the claim any more
    time.sleep(1.5)
    assert b.claim_holder(dev) is None
    assert b.claim(dev, "st-b-job")


def test_concurrent_writes_leave_the_newest_head_in_the_local_file_and_the_chain_verifies(station, tmp_path):
    """A station's workers write at once; the local head file (written once for several of them)
    names the chain's newest record, never an older one."""
    from certline.app.batch.audit import read_head_file

    a = station("st-a")
    batch = a.create_batch(profile_name="p", profile_json={})
    threads = [threading.Thread(target=_walk_to_done, args=(a, batch, f"SN{n}")) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    newest = a.audit.records()[-1]
    assert read_head_file(tmp_path / "st-a.head") == (newest["seq"], newest["hash"])
    a.audit.checkpoint((1, a.audit.records()[0]["hash"]))  # a late report of an older head
    assert read_head_file(tmp_path / "st-a.head") == (newest["seq"], newest["hash"])
    assert a.audit.verify().ok


def test_the_line_view_lists_the_units_held_for_a_work_order(station):
    """Which station holds which unit: all live leases, or those of one work order's units."""
    a, b = station("st-a"), station("st-b")
    batch_a = a.create_batch(profile_name="p", profile_json={}, work_order="WO-1")
    batch_b = b.create_batch(profile_name="p", profile_json={}, work_order="WO-2")
    for journal, batch, serial in ((a, batch_a, "SN1"), (b, batch_b, "SN2")):
        journal.claim_unit("p", serial)
        journal.add_device(
            batch, "/dev/x", then=[(DeviceState.IDENTIFIED, "identified")], serial_number=serial
        )
    b.claim_unit("p", "SN3")  # claimed, not journaled yet: counts for st-b's open batch, WO-2
    held = {(r["serial_number"], r["holder"]) for r in a.unit_holders()}
    assert held == {("SN1", "st-a"), ("SN2", "st-b"), ("SN3", "st-b")}
    assert [(r["serial_number"], r["holder"]) for r in b.unit_holders("WO-1")] == [("SN1", "st-a")]
    assert [(r["serial_number"], r["holder"]) for r in a.unit_holders("WO-2")] == [
        ("SN2", "st-b"),
        ("SN3", "st-b"),
    ]
    assert a.unit_holders("WO-3") == []
    a.release_unit("p", "SN1")
    assert a.unit_holders("WO-1") == []
