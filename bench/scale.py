"""Benchmark 5: scale, a journal with 10,000 devices.

Run: ``.venv/bin/python bench/scale.py`` (about a minute, most of it building the journal).
Writes ``bench/results/scale.json`` and docs/benchmarks.md.

The journal is synthesised through the ``Journal`` API (the engine's own calls, one
transaction per device registration plus one per certificate, fsync'ed like in production):
one batch of 10,000 units: 9,400 done with a real, distinct certificate (EC P-256 leaf from a
throwaway root+intermediate, chain PEM of leaf + issuing CA, real CSR), 300 failed in various
steps, 300 unfinished (CSR ready, enrolling, issued, writing).

Each measured phase then runs in its own fresh process, so ``ru_maxrss`` is that phase's
peak resident set size (interpreter and imports included; the baseline after the imports is
reported too):

* resume: ``Journal.unfinished_batches()`` + ``unfinished_devices()`` (what ``batch resume``
  and the window's resume prompt read);
* export-json / export-csv: ``app.batch.report.export_report`` to a file;
* table: ``ui.station.device_model.DeviceTableModel`` fed the 10,000 snapshots (``set_devices``) in a
  ``ui.station.device_view.DeviceView`` (offscreen, 1280x800), then scrolled from top to bottom one
  page at a time with a synchronous repaint per page, then back to the top in one jump.
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

DEVICES = 10_000
FAILED = 300
UNFINISHED = 300
EXPORT_TARGET_S = 2.0
RSS_TARGET_MB = 300.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------------- build


def build(journal_path: Path, devices: int) -> dict[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from app import pki
    from app.batch.journal import Journal
    from app.batch.states import DeviceState as S

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Certline Bench"),
            ]
        )

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

    journal = Journal(journal_path)
    profile_json = {
        "name": "line1",
        "ca_bundle_pem": root_pem,
        "enroll_url": "https://est.example/.well-known/est",
    }
    batch = journal.create_batch(
        profile_name="line1",
        profile_json=profile_json,
        work_order="WO-10K",
        operator="bench",
        station="station-1",
    )
    happy = [
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
    t0 = time.perf_counter()
    for i in range(devices):
        serial = f"CL-{i + 1:06d}"
        key = ec.generate_private_key(ec.SECP256R1())
        csr = x509.CertificateSigningRequestBuilder().subject_name(name(serial)).sign(key, hashes.SHA256())
        csr_der = csr.public_bytes(serialization.Encoding.DER)
        port = f"/dev/ttyUSB{i % 64}"
        ident = {"serial_number": serial, "model": "CL-SENSOR-2", "firmware": "2.4.1"}
        detected = now - timedelta(seconds=devices - i)
        kind = "done"
        stride = max(3, devices // max(FAILED, UNFINISHED))
        if i % stride == stride // 3:
            kind = "failed"
        elif i % stride == 2 * stride // 3:
            kind = "unfinished"
        if kind == "failed":
            step = ("identify", "enrolling", "writing")[i % 3]
            path = [(S.IDENTIFIED, "identified"), (S.FAILED, f"failed: bench failure in {step}")]
            journal.add_device(
                batch,
                port,
                detected_at=detected,
                then=path,
                error=f"bench failure in {step}",
                error_code=("timeout", "est", "device")[i % 3],
                failed_step=step,
                **ident,
            )
            continue
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(serial))
            .issuer_name(ica.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365))
            .sign(ica_key, hashes.SHA256())
        )
        chain_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii") + ica_pem
        fields = {
            "csr_der": csr_der,
            "csr_sha256": pki.fingerprint(cert)[:64],
            "cert_serial": pki.cert_serial_hex(cert),
            "cert_fingerprint": pki.fingerprint(cert),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "issuer": ica.subject.rfc4514_string(),
            "chain_pem": chain_pem,
            "enroll_attempts": 1,
        }
        if kind == "unfinished":
            stop = (S.CSR_READY, S.ENROLLING, S.ISSUED, S.WRITING)[i % 4]
            states = happy[: happy.index(stop) + 1]
            if stop in (S.CSR_READY, S.ENROLLING):
                fields = {"csr_der": csr_der, "csr_sha256": fields["csr_sha256"], "enroll_attempts": 1}
        else:
            states = happy
        journal.add_device(
            batch, port, detected_at=detected, then=[(s, s.value) for s in states], **ident, **fields
        )
        if "chain_pem" in fields:
            device_id = journal.find_unfinished_by_serial(serial) or journal.find_done_by_serial(serial)
            assert device_id is not None
            journal.record_certificate(
                device_id.device_id,
                operation="simpleenroll",
                chain_pem=chain_pem,
                cert_serial=fields["cert_serial"],
                fingerprint=fields["cert_fingerprint"],
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                issuer=fields["issuer"],
                subject=cert.subject.rfc4514_string(),
            )
        if (i + 1) % 2000 == 0:
            print(f"  {i + 1} devices ({time.perf_counter() - t0:.0f} s)", flush=True)
    journal.end_batch(batch)
    journal.close()
    return {
        "batch_id": batch,
        "build_s": time.perf_counter() - t0,
        "journal_mb": sum(p.stat().st_size for p in journal_path.parent.glob(journal_path.name + "*"))
        / 2**20,
    }


# ----------------------------------------------------------------------------- phases (child processes)


def phase(name: str, journal_path: Path, batch_id: int, out_dir: Path) -> dict[str, Any]:
    headroom = None
    if name == "table":
        # PySide6 6.12.0 on Python 3.11 drops a reference to None on every void call (see
        # bench/pyside_none_leak.py); without these extra references the process aborts with
        # "deallocating None" while scrolling. 3M references = 24 MB, included in the RSS below.
        headroom = tuple([None, True, False] * 1_000_000)  # atoms only: untracked by the GC after
        gc.collect()  # this collection, so no later GC pass walks it
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication  # noqa: F401 - imported before the baseline

        import ui.station.device_model  # noqa: F401
        import ui.station.device_view  # noqa: F401
    from app.batch.journal import Journal
    from app.batch.report import export_report

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
        t0 = time.perf_counter()
        export_report(journal, batch_id, fmt, path)
        result["seconds"] = time.perf_counter() - t0
        result["peak_rss_mb"] = _rss_mb()  # before the check below reads the file back
        result["file_mb"] = path.stat().st_size / 2**20
        if fmt == "json":
            result["devices_in_report"] = len(json.loads(path.read_text())["devices"])
        else:
            result["devices_in_report"] = sum(1 for _ in path.open()) - 1
    elif name == "table":
        none_before = sys.getrefcount(None)
        result.update(_table(journal, batch_id))
        result["none_refs_lost"] = none_before - sys.getrefcount(None)
    journal.close()
    result.setdefault("peak_rss_mb", _rss_mb())
    if headroom is not None:
        sys.stdout.flush()
        print("RESULT " + json.dumps(result), flush=True)
        os._exit(0)  # never free the headroom: None may already be below its start-up count
    return result


def _table(journal: Any, batch_id: int) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication

    from ui.station.device_model import DeviceTableModel
    from ui.station.device_view import DeviceView

    app = QApplication.instance() or QApplication([sys.argv[0]])
    t0 = time.perf_counter()
    snaps = journal.devices(batch_id)
    load_s = time.perf_counter() - t0
    model = DeviceTableModel()
    view = DeviceView(model)
    view.resize(1280, 800)
    view.show()
    app.processEvents()
    t0 = time.perf_counter()
    model.set_devices(snaps)
    app.processEvents()
    view.viewport().repaint()
    feed_s = time.perf_counter() - t0
    bar = view.verticalScrollBar()
    page = max(1, bar.pageStep())
    steps: list[float] = []
    t_scroll = time.perf_counter()
    value = 0
    deadline = time.monotonic() + 120
    while value < bar.maximum() and time.monotonic() < deadline:
        value = min(bar.maximum(), value + page)
        t0 = time.perf_counter()
        bar.setValue(value)
        view.viewport().repaint()  # synchronous paint of the newly visible rows
        app.processEvents()
        steps.append(time.perf_counter() - t0)
    scroll_s = time.perf_counter() - t_scroll
    t0 = time.perf_counter()
    bar.setValue(0)
    view.viewport().repaint()
    app.processEvents()
    jump_ms = (time.perf_counter() - t0) * 1000
    # a live update while 10k rows are shown: 100 units change state in one flush
    t0 = time.perf_counter()
    for snap in snaps[:100]:
        model.update_device(snap)
    model.flush()
    view.viewport().repaint()
    app.processEvents()
    update_ms = (time.perf_counter() - t0) * 1000
    rows = model.rowCount()
    view.close()
    return {
        "rows": rows,
        "journal_read_s": load_s,
        "feed_s": feed_s,
        "pages": len(steps),
        "rows_per_page": page,
        "scroll_total_s": scroll_s,
        "page_median_ms": statistics.median(steps) * 1000 if steps else None,
        "page_max_ms": max(steps) * 1000 if steps else None,
        "jump_to_top_ms": jump_ms,
        "update_100_rows_ms": update_ms,
    }


# ----------------------------------------------------------------------------- main


PHASES = ("resume", "export-json", "export-csv", "table")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=DEVICES)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each phase (fresh process each)")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--journal", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        res = phase(args.phase, Path(args.journal), args.batch, Path(args.out))
        print("RESULT " + json.dumps(res), flush=True)
        return 0

    from bench.common import save_result, wait_for_quiet

    work = Path(tempfile.mkdtemp(prefix="certline-bench-scale-"))
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        CERTLINE_HOME=str(work / "home"),
        XDG_CONFIG_HOME=str(work / "xdg-config"),
    )
    try:
        journal_path = work / "data" / "journal.sqlite3"
        print(f"building a journal with {args.devices} devices ...", flush=True)
        built = build(journal_path, args.devices)
        print(f"  {built['build_s']:.1f} s, {built['journal_mb']:.1f} MB", flush=True)
        phases: dict[str, list[dict[str, Any]]] = {p: [] for p in PHASES}
        for rep in range(args.repeats):
            for name in PHASES:
                wait_for_quiet(max_wait_s=30)
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
                phases[name].append(res)
                print(
                    f"run {rep + 1} {name:12s} "
                    + json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}),
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def median_of(name: str) -> dict[str, Any]:
        runs = phases[name]
        keys = [k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
        med = {k: statistics.median(r[k] for r in runs if r.get(k) is not None) for k in keys}
        med["peak_rss_mb_max"] = max(r["peak_rss_mb"] for r in runs)
        if "seconds" in runs[0]:
            med["seconds_max"] = max(r["seconds"] for r in runs)
        return med

    results: dict[str, Any] = {
        "devices": args.devices,
        "failed": FAILED,
        "unfinished": UNFINISHED,
        "build": built,
        "phases": {name: median_of(name) for name in PHASES},
        "targets": {"export_s": EXPORT_TARGET_S, "peak_rss_mb": RSS_TARGET_MB},
    }
    ph = results["phases"]
    results["export_met"] = (
        max(ph["export-json"]["seconds_max"], ph["export-csv"]["seconds_max"]) < EXPORT_TARGET_S
    )
    results["rss_met"] = max(p["peak_rss_mb_max"] for p in ph.values()) < RSS_TARGET_MB
    if not args.no_save:
        save_result("scale", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
