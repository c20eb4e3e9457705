"""``certline demo``: simulated devices + local EST test server, provisioned end to end.

Opens the station window when a display is available; otherwise (or with
``--headless``) runs in the terminal. Exits 0 only when every device ended
verified. Everything it starts is stopped and every temporary file removed
before it returns.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from certline.app.batch.engine import BatchOptions
from certline.app.batch.report import export_report
from certline.app.cli.progress import ProgressPrinter
from certline.app.config.profile import CsrFormat, KeyGeneration
from certline.app.host.display import display_available
from certline.app.station import StationSession
from certline.app.station.demo_line import DISPLAY_FAILED, DemoEnvironment, DemoSettings

log = logging.getLogger(__name__)

#: exit status after Ctrl+C (128 + SIGINT), as `certline batch run`
EXIT_INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="provision simulated devices with the local EST test server",
        description="Start the device simulator and the local HTTPS EST test server, then provision "
        "every simulated device end to end. Opens the station window when a display is available.",
    )
    parser.add_argument("--headless", action="store_true", help="run in the terminal, no window")
    parser.add_argument("--devices", type=int, default=4, metavar="N", help="number of simulated devices")
    parser.add_argument("--report", type=Path, metavar="FILE", help="write a JSON report of the batch here")
    parser.add_argument("--driver", choices=("certline", "nrf91"), default="certline", help="device protocol")
    parser.add_argument("--baud", type=int, default=115200, help="simulated serial speed")
    parser.add_argument(
        "--csr-format",
        choices=[c.value for c in CsrFormat],
        default=CsrFormat.RFC7030.value,
        help="how CSRs are posted: rfc7030 (base64 DER) or pem-text (DigiCert DTM style)",
    )
    parser.add_argument(
        "--keygen",
        choices=[k.value for k in KeyGeneration],
        default=KeyGeneration.DEVICE.value,
        help="generate keys on the device (default) or on the EST server",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="keep the simulator's flash, the EST server's CA and the station journal in DIR "
        "(kept after exit) instead of a temporary directory that is removed",
    )
    parser.set_defaults(func=run)


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so the simulator, the server, the window process and the
    temporary directory are all cleaned up by the ``with`` blocks, as on Ctrl+C."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))


def run(args: argparse.Namespace) -> int:
    if args.devices < 1:
        print("certline demo: --devices must be at least 1", file=sys.stderr)
        return 2
    headless = args.headless
    if not headless and not display_available():
        print("certline demo: no display available (DISPLAY/WAYLAND_DISPLAY unset); running headless.")
        headless = True
    settings = DemoSettings(
        devices=args.devices,
        driver=args.driver,
        baud=args.baud,
        csr_format=CsrFormat(args.csr_format),
        key_generation=KeyGeneration(args.keygen),
    )
    _exit_cleanly_on_sigterm()
    with DemoEnvironment(settings, root=args.state_dir) as env:
        from certline.app.security.redaction import register_secret

        register_secret(env.passcode)
        session = StationSession(env.profile(), env.credentials(), paths=env.station_paths())
        try:
            if headless:
                return _run_headless(session, env, args)
            return _run_gui(session, env, args)
        finally:
            session.close()


#: seconds a unit gets to finish its current step after Ctrl+C (as for ``certline batch run``)
STOP_WAIT = 62.0


def _run_headless(session: StationSession, env: DemoEnvironment, args: argparse.Namespace) -> int:
    printer = ProgressPrinter()
    session.bus.subscribe(printer.on_event)
    server = env.est_server
    print(f"EST test server {server.url} (CA SHA-256 {server.ca_fingerprint})")
    print(f"{len(env.ports)} simulated device(s): {', '.join(env.ports)}")
    engine = session.start_batch(BatchOptions(work_order="DEMO", operator="demo", station="demo"), env.ports)
    interrupted = False
    try:
        finished = engine.wait(args.timeout)
    except KeyboardInterrupt:
        # Ctrl+C: stop like `batch run` does -- quietly, every unit at a journaled step
        print("Stopping after the current step of every device...", file=sys.stderr)
        finished, interrupted = False, True
    if not finished:
        if not interrupted:
            print(f"certline demo: not finished after {args.timeout:.0f} s; stopping", file=sys.stderr)
        engine.stop()
        engine.wait(STOP_WAIT)  # a unit mid-write on a slow line finishes its step first
    engine.finish()
    snaps = engine.devices()
    printer.print_totals(snaps)
    if args.report:
        export_report(session.journal, engine.batch_id, "json", args.report)
        print(f"Report written to {args.report}")
    if interrupted:
        return EXIT_INTERRUPTED
    return 0 if finished and engine.all_verified() and len(snaps) == len(env.ports) else 1


def _run_gui(session: StationSession, env: DemoEnvironment, args: argparse.Namespace) -> int:
    """Run the station window in a child process (``ui`` is never imported by ``app``).

    The child gets a hand-off file (profile without secrets, ports, station paths) and the
    passcode through its environment, which only this user can read; it runs the batch and
    its exit status is the demo's.
    """
    session.close()  # the window's own session owns the journal from here
    handoff = env.write_handoff(report=args.report)
    child_env = dict(os.environ, CERTLINE_DEMO_PASSCODE=env.passcode)
    command = [sys.executable, "-m", "certline.ui.demo_window_main", str(handoff)]
    try:
        completed = subprocess.run(command, env=child_env, check=False)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if completed.returncode == DISPLAY_FAILED:
        print("certline demo: the window could not be opened; running headless.")
        fresh = StationSession(env.profile(), env.credentials(), paths=env.station_paths())
        try:
            return _run_headless(fresh, env, args)
        finally:
            fresh.close()
    return completed.returncode
