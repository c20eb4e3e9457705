"""Group commit in the SQLite journal: many workers' writes share one transaction and one fsync,
yet each caller returns only once its own write is committed, gets its own result or error,
and never loses its write because another caller's failed.

The grouping is made deterministic by holding the journal's writer lock: the first caller
becomes the leader and waits for the lock, everyone after it queues behind that leader.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from certline.app.batch.journal import Journal
from certline.app.batch.journal_api import JournalFull
from certline.app.batch.states import DeviceState, IllegalTransition


@pytest.fixture
def journal(tmp_path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3", station="st-1")
    yield j
    j.close()


def _queued_behind_a_leader(journal: Journal, calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` in threads while the writer lock is held, until all but the leader's are
    queued; then let the leader go. Returns each call's result or exception, in order."""
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            outcomes[index] = calls[index]()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    with journal._lock:
        threads[0].start()
        _wait_until(lambda: journal._committing)
        for thread in threads[1:]:
            thread.start()
        _wait_until(lambda: len(journal._queue) == len(calls) - 1)
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    return outcomes


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the writers never queued"
        time.sleep(0.001)


def _units(journal: Journal, count: int) -> tuple[int, list[int]]:
    batch = journal.create_batch(profile_name="p", profile_json={})
    ids = [
        journal.add_device(
            batch, f"/dev/tty{i}", then=[(DeviceState.IDENTIFIED, "identified")], serial_number=f"S{i}"
        ).device_id
        for i in range(count)
    ]
    return batch, ids


def test_writes_queued_while_a_commit_runs_are_committed_together_each_with_its_own_result(journal):
    batch, ids = _units(journal, 8)
    commits_before = journal.group_commits
    outcomes = _queued_behind_a_leader(
        journal,
        [
            lambda dev=dev: journal.transition(dev, DeviceState.KEY_READY, "key", model=f"m{dev}")
            for dev in ids
        ],
    )
    assert journal.group_commits - commits_before == 2, "the leader's write, then everyone else's at once"
    for dev, snap in zip(ids, outcomes, strict=True):
        assert snap.device_id == dev and snap.state == DeviceState.KEY_READY
        assert journal.device(dev) == snap  # committed, and visible to every reader
    assert journal.device_row(ids[3])["model"] == f"m{ids[3]}"
    verdict = journal.audit.verify()
    assert verdict.ok, verdict.problems


def test_a_failing_write_in_a_group_fails_only_its_own_caller(journal):
    batch, ids = _units(journal, 5)
    bad = ids[2]
    calls: list[Callable[[], Any]] = [
        lambda dev=dev: journal.transition(dev, DeviceState.KEY_READY, "key") for dev in ids
    ]
    calls[2] = lambda: journal.transition(bad, DeviceState.WRITTEN, "written")  # illegal from IDENTIFIED
    calls.append(lambda: journal.transition(123456, DeviceState.KEY_READY, "key"))  # no such unit
    outcomes = _queued_behind_a_leader(journal, calls)
    assert isinstance(outcomes[2], IllegalTransition)
    assert isinstance(outcomes[-1], KeyError)
    for index, dev in enumerate(ids):
        expected = DeviceState.IDENTIFIED if dev == bad else DeviceState.KEY_READY
        assert journal.device(dev).state == expected
        if dev != bad:
            assert outcomes[index].state == DeviceState.KEY_READY
    assert [t.state for t in journal.history(bad)] == [DeviceState.DETECTED, DeviceState.IDENTIFIED]
    verdict = journal.audit.verify()
    assert verdict.ok, verdict.problems


def test_a_full_disk_fails_the_writes_that_need_space_and_keeps_the_journal_consistent(journal):
    """SQLite rolls the whole group's transaction back by itself on SQLITE_FULL; every caller
    still learns its own outcome (committed, or the real cause), and nothing half-written stays."""
    batch, ids = _units(journal, 6)
    pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
    journal._db.execute(f"PRAGMA max_page_count = {pages}")
    try:
        outcomes = _queued_behind_a_leader(
            journal,
            [
                lambda dev=dev: journal.transition(dev, DeviceState.FAILED, "failed", error="E" * 3000)
                for dev in ids
            ],
        )
    finally:
        journal._db.execute("PRAGMA max_page_count = 1073741823")
    assert any(isinstance(o, JournalFull) for o in outcomes)
    for dev, outcome in zip(ids, outcomes, strict=True):
        stored = journal.device(dev)
        if isinstance(outcome, JournalFull):
            assert "disk is full" in str(outcome)
            assert stored.state == DeviceState.IDENTIFIED and stored.error is None
        else:
            assert outcome == stored and stored.state == DeviceState.FAILED
    verdict = journal.audit.verify()
    assert verdict.ok, verdict.problems
    journal.set_step(ids[0], "space is back")  # and it takes writes again
    assert journal.device(ids[0]).step == "space is back" and journal.audit.verify().ok


def test_a_reader_sees_every_write_once_its_call_returned(journal):
    """Reads use their own connection: a write that returned is visible to the next read."""
    batch, ids = _units(journal, 1)
    for step in range(20):
        journal.set_step(ids[0], f"step {step}")
        assert journal.device(ids[0]).step == f"step {step}"
        assert journal.history(ids[0])[-1].step == f"step {step}"


def test_report_reads_during_a_commit_see_only_what_is_committed(journal: Journal) -> None:
    """The History view and report export page through ``device_rows_after`` and count states
    with ``device_state_counts`` while a batch runs. A read in the middle of a group commit must
    not show a unit's change that is not committed yet (it may still be rolled back): the journal
    is the truth, and a report is a view of what it holds."""
    batch = journal.create_batch(profile_name="p", profile_json={})
    device = journal.add_device(batch, "/dev/ttyA", serial_number="S1").device_id
    inside, go_on = threading.Event(), threading.Event()

    def slow_write(db: Any) -> None:
        db.execute("UPDATE devices SET state='failed', error='not yet committed' WHERE id=?", (device,))
        inside.set()
        assert go_on.wait(10)

    writer = threading.Thread(target=journal._commit, args=(slow_write,))
    writer.start()
    try:
        assert inside.wait(10)
        assert journal.device_state_counts(batch) == {"detected": 1}
        [row] = journal.device_rows_after(batch)
        assert (row["state"], row["error"]) == ("detected", None)
    finally:
        go_on.set()
        writer.join(10)
    assert journal.device_state_counts(batch) == {"failed": 1}
    assert journal.device_rows_after(batch)[0]["error"] == "not yet committed"
