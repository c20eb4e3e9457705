"""A batch against an EST server that answers one byte at a time.

Before EST requests had an overall deadline, `batch run --timeout 10` took 81 s to exit and
left its unit "enrolling with the EST server" with no reason. Now each request ends at the
profile's request_timeout, the unit's journaled step names the server and the limit, and
stopping the batch is prompt.
"""

from __future__ import annotations

import time

import pytest

from certline.app.batch.engine import BatchOptions
from certline.app.batch.states import DeviceState
from certline.app.station import StationSession
from tests.est.trickle import TrickleServer

from .conftest import start_sim


@pytest.mark.timeout(90)
def test_unit_waiting_on_a_dripping_server_says_why_and_the_batch_stops_promptly(line, sims, tmp_path):
    server = TrickleServer("body")
    sim = start_sim(sims, tmp_path, 1)
    profile = line.profile(enroll_url=server.base_url, ca_bundle_pem=server.ca_pem, request_timeout=1.0)
    session = StationSession(profile, line.credentials(), paths=line.paths())
    try:
        engine = session.start_batch(BatchOptions(work_order="WO-DRIP"), sim.ports)
        where = f"127.0.0.1:{server.port}"

        def waiting_step() -> str | None:
            snaps = engine.devices()
            if snaps and snaps[0].state == DeviceState.ENROLLING and where in (snaps[0].step or ""):
                return snaps[0].step
            return None

        ends = time.monotonic() + 30
        while waiting_step() is None:
            assert time.monotonic() < ends, [s.step for s in engine.devices()]
            time.sleep(0.05)
        step = waiting_step()
        assert step is not None and "timed out after 1 s" in step
        started = time.monotonic()
        engine.stop()
        assert engine.wait(10)
        assert time.monotonic() - started < 5
        (row,) = session.journal.device_rows(engine.batch_id)
        assert where in row["step"] and "timed out after 1 s" in row["step"]
    finally:
        session.close()
        server.close()
