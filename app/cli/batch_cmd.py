"""``certline batch run|resume|status``: provision units from the command line.

Exit status of ``run`` and ``resume``: 0 only when every device of the batch ended verified;
3 when the batch stopped to wait for a new passcode (uses spent, expired, or refused after use:
``certline profile set-passcode`` then ``certline batch resume`` continue it).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import threading
import time
from pathlib import Path

from certline.app.batch.engine import BatchEngine, BatchOptions
from certline.app.batch.events import BatchSnapshot
from certline.app.batch.journal_api import JournalBackend, JournalError
from certline.app.batch.states import DeviceState
from certline.app.batch.unfinished_renewal import REENROLL_KIND
from certline.app.cli.journal_args import add_journal_arguments, journal_from_args
from certline.app.cli.mes_cmd import add_mes_arguments, finish_for_batch, start_for_batch
from certline.app.cli.progress import ProgressPrinter
from certline.app.cli.role_args import add_engineer_pin_option, authorise, command_line_gate
from certline.app.cli.secret_args import SecretMissing, add_secret_arguments, credentials_for
from certline.app.config.est_urls import EstUrlError
from certline.app.config.profile import Profile, ScanIn
from certline.app.est.credentials import Credentials
from certline.app.labels.hook import LabelPrinting
from certline.app.labels.settings import settings_from_profile_json
from certline.app.security.roles import Action, RoleGate
from certline.app.station import StationSession
from certline.app.station.batch_run import BatchRun
from certline.app.station.expected_units import ExpectedUnits, read_expected_csv
from certline.app.station.hands_free import HandsFree, profile_port_source
from certline.app.station.passcode_change import quota_outlook, with_current_passcode
from certline.app.station.resume_choice import ResumeRefused, choose_batch_to_resume
from certline.app.station.scan_in import read_scans


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="run, resume or inspect provisioning batches",
        description="Provision units from the command line, finish interrupted batches, list batches.",
    )
    sub = parser.add_subparsers(dest="batch_command", metavar="ACTION", required=True)

    run = sub.add_parser(
        "run",
        help="provision the units on the given ports",
        description="Provision the units on the given ports with a profile. Before it starts it says "
        "how many uses the passcode has left and when it expires (from the profile and the journal). "
        "Exit status 0 only when every unit ended verified (provisioned now, or found holding the "
        "certificate this station issued it before); 1 when a unit failed or is still pending; 2 for "
        "a setup error; 3 when the batch stopped to wait for a new passcode (set it with 'certline "
        "profile set-passcode', then 'certline batch resume'); 130 after Ctrl+C (every unit stops at "
        "a journaled step).",
    )
    run.add_argument("--profile", required=True, help="profile name (see 'certline profile list')")
    _add_port_arguments(run)
    run.add_argument(
        "--expected",
        type=Path,
        metavar="FILE.csv",
        help="CSV of expected serial numbers (a 'serial' column, else the first column; an optional "
        "'label' column gives each unit's label ID for --scan-in)",
    )
    run.add_argument("--allow-unexpected", action="store_true", help="provision units not on --expected")
    run.add_argument("--work-order", metavar="W", help="work order recorded with the batch")
    run.add_argument("--operator", metavar="NAME", help="operator recorded with the batch")
    run.add_argument(
        "--offline", action="store_true", help="only collect CSRs; enroll later with 'batch resume'"
    )
    run.add_argument(
        "--reprovision",
        action="store_true",
        help="provision units this station already provisioned, and replace the certificate a unit "
        "already holds (the old one is journaled first)",
    )
    run.add_argument(
        "--scan-in",
        action="store_true",
        help="each unit waits until its label is scanned and must match it (as the profile's "
        "scan_in: required); scans are read from standard input, one per line (a keyboard-wedge "
        "scanner typing into this terminal)",
    )
    run.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help=_TIMEOUT_HELP)
    add_secret_arguments(run)
    add_mes_arguments(run)
    add_journal_arguments(run)
    add_engineer_pin_option(run)
    run.set_defaults(func=_run)

    resume = sub.add_parser(
        "resume",
        help="finish the unfinished devices of the latest (or given) batch",
        description="Continue every unfinished unit of a batch from its last journaled step (after a "
        "crash, a power cut, an offline batch or a stop for a new passcode): a journaled CSR is "
        "re-sent, never a new one. The passcode's id, limits and the enrollment rate are the "
        "profile's as saved now (a passcode set since is counted as the new one); exit status 3 "
        "when the passcode can pay for nothing more. When "
        "the batch's profile asks for scan-in, labels are read from standard input as with "
        "'batch run --scan-in'.",
    )
    resume.add_argument(
        "--batch", type=int, metavar="ID", help="batch to resume (default: the newest unfinished)"
    )
    _add_port_arguments(resume, required=False)
    resume.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=_TIMEOUT_HELP + "; resume also asks the EST server again for every unit pending approval",
    )
    add_secret_arguments(resume)
    add_mes_arguments(resume)
    add_journal_arguments(resume)
    resume.set_defaults(func=_resume)

    status = sub.add_parser(
        "status",
        help="list recent batches and unfinished devices",
        description="List the 20 most recent batches with their counts, or one batch's units.",
    )
    status.add_argument("--batch", type=int, metavar="ID", help="show one batch's devices")
    status.add_argument(
        "--line", action="store_true", help="shared journal: units per station and who holds which unit"
    )
    add_journal_arguments(status)
    status.set_defaults(func=_status)


STOP_WAIT = 62.0
"""Seconds the units get to finish their current step after the batch stops (EST requests still
in flight are ended after the first 2, see :meth:`BatchRun.stop`)."""

_TIMEOUT_HELP = (
    "stop the batch after this long; also caps each EST request's overall deadline "
    "(the profile's request_timeout, default 30 s); a unit the EST server asks to come back "
    "later than this stays pending approval ('batch resume' asks again)"
)


def _with_request_deadline(profile: Profile, timeout: float | None) -> Profile:
    """The profile with its EST request deadline capped by ``--timeout``: a batch told to stop
    after 10 s must not sit 30 s in one request to a server that answers a byte at a time."""
    if timeout is None or timeout <= 0 or timeout >= profile.request_timeout:
        return profile
    return dataclasses.replace(profile, request_timeout=timeout)


def _add_port_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument(
        "--port", action="append", metavar="PATH", help="serial port or pyserial URL (repeatable)"
    )
    group.add_argument(
        "--ports", choices=("auto",), help="watch USB serial ports matching the profile's filters"
    )
    parser.add_argument("--count", type=int, metavar="N", help="with --ports auto: stop after N units")


def _require_trust_anchor(profile: Profile) -> None:
    """One line saying what to configure, before anything starts (never a traceback)."""
    from certline.app.cli.trust_check import trust_anchor_problem

    problem = trust_anchor_problem(profile)
    if problem:
        raise ValueError(problem)


def _load_profile(name: str) -> Profile:
    from certline.app.config.profile_store import ProfileStore

    return ProfileStore().load(name)


def _run(args: argparse.Namespace) -> int:
    gate = _authorised_gate(args)
    try:
        profile = _with_request_deadline(_load_profile(args.profile), args.timeout)
        if args.scan_in:
            profile = dataclasses.replace(profile, scan_in=ScanIn.REQUIRED)
        _require_trust_anchor(profile)
        credentials = credentials_for(profile, args)
        expected = read_expected_csv(args.expected) if args.expected else ExpectedUnits(frozenset())
        settings_from_profile_json(profile.to_json())  # a bad label setting stops before any unit
        journal = journal_from_args(args)
    except (SecretMissing, OSError, ValueError, LookupError, JournalError) as exc:
        print(f"certline batch run: {exc}", file=sys.stderr)
        return 2
    options = BatchOptions(
        work_order=args.work_order,
        operator=args.operator,
        station=journal.station,
        expected=expected.serials if args.expected else None,
        label_ids=tuple(sorted(expected.label_ids.items())),
        allow_unexpected=args.allow_unexpected,
        reprovision=args.reprovision,
        offline=args.offline,
        pending_max_wait=_pending_wait(args),
    )
    session = _open_session(profile, credentials, "run", journal, gate)
    if session is None:
        return 2
    try:
        expected_count = len(expected.serials) if args.expected else None
        if not _passcode_outlook_allows(session, args, expected_units=expected_count):
            return EXIT_NEEDS_PASSCODE
        run = _batch_run(session, args)
        run.start(options)
        return _drive(run, args)
    except JournalError as exc:
        print(f"certline batch run: {exc}", file=sys.stderr)
        return 2
    finally:
        session.close()


def _resume(args: argparse.Namespace) -> int:
    gate = _authorised_gate(args)
    try:
        journal = journal_from_args(args)
    except JournalError as exc:
        print(f"certline batch resume: {exc}", file=sys.stderr)
        return 2
    try:
        chosen = choose_batch_to_resume(journal, batch_id=args.batch)
    except (JournalError, ResumeRefused) as exc:
        journal.close()
        print(f"certline batch resume: {exc}", file=sys.stderr)
        return 2
    if chosen is None:
        renewals = [d for d in journal.unfinished_devices() if d.kind == REENROLL_KIND]
        journal.close()
        print("certline batch resume: no unfinished batch in this station's journal")
        if renewals:  # 'batch status' lists them as open: say why they are not resumed here
            print(
                f"  {len(renewals)} unfinished field re-enrollment(s) (e.g. unit {renewals[0].serial_number}, "
                f"batch {renewals[0].batch_id}) are finished with 'certline reenroll', not here"
            )
        return 0 if not args.batch else 2
    batch = chosen.batch
    try:
        current = _load_profile(chosen.profile.name) if _profile_exists(chosen.profile.name) else None
        journaled = with_current_passcode(chosen.profile, current)
        profile = _with_request_deadline(journaled, args.timeout)
        _require_trust_anchor(profile)
        credentials = credentials_for(profile, args)
    except (SecretMissing, ValueError) as exc:
        journal.close()
        print(f"certline batch resume: {exc}", file=sys.stderr)
        return 2
    session = _open_session(profile, credentials, "resume", journal, gate)
    if session is None:
        return 2
    try:
        units = chosen.unfinished_units
        print(f"Resuming batch {batch.id} ({batch.profile_name}); {units} unfinished device(s)")
        if not _passcode_outlook_allows(session, args, expected_units=units):
            return EXIT_NEEDS_PASSCODE
        run = _batch_run(session, args)
        options = BatchOptions(
            work_order=batch.work_order,
            operator=batch.operator,
            station=journal.station,
            pending_max_wait=_pending_wait(args),
        )
        run.resume(batch.id, options)
        return _drive(run, args)
    except JournalError as exc:
        print(f"certline batch resume: {exc}", file=sys.stderr)
        return 2
    finally:
        session.close()


def _authorised_gate(args: argparse.Namespace) -> RoleGate:
    """This run's roles, checked before anything is loaded: starting a batch is a technician's
    action, ``--reprovision`` an engineer's (see app/cli/role_args.py)."""
    gate = command_line_gate(args)
    wanted = [Action.START_BATCH] + ([Action.REPROVISION] if getattr(args, "reprovision", False) else [])
    authorise(args, *wanted, gate=gate)
    return gate


def _open_session(
    profile: Profile, credentials: Credentials, command: str, journal: JournalBackend, roles: RoleGate
) -> StationSession | None:
    """The station session, or None after one line on stderr when the profile's EST URL cannot
    be used (a label or device group contradicting the URL, in a profile saved before that was
    refused, or in the journal's copy of a batch's profile)."""
    try:
        session = StationSession(profile, credentials, journal=journal, roles=roles)
    except EstUrlError as exc:
        print(f"certline batch {command}: profile {profile.name!r}: {exc}", file=sys.stderr)
        return None
    session.prepare_devices()  # the device hosts start while the batch is set up
    return session


EXIT_NEEDS_PASSCODE = 3


def _profile_exists(name: str) -> bool:
    from certline.app.config.profile_store import ProfileStore

    return ProfileStore().exists(name)


def _passcode_outlook_allows(
    session: StationSession, args: argparse.Namespace, *, expected_units: int | None
) -> bool:
    """Say what the passcode can still pay for; False (nothing started) when it can pay for none."""
    outlook = quota_outlook(session.profile, session.journal, expected_units)
    if outlook is None:
        return True
    if outlook.short:
        print(f"certline batch: warning: {outlook.message}", file=sys.stderr)
    else:
        print(f"Passcode: {outlook.message}")
    if outlook.expired or outlook.uses_left == 0:
        _tell_new_passcode(session.profile.name, args)
        return False
    return True


def _tell_new_passcode(profile_name: str, args: argparse.Namespace) -> None:
    print(
        "Nothing more is enrolled with this passcode; every unit keeps its journaled step. Set a new "
        f"passcode, then continue:\n  certline profile set-passcode {profile_name} [--uses N] "
        f"[--expires YYYY-MM-DD]\n  certline batch resume{_ports_again(args)}",
        file=sys.stderr,
    )


def _ports_again(args: argparse.Namespace) -> str:
    """The batch and port options of this command, for the resume it suggests: without the ports
    a resume only enrolls the journaled CSRs and waits for the units to be plugged in (found by
    a newcomer who copied the hint and got "plug the unit in to write it" with the unit plugged
    in), and without ``--batch`` it would continue the newest batch, not this one."""
    batch = f" --batch {args.batch}" if getattr(args, "batch", None) else ""  # resume of an older batch
    if getattr(args, "port", None):
        return batch + "".join(f" --port {shlex.quote(port)}" for port in args.port)
    if getattr(args, "ports", None) == "auto":
        return batch + " --ports auto"
    return batch


def _pending_wait(args: argparse.Namespace) -> float:
    """With --timeout the batch waits for approval at most that long; a server asking to come
    back later leaves the unit pending (``batch resume`` asks again)."""
    default = BatchOptions().pending_max_wait
    return min(default, args.timeout) if args.timeout is not None else default


def _batch_run(session: StationSession, args: argparse.Namespace) -> BatchRun:
    """The batch lifecycle; with ``--ports auto`` it watches the profile's USB ports (hands-free)."""
    watching = getattr(args, "ports", None) == "auto"
    return BatchRun(session, HandsFree(profile_port_source(session.profile)) if watching else None)


def _drive(run: BatchRun, args: argparse.Namespace) -> int:
    """Hand the ports to the batch, print its progress, and stop it when it is done or timed out."""
    session, engine = run.session, run.engine
    assert engine is not None, "start or resume the batch first"
    printer = ProgressPrinter()
    session.bus.subscribe(printer.on_event)
    labels = LabelPrinting(session.journal, session.bus)
    mes = start_for_batch(session.journal, session.bus, args)
    try:
        return _drive_batch(run, engine, args, printer)
    finally:
        labels.close()  # the labels of units that just finished still go out
        finish_for_batch(mes)  # and so do their MES records (or they stay queued, said on stderr)


def _drive_batch(
    run: BatchRun, engine: BatchEngine, args: argparse.Namespace, printer: ProgressPrinter
) -> int:
    if engine.labels is not None:
        _read_scans_from_stdin(run)
    if args.port:
        run.add_ports(args.port)
    elif run.hands_free is not None:
        _say_what_is_watched(run.hands_free, args)
        run.watch(report_existing=True)
    interrupted = False
    needs_passcode = threading.Event()

    def watch_passcode(event: object) -> None:
        if isinstance(event, BatchSnapshot) and event.passcode_wait is not None:
            needs_passcode.set()

    run.session.bus.subscribe(watch_passcode)
    try:
        finished = _wait(
            engine, args.timeout, args.count if run.hands_free is not None else None, needs_passcode
        )
    except KeyboardInterrupt:
        print("Stopping after the current step of every device...", file=sys.stderr)
        finished, interrupted = False, True
    reason = engine.quota.waiting_reason if engine.quota is not None else None
    run.stop(STOP_WAIT, close=False)
    if finished:
        run.close_if_complete()
    snaps = engine.devices()
    printer.print_totals(snaps)
    if interrupted:
        return 130  # 128 + SIGINT, like every shell tool stopped with Ctrl+C
    if reason is not None and not finished:
        assert engine.quota is not None
        print(f"certline batch: the batch stopped: {reason}", file=sys.stderr)
        print(f"certline batch: now {engine.quota.describe()}", file=sys.stderr)
        _tell_new_passcode(engine.profile.name, args)
        return EXIT_NEEDS_PASSCODE
    return 0 if finished and engine.all_verified() else 1


def _say_what_is_watched(hands_free: HandsFree, args: argparse.Namespace) -> None:
    """``--ports auto`` with nothing plugged in must not look like a hang: say what it waits for."""
    present = [p.device for p in hands_free.source.ports()]
    until = f"{args.count} unit(s) are done" if args.count else "Ctrl+C"
    if args.timeout is not None:
        until += f" or {args.timeout:g} s have passed"
    if present:
        print(
            f"Provisioning {', '.join(present)} and every USB serial unit plugged in until {until}.",
            file=sys.stderr,
        )
    else:
        print(
            "No USB serial unit is connected yet (serial ports without a USB VID:PID are ignored unless the "
            f"profile opts in with include_non_usb_ports). Waiting for units until {until}.",
            file=sys.stderr,
        )


def _read_scans_from_stdin(run: BatchRun) -> None:
    """Scan-in: every line typed (or scanned) into this terminal is a label for the batch."""
    if sys.stdin.isatty():
        print("Scan each unit's label (one per line); units wait for their label.", file=sys.stderr)
    reader = threading.Thread(
        target=read_scans, args=(sys.stdin, run.scan, sys.stdout), name="scan-in", daemon=True
    )
    reader.start()


def _wait(
    engine: BatchEngine, timeout: float | None, count: int | None, needs_passcode: threading.Event
) -> bool:
    """True when the batch finished (or ``count`` units did); False on timeout, or as soon as
    the batch waits for a new passcode (a command line has nobody to ask for one)."""
    done = threading.Event()

    def check(_event: object) -> None:
        finished = [
            s
            for s in engine.devices()
            if s.state in (DeviceState.DONE, DeviceState.FAILED, DeviceState.SKIPPED)
        ]
        if count is not None and len(finished) >= count:
            done.set()

    if count is not None:
        engine.bus.subscribe(check)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if needs_passcode.is_set():
            return False
        if count is not None and done.is_set():
            return True
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return False
        step = 0.5 if remaining is None else min(0.5, remaining)
        if count is None and engine.wait(step):
            return True
        if count is not None:
            done.wait(step)


#: the states a unit's job ends in, in the order ``batch status`` counts them
_ENDED = (DeviceState.DONE, DeviceState.SKIPPED, DeviceState.FAILED)


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
            print(f"{'UNIT':>5}  {'SERIAL':<16} {'PORT':<24} {'STATE':<16} STEP OR ERROR")
            for snap in journal.devices(args.batch):
                print(
                    f"{snap.device_id:>5}  {snap.serial_number or '?':<16} {snap.port:<24} "
                    f"{snap.state.value:<16} {snap.error or snap.step}"
                )
            return 0
        for batch in journal.batches(20):
            counts = journal.device_state_counts(batch.id)
            total = sum(counts.values())
            done, skipped, failed = (counts.get(s.value, 0) for s in _ENDED)
            ended = batch.ended_at.isoformat(timespec="seconds") if batch.ended_at else "open"
            started = batch.started_at.isoformat(timespec="seconds")
            where = f"[{batch.station}] " if journal.shared else ""
            print(
                f"batch {batch.id:>4}  {where}{started}  {batch.profile_name:<16} "
                f"work order {batch.work_order or '-':<10} {total} device(s): {done} done, {skipped} skipped, "
                f"{failed} failed, {total - done - skipped - failed} unfinished  ({ended})"
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
    print(f"{'STATION':<24} {'STATE':<16} {'UNITS':>6}")
    for row in progress():
        print(f"{row['station']:<24} {row['state']:<16} {row['units']:>6}")
    for row in holders():
        print(
            f"held: {row['serial_number']:<20} by {row['holder']} (lease until {row['lease_until']:%H:%M:%S})"
        )
    return 0
