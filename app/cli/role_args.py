"""The role check on the command line (see :mod:`certline.app.security.roles` and ``docs/roles.md``).

The OS account that runs ``certline`` acts as technician on a locked station. An engineer
action (editing profiles, pinning trust anchors, changing passcodes, re-provisioning, station
settings) then needs the engineer PIN, for this one command only (the station stays locked):
asked for at a hidden prompt, or, for automation, read from the environment variable named by
``--engineer-pin-env VAR`` (the documented override). A station without an engineer PIN, or
one an engineer left unlocked, refuses nothing.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from certline.app.security.redaction import register_secret
from certline.app.security.roles import Action, Operator, RoleGate, RoleRequired
from certline.app.security.station_lock import StationLock, StationLockError
from certline.app.station.credential_source import SecretFromEnvError, secret_from_env

#: sysexits.h EX_NOPERM: what a script sees when the station's roles refused the command
EXIT_NOT_PERMITTED = 77


class RoleRefused(Exception):
    """The command needs a role this run could not prove; the message says how to prove it."""


def add_engineer_pin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engineer-pin-env",
        metavar="VAR",
        help="on a locked station, read the engineer PIN for this command from environment variable "
        "VAR (for automation; without it a terminal asks for the PIN)",
    )


def command_line_gate(args: argparse.Namespace, lock: StationLock | None = None) -> RoleGate:
    """This run's gate: the OS account (or ``--operator``) as the station's roles see it."""
    return RoleGate.for_command_line(lock or StationLock(), getattr(args, "operator", None))


def authorise(args: argparse.Namespace, *actions: Action, gate: RoleGate | None = None) -> Operator:
    """The operator allowed to take every one of ``actions``, proving the engineer role if needed.

    Raises :class:`RoleRefused` with what to do when the role cannot be proved.
    """
    gate = gate or command_line_gate(args)
    if all(gate.allows(action) for action in actions):
        operator = gate.operator
        assert operator is not None
        return operator
    # name only what this role may not do: "start or resume a batch" is no reason to refuse a technician
    wanted = " and ".join(action.value for action in actions if not gate.allows(action))
    pin = engineer_pin(args, wanted)
    current = gate.operator
    try:
        gate.sign_in(current.name if current else "", pin, unlock=False)
    except StationLockError as exc:
        raise RoleRefused(f"to {wanted}: {exc}") from None
    try:
        for action in actions:
            gate.require(action)
    except RoleRequired:
        raise RoleRefused(f"to {wanted}: the PIN given is not the engineer PIN") from None
    operator = gate.operator
    assert operator is not None
    return operator


def engineer_pin(args: argparse.Namespace, wanted: str, *, locked_station: bool = True) -> str:
    """The engineer PIN from ``--engineer-pin-env`` or a hidden prompt (registered for redaction).

    ``locked_station`` False: the PIN is needed whatever the lock says (changing a PIN, unlocking),
    so the refusal does not blame the lock.
    """
    var = getattr(args, "engineer_pin_env", None)
    if var:
        try:
            return secret_from_env(var)
        except SecretFromEnvError as exc:  # a script forgot to export it: refused, not a crash
            raise RoleRefused(f"to {wanted}: {exc} (--engineer-pin-env)") from None
    if not sys.stdin.isatty():
        if locked_station:
            raise RoleRefused(
                f"to {wanted} on this locked station the engineer role is needed: run it in a terminal "
                "to be asked for the engineer PIN, or name a variable holding it with --engineer-pin-env VAR"
            )
        raise RoleRefused(
            f"to {wanted} the engineer PIN is needed: run it in a terminal to be asked for it, "
            "or name a variable holding it with --engineer-pin-env VAR"
        )
    pin = getpass.getpass("Engineer PIN: ")
    register_secret(pin)
    return pin
