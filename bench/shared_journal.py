"""Benchmark 6: the shared journal. 1, 2, 4 and 8 stations x 32 units against one local
PostgreSQL, versus the SQLite journal (one station, and N stations each on its own file).

Run: ``.venv/bin/python bench/shared_journal.py`` (needs Debian's ``postgresql`` package; starts a
throwaway cluster like the tests, fsync and synchronous_commit on). ``--smoke`` runs 1 and 2
stations x 4 units once, to check the script without writing a result.

**What a station does here.** Each station is its own process with its own journal handle (for
PostgreSQL: its own connection pool), as on a line; 32 threads, one per unit, as the engine's
port workers. Every unit makes the journal calls the real engine makes for one device-keyed unit,
in the engine's order (recorded from a real ``StationSession`` batch against the simulator and
the EST test server: claim_unit, find_unfinished/find_done_by_serial, add_device with the row
claim, 2 device_row, 1 set_step, 3 ``advance`` calls (a state and the step after it, or VERIFIED
and DONE, in one transaction), ``advance_reserving`` (CSR_READY and ENROLLING with the passcode
use their request spends), record_certificate with ISSUED, the step into WRITING and the passcode
use settled in its transaction, release, release_unit; the engine keeps its batch summary as
counters and no longer re-reads the batch). Between the
calls the thread sleeps for the device's and the server's own time per phase, taken from
``bench/results/batch_bound.json`` (one unit at 115200 baud, no contention); EST requests are
limited to the profile's concurrency (4) per station. No serial port, no simulator and no EST
server run: their CPU would swamp a 2-core machine at 8 x 32 units and say nothing about the journal.

**Why N stations on N SQLite files too.** All stations of a run share this machine's 2 cores
(on a line each has its own PC). "N stations on PostgreSQL vs N stations each on its own SQLite
journal, at the same time" puts both under the same CPU load, so their difference is the
shared journal's own cost; "vs 1 station on SQLite" is the issue's literal goal and includes
the CPU contention of N processes on 2 cores.

**Lock waits** are measured two ways on PostgreSQL: (1) every 10 ms the ``wait_event_type`` of
each Certline backend in ``pg_stat_activity`` is sampled (``Lock`` = waiting for a row/table
lock; ``LWLock``/``IO`` = e.g. waiting for the WAL flush of a commit; ``Client`` = idle,
waiting for the station); (2) ``log_lock_waits`` with ``deadlock_timeout = 10ms``: every lock
wait of at least 10 ms is logged by the server and counted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from certline.app.batch.journal_api import JournalBackend, StepChange  # noqa: E402
from certline.app.batch.states import DeviceState as S  # noqa: E402

SCOPE = "bench"
UNITS = 32
STATION_COUNTS = (1, 2, 4, 8)
ENROLL_CONCURRENCY = 4
#: per-phase device/server time (s) if batch_bound has no result (its n=1 medians, 2026-11-29)
DEFAULT_PHASES = {
    "identify": 0.0116,
    "keygen": 0.3105,
    "csr": 0.0401,
    "enroll": 0.0075,
    "write": 0.0186,
    "verify": 0.2295,
}
#: journal calls counted as writes (one transaction each)
WRITES = {
    "claim_unit",
    "add_device",
    "transition",
    "set_step",
    "advance_reserving",
    "record_certificate",
    "release",
    "release_unit",
    "create_batch",
}
PASSCODE_ID = "bench-passcode"
CSR = secrets.token_bytes(420)  # the size of a device's EC P-256 CSR (DER)
CHAIN = "-----BEGIN CERTIFICATE-----\n" + ("A" * 64 + "\n") * 22 + "-----END CERTIFICATE-----\n"


def phases_from_batch_bound() -> tuple[dict[str, float], str]:
    path = ROOT / "bench" / "results" / "batch_bound.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        row = next(r for r in data["results"]["rows"] if r["n"] == 1)
        return {k: float(row["phase_median_s"][k]) for k in DEFAULT_PHASES}, (
            f"bench/results/batch_bound.json, 1 unit, {data['machine']['date']}"
        )
    except (OSError, KeyError, StopIteration, ValueError):
        return dict(DEFAULT_PHASES), "built-in defaults (batch_bound.json of 2026-11-29)"


# ----------------------------------------------------------------------------- one station


class _Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)

    def call(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            with self.lock:
                self.latencies[name].append(elapsed)


def _unit(
    journal: JournalBackend,
    rec: _Recorder,
    batch: int,
    station: str,
    n: int,
    phases: dict[str, float],
    enroll_slots: threading.Semaphore,
) -> None:
    """One unit's journal traffic, in the order the engine makes it (see the module doc)."""
    from certline.app.batch.claim_owner import new_claim_owner

    port = f"/dev/ttyBENCH{n}"
    serial = f"{station}-{n:04d}"

    def to(state: S, step: str, **fields: Any) -> None:
        rec.call("transition", journal.transition, device, state, step, **fields)

    def to_then(*changes: StepChange) -> None:  # one transaction (JournalBackend.advance)
        rec.call("transition", journal.advance, device, changes)

    def step(text: str) -> None:
        rec.call("set_step", journal.set_step, device, text)

    time.sleep(phases["identify"])
    rec.call("claim_unit", journal.claim_unit, SCOPE, serial)
    rec.call("find_unfinished_by_serial", journal.find_unfinished_by_serial, serial)
    rec.call("find_done_by_serial", journal.find_done_by_serial, serial)
    rec.call("find_done_by_serial", journal.find_done_by_serial, serial)
    owner = new_claim_owner(f"port:{port}")
    snap = rec.call(
        "add_device", journal.add_device, batch, port, then=[(S.IDENTIFIED, "identified")],
        claimed_by=owner, serial_number=serial, model="BENCH-1",
    )  # fmt: skip
    device = snap.device_id
    rec.call("device_row", journal.device_row, device)
    step("generating ec-p256 key on the device")
    time.sleep(phases["keygen"])
    to_then(StepChange(S.KEY_READY, "key ready"), StepChange(None, "reading CSR from the device"))
    time.sleep(phases["csr"])
    row = rec.call("device_row", journal.device_row, device)
    rec.call(
        "advance_reserving", journal.advance_reserving, device,
        [StepChange(S.CSR_READY, "CSR ready", {"csr_der": CSR, "csr_sha256": hashlib.sha256(CSR).hexdigest()}),
         StepChange(S.ENROLLING, "enrolling", {"enroll_attempts": row["enroll_attempts"] + 1})],
        passcode_id=PASSCODE_ID, max_uses=None,
    )  # fmt: skip
    with enroll_slots:
        time.sleep(phases["enroll"])
    now = datetime.now(UTC)
    rec.call(
        "record_certificate", journal.record_certificate, device, operation="enroll", chain_pem=CHAIN,
        cert_serial=serial, fingerprint="00" * 32, not_before=now, not_after=now + timedelta(days=365),
        issuer="CN=bench", subject=f"CN={serial}", passcode_paid=PASSCODE_ID,
        then=[StepChange(S.ISSUED, "certificate issued",
                         {"chain_pem": CHAIN, "cert_serial": serial, "cert_fingerprint": "00" * 32}),
              StepChange(S.WRITING, "writing the certificate chain to the device")],
    )  # fmt: skip
    time.sleep(phases["write"])
    to_then(
        StepChange(S.WRITTEN, "certificate written"), StepChange(None, "reading back and proving the key")
    )
    time.sleep(phases["verify"])
    to_then(StepChange(S.VERIFIED, "verified"), StepChange(S.DONE, "done"))
    rec.call("release", journal.release, device, owner)
    rec.call("release_unit", journal.release_unit, SCOPE, serial)


def _open_journal(spec: dict[str, Any], station: str, home: Path) -> JournalBackend:
    if spec["backend"] == "sqlite":
        from certline.app.batch.journal import Journal

        return Journal(home / "journal.sqlite3", station=station)
    from certline.app.batch.journal_pg import PgJournal

    return PgJournal(spec["url"], station=station, password=spec["password"], audit_head=home / "audit-head")


def _station(
    spec: dict[str, Any],
    station: str,
    home: str,
    units: int,
    phases: dict[str, float],
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """A station process: open the journal, wait for the common start, run ``units`` at once."""
    announced = False
    try:
        journal = _open_journal(spec, station, Path(home))
        rec = _Recorder()
        batch = rec.call(
            "create_batch", journal.create_batch, profile_name=SCOPE, profile_json={}, work_order="WO-BENCH"
        )
        ready.put(station)
        announced = True
        go.wait(120)
        slots = threading.Semaphore(ENROLL_CONCURRENCY)
        errors: list[str] = []

        def run(n: int) -> None:
            try:
                _unit(journal, rec, batch, station, n, phases, slots)
            except Exception as exc:  # noqa: BLE001 - reported, the run is then invalid
                errors.append(f"{type(exc).__name__}: {exc}")

        started = time.perf_counter()
        threads = [threading.Thread(target=run, args=(n,)) for n in range(units)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        done = sum(1 for d in journal.devices(batch) if d.state == S.DONE)
        journal.close()
        cpu = os.times()
        out.put(
            {
                "station": station,
                "units": units,
                "done": done,
                "seconds": wall,
                "cpu_s": cpu.user + cpu.system,
                "latencies": dict(rec.latencies),
                "errors": errors[:5],
            }
        )
    except Exception as exc:  # noqa: BLE001 - the parent must not wait for a dead station
        if not announced:
            ready.put(station)
        out.put({"station": station, "fatal": f"{type(exc).__name__}: {exc}"})


# ----------------------------------------------------------------------------- PostgreSQL side


def _proc_cpu(pid: int, children: bool = False) -> float:
    from bench.common import CLK_TCK

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def pg_server_cpu(datadir: Path) -> float:
    """CPU seconds of the PostgreSQL server: the postmaster, its ended backends (which it waited
    for: cutime/cstime) and its live children."""
    try:
        pid = int((datadir / "postmaster.pid").read_text().split()[0])
        total = _proc_cpu(pid, children=True)
    except (OSError, ValueError, IndexError):
        return 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / _clk()
        except (OSError, ValueError, IndexError):
            continue
    return total


def _clk() -> int:
    from bench.common import CLK_TCK

    return int(CLK_TCK)


class WaitSampler:
    """Every 10 ms: what each Certline backend is waiting for (pg_stat_activity.wait_event)."""

    def __init__(self, url: str, password: str) -> None:
        self._url = url
        self._password = password
        self._stop = threading.Event()
        self.samples = 0
        self.waits: Counter[str] = Counter()
        self.busy_backend_samples = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self._url, password=self._password, autocommit=True) as conn:
            query = (
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                " WHERE application_name LIKE 'certline:%%' AND pid <> pg_backend_pid()"
            )
            while not self._stop.wait(0.01):
                self.samples += 1
                for state, kind, event in conn.execute(query).fetchall():
                    if state == "active":
                        self.busy_backend_samples += 1
                        self.waits[f"{kind}:{event}" if kind else "running (CPU)"] += 1

    def result(self) -> dict[str, Any]:
        lock = sum(n for k, n in self.waits.items() if k.startswith("Lock:"))
        return {
            "samples": self.samples,
            "active_backend_samples": self.busy_backend_samples,
            "lock_wait_samples": lock,
            "mean_backends_waiting_for_a_lock": round(lock / self.samples, 4) if self.samples else None,
            "active_by_wait_event": dict(self.waits.most_common()),
        }


def _count_lock_waits(log: Path, offset: int) -> tuple[int, int]:
    """Lock waits >= deadlock_timeout logged since ``offset`` (log_lock_waits): (count, new offset)."""
    try:
        with log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read()
    except OSError:
        return 0, offset
    return text.count(b"still waiting for"), offset + len(text)


# ----------------------------------------------------------------------------- one run


def run_config(
    backend: str,
    stations: int,
    units: int,
    phases: dict[str, float],
    cluster: Any | None,
) -> dict[str, Any]:
    from bench.common import system_cpu_seconds, wait_for_quiet

    wait_for_quiet(max_wait_s=20, threshold=0.3, sample_s=1.0)
    ctx = multiprocessing.get_context("spawn")
    work = Path(tempfile.mkdtemp(prefix="certline-bench-sj-"))
    spec: dict[str, Any] = {"backend": backend}
    if backend == "pg":
        assert cluster is not None
        spec["url"] = cluster.url(cluster.create_database())
        spec["password"] = cluster.password
        from certline.app.batch.journal_pg import PgJournal

        PgJournal(spec["url"], station="admin", password=cluster.password, migrate=True).close()
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    busy0, _ = system_cpu_seconds()
    own0 = os.times()
    pg0 = pg_server_cpu(cluster.datadir) if cluster is not None else 0.0
    procs = []
    for i in range(stations):
        home = work / f"st{i}"
        home.mkdir()
        procs.append(
            ctx.Process(
                target=_station, args=(spec, f"st{i}", str(home), units, phases, ready, go, out), daemon=True
            )
        )
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=90)
    log = cluster.root / "log" if cluster is not None else None
    log_offset = log.stat().st_size if log is not None and log.exists() else 0
    sampler = WaitSampler(spec["url"], spec["password"]) if backend == "pg" else None
    t0 = time.monotonic()
    if sampler is not None:
        sampler.__enter__()
    go.set()
    try:
        results = [out.get(timeout=600) for _ in procs]
    finally:
        if sampler is not None:
            sampler.__exit__()
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    span = time.monotonic() - t0
    busy1, _ = system_cpu_seconds()
    own1 = os.times()
    pg_cpu = (pg_server_cpu(cluster.datadir) - pg0) if cluster is not None else 0.0
    shutil.rmtree(work, ignore_errors=True)
    fatal = [r["fatal"] for r in results if "fatal" in r]
    if fatal:
        raise RuntimeError(f"{backend} x{stations}: a station failed: {fatal[0]}")
    own = (own1.user + own1.system - own0.user - own0.system) + (
        own1.children_user + own1.children_system - own0.children_user - own0.children_system
    )
    wall = span
    lock_logged = _count_lock_waits(log, log_offset)[0] if log is not None else None
    station_cpu = sum(r["cpu_s"] for r in results)
    total_units = sum(r["units"] for r in results)
    return {
        "backend": backend,
        "stations": stations,
        "units": total_units,
        "done": sum(r["done"] for r in results),
        "errors": [e for r in results for e in r["errors"]][:5],
        "station_seconds": [round(r["seconds"], 4) for r in results],
        "units_per_s_line": total_units / max(r["seconds"] for r in results),
        "units_per_s_station": statistics.mean(r["units"] / r["seconds"] for r in results),
        "station_cpu_s": station_cpu,
        "pg_server_cpu_s": pg_cpu,
        # what the stations and the database server used while the batch ran: cores over wall time
        "cpu_cores_used": (station_cpu + pg_cpu) / wall,
        "foreign_cpu_cores": max(0.0, (busy1 - busy0) - own - pg_cpu) / wall,
        "lock_waits_logged": lock_logged,
        "wait_sampling": sampler.result() if sampler is not None else None,
        "latencies": _merge([r["latencies"] for r in results]),
    }


def _merge(many: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    merged: dict[str, list[float]] = defaultdict(list)
    for one in many:
        for name, values in one.items():
            merged[name].extend(values)
    return dict(merged)


def _pcts(values: list[float]) -> dict[str, float]:
    from bench.common import percentile

    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 3),
        "p95_ms": round(percentile(values, 95) * 1000, 3),
        "p99_ms": round(percentile(values, 99) * 1000, 3),
        "max_ms": round(max(values) * 1000, 3) if values else None,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median run (by per-station throughput) plus latencies pooled over every repetition."""
    ordered = sorted(runs, key=lambda r: r["units_per_s_station"])
    median = ordered[len(ordered) // 2]
    pooled = _merge([r["latencies"] for r in runs])
    writes = [x for name, values in pooled.items() if name in WRITES for x in values]
    units = sum(r["units"] for r in runs)
    journal_ms_per_unit = 1000 * sum(sum(v) for v in pooled.values()) / units
    out = {k: v for k, v in median.items() if k not in ("latencies", "wait_sampling")}
    out.update(
        {
            "repeats": len(runs),
            "units_per_s_station_runs": [round(r["units_per_s_station"], 3) for r in runs],
            "units_per_s_line_runs": [round(r["units_per_s_line"], 3) for r in runs],
            "foreign_cpu_cores_max": max(r["foreign_cpu_cores"] for r in runs),
            "all_done": all(r["done"] == r["units"] and not r["errors"] for r in runs),
            "transition_latency": _pcts(pooled.get("transition", [])),
            "write_latency": _pcts(writes),
            "claim_unit_latency": _pcts(pooled.get("claim_unit", [])),
            "read_latency": _pcts(
                [x for name, values in pooled.items() if name not in WRITES for x in values]
            ),
            "calls": {name: _pcts(values) for name, values in sorted(pooled.items())},
            "journal_ms_per_unit": journal_ms_per_unit,
            "lock_waits_logged": sum(r["lock_waits_logged"] or 0 for r in runs)
            if runs[0]["lock_waits_logged"] is not None
            else None,
        }
    )
    sampling = [r["wait_sampling"] for r in runs if r["wait_sampling"]]
    if sampling:
        events: Counter[str] = Counter()
        for s in sampling:
            events.update(s["active_by_wait_event"])
        samples = sum(s["samples"] for s in sampling)
        lock = sum(s["lock_wait_samples"] for s in sampling)
        out["wait_sampling"] = {
            "samples": samples,
            "lock_wait_samples": lock,
            "mean_backends_waiting_for_a_lock": round(lock / samples, 4) if samples else None,
            "active_by_wait_event": dict(events.most_common(8)),
        }
    return out


# ----------------------------------------------------------------------------- main


def start_cluster() -> Any:
    import psycopg

    from tests.helpers.pg_cluster import PgCluster, find_bindir  # the tests' throwaway cluster

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="certline-bench-pg-"))
    os.chmod(root, 0o755)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    cluster = PgCluster(bindir, root, port, secrets.token_urlsafe(16))
    if os.geteuid() == 0:
        cluster._user = "nobody"
    cluster.init()
    cluster.start(durable=True)  # fsync on, as SQLite's synchronous=FULL; synchronous_commit stays on
    with psycopg.connect(cluster.url("postgres"), password=cluster.password, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET log_lock_waits = on")
        conn.execute("ALTER SYSTEM SET deadlock_timeout = '10ms'")
        conn.execute("SELECT pg_reload_conf()")
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "shared_buffers")
        }
    cluster.settings = settings  # type: ignore[attr-defined]
    return cluster


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1 and 2 stations x 4 units, once")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each configuration (default 3)")
    args = parser.parse_args()
    counts, units, repeats = ((1, 2), 4, 1) if args.smoke else (STATION_COUNTS, UNITS, args.repeats)
    phases, phases_source = phases_from_batch_bound()
    cluster = start_cluster()
    configs = [("sqlite", 1)] + [("pg", n) for n in counts] + [("sqlite", n) for n in counts if n > 1]
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    started = time.monotonic()
    try:
        for rep in range(repeats):  # interleaved, so a slow spell of the machine hits every configuration
            for backend, n in configs:
                result = run_config(backend, n, units, phases, cluster if backend == "pg" else None)
                runs[f"{backend}_{n}"].append(result)
                print(
                    f"  run {rep + 1}/{repeats} {backend} x{n}: "
                    f"{result['units_per_s_station']:.2f} units/s per station, "
                    f"{result['units_per_s_line']:.2f} line-wide, transition p50 "
                    f"{_pcts(result['latencies'].get('transition', []))['p50_ms']:.2f} ms, "
                    f"foreign CPU {result['foreign_cpu_cores']:.2f}",
                    flush=True,
                )
    finally:
        cluster.stop("immediate")
        shutil.rmtree(cluster.root, ignore_errors=True)
    rows = {key: summarise(value) for key, value in runs.items()}
    base = rows["sqlite_1"]["units_per_s_station"]
    for row in rows.values():
        row["per_station_vs_sqlite_1"] = row["units_per_s_station"] / base
        same = rows.get(f"sqlite_{row['stations']}")
        if row["backend"] == "pg" and same is not None:
            row["per_station_vs_sqlite_same_n"] = row["units_per_s_station"] / same["units_per_s_station"]
    top = max(counts)
    results = {
        "units_per_station": units,
        "station_counts": list(counts),
        "repeats": repeats,
        "phases_s": phases,
        "phases_source": phases_source,
        "unit_physical_s": sum(phases.values()),
        "enroll_concurrency": ENROLL_CONCURRENCY,
        "postgresql": cluster.settings,
        "elapsed_s": time.monotonic() - started,
        "rows": rows,
        "goal": {
            "stations": top,
            "limit_loss": 0.10,
            "vs_sqlite_1": rows[f"pg_{top}"]["per_station_vs_sqlite_1"],
            "met_vs_sqlite_1": rows[f"pg_{top}"]["per_station_vs_sqlite_1"] >= 0.9,
            "vs_sqlite_same_n": rows[f"pg_{top}"].get("per_station_vs_sqlite_same_n"),
            "met_vs_sqlite_same_n": (rows[f"pg_{top}"].get("per_station_vs_sqlite_same_n") or 0) >= 0.9,
        },
    }
    printable = {k: {kk: vv for kk, vv in v.items() if kk != "calls"} for k, v in rows.items()}
    print(json.dumps(printable, indent=1, default=str))
    if not args.smoke:
        from bench.common import save_result

        save_result("shared_journal", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
