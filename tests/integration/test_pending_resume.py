"""Issue 15 (item 1): a batch against a CA that approves by hand, and against one that issues a new
certificate for every POST (no retransmission cache): one job per unit, one certificate per unit.

The EST test server runs with ``answer_retransmissions=False`` in every test here, and the tests
count POSTs, not only issued certificates: a duplicate post cannot hide behind the server's cache.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from certline.app.batch.engine import BatchOptions
from certline.app.batch.journal import Journal
from certline.app.batch.report import render
from certline.app.batch.states import DeviceState
from certline.app.config.paths import station_paths
from certline.app.config.profile_store import ProfileStore

from .conftest import PASSCODE, start_sim

CLI = [sys.executable, "-m", "certline.app.cli.main"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LINE_PASSCODE=PASSCODE)
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def _ports(ports: list[str]) -> list[str]:
    return [arg for port in ports for arg in ("--port", port)]


def _rows() -> list[dict[str, object]]:
    journal = Journal(station_paths().journal)
    try:
        return [row for batch in journal.batches() for row in journal.device_rows(batch.id)]
    finally:
        journal.close()


def _assert_written(devices: list) -> None:  # type: ignore[type-arg]
    """Every unit DONE, holding exactly the certificate chain its journal row records."""
    rows = {r["serial_number"]: r for r in _rows()}
    assert len(rows) == len(devices)
    for device in devices:
        row = rows[device.serial_number]
        assert row["state"] == DeviceState.DONE.value, row["error"]
        assert device.flash.snapshot()["chain_pem"] == row["chain_pem"]


def test_manual_approval_then_resume_on_two_ports_writes_one_certificate_per_unit(line, sims, tmp_path):
    line.server.config.answer_retransmissions = False
    line.server.faults.add("pending", count=1, retry_after=3600, op="simpleenroll")
    sim = start_sim(sims, tmp_path, 2)
    ProfileStore().save(line.profile(name="line"))
    secret = ["--passcode-env", "LINE_PASSCODE"]

    first = cli("batch", "run", "--profile", "line", "--timeout", "8", *secret, *_ports(sim.ports))
    assert first.returncode == 1, first.stdout + first.stderr
    assert line.server.issued == []
    rows = _rows()
    assert [r["state"] for r in rows] == [DeviceState.PENDING_APPROVAL.value] * 2
    assert all(r["retry_at"] for r in rows)
    for device in sim.devices:  # the time the server asked for is in the CLI's totals
        assert f"PENDING {device.serial_number}: the EST server asks to retry at" in first.stdout
    journal = Journal(station_paths().journal)
    try:
        report = json.loads(render(journal, 1, "json"))
    finally:
        journal.close()
    assert report["totals"]["pending_approval"] == 2
    assert all(d["retry_at"] and "retry at" in d["step"] for d in report["devices"])
    csrs = [bytes(r["csr_der"]) for r in rows]  # type: ignore[arg-type]

    resumed = cli("batch", "resume", *secret, *_ports(sim.ports))
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output
    assert "internal error" not in output and "Traceback" not in output
    assert len(line.server.issued) == 2
    for csr in csrs:  # re-sent byte for byte, exactly once: the 202, then the certificate
        assert line.server.posts_for_csr(csr) == 2
    assert line.server.post_count == 4
    _assert_written(sim.devices)


def test_offline_collection_then_resume_with_ports_posts_every_csr_once(line, sims, tmp_path):
    line.server.config.answer_retransmissions = False
    sim = start_sim(sims, tmp_path, 3)
    ProfileStore().save(line.profile(name="line"))
    secret = ["--passcode-env", "LINE_PASSCODE"]
    collected = cli("batch", "run", "--profile", "line", "--offline", *secret, *_ports(sim.ports))
    assert collected.returncode == 1, collected.stdout + collected.stderr
    assert line.server.post_count == 0

    # background enrollment of the collected CSRs AND the port workers, for the same units
    resumed = cli("batch", "resume", *secret, *_ports(sim.ports))
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output
    assert "internal error" not in output and "Traceback" not in output
    assert line.server.post_count == 3, "each collected CSR is posted exactly once"
    assert len(line.server.issued) == 3
    _assert_written(sim.devices)


def test_retry_pending_asks_again_now_and_writes_the_certificate(line, sims, tmp_path):
    """The GUI's "Retry pending" and ``batch resume`` share BatchEngine.retry_pending."""
    line.server.config.answer_retransmissions = False
    line.server.faults.add("pending", count=1, retry_after=3600, op="simpleenroll")
    sim = start_sim(sims, tmp_path, 1)
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(pending_max_wait=5), sim.ports)
        assert engine.wait(60)
        (snap,) = engine.devices()
        assert snap.state == DeviceState.PENDING_APPROVAL and snap.retry_at is not None
        assert engine.summary().pending_approval == 1
        assert "retry at" in snap.step

        assert engine.retry_pending() == 1
        assert engine.wait(60)
        (snap,) = engine.devices()
        assert snap.state == DeviceState.DONE, snap
        assert engine.summary().pending_approval == 0
        assert line.server.post_count == 2 and len(line.server.issued) == 1
        assert (
            sim.devices[0].flash.snapshot()["chain_pem"]
            == session.journal.device_row(snap.device_id)["chain_pem"]
        )
        assert engine.retry_pending() == 0, "nothing is pending any more"
    finally:
        session.close()


def test_proof_of_possession_with_pending_approval_fails_early_with_the_reason(line, sims, tmp_path):
    line.server.config.answer_retransmissions = False
    line.server.config.require_pop = True
    line.server.faults.add("tls12_only")
    line.server.faults.add("pending", count=1, retry_after=2, op="simpleenroll")
    sim = start_sim(sims, tmp_path, 1)
    session = line.session(require_pop=True)
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        (snap,) = engine.devices()
        assert snap.state == DeviceState.FAILED and snap.error_code == "pop-pending", snap
        assert "proof-of-possession" in (snap.error or "") and "second request" in (snap.error or "")
        assert line.server.post_count == 1, "no second CSR is sent for a unit whose first is pending"
        assert line.server.issued == []
    finally:
        session.close()


def test_require_pop_batch_with_on_device_keys_succeeds_against_a_strict_server(line, sims, tmp_path):
    line.server.config.answer_retransmissions = False
    line.server.config.require_pop = True
    line.server.faults.add("tls12_only")
    sim = start_sim(sims, tmp_path, 2)
    ProfileStore().save(line.profile(name="line", require_pop=True))
    done = cli("batch", "run", "--profile", "line", "--passcode-env", "LINE_PASSCODE", *_ports(sim.ports))
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(line.server.issued) == 2 and line.server.post_count == 2


def test_eight_unit_resume_of_pending_units_stays_within_the_connection_pool(line, sims, tmp_path, caplog):
    """Resume = background enrollment of the pending CSRs + the same units on their ports: every
    unit ends DONE with one certificate, and no request ever waits outside the pool."""
    caplog.set_level(logging.WARNING, logger="urllib3")
    line.server.config.answer_retransmissions = False
    line.server.faults.add("pending", count=1, retry_after=3600, op="simpleenroll")
    sim = start_sim(sims, tmp_path, 8)
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(pending_max_wait=1), sim.ports)
        assert engine.wait(60)
        assert engine.summary().pending_approval == 8
        engine = session.start_batch(BatchOptions(), sim.ports, resume_batch=engine.batch_id)
        engine.enroll_collected()  # races the port workers for the same units, as in the CLI
        assert engine.wait(60)
        assert engine.all_verified(), [(s.serial_number, s.state.value, s.error) for s in engine.devices()]
    finally:
        session.close()
    assert len(line.server.issued) == 8 and line.server.post_count == 16
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
