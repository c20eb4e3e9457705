"""``certline report export``: a batch report from the journal, as JSON or CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certline.app.batch.journal_api import JournalError
from certline.app.batch.report import export_report, render
from certline.app.cli.journal_args import add_journal_arguments, journal_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="export batch reports", description="Export batch reports from the station's journal."
    )
    sub = parser.add_subparsers(dest="report_command", metavar="ACTION", required=True)
    export = sub.add_parser(
        "export",
        help="write one batch's report",
        description="Write one batch's report: every unit with its serial number, final state, "
        "certificate serial, fingerprint and expiry, and the reason for each failure.",
    )
    export.add_argument(
        "--batch", type=int, required=True, metavar="ID", help="batch number (see 'certline batch status')"
    )
    export.add_argument("--format", choices=("json", "csv"), default="json", help="report file format")
    export.add_argument("--out", type=Path, metavar="FILE", help="write here instead of standard output")
    add_journal_arguments(export)
    export.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    try:
        journal = journal_from_args(args, max_outage=30.0)
    except JournalError as exc:
        print(f"certline report export: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            if args.out:
                export_report(journal, args.batch, args.format, args.out)
            else:
                sys.stdout.write(render(journal, args.batch, args.format))
        except KeyError as exc:
            print(f"certline report export: {exc.args[0]}", file=sys.stderr)
            return 2
        except JournalError as exc:
            print(f"certline report export: {exc}", file=sys.stderr)
            return 2
    finally:
        journal.close()
    return 0
