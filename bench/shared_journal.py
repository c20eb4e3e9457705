"""Benchmark 7: the shared journal. 1, 2, 4 and 8 stations x 32 units against one local
PostgreSQL, versus one station on the SQLite journal.

Run: ``.venv/bin/python bench/shared_journal.py`` (needs Debian's ``postgresql`` package; starts
a throwaway cluster like the tests). ``--smoke`` runs 1 and 2 stations x 4 units only, to check
the script. Writes ``bench/results/shared_journal.json``.

Each station is a separate process with its own journal handle (pool), as on a line. A unit is
the journal traffic the engine writes for one provisioned unit: claim, add (identified), the
eight transitions to DONE, the certificate, release; between steps the station "works" for
``--step-ms`` (device and EST time, default 20 ms) so the journal is measured under a realistic
duty cycle, not in a tight loop. Each station provisions its own 32 serials (no duplicates; the
duplicate path is covered by tests/integration/test_multi_station.py).

Reported: units per second line-wide; journal call latency p50/p95/p99 per transition;
lock waits (samples of ungranted locks in ``pg_locks`` every 10 ms); per-station throughput
relative to one SQLite station (goal: 8 stations lose < 10 %).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.batch.journal_api import JournalBackend  # noqa: E402
from app.batch.states import DeviceState  # noqa: E402

STEPS = (
    DeviceState.KEY_READY,
    DeviceState.CSR_READY,
    DeviceState.ENROLLING,
    DeviceState.ISSUED,
    DeviceState.WRITING,
    DeviceState.WRITTEN,
    DeviceState.VERIFIED,
    DeviceState.DONE,
)


def provision(journal: JournalBackend, station: str, units: int, step_s: float) -> dict[str, Any]:
    latencies: list[float] = []

    def timed(call: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = call(*args, **kwargs)
        latencies.append(time.perf_counter() - started)
        return result

    batch = journal.create_batch(profile_name="bench", profile_json={}, work_order=f"WO-{station}")
    started = time.perf_counter()
    for n in range(units):
        serial = f"{station}-{n:04d}"
        timed(journal.claim_unit, "bench", serial)
        dev = timed(
            journal.add_device, batch, f"/dev/{n}", then=[(DeviceState.IDENTIFIED, "identified")],
            serial_number=serial,
        ).device_id  # fmt: skip
        for state in STEPS:
            time.sleep(step_s)
            if state == DeviceState.ISSUED:
                now = datetime.now(UTC)
                timed(
                    journal.record_certificate, dev, operation="enroll", chain_pem="PEM", cert_serial=serial,
                    fingerprint="00" * 32, not_before=now, not_after=now + timedelta(days=365),
                    issuer="CN=bench", subject=f"CN={serial}",
                )  # fmt: skip
            timed(journal.transition, dev, state, state.value)
        timed(journal.release_unit, "bench", serial)
    elapsed = time.perf_counter() - started
    return {"station": station, "units": units, "seconds": elapsed, "latencies": latencies}


def _pg_station(url: str, password: str, station: str, units: int, step_s: float, out: Any) -> None:
    from app.batch.journal_pg import PgJournal

    journal = PgJournal(url, station=station, password=password)
    try:
        out.put(provision(journal, station, units, step_s))
    finally:
        journal.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def summarise(results: list[dict[str, Any]], wall: float, lock_waits: int | None) -> dict[str, Any]:
    latencies = [x for r in results for x in r["latencies"]]
    units = sum(r["units"] for r in results)
    return {
        "stations": len(results),
        "units": units,
        "wall_s": round(wall, 3),
        # line throughput over the stations' own working time (process start-up excluded)
        "units_per_s_line": round(units / max(r["seconds"] for r in results), 2),
        "units_per_s_station": round(statistics.mean(r["units"] / r["seconds"] for r in results), 2),
        "latency_ms": {
            q: round(_pct(latencies, p), 2) for q, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        },
        "lock_wait_samples": lock_waits,
    }


def run_sqlite(units: int, step_s: float) -> dict[str, Any]:
    from app.batch.journal import Journal

    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "journal.sqlite3", station="sqlite")
        started = time.perf_counter()
        result = provision(journal, "sqlite", units, step_s)
        wall = time.perf_counter() - started
        journal.close()
    return summarise([result], wall, None)


def run_pg(cluster: Any, stations: int, units: int, step_s: float) -> dict[str, Any]:
    import psycopg

    from app.batch.journal_pg import PgJournal

    url = cluster.url(cluster.create_database())
    PgJournal(url, station="admin", password=cluster.password, migrate=True).close()
    queue: Any = multiprocessing.get_context("spawn").Queue()
    procs = [
        multiprocessing.get_context("spawn").Process(
            target=_pg_station, args=(url, cluster.password, f"st{i}", units, step_s, queue)
        )
        for i in range(stations)
    ]
    waits = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal waits
        with psycopg.connect(url, password=cluster.password, autocommit=True) as conn:
            while not stop.wait(0.01):
                row = conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()
                waits += int(row[0]) if row else 0

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=600) for _ in procs]
    wall = time.perf_counter() - started
    for proc in procs:
        proc.join(30)
    stop.set()
    sampler.join(5)
    return summarise(results, wall, waits)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1 and 2 stations x 4 units (checks the script)")
    parser.add_argument("--step-ms", type=float, default=20.0, help="device/EST time between journal steps")
    args = parser.parse_args()
    import os
    import secrets
    import shutil
    import socket

    from tests.helpers.pg_cluster import PgCluster, find_bindir  # the tests' throwaway cluster

    counts, units = ((1, 2), 4) if args.smoke else ((1, 2, 4, 8), 32)
    step_s = args.step_ms / 1000
    bindir = find_bindir()
    if bindir is None:
        print("PostgreSQL server binaries not found (apt-get install postgresql)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="certline-bench-pg-"))
    os.chmod(root, 0o755)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    cluster = PgCluster(bindir, root, port, secrets.token_urlsafe(16))
    if os.geteuid() == 0:
        cluster._user = "nobody"
    cluster.init()
    cluster.start(durable=True)  # fsync on: compared with SQLite's synchronous=FULL
    try:
        report = {"sqlite_1": run_sqlite(units, step_s)}
        for n in counts:
            report[f"pg_{n}"] = run_pg(cluster, n, units, step_s)
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
    base = report["sqlite_1"]["units_per_s_station"]
    for row in report.values():
        row["per_station_vs_sqlite"] = round(row["units_per_s_station"] / base, 3)
    print(json.dumps(report, indent=2))
    if not args.smoke:
        out = ROOT / "bench" / "results" / "shared_journal.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
