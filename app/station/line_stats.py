"""Line statistics from the journal: throughput, first-pass yield, failure Pareto, step times, stations.

One function, :func:`line_stats`, answers both ``certline stats`` and the station
window's Statistics view, so the numbers a supervisor sees on screen and the
ones a script pulls out are the same. Everything is read from the journal (read
only): batches, their units and the per-unit transition history. docs/statistics.md
defines every number; the short version:

- A **unit** is one serial number (a unit that failed before it could be identified
  has no serial: each such row is its own unit). Re-plugging a failed unit in a later
  batch of the same scope is the same unit.
- A **failure** is one entry into FAILED (a unit that fails twice counts twice). Its
  **step** is the state the unit was in when it failed (``enrolling``, ``writing``...),
  its **cause** the error code the engine recorded (``est``, ``device``, ``duplicate``...).
- **First-pass yield** = units that reached DONE and never entered FAILED (no failure,
  hence no operator retry) / units with an outcome (reached DONE, or failed at least
  once). Units still in progress and units skipped as already provisioned are left out
  of both sides. Waiting for the CA (202 pending, Retry-After) is not a failure.
- **Units per hour**: entries into DONE (and into FAILED) per clock hour.
- **Step time**: how long a unit stayed in a state (consecutive rows of one state are
  one stay); p50/p95 are nearest-rank percentiles over all stays of that state.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.journal_api import BatchRecord, JournalBackend, TransitionRecord
from certline.app.batch.states import TERMINAL, DeviceState

#: the station name shown for batches that were started without one
UNNAMED_STATION = "(unnamed)"
#: the cause shown when the journal no longer says why a unit failed (see :func:`_failure_causes`)
UNKNOWN_CAUSE = "unknown"
_ALL_BATCHES = 1_000_000_000


@dataclass(frozen=True)
class StatsScope:
    """Which part of the journal to count. Every field narrows; all ``None`` is the whole journal.

    ``since``/``until`` select units by the time they were first detected (``since`` inclusive,
    ``until`` exclusive); both must be timezone-aware.
    """

    work_order: str | None = None
    batch_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def takes_batch(self, batch: BatchRecord) -> bool:
        if self.batch_id is not None and batch.id != self.batch_id:
            return False
        return self.work_order is None or batch.work_order == self.work_order

    def takes_unit(self, detected_at: datetime) -> bool:
        if self.since is not None and detected_at < self.since:
            return False
        return self.until is None or detected_at < self.until


@dataclass(frozen=True)
class ParetoRow:
    """One bar of a Pareto chart: ``share`` of all failures, ``cumulative`` share up to this bar."""

    name: str
    count: int
    share: float
    cumulative: float


@dataclass(frozen=True)
class StepTime:
    step: str
    stays: int
    p50_s: float
    p95_s: float


@dataclass(frozen=True)
class HourBucket:
    hour: datetime
    done: int
    failed: int


@dataclass(frozen=True)
class Yield:
    """Unit counts of one scope (whole selection or one station)."""

    attempted: int
    first_pass: int
    done: int
    still_failed: int
    in_progress: int
    skipped: int
    failures: int

    @property
    def first_pass_yield(self) -> float | None:
        return self.first_pass / self.attempted if self.attempted else None


@dataclass(frozen=True)
class LineStats:
    scope: StatsScope
    batches: tuple[int, ...]
    units: Yield
    per_hour: tuple[HourBucket, ...]
    failures_by_step: tuple[ParetoRow, ...]
    failures_by_cause: tuple[ParetoRow, ...]
    step_times: tuple[StepTime, ...]
    stations: tuple[tuple[str, Yield], ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form; ``certline stats --format json`` prints exactly this."""
        return {
            "scope": {
                "work_order": self.scope.work_order,
                "batch": self.scope.batch_id,
                "since": _iso(self.scope.since),
                "until": _iso(self.scope.until),
                "batches": list(self.batches),
            },
            "units": _yield_dict(self.units),
            "units_per_hour": [
                {"hour": b.hour.isoformat(), "done": b.done, "failed": b.failed} for b in self.per_hour
            ],
            "failures_by_step": [_pareto_dict(r) for r in self.failures_by_step],
            "failures_by_cause": [_pareto_dict(r) for r in self.failures_by_cause],
            "step_times": [
                {"step": s.step, "stays": s.stays, "p50_s": s.p50_s, "p95_s": s.p95_s}
                for s in self.step_times
            ],
            "stations": [{"station": name, **_yield_dict(y)} for name, y in self.stations],
        }


# -- the query ----------------------------------------------------------------------------------
@dataclass
class _Unit:
    """The journal rows of one unit (one serial number) and what happened to them."""

    rows: list[DeviceSnapshot] = field(default_factory=list)
    failures: int = 0


def line_stats(journal: JournalBackend, scope: StatsScope, *, tz: tzinfo | None = None) -> LineStats:
    """Compute every statistic of ``scope`` from ``journal`` (read-only; may take a while: run it
    off the GUI thread). Hours are clock hours in ``tz`` (default: this computer's time zone)."""
    batches = [b for b in journal.batches(limit=_ALL_BATCHES) if scope.takes_batch(b)]
    batches.sort(key=lambda b: b.id)
    station_of = {b.id: b.station or UNNAMED_STATION for b in batches}
    devices = [d for b in batches for d in journal.devices(b.id) if scope.takes_unit(d.started_at)]
    by_id = {d.device_id: d for d in devices}
    history: dict[int, list[TransitionRecord]] = defaultdict(list)
    for device_id, record in journal.transitions_of_batches([b.id for b in batches]):
        if device_id in by_id:
            history[device_id].append(record)
    failures = {d.device_id: _failure_steps(history[d.device_id]) for d in devices}
    causes = _failure_causes(journal, by_id, history)
    station_of_unit = {
        d.device_id: _station_of(history[d.device_id], station_of[d.batch_id]) for d in devices
    }

    step_counts = Counter(step for steps in failures.values() for step in steps)
    cause_counts = Counter(cause for device_causes in causes.values() for cause in device_causes)
    stations = sorted(set(station_of_unit.values()))
    return LineStats(
        scope=scope,
        batches=tuple(b.id for b in batches),
        units=_yield(devices, failures),
        per_hour=_per_hour(history, tz),
        failures_by_step=_pareto(step_counts),
        failures_by_cause=_pareto(cause_counts),
        step_times=_step_times(history.values()),
        stations=tuple(
            (name, _yield([d for d in devices if station_of_unit[d.device_id] == name], failures))
            for name in stations
        ),
    )


# -- the numbers --------------------------------------------------------------------------------
def _station_of(history: Sequence[TransitionRecord], batch_station: str) -> str:
    """The station a unit's journal row counts for: the one that finished it (its last entry into
    DONE), else the one that worked on it last, else its batch's station.

    On a shared journal a unit left half-done by one station can be finished by another (the
    row stays in the first station's batch), and its DONE belongs to the finishing station's
    totals. A station's own SQLite journal does not record the station per transition: there the
    batch's station is the answer.
    """
    for record in reversed(history):
        if record.state == DeviceState.DONE and record.station:
            return record.station
    for record in reversed(history):
        if record.station:
            return record.station
    return batch_station


def _failure_steps(history: Sequence[TransitionRecord]) -> list[str]:
    """The state a unit was in at each entry into FAILED (FAILED -> FAILED step updates are not new
    failures; a failure before any other state counts as ``detected``)."""
    steps: list[str] = []
    current: DeviceState | None = None
    for record in history:
        if record.state == DeviceState.FAILED and current != DeviceState.FAILED:
            steps.append(current.value if current is not None else DeviceState.DETECTED.value)
        current = record.state
    return steps


def _failure_causes(
    journal: JournalBackend, devices: dict[int, DeviceSnapshot], history: dict[int, list[TransitionRecord]]
) -> dict[int, list[str]]:
    """The error code of each failure of each unit, oldest first.

    The device row keeps only its latest error (a retry clears it), so the codes come from the
    audit trail: the journal writes one ``device-failed`` record for every FAILED transition row,
    in the same transaction, so the n-th such record of a unit belongs to its n-th FAILED row (on
    a shared journal: the n-th record in a station's chain to that station's n-th FAILED row of
    the unit, so failures of a unit at several stations all find their cause). A
    failure recorded without a code (a unit refused at identification) takes the device row's code
    while that is still its latest failure, else :data:`UNKNOWN_CAUSE`.
    """
    codes: dict[tuple[int, str | None], list[str | None]] = defaultdict(list)
    for audit in journal.audit.records_of_kind("device-" + DeviceState.FAILED.value):
        payload = json.loads(audit["payload"])
        device_id = payload.get("device")
        if device_id in devices:
            codes[(device_id, audit.get("station"))].append(payload.get("error_code"))
    causes: dict[int, list[str]] = {}
    for device_id, snap in devices.items():
        # a shared journal: each station's chain holds the records of the FAILED rows it wrote
        failed_rows = {key[1]: iter(found) for key, found in codes.items() if key[0] == device_id}
        entries: list[str | None] = []
        previous: DeviceState | None = None
        for record in history.get(device_id, []):
            if record.state == DeviceState.FAILED:
                rows = failed_rows.get(record.station)
                code = next(rows, None) if rows is not None else None
                if previous != DeviceState.FAILED:
                    entries.append(code)
            previous = record.state
        device_causes = []
        for index, code in enumerate(entries):
            latest = index == len(entries) - 1 and snap.state == DeviceState.FAILED
            device_causes.append(code or (snap.error_code if latest else None) or UNKNOWN_CAUSE)
        causes[device_id] = device_causes
    return causes


def _yield(devices: Iterable[DeviceSnapshot], failures: dict[int, list[str]]) -> Yield:
    units: dict[str, _Unit] = defaultdict(_Unit)
    for snap in devices:
        unit = units[snap.serial_number or f"device-{snap.device_id}"]
        unit.rows.append(snap)
        unit.failures += len(failures[snap.device_id])
    attempted = first_pass = done = still_failed = in_progress = skipped = 0
    for unit in units.values():
        reached_done = any(r.state == DeviceState.DONE for r in unit.rows)
        if reached_done or unit.failures:
            attempted += 1
            done += reached_done
            first_pass += reached_done and not unit.failures
            still_failed += not reached_done
        elif all(r.state == DeviceState.SKIPPED for r in unit.rows):
            skipped += 1
        else:
            in_progress += 1
    return Yield(
        attempted=attempted,
        first_pass=first_pass,
        done=done,
        still_failed=still_failed,
        in_progress=in_progress,
        skipped=skipped,
        failures=sum(u.failures for u in units.values()),
    )


def _per_hour(history: dict[int, list[TransitionRecord]], tz: tzinfo | None) -> tuple[HourBucket, ...]:
    """DONE and FAILED entries per clock hour, every hour from the first to the last activity
    (idle hours are zero: a gap on the line shows as a gap in the chart)."""
    done: Counter[datetime] = Counter()
    failed: Counter[datetime] = Counter()
    first: datetime | None = None
    last: datetime | None = None
    for records in history.values():
        previous: DeviceState | None = None
        for record in records:
            hour = _hour_of(record.at, tz)
            first = hour if first is None else min(first, hour)
            last = hour if last is None else max(last, hour)
            if record.state != previous and record.state == DeviceState.DONE:
                done[hour] += 1
            if record.state != previous and record.state == DeviceState.FAILED:
                failed[hour] += 1
            previous = record.state
    if first is None or last is None:
        return ()
    buckets = []
    hour = first
    while hour <= last:
        buckets.append(HourBucket(hour, done[hour], failed[hour]))
        hour = _hour_of(hour + timedelta(hours=1), tz)
    return tuple(buckets)


def _hour_of(moment: datetime, tz: tzinfo | None) -> datetime:
    return moment.astimezone(tz).replace(minute=0, second=0, microsecond=0)


def _pareto(counts: Counter[str]) -> tuple[ParetoRow, ...]:
    """Most frequent first (ties by name, so the order is stable), with each bar's cumulative share."""
    total = sum(counts.values())
    rows = []
    running = 0
    for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        running += count
        rows.append(ParetoRow(name, count, round(count / total, 4), round(running / total, 4)))
    return tuple(rows)


def _step_times(histories: Iterable[Sequence[TransitionRecord]]) -> tuple[StepTime, ...]:
    """p50/p95 of the time spent in each non-terminal state, in happy-path order."""
    stays: dict[DeviceState, list[int]] = defaultdict(list)
    for records in histories:
        state: DeviceState | None = None
        total = 0
        complete = True
        for record in [*records, None]:
            if record is None or record.state != state:
                if state is not None and state not in TERMINAL and complete:
                    stays[state].append(total)
                if record is None:
                    break
                state, total, complete = record.state, 0, True
            if record.duration_ms is None:
                complete = False  # still in this state (or a crash cut it short): no duration yet
            else:
                total += record.duration_ms
    order = list(DeviceState)
    return tuple(
        StepTime(state.value, len(values), _percentile(values, 50), _percentile(values, 95))
        for state, values in sorted(stays.items(), key=lambda item: order.index(item[0]))
    )


def _percentile(values_ms: Sequence[int], p: float) -> float:
    """Nearest-rank percentile in seconds: the smallest value with at least p% of values at or below it."""
    ordered = sorted(values_ms)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1] / 1000


def _yield_dict(y: Yield) -> dict[str, Any]:
    fpy = y.first_pass_yield
    return {
        "attempted": y.attempted,
        "first_pass": y.first_pass,
        "first_pass_yield": round(fpy, 4) if fpy is not None else None,
        "done": y.done,
        "still_failed": y.still_failed,
        "in_progress": y.in_progress,
        "skipped": y.skipped,
        "failures": y.failures,
    }


def _pareto_dict(row: ParetoRow) -> dict[str, Any]:
    return {"name": row.name, "count": row.count, "share": row.share, "cumulative_share": row.cumulative}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
