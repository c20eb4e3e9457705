"""The engine's batch summary (what the station bar and the CLI progress show) is counted per
event, not read back from the journal: it must still agree with the journal at every moment a
view can see it, on both journal backends."""

from __future__ import annotations

from certline.app.batch.events import BatchSnapshot
from certline.app.batch.states import DeviceState
from tests.helpers.pg_cluster import pg_cluster, pg_url  # noqa: F401 - fixtures

from .fakes import FakeDevice, FakeEst
from .test_engine_logic import ca, journal, make_engine  # noqa: F401 - fixtures


def _recount(engine) -> tuple[int, int, int, int]:
    snaps = engine.devices()
    done = sum(1 for s in snaps if s.state in (DeviceState.DONE, DeviceState.SKIPPED))
    failed = sum(1 for s in snaps if s.state == DeviceState.FAILED)
    return (
        done,
        failed,
        len(snaps) - done - failed,
        len(
            engine.options.expected
            - {s.serial_number for s in snaps if s.state in (DeviceState.DONE, DeviceState.SKIPPED)}
        ),
    )


def test_the_summary_agrees_with_the_journal_during_and_after_a_mixed_batch(journal, ca):  # noqa: F811
    est = FakeEst(ca)
    devices = {f"/dev/fake{i}": FakeDevice(f"/dev/fake{i}", f"SN{i}") for i in range(4)}
    devices["/dev/dup1"] = FakeDevice("/dev/dup1", "TWIN")  # two ports, one serial: both fail
    devices["/dev/dup2"] = FakeDevice("/dev/dup2", "TWIN")
    expected = frozenset({"SN0", "SN1", "SN2", "SN3", "TWIN", "ABSENT"})
    engine = make_engine(journal, est, devices, expected=expected)
    summaries: list[BatchSnapshot] = []
    engine.bus.subscribe(lambda e: summaries.append(e) if isinstance(e, BatchSnapshot) else None)
    engine.add_ports(devices)
    assert engine.wait(20)
    final = engine.summary()
    assert (final.done, final.failed, final.in_progress, final.expected_remaining) == _recount(engine)
    assert (final.done, final.failed) == (4, 2) and final.finished
    assert final.expected_remaining == 2  # TWIN failed, ABSENT never came
    assert all(s.done + s.failed + s.in_progress <= len(devices) for s in summaries)
    done_seen = [s.done for s in summaries]
    assert done_seen == sorted(done_seen), "a unit once done is never counted back"
    engine.finish()
    assert engine.summary() == final  # the closing recount from the journal agrees
