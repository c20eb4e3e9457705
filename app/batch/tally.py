"""The batch summary as counters, kept up to date from the snapshots the engine publishes.

The engine publishes a :class:`~certline.app.batch.events.BatchSnapshot` after every device event. Built
by reading every device of the batch back from the journal, that cost grew with the square of
the batch (N units x ~20 events x N rows) and held the journal for most of a 64-unit batch.
Each device snapshot already carries the unit's new state, so the counts follow it: one
dictionary update per event, whatever the batch size. The journal stays the truth: the tally
is seeded from it when a batch is resumed and re-read from it when the batch is finished.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.states import DeviceState

_FINISHED = (DeviceState.DONE, DeviceState.SKIPPED)


@dataclass(frozen=True)
class TallyCounts:
    done: int
    """DONE or SKIPPED (a unit that needs nothing more)."""
    failed: int
    pending_approval: int
    in_progress: int
    """Every other unit (pending approval included), as the summary has always counted it."""
    expected_remaining: int | None
    awaiting_label: int = 0
    """Scan-in: units held until their label is scanned (counted in ``in_progress`` too)."""
    skipped: int = 0
    """SKIPPED units (counted in ``done`` too: they need nothing more)."""


class BatchTally:
    """Thread-safe counters of one batch's units by state (see the module doc)."""

    def __init__(self, expected: frozenset[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._expected = expected
        self._units: dict[int, tuple[DeviceState, str | None, datetime]] = {}
        self._states: Counter[DeviceState] = Counter()
        self._finished_serials: Counter[str] = Counter()
        self._remaining = len(expected) if expected is not None else 0

    def reset(self, snapshots: Iterable[DeviceSnapshot]) -> None:
        """Start again from the journal's rows (a resumed batch, a finished one)."""
        with self._lock:
            self._units.clear()
            self._states.clear()
            self._finished_serials.clear()
            self._remaining = len(self._expected) if self._expected is not None else 0
            for snap in snapshots:
                self._apply(snap)

    def update(self, snap: DeviceSnapshot) -> None:
        """Count ``snap``'s unit in its new state. A snapshot older than the one counted for the
        same unit (two threads publishing out of order) changes nothing."""
        with self._lock:
            self._apply(snap)

    def counts(self) -> TallyCounts:
        with self._lock:
            done = self._states[DeviceState.DONE] + self._states[DeviceState.SKIPPED]
            failed = self._states[DeviceState.FAILED]
            return TallyCounts(
                done=done,
                failed=failed,
                pending_approval=self._states[DeviceState.PENDING_APPROVAL],
                in_progress=len(self._units) - done - failed,
                expected_remaining=self._remaining if self._expected is not None else None,
                awaiting_label=self._states[DeviceState.AWAITING_LABEL],
                skipped=self._states[DeviceState.SKIPPED],
            )

    def finished_serials(self) -> frozenset[str]:
        """Serial numbers of this batch's units that need nothing more (DONE or SKIPPED)."""
        with self._lock:
            return frozenset(self._finished_serials)

    def _apply(self, snap: DeviceSnapshot) -> None:
        old = self._units.get(snap.device_id)
        if old is not None:
            if snap.updated_at < old[2]:
                return
            self._count(old[0], old[1], -1)
        self._units[snap.device_id] = (snap.state, snap.serial_number, snap.updated_at)
        self._count(snap.state, snap.serial_number, +1)

    def _count(self, state: DeviceState, serial: str | None, delta: int) -> None:
        self._states[state] += delta
        if state not in _FINISHED or serial is None:
            return
        before = self._finished_serials[serial]
        after = before + delta
        if after:
            self._finished_serials[serial] = after
        else:
            del self._finished_serials[serial]
        if self._expected is not None and serial in self._expected and (before == 0) != (after == 0):
            self._remaining += -1 if after else 1
