"""The station window's thread comes before the batch's port workers (docs/benchmarks.md §3).

In a batch's busiest phase dozens of port workers want the cores and the interpreter lock at once;
the window stays responsive because they run one step below normal priority while it does not.
The priority is per thread (Linux: each thread's own nice value), so it is read from inside the
worker, while it provisions a unit.
"""

from __future__ import annotations

import os
import sys
import threading

import pytest

from certline.app.batch.engine import BatchOptions
from certline.app.batch.states import DeviceState
from certline.app.host.thread_priority import NICE_STEPS, lower_this_thread
from tests.batch.fakes import FakeDevice

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads per-thread nice values (Linux)"
)

WAIT = 20_000


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


class PriorityProbe(FakeDevice):
    """Records the nice value of the thread that provisions it."""

    def identify(self):  # noqa: ANN201
        self.nice = _nice()
        return super().identify()


def test_lowering_a_thread_leaves_the_others_alone():
    before = _nice()
    seen: list[int] = []

    def worker() -> None:
        assert lower_this_thread()
        seen.append(_nice())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [before + NICE_STEPS]
    assert _nice() == before


def test_the_window_s_batches_run_their_port_workers_below_its_thread(qtbot, window, station):
    probe = PriorityProbe("/dev/fake0", "SN-PROBE")
    station.devices["/dev/fake0"] = probe
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    shown.args[0].close()
    assert [s.state for s in window.model.snapshots()].count(DeviceState.DONE) == 4
    assert probe.nice == _nice() + NICE_STEPS  # this test runs on the window's (the GUI) thread


def test_a_session_without_a_window_keeps_normal_priority(station):
    """The command line's batches (no window to give way to) are not slowed."""
    probe = PriorityProbe("/dev/fake0", "SN-PROBE")
    station.devices["/dev/fake0"] = probe
    engine = station.session.start_batch(BatchOptions(work_order="WO-1"), ["/dev/fake0"])
    assert engine.wait(20)
    engine.finish()
    assert probe.nice == _nice()
