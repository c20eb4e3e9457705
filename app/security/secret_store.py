"""EST secrets in the OS keyring, under one naming scheme, never in a weak backend by accident.

Naming scheme (the contract other tools and the docs rely on)
-------------------------------------------------------------
Every entry uses keyring service ``certline`` and username
``<profile-name>/<purpose>``:

=============================  =========================================================
``<profile>/passcode``         EST enrollment passcode (DTM: Basic token = base64(it))
``<profile>/user-password``    HTTP Basic password for the ``user-password`` auth style
``<profile>/p12-password``     password of the PKCS#12 (or encrypted PEM key) client credential
``station/pin``                the station PIN (not tied to a profile)
=============================  =========================================================

So ``secret-tool lookup service certline username acme-line1/passcode`` (or
``keyring get certline acme-line1/passcode``) shows what Certline stored.

Backend policy
--------------
``keyring`` picks a backend by itself and, when nothing good is available,
quietly ends up with one that fails every call (``fail.Keyring``), forgets
everything (``null.Keyring``) or writes a plaintext file (``keyrings.alt``).
:class:`SecretStore` checks the backend before every use and refuses those
with :class:`KeyringUnavailable`, whose message says exactly what to do --
unless the station setting ``allow_insecure_keyring_backend`` (see
``app/config/settings.py``) names that very backend class.

Every call here may block on D-Bus (the unlock prompt included): call it from
a worker thread, never from the GUI thread. Every value read or written is
registered with ``certline.app.security.redaction`` so it cannot show up in a log line later.

This module only stores and reads entries. Which secrets a profile needs is
``app/security/secret_needs.py``; turning a profile into EST credentials (typed secret,
environment variable or keyring) is ``app/station/credential_source.py``.
"""

from __future__ import annotations

import enum
import os
import shutil
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

import keyring
import keyring.errors
from keyring.backend import KeyringBackend

from certline.app.config.profile import Profile
from certline.app.config.settings import StationSettings, load_settings, settings_path
from certline.app.security.redaction import register_secret, scrub

_T = TypeVar("_T")

SERVICE = "certline"
STATION_PIN_USERNAME = "station/pin"
MES_TOKEN_USERNAME = "station/mes-token"  # noqa: S105 - a keyring entry name, not a secret

#: the keyring's password is typed at a hidden prompt, never written on the command line (where
#: it would stay in the shell's history): docs/secrets.md, "A headless station"
HEADLESS_UNLOCK = (
    'dbus-run-session -- bash -c \'read -rsp "Keyring password: " PW; printf %s "$PW" | '
    "gnome-keyring-daemon --unlock --components=secrets; unset PW; certline ...'"
)
HEADLESS_HINT = f"install gnome-keyring and run inside a D-Bus session: {HEADLESS_UNLOCK}"
UNLOCK_HINT = (
    "unlock it from the desktop session, or on a headless station run Certline inside the "
    f"D-Bus session where you unlocked it: {HEADLESS_UNLOCK}"
)


class Purpose(enum.StrEnum):
    """What a profile's keyring entry is for; the value is the suffix of the keyring username."""

    PASSCODE = "passcode"
    USER_PASSWORD = "user-password"  # noqa: S105 - a key name, not a password
    P12_PASSWORD = "p12-password"  # noqa: S105 - a key name, not a password


#: The shortest passcode or password Certline stores for a profile. A shorter one is guessable, and
#: it also occurs inside ordinary words and numbers, so scrubbing it from every log line (as
#: ``certline.app.security.redaction`` must) would hide information the technician needs. EST servers issue far
#: longer ones (DigiCert DTM enrollment passcodes are long random strings).
MIN_PASSCODE_LENGTH = 8


def passcode_problem(value: str, purpose: Purpose | str = Purpose.PASSCODE) -> str | None:
    """Why ``value`` cannot be stored as a profile's ``purpose`` secret, or ``None`` when it can.

    The one rule for every place a passcode is typed in (``certline profile set-passcode``, the
    GUI's profile editor and first-run dialog), so they all accept and refuse the same values.
    The message never contains the value. A PKCS#12 password is only checked for emptiness: it
    was chosen by whoever made the file, and Certline must accept whatever opens it.
    """
    purpose = Purpose(purpose)
    what = "password" if purpose is not Purpose.PASSCODE else "passcode"
    if not value or not value.strip():
        return f"the {what} is empty"
    if purpose is Purpose.P12_PASSWORD:
        return None
    if len(value) < MIN_PASSCODE_LENGTH:
        return (
            f"the {what} is too short: an EST {what} has at least "
            f"{MIN_PASSCODE_LENGTH} characters -- check that it was copied completely"
        )
    return None


class SecretStoreError(Exception):
    """A secret could not be read or stored. Messages never contain a secret value."""


class KeyringUnavailable(SecretStoreError):
    """No usable keyring: refused by policy, unreachable, locked or failing.

    ``reason`` is a stable keyword for the GUI: ``no-backend``, ``insecure``,
    ``locked``, ``no-collection`` or ``error``.
    """

    def __init__(self, message: str, *, reason: str, backend: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.backend = backend


class InsecureKeyringBackend(KeyringUnavailable):
    """The backend does not protect secrets and the settings do not allow it."""


def keyring_username(profile: str | Profile, purpose: Purpose | str) -> str:
    """The keyring username for one of a profile's secrets: ``<profile-name>/<purpose>``."""
    name = profile.name if isinstance(profile, Profile) else profile
    if not name or "/" in name or any(ord(c) < 32 for c in name):
        raise ValueError(f"invalid profile name for a keyring entry: {name!r}")
    return f"{name}/{Purpose(purpose).value}"


def backend_class_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _insecure_kind(backend: KeyringBackend) -> str | None:
    """Why ``backend`` must not hold secrets, or None when it is a real keyring."""
    module = type(backend).__module__
    if module == "keyring.backends.fail":
        return "fail"
    if module == "keyring.backends.null":
        return "null"
    if module == "keyrings.alt" or module.startswith("keyrings.alt."):
        return "plaintext"
    if "plaintext" in type(backend).__name__.lower():
        return "plaintext"
    return None


def _chained(backend: KeyringBackend) -> list[KeyringBackend]:
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, ChainerBackend):
        return list(ChainerBackend.backends)
    return [backend]


def _no_backend_message(name: str) -> str:
    if sys.platform.startswith("linux"):
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            why = "there is no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)"
        elif not shutil.which("gnome-keyring-daemon"):
            why = "no Secret Service answers on the D-Bus session (gnome-keyring is not installed)"
        else:
            why = "no Secret Service answers on the D-Bus session (gnome-keyring-daemon not running)"
        return (
            f"No usable OS keyring: {why}; keyring fell back to {name}. On a desktop, log in to "
            f"a session with GNOME Keyring or KWallet. On a headless station, {HEADLESS_HINT}."
        )
    return (
        f"No usable OS keyring (keyring fell back to {name}). Check that the system keychain "
        "is available to this account."
    )


def _insecure_message(name: str, kind: str) -> str:
    what = {
        "null": "stores nothing (every secret would be silently lost)",
        "plaintext": "keeps secrets readable in a file",
        "fail": "fails every call",
    }[kind]
    return (
        f"Refusing keyring backend {name}: it {what}. It was probably chosen by "
        "PYTHON_KEYRING_BACKEND or keyringrc.cfg, or because no Secret Service was running. "
        f"Use the OS keyring ({HEADLESS_HINT} on a headless station), or accept this backend "
        f'on this station by setting "allow_insecure_keyring_backend": "{name}" in '
        f"{settings_path()}."
    )


class SecretStore:
    """Read and write Certline's secrets in the OS keyring (see the module docstring).

    ``backend``: a ``keyring`` backend instance; default is whatever
    ``keyring.get_keyring()`` selects (resolved on first use, because
    detection talks to D-Bus). ``settings``: station settings; default is
    loaded from ``settings.json`` on first use.
    """

    def __init__(
        self,
        backend: KeyringBackend | None = None,
        settings: StationSettings | None = None,
    ) -> None:
        self._backend = backend
        self._settings = settings
        self._checked = False
        self._lock = threading.Lock()

    # -- backend -------------------------------------------------------------------------

    def backend(self) -> KeyringBackend:
        """The backend in use, after the policy check. Raises :class:`KeyringUnavailable`."""
        with self._lock:
            if self._backend is None:
                self._backend = keyring.get_keyring()
            if not self._checked:
                self._enforce_policy(self._backend)
                self._checked = True
            return self._backend

    def describe_backend(self) -> str:
        """Full class name of the backend (what ``allow_insecure_keyring_backend`` must name).

        A chainer backend lists the backends it chains, in order. Never raises
        for a refused backend: this is what error messages and ``show`` print.
        """
        with self._lock:
            if self._backend is None:
                self._backend = keyring.get_keyring()
            backend = self._backend
        name = backend_class_name(backend)
        members = _chained(backend)
        if members != [backend]:
            name += " (" + ", ".join(backend_class_name(b) for b in members) + ")"
        return name

    def _enforce_policy(self, backend: KeyringBackend) -> None:
        settings = self._settings if self._settings is not None else load_settings()
        allowed = settings.allow_insecure_keyring_backend
        members = _chained(backend)
        if not members:  # a chainer with nothing to chain behaves like fail.Keyring
            name = backend_class_name(backend)
            raise KeyringUnavailable(_no_backend_message(name), reason="no-backend", backend=name)
        for member in members:
            kind = _insecure_kind(member)
            name = backend_class_name(member)
            if kind is None or name == allowed:
                continue
            if kind == "fail":
                raise KeyringUnavailable(_no_backend_message(name), reason="no-backend", backend=name)
            raise InsecureKeyringBackend(_insecure_message(name, kind), reason="insecure", backend=name)

    def check_backend(self, *, probe: bool = True) -> None:
        """Raise :class:`KeyringUnavailable` (with what to do) unless secrets can be used.

        With ``probe`` the keyring is also asked for a (non-existent) entry, which is
        what finds a locked keyring or a Secret Service without a default collection.
        """
        backend = self.backend()
        if probe:
            self._call(lambda: backend.get_password(SERVICE, "station/probe"))

    def _call(self, operation: Callable[[], _T]) -> _T:
        name = self.describe_backend()
        try:
            return operation()
        except keyring.errors.KeyringLocked:
            raise KeyringUnavailable(
                f"The OS keyring ({name}) is locked and could not be unlocked (the unlock "
                f"prompt was dismissed or cannot be shown here): {UNLOCK_HINT}.",
                reason="locked",
                backend=name,
            ) from None
        except keyring.errors.InitError as exc:
            raise KeyringUnavailable(
                f"The OS keyring ({name}) has no default collection and could not create one "
                f"({scrub(str(exc))}). Creating it needs a password prompt; on a headless "
                f"station create and unlock it with: {HEADLESS_HINT}.",
                reason="no-collection",
                backend=name,
            ) from None
        except keyring.errors.NoKeyringError:
            raise KeyringUnavailable(_no_backend_message(name), reason="no-backend", backend=name) from None
        except Exception as exc:  # noqa: BLE001 - backends raise D-Bus/OS errors of any type
            raise KeyringUnavailable(
                f"The OS keyring ({name}) failed: {type(exc).__name__}: {scrub(str(exc))}",
                reason="error",
                backend=name,
            ) from None

    # -- entries -------------------------------------------------------------------------

    def get(self, profile: str | Profile, purpose: Purpose | str) -> str | None:
        """The stored secret, or None when there is no entry."""
        return self._get(keyring_username(profile, purpose))

    def set(self, profile: str | Profile, purpose: Purpose | str, value: str) -> None:
        """Store (or replace) a secret. Empty values are refused: delete instead."""
        self._set(keyring_username(profile, purpose), value)

    def delete(self, profile: str | Profile, purpose: Purpose | str) -> bool:
        """Remove an entry; True when one existed."""
        return self._delete(keyring_username(profile, purpose))

    def has(self, profile: str | Profile, purpose: Purpose | str) -> bool:
        return self.get(profile, purpose) is not None

    def delete_all(self, profile: str | Profile) -> list[Purpose]:
        """Remove every entry of a profile (used when the profile is deleted)."""
        return [p for p in Purpose if self.delete(profile, p)]

    def get_journal_password(self, entry: str) -> str | None:
        """The shared journal's database password (``entry``: see certline.app.batch.journal_url.keyring_user)."""
        return self._get(entry)

    def set_journal_password(self, entry: str, password: str) -> None:
        self._set(entry, password)

    def get_mes_token(self) -> str | None:
        """The MES endpoint's bearer token (docs/mes.md), one per station."""
        return self._get(MES_TOKEN_USERNAME)

    def set_mes_token(self, token: str) -> None:
        self._set(MES_TOKEN_USERNAME, token)

    def get_station_pin(self) -> str | None:
        return self._get(STATION_PIN_USERNAME)

    def set_station_pin(self, pin: str) -> None:
        self._set(STATION_PIN_USERNAME, pin)

    def delete_station_pin(self) -> bool:
        return self._delete(STATION_PIN_USERNAME)

    def has_station_pin(self) -> bool:
        return self.get_station_pin() is not None

    def _get(self, username: str) -> str | None:
        backend = self.backend()
        value = self._call(lambda: backend.get_password(SERVICE, username))
        register_secret(value)
        return value

    def _set(self, username: str, value: str) -> None:
        if not value:
            raise SecretStoreError(f"refusing to store an empty secret for {username}")
        register_secret(value)
        backend = self.backend()
        self._call(lambda: backend.set_password(SERVICE, username, value))

    def _delete(self, username: str) -> bool:
        backend = self.backend()

        def remove() -> bool:
            try:
                backend.delete_password(SERVICE, username)
            except keyring.errors.PasswordDeleteError:
                return False
            return True

        return self._call(remove)
