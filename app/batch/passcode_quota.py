"""A passcode's usage limit and expiry, enforced before each enrollment request.

Why: a DigiCert DTM passcode allows a number of enrollments and a validity window. Without this,
the station learns that a passcode is spent from a 401 per unit, one failed unit after another.
With it, every enrollment request first reserves one use in the journal (line-wide on the shared
journal, see ``JournalBackend.reserve_passcode_use``), and a unit whose request the passcode can
no longer pay for waits, with its CSR journaled, until the engineer sets a new passcode. A 401 after
the passcode has paid for enrollments is reported as "passcode exhausted or expired" with the
counts, and the batch waits the same way instead of failing the rest of the line.

The passcode itself is never seen here: uses are counted by the profile's ``passcode_id``, a
non-secret name that changes whenever the passcode is set (see ``app/station/passcode_change.py``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.journal_api import JournalBackend, PasscodeUsage, StepChange
from certline.app.config.profile import AuthStyle, Profile, parse_passcode_expiry

log = logging.getLogger(__name__)

#: how often a unit waiting for a passcode looks again (a use given back, a new passcode)
RECHECK_SECONDS = 1.0


class Stoppable(Protocol):
    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class QuotaWaitStopped(Exception):
    """The unit was stopped while it waited for a passcode use; its CSR stays journaled."""


@dataclass(frozen=True)
class PasscodePolicy:
    """Which passcode is in use (by its non-secret id) and what the profile says it allows."""

    passcode_id: str
    max_uses: int | None = None
    expires: datetime | None = None
    named: bool = True
    """The profile names the passcode in use (set with Certline, or named by the engineer). An
    unnamed one is counted under ``profile:<name>``, which may mix several passcodes, so a 401 is
    then not taken as proof that *this* passcode is spent."""

    @classmethod
    def of(cls, profile: Profile) -> PasscodePolicy | None:
        """The policy of a profile that enrolls with a passcode or password; None for client-cert.

        A profile whose passcode was never set with Certline has no ``passcode_id``; its uses are
        counted under ``profile:<name>`` so the counts still exist (see ``named``).
        """
        if profile.auth_style is AuthStyle.CLIENT_CERT:
            return None
        expires = parse_passcode_expiry(profile.passcode_expires) if profile.passcode_expires else None
        return cls(
            passcode_id=profile.passcode_id or f"profile:{profile.name}",
            max_uses=profile.passcode_max_uses,
            expires=expires,
            named=profile.passcode_id is not None,
        )

    def uses_left(self, usage: PasscodeUsage) -> int | None:
        return None if self.max_uses is None else max(0, self.max_uses - usage.spent)


def format_expiry(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe_usage(policy: PasscodePolicy, usage: PasscodeUsage) -> str:
    """The counts as operators read them everywhere: CLI, window, log, report."""
    plural = "s" if usage.issued != 1 else ""
    parts = [f"{usage.issued} enrollment{plural} made with passcode {policy.passcode_id!r}"]
    if usage.in_flight:
        parts.append(f"{usage.in_flight} in flight")
    left = policy.uses_left(usage)
    if left is not None:
        parts.append(f"{left} of {policy.max_uses} uses left")
    if policy.expires is not None:
        parts.append(f"expires {format_expiry(policy.expires)}")
    return ", ".join(parts)


class PasscodeQuota:
    """The passcode gate every enrollment request of a batch passes (thread-safe).

    ``reserve`` blocks while the passcode cannot pay for a request (uses spent, expired, or
    refused by the server after it had paid for enrollments); ``replace`` (a new passcode) lets
    the waiting units go on. ``on_change(reason)`` is told when the batch starts or stops waiting
    for a new passcode (``reason`` None), so views can ask the engineer for one.
    """

    def __init__(
        self,
        journal: JournalBackend,
        policy: PasscodePolicy,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.journal = journal
        self._policy = policy
        self._now = now
        self._lock = threading.Lock()
        self._waiting: str | None = None
        self._sticky = False
        """The wait ends only with a new passcode (the server refused this one)."""
        self.on_change: Callable[[str | None], None] | None = None

    @property
    def policy(self) -> PasscodePolicy:
        with self._lock:
            return self._policy

    @property
    def waiting_reason(self) -> str | None:
        """Why the batch waits for a new passcode now, or None."""
        with self._lock:
            return self._waiting

    def usage(self) -> PasscodeUsage:
        return self.journal.passcode_usage(self.policy.passcode_id)

    def describe(self) -> str:
        policy = self.policy
        return describe_usage(policy, self.journal.passcode_usage(policy.passcode_id))

    # -- the gate ---------------------------------------------------------------------------------
    def reserve(self, device_id: int, *, on_wait: Callable[[str], None], stop: Stoppable) -> str:
        """Reserve one use for this unit (journaled) before its request is sent; returns the
        passcode id it is charged to. Waits while the passcode cannot pay; raises
        :class:`QuotaWaitStopped` when ``stop`` is set meanwhile."""
        told: str | None = None
        while True:
            with self._lock:
                policy, sticky, waiting = self._policy, self._sticky, self._waiting
            if not sticky:
                problem = self._expired(policy)
                if problem is None:
                    if self.journal.reserve_passcode_use(
                        policy.passcode_id, device_id, max_uses=policy.max_uses
                    ):
                        self._clear_wait(policy, only_if_not_sticky=True)
                        return policy.passcode_id
                    problem = self._spent(policy)
                self._wait_for_passcode(policy, problem, sticky=False)
                waiting = problem
            if waiting is not None and waiting != told:
                on_wait(waiting)
                told = waiting
            if stop.wait(RECHECK_SECONDS):
                raise QuotaWaitStopped(waiting or "stopped while waiting for a passcode use")

    def reserve_with(
        self, device_id: int, changes: Sequence[StepChange]
    ) -> tuple[str, list[DeviceSnapshot]] | None:
        """One try, without waiting: reserve a use for this unit and journal ``changes`` (its CSR
        and its step into ENROLLING) in the same transaction, so the unit waits for one durable
        write instead of three. Returns the passcode id charged and the snapshot after each
        change; None when the passcode cannot pay now (nothing is written then: :meth:`reserve`
        waits and says why)."""
        with self._lock:
            policy, sticky = self._policy, self._sticky
        if sticky or self._expired(policy) is not None:
            return None
        snapshots = self.journal.advance_reserving(
            device_id, changes, passcode_id=policy.passcode_id, max_uses=policy.max_uses
        )
        if snapshots is None:
            return None
        self._clear_wait(policy, only_if_not_sticky=True)
        return policy.passcode_id, snapshots

    def paid(self, passcode_id: str, device_id: int) -> None:
        """The server issued: the reserved use is spent."""
        self.journal.settle_passcode_use(passcode_id, device_id, issued=True)

    def not_used(self, passcode_id: str, device_id: int) -> None:
        """The server answered with a refusal (no certificate): the use is given back."""
        self.journal.settle_passcode_use(passcode_id, device_id, issued=False)

    def refused(self, passcode_id: str, device_id: int) -> str | None:
        """The server answered 401 to a request charged to ``passcode_id``.

        After the passcode has paid for enrollments, a 401 means it is used up or expired on the
        server's side (even when the profile's numbers did not say so): returns the message with
        the counts and makes the batch wait for a new passcode; the unit then waits at the gate
        with its CSR journaled. A passcode that never worked (a typing error), or one the profile
        does not name (its count may be another passcode's), returns None: a plain
        authentication failure for the caller to report.
        """
        self.journal.settle_passcode_use(passcode_id, device_id, issued=False)
        with self._lock:
            policy = self._policy
        if policy.passcode_id != passcode_id:
            return "the passcode was replaced while this request was in flight; sending again"
        usage = self.journal.passcode_usage(passcode_id)
        if usage.issued == 0 or not policy.named:
            return None
        message = (
            f"passcode exhausted or expired: the EST server refused it (HTTP 401) after "
            f"{describe_usage(policy, usage)}; set a new passcode to continue"
        )
        self._wait_for_passcode(policy, message, sticky=True)
        return message

    def replace(self, policy: PasscodePolicy) -> None:
        """A new passcode is in use: units waiting for one go on (charged to the new id)."""
        with self._lock:
            self._policy = policy
            was = self._waiting
            self._waiting = None
            self._sticky = False
        log.warning("passcode replaced; now counting uses of %r", policy.passcode_id)
        if was is not None and self.on_change is not None:
            self.on_change(None)

    # -- internals --------------------------------------------------------------------------------
    def _expired(self, policy: PasscodePolicy) -> str | None:
        if policy.expires is not None and self._now() >= policy.expires:
            usage = self.journal.passcode_usage(policy.passcode_id)
            return (
                f"the passcode expired on {format_expiry(policy.expires)} ({describe_usage(policy, usage)}); "
                "set a new passcode to continue"
            )
        return None

    def _spent(self, policy: PasscodePolicy) -> str:
        usage = self.journal.passcode_usage(policy.passcode_id)
        return (
            f"the passcode's uses are spent ({describe_usage(policy, usage)}); units wait before "
            "the next enrollment instead of failing with 401 - set a new passcode to continue"
        )

    def _wait_for_passcode(self, policy: PasscodePolicy, reason: str, *, sticky: bool) -> None:
        with self._lock:
            if policy != self._policy:
                return  # replaced meanwhile
            # said once when the wait starts and once more if the server refused the passcode;
            # updated counts in the reason reach the views with the next batch snapshot
            changed = self._waiting is None or (sticky and not self._sticky)
            self._waiting = reason
            self._sticky = self._sticky or sticky
        if changed:
            log.warning("%s", reason)
            if self.on_change is not None:
                self.on_change(reason)

    def _clear_wait(self, policy: PasscodePolicy, *, only_if_not_sticky: bool) -> None:
        with self._lock:
            if self._waiting is None or policy != self._policy or (only_if_not_sticky and self._sticky):
                return
            self._waiting = None
        if self.on_change is not None:
            self.on_change(None)
