"""Saving a profile with the secret typed beside it (the station window's profile editor).

The secret goes to the OS keyring first and the profile file second. A keyring that cannot be
used (no D-Bus session, locked, refused by policy) then leaves nothing saved, and the editor's
"Not saved" is true. The other order, as the editor had it, wrote the profile and then failed on
the keyring: "Not saved" while the file was there, without its passcode (found by a newcomer at
the GUI with no D-Bus session). Should the profile file then fail to be written (disk full), the
keyring entry goes back to what it held.

A CA bundle file the profile names is read into it when it is saved
(:func:`with_pinned_trust_anchors`), as ``certline profile add|edit --ca`` does, and when a
profile is imported (:func:`import_profile`).

Keyring calls block (D-Bus): call :func:`save_profile_and_secret` from a worker thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from certline.app.config.profile import Profile
from certline.app.config.profile_store import ProfileError, ProfileStore, validate_profile
from certline.app.est.encoding import certs_to_pem
from certline.app.security.secret_needs import typed_secret_purpose
from certline.app.security.secret_store import KeyringUnavailable, SecretStore


class ProfileNotSaved(Exception):
    """Nothing was saved; the message says why and what to do (never a secret)."""


def trust_anchors_pem(path: Path) -> str:
    """The certificates of a CA bundle file as PEM, to pin into a profile (ValueError if none).

    A profile holds its trust anchors, never a file's name: a file outside the (engineer-guarded)
    profile store can be replaced by anyone who can write it, and the profile would then trust
    whatever it holds (docs/roles.md).
    """
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError:
        certs = []
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    if not certs:
        raise ValueError(f"{path} holds no PEM certificate")
    return certs_to_pem(certs)


def with_pinned_trust_anchors(profile: Profile) -> Profile:
    """``profile`` with a named CA bundle file read into it and the name dropped (anchors pinned
    already win, as they do for the EST client); as it is when it names no file."""
    if not profile.ca_bundle_file:
        return profile
    pem = profile.ca_bundle_pem or trust_anchors_pem(Path(profile.ca_bundle_file))
    return dataclasses.replace(profile, ca_bundle_pem=pem, ca_bundle_file=None)


def import_profile(
    store: ProfileStore, source: Path, *, name: str | None = None, overwrite: bool = False
) -> Profile:
    """Store the profile exported to ``source`` (``certline profile import``), with the CA bundle
    file it names read into it, as saving a profile does: an imported profile never trusts
    whatever a path holds later. A named file that cannot be read here fails the import, with
    nothing stored, instead of failing every enrollment later."""
    profile = store.read_import(source, name=name)
    named = profile.ca_bundle_file
    try:
        profile = with_pinned_trust_anchors(profile)
    except ValueError as exc:
        raise ProfileError(
            f"{source}: the profile trusts the CA bundle file {named}, which cannot be read on this "
            f"station ({exc}). Put the CA file there and import again, or import a profile "
            "exported with its CA pinned (certline profile edit NAME --ca FILE, then export)"
        ) from None
    store.save(profile, overwrite=overwrite)
    return profile


def save_profile_and_secret(
    store: ProfileStore,
    secrets: Callable[[], SecretStore],
    profile: Profile,
    secret: str,
    *,
    renamed_from: str | None = None,
) -> Profile:
    """Store ``secret`` (the profile's typed secret: passcode or password) in the keyring, then
    save ``profile``; returns the profile as saved. Without a typed secret, a renamed profile
    keeps the secret of its old name (copied inside the keyring); otherwise the keyring is not
    touched at all, so a profile without a secret can be saved on a station whose keyring is
    away."""
    try:
        profile = with_pinned_trust_anchors(profile)
        validate_profile(profile)  # what store.save checks, before the keyring is changed
    except (ValueError, ProfileError) as exc:
        raise ProfileNotSaved(f"{exc}; nothing was saved") from None
    purpose = typed_secret_purpose(profile)
    if not (secret or renamed_from):
        store.save(profile)
        return profile
    try:
        keyring = secrets()
        before = keyring.get(profile, purpose)
        value = secret or (keyring.get(renamed_from, purpose) if renamed_from else None)
        if value:
            keyring.set(profile, purpose, value)
    except KeyringUnavailable as exc:
        how = f" To save the profile without its {purpose.value}, clear that field." if secret else ""
        raise ProfileNotSaved(f"{exc} Nothing was saved.{how}") from None
    try:
        store.save(profile)
    except BaseException:  # disk full, permissions: the keyring goes back to what it held
        if value and value != before:
            if before:
                keyring.set(profile, purpose, before)
            else:
                keyring.delete(profile, purpose)
        raise
    return profile
