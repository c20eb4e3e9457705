"""``certline audit verify``: check the hash chain(s) of the audit log.

The station's SQLite journal has one chain; the shared journal has one per station, each
verified and reported on its own."""

from __future__ import annotations

import argparse
import sys

from certline.app.batch.journal_api import JournalError
from certline.app.batch.journal_url import journal_url
from certline.app.cli.journal_args import add_journal_arguments, journal_from_args
from certline.app.config.paths import station_paths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit", help="verify the audit log", description="Check the station's audit log."
    )
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = sub.add_parser(
        "verify",
        help="detect edited or deleted audit records (every station's chain)",
        description="Check the hash chain of the station's audit log (with a shared journal: every "
        "station's chain, reported per station): every record links to the one before it, so an "
        "edited or deleted record breaks the chain. Exit status 1 when it is broken.",
    )
    add_journal_arguments(verify)
    verify.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    if journal_url(args.journal) is None:
        path = station_paths().journal
        if not path.exists():
            print(f"no journal at {path}")
            return 2
    try:
        journal = journal_from_args(args, max_outage=30.0)
        try:
            verdicts = journal.audit.verify_stations()
        finally:
            journal.close()
    except JournalError as exc:
        print(f"certline audit verify: {exc}", file=sys.stderr)
        return 2
    broken = False
    for station, verdict in sorted(verdicts.items()):
        if verdict.ok:
            print(f"audit log OK: {verdict.records} records, chain intact (station {station})")
            continue
        broken = True
        print(f"audit log BROKEN ({verdict.records} records, station {station}):")
        for problem in verdict.problems:
            print(f"  - {problem}")
    if not verdicts:
        print("audit log OK: 0 records")
    return 1 if broken else 0
