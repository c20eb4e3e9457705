"""The one rule for which batch "resume" continues (certline.app.station.resume_choice), on a real journal.

The CLI and the station window used to choose differently (newest batch of any profile with its
journaled profile, versus newest batch of the current profile as edited); both now call this.
"""

from __future__ import annotations

import pytest

from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState
from certline.app.config.profile import Profile
from certline.app.station.resume_choice import choose_batch_to_resume


@pytest.fixture
def journal(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3")
    yield journal
    journal.close()


def _batch(journal: Journal, profile: Profile, *, unfinished: int, done: int = 0) -> int:
    batch_id = journal.create_batch(profile_name=profile.name, profile_json=profile.to_json())
    for index in range(unfinished + done):
        then = [(DeviceState.IDENTIFIED, "identified")]
        if index >= unfinished:
            then.append((DeviceState.DONE, "already provisioned"))
        journal.add_device(batch_id, f"/dev/ttyUSB{index}", then=then, serial_number=f"U{batch_id}-{index}")
    return batch_id


def _profile(name: str, url: str = "https://est.example/.well-known/est") -> Profile:
    return Profile(name=name, enroll_url=url)


def test_newest_batch_with_unfinished_units_is_chosen(journal):
    older = _batch(journal, _profile("line-a"), unfinished=1)
    newer = _batch(journal, _profile("line-b"), unfinished=2)
    choice = choose_batch_to_resume(journal)
    assert choice is not None
    assert (choice.batch.id, choice.unfinished_units) == (newer, 2)
    assert older != newer


def test_an_open_batch_whose_units_all_finished_is_not_offered(journal):
    resumable = _batch(journal, _profile("line-a"), unfinished=1)
    _batch(journal, _profile("line-a"), unfinished=0, done=3)  # newer, open, nothing left to do
    choice = choose_batch_to_resume(journal)
    assert choice is not None and choice.batch.id == resumable


def test_the_station_window_only_sees_its_own_profiles_batches(journal):
    mine = _batch(journal, _profile("line-a"), unfinished=1)
    _batch(journal, _profile("line-b"), unfinished=1)
    choice = choose_batch_to_resume(journal, profile_name="line-a")
    assert choice is not None and choice.batch.id == mine
    assert choose_batch_to_resume(journal, profile_name="nobody") is None


def test_an_explicit_batch_id_picks_that_batch_or_nothing(journal):
    first = _batch(journal, _profile("line-a"), unfinished=1)
    _batch(journal, _profile("line-a"), unfinished=1)
    choice = choose_batch_to_resume(journal, batch_id=first)
    assert choice is not None and choice.batch.id == first
    journal.end_batch(first)
    for device in journal.unfinished_devices(first):
        journal.transition(device.device_id, DeviceState.SKIPPED, "skipped by the operator")
    assert choose_batch_to_resume(journal, batch_id=first) is None


def test_the_batch_continues_under_its_journaled_profile_not_the_edited_one(journal):
    original = _profile("line-a", url="https://old-ca.example/.well-known/est")
    batch_id = _batch(journal, original, unfinished=1)
    choice = choose_batch_to_resume(journal, profile_name="line-a")
    assert choice is not None and choice.batch.id == batch_id
    assert choice.profile.enroll_url == "https://old-ca.example/.well-known/est"
    assert choice.profile == Profile.from_json(original.to_json())
