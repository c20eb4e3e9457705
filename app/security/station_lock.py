"""The engineer and technician PINs, and the lock that keeps a station's profiles (no Qt here).

A factory station is set up once by an engineer and then run all day by
technicians (the roles and what each may do: :mod:`certline.app.security.roles`).
Locking it keeps the profiles it was given: a locked station runs batches but
its profiles and settings cannot be edited until the engineer PIN is entered.
The views (GUI, CLI) ask this module; they never compare PINs.

An optional technician PIN (set by the engineer) is kept the same way. Only
salted PBKDF2-HMAC-SHA256 hashes of the PINs are stored, in
``station-lock.json`` in the station's config directory (0600, atomic write).
Verification uses a constant-time compare. Hashing is deliberately slow
(hundreds of milliseconds): call :meth:`StationLock.set_pin`,
:meth:`StationLock.verify` and :meth:`StationLock.unlock` from a worker thread
in a GUI.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certline.app.config.paths import ensure_private_dir, station_paths
from certline.app.config.settings import write_private_json

LOCK_FILE_NAME = "station-lock.json"
ALGORITHM = "pbkdf2-hmac-sha256"
DEFAULT_ITERATIONS = 600_000  # OWASP 2023 recommendation for PBKDF2-HMAC-SHA256
MIN_PIN_LENGTH = 4
MAX_PIN_LENGTH = 64


_RESTORE = (
    ". The station acts locked: engineer actions are refused until an engineer restores the file "
    "from a backup, or deletes it deliberately (no PINs: roles off) and sets the PINs again"
)


class StationLockError(Exception):
    """The PIN was refused or the lock file cannot be used; the message says why (never the PIN)."""


class StationLockUnreadable(StationLockError):
    """The lock file is there but is not a lock Certline wrote: unreadable, not JSON, or without
    the engineer PIN every lock file has. The station then acts locked (fails closed): a file
    replaced by mistake or on purpose, by an export saved over it for one, must not turn the
    roles off. An engineer restores it from a backup or deletes it deliberately."""


@dataclass(frozen=True)
class PinHash:
    """A stored PIN hash with everything needed to check a PIN against it."""

    salt: bytes
    digest: bytes
    iterations: int

    def to_json(self) -> dict[str, Any]:
        return {
            "algorithm": ALGORITHM,
            "iterations": self.iterations,
            "salt": base64.b64encode(self.salt).decode("ascii"),
            "hash": base64.b64encode(self.digest).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PinHash:
        if data.get("algorithm") != ALGORITHM:
            raise StationLockUnreadable(f"unsupported PIN hash algorithm {data.get('algorithm')!r}{_RESTORE}")
        try:
            return cls(
                salt=base64.b64decode(data["salt"], validate=True),
                digest=base64.b64decode(data["hash"], validate=True),
                iterations=int(data["iterations"]),
            )
        except (KeyError, ValueError, TypeError):
            raise StationLockUnreadable(f"the station lock's PIN hash is damaged{_RESTORE}") from None


def hash_pin(pin: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> PinHash:
    """Hash ``pin`` with a fresh 16-byte salt (or ``salt`` when re-checking)."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)
    return PinHash(salt=salt, digest=digest, iterations=iterations)


def check_pin(pin: str, stored: PinHash) -> bool:
    """True when ``pin`` matches ``stored``; the comparison takes the same time either way."""
    candidate = hash_pin(pin, iterations=stored.iterations, salt=stored.salt)
    return hmac.compare_digest(candidate.digest, stored.digest)


def validate_new_pin(pin: str) -> None:
    """Refuse PINs that are too short or too long to be useful (message names no digits)."""
    if len(pin) < MIN_PIN_LENGTH:
        raise StationLockError(f"the PIN must have at least {MIN_PIN_LENGTH} characters")
    if len(pin) > MAX_PIN_LENGTH:
        raise StationLockError(f"the PIN must have at most {MAX_PIN_LENGTH} characters")


@dataclass(frozen=True)
class LockStatus:
    locked: bool
    roles_on: bool
    """An engineer PIN is set: roles are enforced."""
    problem: str | None = None
    """Why the lock file cannot be used (the station then acts locked), or None."""


class StationLock:
    """The lock state and PIN hash of one station, kept in ``<config>/station-lock.json``.

    Attributes:
        path: the lock file.
        iterations: PBKDF2 iterations for newly set PINs (tests use fewer).
    """

    def __init__(self, path: Path | None = None, *, iterations: int = DEFAULT_ITERATIONS) -> None:
        self.path = path if path is not None else station_paths().config / LOCK_FILE_NAME
        self.iterations = iterations
        self._mutex = threading.Lock()

    @classmethod
    def for_config_dir(cls, config: Path, **kwargs: Any) -> StationLock:
        return cls(config / LOCK_FILE_NAME, **kwargs)

    # -- state ------------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        """The lock file's content; ``{}`` when there is none (no PINs: roles are off).

        Every file this class writes holds the engineer PIN's hash (a PIN is set before anything
        else is written), so a file without one was not written here: :class:`StationLockUnreadable`.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StationLockUnreadable(
                f"{self.path}: cannot read the station lock: {exc}{_RESTORE}"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("pin"), dict):
            raise StationLockUnreadable(
                f"{self.path} is not a station lock (it holds no engineer PIN; was something saved over "
                f"it?){_RESTORE}"
            )
        for key in ("pin", "technician_pin"):  # a damaged hash is caught here, not at the next PIN typed
            if key in data:
                if not isinstance(data[key], dict):
                    raise StationLockUnreadable(f"the station lock's PIN hash is damaged{_RESTORE}")
                PinHash.from_json(data[key])
        return data

    def _write(self, data: dict[str, Any]) -> None:
        ensure_private_dir(self.path.parent)
        write_private_json(self.path, data)

    def has_pin(self) -> bool:
        return "pin" in self._read()

    def status(self) -> LockStatus:
        """What a view shows: locked, roles on, and what is wrong with the lock file (if anything);
        a damaged file reads as locked with roles on (it fails closed), never as an error alone."""
        try:
            data = self._read()
        except StationLockUnreadable as exc:
            return LockStatus(locked=True, roles_on=True, problem=str(exc))
        return LockStatus(locked=bool(data.get("locked")) and "pin" in data, roles_on="pin" in data)

    @property
    def locked(self) -> bool:
        """Locked means: batches only, no profile or settings changes. Needs a PIN to be set."""
        data = self._read()
        return bool(data.get("locked")) and "pin" in data

    # -- changes ----------------------------------------------------------------------------
    def set_pin(self, new_pin: str, *, current_pin: str | None = None) -> None:
        """Set (or change, with the current PIN) the engineer PIN. Does not lock by itself."""
        validate_new_pin(new_pin)
        with self._mutex:
            data = self._read()
            if "pin" in data and not self._matches(data, current_pin):
                raise StationLockError("the current PIN is wrong")
            if self._matches(data, new_pin, key="technician_pin"):
                raise StationLockError("the engineer PIN must differ from the technician PIN")
            data["pin"] = hash_pin(new_pin, iterations=self.iterations).to_json()
            self._write(data)

    def verify(self, pin: str) -> bool:
        return self._matches(self._read(), pin)

    # -- the technician PIN (roles, see app/security/roles.py) --------------------------------
    def has_technician_pin(self) -> bool:
        return "technician_pin" in self._read()

    def set_technician_pin(self, new_pin: str | None, *, engineer_pin: str) -> None:
        """Set, change or (``None``) remove the technician PIN; only the engineer may.

        The two PINs must differ: a PIN is what tells the roles apart at sign-in.
        """
        with self._mutex:
            data = self._read()
            if not self._matches(data, engineer_pin):
                raise StationLockError("the engineer PIN is wrong (set one first with 'Lock station')")
            if new_pin is None:
                data.pop("technician_pin", None)
            else:
                validate_new_pin(new_pin)
                if new_pin == engineer_pin:
                    raise StationLockError("the technician PIN must differ from the engineer PIN")
                data["technician_pin"] = hash_pin(new_pin, iterations=self.iterations).to_json()
            self._write(data)

    def role_for_pin(self, pin: str) -> str | None:
        """``"engineer"`` or ``"technician"``: the role whose PIN ``pin`` is; None for neither."""
        data = self._read()
        if self._matches(data, pin):
            return "engineer"
        if self._matches(data, pin, key="technician_pin"):
            return "technician"
        return None

    def lock(self) -> None:
        with self._mutex:
            data = self._read()
            if "pin" not in data:
                raise StationLockError("set an engineer PIN before locking the station")
            data["locked"] = True
            self._write(data)

    def unlock(self, pin: str) -> bool:
        """Unlock when ``pin`` is right; False (and still locked) otherwise."""
        with self._mutex:
            data = self._read()
            if not self._matches(data, pin):
                return False
            data["locked"] = False
            self._write(data)
            return True

    @staticmethod
    def _matches(data: dict[str, Any], pin: str | None, *, key: str = "pin") -> bool:
        if key not in data or pin is None:
            return False
        return check_pin(pin, PinHash.from_json(data[key]))
