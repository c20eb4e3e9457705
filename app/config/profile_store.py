"""Profiles on disk: one JSON file per profile under ``station_paths().profiles``.

Why files and not a database: a profile is something people e-mail to the
next station, diff and review; one readable JSON file per profile with the
profile's name as file name makes that obvious. Files and the directory are
owner-only (0600/0700) -- a profile names servers and file paths, not
secrets, but it is still station configuration.

What is guaranteed:

* Names are safe file names on every platform (:func:`validate_profile_name`).
* Everything read is validated (:func:`validate_profile`) and rejected with a
  message naming the file and the field; a profile with an unknown key is
  rejected, so a hand-edited ``"passcode": ...`` never sneaks in and gets
  exported along with the profile.
* Export/import carry exactly the profile's fields (``Profile.to_json()``);
  secrets stay in the keyring (``certline.app.security.secret_store``) and never travel with a profile.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

from certline.app.config.est_urls import EstUrlError, parse_est_url
from certline.app.config.paths import ensure_private_dir, refuse_station_config_target, station_paths
from certline.app.config.profile import AuthStyle, Profile, parse_passcode_expiry
from certline.app.config.settings import write_private_json

SUFFIX = ".json"
MAX_CONCURRENCY = 64
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(10)}
#: keys that would mean somebody put a secret into a profile file
_SECRET_LIKE = re.compile(r"pass(code|word|phrase)|secret|token|^pin$|^pass$|^pwd$", re.IGNORECASE)
_PROFILE_FIELDS = frozenset(f.name for f in dataclasses.fields(Profile))
#: profile fields that describe the passcode without holding it (its non-secret id, usage limit
#: and expiry; see app/batch/passcode_quota.py): named like a secret, never one
_ABOUT_THE_PASSCODE = frozenset({"passcode_id", "passcode_max_uses", "passcode_expires"})
_SUBJECT_ATTR = re.compile(r"[A-Za-z][A-Za-z0-9.]*")


class ProfileError(Exception):
    """Base for profile store errors; messages name the profile or file."""


class InvalidProfileName(ProfileError, ValueError):
    pass


class InvalidProfile(ProfileError, ValueError):
    pass


class ProfileNotFound(ProfileError, LookupError):
    pass


class ProfileExists(ProfileError):
    pass


def validate_profile_name(name: str) -> str:
    """Return ``name`` if it is usable as a file name everywhere and as a keyring key prefix."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidProfileName(
            f"invalid profile name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if name.split(".")[0].upper() in _WINDOWS_RESERVED or name.endswith("."):
        raise InvalidProfileName(f"invalid profile name {name!r}: reserved on Windows")
    return name


def _check_url(value: Any, key: str) -> None:
    if not isinstance(value, str):
        raise InvalidProfile(f"{key} must be a string")
    parts = urllib.parse.urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidProfile(f"{key} must be an https:// URL with a host name, got {value!r}")
    if parts.username or parts.password:
        # a password in the URL would be stored, exported and logged with the profile
        raise InvalidProfile(f"{key} must not contain a user name or password")


def _check_est_url(profile: Profile, key: str) -> None:
    """The URL, the label and the device group must agree; otherwise every batch would fail
    when the EST client is built (``batch run`` used to crash there)."""
    try:
        parse_est_url(getattr(profile, key), label=profile.label, device_group=profile.device_group)
    except EstUrlError as exc:
        raise InvalidProfile(f"{key}: {exc}") from None


def _check_type(profile: Profile, key: str, kind: type, *, optional: bool) -> None:
    value = getattr(profile, key)
    if value is None and optional:
        return
    if type(value) is not kind:
        expected = f"{kind.__name__} or null" if optional else kind.__name__
        raise InvalidProfile(f"{key} must be {expected}, got {value!r}")


def validate_profile(profile: Profile) -> Profile:
    """Check types and values a JSON file could get wrong; returns ``profile`` unchanged."""
    validate_profile_name(profile.name)
    for key in (
        "reenroll_url", "label", "device_group", "username", "client_cert_file",
        "client_key_file", "client_p12_file", "ca_bundle_file", "ca_bundle_pem",
    ):  # fmt: skip
        _check_type(profile, key, str, optional=True)
    for key in ("require_pop", "allow_new_enrollment_fallback"):
        _check_type(profile, key, bool, optional=False)
    for key in ("concurrency", "baud"):
        _check_type(profile, key, int, optional=False)
    _check_type(profile, "driver", str, optional=False)
    _check_url(profile.enroll_url, "enroll_url")
    if profile.reenroll_url is not None:
        _check_url(profile.reenroll_url, "reenroll_url")
    for key in ("enroll_url", "reenroll_url"):
        if getattr(profile, key) is not None:
            _check_est_url(profile, key)
    if not 1 <= profile.concurrency <= MAX_CONCURRENCY:
        raise InvalidProfile(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
    timeout = profile.request_timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 3600:
        raise InvalidProfile(
            f"request_timeout must be a number of seconds between 1 and 3600, got {timeout!r}"
        )
    wait = profile.scan_in_timeout
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 86400:
        raise InvalidProfile(
            f"scan_in_timeout must be a number of seconds between 0 (no limit) and 86400, got {wait!r}"
        )
    if profile.baud <= 0:
        raise InvalidProfile("baud must be a positive integer")
    check_passcode_quota(profile)
    if not profile.driver:
        raise InvalidProfile("driver must not be empty")
    _check_subject(profile.subject_template)
    for key in ("port_filters",):
        value = getattr(profile, key)
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise InvalidProfile(f"{key} must be an object of strings")
    if profile.auth_style is AuthStyle.USER_PASSWORD and not profile.username:
        raise InvalidProfile("auth_style user-password needs username")
    if profile.auth_style is AuthStyle.CLIENT_CERT and not (
        profile.client_p12_file or (profile.client_cert_file and profile.client_key_file)
    ):
        raise InvalidProfile(
            "auth_style client-cert needs client_p12_file, or client_cert_file and client_key_file"
        )
    if profile.ca_bundle_pem is not None and "-----BEGIN CERTIFICATE-----" not in profile.ca_bundle_pem:
        raise InvalidProfile("ca_bundle_pem must hold PEM certificates")
    return profile


def check_passcode_quota(profile: Profile) -> None:
    """The passcode's usage limit, expiry and the enrollment rate (all optional); each message
    starts with the field's name (the profile editor puts it under that field)."""
    _check_type(profile, "passcode_id", str, optional=True)
    if profile.passcode_id is not None and not 1 <= len(profile.passcode_id) <= 100:
        raise InvalidProfile("passcode_id must be 1 to 100 characters")
    uses = profile.passcode_max_uses
    if uses is not None and (type(uses) is not int or uses < 0):
        raise InvalidProfile(f"passcode_max_uses must be a whole number of at least 0 or null, got {uses!r}")
    if profile.passcode_expires is not None:
        _check_type(profile, "passcode_expires", str, optional=True)
        try:
            parse_passcode_expiry(profile.passcode_expires)
        except ValueError:
            raise InvalidProfile(
                f"passcode_expires must be an ISO 8601 date or date-time, got {profile.passcode_expires!r}"
            ) from None
    rate = profile.max_enrollments_per_minute
    bad_type = isinstance(rate, bool) or not isinstance(rate, int | float)
    if rate is not None and (bad_type or not 0 < rate <= 6000):
        raise InvalidProfile(
            f"max_enrollments_per_minute must be a number between 0 and 6000 or null, got {rate!r}"
        )


def _check_subject(template: Any) -> None:
    if not isinstance(template, dict) or not template:
        raise InvalidProfile('subject_template must be a non-empty object like {"CN": "{serial}"}')
    for attr, value in template.items():
        if not isinstance(attr, str) or not _SUBJECT_ATTR.fullmatch(attr):
            raise InvalidProfile(f"subject_template: invalid attribute name {attr!r}")
        if not isinstance(value, str):
            raise InvalidProfile(f"subject_template: value of {attr} must be a string")
        try:
            value.format(serial="X")
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidProfile(
                f"subject_template: {attr}={value!r} may only use the placeholder {{serial}} ({exc})"
            ) from None


def profile_from_json(data: Any, *, source: str) -> Profile:
    """Parse and validate one profile's JSON object; errors name ``source``."""
    if not isinstance(data, dict):
        raise InvalidProfile(f"{source}: expected a JSON object")
    secret_like = sorted(
        k for k in data if isinstance(k, str) and k not in _ABOUT_THE_PASSCODE and _SECRET_LIKE.search(k)
    )
    if secret_like:
        raise InvalidProfile(
            f"{source}: profiles never contain secrets; remove {', '.join(secret_like)} and "
            "store it with: certline profile set-passcode NAME"
        )
    try:
        profile = Profile.from_json(data)
    except (TypeError, ValueError) as exc:
        raise InvalidProfile(f"{source}: {exc}") from None
    try:
        return validate_profile(profile)
    except ProfileError as exc:
        raise InvalidProfile(f"{source}: {exc}") from None


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidProfile(f"{path}: cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidProfile(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None


class ProfileStore:
    """The station's profiles. ``directory`` defaults to ``station_paths().profiles``."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = station_paths().profiles if directory is None else directory

    def path_for(self, name: str) -> Path:
        return self.directory / f"{validate_profile_name(name)}{SUFFIX}"

    def list(self) -> list[str]:
        """Names of the stored profiles, sorted (files that are not profiles are skipped)."""
        if not self.directory.is_dir():
            return []
        names = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            try:
                names.append(validate_profile_name(path.stem))
            except InvalidProfileName:
                continue
        return sorted(names, key=str.lower)

    def exists(self, name: str) -> bool:
        return self.path_for(name).is_file()

    def load(self, name: str) -> Profile:
        path = self.path_for(name)
        try:
            data = _read_json(path)
        except FileNotFoundError:
            raise ProfileNotFound(f"no profile named {name!r} (looked in {self.directory})") from None
        profile = profile_from_json(data, source=str(path))
        if profile.name != name:
            raise InvalidProfile(f"{path}: the file is named {name!r} but holds profile {profile.name!r}")
        return profile

    def load_all(self) -> tuple[builtins.list[Profile], builtins.list[InvalidProfile]]:
        """Every profile that loads, and the errors of those that do not (for a list view)."""
        good: builtins.list[Profile] = []
        bad: builtins.list[InvalidProfile] = []
        for name in self.list():
            try:
                good.append(self.load(name))
            except InvalidProfile as exc:
                bad.append(exc)
            except ProfileNotFound:
                continue  # deleted meanwhile
        return good, bad

    def save(self, profile: Profile, *, overwrite: bool = True) -> Path:
        """Validate and write ``profile`` atomically (0600); returns the file."""
        validate_profile(profile)
        path = self.path_for(profile.name)
        if not overwrite and path.exists():
            raise ProfileExists(f"profile {profile.name!r} already exists (use --force to replace it)")
        ensure_private_dir(self.directory)
        write_private_json(path, profile.to_json())
        return path

    def delete(self, name: str) -> None:
        try:
            self.path_for(name).unlink()
        except FileNotFoundError:
            raise ProfileNotFound(f"no profile named {name!r}") from None

    def export_file(self, name: str, destination: Path) -> Path:
        """Write profile ``name`` to ``destination`` as plain JSON: its fields, no secrets."""
        return export_profile(self.load(name), destination)

    def read_import(self, source: Path, *, name: str | None = None) -> Profile:
        """A profile exported elsewhere, read and checked (optionally renamed), not yet stored:
        :func:`certline.app.station.profile_save.import_profile` pins its trust anchors first."""
        try:
            data = _read_json(source)
        except FileNotFoundError:
            raise ProfileError(f"{source}: no such file") from None
        profile = profile_from_json(data, source=str(source))
        if name is not None:
            profile.name = validate_profile_name(name)
        return profile


def export_profile(profile: Profile, destination: Path) -> Path:
    """Write ``profile`` to ``destination`` as plain JSON: its declared fields, no secrets, never
    into the station's configuration folder. ``certline profile export`` and the profile editor's
    Export… (which exports the form as it stands, saved or not) both end here."""
    refuse_station_config_target(destination)
    data = profile.to_json()
    unexpected = set(data) - _PROFILE_FIELDS
    if unexpected:  # defence in depth: only declared, secret-free fields leave the station
        raise ProfileError(f"refusing to export unexpected keys: {', '.join(sorted(unexpected))}")
    write_private_json(destination, data)
    return destination
