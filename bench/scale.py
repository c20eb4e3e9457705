"""Benchmark 5: scale, a journal with 100,000 devices.

Run: ``.venv/bin/python bench/scale.py`` (a few minutes). Writes ``bench/results/scale.json`` and
docs/benchmarks.md. To measure one part after a change: ``--only export-json export-csv
--repeats 2 --keep /tmp/scale`` runs only those phases (nothing saved) on the journal kept in
``/tmp/scale`` (built there the first time, ~1 minute, 470 MB).

The journal is created by ``Journal`` (its own schema, a batch made by ``create_batch``), then
filled in one transaction with ``executemany`` into that schema: one batch of 100,000 units,
~99,400 done, 300 failed in various steps, 300 unfinished (CSR ready, enrolling, issued,
writing), each with its transition rows (the happy path: 9 per done unit) and, once issued, its
certificate row. Certificates, chains and CSRs are real (EC P-256 leaf from a throwaway
root+intermediate, chain PEM of leaf + issuing CA, DER CSR) from a pool of 256 made for the run
and reused (row sizes are those of a real journal; serial numbers of the units are distinct).
Going through the API with one fsync'ed transaction per unit (as the 10k version did) would take
~5 minutes for 100k; the rows are the same.

Each measured phase then runs in its own fresh process, so ``ru_maxrss`` is that phase's
peak resident set size (interpreter and imports included; the baseline after the imports is
reported too):

* resume: ``Journal.unfinished_batches()`` + ``unfinished_devices()`` (what ``batch resume``
  and the window's resume prompt read);
* export-json / export-csv: ``certline.app.batch.report.export_report`` to a file (streamed);
* history: the History dialog (``certline.ui.batch_dialogs.history.HistoryDialog``, offscreen, 1280x800)
  on the journal: time from creating it to the first paint with device rows, then scrolling
  page by page (pages read in a worker as the view reaches the end), then loading every row by
  jumping to the end until the whole batch is in the view;
* startup: the real ``certline-gui`` path (``bench/startup.py``'s probe) on a station home whose
  journal is this one: process start to the station window's first paint.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEVICES = 100_000
FAILED = 300
UNFINISHED = 300
EXPORT_TARGET_S = 5.0
RSS_TARGET_MB = 400.0
HISTORY_PAINT_TARGET_S = 1.0
STARTUP_TARGET_S = 1.5
CERT_POOL = 256


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _rss_mb() -> float:
    """Peak RSS of this process since its exec (VmHWM; ``ru_maxrss`` would carry the parent's
    peak over from before the fork, here the journal build's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------------- build


def build(journal_path: Path, devices: int) -> dict[str, Any]:
    import sqlite3

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from certline.app import pki
    from certline.app.batch.journal import Journal
    from certline.app.batch.states import DeviceState as S

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Certline Bench"),
            ]
        )

    t0 = time.perf_counter()
    now = datetime.now(UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(name("Bench Root CA"))
        .issuer_name(name("Bench Root CA"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    ica_key = ec.generate_private_key(ec.SECP256R1())
    ica = (
        x509.CertificateBuilder()
        .subject_name(name("Bench Issuing CA"))
        .issuer_name(root.subject)
        .public_key(ica_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    ica_pem = ica.public_bytes(serialization.Encoding.PEM).decode("ascii")
    root_pem = root.public_bytes(serialization.Encoding.PEM).decode("ascii")
    issuer = ica.subject.rfc4514_string()
    pool = []
    for i in range(CERT_POOL):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(name(f"CL-{i:06d}"))
            .sign(key, hashes.SHA256())
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(f"CL-{i:06d}"))
            .issuer_name(ica.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365))
            .sign(ica_key, hashes.SHA256())
        )
        pool.append(
            {
                "csr_der": csr.public_bytes(serialization.Encoding.DER),
                "csr_sha256": pki.fingerprint(cert)[:64],
                "cert_serial": pki.cert_serial_hex(cert),
                "cert_fingerprint": pki.fingerprint(cert),
                "not_before": cert.not_valid_before_utc.isoformat(),
                "not_after": cert.not_valid_after_utc.isoformat(),
                "chain_pem": cert.public_bytes(serialization.Encoding.PEM).decode("ascii") + ica_pem,
                "subject": cert.subject.rfc4514_string(),
            }
        )
    pool_s = time.perf_counter() - t0

    journal = Journal(journal_path)  # the journal's own schema, and a batch made the engine's way
    batch = journal.create_batch(
        profile_name="line1",
        profile_json={
            "name": "line1",
            "ca_bundle_pem": root_pem,
            "enroll_url": "https://est.example/.well-known/est",
        },
        work_order="WO-100K",
        operator="bench",
        station="station-1",
    )
    journal.close()
    happy = [
        S.DETECTED,
        S.IDENTIFIED,
        S.KEY_READY,
        S.CSR_READY,
        S.ENROLLING,
        S.ISSUED,
        S.WRITING,
        S.WRITTEN,
        S.VERIFIED,
        S.DONE,
    ]
    stride = max(3, devices // max(FAILED, UNFINISHED))
    device_rows: list[tuple[Any, ...]] = []
    transition_rows: list[tuple[Any, ...]] = []
    cert_rows: list[tuple[Any, ...]] = []
    db = sqlite3.connect(journal_path, isolation_level=None)
    first_id = (db.execute("SELECT COALESCE(MAX(id), 0) FROM devices").fetchone()[0] or 0) + 1
    for i in range(devices):
        device_id = first_id + i
        serial = f"CL-{i + 1:06d}"
        cert = pool[i % CERT_POOL]
        started = now - timedelta(seconds=2 * (devices - i))
        kind = "done"
        if i % stride == stride // 3:
            kind = "failed"
        elif i % stride == 2 * stride // 3:
            kind = "unfinished"
        error = error_code = failed_step = None
        fields = dict.fromkeys(
            (
                "csr_der",
                "csr_sha256",
                "cert_serial",
                "cert_fingerprint",
                "not_before",
                "not_after",
                "issuer",
                "chain_pem",
            )
        )
        if kind == "failed":
            failed_step = ("identify", "enrolling", "writing")[i % 3]
            error, error_code = f"bench failure in {failed_step}", ("timeout", "est", "device")[i % 3]
            path = [(S.DETECTED, "detected"), (S.IDENTIFIED, "identified"), (S.FAILED, f"failed: {error}")]
        else:
            stop = S.DONE if kind == "done" else (S.CSR_READY, S.ENROLLING, S.ISSUED, S.WRITING)[i % 4]
            path = [(s, s.value) for s in happy[: happy.index(stop) + 1]]
            fields.update(csr_der=cert["csr_der"], csr_sha256=cert["csr_sha256"])
            if stop not in (S.CSR_READY, S.ENROLLING):
                fields.update(
                    {
                        k: cert[k]
                        for k in ("cert_serial", "cert_fingerprint", "not_before", "not_after", "chain_pem")
                    }
                )
                fields["issuer"] = issuer
                cert_rows.append(
                    (
                        device_id,
                        serial,
                        cert["cert_serial"],
                        cert["cert_fingerprint"],
                        cert["not_before"],
                        cert["not_after"],
                        issuer,
                        cert["subject"],
                        cert["chain_pem"],
                        "simpleenroll",
                        (started + timedelta(seconds=1)).isoformat(),
                    )
                )
        state, step = path[-1]
        updated = started + timedelta(milliseconds=150 * len(path))
        device_rows.append(
            (
                device_id,
                batch,
                serial,
                "CL-SENSOR-2",
                "2.4.1",
                f"/dev/ttyUSB{i % 64}",
                state.value,
                step,
                started.isoformat(),
                updated.isoformat(),
                fields["csr_der"],
                fields["csr_sha256"],
                fields["cert_serial"],
                fields["cert_fingerprint"],
                fields["not_before"],
                fields["not_after"],
                fields["issuer"],
                fields["chain_pem"],
                error,
                error_code,
                failed_step,
                1 if fields["csr_der"] else 0,
                # the CSR exactly as the unit sent it, journaled for every unit with a CSR (as the
                # pipeline does); without it the journal and the report are ~19 % lighter than real
                fields["csr_der"],
                fields["csr_sha256"],
            )
        )
        for n, (s, st) in enumerate(path):
            transition_rows.append(
                (
                    device_id,
                    s.value,
                    st,
                    (started + timedelta(milliseconds=150 * n)).isoformat(),
                    150 if n else None,
                )
            )
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO devices(id, batch_id, serial_number, model, firmware, port, state, step,"
        " started_at, updated_at, csr_der, csr_sha256, cert_serial, cert_fingerprint,"
        " not_before, not_after, issuer, chain_pem,"
        " error, error_code, failed_step, enroll_attempts, csr_received_der, csr_received_sha256)"
        " VALUES (" + ",".join("?" * 24) + ")",
        device_rows,
    )
    db.executemany(
        "INSERT INTO transitions(device_id, state, step, at, duration_ms) VALUES (?,?,?,?,?)", transition_rows
    )
    db.executemany(
        "INSERT INTO certificates(device_id, device_serial, cert_serial, fingerprint, not_before, not_after,"
        " issuer, subject, chain_pem, operation, issued_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        cert_rows,
    )
    db.execute("UPDATE batches SET ended_at=? WHERE id=?", (now.isoformat(), batch))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {
        "batch_id": batch,
        "build_s": time.perf_counter() - t0,
        "cert_pool_s": pool_s,
        "transitions": len(transition_rows),
        "certificates": len(cert_rows),
        "journal_mb": sum(p.stat().st_size for p in journal_path.parent.glob(journal_path.name + "*"))
        / 2**20,
    }


# ----------------------------------------------------------------------------- phases (child processes)


def phase(name: str, journal_path: Path, batch_id: int, out_dir: Path) -> dict[str, Any]:
    headroom = None
    if name == "history":
        # PySide6 6.12.0 on Python 3.11 drops a reference to None on every void call (see
        # bench/pyside_none_leak.py); without these extra references the process aborts with
        # "deallocating None" while scrolling. 3M references = 24 MB, included in the RSS below.
        headroom = tuple([None, True, False] * 1_000_000)  # atoms only: untracked by the GC after
        gc.collect()  # this collection, so no later GC pass walks it
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication  # noqa: F401 - imported before the baseline

        import certline.ui.batch_dialogs.history  # noqa: F401
    from certline.app.batch.journal import Journal
    from certline.app.batch.report import export_report

    baseline = _current_rss_mb()
    journal = Journal(journal_path)
    result: dict[str, Any] = {"phase": name, "baseline_rss_mb": baseline}
    if name == "resume":
        t0 = time.perf_counter()
        batches = journal.unfinished_batches()
        unfinished = journal.unfinished_devices()
        result["seconds"] = time.perf_counter() - t0
        result["unfinished"] = len(unfinished)
        result["unfinished_batches"] = len(batches)
        t0 = time.perf_counter()
        for i in range(1, 101):
            journal.find_unfinished_by_serial(f"CL-{i * 97:06d}")
        result["find_by_serial_ms"] = (time.perf_counter() - t0) * 1000 / 100
    elif name in ("export-json", "export-csv"):
        fmt = name.split("-")[1]
        path = out_dir / f"report.{fmt}"
        t0, cpu0 = time.perf_counter(), time.process_time()
        export_report(journal, batch_id, fmt, path)
        result["seconds"] = time.perf_counter() - t0
        result["cpu_s"] = time.process_time() - cpu0  # this process's CPU (user + system)
        result["peak_rss_mb"] = _rss_mb()  # before the check below reads the file back
        result["file_mb"] = path.stat().st_size / 2**20
        if fmt == "json":
            result["devices_in_report"] = len(json.loads(path.read_text())["devices"])
        else:
            result["devices_in_report"] = sum(1 for _ in path.open()) - 1
    elif name == "history":
        none_before = sys.getrefcount(None)
        result.update(_history(journal, out_dir))
        result["none_refs_lost"] = none_before - sys.getrefcount(None)
    journal.close()
    result.setdefault("peak_rss_mb", _rss_mb())
    if headroom is not None:
        sys.stdout.flush()
        print("RESULT " + json.dumps(result), flush=True)
        os._exit(0)  # never free the headroom: None may already be below its start-up count
    return result


def _history(journal: Any, out_dir: Path) -> dict[str, Any]:
    """The History dialog on the big batch: first paint with rows, page-by-page scroll, load all."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject
    from PySide6.QtWidgets import QApplication

    from certline.ui.batch_dialogs.history import HistoryDialog

    app = QApplication.instance() or QApplication([sys.argv[0]])
    marks: dict[str, float] = {}

    def pump(until: Any, limit_s: float) -> bool:
        deadline = time.monotonic() + limit_s
        while not until():
            if time.monotonic() > deadline:
                return False
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
            time.sleep(0.0005)
        return True

    t0 = time.perf_counter()
    dialog = HistoryDialog(journal, out_dir / "reports")
    view = dialog.device_view

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
            if event.type() == QEvent.Type.Paint and dialog.devices.rowCount() and "paint" not in marks:
                marks["paint"] = time.perf_counter()
            return False

    watch = FirstPaint()
    view.viewport().installEventFilter(watch)
    dialog.resize(1280, 800)
    dialog.show()
    pump(lambda: "paint" in marks, 30)
    first_paint_s = marks.get("paint", float("nan")) - t0
    rows_at_first_paint = dialog.devices.rowCount()
    bar = view.verticalScrollBar()
    page = max(1, bar.pageStep())
    steps: list[float] = []
    t_scroll = time.perf_counter()
    value = 0
    for _ in range(300):  # the first ~8,000 rows, a page at a time, loading as the view reaches the end
        t1 = time.perf_counter()
        value += page
        if bar.maximum() < value and not dialog.devices.exhausted:
            bar.setValue(bar.maximum())  # at the end: the view asks the model for more (fetchMore)
            pump(lambda v=value: bar.maximum() >= v or dialog.devices.exhausted, 30)
        bar.setValue(min(value, bar.maximum()))
        view.viewport().repaint()
        app.processEvents()
        steps.append(time.perf_counter() - t1)
    scroll_s = time.perf_counter() - t_scroll
    rows_scrolled = bar.value() + page
    t1 = time.perf_counter()
    while not dialog.devices.exhausted and time.perf_counter() - t1 < 180:  # every row, as "End" would
        bar.setValue(bar.maximum())
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    load_all_s = time.perf_counter() - t1
    pump(lambda: False, 0.2)
    rss_all = _current_rss_mb()
    t1 = time.perf_counter()
    bar.setValue(0)
    view.viewport().repaint()
    app.processEvents()
    jump_ms = (time.perf_counter() - t1) * 1000
    rows = dialog.devices.rowCount()
    dialog.close()
    return {
        "first_paint_s": first_paint_s,
        "rows_at_first_paint": rows_at_first_paint,
        "pages": len(steps),
        "rows_per_page": page,
        "rows_scrolled": rows_scrolled,
        "scroll_total_s": scroll_s,
        "page_median_ms": statistics.median(steps) * 1000 if steps else None,
        "page_p99_ms": sorted(steps)[int(len(steps) * 0.99)] * 1000 if steps else None,
        "page_max_ms": max(steps) * 1000 if steps else None,
        "load_all_s": load_all_s,
        "rows": rows,
        "rss_all_rows_mb": rss_all,
        "jump_to_top_ms": jump_ms,
    }


# ----------------------------------------------------------------------------- main


def median_of_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each number's median over the runs of one phase, and the worst time and peak RSS."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    med = {k: statistics.median(r[k] for r in runs if r.get(k) is not None) for k in keys}
    med["peak_rss_mb_max"] = max(r["peak_rss_mb"] for r in runs)
    if "seconds" in runs[0]:
        med["seconds_max"] = max(r["seconds"] for r in runs)
    if "cpu_s" in runs[0]:
        med["cpu_s_max"] = max(r["cpu_s"] for r in runs)
    return med


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in values.items()}


PHASES = ("resume", "export-json", "export-csv", "history")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=DEVICES)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each phase (fresh process each)")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=(*PHASES, "startup"),
        help="run only these phases (nothing is saved: a partial run is no result)",
    )
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="build the journal's station home in DIR and keep it; reuse it if DIR has one already",
    )
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--journal", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        res = phase(args.phase, Path(args.journal), args.batch, Path(args.out))
        print("RESULT " + json.dumps(res), flush=True)
        return 0

    from bench.common import save_result, system_cpu_seconds, wait_for_quiet
    from bench.startup import _make_home, measure_window

    run_phases = [p for p in PHASES if not args.only or p in args.only]
    run_startup = not args.only or "startup" in args.only
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="certline-bench-scale-"))
    startups: list[dict[str, float]] = []
    try:
        journal_path = work / "home" / "data" / "journal.sqlite3"  # the station's own journal
        built_file = work / "built.json"  # what build() said, for a --keep run that reuses it
        env = _make_home(work)  # a station home with one profile; CERTLINE_HOME=work/home
        if args.keep and built_file.exists() and journal_path.exists():
            built = json.loads(built_file.read_text())
            print(f"reusing the journal in {work} ({built['devices']} devices)", flush=True)
        else:
            print(f"building a journal with {args.devices} devices ...", flush=True)
            built = build(journal_path, args.devices)
            built_file.write_text(json.dumps({**built, "devices": args.devices}))
        print(f"  {built['build_s']:.1f} s, {built['journal_mb']:.1f} MB", flush=True)
        phases: dict[str, list[dict[str, Any]]] = {p: [] for p in run_phases}
        for rep in range(args.repeats):
            for name in run_phases:
                wait_for_quiet(max_wait_s=30)
                busy0, kids0, wall0 = system_cpu_seconds()[0], _children_cpu(), time.monotonic()
                proc = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--phase",
                        name,
                        "--journal",
                        str(journal_path),
                        "--batch",
                        str(built["batch_id"]),
                        "--out",
                        str(work),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    env=env,
                    check=False,
                )
                line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if line is None:
                    print(proc.stdout[-1500:], proc.stderr[-3000:], file=sys.stderr)
                    return 1
                res = json.loads(line[len("RESULT ") :])
                wall = time.monotonic() - wall0
                res["foreign_cpu_cores"] = (
                    max(0.0, (system_cpu_seconds()[0] - busy0) - (_children_cpu() - kids0)) / wall
                )
                phases[name].append(res)
                print(
                    f"run {rep + 1} {name:12s} "
                    + json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}),
                    flush=True,
                )
            if not run_startup:
                continue
            wait_for_quiet(max_wait_s=30)
            busy0, kids0, wall0 = system_cpu_seconds()[0], _children_cpu(), time.monotonic()
            started = measure_window(env)  # certline-gui on this station home, 100k-unit journal
            wall = time.monotonic() - wall0
            started["foreign_cpu_cores"] = (
                max(0.0, (system_cpu_seconds()[0] - busy0) - (_children_cpu() - kids0)) / wall
            )
            startups.append(started)
            print(f"run {rep + 1} startup      " + json.dumps({k: round(v, 3) for k, v in started.items()}))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.only:
        for name in run_phases:
            print(f"{name}: " + json.dumps(_rounded(median_of_runs(phases[name]))), flush=True)
        return 0

    def median_of(name: str) -> dict[str, Any]:
        return median_of_runs(phases[name])

    results: dict[str, Any] = {
        "devices": args.devices,
        "failed": FAILED,
        "unfinished": UNFINISHED,
        "build": built,
        "phases": {name: median_of(name) for name in PHASES},
        "startup": {
            "runs": startups,
            "painted_median_s": statistics.median(s["painted_s"] for s in startups),
            "painted_max_s": max(s["painted_s"] for s in startups),
            "peak_rss_mb_max": max(s["peak_rss_mb"] for s in startups),
        },
        "targets": {
            "export_s": EXPORT_TARGET_S,
            "peak_rss_mb": RSS_TARGET_MB,
            "history_first_paint_s": HISTORY_PAINT_TARGET_S,
            "startup_s": STARTUP_TARGET_S,
        },
    }
    ph = results["phases"]
    results["export_met"] = (
        max(ph["export-json"]["seconds_max"], ph["export-csv"]["seconds_max"]) < EXPORT_TARGET_S
    )
    results["rss_met"] = (
        max(max(p["peak_rss_mb_max"] for p in ph.values()), results["startup"]["peak_rss_mb_max"])
        < RSS_TARGET_MB
    )
    results["history_met"] = max(r["first_paint_s"] for r in phases["history"]) < HISTORY_PAINT_TARGET_S
    results["startup_met"] = results["startup"]["painted_max_s"] < STARTUP_TARGET_S
    if not args.no_save:
        save_result("scale", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
