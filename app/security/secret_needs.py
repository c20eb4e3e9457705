"""The one rule for which secrets a profile needs, and how badly.

Every place that gathers secrets (the CLI, the GUI station, the profile editor's
connection test, ``certline profile show``, the station bar) asks this module,
so they cannot disagree. The rule, per keyring purpose (see ``app/security/secret_store.py``):

=====================  ===========================================================
``passcode``           required when the auth style is ``passcode-only`` (the DTM
                       Basic token is base64 of it); never used otherwise.
``user-password``      required when the auth style is ``user-password``; never
                       used otherwise.
``p12-password``       required whenever the profile names a PKCS#12 file, whatever
                       the auth style: the EST client opens the client credential
                       for every TLS connection (re-enrollment on a separate
                       client-auth host included), and a PKCS#12 file is
                       password-protected. Optional when the profile names a PEM
                       client key: only opening the key tells whether it is
                       encrypted, so the password is used when one is available.
                       Never used without a client credential.
=====================  ===========================================================

"Required" means a command line run stops before any work, saying where it looked
and how to store the secret; the GUI opens anyway and its station bar shows the
secret as missing, and Start refuses a new batch until it is stored. The profile
editor has one secret field; what it holds is :func:`typed_secret_purpose`.
"""

from __future__ import annotations

import enum

from certline.app.config.profile import AuthStyle, Profile
from certline.app.security.secret_store import Purpose


class Need(enum.Enum):
    """How much a profile needs one of its secrets."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    UNUSED = "unused"


def need_for(profile: Profile, purpose: Purpose) -> Need:
    """The rule in the module docstring, for one secret of ``profile``."""
    if purpose is Purpose.PASSCODE:
        return Need.REQUIRED if profile.auth_style is AuthStyle.PASSCODE_ONLY else Need.UNUSED
    if purpose is Purpose.USER_PASSWORD:
        return Need.REQUIRED if profile.auth_style is AuthStyle.USER_PASSWORD else Need.UNUSED
    if profile.client_p12_file:
        return Need.REQUIRED
    if profile.client_cert_file:  # a key file alone is never loaded (certline.app.est.tls_context)
        return Need.OPTIONAL
    return Need.UNUSED


def required_purposes(profile: Profile) -> tuple[Purpose, ...]:
    """The secrets without which ``profile`` cannot work (what the station bar checks)."""
    return tuple(p for p in Purpose if need_for(profile, p) is Need.REQUIRED)


def wanted_purposes(profile: Profile) -> tuple[Purpose, ...]:
    """The secrets ``profile`` uses when they are available: required and optional ones."""
    return tuple(p for p in Purpose if need_for(profile, p) is not Need.UNUSED)


def typed_secret_purpose(profile: Profile) -> Purpose:
    """What the profile editor's single secret field holds for this auth style."""
    return {
        AuthStyle.PASSCODE_ONLY: Purpose.PASSCODE,
        AuthStyle.USER_PASSWORD: Purpose.USER_PASSWORD,
        AuthStyle.CLIENT_CERT: Purpose.P12_PASSWORD,
    }[profile.auth_style]
