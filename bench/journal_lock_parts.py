"""Diagnosis: what the journal's writer lock is held for, part by part (docs/benchmarks.md §2).

Run: ``.venv/bin/python bench/journal_lock_parts.py`` (~1 minute: 5 batches of 32 units; ``--units``
for another size). Writes ``bench/results/journal_lock_parts.json`` and re-renders the docs.

``bench/journal_lock_variants.py`` changes one thing at a time and watches the held share move.
This one leaves the station as shipped and times what the group-commit leader does while it holds
the lock: every statement on the writer connection (with the rows it fetches), ``BEGIN
IMMEDIATE``, ``COMMIT`` (the WAL fsync) and the audit head's sync, each with the wall time it took
and the CPU time the leader's thread used meanwhile. What is held but in none of them is the
leader's own Python between statements (building values, the audit record's hash, the snapshot).
The wrappers cost a little themselves, so the held time here is a little longer than untimed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.batch_bound import HOSTS, run_batch  # noqa: E402
from bench.common import (  # noqa: E402
    est_server_for_batches,
    save_result,
    stored_by_units,
    with_earlier_units,
)

#: the parts, in the order the table shows them; a statement belongs to the first whose prefix
#: it starts with (whitespace collapsed)
STATEMENT_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "unit row: read its state, update or insert it",
        ("SELECT d.state", "UPDATE devices", "INSERT INTO devices"),
    ),
    (
        "transition history: close the previous, add the new",
        ("UPDATE transitions", "INSERT INTO transitions"),
    ),
    ("audit records (and the chain's end, once per commit)", ("INSERT INTO audit", "SELECT seq, hash")),
)
OTHER_STATEMENTS = "other statements: certificate, passcode use, MES record, batch"
BEGIN, COMMIT, HEAD = "BEGIN IMMEDIATE", "COMMIT (WAL fsync)", "audit head file (write + fsync)"
PYTHON = "the leader's Python between them (values, record hashes, snapshots)"
PARTS = (BEGIN, *(name for name, _ in STATEMENT_PARTS), OTHER_STATEMENTS, COMMIT, HEAD, PYTHON)


def part_of(sql: str) -> str:
    text = " ".join(sql.split())
    if text.startswith("BEGIN"):
        return BEGIN
    if text.startswith("COMMIT"):
        return COMMIT
    for name, prefixes in STATEMENT_PARTS:
        if text.startswith(prefixes):
            return name
    return OTHER_STATEMENTS


class PartTimes:
    """Wall and thread-CPU seconds and calls per part, for one batch."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = dict.fromkeys(PARTS, 0.0)
        self.cpu: dict[str, float] = dict.fromkeys(PARTS, 0.0)
        self.calls: dict[str, int] = dict.fromkeys(PARTS, 0)
        self.held_wall = 0.0
        self.held_cpu = 0.0
        self.commits = 0

    def timed(self, part: str, call: Callable[[], Any], *, count: bool = True) -> Any:
        w0, c0 = time.perf_counter(), time.thread_time()
        try:
            return call()
        finally:
            self.wall[part] += time.perf_counter() - w0
            self.cpu[part] += time.thread_time() - c0
            self.calls[part] += 1 if count else 0


class _TimedCursor:
    def __init__(self, cursor: Any, part: str, times: PartTimes) -> None:
        self._cursor, self._part, self._times = cursor, part, times

    def fetchone(self) -> Any:
        return self._times.timed(self._part, self._cursor.fetchone, count=False)

    def fetchall(self) -> Any:
        return self._times.timed(self._part, self._cursor.fetchall, count=False)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _TimedConnection:
    """The writer connection as the leader uses it, every statement timed by part."""

    def __init__(self, db: Any, times: PartTimes) -> None:
        self._db, self._times = db, times

    def execute(self, sql: str, *args: Any) -> Any:
        part = part_of(sql)
        cursor = self._times.timed(part, lambda: self._db.execute(sql, *args))
        return _TimedCursor(cursor, part, self._times)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def instrument(times: PartTimes) -> Callable[[Any, Any], None]:
    """A ``run_batch`` tune hook: the journal's writer connection, audit head sync and leader
    timed into ``times``."""

    def tune(session: Any, _sim: Any) -> None:
        journal = session.journal
        journal._db = _TimedConnection(journal._db, times)
        journal.audit._db = journal._db
        persist = journal.audit.persist_head
        journal.audit.persist_head = lambda head: times.timed(HEAD, lambda: persist(head))
        lead = journal._lead

        def timed_lead(group: Any) -> None:
            w0, c0 = time.perf_counter(), time.thread_time()
            try:
                lead(group)
            finally:
                times.held_wall += time.perf_counter() - w0
                times.held_cpu += time.thread_time() - c0
                times.commits += 1

        journal._lead = timed_lead

    return tune


def batch_parts(times: PartTimes, units: int, wall_s: float) -> dict[str, Any]:
    """One batch's parts in ms per batch; the leader's Python is what the held time leaves."""
    named_wall = sum(times.wall[p] for p in PARTS if p != PYTHON)
    named_cpu = sum(times.cpu[p] for p in PARTS if p != PYTHON)
    parts = {
        p: {"wall_ms": 1000 * times.wall[p], "cpu_ms": 1000 * times.cpu[p], "calls": times.calls[p]}
        for p in PARTS
    }
    parts[PYTHON] = {
        "wall_ms": 1000 * max(0.0, times.held_wall - named_wall),
        "cpu_ms": 1000 * max(0.0, times.held_cpu - named_cpu),
        "calls": 0,
    }
    return {
        "units": units,
        "wall_s": wall_s,
        "held_ms": 1000 * times.held_wall,
        "held_cpu_ms": 1000 * times.held_cpu,
        "held_fraction_of_wall": times.held_wall / wall_s,
        "commits": times.commits,
        "parts": parts,
    }


def summarise(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the batches, per part and for the held total."""

    def med(values: list[float]) -> float:
        return statistics.median(values)

    return {
        "wall_s": med([b["wall_s"] for b in batches]),
        "held_ms": med([b["held_ms"] for b in batches]),
        "held_cpu_ms": med([b["held_cpu_ms"] for b in batches]),
        "held_fraction_of_wall": med([b["held_fraction_of_wall"] for b in batches]),
        "commits": med([b["commits"] for b in batches]),
        "parts": {
            p: {key: med([b["parts"][p][key] for b in batches]) for key in ("wall_ms", "cpu_ms", "calls")}
            for p in PARTS
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="batches")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    earlier = {} if args.no_save else stored_by_units("journal_lock_parts")
    batches: list[dict[str, Any]] = []
    with est_server_for_batches("certline-bench-lock-parts-") as (server, work):
        for run in range(1, args.repeats + 1):
            times = PartTimes()
            res = run_batch(server, args.units, work, run, drivers=HOSTS, tune=instrument(times))
            if res["done"] != args.units:
                print(f"run {run}: only {res['done']} of {args.units} done; not counted", flush=True)
                continue
            batch = batch_parts(times, args.units, res["wall_s"])
            batch["foreign_cpu_cores"] = res["foreign_cpu_cores"]
            batches.append(batch)
            print(
                f"run {run}: wall {res['wall_s']:.2f} s, lock held {batch['held_ms']:.0f} ms "
                f"({batch['held_fraction_of_wall']:.0%}), {batch['commits']} commits",
                flush=True,
            )
    if not batches:
        print("no batch finished; nothing saved", file=sys.stderr)
        return 1
    summary = summarise(batches)
    for part in PARTS:
        x = summary["parts"][part]
        print(f"  {part:70} {x['wall_ms']:7.1f} ms held, {x['cpu_ms']:6.1f} ms CPU, {x['calls']:.0f} calls")
    if not args.no_save:
        entry = {"units": args.units, "repeats": len(batches), "batches": batches, "summary": summary}
        save_result("journal_lock_parts", {"by_units": with_earlier_units(earlier, entry)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
