"""Saving a profile with the secret typed beside it (the station window's profile editor).

The secret goes to the OS keyring first and the profile file second. A keyring that cannot be
used (no D-Bus session, locked, refused by policy) then leaves nothing saved, and the editor's
"Not saved" is true. The other order, as the editor had it, wrote the profile and then failed on
the keyring: "Not saved" while the file was there, without its passcode (found by a newcomer at
the GUI with no D-Bus session).

Keyring calls block (D-Bus): call :func:`save_profile_and_secret` from a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable

from certline.app.config.profile import Profile
from certline.app.config.profile_store import ProfileStore
from certline.app.security.secret_needs import typed_secret_purpose
from certline.app.security.secret_store import KeyringUnavailable, SecretStore


class ProfileNotSaved(Exception):
    """Nothing was saved; the message says why and what to do (never a secret)."""


def save_profile_and_secret(
    store: ProfileStore,
    secrets: Callable[[], SecretStore],
    profile: Profile,
    secret: str,
    *,
    renamed_from: str | None = None,
) -> Profile:
    """Store ``secret`` (the profile's typed secret: passcode or password) in the keyring, then
    save ``profile``. Without a typed secret, a renamed profile keeps the secret of its old name
    (copied inside the keyring); otherwise the keyring is not touched at all, so a profile without
    a secret can be saved on a station whose keyring is away."""
    purpose = typed_secret_purpose(profile)
    if secret or renamed_from:
        try:
            keyring = secrets()
            value = secret or (keyring.get(renamed_from, purpose) if renamed_from else None)
            if value:
                keyring.set(profile, purpose, value)
        except KeyringUnavailable as exc:
            how = f" To save the profile without its {purpose.value}, clear that field." if secret else ""
            raise ProfileNotSaved(f"{exc} Nothing was saved.{how}") from None
    store.save(profile)
    return profile
