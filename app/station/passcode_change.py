"""Passcode quota use cases: the warning before a batch, and setting a new passcode.

``certline profile set-passcode`` and the station window's "New passcode" dialog both call
:func:`set_new_passcode`; ``certline batch run|resume`` and the window's Start both show
:func:`quota_outlook`. Neither view keeps a rule of its own.

Counting without the secret: the journal counts uses per ``passcode_id``, a non-secret name the
profile carries. Each time a passcode is set, the id changes: to the name the engineer gives (the
passcode's name on the CA's portal, so every station of a line that is given the same passcode
counts together on the shared journal), or else to a fresh random id. A hash of the passcode was
rejected: the shared journal is read by every station and its administrators, and a passcode is
short enough to be guessed back from an unkeyed hash.

Keyring calls block (D-Bus): call :func:`set_new_passcode` from a worker thread in the window.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from certline.app.batch.journal_api import JournalBackend, PasscodeUsage
from certline.app.batch.passcode_quota import PasscodePolicy, format_expiry
from certline.app.config.profile import Profile, parse_passcode_expiry
from certline.app.config.profile_store import ProfileStore, validate_profile
from certline.app.est.credentials import Credentials
from certline.app.security.redaction import register_secret
from certline.app.security.roles import Action, RoleGate, os_account
from certline.app.security.secret_store import Purpose, SecretStore, passcode_problem
from certline.app.station.session import StationSession

log = logging.getLogger(__name__)


class PasscodeRefused(ValueError):
    """The new passcode (or its limit or expiry) cannot be used; the message never holds the value."""


@dataclass(frozen=True)
class QuotaOutlook:
    """What the passcode can still pay for, against what a batch expects."""

    policy: PasscodePolicy
    usage: PasscodeUsage
    expected_units: int | None
    now: datetime
    expected_phrase: str = "this work order expects"
    """How the units are counted: a work order's list, or (window) the units plugged in."""

    @property
    def uses_left(self) -> int | None:
        return self.policy.uses_left(self.usage)

    @property
    def expired(self) -> bool:
        return self.policy.expires is not None and self.now >= self.policy.expires

    @property
    def short(self) -> bool:
        """The passcode cannot pay for the whole batch (or no more at all): warn before starting."""
        left = self.uses_left
        if self.expired or left == 0:
            return True
        return left is not None and self.expected_units is not None and self.expected_units > left

    @property
    def message(self) -> str:
        """ "this work order expects 64 units; the passcode has 40 uses left, and expires on …"."""
        parts: list[str] = []
        if self.expected_units is not None:
            if self.expected_phrase == "this work order expects":
                parts.append(f"this work order expects {self.expected_units} units")
            else:
                parts.append(f"{self.expected_units} {self.expected_phrase}")
        left = self.uses_left
        passcode = "the passcode"
        if left is not None:
            passcode += f" has {left} use{'s' if left != 1 else ''} left"
        else:
            passcode += " has no usage limit recorded"
        if self.policy.expires is not None:
            verb = "expired" if self.expired else "expires"
            passcode += f", and {verb} on {format_expiry(self.policy.expires)}"
        parts.append(passcode)
        text = "; ".join(parts)
        plural = "s" if self.usage.issued != 1 else ""
        so_far = (
            f"{self.usage.issued} enrollment{plural} made with passcode {self.policy.passcode_id!r} so far"
        )
        if self.usage.in_flight:
            so_far += f", {self.usage.in_flight} in flight"
        return f"{text} ({so_far})"


def quota_outlook(
    profile: Profile,
    journal: JournalBackend,
    expected_units: int | None,
    *,
    now: datetime | None = None,
    expected_phrase: str = "this work order expects",
) -> QuotaOutlook | None:
    """The passcode's outlook for a batch of ``expected_units`` (None: unknown); None when the
    profile enrolls without a passcode. Reads the journal: never on the GUI thread."""
    policy = PasscodePolicy.of(profile)
    if policy is None:
        return None
    usage = journal.passcode_usage(policy.passcode_id)
    return QuotaOutlook(policy, usage, expected_units, now or datetime.now(UTC), expected_phrase)


def new_passcode_id(now: datetime | None = None) -> str:
    """A fresh, non-secret id for a passcode nobody named: the day it was set and random hex."""
    return f"{(now or datetime.now(UTC)):%Y%m%d}-{secrets.token_hex(4)}"


def set_new_passcode(
    profile: Profile,
    passcode: str,
    *,
    max_uses: int | None,
    expires: str | None,
    passcode_id: str | None = None,
    store: SecretStore | None = None,
    profiles: ProfileStore | None = None,
    journal: JournalBackend | None = None,
    roles: RoleGate | None = None,
) -> Profile:
    """Store a new passcode in the keyring and start counting its uses under a new id.

    ``roles``: the station's gate, when the caller has not checked the engineer role itself
    (the command line has, with its own PIN rule); the audit record names its operator.

    Returns the saved profile. ``passcode_id`` names the passcode (e.g. its name on the CA's
    portal; the same name on every station of a line shares the count); None makes a new one.
    The change is recorded in the journal's audit (id, limit, expiry; never the passcode).
    """
    operator = roles.require(Action.CHANGE_SECRETS) if roles is not None else None
    problem = passcode_problem(passcode, Purpose.PASSCODE)
    if problem:
        raise PasscodeRefused(f"{problem}; nothing stored")
    if max_uses is not None and max_uses < 0:
        raise PasscodeRefused("the number of uses cannot be negative; nothing stored")
    if expires is not None:
        try:
            parse_passcode_expiry(expires)
        except ValueError:
            raise PasscodeRefused(
                f"the expiry {expires!r} is not an ISO 8601 date (2026-12-31) or date-time; nothing stored"
            ) from None
    new_id = passcode_id.strip() if passcode_id and passcode_id.strip() else new_passcode_id()
    updated = dataclasses.replace(
        profile, passcode_id=new_id, passcode_max_uses=max_uses, passcode_expires=expires
    )
    validate_profile(updated)
    register_secret(passcode)
    (store or SecretStore()).set(updated, Purpose.PASSCODE, passcode)
    (profiles or ProfileStore()).save(updated)
    if journal is not None:
        journal.append_audit(
            "passcode-changed",
            {
                "profile": updated.name,
                "passcode_id": new_id,
                "max_uses": max_uses,
                "expires": expires,
                "operator": operator.name if operator is not None else os_account(),
            },
        )
    log.info(  # a normal event, in the log; the views say it to the operator themselves
        "new passcode for profile %s: counting its uses as %r (limit %s, expires %s)",
        updated.name,
        new_id,
        max_uses if max_uses is not None else "none",
        expires or "never",
    )
    return updated


#: the profile fields that follow the passcode, not the batch: a resumed batch uses today's
QUOTA_FIELDS = ("passcode_id", "passcode_max_uses", "passcode_expires", "max_enrollments_per_minute")


def with_current_passcode(journaled: Profile, current: Profile | None) -> Profile:
    """A batch's journaled profile with the passcode fields of the profile as saved now.

    A batch resumes under the profile it started with, but a passcode set since (``certline
    profile set-passcode``) is the one the keyring holds now, so its id, limit and expiry are
    today's too."""
    if current is None or current.name != journaled.name:
        return journaled
    return dataclasses.replace(journaled, **{name: getattr(current, name) for name in QUOTA_FIELDS})


def continue_with_new_passcode(session: StationSession, profile: Profile, passcode: str) -> None:
    """The running batch goes on with the new passcode: the EST client sends it from the next
    request, and units waiting for a passcode use are charged to the new id."""
    session.use_passcode(profile, Credentials(passcode=passcode))
