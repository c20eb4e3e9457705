"""A journal with a known shift, written through the journal API on a controlled clock.

Two stations of work order WO-7 plus one unit of another work order. Every number the line
statistics should find is worked out by hand in tests/station/test_line_stats.py from the
durations below; the clock is the journal's own ``utcnow`` so durations are exact.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certline.app.batch import journal as journal_module
from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState as S

SHIFT_START = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
SECOND_BATCH = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _happy(enroll: float, write: float) -> list[tuple[float, S, dict]]:
    """(seconds spent in the previous state, next state, fields) from IDENTIFIED to DONE."""
    return [
        (10, S.KEY_READY, {}),
        (5, S.CSR_READY, {}),
        (3, S.ENROLLING, {}),
        (enroll, S.ISSUED, {}),
        (1, S.WRITING, {}),
        (write, S.WRITTEN, {}),
        (2, S.VERIFIED, {}),
        (1, S.DONE, {}),
    ]


def _fail(code: str) -> dict:
    return {"error": f"simulated {code} failure", "error_code": code, "failed_step": "test"}


def _unit(journal: Journal, clock: Clock, batch: int, port: str, serial: str, path, then=()) -> int:
    detected = clock()
    clock.wait(2)  # DETECTED -> IDENTIFIED: 2 s for every unit
    fields = {"serial_number": serial}
    if then:
        fields.update(then[-1][1])
    snap = journal.add_device(
        batch,
        port,
        detected_at=detected,
        then=[(S.IDENTIFIED, "identified"), *[(s, s.value) for s, _ in then]],
        **fields,
    )
    for seconds, state, extra in path:
        clock.wait(seconds)
        journal.transition(snap.device_id, state, state.value, **extra)
    return snap.device_id


def build_line_journal(path: Path, monkeypatch: pytest.MonkeyPatch) -> Journal:
    """Write the shift into a new journal at ``path`` and return it (open)."""
    clock = Clock(SHIFT_START)
    monkeypatch.setattr(journal_module, "utcnow", clock)
    journal = Journal(path)
    write_line_shift(journal, clock)
    return journal


def write_line_shift(journal: Journal, clock: Clock) -> None:
    """Write the shift into ``journal``; the caller has made ``clock`` the journal's ``utcnow``."""
    clock.now = SHIFT_START
    a = journal.create_batch(profile_name="p", profile_json={}, work_order="WO-7", station="line-A")
    happy = _happy(20, 4)
    _unit(journal, clock, a, "/dev/a1", "SN-1", happy)
    # SN-2: fails while enrolling (EST error), retried a minute later, then passes
    retried = _happy(30, 6)[:3] + [(30, S.FAILED, _fail("est"))]
    retried += [(60, S.CSR_READY, {"error": None, "error_code": None, "failed_step": None})]
    retried += [(3, S.ENROLLING, {})] + _happy(10, 6)[3:]
    _unit(journal, clock, a, "/dev/a2", "SN-2", retried)
    # SN-3: fails while writing (device error) and is left failed at this station
    _unit(journal, clock, a, "/dev/a3", "SN-3", _happy(20, 9)[:5] + [(9, S.FAILED, _fail("device"))])
    # SN-4: refused when identified (duplicate): no audit code, the device row keeps it
    _unit(journal, clock, a, "/dev/a4", "SN-4", [], then=[(S.FAILED, _fail("duplicate"))])
    # SN-5: still generating its key; SN-6: skipped as already provisioned
    _unit(journal, clock, a, "/dev/a5", "SN-5", _happy(20, 4)[:1])
    _unit(journal, clock, a, "/dev/a6", "SN-6", [], then=[(S.SKIPPED, {"error_code": "already-provisioned"})])
    journal.end_batch(a)

    clock.now = SECOND_BATCH
    b = journal.create_batch(profile_name="p", profile_json={}, work_order="WO-7", station="line-B")
    _unit(journal, clock, b, "/dev/b1", "SN-3", _happy(15, 5))  # the unit that failed on line A
    _unit(journal, clock, b, "/dev/b2", "SN-7", _happy(40, 4)[:3] + [(40, S.FAILED, _fail("est"))])
    journal.end_batch(b)

    other = journal.create_batch(profile_name="p", profile_json={}, work_order="WO-8", station="line-A")
    _unit(journal, clock, other, "/dev/c1", "SN-9", [(99, S.FAILED, _fail("bad-csr"))])
    journal.end_batch(other)
