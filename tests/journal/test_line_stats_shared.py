"""Line statistics on a shared journal (a real PostgreSQL): a work order's numbers are line-wide.

Two stations, A and B, write one database on a controlled clock. Work order WO-9 expects four units:
- SN-1: provisioned at A, first time.
- SN-2: at A it fails once while enrolling (cause ``est``), is retried, gets its certificate and
  is being written when A stops; B takes the same journal row over, fails once writing (cause
  ``device``), retries and finishes it. The row stays in A's batch.
- SN-3: provisioned at B, first time.
- SN-4: not seen yet.
Whichever station asks, the statistics must tell that story: both causes (each in its own
station's audit chain), SN-2 in B's totals (B finished it), and the work order's remaining count
across both stations.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certline.app.batch import journal_pg
from certline.app.batch.engine import BatchEngine, BatchOptions
from certline.app.batch.est_gateway import EstGateway
from certline.app.batch.events import EventBus
from certline.app.batch.journal_pg import PgJournal
from certline.app.batch.states import DeviceState as S
from certline.app.config.profile import Profile
from certline.app.station.line_stats import StatsScope, line_stats
from tests.batch.fakes import FakeCA, FakeDevice, FakeEst
from tests.helpers.pg_cluster import PgCluster

START = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
FAIL = {"failed_step": "test"}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def line(pg_cluster: PgCluster, pg_url: str, tmp_path: Path) -> Iterator[tuple[PgJournal, PgJournal]]:
    a = PgJournal(pg_url, station="A", password=pg_cluster.password, audit_head=tmp_path / "a-head")
    b = PgJournal(pg_url, station="B", password=pg_cluster.password, audit_head=tmp_path / "b-head")
    yield a, b
    a.close()
    b.close()


def _to(journal: PgJournal, clock: Clock, device: int, seconds: float, state: S, **fields: object) -> None:
    clock.wait(seconds)
    journal.transition(device, state, state.value, **fields)


def _happy_from_identified(journal: PgJournal, clock: Clock, device: int) -> None:
    for state in (S.KEY_READY, S.CSR_READY, S.ENROLLING, S.ISSUED, S.WRITING, S.WRITTEN, S.VERIFIED, S.DONE):
        _to(journal, clock, device, 2, state)


def _work_order(a: PgJournal, b: PgJournal, clock: Clock) -> dict[str, int]:
    expected = ["SN-1", "SN-2", "SN-3", "SN-4"]
    batch_a = a.create_batch(profile_name="line", profile_json={}, work_order="WO-9", expected=expected)
    batch_b = b.create_batch(profile_name="line", profile_json={}, work_order="WO-9", expected=expected)
    identified = [(S.IDENTIFIED, "identified")]
    sn1 = a.add_device(batch_a, "/dev/a0", then=identified, serial_number="SN-1").device_id
    _happy_from_identified(a, clock, sn1)
    sn2 = a.add_device(batch_a, "/dev/a1", then=identified, serial_number="SN-2").device_id
    _to(a, clock, sn2, 2, S.KEY_READY)
    _to(a, clock, sn2, 2, S.CSR_READY)
    _to(a, clock, sn2, 2, S.ENROLLING)
    _to(a, clock, sn2, 5, S.FAILED, error="EST server said 503", error_code="est", **FAIL)
    _to(a, clock, sn2, 30, S.CSR_READY, error=None, error_code=None, failed_step=None)  # operator retry
    _to(a, clock, sn2, 2, S.ENROLLING)
    _to(a, clock, sn2, 3, S.ISSUED)
    _to(a, clock, sn2, 1, S.WRITING)
    # station A dies here; B resumes the same row (the row stays in A's batch)
    _to(b, clock, sn2, 120, S.FAILED, error="write refused", error_code="device", **FAIL)
    _to(b, clock, sn2, 10, S.ISSUED, error=None, error_code=None, failed_step=None)
    for state in (S.WRITING, S.WRITTEN, S.VERIFIED, S.DONE):
        _to(b, clock, sn2, 2, state)
    sn3 = b.add_device(batch_b, "/dev/b0", then=identified, serial_number="SN-3").device_id
    _happy_from_identified(b, clock, sn3)
    return {"SN-1": sn1, "SN-2": sn2, "SN-3": sn3}


@pytest.fixture
def shift(line: tuple[PgJournal, PgJournal], monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    clock = Clock()
    monkeypatch.setattr(journal_pg, "utcnow", clock)
    return _work_order(*line, clock)


@pytest.mark.parametrize("asking", ["A", "B"])
def test_a_work_orders_statistics_are_line_wide_whichever_station_asks(line, shift, asking):
    journal = line[0] if asking == "A" else line[1]
    stats = line_stats(journal, StatsScope(work_order="WO-9"), tz=UTC).to_dict()
    assert stats["units"] == {
        "attempted": 3,
        "first_pass": 2,
        "first_pass_yield": 0.6667,
        "done": 3,
        "still_failed": 0,
        "in_progress": 0,
        "skipped": 0,
        "failures": 2,
    }
    # each failure's cause is in the chain of the station that recorded it
    assert stats["failures_by_cause"] == [
        {"name": "device", "count": 1, "share": 0.5, "cumulative_share": 0.5},
        {"name": "est", "count": 1, "share": 0.5, "cumulative_share": 1.0},
    ]
    assert {r["name"]: r["count"] for r in stats["failures_by_step"]} == {"enrolling": 1, "writing": 1}
    # SN-2 was finished by B: it counts for B, though its row is in A's batch
    stations = {s.pop("station"): s for s in stats["stations"]}
    assert stations["A"] == {
        "attempted": 1,
        "first_pass": 1,
        "first_pass_yield": 1.0,
        "done": 1,
        "still_failed": 0,
        "in_progress": 0,
        "skipped": 0,
        "failures": 0,
    }
    assert stations["B"]["done"] == 2 and stations["B"]["first_pass"] == 1
    assert stations["B"]["failures"] == 2
    assert sum(h["done"] for h in stats["units_per_hour"]) == 3


def test_step_times_span_both_stations_to_the_millisecond(line, shift):
    """A's last state of SN-2 (writing, 120 s until B recorded the failure) is timed across the
    two stations' transitions, computed by the database as the SQLite journal does."""
    durations = [(t.state, t.duration_ms, t.station) for t in line[1].history(shift["SN-2"])]
    assert durations[:4] == [
        (S.DETECTED, 0, "A"),
        (S.IDENTIFIED, 2000, "A"),
        (S.KEY_READY, 2000, "A"),
        (S.CSR_READY, 2000, "A"),
    ]
    writing = [d for d in durations if d[0] == S.WRITING]
    assert writing[0] == (S.WRITING, 120_000, "A")  # until B's FAILED
    assert durations[-1] == (S.DONE, None, "B")


def test_the_work_orders_finished_serials_are_those_of_every_station(line, shift):
    a, b = line
    assert a.finished_serials("WO-9") == b.finished_serials("WO-9") == {"SN-1", "SN-2", "SN-3"}
    assert a.finished_serials("WO-other") == set()


def test_a_batch_counts_the_units_its_work_order_still_expects_line_wide(line):
    """Station B's batch of WO-5 counts SN-1, provisioned at station A, as no longer expected."""
    a, b = line
    ca = FakeCA()
    expected = frozenset({"SN-1", "SN-2", "SN-3"})

    def engine(journal: PgJournal, serial: str) -> BatchEngine:
        device = FakeDevice(f"/dev/{journal.station}", serial)
        return BatchEngine(
            journal=journal,
            profile=Profile(name="line-1", enroll_url="https://127.0.0.1:1/.well-known/est"),
            gateway=EstGateway(FakeEst(ca), concurrency=2, probe_interval=0.05),
            open_driver=lambda _port: device,
            bus=EventBus(),
            options=BatchOptions(work_order="WO-5", expected=expected),
        )

    at_a = engine(a, "SN-1")
    at_a.add_port("/dev/A")
    assert at_a.wait(20)
    assert at_a.summary().expected_remaining == 2
    at_b = engine(b, "SN-2")
    at_b.add_port("/dev/B")
    assert at_b.wait(20)
    assert at_b.summary().expected_remaining == 1  # SN-3 only: SN-1 was done at A
