"""The fault matrix (docs/reliability.md), batch level: real simulator units, real EST server over TLS.

Every test injects one fault into a running batch and checks the same four things:

* the faulty unit recovers, or fails with a specific error code and message;
* every other unit of the batch ends done;
* nothing reaches a unit's flash that the journal does not hold as an issued, verified
  certificate (a failed unit keeps its previous credential: here, none);
* the journal's audit chain verifies.

Faults already proven elsewhere (driver, client, server, kill/resume tests) are cited in
docs/reliability.md instead of being repeated here.
"""

from __future__ import annotations

import collections
import threading

import pytest

from certline.app.batch.engine import BatchEngine, BatchOptions
from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.states import TERMINAL, DeviceState
from certline.app.estserver import EstTestServer
from certline.app.estserver.config import ServerConfig
from certline.app.sim.simulator import Simulator
from certline.app.station import StationSession
from tests.helpers.waiting import wait_until

from .conftest import LINE_TIMEOUT, PASSCODE, Line, LogRecorder, by_serial, chain_on, start_sim

S = DeviceState


def issued_per_unit(line: Line) -> collections.Counter[str]:
    return collections.Counter(r.subject for r in line.server.issued)


def assert_line_consistent(session: StationSession, engine: BatchEngine, sims: list[Simulator]) -> None:
    """Each unit's flash holds exactly the chain the journal recorded for it (or nothing), and the
    audit chain verifies."""
    snaps = by_serial(engine)
    for sim in sims:
        for index, device in enumerate(sim.devices):
            on_flash = chain_on(sim, index)
            snap = snaps[device.serial_number]
            journaled = session.journal.device_row(snap.device_id)["chain_pem"]
            if snap.state == S.DONE:
                assert on_flash == journaled, f"{device.serial_number} holds another chain than journaled"
            elif on_flash is not None:
                recorded = [c["chain_pem"] for c in session.journal.certificates_for(device.serial_number)]
                assert on_flash in recorded, f"{device.serial_number} holds a chain the journal never issued"
    verdict = session.journal.audit.verify()
    assert verdict.ok, verdict.problems


# ---------------------------------------------------------------------------------------- device


@pytest.mark.parametrize("point", ["keygen", "csr", "cert-write", "cert-commit"])
def test_unit_unplugged_at_any_step_resumes_when_plugged_in_again(line, sims, tmp_path, point):
    sim = start_sim(sims, tmp_path, 3, faults=[f"dev1:unplug@{point}"])
    victim = sim.devices[1]
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)

        def lost() -> bool:
            snap = by_serial(engine).get(victim.serial_number)
            return snap is not None and "device lost" in snap.step

        wait_until(lost, LINE_TIMEOUT, what=f"the unplug at {point}")
        assert victim.faults.fired == [f"unplug@{point}"]
        assert by_serial(engine)[victim.serial_number].state not in TERMINAL
        assert chain_on(sim, 1) is None, "nothing may be on the unit before its write completed"
        engine.add_port(victim.replug())  # the technician plugs it back in
        assert engine.wait(60)
        assert engine.all_verified(), by_serial(engine)
        issued = issued_per_unit(line)
        assert len(issued) == 3 and set(issued.values()) == {1}, "one certificate per unit, across the unplug"
        assert_line_consistent(session, engine, [sim])
    finally:
        session.close()


def test_line_noise_and_a_reboot_during_the_write_are_absorbed_and_every_unit_ends_done(line, sims, tmp_path):
    faults = [
        "dev0:garbage=3",  # noise glued in front of frames
        "dev1:truncate=2",  # replies cut short
        "dev2:corrupt=3",  # DATA chunks with a bad CRC, uploaded chunks NAKed
        "dev3:reboot@cert-write",  # the unit reboots while receiving its certificate
        "dev4:crlf",  # mangled line endings on every line
    ]
    sim = start_sim(sims, tmp_path, 5, faults=faults)
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        assert engine.all_verified(), by_serial(engine)
        for device in sim.devices:
            assert device.faults.fired, f"the fault on {device.serial_number} never fired"
        issued = issued_per_unit(line)
        assert len(issued) == 5 and set(issued.values()) == {1}
        assert_line_consistent(session, engine, [sim])
    finally:
        session.close()


def test_busy_unit_fails_with_try_again_and_the_operator_retry_finishes_it(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 2, faults=["dev1:busy=1"])
    victim = sim.devices[1]
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        snaps = by_serial(engine)
        busy = next(s for s in snaps.values() if s.state == S.FAILED)
        assert busy.error_code == "busy" and "try again" in (busy.error or "")
        assert snaps[sim.devices[0].serial_number].state == S.DONE
        assert chain_on(sim, 1) is None and victim.faults.fired == ["busy"]
        assert engine.retry_failed() == 1
        assert engine.wait(60) and engine.all_verified(), by_serial(engine)
        assert_line_consistent(session, engine, [sim])
    finally:
        session.close()


def test_hopelessly_corrupted_chunks_fail_only_that_unit(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 3, faults=["dev1:corrupt=*"])
    victim = sim.devices[1]
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        snaps = by_serial(engine)
        failed = snaps[victim.serial_number]
        assert failed.state == S.FAILED and failed.error_code == "protocol"
        assert "damaged" in (failed.error or "") and "reading CSR" in (failed.failed_step or "")
        assert [s.state for k, s in snaps.items() if k != victim.serial_number] == [S.DONE, S.DONE]
        assert f"CN={victim.serial_number}" not in " ".join(r.subject for r in line.server.issued)
        assert chain_on(sim, 1) is None
        assert_line_consistent(session, engine, [sim])
    finally:
        session.close()


def test_unit_rebooting_at_every_certificate_write_fails_then_retry_writes_the_same_certificate(
    line, sims, tmp_path
):
    sim = start_sim(sims, tmp_path, 3, faults=["dev1:reboot@cert-write=*"])
    victim = sim.devices[1]
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        failed = by_serial(engine)[victim.serial_number]
        assert failed.state == S.FAILED and failed.error_code == "busy"
        assert "rebooted" in (failed.error or "") and "writing the certificate" in (failed.failed_step or "")
        assert chain_on(sim, 1) is None, "the unit keeps its previous credential (none)"
        assert sum(s.state == S.DONE for s in engine.devices()) == 2
        # the unit is fixed; the operator retries: the certificate already issued is written
        victim.clear_faults()
        assert engine.retry_failed() == 1
        assert engine.wait(60) and engine.all_verified()
        issued = issued_per_unit(line)
        assert len(issued) == 3 and set(issued.values()) == {1}
        assert_line_consistent(session, engine, [sim])
    finally:
        session.close()


# ---------------------------------------------------------------------------------------- server


def test_est_server_down_mid_batch_pauses_enrollment_and_resumes_by_itself(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 4)
    first, later = sim.ports[:1], sim.ports[1:]
    session = line.session()
    steps: list[str] = []
    session.bus.subscribe(lambda e: steps.append(e.step) if isinstance(e, DeviceSnapshot) else None)
    try:
        engine = session.start_batch(BatchOptions(), first)
        engine.gateway._probe_interval = 0.2  # probe often so the test does not wait for the default
        wait_until(
            lambda: [s.state for s in engine.devices()] == [S.DONE], LINE_TIMEOUT, what="the first unit"
        )
        line.server.stop()  # the server goes away in the middle of the batch...
        engine.add_ports(later)  # ...while more units are plugged in
        wait_until(lambda: not engine.gateway.reachable, LINE_TIMEOUT, what="the station noticing the outage")
        wait_until(
            lambda: sum(s.state in (S.CSR_READY, S.ENROLLING) for s in engine.devices()) == 3,
            LINE_TIMEOUT,
            what="every new unit ready to enroll",
        )
        assert len(line.server.issued) == 1
        line.server.start()  # same ports: the profile's URL is still valid
        assert engine.wait(60) and engine.all_verified(), by_serial(engine)
        issued = issued_per_unit(line)
        assert len(issued) == 4 and set(issued.values()) == {1}
        assert any("waiting for the EST server" in step for step in steps)
        assert_line_consistent(session, engine, [sim])
    finally:
        session.close()


def _certificate_with_version(cert_der: bytes, version: int) -> bytes:
    """``cert_der`` with its version field set to a value X.509 does not define."""
    at = cert_der.index(bytes.fromhex("a003020102")) + 4
    return cert_der[:at] + bytes([version]) + cert_der[at + 1 :]


def test_server_back_with_a_broken_cacerts_keeps_the_station_probing_until_it_is_fixed(
    line, sims, tmp_path, monkeypatch
):
    from cryptography.hazmat.primitives import serialization

    from certline.app.estserver import wire
    from certline.app.estserver.service import Response

    sim = start_sim(sims, tmp_path, 2)
    session = line.session()
    try:
        line.server.stop()
        engine = session.start_batch(BatchOptions(), sim.ports)
        engine.gateway._probe_interval = 0.2  # probe often, and do not let the probe back off far
        engine.gateway._max_backoff = 0.5
        wait_until(lambda: not engine.gateway.reachable, LINE_TIMEOUT, what="the station noticing the outage")
        # the server comes back answering /cacerts with a certificate of X.509 version 6
        root = line.server.ca.root_cert.public_bytes(serialization.Encoding.DER)
        broken = Response(
            200, wire.b64_lines(_certificate_with_version(root, 5)), [("Content-Type", wire.CERTS_ONLY)]
        )
        monkeypatch.setattr(line.server.service, "_cacerts", lambda: broken)
        line.server.clear_requests()
        line.server.start()

        def probed() -> int:
            return sum(r.path.endswith("/cacerts") for r in line.server.requests)

        wait_until(lambda: probed() >= 2, LINE_TIMEOUT, what="the probe asking again after a broken answer")
        assert not engine.gateway.reachable, "a broken /cacerts is not a server that is back"
        monkeypatch.undo()  # /cacerts is fixed on the server
        assert engine.wait(60) and engine.all_verified(), by_serial(engine)
        assert_line_consistent(session, engine, [sim])
    finally:
        session.close()


def test_transient_5xx_is_retried_and_every_unit_ends_done(line, sims, tmp_path):
    line.server.faults.add("error5xx", op="simpleenroll", times=4, status=503, retry_after=0)
    sim = start_sim(sims, tmp_path, 3)
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60) and engine.all_verified(), by_serial(engine)
        assert len(line.server.faults.fired) == 4
        issued = issued_per_unit(line)
        assert len(issued) == 3 and set(issued.values()) == {1}
        assert_line_consistent(session, engine, [sim])
    finally:
        session.close()


def test_request_pending_forever_hits_the_limit_then_enrolls_the_same_csr_once_approved(line, sims, tmp_path):
    line.server.faults.add("pending", op="simpleenroll", count=1000, retry_after=1)
    sim = start_sim(sims, tmp_path, 2)
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(pending_max_wait=1.5), sim.ports)
        assert engine.wait(60)
        for snap in engine.devices():  # left pending (issue 15), with the time the server asked for
            assert snap.state == S.PENDING_APPROVAL and snap.retry_at is not None, snap
            assert "pending approval" in snap.step and "retry at" in snap.step
        assert engine.summary().pending_approval == 2
        assert line.server.issued == [] and chain_on(sim, 0) is None and chain_on(sim, 1) is None
        line.server.faults.clear("pending")  # the requests are approved on the server
        assert engine.retry_pending() == 2
        assert engine.wait(60) and engine.all_verified(), by_serial(engine)
        posted = [r.body for r in line.server.requests if r.path.endswith("/simpleenroll")]
        assert len(posted) >= 6 and len(set(posted)) == 2, "each unit re-posted its one CSR"
        issued = issued_per_unit(line)
        assert len(issued) == 2 and set(issued.values()) == {1}
        assert_line_consistent(session, engine, [sim])
    finally:
        session.close()


BAD_ANSWERS = {
    "malformed-pkcs7": (dict(kind="malformed", variant="pkcs7"), "bad-response", "PKCS#7"),
    "wrong-key": (dict(kind="wrong_key"), "bad-response", "the request's public key"),
    "unknown-ca": (dict(kind="unknown_ca"), "bad-response", "does not reach a trusted CA"),
    "passcode-rejected": (dict(kind="reject_passcode"), "unauthorized", "HTTP 401"),
}


@pytest.mark.parametrize("name", BAD_ANSWERS)
def test_one_bad_server_answer_fails_only_the_unit_it_was_for(line, sims, tmp_path, name):
    fault, code, message = BAD_ANSWERS[name]
    line.server.faults.add(op="simpleenroll", times=1, **fault)
    sim = start_sim(sims, tmp_path, 3)
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        failed = [s for s in engine.devices() if s.state == S.FAILED]
        assert len(failed) == 1, engine.devices()
        (victim,) = failed
        assert victim.error_code == code and message in (victim.error or ""), victim.error
        assert sum(s.state == S.DONE for s in engine.devices()) == 2
        index = next(i for i, d in enumerate(sim.devices) if d.serial_number == victim.serial_number)
        assert chain_on(sim, index) is None, "an unverified certificate must never reach the unit"
        assert session.journal.device_row(victim.device_id)["chain_pem"] is None
        assert_line_consistent(session, engine, [sim])
        # the operator retries once the server behaves: the unit ends done with a verified chain
        assert engine.retry_failed() == 1
        assert engine.wait(60) and engine.all_verified(), by_serial(engine)
        assert_line_consistent(session, engine, [sim])
    finally:
        session.close()


def test_tls_hostname_mismatch_fails_every_unit_and_never_sends_the_passcode(sims, tmp_path):
    # the server's certificate names est.example.invalid and 127.0.0.1; the profile says localhost
    server = EstTestServer(
        state_dir=tmp_path / "est-tls",
        passcode=PASSCODE,
        config=ServerConfig(tls_hosts=("est.example.invalid",)),
    )
    with server:
        line = Line(server, tmp_path)
        url = line.profile().enroll_url.replace("://127.0.0.1:", "://localhost:")
        sim = start_sim(sims, tmp_path, 2)
        session = line.session(enroll_url=url)
        try:
            engine = session.start_batch(BatchOptions(), sim.ports)
            assert engine.wait(60)
            for snap in engine.devices():
                assert snap.state == S.FAILED and snap.error_code == "tls", snap
                assert "not trusted" in (snap.error or "") and "localhost" in (snap.error or "")
                assert "SHA-256" in (snap.error or ""), "the fingerprint is shown for an out-of-band check"
            assert server.requests == [], "no HTTP request (and so no passcode) went to the wrong host"
            assert server.issued == [] and chain_on(sim, 0) is None and chain_on(sim, 1) is None
            assert_line_consistent(session, engine, [sim])
        finally:
            session.close()


# ---------------------------------------------------------------------------------------- station


def test_disk_full_while_journaling_stops_units_cleanly_and_resume_loses_nothing(
    line, sims, tmp_path, monkeypatch
):
    """A real SQLITE_FULL, without a tmpfs mount: once the first unit has its CSR, the journal
    may not grow by a single page (``PRAGMA max_page_count``). Then the space comes back and
    the batch is resumed."""
    crashed: list[object] = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)
    sim = start_sim(sims, tmp_path, 3, keygen_latency=0.2)
    session = line.session()
    log = LogRecorder()
    session.bus.subscribe(log)
    db = session.journal._db
    full = threading.Event()

    def fill_the_disk(event: object) -> None:
        # runs on the worker thread that just journaled the first CSR, before its next step
        if isinstance(event, DeviceSnapshot) and event.state == S.CSR_READY and not full.is_set():
            with session.journal._lock:
                pages = db.execute("PRAGMA page_count").fetchone()[0]
                db.execute(f"PRAGMA max_page_count = {pages}")
            full.set()

    session.bus.subscribe(fill_the_disk)
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        assert crashed == [], "a full disk must not crash a worker thread"
        stopped = [s for s in engine.devices() if s.state != S.DONE]
        assert stopped, "the full journal should have stopped at least one unit"
        assert full.is_set()
        errors = log.errors()
        for snap in stopped:
            said = [e for e in log.events if e.device_id == snap.device_id and "disk is full" in e.message]
            assert said or (snap.error and "disk is full" in snap.error), (snap, errors)
        assert_line_consistent(session, engine, [sim])  # nothing on a unit the journal does not know

        with session.journal._lock:
            db.execute("PRAGMA max_page_count = 1073741823")  # space freed
        engine = session.start_batch(BatchOptions(), sim.ports, resume_batch=engine.batch_id)
        assert engine.wait(60) and engine.all_verified(), by_serial(engine)
        issued = issued_per_unit(line)
        assert len(issued) == 3 and set(issued.values()) == {1}, "the same CSR was resent, never a new one"
        assert_line_consistent(session, engine, [sim])
        assert crashed == []
    finally:
        session.close()


def test_journal_write_failure_is_reported_not_masked(tmp_path):
    """SQLite rolls a transaction back by itself on SQLITE_FULL; the journal must still raise
    the real cause ("disk is full"), not "cannot rollback - no transaction is active"."""
    from certline.app.batch.journal import Journal
    from certline.app.batch.journal_api import JournalFull

    journal = Journal(tmp_path / "j.sqlite3")
    try:
        batch = journal.create_batch(profile_name="p", profile_json={})
        pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
        journal._db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(JournalFull, match="disk is full"):
            for n in range(200):
                journal.add_device(batch, f"/dev/ttyX{n}", serial_number="S" * 1000 + str(n))
        journal._db.execute("PRAGMA max_page_count = 1073741823")
        journal.add_device(batch, "/dev/ttyY", serial_number="after")  # the journal still works
        assert journal.audit.verify().ok
    finally:
        journal.close()
