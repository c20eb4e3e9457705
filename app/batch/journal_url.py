"""Choosing the journal: a ``postgresql://`` URL selects the shared journal, nothing the local
SQLite file. The database password never travels in the URL: it comes from the OS keyring,
from an environment variable the operator names, or from libpq itself (.pgpass, service file,
peer or certificate authentication).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from certline.app.batch.journal_api import JournalBackend, JournalError

log = logging.getLogger(__name__)

ENV_URL = "CERTLINE_JOURNAL_URL"
ENV_STATION = "CERTLINE_STATION"
SCHEMES = ("postgresql", "postgres")
#: libpq sslmodes that do not check the server's certificate and name: refused
_UNVERIFIED_SSLMODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca"})


class JournalUrlError(JournalError):
    """The journal URL is unusable (the message never repeats a password)."""


def _setting(name: str) -> str | None:
    from certline.app.config.settings import SettingsError, load_settings

    try:
        value = getattr(load_settings(), name)
    except SettingsError as exc:
        raise JournalUrlError(str(exc)) from exc
    return str(value) if value else None


def station_name(explicit: str | None = None) -> str:
    """``--station``, else ``CERTLINE_STATION``, else the station setting, else the host name."""
    name = (
        explicit or os.environ.get(ENV_STATION) or _setting("station_name") or socket.gethostname()
    ).strip()
    if not name or len(name) > 64 or any(c in name for c in "\r\n\t"):
        raise JournalUrlError(f"station name {name!r} must be 1-64 printable characters")
    return name


def journal_url(explicit: str | None = None) -> str | None:
    """``--journal``, else ``CERTLINE_JOURNAL_URL``, else the station setting "journal_url"."""
    return explicit or os.environ.get(ENV_URL) or _setting("journal_url")


def redact_url(url: str) -> str:
    """The URL with any password replaced (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def check_url(url: str) -> None:
    """Refuse a URL that carries a password or turns TLS verification down.

    Connections over TCP to anything but this host must use ``sslmode=verify-full``; a local
    socket or 127.0.0.1/::1 may go without TLS (libpq's default then is not "off" but
    "nothing to verify": the traffic never leaves the machine)."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise JournalUrlError(f"unsupported journal URL scheme {parts.scheme!r}: use postgresql://")
    if parts.password is not None:
        raise JournalUrlError(
            "the journal URL must not contain a password: store it with 'certline journal set-password', "
            "pass --journal-password-env VAR, or use libpq's .pgpass / service file"
        )
    query = dict(parse_qsl(parts.query))
    if "password" in query:
        raise JournalUrlError("the journal URL must not contain a password parameter")
    sslmode = query.get("sslmode")
    host = query.get("host") or parts.hostname or ""
    local = host == "" or host.startswith("/") or host in ("localhost", "127.0.0.1", "::1")
    if sslmode in _UNVERIFIED_SSLMODES and not (local and sslmode == "disable"):
        raise JournalUrlError(
            f"sslmode={sslmode} does not verify the database server; use sslmode=verify-full "
            "with sslrootcert=CA-FILE"
        )
    if not local and sslmode != "verify-full":
        raise JournalUrlError(
            f"the journal at {host} is reached over the network: add sslmode=verify-full&sslrootcert=CA-FILE "
            "(TLS verification is never turned off)"
        )


def keyring_user(url: str) -> str:
    """The keyring entry of a database password: user@host:port/db (never the password)."""
    parts = urlsplit(url)
    return f"journal/{parts.username or ''}@{parts.hostname or ''}:{parts.port or 5432}{parts.path}"


def resolve_password(
    url: str, password_env: str | None, keyring_get: Callable[[str], str | None]
) -> str | None:
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise JournalUrlError(f"--journal-password-env {password_env}: that variable is not set")
        return value
    from certline.app.security.secret_store import SecretStoreError

    try:
        return keyring_get(keyring_user(url))
    except SecretStoreError as exc:  # no usable keyring: libpq's .pgpass/service may still apply
        log.info("no database password from the OS keyring (%s); leaving it to libpq", exc)
        return None


def _keyring_get(user: str) -> str | None:
    import keyring

    from certline.app.security.secret_store import SERVICE

    return keyring.get_password(SERVICE, user)


def open_journal(
    url: str | None,
    *,
    sqlite_path: Path,
    station: str,
    password_env: str | None = None,
    audit_head: Path | None = None,
    keyring_get: Callable[[str], str | None] | None = None,
    **pg_options: Any,
) -> JournalBackend:
    """The station's journal: the shared PostgreSQL one when ``url`` is given, else SQLite."""
    if not url:
        from certline.app.batch.journal import Journal

        return Journal(sqlite_path, station=station)
    check_url(url)
    password = resolve_password(url, password_env, keyring_get or _keyring_get)
    if password:
        from certline.app.security.redaction import register_secret

        register_secret(password)  # scrubbed from every log line and message from here on
    from certline.app.batch.journal_pg import PgJournal

    if audit_head is None:
        from certline.app.config.paths import ensure_private_dir

        ensure_private_dir(sqlite_path.parent)
        where = hashlib.sha256(keyring_user(url).encode()).hexdigest()[:12]
        audit_head = sqlite_path.with_name(f"shared-journal-{where}.audit-head")
    return PgJournal(url, station=station, password=password, audit_head=audit_head, **pg_options)


def test_connection(url: str, station: str | None, password: str | None) -> str:
    """Blocking connection test for the settings view: open the shared journal (schema checked,
    created in an empty database) and name the stations that wrote it. Raises JournalError with
    a message safe to show (never the password)."""
    check_url(url)
    if password:
        from certline.app.security.redaction import register_secret

        register_secret(password)
    else:
        password = resolve_password(url, None, _keyring_get)
    from certline.app.batch.journal_pg import PgJournal

    journal = PgJournal(url, station=station_name(station), password=password, max_outage=5.0)
    try:
        stations = sorted(journal.audit.verify_stations())
    finally:
        journal.close()
    return ", ".join(stations)


def save_journal_settings(url: str | None, station: str | None, password: str | None) -> None:
    """Store the station's journal choice (settings.json) and the password (OS keyring only)."""
    from certline.app.config.settings import load_settings, save_settings
    from certline.app.security.secret_store import SecretStore

    if url:
        check_url(url)
    if station:
        station_name(station)
    if url and password:
        SecretStore().set_journal_password(keyring_user(url), password)
    save_settings(load_settings().replace(journal_url=url or None, station_name=station or None))
