"""After a crash the window offers to resume the unfinished batch, and resuming finishes the units.

Real simulator and EST test server: a batch is left unfinished (units unplugged mid-way), a new
window opens on the same journal, Ctrl+R resumes it, and every unit ends done with one
certificate each.
"""

from __future__ import annotations

from certline.app.batch.engine import BatchOptions
from certline.app.batch.states import DeviceState
from certline.ui.application import open_station_window
from certline.ui.station.batch_controller import Phase
from tests.integration.conftest import line, sims, start_sim  # noqa: F401 - fixtures


def test_window_offers_and_resumes_an_unfinished_batch(qtbot, line, sims, tmp_path):  # noqa: F811
    sim = start_sim(sims, tmp_path, 2, faults=["unplug@cert-write"])
    first = line.session()
    engine = first.start_batch(BatchOptions(work_order="WO-9"), sim.ports)
    assert engine.wait(60)
    assert {s.state for s in engine.devices()} == {DeviceState.WRITING}
    first.close()  # the station "crashes" with both units mid-write

    ports = [device.replug() for device in sim.devices]
    session = line.session()
    try:
        window = open_station_window(session, lambda: list(ports))
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda: window.resume_action.isEnabled(), timeout=10_000)
        assert "unfinished" in window.statusBar().currentMessage()
        window.resume_action.trigger()
        qtbot.waitUntil(
            lambda: (
                session.engine is not None
                and [s.state for s in session.engine.devices()] == [DeviceState.DONE] * 2
            ),
            timeout=60_000,
        )
        assert session.engine.batch_id == engine.batch_id
        assert len(line.server.issued) == 2
        qtbot.waitUntil(lambda: window.controller.phase is Phase.IDLE, timeout=30_000)  # batch closed
        window.close()
    finally:
        session.close()
