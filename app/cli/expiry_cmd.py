"""``certline expiry``: every unit this station provisioned or renewed, soonest expiry first."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from certline.app.batch.journal_api import JournalError
from certline.app.cli.journal_args import add_journal_arguments, journal_from_args
from certline.app.config.paths import refuse_station_config_target
from certline.app.station.expiry import COLUMNS, expiry_rows, row_urgency


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "expiry",
        help="list units by certificate expiry",
        description="List every unit this station provisioned or renewed with the certificate it holds "
        "(the latest one written and verified), the one that expires soonest first, with the days "
        "left. Renew a unit with 'certline reenroll'.",
    )
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")
    parser.add_argument("--within", type=float, metavar="DAYS", help="only units expiring within DAYS")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of standard output")
    add_journal_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        journal = journal_from_args(args, max_outage=30.0)
        try:
            rows = expiry_rows(journal, args.within)
        finally:
            journal.close()
    except JournalError as exc:
        print(f"certline expiry: {exc}", file=sys.stderr)
        return 2
    if args.out:
        refuse_station_config_target(args.out)
    out = args.out.open("w", encoding="utf-8", newline="") if args.out else sys.stdout
    try:
        if args.format == "json":
            json.dump(rows, out, indent=2)
            out.write("\n")
        elif args.format == "csv":
            writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        else:
            _print_table(rows, out)
    finally:
        if args.out:
            out.close()
    return 0


def _print_table(rows: list[dict[str, Any]], out: TextIO, now: datetime | None = None) -> None:
    """A table a person reads: a header line, soonest expiry first, and a line when it is empty."""
    if not rows:
        print("No certificates in the journal match.", file=out)
        return
    print(
        f"{'DAYS LEFT':>9}  {'URGENCY':<8} {'UNIT SERIAL':<20} {'CERTIFICATE SERIAL':<40} NOT AFTER (UTC)",
        file=out,
    )
    for row in rows:
        unit = row["device_serial"] or "?"
        urgency = row_urgency(row, now)  # an expired certificate is told apart from one with hours left
        print(
            f"{row['days_left']:>9}  {urgency:<8} {unit:<20} {row['cert_serial']:<40} {row['not_after']}",
            file=out,
        )
