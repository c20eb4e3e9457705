"""A batch whose drivers run in device host processes (the station's default), against the
shipped simulator and a strict EST test server (no forgiving retransmission answers).

The host is killed while units hold their issued certificate but are still being proven: the
engine must stop those units at their journaled step, and running them again must finish them
without a second POST or a second certificate for any unit.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from certline.app.batch.engine import BatchOptions
from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.states import DeviceState
from certline.app.station import StationSession
from tests.integration.conftest import start_sim


def test_units_finish_through_the_device_hosts_exactly_once(line, sims, tmp_path) -> None:  # type: ignore[no-untyped-def]
    line.server.config.answer_retransmissions = False
    sim = start_sim(sims, tmp_path, 4)
    session = StationSession(line.profile(), line.credentials(), paths=line.paths(), device_hosts=1)
    try:
        assert session.device_hosts is not None
        engine = session.start_batch(BatchOptions(work_order="WO-HOSTS"), sim.ports)
        assert engine.wait(120)
        assert [s.state for s in engine.devices()] == [DeviceState.DONE] * 4
        assert len(line.server.issued) == 4 and line.server.post_count == 4
    finally:
        session.close()


def test_a_host_killed_while_units_are_proven_loses_nothing_and_issues_nothing_twice(  # type: ignore[no-untyped-def]
    line, sims, tmp_path
) -> None:
    line.server.config.answer_retransmissions = False
    sim = start_sim(sims, tmp_path, 4)
    session = StationSession(line.profile(), line.credentials(), paths=line.paths(), device_hosts=1)
    killed = threading.Event()
    try:
        assert session.device_hosts is not None
        session.prepare_devices(wait=60)
        host_pid = session.device_hosts._hosts[0].process.pid

        def on_event(event: object) -> None:
            # the first unit with its certificate written: every unit has been issued or is close
            if (
                isinstance(event, DeviceSnapshot)
                and event.state == DeviceState.WRITTEN
                and not killed.is_set()
            ):
                killed.set()
                os.kill(host_pid, signal.SIGKILL)

        session.bus.subscribe(on_event)
        engine = session.start_batch(BatchOptions(work_order="WO-KILL"), sim.ports)
        assert engine.wait(120)
        assert killed.is_set()
        first_round = engine.devices()
        lost = [s for s in first_round if s.state != DeviceState.DONE]
        assert lost, "the kill stopped at least the unit being proven"
        for snap in lost:  # stopped at the journaled step, as an unplugged unit is
            assert snap.state != DeviceState.FAILED or snap.error_code == "lost", snap
        assert any(s.state == DeviceState.WRITTEN and "device lost" in s.step for s in lost)
        issued_before = len(line.server.issued)
        posts_before = line.server.post_count

        engine.add_ports(sim.ports)  # the technician replugs (or hands-free sees the ports again)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(s.state == DeviceState.DONE for s in engine.devices()):
            time.sleep(0.1)
        engine.wait(60)
        assert [s.state for s in engine.devices()] == [DeviceState.DONE] * 4
        assert session.device_hosts._hosts[0].process.pid != host_pid, "a fresh host serves the ports"
        # units already issued were written and proven from the journal: no POST for them again
        issued = line.server.issued
        assert len({r.public_key_sha256 for r in issued}) == len(issued) == 4
        assert line.server.post_count == posts_before + (4 - issued_before)
        for row in engine.journal.device_rows(engine.batch_id):
            assert line.server.posts_for_csr(bytes(row["csr_der"])) == 1
    finally:
        session.close()


def test_a_host_started_by_a_window_s_port_worker_keeps_normal_priority(line, sims, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A station window's port workers run below normal priority (app/host/thread_priority.py).
    When one of them must start a device host (the last one died), the host must not inherit
    that priority: an unprivileged process can never raise it again, and every port it serves
    would stay behind for the rest of the shift."""
    sim = start_sim(sims, tmp_path, 1)
    session = StationSession(line.profile(), line.credentials(), paths=line.paths(), device_hosts=1)
    session.workers_yield_to_window = True  # what a station window sets on its session
    try:
        assert session.device_hosts is not None
        engine = session.start_batch(BatchOptions(work_order="WO-NICE"), sim.ports)
        assert engine.wait(120)
        first = session.device_hosts._hosts[0].process
        os.kill(first.pid, signal.SIGKILL)
        first.join(10)
        engine.add_ports(sim.ports)  # the port's next job: its worker opens the port, starting a host
        assert engine.wait(120)
        started = [h.process.pid for h in session.device_hosts._hosts if h.alive]
        assert started and first.pid not in started
        ours = os.getpriority(os.PRIO_PROCESS, os.getpid())
        assert [os.getpriority(os.PRIO_PROCESS, pid) for pid in started] == [ours] * len(started)
    finally:
        session.close()
