"""``certline audit verify``: check the hash chain of the station's audit log."""

from __future__ import annotations

import argparse

from app.batch.journal import Journal
from app.config.paths import station_paths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit", help="verify the audit log", description="Check the station's audit log."
    )
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = sub.add_parser(
        "verify",
        help="detect edited or deleted audit records",
        description="Check the hash chain of the station's audit log: every record links to the one "
        "before it, so an edited or deleted record breaks the chain. Exit status 1 when it is broken.",
    )
    verify.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    path = station_paths().journal
    if not path.exists():
        print(f"no journal at {path}")
        return 2
    journal = Journal(path)
    try:
        verdict = journal.audit.verify()
    finally:
        journal.close()
    if verdict.ok:
        print(f"audit log OK: {verdict.records} records, chain intact")
        return 0
    print(f"audit log BROKEN ({verdict.records} records):")
    for problem in verdict.problems:
        print(f"  - {problem}")
    return 1
