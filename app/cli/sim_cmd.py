"""``certline sim``: run N simulated devices on pseudo-terminals until SIGINT/SIGTERM.

Prints one port path per line (flushed) once every device has booted, so a
script can read exactly N lines and start working; the symlinks are removed on
exit. Flash (serial numbers, keys, chains) persists in ``--state-dir``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from certline.app.config.paths import station_paths
from certline.app.sim.faults import FAULT_KINDS, POINTS, parse_fault
from certline.app.sim.keys import KeygenLatency
from certline.app.sim.simulator import PERSONALITIES, Simulator, UnknownPersonality


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="run simulated devices on pseudo-terminals",
        description="Run N simulated devices on pseudo-terminals until Ctrl+C or SIGTERM.\n\n"
        "Prints one port path per line once every device has booted, so a script can\n"
        "read exactly N lines and start working; the port links are removed on exit.\n"
        "Each device's flash (serial number, keys, certificates) is kept in --state-dir.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "fault spec: [devN:]KIND[@POINT][=VALUE]\n"
            f"  kinds:  {', '.join(FAULT_KINDS)}\n"
            f"  points: {', '.join(POINTS)}\n"
            "  e.g. --fault dev1:unplug@cert-write --fault corrupt=2 --fault slow=1.5"
        ),
    )
    parser.add_argument("--devices", type=int, default=1, metavar="N", help="number of devices")
    parser.add_argument(
        "--driver",
        choices=sorted(PERSONALITIES),
        default="certline",
        help="serial protocol the devices speak",
    )
    parser.add_argument("--baud", type=int, default=115200, help="line speed the output is paced at")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="flash images and port symlinks (default: sim/ in the station's data directory)",
    )
    parser.add_argument(
        "--first-serial",
        type=int,
        default=1,
        metavar="NUMBER",
        help="serial number of the first new device (default: 1, i.e. CL-000001); give a second "
        "simulator, or a fresh --state-dir, its own range so its units are new units to the station",
    )
    parser.add_argument(
        "--fault", action="append", default=[], metavar="SPEC", help="inject a fault (repeatable; see below)"
    )
    parser.add_argument(
        "--keygen-latency",
        default=None,
        metavar="SECONDS|ALG=SECONDS,...",
        help="key generation time, for all key types or per type (default: p256 0.3 s, rsa-2048 2 s, ...)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.devices < 1 or args.baud < 300 or args.first_serial < 1:
        print("certline sim: --devices and --first-serial must be >= 1 and --baud >= 300", file=sys.stderr)
        return 2
    try:
        faults = [parse_fault(spec) for spec in args.fault]
        latency = KeygenLatency.parse(args.keygen_latency) if args.keygen_latency else None
    except ValueError as exc:
        print(f"certline sim: {exc}", file=sys.stderr)
        return 2
    state_dir = args.state_dir or station_paths().data / "sim"
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sim = Simulator(
            state_dir, args.devices, args.driver, args.baud, faults, latency, first_serial=args.first_serial
        )
    except UnknownPersonality as exc:
        print(f"certline sim: {exc}", file=sys.stderr)
        return 2
    try:
        with sim:
            for port in sim.start():
                print(port, flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
