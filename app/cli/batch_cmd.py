"""``certline batch run|resume|status``: provision units from the command line.

Exit status of ``run`` and ``resume``: 0 only when every device of the batch ended verified.
"""

from __future__ import annotations

import argparse
import csv
import sys
import threading
from pathlib import Path
from typing import Any

from app.batch.engine import BatchEngine, BatchOptions
from app.batch.journal_api import JournalBackend, JournalError
from app.batch.states import DeviceState
from app.cli.journal_args import add_journal_arguments, journal_from_args
from app.cli.progress import ProgressPrinter
from app.cli.secret_args import SecretMissing, add_secret_arguments, credentials_for
from app.profile import Profile
from app.station import StationSession


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("batch", help="run, resume or inspect provisioning batches")
    sub = parser.add_subparsers(dest="batch_command", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="provision the units on the given ports")
    run.add_argument("--profile", required=True, help="profile name (see 'certline profile list')")
    _add_port_arguments(run)
    run.add_argument("--expected", type=Path, metavar="FILE.csv", help="CSV of expected serial numbers")
    run.add_argument("--allow-unexpected", action="store_true", help="provision units not on --expected")
    run.add_argument("--work-order", metavar="W", help="work order recorded with the batch")
    run.add_argument("--operator", metavar="NAME", help="operator recorded with the batch")
    run.add_argument(
        "--offline", action="store_true", help="only collect CSRs; enroll later with 'batch resume'"
    )
    run.add_argument(
        "--reprovision", action="store_true", help="provision units this station already provisioned"
    )
    run.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="stop waiting after this long"
    )
    add_secret_arguments(run)
    add_journal_arguments(run)
    run.set_defaults(func=_run)

    resume = sub.add_parser("resume", help="finish the unfinished devices of the latest (or given) batch")
    resume.add_argument(
        "--batch", type=int, metavar="ID", help="batch to resume (default: the newest unfinished)"
    )
    _add_port_arguments(resume, required=False)
    resume.add_argument("--timeout", type=float, default=None, metavar="SECONDS")
    add_secret_arguments(resume)
    add_journal_arguments(resume)
    resume.set_defaults(func=_resume)

    status = sub.add_parser("status", help="list recent batches and unfinished devices")
    status.add_argument("--batch", type=int, metavar="ID", help="show one batch's devices")
    status.add_argument(
        "--line", action="store_true", help="shared journal: units per station and who holds which unit"
    )
    add_journal_arguments(status)
    status.set_defaults(func=_status)


def _add_port_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--port", action="append", metavar="PATH", help="serial port or pyserial URL (repeatable)"
    )
    group.add_argument(
        "--ports", choices=("auto",), help="watch USB serial ports matching the profile's filters"
    )
    parser.add_argument("--count", type=int, metavar="N", help="with --ports auto: stop after N units")


def read_expected(path: Path) -> frozenset[str]:
    """Serial numbers from a CSV export (a 'serial'/'serial_number' column, else the first column)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        return frozenset()
    header = [cell.strip().lower() for cell in rows[0]]
    column = next(
        (i for i, name in enumerate(header) if name in ("serial", "serial_number", "serialnumber")), None
    )
    body = rows[1:] if column is not None else rows
    index = column or 0
    return frozenset(row[index].strip() for row in body if len(row) > index and row[index].strip())


def _load_profile(name: str) -> Profile:
    from app.profile_store import ProfileStore

    return ProfileStore().load(name)


def _run(args: argparse.Namespace) -> int:
    try:
        profile = _load_profile(args.profile)
        credentials = credentials_for(profile, args)
        expected = read_expected(args.expected) if args.expected else None
        journal = journal_from_args(args)
    except (SecretMissing, OSError, ValueError, LookupError, JournalError) as exc:
        print(f"certline batch run: {exc}", file=sys.stderr)
        return 2
    options = BatchOptions(
        work_order=args.work_order,
        operator=args.operator,
        station=journal.station,
        expected=expected,
        allow_unexpected=args.allow_unexpected,
        reprovision=args.reprovision,
        offline=args.offline,
    )
    session = StationSession(profile, credentials, journal=journal)
    try:
        engine = session.start_batch(options)
        return _drive(engine, session, args)
    except JournalError as exc:
        print(f"certline batch run: {exc}", file=sys.stderr)
        return 2
    finally:
        session.close()


def _resume(args: argparse.Namespace) -> int:
    try:
        journal = journal_from_args(args)
        batches = journal.unfinished_batches()
    except JournalError as exc:
        print(f"certline batch resume: {exc}", file=sys.stderr)
        return 2
    chosen = (
        next((b for b in batches if b.id == args.batch), None)
        if args.batch
        else (batches[-1] if batches else None)
    )
    if chosen is None:
        journal.close()
        print("certline batch resume: no unfinished batch in this station's journal")
        return 0 if not args.batch else 2
    try:
        profile = Profile.from_json(chosen.profile_json)
        credentials = credentials_for(profile, args)
    except (SecretMissing, ValueError) as exc:
        journal.close()
        print(f"certline batch resume: {exc}", file=sys.stderr)
        return 2
    session = StationSession(profile, credentials, journal=journal)
    try:
        engine = session.start_batch(
            BatchOptions(work_order=chosen.work_order, operator=chosen.operator, station=journal.station),
            resume_batch=chosen.id,
        )
        print(
            f"Resuming batch {chosen.id} ({chosen.profile_name}); "
            f"{len(session.journal.unfinished_devices(chosen.id))} unfinished device(s)"
        )
        engine.enroll_collected()
        return _drive(engine, session, args)
    except JournalError as exc:
        print(f"certline batch resume: {exc}", file=sys.stderr)
        return 2
    finally:
        session.close()


def _drive(engine: BatchEngine, session: StationSession, args: argparse.Namespace) -> int:
    printer = ProgressPrinter()
    session.bus.subscribe(printer.on_event)
    watcher = None
    if args.port:
        engine.add_ports(args.port)
    elif args.ports == "auto":
        watcher = _watch_ports(engine, session.profile, args.count)
    try:
        finished = _wait(engine, args.timeout, args.count if watcher else None)
    except KeyboardInterrupt:
        print("Stopping after the current step of every device...", file=sys.stderr)
        finished = False
    if watcher is not None:
        watcher.stop()
    engine.stop()
    engine.wait(60)
    if finished and not session.journal.unfinished_devices(engine.batch_id):
        engine.finish()
    snaps = engine.devices()
    printer.print_totals(snaps)
    return 0 if finished and engine.all_verified() else 1


def _wait(engine: BatchEngine, timeout: float | None, count: int | None) -> bool:
    if count is None:
        return engine.wait(timeout)
    done = threading.Event()

    def check(_event: object) -> None:
        finished = [
            s
            for s in engine.devices()
            if s.state in (DeviceState.DONE, DeviceState.FAILED, DeviceState.SKIPPED)
        ]
        if len(finished) >= count:
            done.set()

    engine.bus.subscribe(check)
    return done.wait(timeout)


def _watch_ports(engine: BatchEngine, profile: Profile, count: int | None) -> Any:
    from app.device.discovery import HotplugWatcher, ListPortsSource

    source = ListPortsSource.from_filters(profile.port_filters)
    watcher = HotplugWatcher(source, on_added=lambda info: engine.add_port(info.device))
    watcher.start()
    return watcher


def _status(args: argparse.Namespace) -> int:
    try:
        journal = journal_from_args(args, max_outage=30.0)
    except JournalError as exc:
        print(f"certline batch status: {exc}", file=sys.stderr)
        return 2
    try:
        if args.line:
            return _line_status(journal)
        if args.batch:
            for snap in journal.devices(args.batch):
                print(
                    f"{snap.device_id:>5}  {snap.serial_number or '?':<16} {snap.port:<24} "
                    f"{snap.state.value:<16} {snap.error or snap.step}"
                )
            return 0
        for batch in journal.batches(20):
            snaps = journal.devices(batch.id)
            done = sum(1 for s in snaps if s.state == DeviceState.DONE)
            failed = sum(1 for s in snaps if s.state == DeviceState.FAILED)
            open_ = sum(
                1 for s in snaps if s.state not in (DeviceState.DONE, DeviceState.FAILED, DeviceState.SKIPPED)
            )
            ended = batch.ended_at.isoformat(timespec="seconds") if batch.ended_at else "open"
            started = batch.started_at.isoformat(timespec="seconds")
            where = f"[{batch.station}] " if journal.shared else ""
            print(
                f"batch {batch.id:>4}  {where}{started}  {batch.profile_name:<16} "
                f"work order {batch.work_order or '-':<10} {len(snaps)} devices: "
                f"{done} done, {failed} failed, {open_} unfinished  ({ended})"
            )
        return 0
    except JournalError as exc:
        print(f"certline batch status: {exc}", file=sys.stderr)
        return 2
    finally:
        journal.close()


def _line_status(journal: JournalBackend) -> int:
    """Units per station and state, and which station holds which unit right now."""
    progress = getattr(journal, "line_progress", None)
    holders = getattr(journal, "unit_holders", None)
    if progress is None or holders is None:
        print("certline batch status --line: needs a shared journal (--journal URL)", file=sys.stderr)
        return 2
    for row in progress():
        print(f"{row['station']:<24} {row['state']:<16} {row['units']:>6}")
    for row in holders():
        print(
            f"held: {row['serial_number']:<20} by {row['holder']} (lease until {row['lease_until']:%H:%M:%S})"
        )
    return 0
