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

Before this module the CLI followed rules 1, 2 and 4 and the window picked the newest batch of
the current profile with the profile as edited, so the two could continue different batches.
"""

from __future__ import annotations

from dataclasses import dataclass

from certline.app.batch.journal_api import BatchRecord, JournalBackend
from certline.app.config.profile import Profile


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
    """Apply the rule above; None when nothing is left to resume.

    Reads the journal, so the station window calls it from a worker thread.
    """
    for batch in reversed(journal.unfinished_batches()):
        if batch_id is not None:
            if batch.id == batch_id:
                return ResumeChoice(batch, len(journal.unfinished_devices(batch.id)))
            continue
        if profile_name is not None and batch.profile_name != profile_name:
            continue
        units = len(journal.unfinished_devices(batch.id))
        if units:
            return ResumeChoice(batch, units)
    return None
