"""``certline station``: the station's roles from a terminal (status, PINs, lock, unlock).

The same rules as the station window's "Lock station" and "Sign in", through
:class:`~certline.app.security.station_lock.StationLock` and :mod:`certline.app.security.roles`.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from certline.app.cli.role_args import RoleRefused, add_engineer_pin_option, command_line_gate, engineer_pin
from certline.app.security.redaction import register_secret
from certline.app.security.roles import Action, Role
from certline.app.security.station_lock import (
    MIN_PIN_LENGTH,
    StationLock,
    StationLockError,
    StationLockUnreadable,
)
from certline.app.station.credential_source import SecretFromEnvError, secret_from_env


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "station",
        help="roles: who may do what at this station (PINs, lock, unlock)",
        description="Technicians start, pause and retry batches, scan and print; engineers also edit "
        "profiles, pin trust anchors, change passcodes, re-provision units and unlock the station. "
        "A station without an engineer PIN refuses nothing. See docs/roles.md.",
    )
    sub = parser.add_subparsers(dest="station_command", metavar="ACTION", required=True)
    status = sub.add_parser(
        "status",
        help="show which PINs are set, whether the station is locked, who acts",
        description="Show whether the engineer and technician PINs are set, whether the station is locked, "
        "and the role this terminal's OS account acts in. Never shows a PIN.",
    )
    status.set_defaults(func=_status)

    set_pin = sub.add_parser(
        "set-pin",
        help="set or change the engineer PIN, or set or remove the technician PIN",
        description="The new PIN is read twice from a hidden prompt, or from the environment variable "
        "named by --new-pin-env. Changing a PIN needs the engineer PIN (prompted, or --engineer-pin-env).",
    )
    set_pin.add_argument("--role", choices=[r.value for r in Role], required=True, help="whose PIN")
    set_pin.add_argument(
        "--new-pin-env", metavar="VAR", help="read the new PIN from environment variable VAR"
    )
    set_pin.add_argument("--remove", action="store_true", help="remove the technician PIN")
    add_engineer_pin_option(set_pin)
    set_pin.set_defaults(func=_set_pin)

    lock = sub.add_parser(
        "lock",
        help="lock the station: engineer actions then need the engineer PIN",
        description="Lock the station: batches still run, but editing profiles, pinning trust anchors, "
        "changing passcodes, re-provisioning and station settings need the engineer PIN. Needs an "
        "engineer PIN to be set first (set-pin --role engineer).",
    )
    lock.set_defaults(func=_lock)

    unlock = sub.add_parser(
        "unlock",
        help="unlock the station (needs the engineer PIN)",
        description="Unlock the station for engineer work (the station window too). The engineer PIN is "
        "asked at a hidden prompt, or read from the variable named by --engineer-pin-env.",
    )
    add_engineer_pin_option(unlock)
    unlock.set_defaults(func=_unlock)


def _status(args: argparse.Namespace) -> int:
    lock = StationLock()
    gate = command_line_gate(args, lock)
    operator = gate.operator
    try:
        has_pin = lock.has_pin()
    except StationLockUnreadable as exc:
        print("station:        locked (the lock file is damaged)")
        print(f"this terminal:  {operator}")
        print(f"certline station status: {exc}", file=sys.stderr)
        return 1
    print(f"engineer PIN:   {'set' if has_pin else 'not set (roles are off: everyone acts as engineer)'}")
    print(f"technician PIN: {'set' if lock.has_technician_pin() else 'not set'}")
    print(f"station:        {'locked' if lock.locked else 'unlocked'}")
    print(f"this terminal:  {operator}" if operator else "this terminal:  nobody")
    return 0


def _new_pin(args: argparse.Namespace, role: str) -> str:
    if args.new_pin_env:
        pin = secret_from_env(args.new_pin_env, register=False)
    else:
        if not sys.stdin.isatty():
            raise RoleRefused("no terminal to ask for the new PIN: use --new-pin-env VAR")
        pin = getpass.getpass(f"New {role} PIN: ")
        if getpass.getpass("Repeat it: ") != pin:
            print("certline station set-pin: the two PINs differ; nothing changed", file=sys.stderr)
            raise SystemExit(1)
    if len(pin) >= MIN_PIN_LENGTH:  # a refused short PIN need not be scrubbed from its refusal
        register_secret(pin)
    return pin


def _engineer_pin_for_change(args: argparse.Namespace) -> str:
    return engineer_pin(args, "change a PIN", locked_station=False)


def _set_pin(args: argparse.Namespace) -> int:
    lock = StationLock()
    try:
        if args.role == Role.ENGINEER.value:
            if args.remove:
                print(
                    "certline station set-pin: the engineer PIN cannot be removed, only changed",
                    file=sys.stderr,
                )
                return 2
            current = _engineer_pin_for_change(args) if lock.has_pin() else None
            lock.set_pin(_new_pin(args, "engineer"), current_pin=current)
        else:
            if not lock.has_pin():
                print(
                    "certline station set-pin: set the engineer PIN first (--role engineer)", file=sys.stderr
                )
                return 2
            engineer = _engineer_pin_for_change(args)
            lock.set_technician_pin(
                None if args.remove else _new_pin(args, "technician"), engineer_pin=engineer
            )
    except StationLockError as exc:
        print(f"certline station set-pin: {exc}", file=sys.stderr)
        return 1
    except SecretFromEnvError as exc:  # --new-pin-env names a variable that is not exported
        print(f"certline station set-pin: {exc} (--new-pin-env)", file=sys.stderr)
        return 2
    print(f"{args.role} PIN {'removed' if args.remove else 'set'}")
    return 0


def _lock(args: argparse.Namespace) -> int:
    try:
        StationLock().lock()
    except StationLockError as exc:
        print(f"certline station lock: {exc}", file=sys.stderr)
        return 1
    print("station locked")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    lock = StationLock()
    try:
        if not lock.locked:
            print("station is not locked")
            return 0
        if not lock.unlock(engineer_pin(args, Action.UNLOCK_STATION.value, locked_station=False)):
            raise RoleRefused("wrong engineer PIN; the station stays locked")
    except StationLockUnreadable as exc:  # no PIN can unlock a file that is not a lock
        raise RoleRefused(str(exc)) from None
    print("station unlocked")
    return 0
