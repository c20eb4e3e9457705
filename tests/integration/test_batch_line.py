"""The batch engine on a real line: simulated units on pseudo-terminals, the EST test server over TLS.

Each test is a situation a technician meets: a full hub, the server going away mid-batch, a
unit pulled out and plugged into another port, a unit that is not on the work order, two units
claiming one serial number, and a request waiting for approval on the server.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from certline.app.batch.engine import BatchOptions
from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.states import DeviceState
from certline.app.device.discovery import HotplugWatcher, StaticPortSource
from tests.helpers.waiting import wait_until

from .conftest import start_sim

#: A generous ceiling for a batch on the real line (TLS, pseudo-terminals) on a loaded machine.
LINE_TIMEOUT = 60.0


def test_sixteen_units_in_parallel_all_end_verified(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 16)
    session = line.provision(sim.ports)
    try:
        snaps = session.engine.devices()
        assert len(snaps) == 16 and session.engine.all_verified()
        by_serial = {s.serial_number: s for s in snaps}
        for device in sim.devices:
            row = session.journal.device_row(by_serial[device.serial_number].device_id)
            assert device.flash.snapshot()["chain_pem"] == row["chain_pem"]
        assert len(line.server.issued) == 16
        assert session.journal.audit.verify().ok
    finally:
        session.close()


def test_est_outage_mid_batch_keeps_preparing_units_and_resumes_by_itself(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 4, keygen_latency=0.3)
    session = line.session()
    seen: list[DeviceSnapshot] = []
    session.bus.subscribe(lambda e: seen.append(e) if isinstance(e, DeviceSnapshot) else None)
    try:
        line.server.stop()  # the server goes away just as the batch starts
        engine = session.start_batch(BatchOptions(), sim.ports)
        engine.gateway._probe_interval = 0.2
        # every unit still gets its key and CSR while the server is down
        wait_until(
            lambda: (
                sum(
                    1
                    for s in engine.devices()
                    if s.state == DeviceState.CSR_READY or s.state == DeviceState.ENROLLING
                )
                == 4
            ),
            LINE_TIMEOUT,
            "every unit holding a CSR while the server is down",
        )
        wait_until(lambda: not engine.gateway.reachable, LINE_TIMEOUT, "the station noticing the outage")
        assert line.server.issued == []
        line.server.start()  # same ports: the station's URL is still valid
        assert engine.wait(60)
        assert engine.all_verified()
        assert len(line.server.issued) == 4
        assert any("waiting for the EST server" in s.step for s in seen)
    finally:
        session.close()


def test_unit_unplugged_mid_write_resumes_on_another_port(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 1, faults=["unplug@cert-write"])
    device = sim.devices[0]
    first_port = device.port
    source = StaticPortSource([first_port])
    session = line.session()
    engine = session.start_batch(BatchOptions())
    watcher = HotplugWatcher(source, on_added=lambda info: engine.add_port(info.device), interval=0.05)
    try:
        watcher.start()
        wait_until(lambda: any("device lost" in s.step for s in engine.devices()), LINE_TIMEOUT, "the unplug")
        (lost,) = engine.devices()
        assert lost.state == DeviceState.WRITING
        # the technician plugs the unit into another port of the hub
        new_port = device.replug(new_path=True)
        assert new_port != first_port
        source.add(new_port)
        wait_until(
            lambda: engine.devices()[0].state == DeviceState.DONE, LINE_TIMEOUT, "the unit reaching DONE"
        )
        (snap,) = engine.devices()
        assert snap.port == new_port and snap.serial_number == device.serial_number
        assert len(line.server.issued) == 1, "the certificate issued before the unplug is the one written"
        assert device.flash.snapshot()["chain_pem"] == session.journal.device_row(snap.device_id)["chain_pem"]
    finally:
        watcher.stop()
        session.close()


def test_a_certificate_that_expired_while_its_unit_was_away_is_not_written(line, sims, tmp_path):
    """A unit unplugged during the write and plugged in after its certificate expired (a short
    validity, a unit left on the bench) gets nothing written: the batch says why, and a retry
    enrolls it anew instead of writing the dead certificate again."""
    line.server.config.validity_days = 2 / 86400
    sim = start_sim(sims, tmp_path, 1, faults=["unplug@cert-write"])
    device = sim.devices[0]
    session = line.session()
    engine = session.start_batch(BatchOptions(), [device.port])
    try:
        wait_until(lambda: any("device lost" in s.step for s in engine.devices()), LINE_TIMEOUT, "the unplug")
        (lost,) = engine.devices()
        assert lost.cert_not_after is not None
        time.sleep(max(0.0, (lost.cert_not_after - datetime.now(UTC)).total_seconds()) + 0.5)
        line.server.config.validity_days = 365.0
        engine.add_port(device.replug())
        wait_until(lambda: engine.devices()[0].state == DeviceState.FAILED, LINE_TIMEOUT, "the refusal")
        (refused,) = engine.devices()
        assert refused.error_code == "issued-expired" and "before it could be written" in (
            refused.error or ""
        )
        assert device.flash.snapshot().get("chain_pem") is None  # nothing written

        engine.retry_failed()
        wait_until(lambda: engine.devices()[0].state == DeviceState.DONE, LINE_TIMEOUT, "the retry")
        (done,) = engine.devices()
        assert done.cert_serial != lost.cert_serial and done.cert_not_after is not None
        assert done.cert_not_after > datetime.now(UTC) + timedelta(days=300)
        assert device.flash.snapshot()["chain_pem"] == session.journal.device_row(done.device_id)["chain_pem"]
    finally:
        session.close()


def test_unit_not_on_the_work_order_is_flagged_and_not_enrolled(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 2)
    expected = frozenset({sim.devices[0].serial_number})
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(expected=expected), sim.ports)
        assert engine.wait(60)
        states = {s.serial_number: s for s in engine.devices()}
        assert states[sim.devices[0].serial_number].state == DeviceState.DONE
        stranger = states[sim.devices[1].serial_number]
        assert stranger.state == DeviceState.FAILED and stranger.error_code == "unexpected"
        assert "not on this batch's expected list" in (stranger.error or "")
        assert [r.subject for r in line.server.issued] == [
            f"O=Certline Test,CN={sim.devices[0].serial_number}"
        ]
        assert engine.summary().expected_remaining == 0
    finally:
        session.close()


def test_two_units_reporting_one_serial_number_are_both_stopped(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 3, keygen_latency=0.5, faults=["dev2:dup-serial=CL-000002"])
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        snaps = engine.devices()
        twins = [s for s in snaps if s.serial_number == "CL-000002"]
        assert len(twins) == 2
        assert all(s.state == DeviceState.FAILED and s.error_code == "duplicate" for s in twins)
        assert all("reported by two ports" in (s.error or "") for s in twins)
        others = [s for s in snaps if s.serial_number != "CL-000002"]
        assert [s.state for s in others] == [DeviceState.DONE]
        assert all("CL-000002" not in r.subject for r in line.server.issued)
    finally:
        session.close()


def test_request_pending_approval_is_resolved_later_with_the_same_csr(line, sims, tmp_path):
    line.server.faults.add("pending", op="simpleenroll", count=2, retry_after=1)
    sim = start_sim(sims, tmp_path, 1)
    session = line.session()
    pending_seen = threading.Event()
    session.bus.subscribe(
        lambda e: (
            pending_seen.set()
            if isinstance(e, DeviceSnapshot) and e.state == DeviceState.PENDING_APPROVAL
            else None
        )
    )
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert pending_seen.wait(30)
        assert engine.summary().pending_approval == 1
        assert engine.wait(60) and engine.all_verified()
        (snap,) = engine.devices()
        history = [t.state for t in session.journal.history(snap.device_id)]
        assert history.count(DeviceState.PENDING_APPROVAL) == 2
        assert len(line.server.issued) == 1
        posted = [r for r in line.server.requests if r.path.endswith("/simpleenroll")]
        assert len(posted) == 3 and len({r.body for r in posted}) == 1, "the same CSR each time"
    finally:
        session.close()
