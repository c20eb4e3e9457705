"""``--journal URL``, ``--journal-password-env VAR`` and ``--station NAME`` for every command that
reads or writes the journal. Without a URL (and without ``CERTLINE_JOURNAL_URL``) the station's
own SQLite journal is used, as always."""

from __future__ import annotations

import argparse
from typing import Any

from certline.app.batch.journal_api import JournalBackend
from certline.app.batch.journal_url import (
    ENV_STATION,
    ENV_URL,
    JournalUrlError,
    journal_url,
    open_journal,
    station_name,
)
from certline.app.config.paths import station_paths


def add_journal_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("journal")
    group.add_argument(
        "--journal",
        metavar="URL",
        help="shared journal: postgresql://user@host:port/db, and for a remote server "
        f"?sslmode=verify-full &sslrootcert=CA (default: ${ENV_URL}, else this station's SQLite "
        "journal); never put the password in it",
    )
    group.add_argument(
        "--journal-password-env",
        metavar="VAR",
        help="read the database password from this environment variable (default: the OS keyring "
        "entry made by 'certline journal set-password', else libpq's .pgpass/service file)",
    )
    group.add_argument(
        "--journal-lease",
        type=float,
        metavar="SECONDS",
        help="shared journal: how long another station must wait before taking over a unit this "
        "station stopped renewing (default 60; renewed every third of it while working)",
    )
    group.add_argument(
        "--station",
        metavar="NAME",
        help=f"this station's name in the journal (default: ${ENV_STATION}, else the host name)",
    )


def journal_from_args(args: argparse.Namespace, **pg_options: Any) -> JournalBackend:
    """Open the journal the arguments (or the environment) select. Raises JournalError."""
    paths = station_paths()
    lease = getattr(args, "journal_lease", None)
    if lease is not None:
        if lease < 1:
            raise JournalUrlError("--journal-lease must be at least 1 second")
        pg_options.setdefault("lease_seconds", lease)
    return open_journal(
        journal_url(getattr(args, "journal", None)),
        sqlite_path=paths.journal,
        station=station_name(getattr(args, "station", None)),
        password_env=getattr(args, "journal_password_env", None),
        **pg_options,
    )


def uses_shared_journal(args: argparse.Namespace) -> bool:
    return journal_url(getattr(args, "journal", None)) is not None
