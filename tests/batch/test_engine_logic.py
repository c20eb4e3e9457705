"""The engine's rules (resume, duplicates, outage, pending) on fast in-memory fakes.

The same rules are exercised end to end over pseudo-terminals and TLS in tests/integration.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from cryptography import x509

from certline.app.batch.engine import BatchEngine, BatchOptions
from certline.app.batch.est_gateway import EstGateway
from certline.app.batch.events import BatchSnapshot, DeviceSnapshot, EventBus
from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState
from certline.app.config.profile import Profile
from tests.helpers.pg_cluster import pg_cluster, pg_url  # noqa: F401 - fixtures
from tests.journal.test_journal_backends import _tamper

from .fakes import FakeCA, FakeDevice, FakeEst


@pytest.fixture
def ca() -> FakeCA:
    return FakeCA()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal(request, tmp_path) -> Journal:
    """The engine's rules hold on both journal backends (PostgreSQL: a real server)."""
    if request.param == "sqlite":
        j = Journal(tmp_path / "journal.sqlite3")
    else:
        from certline.app.batch.journal_pg import PgJournal

        cluster = request.getfixturevalue("pg_cluster")
        j = PgJournal(request.getfixturevalue("pg_url"), station="st-1", password=cluster.password)
    yield j
    j.close()


def make_engine(journal, est, devices, **options) -> BatchEngine:
    profile = Profile(name="line-1", enroll_url="https://127.0.0.1:1/.well-known/est")
    gateway = EstGateway(est, concurrency=2, probe_interval=0.05)
    return BatchEngine(
        journal=journal,
        profile=profile,
        gateway=gateway,
        open_driver=lambda port: devices[port],
        bus=EventBus(),
        options=BatchOptions(**options),
    )


def test_every_device_ends_done_with_a_certificate_for_its_own_key(journal, ca):
    est = FakeEst(ca)
    devices = {f"/dev/fake{i}": FakeDevice(f"/dev/fake{i}", f"SN{i}") for i in range(5)}
    engine = make_engine(journal, est, devices)
    seen: list[DeviceSnapshot] = []
    engine.bus.subscribe(lambda e: seen.append(e) if isinstance(e, DeviceSnapshot) else None)
    engine.add_ports(devices)
    assert engine.wait(30)
    assert engine.all_verified()
    assert len(est.issued) == 5
    for snap in engine.devices():
        dev = devices[snap.port]
        assert dev.chain_pem is not None and snap.cert_fingerprint is not None
    states = [s.state for s in seen if s.serial_number == "SN0"]
    assert (
        states.index(DeviceState.ENROLLING)
        < states.index(DeviceState.ISSUED)
        < states.index(DeviceState.DONE)
    )
    assert journal.audit.verify().ok


def test_unplug_during_write_resumes_on_another_port_without_a_second_certificate(journal, ca):
    est = FakeEst(ca)
    dev = FakeDevice("/dev/a", "SN-A")
    dev.unplug_at = "write_certificate_chain"
    ports = {"/dev/a": dev}
    engine = make_engine(journal, est, ports)
    engine.add_port("/dev/a")
    assert engine.wait(10)
    (snap,) = engine.devices()
    assert snap.state == DeviceState.WRITING and "device lost" in snap.step
    # the same unit comes back on another port
    dev._port = "/dev/b"
    ports["/dev/b"] = dev
    engine.add_port("/dev/b")
    assert engine.wait(10)
    (snap,) = engine.devices()
    assert snap.state == DeviceState.DONE and snap.port == "/dev/b"
    assert len(est.issued) == 1


def _plug_back_once(engine: BatchEngine, port: str, when: type) -> list[str]:
    """Subscribe a technician who plugs the lost unit back into ``port`` at the first ``when``
    event after the engine said "device lost" - on the old job's own thread, so the plug-in
    lands exactly while that job is still ending (no sleeps, no timing)."""
    lost: list[str] = []

    def on_event(event: object) -> None:
        if isinstance(event, DeviceSnapshot) and "device lost" in event.step:
            lost.append(event.step)
        if lost and len(lost) == 1 and isinstance(event, when):
            lost.append("plugged back")
            engine.add_port(port)

    engine.bus.subscribe(on_event)
    return lost


@pytest.mark.parametrize(
    "moment",
    [DeviceSnapshot, BatchSnapshot],
    ids=["while-the-job-records-the-loss", "after-the-job-released-the-unit"],
)
def test_unit_plugged_back_into_its_port_while_the_old_job_ends_is_finished_before_wait_returns(
    journal, ca, moment
):
    """The unit is unplugged mid-write and plugged back into the same port while the old job
    still ends (it records the loss, gives the claim back, closes the port, publishes the
    summary). The plug-in must never be lost, and ``wait()`` must not return in the gap
    between the old job and the one that finishes the unit."""
    est = FakeEst(ca)
    dev = FakeDevice("/dev/a", "SN-A")
    dev.unplug_at = "write_certificate_chain"
    engine = make_engine(journal, est, {"/dev/a": dev})
    lost = _plug_back_once(engine, "/dev/a", moment)
    engine.add_port("/dev/a")
    assert engine.wait(10)
    assert lost[-1] == "plugged back"
    (snap,) = engine.devices()
    assert snap.state == DeviceState.DONE, snap
    assert len(est.issued) == 1 and dev.chain_pem is not None
    assert journal.claim_holder(snap.device_id) is None


def test_two_ports_reporting_one_serial_are_both_stopped(journal, ca):
    est = FakeEst(ca)
    est.down = True  # hold both devices before enrollment so they overlap
    a, b = FakeDevice("/dev/a", "SAME"), FakeDevice("/dev/b", "SAME")
    engine = make_engine(journal, est, {"/dev/a": a, "/dev/b": b})
    engine.add_ports(["/dev/a", "/dev/b"])
    assert engine.wait(10)
    snaps = engine.devices()
    assert [s.state for s in snaps] == [DeviceState.FAILED, DeviceState.FAILED]
    assert all(s.error_code == "duplicate" and "two ports" in (s.error or "") for s in snaps)
    assert est.issued == []


def test_unit_already_done_in_this_journal_is_recognised_and_skipped(journal, ca):
    est = FakeEst(ca)
    dev = FakeDevice("/dev/a", "SN-1")
    engine = make_engine(journal, est, {"/dev/a": dev})
    engine.add_port("/dev/a")
    assert engine.wait(10) and engine.all_verified()
    engine2 = make_engine(journal, est, {"/dev/a": dev})
    engine2.add_port("/dev/a")
    assert engine2.wait(10)
    (snap,) = engine2.devices()
    assert snap.state == DeviceState.SKIPPED and snap.error_code == "already-provisioned"
    assert len(est.issued) == 1


def test_unexpected_unit_is_flagged_and_not_enrolled(journal, ca):
    est = FakeEst(ca)
    dev = FakeDevice("/dev/a", "INTRUDER")
    engine = make_engine(journal, est, {"/dev/a": dev}, expected=frozenset({"SN-1"}))
    engine.add_port("/dev/a")
    assert engine.wait(10)
    (snap,) = engine.devices()
    assert snap.state == DeviceState.FAILED and snap.error_code == "unexpected"
    assert est.calls == 0
    assert engine.summary().expected_remaining == 1


def test_est_outage_pauses_enrollment_and_resumes_when_server_answers(journal, ca):
    est = FakeEst(ca)
    est.down = True
    dev = FakeDevice("/dev/a", "SN-1")
    engine = make_engine(journal, est, {"/dev/a": dev})
    reach: list[bool] = []
    engine.gateway._on_reachability = reach.append
    engine.add_port("/dev/a")
    import time

    deadline = time.monotonic() + 5
    while engine.gateway.reachable and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not engine.gateway.reachable
    est.down = False
    assert engine.wait(10)
    assert engine.all_verified() and reach == [False, True]
    assert len(est.issued) == 1


def test_pending_approval_is_journaled_then_resolved_with_the_same_csr(journal, ca):
    est = FakeEst(ca)
    est.pending_times = 2
    dev = FakeDevice("/dev/a", "SN-1")
    engine = make_engine(journal, est, {"/dev/a": dev})
    engine.add_port("/dev/a")
    assert engine.wait(20)
    (snap,) = engine.devices()
    assert snap.state == DeviceState.DONE
    states = [t.state for t in journal.history(snap.device_id)]
    assert states.count(DeviceState.PENDING_APPROVAL) == 2
    assert est.calls == 3 and len(est.issued) == 1


def test_audit_verify_detects_an_edited_record(journal, ca):
    est = FakeEst(ca)
    engine = make_engine(journal, est, {"/dev/a": FakeDevice("/dev/a", "SN-1")})
    engine.add_port("/dev/a")
    assert engine.wait(10)
    assert journal.audit.verify().ok
    _tamper(journal, "UPDATE audit SET payload=replace(payload, 'SN-1', 'SN-2') WHERE seq=3")
    verdict = journal.audit.verify()
    assert not verdict.ok and any("edited" in p for p in verdict.problems)


def test_audit_verify_detects_deleted_newest_records(journal, ca):
    est = FakeEst(ca)
    engine = make_engine(journal, est, {"/dev/a": FakeDevice("/dev/a", "SN-1")})
    engine.add_port("/dev/a")
    assert engine.wait(10)
    _tamper(journal, "DELETE FROM audit WHERE seq=(SELECT MAX(seq) FROM audit)")
    verdict = journal.audit.verify()
    assert not verdict.ok and any("deleted" in p for p in verdict.problems)


def test_operator_skip_stops_a_unit_waiting_for_the_server_and_marks_it_skipped(journal, ca):
    est = FakeEst(ca)
    est.down = True
    engine = make_engine(
        journal, est, {"/dev/a": FakeDevice("/dev/a", "SN-1"), "/dev/b": FakeDevice("/dev/b", "SN-2")}
    )
    engine.add_ports(["/dev/a", "/dev/b"])
    import time

    deadline = time.monotonic() + 5
    while len([s for s in engine.devices() if s.state == DeviceState.ENROLLING]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first = engine.devices()[0]
    engine.skip(first.device_id)
    deadline = time.monotonic() + 5
    while engine.journal.device(first.device_id).state != DeviceState.SKIPPED:
        assert time.monotonic() < deadline, "skip did not stop the waiting unit"
        time.sleep(0.01)
    est.down = False
    assert engine.wait(10)
    states = {s.serial_number: s.state for s in engine.devices()}
    assert states == {
        first.serial_number: DeviceState.SKIPPED,
        ({"SN-1", "SN-2"} - {first.serial_number}).pop(): DeviceState.DONE,
    }
    assert len(est.issued) == 1


def test_a_finished_unit_never_takes_over_a_row_that_failed_before_identification(journal, ca):
    """A unit DONE here, plugged into a port whose last unit failed unidentified (e.g. the pty
    vanished mid-identify), must not continue that row: that would enroll it a second time."""
    est = FakeEst(ca)
    dev = FakeDevice("/dev/a", "SN-1")
    engine = make_engine(journal, est, {"/dev/a": dev, "/dev/b": dev})
    engine.add_port("/dev/a")
    assert engine.wait(10) and engine.all_verified()
    journal.add_device(
        engine.batch_id,
        "/dev/b",
        then=[(DeviceState.FAILED, "failed: lost connection")],
        error="lost connection",
        error_code="lost",
        failed_step="identify",
    )
    engine.add_port("/dev/b")
    assert engine.wait(10)
    assert len(est.issued) == 1, "the finished unit was enrolled again"
    assert [s.state for s in engine.devices()] == [DeviceState.DONE, DeviceState.FAILED]


def test_the_journal_claim_admits_one_job_per_unit(journal, ca):
    from certline.app.batch.journal import new_claim_owner

    est = FakeEst(ca)
    engine = make_engine(journal, est, {})
    snap = journal.add_device(engine.batch_id, "/dev/a", then=[(DeviceState.IDENTIFIED, "identified")])
    first, second = new_claim_owner("port:/dev/a"), new_claim_owner("detached:1")
    assert journal.claim(snap.device_id, first)
    assert not journal.claim(snap.device_id, second), "a second job got the unit"
    assert journal.claim(snap.device_id, first), "re-claiming by the holder is a no-op"
    assert journal.claim_holder(snap.device_id) == first
    journal.release(snap.device_id, second)  # not the holder: nothing happens
    assert journal.claim_holder(snap.device_id) == first
    journal.release(snap.device_id, first)
    assert journal.claim(snap.device_id, second)
    journal.release(snap.device_id, second)


def test_a_claim_left_by_a_dead_process_is_taken_over(journal, ca, tmp_path, request):
    import os
    import socket
    import subprocess
    import sys

    engine = make_engine(journal, FakeEst(ca), {})
    snap = journal.add_device(engine.batch_id, "/dev/a", then=[(DeviceState.IDENTIFIED, "identified")])
    env = dict(os.environ)
    if isinstance(journal, Journal):
        opener = (
            "from pathlib import Path; from certline.app.batch.journal import Journal;"
            f"j = Journal(Path({str(journal.path)!r}))"
        )
    else:  # another station process on this host, same database (password in its environment)
        env["TEST_DB_PASSWORD"] = request.getfixturevalue("pg_cluster").password
        opener = (
            "import os; from certline.app.batch.journal_pg import PgJournal;"
            f"j = PgJournal({request.getfixturevalue('pg_url')!r}, station='st-dead',"
            " password=os.environ['TEST_DB_PASSWORD'])"
        )
    code = (
        f"from certline.app.batch.journal import new_claim_owner; {opener};"
        f"assert j.claim({snap.device_id}, new_claim_owner('x')); j.close()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)  # claims, then exits
    holder = journal.device_row(snap.device_id)["claimed_by"]
    assert holder and holder.startswith(socket.gethostname() + "/")
    assert journal.claim_holder(snap.device_id) is None, "a dead process holds no claim"
    assert journal.claim(snap.device_id, "someone-else")


class _ActsAsItsCsrArrives(FakeDevice):
    """The operator acts (Stop, Pause) in the moment between the unit handing over its CSR and
    the request: the CSR is journaled with the next write, which the action cuts short."""

    act: Callable[[], None] | None = None

    def create_csr(self, subject: dict[str, str], challenge_password: str | None = None) -> bytes:
        csr = super().create_csr(subject, challenge_password)
        act, self.act = self.act, None
        if act is not None:
            act()
        return csr


def test_a_batch_stopped_as_the_csr_arrives_keeps_it_and_sends_that_csr_once_when_started_again(journal, ca):
    est = FakeEst(ca)
    unit = _ActsAsItsCsrArrives("/dev/a", "SN-A")
    first = make_engine(journal, est, {"/dev/a": unit})
    unit.act = first.stop
    first.add_port("/dev/a")
    assert first.wait(10)
    (snap,) = first.devices()
    journaled = journal.device_row(snap.device_id)["csr_der"]
    assert snap.state == DeviceState.CSR_READY and journaled is not None
    assert est.calls == 0  # stopped before the request
    first.finish()

    again = make_engine(journal, est, {"/dev/a": unit})
    again.add_port("/dev/a")
    assert again.wait(10)
    assert journal.device(snap.device_id).state == DeviceState.DONE
    assert est.calls == 1 and len(est.issued) == 1  # the journaled CSR, sent once, no second key
    sent = x509.load_der_x509_csr(bytes(journaled)).public_key().public_numbers()
    assert est.issued[0].public_key().public_numbers() == sent


def test_a_unit_paused_with_its_csr_in_hand_journals_it_while_it_waits(journal, ca):
    """A pause may last a shift, and the station may be switched off meanwhile: the CSR must
    not wait in memory for the next write."""
    est = FakeEst(ca)
    unit = _ActsAsItsCsrArrives("/dev/a", "SN-A")
    engine = make_engine(journal, est, {"/dev/a": unit})
    unit.act = engine.pause
    engine.add_port("/dev/a")
    deadline = time.monotonic() + 10
    while not engine.devices() or engine.devices()[0].state != DeviceState.CSR_READY:
        assert time.monotonic() < deadline, engine.devices()
        time.sleep(0.05)
    (paused,) = engine.devices()
    assert journal.device_row(paused.device_id)["csr_der"] is not None
    assert est.calls == 0 and engine.paused
    engine.resume()
    assert engine.wait(10)
    assert journal.device(paused.device_id).state == DeviceState.DONE
    assert est.calls == 1
