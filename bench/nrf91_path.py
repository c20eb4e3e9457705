"""Benchmark: the nRF91 path, one unit and 16 units, versus that path's own bound.

Run: ``.venv/bin/python bench/nrf91_path.py`` (about three minutes; 1, 8, 16, 32 and 64 units). Writes
``bench/results/nrf91_path.json``, ``docs/bench-nrf91.png`` and docs/benchmarks.md.

Three processes, as on a line: ``certline sim --driver nrf91 --devices N`` (simulated nRF91
modems answering as real modem firmware does by default, on real pseudo-terminals, output
paced at 115200 baud), ``certline est-server``, and this process, the station: the headless
engine API (``StationSession.start_batch``) with a real on-disk journal and the real
``NRF91Driver`` (AT commands: identify, CFUN, ``%KEYGEN``, ``%CMNG`` writes and list hashes).

AT traffic is *counted*, not estimated: each port is opened through a pyserial wrapper that
counts every byte written and read (``SerialTransport(serial_factory=...)``, no driver change).

Bound of the path for one unit = AT bytes (both directions) x 10 / baud (8N1)
                                 + key generation time + server time.

Key generation time is *measured* on the link: from the station writing the ``AT%KEYGEN``
command until the modem's ``%KEYGEN:`` answer line starts arriving, minus the line time of any
bytes (URCs) the modem sent in between. The modem is silent on the command while it generates;
the simulator models that with its configured latency (0.30 s for EC P-256 by default) and then
makes a real key and CSR. Server time is the median unloaded
``/simpleenroll`` round trip of the station's own client against the same server process.

The simulator paces only the unit->host direction (a pseudo-terminal delivers the host's
writes at once), as in ``bench/batch_bound.py``; the "sim floor" counts only the bytes the
simulator paces and is the stricter reference for this setup. Both are shown.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.batch_bound import HOSTS, IN_STATION, _hosts_cpu, phase_times, server_time, wall_row  # noqa: E402
from bench.common import (  # noqa: E402
    DOCS,
    EstServerProcess,
    ForeignLoad,
    SimProcess,
    bench_profile,
    save_result,
    wait_for_quiet,
)

BAUD = 115200
SIZES = (1, 8, 16, 32, 64)
"""1 and 16 are the target's; 8, 32 and 64 feed "what a line gets" in docs/benchmarks.md."""
TARGET_N = 16
TARGET_RATIO = 1.3
FOREIGN_LIMIT = 0.3
MAX_ATTEMPTS = 3


class LinkMeter:
    """Per port: bytes each way, and the silent gap after ``AT%KEYGEN`` (key generation)."""

    def __init__(self, baud: int) -> None:
        self.baud = baud
        self.tx = 0
        self.rx = 0
        self.keygen_sent_at: float | None = None
        self.since_keygen = b""
        self.keygen_s: list[float] = []


class MeteredSerial:
    """Delegates to a pyserial object, counting bytes and timing the modem's key generation."""

    def __init__(self, inner: Any, meter: LinkMeter) -> None:
        self._inner = inner
        self._meter = meter

    def write(self, data: bytes) -> int | None:
        n = self._inner.write(data)
        self._meter.tx += len(data) if n is None else n
        if b"%KEYGEN=" in bytes(data).upper():
            self._meter.keygen_sent_at = time.perf_counter()
            self._meter.since_keygen = b""
        return n

    def read(self, size: int = 1) -> bytes:
        data = self._inner.read(size)
        meter = self._meter
        if data:
            meter.rx += len(data)
            if meter.keygen_sent_at is not None:
                now = time.perf_counter()
                meter.since_keygen += bytes(data)
                at = meter.since_keygen.find(b"%KEYGEN:")
                if at >= 0:
                    # bytes before the answer (URCs) and the answer's own bytes in this read
                    # took line time after the key was ready: take it off
                    on_line = len(meter.since_keygen)
                    meter.keygen_s.append(now - meter.keygen_sent_at - on_line * 10 / meter.baud)
                    meter.keygen_sent_at = None
                    meter.since_keygen = b""
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Meters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_port: dict[str, LinkMeter] = {}

    def driver_factory(self, baud: int):  # noqa: ANN201 - DriverFactory
        import serial

        from certline.app.device.nrf91_driver import NRF91Driver
        from certline.app.device.transport import SerialTransport

        def open_driver(port: str):  # noqa: ANN202
            with self.lock:
                meter = self.by_port.setdefault(port, LinkMeter(baud))

            def factory(*args: Any, **kwargs: Any) -> MeteredSerial:
                return MeteredSerial(serial.serial_for_url(*args, **kwargs), meter)

            driver = NRF91Driver(port, baud, transport=SerialTransport(port, baud, serial_factory=factory))
            driver.open()
            return driver

        return open_driver


def _with_keygen_csr(journal: Any, device_id: int) -> dict[str, float]:
    """§2's phases plus "keygen+csr" (identified -> csr-ready): on the nRF91 path one
    ``%KEYGEN`` makes key and CSR, and the engine records no key-ready state in between."""
    out = phase_times(journal, device_id)
    first: dict[str, Any] = {}
    for rec in journal.history(device_id):
        first.setdefault(rec.state.value, rec.at)
    if "identified" in first and "csr-ready" in first:
        out["keygen+csr"] = (first["csr-ready"] - first["identified"]).total_seconds()
    return out


def _own_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def nrf91_profile(server: EstServerProcess):  # noqa: ANN201 - Profile
    profile = bench_profile(server, concurrency=4, baud=BAUD, name="bench-nrf91")
    return type(profile)(**{**profile.__dict__, "driver": "nrf91", "subject_template": {"CN": "{serial}"}})


def run_batch(
    server: EstServerProcess, n: int, work: Path, run: int, quiet_wait: float = 60.0, drivers: str = HOSTS
) -> dict[str, Any]:
    """One nRF91 batch. ``drivers``: HOSTS, the station's default (device host processes; the link
    is not metered) or IN_STATION (a thread per port, every byte and each %KEYGEN metered)."""
    from certline.app.batch.engine import BatchOptions
    from certline.app.batch.states import DeviceState
    from certline.app.config.paths import StationPaths
    from certline.app.est.credentials import Credentials
    from certline.app.station import StationSession

    root = work / f"n{n}-run{run}"
    sim = SimProcess(root / "sim", n, BAUD, driver="nrf91")
    sim.start()
    meters = Meters()
    home = root / "station"
    paths = StationPaths(home / "data", home / "config", home / "logs", home / "cache")
    if drivers == HOSTS:
        session = StationSession(nrf91_profile(server), Credentials(passcode=server.passcode), paths=paths)
    else:
        session = StationSession(
            nrf91_profile(server),
            Credentials(passcode=server.passcode),
            paths=paths,
            driver_factory=meters.driver_factory(BAUD),
        )
    try:
        _ = session.client  # TLS context built before the clock starts, as in a running station
        session.prepare_devices(wait=60)  # the hosts start with the station
        wait_for_quiet(max_wait_s=quiet_wait)
        with ForeignLoad(
            lambda: _own_cpu() + _hosts_cpu(session) + sim.cpu_seconds() + server.cpu_seconds()
        ) as load:
            t0 = time.perf_counter()
            engine = session.start_batch(BatchOptions(work_order=f"BENCH-NRF91-{n}-{run}"), sim.ports)
            finished = engine.wait(300)
            wall = time.perf_counter() - t0
        snaps = engine.devices()
        done = [s for s in snaps if s.state == DeviceState.DONE]
        failures = [f"{s.port}: {s.error}" for s in snaps if s.state != DeviceState.DONE]
        phases = [_with_keygen_csr(session.journal, s.device_id) for s in done]
        engine.finish()
    finally:
        session.close()
        sim.stop()
    meters_list = list(meters.by_port.values())
    keygens = [k for m in meters_list for k in m.keygen_s]
    return {
        "n": n,
        "run": run,
        "drivers": drivers,
        "wall_s": wall,
        "finished": finished,
        "done": len(done),
        "failures": failures[:5],
        "tx_bytes_median": statistics.median(m.tx for m in meters_list) if meters_list else 0,
        "rx_bytes_median": statistics.median(m.rx for m in meters_list) if meters_list else 0,
        "bytes_min": min((m.tx + m.rx for m in meters_list), default=0),
        "bytes_max": max((m.tx + m.rx for m in meters_list), default=0),
        "keygen_median_s": statistics.median(keygens) if keygens else None,
        "keygen_max_s": max(keygens, default=None),
        "keygen_count": len(keygens),
        "unit_time_median_s": statistics.median(p["total"] for p in phases if "total" in p)
        if phases
        else None,
        "phase_median_s": {
            name: statistics.median(p[name] for p in phases if name in p)
            for name in ("identify", "keygen+csr", "enroll", "write", "verify")
            if any(name in p for p in phases)
        },
        "cpu_cores_all_processes": load.own_cores,
        "foreign_cpu_cores": load.cores,
    }


def plot(rows: list[dict[str, Any]], bound: float, sim_floor: float, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed; no plot")
        return False
    fig, ax = plt.subplots(figsize=(8, 3.8), dpi=110)
    where = {HOSTS: "hosts", IN_STATION: "station"}
    labels = [f"{r['n']}\n{where.get(r.get('drivers', ''), '')}" for r in rows]
    med = [r["wall_median_s"] for r in rows]
    err = [
        [r["wall_median_s"] - r["wall_min_s"] for r in rows],
        [r["wall_max_s"] - r["wall_median_s"] for r in rows],
    ]
    colours = ["#4c72b0" if r.get("drivers", HOSTS) == HOSTS else "#dd8452" for r in rows]
    ax.bar(range(len(rows)), med, yerr=err, capsize=5, color=colours)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlabel("units, and where the serial drivers run (device hosts: the default; station: metered)")
    for colour, text in (
        ("#4c72b0", "wall, drivers in device hosts"),
        ("#dd8452", "wall, drivers in the station"),
    ):
        ax.bar([0], [0], color=colour, label=f"batch {text} (median, min-max)")
    ax.axhline(bound, color="green", ls="--", label=f"bound of one unit ({bound:.2f} s)")
    ax.axhline(bound * TARGET_RATIO, color="orange", ls=":", label=f"target for 16: {TARGET_RATIO}x bound")
    ax.axhline(sim_floor, color="grey", ls="-.", lw=1, label=f"sim floor ({sim_floor:.2f} s)")
    ax.set_ylabel("seconds")
    ax.set_title("nRF91 path at 115200 baud (AT over real pseudo-terminals)")
    ax.set_ylim(0, max(max(r["wall_max_s"] for r in rows), bound * TARGET_RATIO) * 1.25)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="longest wait for an idle machine before each run (s)"
    )
    parser.add_argument(
        "--drivers",
        choices=(HOSTS, IN_STATION, "both"),
        default="both",
        help="where the drivers run: device hosts (the default of a station), in the station "
        "(meters the link and the key generation, which give the bound), or both alternately",
    )
    parser.add_argument(
        "--attempts", type=int, default=MAX_ATTEMPTS, help="runs per measurement if disturbed"
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="certline-bench-nrf91-"))
    server = EstServerProcess(work / "est")
    runs: list[dict[str, Any]] = []
    try:
        server.start()
        wait_for_quiet()
        srv = server_time(server)
        print(f"server time: median {srv['median_s'] * 1000:.1f} ms", flush=True)
        placements = [HOSTS, IN_STATION] if args.drivers == "both" else [args.drivers]
        if IN_STATION not in placements:  # the bound needs one metered unit
            placements_for = {min(args.sizes): [*placements, IN_STATION]}
        else:
            placements_for = {}
        for n in args.sizes:
            for run in range(1, args.repeats + 1):
                for drivers in placements_for.get(n, placements):
                    discarded = []
                    for attempt in range(1, args.attempts + 1):
                        print(f"nRF91 batch of {n} (run {run}, drivers {drivers}) ...", flush=True)
                        res = run_batch(
                            server,
                            n,
                            work,
                            run * 100 + attempt * 10 + (drivers == HOSTS),
                            args.quiet_wait,
                            drivers,
                        )
                        if res["foreign_cpu_cores"] <= FOREIGN_LIMIT or attempt == args.attempts:
                            break
                        print(
                            f"  disturbed ({res['foreign_cpu_cores']:.2f} foreign cores); again", flush=True
                        )
                        discarded.append(round(res["wall_s"], 3))
                    res["discarded_disturbed_runs"] = discarded
                    print(
                        f"  {res['wall_s']:.2f} s, {res['done']}/{n} done, "
                        f"AT bytes/unit {res['tx_bytes_median']:.0f} "
                        f"out + {res['rx_bytes_median']:.0f} in (metered in-station only), "
                        f"keygen {res['keygen_median_s']}, "
                        f"foreign {res['foreign_cpu_cores']:.2f} cores",
                        flush=True,
                    )
                    if res["failures"]:
                        print(f"  failures: {res['failures']}", flush=True)
                    runs.append(res)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    metered = [r for r in runs if r["drivers"] == IN_STATION]
    one = [r for r in metered if r["n"] == min(r["n"] for r in metered)]
    tx = statistics.median(r["tx_bytes_median"] for r in one)
    rx = statistics.median(r["rx_bytes_median"] for r in one)
    keygen = statistics.median(r["keygen_median_s"] for r in one if r["keygen_median_s"] is not None)
    link_s = (tx + rx) * 10 / BAUD
    bound = link_s + keygen + srv["median_s"]
    sim_floor = rx * 10 / BAUD + keygen + srv["median_s"]
    rows = []
    for drivers, n in [(d, n) for d in placements for n in args.sizes]:
        nr = [r for r in runs if r["n"] == n and r["drivers"] == drivers]
        metered_n = drivers == IN_STATION
        rows.append(
            {
                **wall_row(n, drivers, nr, bound, sim_floor),
                "bytes_per_unit": statistics.median(r["tx_bytes_median"] + r["rx_bytes_median"] for r in nr)
                if metered_n
                else None,
                "keygen_median_s": statistics.median(
                    r["keygen_median_s"] for r in nr if r["keygen_median_s"] is not None
                )
                if metered_n
                else None,
                "phase_median_s": nr[len(nr) // 2]["phase_median_s"],
                "cpu_cores_all_processes": statistics.median(r["cpu_cores_all_processes"] for r in nr),
                "foreign_cpu_cores_max": max(r["foreign_cpu_cores"] for r in nr),
            }
        )
    for row in rows:
        print(
            f"N={row['n']:3d} {row['drivers']:10s} wall {row['wall_median_s']:.2f} s  "
            f"{row['ratio_to_bound']:.2f}x bound ({row['ratio_to_sim_floor']:.2f}x sim floor)"
        )
    target_row = next((r for r in rows if r["n"] == TARGET_N and r["drivers"] == placements[0]), None)
    results = {
        "baud": BAUD,
        "driver": "nrf91",
        "simulated_keygen_latency_s": 0.3,
        "keygen_measured_s": keygen,
        "server_time": srv,
        "bytes_host_to_unit": tx,
        "bytes_unit_to_host": rx,
        "link_time_s": link_s,
        "bound_s": bound,
        "sim_floor_s": sim_floor,
        "rows": rows,
        "runs": runs,
        "drivers_default": placements[0],
        "target": {
            "n": TARGET_N,
            "ratio": target_row["ratio_to_bound"] if target_row else None,
            "limit": TARGET_RATIO,
            "met": bool(
                target_row and target_row["ratio_to_bound"] <= TARGET_RATIO and target_row["all_done"]
            ),
        },
    }
    plotted = not args.no_save and plot(rows, bound, sim_floor, DOCS / "bench-nrf91.png")
    results["plot"] = "bench-nrf91.png" if plotted else None
    print(f"bound {bound:.3f} s = AT link {link_s:.3f} + keygen {keygen:.3f} + server {srv['median_s']:.3f}")
    if not args.no_save:
        save_result("nrf91_path", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
