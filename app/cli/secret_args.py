"""Where the CLI gets a profile's secrets: an environment variable named on the command line, or the
OS keyring. Never an argument (every user can read the process list) and never a file."""

from __future__ import annotations

import argparse
import os

from app.est.credentials import Credentials
from app.profile import AuthStyle, Profile
from app.redaction import register_secret


class SecretMissing(Exception):
    """No secret could be found; the message says where we looked and how to fix it."""


def add_secret_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passcode-env",
        metavar="VAR",
        help="read the EST passcode from this environment variable instead of the keyring",
    )
    parser.add_argument(
        "--p12-password-env",
        metavar="VAR",
        help="read the PKCS#12 password from this environment variable instead of the keyring",
    )


def _from_env(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        raise SecretMissing(f"environment variable {var} is not set or empty")
    register_secret(value)
    return value


def credentials_for(profile: Profile, args: argparse.Namespace) -> Credentials:
    """Build the profile's credentials. Keyring access happens only if no env var was named."""
    passcode_var = getattr(args, "passcode_env", None)
    p12_var = getattr(args, "p12_password_env", None)
    needs_basic = profile.auth_style in (AuthStyle.PASSCODE_ONLY, AuthStyle.USER_PASSWORD)
    needs_p12 = bool(profile.client_p12_file)
    passcode = _from_env(passcode_var) if passcode_var else None
    p12 = _from_env(p12_var) if p12_var else None
    if (needs_basic and passcode is None) or (needs_p12 and p12 is None):
        from app.secrets import KeyringUnavailable, Purpose, SecretStore

        store = SecretStore()
        try:
            if needs_basic and passcode is None:
                passcode_only = profile.auth_style == AuthStyle.PASSCODE_ONLY
                purpose = Purpose.PASSCODE if passcode_only else Purpose.USER_PASSWORD
                passcode = store.get(profile, purpose)
                if passcode is None:
                    raise SecretMissing(
                        f"no {purpose.value} for profile {profile.name!r} in the keyring; store it with "
                        f"'certline profile set-passcode {profile.name}' or name a variable "
                        "with --passcode-env"
                    )
            if needs_p12 and p12 is None:
                p12 = store.get(profile, Purpose.P12_PASSWORD)
        except KeyringUnavailable as exc:
            raise SecretMissing(str(exc)) from None
        register_secret(passcode)
        register_secret(p12)
    return Credentials(passcode=passcode, p12_password=p12)
