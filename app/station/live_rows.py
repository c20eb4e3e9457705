"""Which units the live device table keeps: all that need a look, and the newest finished ones.

A hands-free shift plugs in thousands of units. Kept as table rows, every finished unit cost
the station ~45 KB of memory for the rest of the shift (its row's cells and snapshot, and the
heap they pin between shorter-lived allocations), which no technician reads back: they watch
the units on the cables, set failed units aside, and read totals from the counters. So the
table keeps every unit that is still in progress or needs attention (failed, pending approval,
awaiting a label), and of the units that need nothing more (DONE, SKIPPED) only the newest
:data:`KEEP_FINISHED`. The journal keeps every unit: Batch > History, the reports and the
end-of-batch summary's counts come from it, not from the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from certline.app.batch.states import DeviceState

KEEP_FINISHED = 200
"""DONE and SKIPPED units the live table keeps (the newest); more than any batch of one shelf."""

DROP_SLACK = 50
"""Finished units beyond :data:`KEEP_FINISHED` are dropped this many at a time: one removal for
every 50 units, not one per unit, so the view's rows move rarely."""

_NOTHING_MORE = frozenset({DeviceState.DONE, DeviceState.SKIPPED})


def rows_to_drop(
    states: Sequence[DeviceState], *, keep: int = KEEP_FINISHED, slack: int = DROP_SLACK
) -> list[int]:
    """Indexes (ascending) of the rows to drop, given each row's state in row order, oldest first.

    Nothing is dropped until more than ``keep + slack`` rows are DONE or SKIPPED; then the
    oldest of them go, down to ``keep``. A unit in any other state is never dropped.
    """
    finished = [row for row, state in enumerate(states) if state in _NOTHING_MORE]
    if len(finished) <= keep + slack:
        return []
    return finished[: len(finished) - keep]
