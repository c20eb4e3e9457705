# ruff: noqa: E501 - the document template is prose; lines follow the text
"""Render ``docs/benchmarks.md`` from ``bench/results/*.json``.

Every benchmark calls :func:`write_docs` after saving its result, so the document always shows
the latest run of each benchmark (each section names its own machine, versions and date).
Run ``.venv/bin/python bench/report.py`` to re-render without measuring anything.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"


def _load() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[data["benchmark"]] = data
    return out


def f(value: Any, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value}{unit}"


def verdict(met: bool | None) -> str:
    return "–" if met is None else ("**met**" if met else "**missed**")


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"{m['date']}; {m['nproc']} × {m['cpu']}, {m['ram_gib']} GiB RAM, {m.get('distro') or m['os']}; "
        f"Python {m['python']}, Certline {m['certline']}, {m.get('openssl_cli') or '–'} "
        f"(Python ssl: {m.get('python_ssl')}), {m.get('curl') or 'curl –'}, {m.get('wrk') or 'wrk –'}, "
        f"PySide6 {m.get('pyside6') or '–'}, cryptography {m.get('cryptography') or '–'}"
    )


def _lost(value: Any) -> str:
    """References to None lost (PySide6 6.12 leak); a gain (negative loss) is no loss."""
    if value is None:
        return "–"
    return f"{int(value):,}" if value > 0 else "0"


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- sections


def est_section(data: dict[str, Any] | None) -> tuple[str, list[list[str]]]:
    if data is None:
        return (
            "## 1. EST enrollment throughput\n\nNot run yet: `.venv/bin/python bench/est_throughput.py`.\n",
            [],
        )
    r = data["results"]
    s = r["summary"]
    rows = []
    names = [
        ("certline", "**Certline** `EstClient`, keep-alive pool of 4, 4 threads, full verification"),
        ("curl_loop", "curl loop, DTM doc command, 1 process + 1 TLS handshake per unit"),
        ("curl_loop_bash", "same curl loop as a plain bash `for` (cross-check, no per-unit timing)"),
        ("curl_x4", "curl, 4 loops in parallel"),
        ("openssl_sclient", "`openssl s_client` per unit, hand-written HTTP request"),
        ("openssl_pipeline", "`openssl s_client` + `base64 -d` + `pkcs7 -print_certs` per unit"),
        ("ceiling_c4", "ceiling: `wrk` keep-alive, 4 connections (median of runs)"),
        ("ceiling_c16", "ceiling: `wrk` keep-alive, 16 connections"),
    ]
    for key, label in names:
        res = r.get(key)
        if not res:
            continue
        rows.append(
            [
                label,
                f(res["per_s"]),
                f(res.get("p50_ms")),
                f(res.get("p90_ms")),
                f(res.get("p99_ms")),
                f"{res['units']} / {res['issued_by_server']}",
                f(res["server_cpu_ms_per_unit"], 2),
                f(res["client_cpu_ms_per_unit"], 2),
                f(res.get("foreign_cpu_cores"), 2),
            ]
        )
    cl_runs = ", ".join(f(v, 0) for v in r["certline"].get("runs_per_s", []))
    ce_runs = ", ".join(f(v, 0) for v in r["ceiling_c4"].get("runs_per_s", []))
    met5 = s["target_5x_curl"]
    met20 = s["target_within_20pct_of_ceiling"]
    cl = r["certline"]
    ceiling = r[s["ceiling_run"]]
    text = f"""## 1. EST enrollment throughput

`.venv/bin/python bench/est_throughput.py` · {machine_line(data["machine"])}

**Method.** One `certline est-server` process (own interpreter, own GIL; DTM-style label
`cps/IOT_…`, passcode-only Basic auth, PEM CSR as `text/plain`, EC P-256 CA with an issuing CA)
serves every method in the same run. Each method gets its own fresh, distinct EC P-256 CSRs made
before the clock starts (the test server answers a byte-identical CSR from its retransmission
cache, `ServerConfig.answer_retransmissions`, unless started with `--every-post-issues`, so no
CSR is ever sent twice; "issued" below is the server's own count from `issued.jsonl` and equals the number of
successful requests). Latency is per enrollment: call to verified result for Certline, process
spawn to exit for the command-line methods, request to response for wrk. CPU columns are the
server process's and the client side's CPU time per enrollment (`/proc`, `getrusage`);
"foreign" is CPU used by other processes on the machine during the run (other engineers' test
suites share this VM): every run first waits, bounded, for the machine to be idle, and a run
during which other processes used more than 0.3 cores is measured again (at most 4 attempts;
the discarded runs are listed in the JSON).

* **curl loop**: the DTM documentation's command exactly (`curl --location -X POST URL --header
  'Authorization: Basic …' --header 'Content-Type: text/plain' --data @csr.pem --cacert ca.pem`)
  plus `-s -o FILE -w %{{http_code}}` to keep the answer and check the status; one after the other.
* **openssl-based scripting** means what a shell script without curl does: one `openssl s_client
  -quiet -connect … -CAfile ca.pem -verify_return_error -verify_ip 127.0.0.1` per unit, fed a
  hand-written `POST …/simpleenroll HTTP/1.1` with `Connection: close`; the "pipeline" variant
  also turns the certs-only answer into a PEM certificate (`sed` off the headers, `openssl base64
  -d | openssl pkcs7 -inform DER -print_certs`), the least a script must do to have a certificate.
  Neither checks that the certificate matches the key or chains to the trust anchor; Certline does both.
* **Ceiling**: `wrk` (C, epoll, 2 threads) with `bench/wrk_enroll.lua`: keep-alive, distinct CSRs,
  the answer is discarded. It measures the most enrollments per second this server process can
  complete on this machine. Certline and the 4-connection ceiling are measured alternately
  {len(r["certline"].get("runs_per_s", []))} times on the same server (VM noise is ±15 % run to run;
  Certline runs: {cl_runs}/s; ceiling runs: {ce_runs}/s); the table shows medians, the target is
  checked against the best ceiling run ({f(s["ceiling_per_s"], 0)}/s, `{s["ceiling_run"]}`).

{table(["method", "enrollments/s", "p50 ms", "p90 ms", "p99 ms", "ok / issued", "server CPU ms/unit", "client CPU ms/unit", "foreign CPU (cores)"], rows)}

![EST latency distribution](bench-est-latency.png)

**Targets.** Certline is **{f(s["x_curl_loop"], 1)}×** the curl loop ({f(s["x_curl_loop_bash"], 1)}× the bash
variant): at least 5× is {verdict(met5)}. Certline reaches **{f(100 * s["fraction_of_ceiling"], 0)} %** of the
server's ceiling: within 20 % is {verdict(met20)}.

**Where the ceiling comes from.** The test server is Python: `http.server.ThreadingHTTPServer`,
one thread per connection, TLS by the `ssl` module, CSR parsing, signature check, issuance and
PKCS#7 encoding by `cryptography`. The Python part runs under one GIL; only OpenSSL's record
encryption and socket I/O run beside it. In the best ceiling run the server process used
{f(ceiling["server_cpu_ms_per_unit"], 2)} ms of CPU per enrollment, i.e. {f(ceiling["per_s"] * ceiling["server_cpu_ms_per_unit"] / 1000, 2)} cores at
{f(ceiling["per_s"], 0)} enrollments/s: one core of GIL-bound Python plus that small parallel share, on a
2-core machine where wrk needs some CPU too. Adding connections does not help (16 connections:
{f(r["ceiling_c16"]["per_s"], 0)}/s), which is what a GIL-bound server looks like. A production
EST server (DTM) is not this process; the ceiling here says how close the *client* gets to the
server it talks to, not how fast DTM is.
"""
    text += """
**What was changed in the client (issue 18).** A `cProfile` of 600 sequential enrollments
showed a quarter of the client's CPU in `requests.Session` machinery an EST request does not
need (per-request environment scan for proxies, request preparation, settings merging, hooks,
response wrapping) and the issuing CA's signature re-verified under the anchor for every unit.
`app/est/transport.py` now resolves the proxy environment once per server origin and sends each
request straight to the urllib3 pool of the same adapter (same pool, same `SSLContext` with
`CERT_REQUIRED`, same proxy managers and default headers; `REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE`
still add no trust). `app/est/issued_chain_check.py` keeps, per client, the CA-to-CA signatures
it has verified (keyed by the exact DER of both certificates); the leaf's signature, every
validity period, CA flag and path length are checked on every answer. Client thread CPU per
sequential enrollment went from ~2.1–2.9 ms to ~1.9 ms on this VM (same server, alternated runs);
the call count per enrollment halved. The table's client CPU column is the whole client process
(4 worker threads, the deadline watchdog, GIL hand-offs).
"""
    if not met20:
        text += f"""
**Why the ceiling target is still missed.** The Certline client needs
{f(cl["client_cpu_ms_per_unit"], 2)} ms of CPU per enrollment against wrk's near zero. At
{f(cl["per_s"], 0)}/s that is {f(cl["per_s"] * cl["client_cpu_ms_per_unit"] / 1000, 2)} cores of client and
{f(cl["per_s"] * cl["server_cpu_ms_per_unit"] / 1000, 2)} cores of server, so the two do not saturate the machine:
with 4 requests in flight the rate is 4 ÷ latency, and a Certline request takes
{f(cl["p50_ms"], 1)} ms (p50) where wrk's takes {f(ceiling["p50_ms"], 1)} ms. The difference is the client's
own CPU per request plus waiting for its GIL: four workers share one interpreter lock, and a
worker whose answer has arrived waits until the worker holding the lock lets go (up to the 5 ms
switch interval when that one is computing). To reach 80 % the client would need well under
~{f(1000 / (0.8 * s["ceiling_per_s"]), 2)} ms of CPU per enrollment. What remains per enrollment is mostly work
that must stay: TLS records, HTTP parsing (`http.client`), PKCS#7 parsing, the CSR's own signature
check and the leaf's signature check (~0.8 ms of `cryptography` calls in the profile). What would
close it at the same concurrency: response parsing and verification outside the workers' shared
interpreter lock (a second process), which changes nothing about what is verified. The absolute number is far
above what a line needs: a unit spends about a second on its serial link, so 64 units enroll at
most ~60 times a second.
"""
    text += """
**Fixed while measuring.** The first runs showed a 40 ms floor on every keep-alive request
(Certline and wrk alike capped at ~90/s with 4 connections): the test server wrote headers and
body as two TLS records without `TCP_NODELAY`, so Nagle's algorithm held the body until the
client's delayed ACK. `app/estserver/listener.py` now sets `TCP_NODELAY` on accepted sockets
(one line, commit "EST test server: TCP_NODELAY on accepted sockets"); all numbers here are with it.
"""
    summary = [
        ["EST: Certline vs curl loop", "≥ 5×", f"{f(s['x_curl_loop'], 1)}×", verdict(met5)],
        [
            "EST: Certline vs server ceiling",
            "≥ 80 %",
            f"{f(100 * s['fraction_of_ceiling'], 0)} % "
            f"({f(s['certline_per_s'], 0)} of {f(s['ceiling_per_s'], 0)}/s)",
            verdict(met20),
        ],
    ]
    return text, summary


def batch_section(data: dict[str, Any] | None) -> tuple[str, list[list[str]]]:
    if data is None:
        return (
            "## 2. Batch wall time vs the physical bound\n\nNot run yet: `.venv/bin/python bench/batch_bound.py`.\n",
            [],
        )
    r = data["results"]
    rows = []
    for row in r["rows"]:
        ph = row["phase_median_s"]
        rows.append(
            [
                str(row["n"]),
                f(row["wall_median_s"], 2),
                f"{f(row['wall_min_s'], 2)}–{f(row['wall_max_s'], 2)}",
                f(row["ratio_to_bound"], 2) + "×",
                f(row["ratio_to_sim_floor"], 2) + "×",
                "yes" if row["all_done"] else "**no**",
                " / ".join(
                    f(ph.get(k), 2) for k in ("identify", "keygen", "csr", "enroll", "write", "verify")
                ),
                f(row["station_cpu_cores"], 2),
                f(row["foreign_cpu_cores_max"], 2),
            ]
        )
    srv = r["server_time"]
    tgt = r["target"]
    diag = r.get("journal_lock_diagnosis") or {}
    diag_rows = [
        [
            n,
            f(d["wall_s"], 2),
            f(100 * d["held_fraction_of_wall"], 0) + " %",
            f(d["acquisitions_per_unit"], 0),
            f(d["held_ms_per_acquisition"], 2),
            f(d["held_s"] * 1000 / max(1, int(n)), 1),
        ]
        for n, d in sorted(diag.items(), key=lambda kv: int(kv[0]))
    ]
    t32 = next((row for row in r["rows"] if row["n"] == tgt["n"]), None)
    sim_note = f" ({f(t32['ratio_to_sim_floor'], 2)}× the sim floor)" if t32 else ""
    text = f"""## 2. Batch wall time vs the physical bound

`.venv/bin/python bench/batch_bound.py` · {machine_line(data["machine"])}

**Method.** Three processes, as on a line: `certline sim --devices N` (the units, {r["baud"]} baud,
default key generation latency: {r["key_algorithm"]} {f(r["keygen_latency_s"], 2)} s), `certline est-server`,
and the station: the headless engine API (`StationSession.start_batch`, what `certline batch run`
and the window use) with a real on-disk journal, profile concurrency 4. The clock runs from
`start_batch` until every port worker has ended; every unit must end `done` (verified: read
back, signed a nonce with the certified key). Each N is run {len([x for x in r["runs"] if x["n"] == r["rows"][0]["n"]])} times
(fresh units each time; a run disturbed by other processes, more than 0.3 cores, is measured
again, at most 4 attempts); the table shows the median and the range.

**Bytes are counted, not estimated**: the station opens each port through a pyserial wrapper
(`serial_factory` of `SerialTransport`) that counts every byte written and read: per unit
**{f(r["bytes_host_to_unit"], 0)} bytes host→unit** (HELLO, KEYGEN, CSR, CERT upload in 192-byte CRC'd chunks,
COMMIT, CERT READ, SIGN) and **{f(r["bytes_unit_to_host"], 0)} bytes unit→host** (answers, WAIT keep-alives,
CSR and chain read back as base64 DATA lines), the same for every unit and every N.

**The bound for one unit** = bytes over the link × 10 / baud (8N1) + key generation + server time
= {f(r["link_time_s"], 3)} s + {f(r["keygen_latency_s"], 3)} s + {f(srv["median_s"], 4)} s = **{f(r["bound_s"], 3)} s**. Server time is the
median of {srv["samples"]} unloaded `/simpleenroll` round trips on a keep-alive connection, measured by the
station's own client against the same server process before the batches (includes verification).
The simulator paces only the unit→host direction (a pseudo-terminal carries the host's writes at
once), so in this setup the true floor is lower: unit→host bytes only, **{f(r["sim_floor_s"], 3)} s** ("sim
floor"). Both ratios are shown; the stricter (sim floor) is the honest one for this setup.

{table(["units", "wall s (median)", "range s", "÷ bound", "÷ sim floor", "all done", "median phase s: identify / keygen / csr / enroll / write / verify", "CPU used (cores, all 3 processes)", "foreign CPU (cores)"], rows)}

![Batch wall time vs bound](bench-batch.png)

**Target** (≤ {tgt["limit"]}× the single-unit bound at {tgt["n"]} units, on this 2-core machine):
{f(tgt["ratio"], 2)}× the bound{sim_note} → {verdict(tgt["met"])}.
"""
    if diag_rows:
        text += f"""
**Diagnosis** (separate runs with the journal's lock instrumented, not in the timings above):

{table(["units", "wall s", "journal lock held (share of wall)", "lock acquisitions per unit", "ms held per acquisition", "ms of serialized journal time per unit"], diag_rows)}
"""
    if not tgt["met"]:
        d32 = diag.get(str(tgt["n"])) or {}
        one = r["rows"][0]
        text += f"""
**Why it is missed, and what would close it.** One unit takes {f(one["ratio_to_sim_floor"], 2)}× the sim floor: the
station adds almost nothing to the link, the key generation and the server. With many units the
station serialises on its journal: every state change is one SQLite transaction (WAL,
`synchronous=FULL`) plus an fsync'ed audit head, under one lock, and a unit takes
{f(d32.get("acquisitions_per_unit"), 0)} lock acquisitions (a transition reads the state, updates the row, closes the
previous transition, inserts the new one, appends the audit record, commits and fsyncs twice, then
reads the row back; `engine.summary()` re-reads *every* device of the batch after *every* event,
which grows with N²). At {tgt["n"]} units the lock is held for {f(100 * d32.get("held_fraction_of_wall", float("nan")), 0)} % of the
batch's wall time ({f(d32.get("held_ms_per_acquisition"), 2)} ms per acquisition) and the workers queue behind it; a py-spy
profile of the station process shows its threads mostly in `Journal._tx`, `Journal.device` and
`Journal.devices`, waiting for that lock. What would close it (all in `app/batch/journal.py` and
`engine.py`, not benchmark code): group commit (one writer commits the transitions queued by all
workers with one fsync; a worker still waits until its own transition is durable before the side
effect, so the journal rule holds); build the snapshot from the values just written instead of
re-reading the row; keep the batch summary as counters updated per transition instead of a full
scan per event. Each of these cuts serialized time per unit; the single-unit ratio shows the rest
of the pipeline is already at the floor.
"""
    summary = [
        [
            "Batch: 32 units vs single-unit bound",
            f"≤ {tgt['limit']}×",
            f"{f(tgt['ratio'], 2)}× bound, {f(t32['ratio_to_sim_floor'], 2) if t32 else '–'}× sim floor "
            f"({f(t32['wall_median_s'], 2) if t32 else '–'} s vs {f(r['bound_s'], 2)} s)",
            verdict(tgt["met"]),
        ]
    ]
    return text, summary


def gui_section(data: dict[str, Any] | None) -> tuple[str, list[list[str]]]:
    if data is None:
        return "## 3. GUI responsiveness\n\nNot run yet: `.venv/bin/python bench/gui_stall.py`.\n", []
    r = data["results"]
    rows = []
    for i, run in enumerate(r["runs"], 1):
        rows.append(
            [
                f"window, run {i}",
                f(run["max_gap_ms"]),
                f(run["max_gap_at_s"], 2),
                f(run["p99_gap_ms"]),
                str(run["gaps_over_50ms"]),
                f(run["idle_max_gap_ms"]),
                f(run["open_max_gap_ms"]),
                f"{run['done']}/{run['devices']} in {f(run['batch_s'], 2)} s",
                f(run["gc"]["max_pause_ms"]),
                _lost(run.get("none_refs_lost_during_batch")),
                f(run.get("foreign_cpu_cores"), 2),
            ]
        )
    c = r.get("control_headless")
    if c:
        rows.append(
            [
                "control: same engine, same process, no window",
                f(c["max_gap_ms"]),
                f(c["max_gap_at_s"], 2),
                f(c["p99_gap_ms"]),
                str(c["gaps_over_50ms"]),
                f(c["idle_max_gap_ms"]),
                "–",
                f"{c['done']}/{c['devices']} in {f(c['batch_s'], 2)} s",
                f(c["gc"]["max_pause_ms"]),
                _lost(c.get("none_refs_lost_during_batch")),
                f(c.get("foreign_cpu_cores"), 2),
            ]
        )
    text = f"""## 3. GUI responsiveness during a {r["devices"]}-unit batch

`.venv/bin/python bench/gui_stall.py` · {machine_line(data["machine"])}

**Method.** Per run a fresh process with `QT_QPA_PLATFORM=offscreen`: `certline sim --devices
{r["devices"]}` and `certline est-server` in their own processes, the real station window
(`ui.application.open_station_window`) on a real session and journal. A `QTimer` (PreciseTimer)
fires every {r["period_ms"]} ms on the GUI thread; a stall is a long gap between two heartbeats (5 ms = no
stall). Phases: 2 s idle event loop (the timer's own jitter here), the window opens and settles
1.5 s, then Start is pressed (`ui.station.commands.start`, the button's action). The result is the
longest gap from pressing Start until 0.5 s after the batch summary dialog opened. Garbage
collections are recorded with `gc.callbacks`. The control run puts the same engine in the same
process with no window. A run disturbed by other processes (more than 0.3 cores) is measured
again, at most 4 attempts.

{table(["run", "longest stall ms", "at s after Start", "p99 gap ms", "gaps > 50 ms", "idle jitter max ms", "opening the window: longest gap ms", "batch", "longest GC pause ms", "None refs lost (see §6)", "foreign CPU (cores)"], rows)}

![Heartbeat gaps during the batch](bench-gui-stall.png)

**Target** (longest stall < {f(r["target_ms"], 0)} ms): worst of {len(r["runs"])} runs {f(r["max_gap_ms_worst"])} ms, median
{f(r["max_gap_ms_median"])} ms → {verdict(r["met"])}.
"""
    text += """
**History: what was changed.** The first measurement (window code as of commit
b877f80, PySide6 6.12.0; 5 runs) gave a longest stall of 77 ms (median of the runs 54 ms, p99 gap
25–40 ms). The control run then already showed that the engine's 32 worker threads alone cost
the event loop little (longest gap 21–30 ms, a generation-2 GC); the stalls came from the
window's own work meeting those threads at the GIL. An instrumented run (bench-only wrappers)
put a repaint of the device table inside every stall over 40 ms: each model flush (every 100 ms)
repainted all visible rows with ~600–800 Python `DeviceTableModel.data()` calls (one per cell
*per role*) plus ~12 `ProgressDelegate.paint` calls, each re-acquiring the GIL from busy workers
(py-spy with native frames: the GUI thread waiting in `Shiboken::GilState`); the Python time was
only 15–30 ms of a 40–120 ms gap. On top: every `BatchSnapshot` (~420 per 32-unit batch)
re-styled the station bar (`setPixmap` + `setStyleSheet`) even when nothing changed, and one
20–40 ms generation-2 garbage collection. Commit 1dce4e5 ("Station window stays responsive during
a busy batch") acted on exactly that: cell values computed once per flush and served through
`multiData` (one Python call per painted cell), unchanged station-bar and counter updates
skipped, start-up objects frozen out of the collector (`gc.freeze()`). The table above is the
window after that change (GC pauses now ~1 ms, see the column).
"""
    if not r["met"]:
        text += """
**Still missed: what remains.** The longest stalls sit at the threshold (most runs 35–50 ms,
some just over; the control run without a window stays near the 5 ms period). An instrumented
run of the current window (bench-only wrappers) still finds a table repaint inside each stall
over 30 ms, now cheap in Python: ~100 `multiData` calls (~2 ms), ~13 `ProgressDelegate.paint`
calls (4–11 ms) and the model's `flush` (2–12 ms), 9–20 ms of Python in a 34–50 ms gap; the
rest is Qt painting and waiting for the GIL held by 32 busy worker threads. What would close it:
paint the progress column without Python (a C++ delegate, or `QStyle` progress via the model's
data), make the flush incremental (only the rows that changed, which `dataChanged` per row
already allows), and, for a structural margin, run the engine's port workers in a separate
process so the GUI never waits for their GIL.
"""
    summary = [
        [
            "GUI: longest event-loop stall, 32-unit batch",
            "< 50 ms",
            f"{f(r['max_gap_ms_worst'])} ms worst, {f(r['max_gap_ms_median'])} ms median of {len(r['runs'])} runs",
            verdict(r["met"]),
        ]
    ]
    return text, summary


def startup_section(data: dict[str, Any] | None) -> tuple[str, list[list[str]]]:
    if data is None:
        return "## 4. Start-up\n\nNot run yet: `.venv/bin/python bench/startup.py`.\n", []
    r = data["results"]
    rows = [
        [name, f(st["median_s"] * 1000, 0), f(st["min_s"] * 1000, 0), f(st["max_s"] * 1000, 0)]
        for name, st in r["controls"].items()
    ]
    rows.append(
        [
            "`certline-gui` (`ui.gui_main.main`): station window **shown**",
            f(r["shown"]["median_s"] * 1000, 0),
            f(r["shown"]["min_s"] * 1000, 0),
            f(r["shown"]["max_s"] * 1000, 0),
        ]
    )
    rows.append(
        [
            "`certline-gui`: station window **painted** (first paint)",
            f(r["painted"]["median_s"] * 1000, 0),
            f(r["painted"]["min_s"] * 1000, 0),
            f(r["painted"]["max_s"] * 1000, 0),
        ]
    )
    # results measured before the modules were regrouped name the window module ui.main_window
    window_import = next((k for k in r["controls"] if k.startswith("import ui.")), "import ui.station.window")
    text = f"""## 4. Start-up

`.venv/bin/python bench/startup.py` · {machine_line(data["machine"])}

**Method.** The real `certline-gui` path, `ui.gui_main.main()`: logging, the QApplication with
translations and crash hooks, profile store, keyring lookup and journal in a worker, then the
`MainWindow`; a station home with one saved profile (`CERTLINE_HOME`), offscreen platform. The
parent reads `CLOCK_MONOTONIC` (the same clock in both processes on Linux) just before spawning;
the probe process hooks the QApplication with an event filter (no change in `ui/`) and prints the
monotonic time of the station window's first `Show` and first `Paint` event. {r["runs"]} runs; the
first is reported separately ({f(r["first_run"]["painted_s"] * 1000, 0)} ms to first paint), the table is
runs 2..{r["runs"]}. Controls show where the time goes.

{table(["what", "median ms", "min ms", "max ms"], rows)}

**Target** (< {f(r["target_s"], 1)} s to the window): {verdict(r["met"])}. Importing Qt and the application
modules (`{window_import}`, a fresh interpreter included) takes
{f(100 * r["controls"][window_import]["median_s"] / r["painted"]["median_s"], 0)} % of the time to first paint;
the launcher, the worker that opens the profile and journal, and building and painting the window are the rest.
"""
    summary = [
        [
            "Start-up to station window painted",
            "< 1.5 s",
            f"{f(r['painted']['median_s'], 2)} s median, {f(r['painted']['max_s'], 2)} s max "
            f"(first run {f(r['first_run']['painted_s'], 2)} s)",
            verdict(r["met"]),
        ]
    ]
    return text, summary


def scale_section(data: dict[str, Any] | None) -> tuple[str, list[list[str]]]:
    if data is None:
        return "## 5. Scale: 10,000 devices\n\nNot run yet: `.venv/bin/python bench/scale.py`.\n", []
    r = data["results"]
    ph = r["phases"]
    rows = [
        [
            "resume scan: `unfinished_batches()` + `unfinished_devices()`",
            f(ph["resume"]["seconds"] * 1000, 0) + " ms",
            f"{int(ph['resume']['unfinished'])} unfinished found; `find_unfinished_by_serial` {f(ph['resume']['find_by_serial_ms'], 3)} ms",
            f(ph["resume"]["baseline_rss_mb"], 0),
            f(ph["resume"]["peak_rss_mb_max"], 0),
        ],
        [
            "export JSON (`export_report`)",
            f(ph["export-json"]["seconds"], 2) + " s",
            f"max {f(ph['export-json']['seconds_max'], 2)} s; {f(ph['export-json']['file_mb'], 1)} MB, {int(ph['export-json']['devices_in_report'])} devices",
            f(ph["export-json"]["baseline_rss_mb"], 0),
            f(ph["export-json"]["peak_rss_mb_max"], 0),
        ],
        [
            "export CSV (`export_report`)",
            f(ph["export-csv"]["seconds"], 2) + " s",
            f"max {f(ph['export-csv']['seconds_max'], 2)} s; {f(ph['export-csv']['file_mb'], 1)} MB",
            f(ph["export-csv"]["baseline_rss_mb"], 0),
            f(ph["export-csv"]["peak_rss_mb_max"], 0),
        ],
        [
            "device table: read 10k snapshots from the journal",
            f(ph["table"]["journal_read_s"], 2) + " s",
            "",
            f(ph["table"]["baseline_rss_mb"], 0),
            f(ph["table"]["peak_rss_mb_max"], 0),
        ],
        [
            "device table: `set_devices` (10k rows) + first paint",
            f(ph["table"]["feed_s"] * 1000, 0) + " ms",
            "",
            "",
            "",
        ],
        [
            "device table: scroll top→bottom, page by page",
            f(ph["table"]["scroll_total_s"], 2) + " s",
            f"{int(ph['table']['pages'])} pages of {int(ph['table']['rows_per_page'])} rows; per page median "
            f"{f(ph['table']['page_median_ms'])} ms, max {f(ph['table']['page_max_ms'])} ms",
            "",
            "",
        ],
        ["device table: jump bottom→top", f(ph["table"]["jump_to_top_ms"]) + " ms", "", "", ""],
        [
            "device table: 100 rows change in one flush",
            f(ph["table"]["update_100_rows_ms"]) + " ms",
            "",
            "",
            "",
        ],
    ]
    b = r["build"]
    peak = max(p["peak_rss_mb_max"] for p in ph.values())
    peak_phase = max(ph, key=lambda name: ph[name]["peak_rss_mb_max"])
    text = f"""## 5. Scale: a journal with {r["devices"]:,} devices

`.venv/bin/python bench/scale.py` · {machine_line(data["machine"])}

**Method.** The journal is synthesised through the `Journal` API (the engine's own calls:
`create_batch`, `add_device` with the transition path in the same transaction, `record_certificate`,
fsync'ed as in production; {f(b["build_s"], 0)} s, {f(b["journal_mb"], 0)} MB): one batch, {r["devices"] - r["failed"] - r["unfinished"]:,}
units done with a real, distinct certificate (EC P-256 leaf + issuing CA chain, real CSR), ~{r["failed"]} failed in
various steps, ~{r["unfinished"]} unfinished (CSR ready, enrolling, issued, writing). Every phase runs in its
own fresh process ({len(data["results"]["phases"])} phases × repeats, medians shown), so its peak RSS
(`ru_maxrss`) is its own; "baseline" is the RSS after imports, before the phase. The table phase
(offscreen `DeviceView` 1280×800 over `DeviceTableModel`) scrolls with a synchronous repaint per page.

{table(["phase", "time", "detail", "RSS after imports MB", "peak RSS MB"], rows)}

**Targets.** Export under {f(r["targets"]["export_s"], 0)} s (JSON and CSV, worst run): {verdict(r["export_met"])}.
Peak RSS under {f(r["targets"]["peak_rss_mb"], 0)} MB in every phase (highest {f(peak, 0)} MB, {peak_phase}): {verdict(r["rss_met"])}.
The JSON export builds the whole report in memory before writing it (+{f(ph["export-json"]["peak_rss_mb_max"] - ph["export-json"]["baseline_rss_mb"], 0)} MB over
its baseline); the table phase includes Qt (~{f(ph["table"]["baseline_rss_mb"], 0)} MB after imports) and 24 MB of extra
references to `None`, `True` and `False` that keep PySide6 6.12's leak (§6) from aborting it
(references to `None` lost while scrolling: {_lost(ph["table"].get("none_refs_lost"))}).
"""
    summary = [
        [
            "Scale: export 10k devices (JSON, CSV)",
            "< 2 s",
            f"{f(ph['export-json']['seconds_max'], 2)} s / {f(ph['export-csv']['seconds_max'], 2)} s",
            verdict(r["export_met"]),
        ],
        ["Scale: peak RSS of any phase", "< 300 MB", f"{f(peak, 0)} MB", verdict(r["rss_met"])],
    ]
    return text, summary


def nrf91_section(data: dict[str, Any] | None) -> tuple[str, list[list[str]]]:
    if data is None:
        return ("## 8. nRF91 path\n\nNot run yet: `.venv/bin/python bench/nrf91_path.py`.\n", [])
    r = data["results"]
    rows = []
    for row in r["rows"]:
        ph = row["phase_median_s"]
        rows.append(
            [
                str(row["n"]),
                f(row["wall_median_s"], 2),
                f"{f(row['wall_min_s'], 2)}–{f(row['wall_max_s'], 2)}",
                f(row["ratio_to_bound"], 2) + "×",
                f(row["ratio_to_sim_floor"], 2) + "×",
                "yes" if row["all_done"] else "**no**",
                f(row["bytes_per_unit"], 0),
                f(row["keygen_median_s"], 3),
                " / ".join(
                    f(ph.get(k), 2) for k in ("identify", "keygen", "csr", "enroll", "write", "verify")
                ),
                f(row["cpu_cores_all_processes"], 2),
                f(row["foreign_cpu_cores_max"], 2),
            ]
        )
    tgt = r["target"]
    srv = r["server_time"]
    text = f"""## 8. nRF91 path: one unit and many, vs the path's own bound

`.venv/bin/python bench/nrf91_path.py` · {machine_line(data["machine"])}

**Method.** As §2, with the nRF91 driver: `certline sim --driver nrf91 --devices N` (simulated
nRF9160 modems that answer as real modem firmware does by default: echo off, CRLF, URCs, `+CME
ERROR` codes, `%KEYGEN` with a real EC P-256 key and CSR, `%CMNG` with SHA-256 list hashes), on
real pseudo-terminals at {r["baud"]} baud, `certline est-server`, and the headless engine with the real
`NRF91Driver` (identify, CFUN switching, `%KEYGEN`, enroll, `%CMNG` writes of leaf and CA,
verification by the modem's hashes; the modem cannot sign, so there is no signature check on the
unit). Each N is run {len([x for x in r["runs"] if x["n"] == r["rows"][0]["n"]])} times with fresh units; disturbed runs (more than 0.3
foreign cores) are measured again, at most 3 attempts.

**AT bytes are counted** by a pyserial wrapper on every port: per unit
**{f(r["bytes_host_to_unit"], 0)} bytes host→modem** and **{f(r["bytes_unit_to_host"], 0)} bytes modem→host**.
**Key generation time is measured on the link**: from the station writing `AT%KEYGEN=…` until the
modem's `%KEYGEN:` answer starts, minus the line time of any bytes (URCs) in between; median
{f(r["keygen_measured_s"], 3)} s (the simulator is configured to take {f(r["simulated_keygen_latency_s"], 2)} s, then makes the key and CSR;
on a real nRF9160 this is the modem's own time, which this bench does not claim to know).

**Bound of one unit** = AT bytes × 10 / baud + key generation + server time
= {f(r["link_time_s"], 3)} s + {f(r["keygen_measured_s"], 3)} s + {f(srv["median_s"], 4)} s = **{f(r["bound_s"], 3)} s**. The simulator
paces only modem→host bytes (a pseudo-terminal delivers the host's writes at once), so the
"sim floor" (modem→host bytes only) = **{f(r["sim_floor_s"], 3)} s** is the stricter reference here.

{table(["units", "wall s (median)", "range s", "÷ bound", "÷ sim floor", "all done", "AT bytes/unit", "keygen s", "median phase s: identify / keygen+csr / enroll / write / verify", "CPU used (cores, all 3 processes)", "foreign CPU (cores)"], rows)}

{"![nRF91 path wall time vs bound](bench-nrf91.png)" if r.get("plot") else "(No plot: matplotlib is not installed in the venv this was run with.)"}

**Target** (16 units ≤ {tgt["limit"]}× the bound): {f(tgt["ratio"], 2)}× → {verdict(tgt["met"])}.
On the nRF91 path one `%KEYGEN` makes key and CSR, so they are one phase ("keygen+csr", from
identified to csr-ready; "–" where a run predates that column). Phases are medians per unit from
the journal's transition times; they overlap across units, so they do not add up to the wall time.
"""
    summary = [
        [
            "nRF91 path: 16 units vs the path's bound",
            f"≤ {tgt['limit']}×",
            f"{f(tgt['ratio'], 2)}× ({f(next((x['wall_median_s'] for x in r['rows'] if x['n'] == tgt['n']), None), 2)} s vs {f(r['bound_s'], 2)} s)",
            verdict(tgt["met"]),
        ]
    ]
    return text, summary


def soak_section(data: dict[str, Any] | None) -> tuple[str, list[list[str]]]:
    if data is None:
        return ("## 9. Soak\n\nNot run yet: `.venv/bin/python bench/soak.py`.\n", [])
    from bench.soak import idle_counts, verdicts  # noqa: PLC0415 - the soak's own rules

    r = data["results"]
    v = verdicts(r)  # recomputed, so a re-render applies the current rules to a stored run
    idle = idle_counts(r)
    st = r["stall"]
    j = r["journal"]
    cpu = r["cpu_cores"]
    full = r["units_requested"] >= 2000

    def g(key: str) -> str:
        x = r.get(key)
        if not x:
            return "–"
        return (
            f"{x['median_first_quarter']} → {x['median_last_quarter']} "
            f"(at warm-up {x['at_warmup']}, max after {x['max_after_warmup']})"
        )

    running = [x for x in r["samples"] if x.get("phase", "running") == "running"]
    rates = []  # units per minute in each tenth of the units
    if running and running[-1]["done"] > 0:
        total = running[-1]["done"]
        marks = [next(x for x in running if x["done"] >= total * k / 10) for k in range(11)]
        for a, b in zip(marks, marks[1:], strict=False):
            rates.append((b["done"] - a["done"]) * 60 / max(1e-9, b["t"] - a["t"]))
    rows = [
        [
            "units done, each exactly once (journal)",
            f"{j['done_exactly_once']:,} of {r['units_requested']:,}; device rows {j['device_rows']:,}, distinct serials {j['distinct_serials']:,}, not exactly once: {j['not_exactly_once_count']}; certificates issued by the server: {r['server_issued']:,}",
            verdict(v["exactly_once"]),
        ],
        [
            "RSS growth after warm-up (first {:,} units)".format(r["warmup_units"]),
            f"{f(r['rss_growth_mb'], 1)} MB ({f(r['rss_mb_at_warmup'], 0)} → {f(r['rss_mb_end'], 0)} MB; {f(r['rss_growth_kb_per_unit'], 1)} KB per unit)",
            verdict(v["rss"]),
        ],
        [
            "longest event-loop stall (whole run)",
            f"{f(st['max_ms'], 1)} ms at {f(st['max_at_s'], 0)} s; p99 {f(st['p99_ms'], 1)} ms, p99.9 {f(st['p999_ms'], 1)} ms; gaps > 50 ms: {st['over_50ms']}, > 100 ms: {st['over_100ms']} of {st['beats']:,}",
            verdict(v["stall"]),
        ],
        [
            "longest stall while the machine was quiet",
            f"{f(st.get('quiet_max_ms'), 1)} ms (intervals with ≤ {st.get('foreign_quiet_limit_cores')} foreign cores: {f(100 * (st.get('quiet_share_of_run') or 0), 0)} % of the run)",
            "–",
        ],
        ["longest stall per tenth of the run (ms)", ", ".join(f(x, 0) for x in st["max_per_tenth_ms"]), "–"],
        [
            "OS threads / open descriptors / Qt widgets with no unit in flight: at F9 → after the last unit",
            " / ".join(f"{idle[0][k]} → {idle[1][k]}" for k in ("threads", "fds", "widgets"))
            if idle
            else "–",
            verdict(v["no_growth"]),
        ],
        ["OS threads while running, median first → last quarter after warm-up", g("threads"), "–"],
        ["open file descriptors while running", g("fds"), "–"],
        ["Qt widgets while running", g("widgets"), "–"],
        [
            "rate",
            f"{f(r['units_per_hour'], 0)} units/h with {r['ports']} ports and {r['replug_s']:g} s between units on a port; run {f(r['run_s'] / 60, 1)} min",
            "–",
        ],
        ["units per minute, per tenth of the units", ", ".join(f(x, 0) for x in rates) or "–", "–"],
        [
            "CPU (cores)",
            f"station {f(cpu['station'], 2)}, units process {f(cpu['units_process'], 2)}, server {f(cpu['server'], 2)}; foreign {f(cpu['foreign'], 2)}",
            "–",
        ],
    ]
    text = f"""## 9. Soak: hands-free, {r["units_requested"]:,} units through {r["ports"]} ports, station window open

`.venv/bin/python bench/soak.py{"" if full else " --units " + str(r["units_requested"])}` · {machine_line(data["machine"])}
{"" if full else chr(10) + f"**This is a short run ({r['units_requested']:,} units), not the 2,000-unit soak the target names.**" + chr(10)}
**Method.** Three processes. *The units* (own process and GIL): 16 simulated Certline units
on real pseudo-terminals at 115200 baud with the default key generation time; when the station
reports a unit DONE, that unit is unplugged (its pty closes, its port disappears) and
{r["replug_s"]:g} s later a *new* unit (new serial number, empty flash) is plugged into the same slot,
until {r["units_requested"]:,} units have been plugged in. *The CA*: `certline est-server`. *The station*: the real
station window (`ui.application.open_station_window`, offscreen platform) on a real session and
on-disk journal; hands-free is switched on as F9 does (`ui.station.commands.set_hands_free`),
so the window's own hot-plug watcher finds every new unit; nobody touches anything until the
last unit is done, then hands-free is switched off and the batch closes (summary dialog). A
`QTimer` beats every 5 ms on the GUI thread (a stall is a long gap between beats); every 2 s RSS
(`VmRSS`), OS threads (`/proc/self/task`), open descriptors (`/proc/self/fd`), Qt widgets and the
CPU other processes used are sampled. Warm-up is the first 10 % of the units (at least 50);
growth is measured from the first sample after it to the last sample with hands-free on.
Exactly-once is read from the journal afterwards (one device row per serial number, DONE) and
from the server's count of issued certificates.

{table(["what", "measured", "verdict"], rows)}

{"![Soak: RSS and handles over the run](bench-soak.png)" if r.get("plot") else "(No plot: matplotlib is not installed in the venv this was run with.)"}

**Reading it.** {"The rate falls as the batch grows (units per minute per tenth, above): every device event makes the engine re-read every device of the batch (`BatchEngine.summary()` → `journal.devices(batch)`, §2's diagnosis), so the station's work per unit grows with the number of units already in the batch, quadratic over a hands-free shift. The fix is the one §2 names (batch summary as counters updated per transition), in `app/batch/engine.py`, which this benchmark does not change. " if len(rates) >= 2 and rates[-1] < 0.8 * rates[0] else ""}The stall column is the whole run, including intervals in which other
engineers' test suites used the machine's cores (foreign CPU above); the "quiet" row keeps only
the 2-second intervals in which other processes used at most {st.get("foreign_quiet_limit_cores")} cores.
"""
    summary = [
        [
            f"Soak ({r['units_requested']:,} units, 16 ports, window open): RSS growth / stall / handles / exactly once",
            "< 20 MB / < 100 ms / flat / all",
            f"{f(r['rss_growth_mb'], 1)} MB / {f(st['max_ms'], 0)} ms ({f(st.get('quiet_max_ms'), 0)} ms quiet) / "
            f"{'flat' if v['no_growth'] else 'grows'} / {j['done_exactly_once']:,} of {r['units_requested']:,}",
            " ".join(verdict(v[k]) for k in ("rss", "stall", "no_growth", "exactly_once"))
            + ("" if full else " (short run)"),
        ]
    ]
    return text, summary


SWAP_S = 10.0
"""Assumed seconds a port waits for its next unit in hands-free mode (cable swap); not measured."""


def line_section(results: dict[str, dict[str, Any]]) -> str:
    """Units per hour for one station at 8, 32 and 64 ports, from the batch and nRF91 results."""
    batch = results.get("batch_bound")
    nrf = results.get("nrf91_path")
    soak = results.get("soak")
    if batch is None:
        return "## What a line gets\n\nNeeds `bench/results/batch_bound.json` (`.venv/bin/python bench/batch_bound.py`).\n"
    b = batch["results"]
    walls = {row["n"]: row["wall_median_s"] for row in b["rows"]}
    nwalls = {row["n"]: row["wall_median_s"] for row in nrf["results"]["rows"]} if nrf else {}

    def rate(n: int, wall: float | None, swap: float = 0.0) -> str:
        return "–" if wall is None else f"{n * 3600 / (wall + swap):,.0f}"

    loaded = ""
    if nrf:
        worst = max(row["foreign_cpu_cores_max"] for row in nrf["results"]["rows"])
        if worst > 0.3:
            loaded = (
                f" The nRF91 wall times in this render were measured while other processes used up to "
                f"{worst:.1f} cores of the 2 (§8's foreign column); they are pessimistic."
            )
    rows = []
    for n in (8, 32, 64):
        w = walls.get(n)
        nw = nwalls.get(n)
        rows.append(
            [
                str(n),
                f"{f(w, 2)} s" if w is not None else "not measured",
                rate(n, w),
                rate(n, w, SWAP_S),
                f"{f(nw, 2)} s" if nw is not None else "not measured",
                rate(n, nw),
                rate(n, nw, SWAP_S),
            ]
        )
    soak_line = ""
    if soak is not None:
        s = soak["results"]
        cycle = s["ports"] * 3600 / s["units_per_hour"] if s["units_per_hour"] else None
        soak_line = (
            f" Cross-check, measured end to end: the soak (§9) sustained **{f(s['units_per_hour'], 0)} units/h** "
            f"with {s['ports']} ports, the window open and {s['replug_s']:g} s between units on a port "
            f"({s['units_requested']:,} units), i.e. one cycle per port every {f(cycle, 2)} s: unit time under load "
            f"+ {s['replug_s']:g} s empty slot + up to 0.5 s until the hot-plug watcher sees the new unit. "
            "W(N) comes from fresh batches; in one long hands-free batch the station slows as the batch "
            "grows (§9, units per minute), so for a whole shift the soak's rate is the better guide until "
            "the engine keeps its batch summary as counters (§2)."
        )
    return f"""## What a line gets

Units per hour for **one station at 115200 baud**, derived from the measured batch wall times
(§2 for Certline-protocol units, batch_bound run of {batch["machine"]["date"]}; §8 for nRF91 modems) —
not from the bounds. **Formula:** a port provisions one unit per cycle; with N ports loaded at
once the measured batch wall time W(N) is the station's time per cycle, so units/h = N × 3600 / W(N)
("station-limited": the next unit is on the cable the moment the last one is done). On a line a
technician needs time to swap units; in hands-free mode each port waits for its next unit, so the
second column adds an *assumed* {SWAP_S:g} s per cycle: N × 3600 / (W(N) + {SWAP_S:g} s). Machine: the shared
2-core VM of §2/§8; a station PC with more cores shortens W(N) at 32 and 64 ports, where the
station's own CPU is the limit.{loaded}{soak_line}

{table(["ports", "Certline units: W(N)", "units/h, station-limited", f"units/h, {SWAP_S:g} s swap", "nRF91: W(N)", "nRF91 units/h, station-limited", f"nRF91 units/h, {SWAP_S:g} s swap"], rows)}
"""


SHARED_JOURNAL = """## 7. Shared journal: 1, 2, 4, 8 stations on one PostgreSQL

`bench/shared_journal.py` starts a throwaway PostgreSQL cluster (fsync on, as durable as SQLite's
`synchronous=FULL`), then runs 1, 2, 4 and 8 station *processes* × 32 units, each unit being the
journal traffic the engine writes for one provisioned unit (claim, identified, eight transitions
to DONE, the certificate, release) with `--step-ms` of device/EST time between steps, and one
station on SQLite as the baseline. It reports units/s line-wide, per-station units/s relative to
SQLite, journal call latency p50/p95/p99 and lock-wait samples (ungranted `pg_locks`, every 10 ms).

**Not measured yet**: the full run was not made on the shared build VM (no benchmark runs there
while other engineers' suites run). Only `--smoke` (1-2 stations × 4 units, 5 ms steps) was run
to check the script; at that duty cycle a PostgreSQL station reached about half the SQLite
station's rate, because every journal write is a few network round trips plus a durable commit
and 5 ms of "device time" hides none of it. Real units spend seconds in key generation and
enrollment per step, so the goal has to be judged on the full run with realistic `--step-ms`.
Obvious levers if it is missed: fewer round trips per transition (one statement via a CTE or a
server-side function), `synchronous_commit` per transaction for non-side-effect steps such as
`set_step`, and batching the lease renewals (already one statement per station).
"""


FINDINGS = """## 6. Found while measuring

1. **PySide6 6.12.0 on Python 3.11 aborts the station window** (not a performance issue, but it
   stops everything): every call of a Qt method returning `void` (`setText`, `setEnabled`,
   `update`, `repaint`, …) hands `None` back to Python without taking a reference, so `None`'s
   reference count falls by one per call and the interpreter aborts with `Fatal Python error:
   none_dealloc: deallocating None` when it reaches zero (about 11,000 after the window modules are
   imported). Measured: a 32-unit batch in the window loses ~6,000 references to `None` (§3
   table), scrolling the 10,000-row table ~32,000 (§5); a 128-unit batch in the window without
   the benchmark's extra references aborted (`bool_dealloc`, i.e. `True`/`False` ran out too).
   The same 128-unit batch with PySide6 **6.11.3** on the same Python 3.11.7 finished, lost no
   references, and had the same stall profile (longest stall 42 ms); Python ≥ 3.12 is immune
   (`None`/`True`/`False` are immortal, PEP 683). Repro: `bench/pyside_none_leak.py` (exit 1 =
   leak). **Fix (done)**: exclude 6.12.0 until a fixed PySide6 is released (or require
   Python ≥ 3.12): `pyproject.toml` now requires
   `PySide6-Essentials>=6.6,!=6.12.0` (commit db38982) and the project venv runs 6.11.3, which
   the numbers above were measured with (the "None refs lost" columns show no loss on it). The GUI
   benchmarks still hold 3M extra references to `None`/`True`/`False` (an untracked tuple, so no
   GC pass walks it) so that they also finish on a leaking PySide6.
2. **The EST test server added ~40 ms to every keep-alive request** (Nagle + delayed ACK); fixed
   with `TCP_NODELAY` in `app/estserver/listener.py` (§1).
3. **The journal is the batch's bottleneck** beyond ~16 units (§2): ~48 lock acquisitions per
   unit, two fsyncs per transition, and an O(N) summary re-read on every event. Open.
4. **The window did GUI-thread work per cell per role and per event** (§3): ~700 Python `data()`
   calls per table repaint, a station-bar restyle on every `BatchSnapshot`, 20–40 ms gen-2 GC
   pauses. Addressed by commit 1dce4e5; the longest stall went from 77 ms to ~44–62 ms.
5. **`requests` scans the environment for proxies on every EST request**, ~12 % of the client's CPU (§1).
   Fixed: proxies are resolved once per server origin, and requests go straight to the urllib3 pool
   (§1, "What was changed in the client").
6. **Over a hands-free shift the batch summary's re-read shows as a falling rate** (§9): item 3's
   O(N) `engine.summary()` per event makes the work per unit grow with the units already in the
   batch, so a 2,000-unit hands-free batch slows down as it goes (see §9's units-per-minute row).
   Same fix as item 3.
7. **The EST deadline watchdog was woken for every request** (§1): each `add()` notified the
   watchdog thread although every new deadline ends after the one it sleeps for; it is now woken
   only for a new earliest deadline (`app/est/deadline.py`).
"""


def write_docs() -> Path:
    results = _load()
    sections = []
    summary_rows: list[list[str]] = []
    for fn, key in (
        (est_section, "est_throughput"),
        (batch_section, "batch_bound"),
        (gui_section, "gui_stall"),
        (startup_section, "startup"),
        (scale_section, "scale"),
        (nrf91_section, "nrf91_path"),
        (soak_section, "soak"),
    ):
        text, summary = fn(results.get(key))
        sections.append(text)
        summary_rows += summary
    if "shared_journal" not in results:
        summary_rows.append(
            [
                "Shared journal: 8 stations vs 1 on SQLite, per-station throughput",
                "loss < 10 %",
                "not measured yet (§7)",
                "**open**",
            ]
        )
    # numbered as they were first published: 1-5, then 6 (findings) and 7 (shared journal), 8-9 new
    sections = sections[:5] + [FINDINGS, SHARED_JOURNAL] + sections[5:]
    machines = {
        json.dumps(d["machine"].get("cpu")) + str(d["machine"].get("nproc")) for d in results.values()
    }
    header = f"""# Certline benchmarks

Measured, side by side, on one machine: how Certline's EST enrollment compares with the
alternatives (the DTM documentation's curl loop, openssl scripting) and with the test server's
own ceiling; how close a batch comes to the physical limit of its serial links, for Certline
units and nRF91 modems; how responsive the station window stays; how fast it starts; how it
copes with 10,000 devices; whether it holds up for a shift (soak); and what a line gets from it.

These are benchmarks, not tests: CI does not run them and nothing fails on them. Each writes
`bench/results/<name>.json` and re-renders this file (`bench/report.py`). Run all with
`bench/run_all.sh` (about 30 minutes on an idle machine, most of it the soak; longer when it is
busy, since every run first waits for it to be idle), or one at a time:

| benchmark | command | takes |
|---|---|---|
| EST throughput | `.venv/bin/python bench/est_throughput.py` | ~3 min |
| batch vs bound | `.venv/bin/python bench/batch_bound.py` | ~3 min |
| GUI stall | `.venv/bin/python bench/gui_stall.py` (the table shows `--repeats 5`) | ~2 min |
| start-up | `.venv/bin/python bench/startup.py` | ~40 s |
| scale (10k) | `.venv/bin/python bench/scale.py` | ~2.5 min |
| PySide6 leak repro | `.venv/bin/python bench/pyside_none_leak.py` | 1 s |
| Shared journal (§7) | `.venv/bin/python bench/shared_journal.py` (needs `postgresql`) | ~2 min |
| nRF91 path (§8) | `.venv/bin/python bench/nrf91_path.py` | ~3 min |
| soak (§9) | `.venv/bin/python bench/soak.py` (`--units N` for a shorter run) | ~12 min for 2,000 units |

Needs `curl`, `openssl` and `wrk` (`apt-get install -y curl openssl wrk`) and, for the plots,
`matplotlib` in the venv (`.venv/bin/pip install -e '.[bench]'`; not a runtime dependency). Every
section names its machine, versions and date. The machine is a shared 2-core VM: other people's
test suites run on it, so every measurement first waits (bounded) until the machine is idle and
reports the CPU other processes used during it ("foreign CPU").
{"" if len(machines) <= 1 else chr(10) + "**Note:** the sections were measured on different machines; compare within a section." + chr(10)}
## Summary

{table(["target", "goal", "measured", "verdict"], summary_rows)}

{line_section(results)}"""
    DOC.write_text(header + "\n" + "\n".join(sections), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return DOC


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    write_docs()
