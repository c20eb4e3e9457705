"""Benchmark: soak, a shift of hands-free provisioning with the station window open.

Run: ``.venv/bin/python bench/soak.py`` (2,000 units; ``--units 300`` for a short run). Writes
``bench/results/soak.json``, ``docs/bench-soak.png`` and docs/benchmarks.md.

Three processes, as on a line:

* **the units** (``--role units``, its own process and GIL): 16 simulated Certline units on
  real pseudo-terminals (``certline.app.sim``, output paced at 115200 baud, default key generation
  time). When the station reports a unit DONE, that unit is unplugged (its pty closes and
  its port disappears), and after ``--replug-s`` a *new* unit (new serial number, empty
  flash) is plugged into the same slot, until ``--units`` units have been plugged in all.
* ``certline est-server``, the CA.
* **the station** (this process): the real station window (``certline.ui.application.
  open_station_window``, the code the ``certline-gui`` entry point runs, offscreen platform)
  on a real session and on-disk journal. Hands-free is switched on as F9 does
  (``certline.ui.station.commands.set_hands_free``), so the window's hot-plug watcher finds each new
  unit by itself; nobody presses anything until the last unit is done, then hands-free is
  switched off and the batch closes (summary dialog).

Measured in the station process: a ``QTimer`` (PreciseTimer) beats every 5 ms on the GUI
thread, a stall is a long gap between two beats; every 2 s on average (1.2-2.8 s, drawn at
random so the samples do not lock onto the ports' common cycle; on the GUI thread, ~0.2 ms) RSS
(``/proc/self/status`` VmRSS), OS threads (``/proc/self/task``), open file descriptors
(``/proc/self/fd``) and Qt widgets (``QApplication.allWidgets()``) are sampled, with the number of
units done so far. RSS, threads and fds are the station's: its own process plus its device host
processes (the serial drivers, ``app/device/driver_host.py``), summed; the hosts' share is kept
per sample too. Warm-up is the first 10 % of the units (at least 50): growth is measured
from the first sample after it to the end. Exactly-once comes from the journal after the run:
every unit (serial number) of the batch has exactly one device row and it is DONE, and the
number of certificates the server issued equals the number of units.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from array import array
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    CERTLINE,
    DOCS,
    EstServerProcess,
    _die_with_parent,
    bench_profile,
    percentile,
    process_cpu_seconds,
    save_result,
    system_cpu_seconds,
    wait_for_quiet,
)

PORTS = 16
UNITS = 2000
BAUD = 115200
PERIOD_MS = 5
SAMPLE_MS = 2000
#: each sampling interval is drawn from SAMPLE_MS x (1 +/- this): hands-free ports run in step
#: (every unit of a cycle is plugged, done and unplugged together, ~2 s per cycle here), and a
#: fixed 2 s period sampled the same phase of the cycle for minutes on end - idle for the first
#: half of a run, busy for the second - which looked like threads and descriptors growing
SAMPLE_JITTER = 0.4
REPLUG_S = 1.0
RSS_LIMIT_MB = 20.0
STALL_LIMIT_MS = 100.0
FOREIGN_QUIET = 0.3
"""A sampling interval in which other processes used at most this many cores counts as quiet."""
UNIT_TIMEOUT_S = 120.0
"""No unit done for this long: the run is stuck, stop and report what happened."""


# ============================================================================ the units process


def units_main(args: argparse.Namespace) -> int:
    """16 slots; a DONE unit is unplugged and replaced by a new one until ``--units`` were plugged.

    Protocol: prints ``port PATH`` per slot, then ``ready``; reads ``done PATH`` lines on stdin;
    prints ``plugged N`` after every new unit and ``all-plugged`` once the last one is in.
    """
    from certline.app.sim.faults import DeviceFaults
    from certline.app.sim.flash import Flash
    from certline.app.sim.keys import KeygenLatency
    from certline.app.sim.pty_host import PtyHost
    from certline.app.sim.simulator import DeviceContext, load_personality

    personality = load_personality("certline")
    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    out_lock = threading.Lock()
    plugged = 0
    slots: dict[str, dict[str, Any]] = {}

    def say(line: str) -> None:  # one whole line at a time: swaps run on their own threads
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def new_context(index: int) -> DeviceContext:
        nonlocal plugged
        plugged += 1
        serial = f"SOAK-{plugged:06d}"
        flash = Flash(None)  # in memory: a new unit's flash starts empty
        flash.update(serial=serial)
        return DeviceContext(index, serial, flash, DeviceFaults(), KeygenLatency(), BAUD)

    for index in range(PORTS):
        holder: dict[str, Any] = {"ctx": new_context(index)}

        def boot(reason: str, _holder: dict[str, Any] = holder) -> Any:
            return personality(_holder["ctx"], reason)  # type: ignore[call-arg]

        host = PtyHost(state_dir / f"ttySOAK{index}", boot, baud=BAUD, name=f"soak{index}")
        holder["host"] = host
        slots[str(host.link)] = holder
        host.start()
        say(f"port {host.link}")
    say("ready")

    def swap(link: str) -> None:
        holder = slots[link]
        host: PtyHost = holder["host"]
        host.unplug()  # the technician takes the finished unit off the cable ...
        with lock:
            if plugged >= args.units:
                return  # ... and there are no more units to plug in
            holder["ctx"] = new_context(holder["ctx"].index)
            count = plugged
        time.sleep(args.replug_s)  # ... and plugs the next one in
        host.replug()
        say(f"plugged {count}")
        if count >= args.units:
            say("all-plugged")

    for line in sys.stdin:
        word, _, link = line.strip().partition(" ")
        if word == "done" and link in slots:
            threading.Thread(target=swap, args=(link,), daemon=True).start()
        elif word == "quit":
            break
    for holder in slots.values():
        holder["host"].stop()
    return 0


# ============================================================================ the station process


def _proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _malloc_kb() -> dict[str, int] | None:
    """glibc's own view of the C heap (``mallinfo2``): bytes in use vs. free but kept.

    RSS counts pages the allocator holds; memory freed inside a malloc arena (or a pymalloc
    arena) stays in RSS until the whole page can go back. ``in_use`` growing is real growth;
    ``free_kept`` growing with ``in_use`` flat is allocator high-water, not a leak.
    """
    import ctypes

    class _MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            )
        ]

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return None
    return {
        "in_use": (info.uordblks + info.hblkhd) // 1024,
        "free_kept": info.fordblks // 1024,
        "arena": info.arena // 1024,
    }


def _objects_by_type() -> dict[str, int]:
    """Live objects the garbage collector tracks, counted per type (diagnosis only: ~0.1 s)."""
    import gc
    from collections import Counter

    return dict(Counter(type(o).__qualname__ for o in gc.get_objects()))


def _count(path: str) -> int:
    try:
        return len(os.listdir(path))
    except OSError:
        return -1


def _host_pids(session: Any) -> list[int]:
    """The station's device host processes (the serial drivers run there since issue 18)."""
    hosts = session.device_hosts
    if hosts is None:
        return []
    return [h.process.pid for h in list(hosts._hosts) if h.process.pid and h.process.is_alive()]


def _host_counts(session: Any) -> dict[str, int]:
    """RSS (kB), threads, fds and CPU ticks summed over the device hosts, from /proc."""
    out = {"rss_kb": 0, "threads": 0, "fds": 0, "processes": 0}
    for pid in _host_pids(session):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out["rss_kb"] += int(line.split()[1])
        except OSError:
            continue
        out["threads"] += _count(f"/proc/{pid}/task")
        out["fds"] += _count(f"/proc/{pid}/fd")
        out["processes"] += 1
    return out


def _hosts_cpu(session: Any) -> float:
    total = 0.0
    for pid in _host_pids(session):
        try:
            total += process_cpu_seconds(pid)
        except OSError:
            continue
    return total


class UnitsProcess:
    def __init__(self, work: Path, units: int, replug_s: float) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--role",
                "units",
                "--units",
                str(units),
                "--replug-s",
                str(replug_s),
                "--state-dir",
                str(work / "units"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_die_with_parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.ports: list[str] = []
        self.plugged = 0
        self.all_plugged = threading.Event()
        self._lock = threading.Lock()
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            word, _, rest = line.strip().partition(" ")
            if word == "port":
                self.ports.append(rest)
            elif word == "ready":
                break
        if len(self.ports) != PORTS:
            raise RuntimeError(f"the units process did not come up ({self.ports})")
        threading.Thread(target=self._read, name="soak-units-reader", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            word, _, rest = line.strip().partition(" ")
            if word == "plugged":
                self.plugged = int(rest)
            elif word == "all-plugged":
                self.all_plugged.set()

    def done(self, port: str) -> None:
        with self._lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(f"done {port}\n")
            self.proc.stdin.flush()

    def cpu_seconds(self) -> float:
        from bench.common import process_cpu_seconds

        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(20)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait(5)


def station_main(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import PySide6

    headroom = None
    if PySide6.__version__ == "6.12.0":  # bench/pyside_none_leak.py: keep a leaking PySide alive
        headroom = tuple([None, True, False] * 3_000_000)  # noqa: F841
    work = Path(tempfile.mkdtemp(prefix="certline-bench-soak-"))
    server = EstServerProcess(work / "est")
    units: UnitsProcess | None = None
    try:
        server.start()
        wait_for_quiet(max_wait_s=args.quiet_wait)
        units = UnitsProcess(work, args.units, args.replug_s)
        return _run_window(args, server, units, work)
    finally:
        if units is not None:
            units.stop()
        server.stop()
        if args.keep:
            print(f"kept {work} (journal under station/)", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _run_window(
    args: argparse.Namespace, server: EstServerProcess, units: UnitsProcess, work: Path
) -> dict[str, Any]:
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from certline.app.batch.events import DeviceSnapshot
    from certline.app.batch.states import DeviceState
    from certline.app.config.paths import StationPaths
    from certline.app.est.credentials import Credentials
    from certline.app.station import StationSession
    from certline.ui.application import ensure_application, open_station_window
    from certline.ui.plumbing.settings import UiSettings
    from certline.ui.station import commands as window_commands

    home = work / "station"
    paths = StationPaths(home / "data", home / "config", home / "logs", home / "cache")
    settings = UiSettings(QSettings(str(work / "ui.ini"), QSettings.Format.IniFormat))
    app = ensure_application(settings=settings)
    session = StationSession(
        bench_profile(server, concurrency=4), Credentials(passcode=server.passcode), paths=paths
    )
    session.prepare_devices(wait=60)  # as certline-gui does while its window opens
    ports = list(units.ports)

    def present_ports() -> list[str]:  # what the OS lists: an unplugged unit's port is gone
        return [p for p in ports if os.path.exists(p)]

    done_ids: set[int] = set()
    done_lock = threading.Lock()
    done_times: list[float] = []

    def on_event(event: object) -> None:  # engine threads: tell the units process which unit finished
        if isinstance(event, DeviceSnapshot) and event.state == DeviceState.DONE:
            with done_lock:
                if event.device_id in done_ids:
                    return
                done_ids.add(event.device_id)
                done_times.append(time.perf_counter())
            units.done(event.port)

    session.bus.subscribe(on_event)

    beats = array("d")  # 8 bytes a beat: a list of floats grew the measured RSS by ~7 MB a shift
    samples: list[dict[str, Any]] = []
    marks: dict[str, float] = {}
    state: dict[str, Any] = {}
    warmup_units = max(50, args.units // 10)

    def beat() -> None:
        now = time.perf_counter()
        beats.append(now)
        if "summary" in marks and now - marks["summary"] > 0.5:
            app.quit()

    cpu_prev: dict[str, float] = {}

    def foreign_since_last(now: float) -> float | None:
        """Cores other processes used since the previous sample (the machine is shared)."""
        current = {
            "busy": system_cpu_seconds()[0],
            "own": time.process_time() + _hosts_cpu(session),
            "units": units.cpu_seconds(),
            "server": server.cpu_seconds(),
            "t": now,
        }
        prev = cpu_prev.copy()
        cpu_prev.update(current)
        if not prev:
            return None
        ours = sum(current[k] - prev[k] for k in ("own", "units", "server"))
        return max(0.0, current["busy"] - prev["busy"] - ours) / max(1e-9, now - prev["t"])

    jitter = random.Random(0x50A4)  # seeded: the same sampling times for every run

    def sample(final: bool = False) -> None:
        if not final:
            sampler.setInterval(int(SAMPLE_MS * (1 + jitter.uniform(-SAMPLE_JITTER, SAMPLE_JITTER))))
        now = time.perf_counter()
        with done_lock:
            done = len(done_ids)
            last_done = done_times[-1] if done_times else marks.get("start", now)
        hosts = _host_counts(session)
        samples.append(
            {
                "t": now - marks["start"],
                "done": done,
                # the station = its own process and its device host processes, summed
                "rss_kb": _proc_status_kb("VmRSS") + hosts["rss_kb"],
                "threads": _count("/proc/self/task") + hosts["threads"],
                "fds": _count("/proc/self/fd") + hosts["fds"],
                "hosts_rss_kb": hosts["rss_kb"],
                "hosts_threads": hosts["threads"],
                "hosts_fds": hosts["fds"],
                "host_processes": hosts["processes"],
                "widgets": len(QApplication.allWidgets()),
                "plugged": units.plugged,
                "foreign_cores": foreign_since_last(now),
                "phase": "after" if final or "hands_free_off" in marks else "running",
            }
        )
        if args.memory:
            samples[-1]["malloc_kb"] = _malloc_kb()
            samples[-1]["rss_anon_kb"] = _proc_status_kb("RssAnon")
            samples[-1]["rss_file_kb"] = _proc_status_kb("RssFile")
            samples[-1]["python_blocks"] = sys.getallocatedblocks()
            if tracemalloc.is_tracing():
                samples[-1]["python_traced_kb"] = tracemalloc.get_traced_memory()[0] // 1024
        if args.tracemalloc and "snapshot_warm" not in state and done >= warmup_units:
            state["snapshot_warm"] = tracemalloc.take_snapshot()
        if args.memory and "objects_warm" not in state and done >= warmup_units:
            state["objects_warm"] = _objects_by_type()
        if args.memory and done >= args.units and "objects_end" not in state:
            state["objects_end"] = _objects_by_type()
        if final:
            return
        if done >= args.units and "hands_free_off" not in marks:
            marks["hands_free_off"] = now
            window_commands.set_hands_free(state["window"], False)  # F9 again: no more units
        elif now - last_done > UNIT_TIMEOUT_S and "stuck" not in marks:
            marks["stuck"] = now
            print(f"  no unit finished for {UNIT_TIMEOUT_S:.0f} s: stopping", flush=True)
            app.quit()

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(PERIOD_MS)
    heartbeat.timeout.connect(beat)
    sampler = QTimer()
    sampler.setInterval(SAMPLE_MS)
    sampler.timeout.connect(sample)
    progress = QTimer()
    progress.setInterval(30_000)
    progress.timeout.connect(
        lambda: print(
            f"  {len(done_ids)} done, {units.plugged} plugged, {time.perf_counter() - marks['start']:.0f} s",
            flush=True,
        )
    )

    def open_window() -> None:
        window = open_station_window(
            session, present_ports, autostart=False, settings=settings, keyring_check=False
        )
        state["window"] = window
        window.summary_shown.connect(lambda _dialog: marks.setdefault("summary", time.perf_counter()))

    def press_f9() -> None:
        marks["start"] = time.perf_counter()
        window_commands.set_hands_free(state["window"], True)  # F9: units are found as plugged in
        sample()
        sampler.start()
        progress.start()

    busy0, _ = system_cpu_seconds()
    own0 = time.process_time() + _hosts_cpu(session)
    units_cpu0, server_cpu0 = units.cpu_seconds(), server.cpu_seconds()
    wall0 = time.perf_counter()
    heartbeat.start()
    QTimer.singleShot(500, open_window)
    QTimer.singleShot(2000, press_f9)  # the window opened and settled
    app.exec()
    wall = time.perf_counter() - wall0
    heartbeat.stop()
    sampler.stop()
    progress.stop()
    busy = system_cpu_seconds()[0] - busy0
    own_cpu = time.process_time() + _hosts_cpu(session) - own0
    units_cpu = units.cpu_seconds() - units_cpu0
    server_cpu = server.cpu_seconds() - server_cpu0
    foreign = max(0.0, busy - own_cpu - units_cpu - server_cpu) / max(1e-9, wall)
    sample(final=True)

    # exactly once, from the journal: one row per unit, DONE, and one certificate per unit
    batch_ids = sorted({b.id for b in session.journal.batches(limit=10)})
    rows = [d for b in batch_ids for d in session.journal.devices(b)]
    per_serial: dict[str, list[str]] = {}
    for snap in rows:
        per_serial.setdefault(snap.serial_number or f"(no serial, {snap.port})", []).append(snap.state.value)
    done_once = sum(1 for states in per_serial.values() if states == [DeviceState.DONE.value])
    not_once = {s: st for s, st in per_serial.items() if st != [DeviceState.DONE.value]}
    # where later units lose time: a unit's own time (detected -> done, journal) per tenth of the
    # units in the order they finished; if it stays flat, the slowdown is between units
    unit_times = sorted(
        (snap.updated_at, (snap.updated_at - snap.started_at).total_seconds())
        for snap in rows
        if snap.state == DeviceState.DONE and snap.started_at is not None and snap.updated_at is not None
    )
    tenth = max(1, len(unit_times) // 10)
    unit_s_per_tenth = [
        statistics.median(t for _, t in unit_times[i : i + tenth])
        for i in range(0, tenth * 10, tenth)
        if unit_times[i : i + tenth]
    ]
    issued = server.issued_count()
    window = state.get("window")
    if window is not None:
        window.close()
    session.close()

    t_start = marks.get("start", wall0)
    gaps = [((b - a) * 1000, b - t_start) for a, b in zip(beats, beats[1:], strict=False) if a >= t_start]
    gap_values = [g for g, _ in gaps]
    worst = max(gaps, default=(float("nan"), 0.0))
    running = [s for s in samples if s["phase"] == "running"]
    warm = next((s for s in running if s["done"] >= warmup_units), running[0] if running else None)
    end = running[-1] if running else None  # the last sample with hands-free still on
    after = [s for s in running if warm is not None and s["t"] >= warm["t"]]
    # stalls in sampling intervals during which other processes used little CPU
    quiet_spans = [
        (prev["t"], cur["t"])
        for prev, cur in zip(samples, samples[1:], strict=False)
        if cur["foreign_cores"] is not None and cur["foreign_cores"] <= FOREIGN_QUIET
    ]
    starts = [lo for lo, _ in quiet_spans]

    def in_quiet(t: float) -> bool:
        i = bisect.bisect_right(starts, t) - 1
        return i >= 0 and t < quiet_spans[i][1]

    quiet_gaps = [g for g, t in gaps if in_quiet(t)]

    def growth(key: str) -> dict[str, Any] | None:
        if not after or warm is None or end is None:
            return None
        quarter = max(1, len(after) // 4)
        first, last = after[:quarter], after[-quarter:]
        return {
            "at_warmup": warm[key],
            "end": end[key],
            "max_after_warmup": max(s[key] for s in after),
            "median_first_quarter": statistics.median(s[key] for s in first),
            "median_last_quarter": statistics.median(s[key] for s in last),
        }

    rss = growth("rss_kb")
    rss_growth_mb = (end["rss_kb"] - warm["rss_kb"]) / 1024 if warm and end else None
    units_after = (end["done"] - warm["done"]) if warm and end else 0
    per_window = []  # longest stall per 10 % of the run's units, for the plot
    if done_times:
        step = max(1, len(done_times) // 10)
        edges = [t_start] + [
            done_times[min(i, len(done_times) - 1)] for i in range(step, len(done_times) + step, step)
        ]
        for lo, hi in zip(edges, edges[1:], strict=False):
            window_gaps = [g for g, t in gaps if lo - t_start <= t < hi - t_start]
            per_window.append(max(window_gaps, default=0.0))
    result = {
        "ports": PORTS,
        "units_requested": args.units,
        "units_plugged": units.plugged,
        "units_done_events": len(done_ids),
        "wall_s": wall,
        "run_s": (marks.get("summary", time.perf_counter()) - t_start),
        "units_per_hour": len(done_ids) / max(1e-9, (done_times[-1] - t_start)) * 3600 if done_times else 0.0,
        "replug_s": args.replug_s,
        "warmup_units": warmup_units,
        "stuck": "stuck" in marks,
        "summary_shown": "summary" in marks,
        "journal": {
            "batches": batch_ids,
            "device_rows": len(rows),
            "distinct_serials": len(per_serial),
            "done_exactly_once": done_once,
            "not_exactly_once": dict(list(not_once.items())[:10]),
            "not_exactly_once_count": len(not_once),
        },
        "server_issued": issued,
        "unit_s_median_per_tenth": unit_s_per_tenth,
        "stall": {
            "max_ms": worst[0],
            "max_at_s": worst[1],
            "p99_ms": percentile(gap_values, 99),
            "p999_ms": percentile(gap_values, 99.9),
            "over_50ms": sum(1 for g in gap_values if g > 50),
            "over_100ms": sum(1 for g in gap_values if g > 100),
            "beats": len(gap_values),
            "max_per_tenth_ms": per_window,
            "quiet_max_ms": max(quiet_gaps, default=None),
            "quiet_share_of_run": sum(hi - lo for lo, hi in quiet_spans) / max(1e-9, samples[-1]["t"])
            if samples
            else 0.0,
            "foreign_quiet_limit_cores": FOREIGN_QUIET,
        },
        "rss_mb_at_warmup": warm["rss_kb"] / 1024 if warm else None,
        "rss_mb_end": end["rss_kb"] / 1024 if end else None,
        "rss_growth_mb": rss_growth_mb,
        "rss_growth_kb_per_unit": (rss_growth_mb * 1024 / units_after)
        if rss_growth_mb is not None and units_after
        else None,
        "rss_kb": rss,
        "threads": growth("threads"),
        "fds": growth("fds"),
        "widgets": growth("widgets"),
        "samples": samples,
        "tracemalloc_top_growth": _top_growth(state.get("snapshot_warm")) if args.tracemalloc else None,
        "memory_diagnosis": _memory_diagnosis(warm, end, state) if args.memory else None,
        "cpu_cores": {
            "station": own_cpu / wall,
            "units_process": units_cpu / wall,
            "server": server_cpu / wall,
            "foreign": foreign,
        },
    }
    return result


def _top_growth(warm: Any, limit: int = 15) -> list[str] | None:
    """Diagnosis (``--tracemalloc``): where Python memory grew between warm-up and the end."""
    if warm is None:
        return None
    end = tracemalloc.take_snapshot()
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = end.filter_traces(filters).compare_to(warm.filter_traces(filters), "lineno")
    return [str(stat) for stat in stats[:limit]]


def _memory_diagnosis(
    warm: dict[str, Any] | None, end: dict[str, Any] | None, state: dict[str, Any]
) -> dict[str, Any]:
    """Diagnosis (``--memory``): RSS growth split into C heap in use, C heap kept free, Python
    (traced) memory, and the object types whose counts grew between warm-up and the last unit."""
    out: dict[str, Any] = {}
    if warm and end:
        for key in ("rss_kb", "rss_anon_kb", "rss_file_kb", "python_traced_kb", "python_blocks"):
            if key in warm and key in end:
                out[key + "_growth"] = end[key] - warm[key]
        if warm.get("malloc_kb") and end.get("malloc_kb"):
            out["malloc_kb_growth"] = {
                k: end["malloc_kb"][k] - warm["malloc_kb"][k] for k in end["malloc_kb"]
            }
    before, after = state.get("objects_warm"), state.get("objects_end")
    if before and after:
        grown = {k: after.get(k, 0) - before.get(k, 0) for k in after.keys() | before.keys()}
        out["objects_grown"] = dict(sorted(grown.items(), key=lambda kv: -abs(kv[1]))[:25])
    return out


def idle_counts(r: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The samples with no unit on the station: at F9 (before the first unit) and the last one
    with hands-free still on (every unit done). Threads and descriptors come and go with the
    units in flight (up to 16 ports, each with a worker and an open pty), so a leak shows as a
    difference between these two, not as a difference between two busy moments."""
    running = [x for x in r["samples"] if x.get("phase", "running") == "running"]
    if len(running) < 2:
        return None
    return running[0], running[-1]


def verdicts(r: dict[str, Any]) -> dict[str, bool]:
    j = r["journal"]
    idle = idle_counts(r)
    flat = idle is not None and all(
        idle[1][key] <= idle[0][key] + slack for key, slack in (("threads", 1), ("fds", 3), ("widgets", 0))
    )
    return {
        "rss": r["rss_growth_mb"] is not None and r["rss_growth_mb"] < RSS_LIMIT_MB,
        "stall": r["stall"]["max_ms"] < STALL_LIMIT_MS,
        "no_growth": flat,
        "exactly_once": (
            j["done_exactly_once"] == r["units_requested"]
            and j["not_exactly_once_count"] == 0
            and r["server_issued"] == r["units_requested"]
        ),
    }


def plot(r: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed; no plot")
        return False
    # the lines are the run (hands-free on); what was sampled after it (the batch closing, its
    # summary opening) is marked apart: drawn on, it read like growth at the last unit
    s = [x for x in r["samples"] if x["phase"] == "running"]
    after = [x for x in r["samples"] if x["phase"] != "running"]
    done = [x["done"] for x in s]
    fig, axes = plt.subplots(2, 1, figsize=(7, 5.2), dpi=110, sharex=True)
    ax = axes[0]
    ax.plot(done, [x["rss_kb"] / 1024 for x in s], label="RSS MB")
    if after:
        ax.scatter(
            [x["done"] for x in after],
            [x["rss_kb"] / 1024 for x in after],
            marker="x",
            color="grey",
            label="after hands-free was switched off",
        )
    if r["rss_mb_at_warmup"] is not None:
        ax.axhline(
            r["rss_mb_at_warmup"] + RSS_LIMIT_MB,
            color="orange",
            ls=":",
            label=f"warm-up RSS + {RSS_LIMIT_MB:g} MB",
        )
    ax.axvline(r["warmup_units"], color="grey", ls="--", lw=1, label="end of warm-up")
    ax.set_ylabel("MB")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, alpha=0.3)
    ax.set_title(f"Soak: {r['units_requested']} units through {PORTS} ports, station window open")
    ax2 = axes[1]
    ax2.plot(done, [x["threads"] for x in s], label="OS threads")
    ax2.plot(done, [x["fds"] for x in s], label="open fds")
    ax2.plot(done, [x["widgets"] for x in s], label="Qt widgets")
    for key in ("threads", "fds", "widgets") if after else ():
        ax2.scatter([x["done"] for x in after], [x[key] for x in after], marker="x", color="grey")
    ax2.set_xlabel("units done")
    ax2.set_ylabel("count")
    highest = max(max(x[k] for k in ("threads", "fds", "widgets")) for x in r["samples"])
    ax2.set_ylim(0, highest * 1.3)  # room above the lines for the legend
    ax2.legend(fontsize=7, loc="upper center", ncol=3)
    ax2.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=UNITS, help="units to provision in all (default 2000)")
    parser.add_argument(
        "--replug-s", type=float, default=REPLUG_S, help="seconds a slot stays empty between units"
    )
    parser.add_argument("--role", choices=("station", "units"), default="station", help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", help=argparse.SUPPRESS)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="diagnosis: trace Python allocations and list where memory grew after warm-up (slower)",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="diagnosis: sample glibc's heap (in use vs. kept free) and count live objects per type"
        " at warm-up and at the last unit (with --tracemalloc also Python's traced memory)",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=120.0, help="longest wait for an idle machine (s)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="diagnosis: keep the work directory (journal, server state)"
    )
    args = parser.parse_args(argv)
    if args.role == "units":
        return units_main(args)
    if args.tracemalloc:
        tracemalloc.start(12)
    _ = CERTLINE  # the est-server is started through the installed entry point (bench.common)
    r = station_main(args)
    r["verdict"] = verdicts(r)
    printable = {k: v for k, v in r.items() if k != "samples" or args.memory}
    print(json.dumps(printable, indent=1, default=str))
    if not args.no_save:
        r["plot"] = "bench-soak.png" if plot(r, DOCS / "bench-soak.png") else None
        save_result("soak", r)
    # the window's threads are not all daemons on every platform: leave without waiting for them
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
