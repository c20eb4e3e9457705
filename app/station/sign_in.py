"""Signing in and out at the station window, and locking it: the use cases, with their audit records.

The rules (which PIN proves which role, what locking does) are in :mod:`certline.app.security.roles` and
:mod:`certline.app.security.station_lock`; this module applies them to a session and records each
sign-in, refused sign-in and sign-out in the journal's audit, naming the operator and role.
Blocking (PBKDF2, a journal commit): call from a worker thread, never from the GUI thread.
"""

from __future__ import annotations

import logging
from typing import Any

from certline.app.batch.journal_api import JournalError
from certline.app.security.roles import Operator, os_account
from certline.app.security.station_lock import StationLock, StationLockError, StationLockUnreadable
from certline.app.station.session import StationSession

log = logging.getLogger(__name__)


def station_lock_of(session: StationSession) -> StationLock:
    lock = session.roles.station_lock
    if lock is None:
        raise StationLockError("this station has no PINs; everyone acts as engineer")
    return lock


def sign_in(session: StationSession, name: str, pin: str, *, engineer_only: bool = False) -> Operator:
    """Sign ``name`` in with the role ``pin`` proves (``engineer_only``: refuse the technician PIN,
    as "Unlock station" does). Raises :class:`StationLockError` for a wrong PIN."""
    lock = station_lock_of(session)
    who = name.strip() or os_account()
    try:
        if engineer_only and lock.role_for_pin(pin) != "engineer":
            raise StationLockError("wrong engineer PIN; the station stays locked")
        operator = session.roles.sign_in(who, pin)
    except StationLockError:
        _audit(session, "sign-in-refused", {"operator": who})
        raise
    _audit(session, "operator-signed-in", {"operator": operator.name, "role": operator.role.value})
    return operator


def sign_out(session: StationSession) -> Operator | None:
    """Lock the station (if it has an engineer PIN) and fall back to the starting operator."""
    before = session.roles.operator
    after = session.roles.sign_out()
    if before is not None:
        _audit(session, "operator-signed-out", {"operator": before.name, "role": before.role.value})
    return after


def lock_station(session: StationSession, new_engineer_pin: str | None = None) -> Operator | None:
    """Lock the station; the first time, ``new_engineer_pin`` becomes the engineer PIN."""
    lock = station_lock_of(session)
    try:
        if new_engineer_pin is not None:
            lock.set_pin(new_engineer_pin)
        elif not lock.has_pin():
            raise StationLockError("set an engineer PIN before locking the station")
    except StationLockUnreadable:
        sign_out(session)  # a lock file that is not a lock: whoever was signed in is not any more
        raise
    return sign_out(session)


def _audit(session: StationSession, kind: str, payload: dict[str, Any]) -> None:
    """Record it; a journal that cannot be written does not keep people out of the station."""
    try:
        session.journal.append_audit(kind, payload)
    except JournalError as exc:
        log.warning("could not record %s in the audit: %s", kind, exc)
