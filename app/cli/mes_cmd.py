"""``certline mes status|flush|set-token``: the station's hand-off to the MES (docs/mes.md).

Records are queued by the journal itself when a unit is DONE or FAILED; ``batch run``/``resume``
and the window deliver them while they run. ``status`` shows what still waits, ``flush``
delivers it now (e.g. after the MES was down while the station was off), ``set-token`` stores
the MES's bearer token in the OS keyring (read from the terminal or standard input).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from certline.app.batch.journal_api import JournalBackend, JournalError
from certline.app.batch.mes_record import CHANNELS
from certline.app.cli.journal_args import add_journal_arguments, journal_from_args
from certline.app.cli.role_args import add_engineer_pin_option, authorise
from certline.app.config.settings import SettingsError
from certline.app.mes.config import MesConfigError
from certline.app.mes.delivery import MesDelivery
from certline.app.security.roles import Action
from certline.app.security.secret_store import SecretStoreError
from certline.app.station.mes_handoff import mes_config, start_mes_handoff

#: how long ``batch run``/``resume`` keep delivering after the batch before they exit
BATCH_FLUSH_SECONDS = 10.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mes",
        help="hand-off to the MES: backlog, deliver now, store the token",
        description="Each unit that ends DONE or FAILED has a record queued in the journal for the MES "
        "(settings mes_drop_folder / mes_url, see docs/mes.md). Show what still waits, deliver it now, "
        "or store the MES token.",
    )
    sub = parser.add_subparsers(dest="mes_command", metavar="ACTION", required=True)
    status = sub.add_parser(
        "status",
        help="where records go and how many still wait",
        description="Show the configured channels and this station's records not yet delivered. "
        "Exit status 0 when nothing waits, 1 when records wait, 2 for a configuration problem.",
    )
    add_journal_arguments(status)
    status.set_defaults(func=_status)
    flush = sub.add_parser(
        "flush",
        help="deliver the waiting records now",
        description="Deliver this station's waiting records to the drop folder and/or the MES endpoint, "
        "retrying with backoff for up to --timeout seconds. Exit status 0 when nothing is left waiting, "
        "1 when records still wait (they stay queued), 2 for a configuration problem.",
    )
    flush.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="give up after this long"
    )
    add_mes_arguments(flush)
    add_journal_arguments(flush)
    flush.set_defaults(func=_flush)
    token = sub.add_parser(
        "set-token",
        help="store the MES endpoint's bearer token in the OS keyring (asked, not an argument)",
        description="Ask for the MES token (not echoed; or read one line from standard input) and keep it "
        "in the OS keyring; POSTs then send 'Authorization: Bearer <token>'. On a locked station this "
        "needs the engineer PIN, like every station secret.",
    )
    add_engineer_pin_option(token)
    token.set_defaults(func=_set_token)


def add_mes_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mes-token-env",
        metavar="VAR",
        help="environment variable holding the MES token (default: the keyring entry of 'certline mes "
        "set-token', or none)",
    )


def start_for_batch(journal: JournalBackend, bus: object, args: argparse.Namespace) -> MesDelivery | None:
    """The hand-off during ``batch run``/``resume``; a configuration problem is said, not fatal
    (the records stay queued in the journal)."""
    from certline.app.batch.events import EventBus

    try:
        return start_mes_handoff(
            journal,
            bus if isinstance(bus, EventBus) else None,
            token_env=getattr(args, "mes_token_env", None),
        )
    except (MesConfigError, SettingsError, SecretStoreError) as exc:
        print(f"MES hand-off off for this run: {exc} (records stay queued)", file=sys.stderr)
        return None


def finish_for_batch(delivery: MesDelivery | None) -> None:
    """After the batch: deliver for a few more seconds, then say what still waits."""
    if delivery is None or not delivery.channels:
        return
    delivery.stop()
    status = delivery.flush(BATCH_FLUSH_SECONDS)
    delivery.close()
    if status.waiting:
        print(
            f"MES: {status.waiting} record(s) still waiting ({status.last_error or 'not delivered yet'}); "
            "they stay queued: 'certline mes flush' or the next run delivers them",
            file=sys.stderr,
        )


def _open(args: argparse.Namespace, command: str) -> JournalBackend | None:
    try:
        return journal_from_args(args, max_outage=30.0)
    except JournalError as exc:
        print(f"certline mes {command}: {exc}", file=sys.stderr)
        return None


def _status(args: argparse.Namespace) -> int:
    try:
        config = mes_config(token_source=lambda _env: None)  # status posts nothing: no token needed
    except (MesConfigError, SettingsError) as exc:
        print(f"certline mes status: {exc}", file=sys.stderr)
        return 2
    journal = _open(args, "status")
    if journal is None:
        return 2
    try:
        print(f"station {journal.station}: {config.describe()}")
        waiting = 0
        for channel in config.channels or CHANNELS:
            backlog = journal.mes_backlog([channel])
            oldest = f", oldest {backlog.oldest.isoformat(timespec='seconds')}" if backlog.oldest else ""
            note = "" if channel in config.channels else " (not configured)"
            print(f"  {channel}: {backlog.waiting} waiting{oldest}{note}")
            if channel in config.channels:
                waiting += backlog.waiting
        last = journal.mes_backlog(config.channels).last_error
        if last:
            print(f"  last failure: {last}")
    except JournalError as exc:
        print(f"certline mes status: {exc}", file=sys.stderr)
        return 2
    finally:
        journal.close()
    return 1 if waiting else 0


def _flush(args: argparse.Namespace) -> int:
    try:
        config = mes_config(token_env=args.mes_token_env)
    except (MesConfigError, SettingsError, SecretStoreError) as exc:
        print(f"certline mes flush: {exc}", file=sys.stderr)
        return 2
    if not config.enabled:
        print(
            "certline mes flush: no MES configured (set mes_drop_folder or mes_url, see docs/mes.md)",
            file=sys.stderr,
        )
        return 2
    journal = _open(args, "flush")
    if journal is None:
        return 2
    delivery = MesDelivery(journal, config)
    try:
        status = delivery.flush(args.timeout)
    except JournalError as exc:
        print(f"certline mes flush: {exc}", file=sys.stderr)
        return 2
    finally:
        delivery.close()
        journal.close()
    print(f"delivered {delivery.delivered} record(s) ({config.describe()}); {status.waiting} still waiting")
    if status.waiting and status.last_error:
        print(f"last failure: {status.last_error}", file=sys.stderr)
    return 1 if status.waiting else 0


def _set_token(args: argparse.Namespace) -> int:
    authorise(args, Action.CHANGE_SECRETS)  # a station secret, like the shared journal's password
    token = getpass.getpass("MES token: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if not token:
        print("certline mes set-token: empty token, nothing stored", file=sys.stderr)
        return 2
    from certline.app.security.secret_store import SecretStore

    try:
        SecretStore().set_mes_token(token)
    except SecretStoreError as exc:
        print(f"certline mes set-token: {exc}", file=sys.stderr)
        return 2
    print("stored the MES token in the OS keyring")
    return 0
