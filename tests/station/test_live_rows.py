"""The live table's rule: every unit that needs a look stays, only the newest finished ones stay."""

from __future__ import annotations

from certline.app.batch.states import DeviceState
from certline.app.station.live_rows import rows_to_drop

DONE, SKIPPED, FAILED = DeviceState.DONE, DeviceState.SKIPPED, DeviceState.FAILED
BUSY, PENDING = DeviceState.ENROLLING, DeviceState.PENDING_APPROVAL


def test_nothing_is_dropped_until_the_finished_units_pass_keep_plus_slack():
    assert rows_to_drop([DONE] * 5, keep=3, slack=2) == []
    assert rows_to_drop([DONE] * 6, keep=3, slack=2) == [0, 1, 2]


def test_only_the_oldest_done_or_skipped_rows_go_and_never_a_unit_that_needs_a_look():
    states = [FAILED, DONE, BUSY, SKIPPED, PENDING, DONE, DeviceState.AWAITING_LABEL, DONE, DONE]
    dropped = rows_to_drop(states, keep=2, slack=1)
    assert dropped == [1, 3, 5]  # the oldest three of the five finished ones; the newest two stay
    assert all(states[row] in (DONE, SKIPPED) for row in dropped)
