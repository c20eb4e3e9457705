"""The batch lifecycle (certline.app.station.batch_run) without Qt, on simulated units and the EST test server.

``certline batch run`` and the station window's controller both drive batches through it, so
what is asserted here is what both views do: the engine exists before any port is added, a
batch closes exactly once when nothing is left, Stop closes it, and a stopped batch is retried
with a new engine on the same journaled batch.
"""

from __future__ import annotations

from certline.app.batch.engine import BatchOptions
from certline.app.batch.states import DeviceState
from certline.app.station.batch_run import BatchRun, Phase, SnapshotVerdict
from tests.integration.conftest import line, sims, start_sim  # noqa: F401 - fixtures


def test_start_then_ports_then_closed_exactly_once(line, sims, tmp_path):  # noqa: F811
    sim = start_sim(sims, tmp_path, 2)
    session = line.session()
    try:
        run = BatchRun(session)
        assert run.begin_start() and not run.begin_start()  # one batch at a time
        engine = run.start(BatchOptions(work_order="WO-1"))
        assert run.phase is Phase.RUNNING and run.batch_id == engine.batch_id
        assert engine.devices() == []  # the caller knows the batch before any unit shows up
        run.add_ports(sim.ports)
        assert engine.wait(60)
        snap = engine.summary()
        assert run.note_snapshot(finished=snap.finished, in_progress=snap.in_progress, paused=False) is (
            SnapshotVerdict.CLOSE
        )
        # while that close check runs, another snapshot must not start a second one
        assert run.note_snapshot(finished=False, in_progress=0, paused=False) is SnapshotVerdict.NOTHING
        assert run.close_if_idle()
        assert run.phase is Phase.IDLE
        assert session.journal.batch(engine.batch_id).ended_at is not None
        assert [s.state for s in engine.devices()] == [DeviceState.DONE] * 2
    finally:
        session.close()


def test_a_paused_batch_is_not_closed(line):  # noqa: F811
    session = line.session()
    try:
        run = BatchRun(session)
        assert run.begin_start()
        run.start(BatchOptions())
        assert run.note_snapshot(finished=True, in_progress=0, paused=True) is SnapshotVerdict.NOTHING
    finally:
        session.close()


def test_stop_closes_the_batch_and_retry_continues_it_with_a_new_engine(line, sims, tmp_path):  # noqa: F811
    sim = start_sim(sims, tmp_path, 1, faults=["dev0:refuse@cert-write=1"])
    session = line.session()
    try:
        run = BatchRun(session)
        assert run.begin_start()
        first = run.start(BatchOptions())
        run.add_ports(sim.ports)
        assert first.wait(60)
        assert [s.state for s in first.devices()] == [DeviceState.FAILED]
        assert run.begin_stop()
        assert run.stop(10)
        assert run.phase is Phase.IDLE
        assert session.journal.batch(first.batch_id).ended_at is not None
        assert run.retry_failed() == 1
        second = run.engine
        assert second is not None and second is not first and second.batch_id == first.batch_id
        assert run.phase is Phase.RUNNING
        assert second.wait(60)
        assert [s.state for s in second.devices()] == [DeviceState.DONE]
    finally:
        session.close()


def test_a_batch_started_without_names_records_the_station_and_operator(line):  # noqa: F811
    """The window passes neither: the report must still say which station and who (not None)."""
    session = line.session()
    try:
        run = BatchRun(session)
        assert run.begin_start()
        engine = run.start(BatchOptions())
        record = session.journal.batch(engine.batch_id)
        assert record.station == session.journal.station and record.station
        assert record.operator == session.roles.operator.name and record.operator
    finally:
        session.close()
