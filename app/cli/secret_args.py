"""The CLI's secret options: which environment variables to read, handed to the credential
source (``certline.app.station.credential_source``).

Secrets come from an environment variable named on the command line, or the OS
keyring. Never an argument (every user can read the process list) and never a file.
Which secrets a profile needs is ``app/security/secret_needs.py``.
"""

from __future__ import annotations

import argparse

from certline.app.config.profile import Profile
from certline.app.est.credentials import Credentials
from certline.app.station.credential_source import CredentialSource, SecretMissing

__all__ = ["SecretMissing", "add_secret_arguments", "credentials_for"]


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


def credentials_for(profile: Profile, args: argparse.Namespace) -> Credentials:
    """The profile's credentials from the variables ``args`` names, else the keyring.

    Raises :class:`SecretMissing` when a required secret is nowhere to be found.
    """
    source = CredentialSource(
        basic_env=getattr(args, "passcode_env", None), p12_env=getattr(args, "p12_password_env", None)
    )
    return source.credentials(profile)
