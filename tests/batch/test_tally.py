"""The batch summary's counters follow the published snapshots exactly as a full recount would."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.states import DeviceState
from certline.app.batch.tally import BatchTally

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def snap(device_id: int, state: DeviceState, serial: str | None, at: int) -> DeviceSnapshot:
    return DeviceSnapshot(
        device_id=device_id,
        batch_id=1,
        port=f"/dev/tty{device_id}",
        serial_number=serial,
        model=None,
        state=state,
        step=state.value,
        progress=0.0,
        started_at=T0,
        updated_at=T0 + timedelta(milliseconds=at),
    )


def recount(latest: dict[int, DeviceSnapshot], expected: frozenset[str]) -> tuple[int, int, int, int, int]:
    """What the engine's summary computed before: a scan of every unit."""
    snaps = list(latest.values())
    finished = (DeviceState.DONE, DeviceState.SKIPPED)
    done = sum(1 for s in snaps if s.state in finished)
    failed = sum(1 for s in snaps if s.state == DeviceState.FAILED)
    pending = sum(1 for s in snaps if s.state == DeviceState.PENDING_APPROVAL)
    remaining = len(expected - {s.serial_number for s in snaps if s.state in finished})
    return done, failed, pending, len(snaps) - done - failed, remaining


def test_random_event_streams_count_like_a_full_recount():
    rng = random.Random(18)
    states = list(DeviceState)
    for _ in range(200):
        expected = frozenset(f"S{i}" for i in range(rng.randint(0, 6)))
        tally = BatchTally(expected)
        latest: dict[int, DeviceSnapshot] = {}
        for at in range(rng.randint(1, 60)):
            device_id = rng.randint(1, 8)
            serial = rng.choice([None, "S0", "S1", "S2", "S7"])  # duplicates across rows happen
            event = snap(device_id, rng.choice(states), serial, at)
            latest[device_id] = event
            tally.update(event)
            counts = tally.counts()
            got = (
                counts.done,
                counts.failed,
                counts.pending_approval,
                counts.in_progress,
                counts.expected_remaining,
            )
            assert got == recount(latest, expected)


def test_a_snapshot_older_than_the_counted_one_changes_nothing():
    tally = BatchTally(frozenset({"S1"}))
    tally.update(snap(1, DeviceState.DONE, "S1", at=20))
    tally.update(snap(1, DeviceState.WRITING, "S1", at=10))  # published late by another thread
    counts = tally.counts()
    assert (counts.done, counts.in_progress, counts.expected_remaining) == (1, 0, 0)


def test_reset_recounts_from_the_journal_rows():
    tally = BatchTally(None)
    tally.update(snap(1, DeviceState.WRITING, "S1", at=1))
    tally.reset([snap(1, DeviceState.DONE, "S1", at=2), snap(2, DeviceState.FAILED, "S2", at=3)])
    counts = tally.counts()
    assert (counts.done, counts.failed, counts.in_progress, counts.expected_remaining) == (1, 1, 0, None)
