"""Who may do what at a station: the technician and engineer roles (no Qt here).

A line station is set up by an engineer and run all day by technicians. The table
:data:`PERMITTED` says which :class:`Action` each :class:`Role` may take; :class:`RoleGate`
holds the operator acting now and refuses what their role may not do. The use cases in
``app/station`` ask the gate before they act, so the GUI and the CLI get the same rule; the
views only ask :meth:`RoleGate.allows` to grey out what would be refused.

Roles are proved by PINs, one per role, kept as salted hashes by
:class:`~certline.app.security.station_lock.StationLock` (the engineer PIN is the station-lock PIN).
The operator *name* is declared at sign-in and recorded with every batch and audit record;
the PIN proves the role, not the person (see ``docs/roles.md`` for why, and for the OS-account
rule of the command line).

Which operator a process starts with (:func:`starting_operator`):

* no engineer PIN set: the station is not set up for roles; whoever runs it is the engineer
  (a bench or a first day works as before);
* engineer PIN set, station unlocked: the engineer who unlocked it is still in charge;
* station locked, no technician PIN: a technician, named after the OS account;
* station locked, technician PIN set: nobody until someone signs in (GUI). The command line
  maps the OS account to the technician role instead (``for_command_line``);
* a lock file that is there but is not a lock (overwritten, damaged): a technician, and no PIN
  can prove the engineer role until an engineer restores or removes the file (fails closed).

PIN checks are deliberately slow (PBKDF2): call :meth:`RoleGate.sign_in` from a worker thread.
"""

from __future__ import annotations

import enum
import getpass
import logging
import threading
from dataclasses import dataclass

from certline.app.security.station_lock import StationLock, StationLockError, StationLockUnreadable

log = logging.getLogger(__name__)


class Role(enum.StrEnum):
    TECHNICIAN = "technician"
    ENGINEER = "engineer"


class Action(enum.StrEnum):
    """Everything the role check guards; the value is how messages name it."""

    START_BATCH = "start or resume a batch"
    PAUSE_BATCH = "pause or stop a batch"
    RETRY_UNITS = "retry units"
    SKIP_UNITS = "skip units"
    SCAN_LABELS = "scan labels"
    PRINT_LABELS = "print labels"
    EDIT_PROFILES = "edit profiles"
    PIN_TRUST_ANCHOR = "pin a trust anchor"
    CHANGE_SECRETS = "change passcodes or passwords"
    REPROVISION = "re-provision a unit"
    EDIT_SETTINGS = "change station settings"
    UNLOCK_STATION = "unlock the station"


_TECHNICIAN_ACTIONS = frozenset(
    {
        Action.START_BATCH,
        Action.PAUSE_BATCH,
        Action.RETRY_UNITS,
        Action.SKIP_UNITS,
        Action.SCAN_LABELS,
        Action.PRINT_LABELS,
    }
)

#: The one table of who may do what. An engineer may do everything a technician may.
PERMITTED: dict[Role, frozenset[Action]] = {
    Role.TECHNICIAN: _TECHNICIAN_ACTIONS,
    Role.ENGINEER: frozenset(Action),
}


@dataclass(frozen=True)
class Operator:
    """The person acting now: the name they gave and the role their PIN proved."""

    name: str
    role: Role

    def __str__(self) -> str:
        return f"{self.name} ({self.role.value})"


class RoleRequired(PermissionError):
    """The operator's role may not take this action; the message says who may and how."""

    def __init__(self, action: Action, operator: Operator | None) -> None:
        self.action = action
        self.operator = operator
        if operator is None:
            text = f"sign in to {action.value}"
        else:
            text = (
                f"{operator.name} is signed in as {operator.role.value}; "
                f"to {action.value} the engineer role is needed (sign in with the engineer PIN)"
            )
        super().__init__(text)


def may(role: Role, action: Action) -> bool:
    return action in PERMITTED[role]


def os_account() -> str:
    """The OS account's name, the operator of record when nobody typed a name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME (some containers)
        return "unknown"


def starting_operator(lock: StationLock, name: str | None = None) -> Operator | None:
    """Who acts when the station window or a command starts, before anyone signs in (see module doc).

    Reads the lock file (a small local file): fine on any thread but the GUI's first paint.
    """
    who = name or os_account()
    try:
        if not lock.has_pin() or not lock.locked:
            return Operator(who, Role.ENGINEER)
        if lock.has_technician_pin():
            return None
    except StationLockUnreadable as exc:  # fail closed: batches only, every engineer action refused
        log.error("%s", exc)
    return Operator(who, Role.TECHNICIAN)


class RoleGate:
    """The operator acting at this station now, and the check every guarded use case makes.

    Thread-safe: the GUI signs in from a worker while use cases ask from others.
    """

    def __init__(self, lock: StationLock | None, operator: Operator | None) -> None:
        self.station_lock = lock
        self._operator = operator
        self._mutex = threading.Lock()

    @classmethod
    def unrestricted(cls, name: str | None = None) -> RoleGate:
        """A gate for a station without a lock file at all (tests, the demo): the engineer."""
        return cls(None, Operator(name or os_account(), Role.ENGINEER))

    @classmethod
    def for_station(cls, lock: StationLock, name: str | None = None) -> RoleGate:
        """The station window's gate: starts as :func:`starting_operator` says."""
        return cls(lock, starting_operator(lock, name))

    @classmethod
    def for_command_line(cls, lock: StationLock, name: str | None = None) -> RoleGate:
        """The command line's gate: the OS account acts as technician on a locked station.

        Whoever can run ``certline`` under this account can already run batches; the
        technician PIN guards the shared station window. Engineer actions still need the
        engineer PIN (:meth:`sign_in`).
        """
        operator = starting_operator(lock, name) or Operator(name or os_account(), Role.TECHNICIAN)
        return cls(lock, operator)

    # -- state --------------------------------------------------------------------------------
    @property
    def operator(self) -> Operator | None:
        with self._mutex:
            return self._operator

    def allows(self, action: Action) -> bool:
        operator = self.operator
        return operator is not None and may(operator.role, action)

    def require(self, action: Action) -> Operator:
        """The operator, when their role may take ``action``; :class:`RoleRequired` otherwise."""
        operator = self.operator
        if operator is None or not may(operator.role, action):
            raise RoleRequired(action, operator)
        return operator

    # -- changes (slow: PBKDF2; call from a worker) -------------------------------------------
    def sign_in(self, name: str, pin: str, *, unlock: bool = True) -> Operator:
        """Sign ``name`` in with the role ``pin`` proves; the engineer PIN also unlocks the station
        (``unlock=False``: for this process only, as the command line does for one command).

        Raises :class:`StationLockError` for a wrong PIN (the message never holds the PIN).
        """
        lock = self.station_lock
        if lock is None:
            raise StationLockError("this station has no PINs; everyone acts as engineer")
        name = name.strip() or os_account()
        role = lock.role_for_pin(pin)
        if role is None:
            raise StationLockError("wrong PIN")
        if role == "engineer" and unlock:
            lock.unlock(pin)
        operator = Operator(name, Role(role))
        with self._mutex:
            self._operator = operator
        return operator

    def sign_out(self) -> Operator | None:
        """End the engineer's or technician's session: lock the station, back to the starting operator."""
        lock = self.station_lock
        if lock is None:
            return self.operator
        try:
            if lock.has_pin():
                lock.lock()
        except StationLockUnreadable as exc:  # nothing to write to; the session ends all the same
            log.error("%s", exc)
        name = self.operator.name if self.operator is not None else None
        after = starting_operator(lock, name)
        with self._mutex:
            self._operator = after
        return after

    def act_as(self, operator: Operator) -> None:
        """Adopt an operator already proved elsewhere (the station was found unlocked)."""
        with self._mutex:
            self._operator = operator
