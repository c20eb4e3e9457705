"""``certline stats``: line statistics (throughput, first-pass yield, failure Pareto, step times)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from certline.app.batch.journal_api import JournalError
from certline.app.cli.journal_args import add_journal_arguments, journal_from_args
from certline.app.config.paths import refuse_station_config_target
from certline.app.station.line_stats import StatsScope, line_stats
from certline.app.station.line_stats_export import to_csv, to_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stats",
        help="line statistics of a work order or batch",
        description="Units per hour, first-pass yield, failures by step and by cause (Pareto), p50/p95 "
        "time per step and the same per station, from the station's journal (a shared journal, "
        "--journal URL: the whole line's, every station's units and causes). The numbers are those of "
        "the Statistics view; docs/statistics.md defines each one. Without a filter: the whole journal.",
    )
    parser.add_argument("--work-order", metavar="W", help="only batches of this work order")
    parser.add_argument(
        "--batch", type=int, metavar="ID", help="only this batch (see 'certline batch status')"
    )
    parser.add_argument(
        "--since", type=_moment, metavar="TIME", help="only units detected at or after TIME (ISO 8601)"
    )
    parser.add_argument(
        "--until", type=_moment, metavar="TIME", help="only units detected before TIME (ISO 8601)"
    )
    parser.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="output format (csv: one number a line)",
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of standard output")
    add_journal_arguments(parser)
    parser.set_defaults(func=run)


def _moment(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is this computer's local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r} (e.g. 2026-12-03T06:00)") from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def run(args: argparse.Namespace) -> int:
    scope = StatsScope(work_order=args.work_order, batch_id=args.batch, since=args.since, until=args.until)
    try:
        journal = journal_from_args(args)
    except JournalError as exc:
        print(f"certline stats: {exc}", file=sys.stderr)
        return 2
    try:
        stats = line_stats(journal, scope).to_dict()
    finally:
        journal.close()
    if not stats["scope"]["batches"]:
        print("certline stats: no batch in the journal matches; see 'certline batch status'", file=sys.stderr)
    if args.format == "json":
        text = json.dumps(stats, indent=2) + "\n"
    elif args.format == "csv":
        text = to_csv(stats)
    else:
        text = to_table(stats)
    if args.out:
        refuse_station_config_target(args.out)
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
