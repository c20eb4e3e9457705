"""Which batch "resume" continues: one rule for ``certline batch resume`` and the station window.

The rule:

1. Only batches the journal still calls unfinished count (not closed, or with a unit that has
   not reached done, failed or skipped).
2. An explicit batch id (``--batch ID``) picks that batch if it is unfinished, nothing otherwise.
3. Without one, the newest unfinished batch that still has at least one unfinished unit is
   chosen; the station window, which runs one profile, passes its profile name and only that
   profile's batches count.
4. The batch continues under the profile **as journaled when it started**, not as edited since:
   its CSRs were made, and its units claimed, under that policy and key type. The passcode is
   still the keyring's, found by the profile's name.
5. A field re-enrollment's unit is never continued here: its request is authenticated by the
   unit's own certificate, which a batch does not present, and a batch would enroll it anew with
   the passcode instead, replacing its credential unasked (found by a field engineer's walk).
   Only ``certline reenroll`` (or the window's Re-enroll dialog) finishes it. Batches that hold
   only such units are passed over; asking for one by id says how to finish it.

Before this module the CLI followed rules 1, 2 and 4 and the window picked the newest batch of
the current profile with the profile as edited, so the two could continue different batches.
"""

from __future__ import annotations

from dataclasses import dataclass

from certline.app.batch.journal_api import BatchRecord, JournalBackend
from certline.app.batch.unfinished_renewal import REENROLL_KIND, unfinished_renewal_advice
from certline.app.config.profile import Profile


class ResumeRefused(ValueError):
    """The batch asked for is a field re-enrollment; the message says how to finish it."""


@dataclass(frozen=True)
class ResumeChoice:
    """The batch to continue, how many of its units are unfinished, and its journaled profile."""

    batch: BatchRecord
    unfinished_units: int

    @property
    def profile(self) -> Profile:
        return Profile.from_json(self.batch.profile_json)


def choose_batch_to_resume(
    journal: JournalBackend, *, batch_id: int | None = None, profile_name: str | None = None
) -> ResumeChoice | None:
    """Apply the rule above; None when nothing is left to resume. :class:`ResumeRefused` when
    ``batch_id`` names a field re-enrollment (rule 5).

    Reads the journal, so the station window calls it from a worker thread.
    """
    for batch in reversed(journal.unfinished_batches()):
        if batch_id is not None and batch.id != batch_id:
            continue
        if batch_id is None and profile_name is not None and batch.profile_name != profile_name:
            continue
        unfinished = journal.unfinished_devices(batch.id)
        renewals = [d for d in unfinished if d.kind == REENROLL_KIND]
        units = len(unfinished) - len(renewals)
        if batch_id is not None:
            if renewals and not units:
                raise ResumeRefused(unfinished_renewal_advice(renewals[0], batch.profile_name))
            return ResumeChoice(batch, units)
        if units:
            return ResumeChoice(batch, units)
    return None
