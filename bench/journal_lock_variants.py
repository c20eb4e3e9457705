"""Diagnosis: what holds the journal's writer lock at 32 units (docs/benchmarks.md §2).

Run: ``.venv/bin/python bench/journal_lock_variants.py`` (~2 minutes per size: 5 rounds of 4 variants).
Writes ``bench/results/journal_lock_variants.json`` and re-renders docs/benchmarks.md.

The batch benchmark (``bench/batch_bound.py``) finds the writer lock held for about half the
wall time of a 32-unit batch, against a goal of 15 %. This asks what would bring it down, by
changing one thing at a time in otherwise identical batches (same harness, ``run_batch`` with the
journal's locks timed), run alternately so that drift on the shared VM hits every variant alike:

* ``as shipped``: the station as it runs on a line;
* ``no fsync``: the journal with ``PRAGMA synchronous=OFF`` and no audit head sync. **Never
  shipped, never an option**: it shows how much of the held time is durability;
* ``rig on its own core``: the simulator and the EST server pinned to one core, the station and
  its device host to the other (``os.sched_setaffinity``), so the rig standing in for the units'
  own processors and a remote CA no longer shares the station's core;
* ``rig yields``: the simulator and the EST server at nice 15 (a CFS weight of 36 against the
  station's 1024), so the station gets a core whenever it wants one and keeps both: the rig no
  longer delays the group-commit leader, as on a line where the rig is other machines. It shows
  what faster commits do to the held share (nothing: see docs/benchmarks.md §2).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.batch_bound import HOSTS, run_batch  # noqa: E402
from bench.common import (  # noqa: E402
    EstServerProcess,
    SimProcess,
    est_server_for_batches,
    save_result,
    stored_by_units,
    with_earlier_units,
)

AS_SHIPPED, NO_FSYNC, RIG_APART, RIG_YIELDS = "as shipped", "no fsync", "rig on its own core", "rig yields"
VARIANTS = (AS_SHIPPED, NO_FSYNC, RIG_APART, RIG_YIELDS)
#: the rig's nice value in the ``rig yields`` variant
RIG_NICE = 15
Undo = Callable[[], None]


def _pin(pid: int, cpus: set[int]) -> dict[int, set[int]]:
    """Pin every thread of ``pid`` (threads started later inherit it); returns each thread's
    mask before, for :func:`_restore`."""
    before: dict[int, set[int]] = {}
    for name in os.listdir(f"/proc/{pid}/task"):
        tid = int(name)
        try:
            before[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, cpus)
        except ProcessLookupError:
            pass  # a thread that just ended
    return before


def _restore(pid: int, before: dict[int, set[int]], allowed: set[int]) -> None:
    """Every thread of ``pid`` back to its mask before :func:`_pin`; threads started while it
    was pinned get ``allowed``, the process's own mask before."""
    for name in os.listdir(f"/proc/{pid}/task"):
        tid = int(name)
        try:
            os.sched_setaffinity(tid, before.get(tid, allowed))
        except ProcessLookupError:
            pass


def _no_fsync(session: Any, _sim: SimProcess) -> Undo | None:
    journal = session.journal
    with journal._lock:  # the writer connection is the group-commit leader's
        journal._db.execute("PRAGMA synchronous=OFF")
    journal.audit.persist_head = lambda _head: None
    return None


def _rig_apart(server: EstServerProcess) -> Callable[[Any, SimProcess], Undo | None]:
    def tune(_session: Any, sim: SimProcess) -> Undo | None:
        # the cores this process may use (a cpuset or taskset may allow fewer than the machine has)
        allowed = os.sched_getaffinity(0)
        server_allowed = os.sched_getaffinity(server.pid)
        if len(allowed) < 2:
            raise SystemExit("the 'rig on its own core' variant needs two cores this process may use")
        rig = {max(allowed)}
        server_before = _pin(server.pid, rig)
        _pin(sim.pid, rig)  # the simulator is stopped with its batch
        station_before = _pin(os.getpid(), allowed - rig)  # the device hosts start after this and inherit it

        def undo() -> None:
            _restore(server.pid, server_before, server_allowed)
            _restore(os.getpid(), station_before, allowed)

        return undo

    return tune


def _renice(pid: int, nice: int) -> None:
    """Every thread of ``pid`` to ``nice`` (each Linux thread has its own nice value)."""
    for name in os.listdir(f"/proc/{pid}/task"):
        try:
            os.setpriority(os.PRIO_PROCESS, int(name), nice)
        except ProcessLookupError:
            pass  # a thread that just ended


def _rig_yields(server: EstServerProcess) -> Callable[[Any, SimProcess], Undo | None]:
    def tune(_session: Any, sim: SimProcess) -> Undo | None:
        before = os.getpriority(os.PRIO_PROCESS, server.pid)
        _renice(server.pid, RIG_NICE)
        _renice(sim.pid, RIG_NICE)  # the simulator is stopped with its batch
        return lambda: _renice(server.pid, before)

    return tune


def _may_renice_back() -> bool:
    """Lowering a nice value again needs root (or CAP_SYS_NICE, not checked here): without it the
    EST server would stay niced for the variants after ``rig yields``, so that variant is left out."""
    return os.geteuid() == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="batches per variant")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    earlier = {} if args.no_save else stored_by_units("journal_lock_variants")
    variants = VARIANTS if _may_renice_back() else tuple(v for v in VARIANTS if v != RIG_YIELDS)
    if RIG_YIELDS not in variants:
        print(f"'{RIG_YIELDS}' left out: setting the EST server's nice value back needs root", flush=True)
    runs: list[dict[str, Any]] = []
    with est_server_for_batches("certline-bench-lock-") as (server, work):
        tunes: dict[str, Callable[[Any, SimProcess], Undo | None] | None] = {
            AS_SHIPPED: None,
            NO_FSYNC: _no_fsync,
            RIG_APART: _rig_apart(server),
            RIG_YIELDS: _rig_yields(server),
        }
        for run in range(1, args.repeats + 1):
            for index, variant in enumerate(variants):  # alternately
                res = run_batch(  # run number: a fresh station home (journal) for every batch
                    server,
                    args.units,
                    work,
                    run * 10 + index,
                    instrument=True,
                    drivers=HOSTS,
                    tune=tunes[variant],
                )
                lock = res["journal_lock"]
                runs.append(
                    {
                        "variant": variant,
                        "run": run,
                        "wall_s": res["wall_s"],
                        "done": res["done"],
                        "held_fraction_of_wall": lock["held_fraction_of_wall"],
                        "held_ms_per_commit": lock["held_ms_per_acquisition"],
                        "write_wait_ms_per_unit": lock["worker_write_wait_ms_per_unit"],
                        "writes_per_commit": lock["writes_per_commit"],
                        "foreign_cpu_cores": res["foreign_cpu_cores"],
                    }
                )
                print(
                    f"{variant:20} run {run}: wall {res['wall_s']:.2f} s, {res['done']}/{args.units} done, "
                    f"lock held {lock['held_fraction_of_wall']:.0%}, foreign CPU {res['foreign_cpu_cores']:.2f}",
                    flush=True,
                )
                if res["failures"]:
                    print("  failed:", *res["failures"], sep="\n    ", flush=True)
    summary = {}
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        summary[variant] = {
            key: {
                "median": statistics.median(r[key] for r in mine),
                "min": min(r[key] for r in mine),
                "max": max(r[key] for r in mine),
            }
            for key in (
                "wall_s",
                "held_fraction_of_wall",
                "held_ms_per_commit",
                "write_wait_ms_per_unit",
                "writes_per_commit",
            )
        }
    if not args.no_save:
        entry = {"units": args.units, "repeats": args.repeats, "runs": runs, "summary": summary}
        save_result("journal_lock_variants", {"by_units": with_earlier_units(earlier, entry)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
