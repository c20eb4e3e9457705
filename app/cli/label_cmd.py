"""``certline label print``: (re)print a DONE unit's label from the journal; every reprint is audited."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from certline.app.batch.journal_api import JournalError
from certline.app.cli.journal_args import add_journal_arguments, journal_from_args
from certline.app.labels.content import LabelError, find_done_device
from certline.app.labels.outputs import LabelSink, PdfFolderSink, ZplSink, sink_for
from certline.app.labels.reprint import print_label, reprint_settings
from certline.app.labels.settings import LabelOutput, LabelSettings, parse_host_port
from certline.app.labels.zpl import DEFAULT_DEADLINE_S


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "label", help="print unit labels", description="Print unit labels (QR code + text) from the journal."
    )
    sub = parser.add_subparsers(dest="label_command", metavar="ACTION", required=True)
    printing = sub.add_parser(
        "print",
        help="reprint one done unit's label",
        description="Print the label of one done unit again, with the template of the profile its batch ran "
        "under, to the profile's label output or to --out/--zpl. The reprint is recorded in the audit log. "
        "Exit status 0 when the label went out, 1 when the printer or folder failed, 2 for a bad request.",
    )
    unit = printing.add_argument_group("unit (either --batch and --device, or --serial)")
    unit.add_argument("--batch", type=int, metavar="ID", help="batch number (see 'certline batch status')")
    unit.add_argument("--device", type=int, metavar="ID", help="device number within the batch")
    unit.add_argument("--serial", metavar="S", help="device serial number (its latest done unit)")
    where = printing.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, metavar="DIR", help="write a PDF into this folder")
    where.add_argument(
        "--zpl", metavar="HOST:PORT", help="send ZPL to this network label printer (port 9100 when omitted)"
    )
    printing.add_argument(
        "--deadline",
        type=float,
        default=DEFAULT_DEADLINE_S,
        metavar="SECONDS",
        help="overall time allowed to reach a ZPL printer",
    )
    printing.add_argument(
        "--operator",
        metavar="NAME",
        help="who asked for the reprint, for the audit log (default: login name)",
    )
    add_journal_arguments(printing)
    printing.set_defaults(func=_print)


def _sink(args: argparse.Namespace, settings: LabelSettings) -> LabelSink:
    if args.out is not None:
        return PdfFolderSink(args.out)
    if args.zpl is not None:
        return ZplSink(*parse_host_port(args.zpl), deadline_s=args.deadline)
    if settings.output is LabelOutput.ZPL:
        return ZplSink(*parse_host_port(settings.target), deadline_s=args.deadline)
    return sink_for(settings)


def _print(args: argparse.Namespace) -> int:
    if args.serial is not None and (args.batch is not None or args.device is not None):
        print("certline label print: give either --serial or --batch and --device", file=sys.stderr)
        return 2
    try:
        journal = journal_from_args(args)
    except JournalError as exc:
        print(f"certline label print: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            device_id = find_done_device(
                journal, batch_id=args.batch, device_id=args.device, serial=args.serial
            )
            settings = reprint_settings(journal, journal.device(device_id).batch_id)
            sink = _sink(args, settings)
        except (LabelError, ValueError, OSError) as exc:
            print(f"certline label print: {exc}", file=sys.stderr)
            return 2
        try:
            where = print_label(
                journal, device_id, settings, sink, reprint=True, operator=args.operator or getpass.getuser()
            )
        except LabelError as exc:
            print(f"certline label print: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"certline label print: {exc}", file=sys.stderr)
            return 1
    finally:
        journal.close()
    print(f"Label for device {device_id} printed: {where}")
    return 0
