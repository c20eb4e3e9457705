"""``certline journal migrate|set-password|test|import``: administer the journal.

``migrate`` brings the schema up to date (forward only; run once per line after an update).
``set-password`` stores the shared database's password in the OS keyring, read from the
terminal or standard input, never from the command line. ``import`` moves a station's SQLite
history into the shared journal (idempotent).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from certline.app.batch.journal_api import JournalError
from certline.app.batch.journal_url import JournalUrlError, check_url, journal_url, keyring_user
from certline.app.cli.journal_args import add_journal_arguments, journal_from_args
from certline.app.cli.role_args import add_engineer_pin_option, authorise
from certline.app.config.paths import station_paths
from certline.app.security.roles import Action


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "journal",
        help="migrate, test or import the (shared) journal",
        description="Administer the journal: bring its schema up to date, test the connection to a "
        "shared journal, store its password in the OS keyring, import a station's SQLite journal.",
    )
    sub = parser.add_subparsers(dest="journal_command", metavar="ACTION", required=True)

    migrate = sub.add_parser(
        "migrate",
        help="bring the journal's schema up to date (forward only)",
        description="Apply the journal's pending schema migrations (forward only; stations of the line "
        "wait for each other). Refuses a schema newer than this Certline.",
    )
    add_journal_arguments(migrate)
    add_engineer_pin_option(migrate)
    migrate.set_defaults(func=_migrate)

    test = sub.add_parser(
        "test",
        help="connect to the journal and report its schema and stations",
        description="Connect to the selected journal (TLS verified as configured) and report that it is "
        "reachable and which stations write to it. Exit status 2 when it cannot be used.",
    )
    add_journal_arguments(test)
    test.set_defaults(func=_test)

    password = sub.add_parser(
        "set-password",
        help="store the shared database's password in the OS keyring (asked, not an argument)",
        description="Ask for the shared database's password (not echoed) and store it in the OS keyring "
        "for the journal URL; every command then finds it there. It is never an argument or in a file.",
    )
    add_journal_arguments(password)
    add_engineer_pin_option(password)
    password.set_defaults(func=_set_password)

    imp = sub.add_parser(
        "import",
        help="move a station's SQLite journal into the shared journal (idempotent)",
        description="Copy a station's SQLite journal (batches, units, certificates and its audit chain, "
        "verbatim) into the shared journal under this station's name. Importing the same file twice "
        "changes nothing.",
    )
    imp.add_argument(
        "--from", dest="source", type=Path, metavar="PATH.sqlite", help="default: this station's journal"
    )
    add_journal_arguments(imp)
    add_engineer_pin_option(imp)
    imp.set_defaults(func=_import)


def _shared_url(args: argparse.Namespace, command: str) -> str | None:
    url = journal_url(args.journal)
    if url is None:
        print(
            f"certline journal {command}: give --journal URL (or set CERTLINE_JOURNAL_URL)", file=sys.stderr
        )
    return url


def _migrate(args: argparse.Namespace) -> int:
    authorise(args, Action.EDIT_SETTINGS)
    url = journal_url(args.journal)
    try:
        if url is None:
            journal = journal_from_args(args)  # SQLite creates or upgrades its schema on open
            print(f"journal {journal.describe()}: schema up to date")
            journal.close()
            return 0
        journal = journal_from_args(args, migrate=True, max_outage=30.0)
        try:
            version = journal.schema_version()  # type: ignore[attr-defined]
        finally:
            journal.close()
    except JournalError as exc:
        print(f"certline journal migrate: {exc}", file=sys.stderr)
        return 2
    print(f"journal {journal.describe()}: schema version {version}")
    return 0


def _test(args: argparse.Namespace) -> int:
    try:
        journal = journal_from_args(args, max_outage=10.0)
        try:
            stations = sorted(journal.audit.verify_stations())
            where = journal.describe()
        finally:
            journal.close()
    except JournalError as exc:
        print(f"certline journal test: {exc}", file=sys.stderr)
        return 2
    print(f"journal {where}: reachable; stations: {', '.join(stations) or '-'}")
    return 0


def _set_password(args: argparse.Namespace) -> int:
    authorise(args, Action.CHANGE_SECRETS)
    url = _shared_url(args, "set-password")
    if url is None:
        return 2
    try:
        check_url(url)
    except JournalUrlError as exc:
        print(f"certline journal set-password: {exc}", file=sys.stderr)
        return 2
    if sys.stdin.isatty():
        secret = getpass.getpass("database password: ")
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        print("certline journal set-password: empty password, nothing stored", file=sys.stderr)
        return 2
    from certline.app.security.secret_store import SecretStore, SecretStoreError

    try:
        SecretStore().set_journal_password(keyring_user(url), secret)
    except SecretStoreError as exc:
        print(f"certline journal set-password: {exc}", file=sys.stderr)
        return 2
    print(f"stored the password for {keyring_user(url)} in the OS keyring")
    return 0


def _import(args: argparse.Namespace) -> int:
    authorise(args, Action.EDIT_SETTINGS)
    url = _shared_url(args, "import")
    if url is None:
        return 2
    source = args.source or station_paths().journal
    from certline.app.batch.journal_import import import_sqlite
    from certline.app.batch.journal_pg import PgJournal

    try:
        journal = journal_from_args(args, max_outage=30.0)
        assert isinstance(journal, PgJournal)
        try:
            result = import_sqlite(source, journal)
            verdict = journal.audit.verify_stations().get(journal.station)
        finally:
            journal.close()
    except JournalError as exc:
        print(f"certline journal import: {exc}", file=sys.stderr)
        return 2
    if result.already:
        print(f"{source} was already imported for station {journal.station}; nothing changed")
    else:
        print(
            f"imported {result.batches} batches, {result.devices} devices and {result.audit_records} "
            f"audit records from {source} as station {journal.station}"
        )
    if verdict is not None and not verdict.ok:
        print(
            f"audit chain of station {journal.station} does NOT verify: {verdict.problems}", file=sys.stderr
        )
        return 1
    return 0
