"""The batch engine under any sequence of server answers, kills, resumes, unplugs and replugs.

A hypothesis ``RuleBasedStateMachine`` drives the real engine and journal, real simulated units
on pseudo-terminals and the real EST test server over TLS. The server issues a new certificate
for every POST (no retransmission cache, as many CAs), and every enrollment POST takes the next
answer the machine scripted: 200, 202 with a short or a long Retry-After, 503, a timeout (issued,
answered too late), a closed connection after the certificate was issued, or a certificate for
the wrong key. Meanwhile the machine stops, "kills" (stops and starts a new engine on a new
journal connection without closing the batch) and resumes the engine, pauses it, unplugs units
and plugs them back in (on the same or another port).

Invariants, checked after every step:

- at most one job per unit (counted where jobs run, and as overlapping POSTs at the server);
- every journaled transition is an edge of the state machine, and nothing failed as "internal";
- no unit DONE without its certificate read back (VERIFIED after the last write, flash = journal);
- never two certificates delivered for one unit's key, never a second CSR for one unit;
- the audit chain verifies.

At the end every unit is DONE, FAILED with a cause, or PENDING with a retry time; and once
the units are all plugged in and the server answers normally, one resume finishes all of them.

A real SIGKILL of the station process is in ``test_kill_resume.py``; here "kill" is in-process.
Default run: a few short programs (CI); ``pytest --hypothesis-profile=long`` runs many more.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from certline.app.batch.engine import BatchEngine, BatchOptions
from certline.app.batch.est_gateway import EstGateway
from certline.app.batch.events import EventBus
from certline.app.batch.journal import Journal
from certline.app.batch.pipeline import DeviceJob
from certline.app.batch.states import DeviceState, IllegalTransition, check_transition
from certline.app.config.profile import AuthStyle, Profile
from certline.app.est.client import EstClient
from certline.app.est.credentials import Credentials
from certline.app.estserver import EstTestServer, wire
from certline.app.estserver.config import ServerConfig
from certline.app.estserver.routes import Operation
from certline.app.estserver.service import Response
from certline.app.sim.simulator import Simulator
from certline.app.station.session import default_driver_factory

S = DeviceState
PASSCODE = "stateful-passcode-1"  # a test value, not a secret
UNITS = 3
CLIENT_TIMEOUT = 3.0
"""Per request; a "timeout" answer arrives half a second after it (a 200 never comes close)."""
ANSWERS = ("200", "202-short", "202-long", "5xx", "timeout", "close-after-issue", "wrong-key")
LOST = ("timeout", "close-after-issue")
"""Answers after which the server has issued but the client never heard: re-sending the same CSR
to a CA without a retransmission cache then legitimately issues once more."""


@dataclass(frozen=True)
class Post:
    serial: str
    csr_sha256: str
    answer: str


class ScriptedServer:
    """Wraps the test server's request handling: each enrollment POST takes the next scripted
    answer (200 once the script is empty) and is logged with the unit it came from."""

    def __init__(self, server: EstTestServer) -> None:
        self.server = server
        self._original = server.service.handle
        self._lock = threading.Lock()
        self._serial_calls = threading.Lock()
        self.script: collections.deque[str] = collections.deque()
        self.posts: list[Post] = []
        self._in_flight: collections.Counter[str] = collections.Counter()
        self.overlaps: list[str] = []
        server.service.handle = self.handle  # type: ignore[method-assign]

    def handle(self, req):  # type: ignore[no-untyped-def]
        if req.method != "POST" or req.route.op is not Operation.SIMPLEENROLL:
            return self._original(req)
        try:
            csr, der = wire.load_csr(req.body)
        except wire.CsrDecodeError:
            return self._original(req)
        cn = csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        serial = str(cn[0].value) if cn else "?"
        with self._lock:
            answer = self.script.popleft() if self.script else "200"
            self._in_flight[serial] += 1
            if self._in_flight[serial] > 1:
                self.overlaps.append(serial)
            self.posts.append(Post(serial, hashlib.sha256(der).hexdigest(), answer))
        done = False
        try:
            if answer in ("202-short", "202-long"):
                retry_after = "1" if answer == "202-short" else "3600"
                return Response(202, b"", [("Retry-After", retry_after)], close=True)
            if answer == "5xx":
                body = b"scripted outage\n"
                return Response(503, body, [("Content-Type", "text/plain"), ("Retry-After", "0")])
            with self._serial_calls:  # a one-shot fault must hit this very request
                if answer == "wrong-key":
                    self.server.faults.add("wrong_key", op="simpleenroll", times=1)
                if answer == "close-after-issue":
                    self.server.faults.add("close_after_issue", op="simpleenroll", times=1)
                response = self._original(req)
            if answer == "timeout":
                self._leave(serial)
                done = True
                time.sleep(CLIENT_TIMEOUT + 0.5)  # issued; the answer comes after the client gave up
            return response
        finally:
            if not done:
                self._leave(serial)

    def _leave(self, serial: str) -> None:
        with self._lock:
            self._in_flight[serial] -= 1

    def restore(self) -> None:
        self.server.service.handle = self._original  # type: ignore[method-assign]


class JobCounter:
    """Counts the jobs running for each unit, where they run (DeviceJob.run / enroll_only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active: collections.Counter[int] = collections.Counter()
        self.overlaps: list[int] = []
        self._saved = (DeviceJob.run, DeviceJob.enroll_only)
        counter = self

        def wrap(method):  # type: ignore[no-untyped-def]
            def counted(job: DeviceJob) -> None:
                with counter._lock:
                    counter.active[job.device_id] += 1
                    if counter.active[job.device_id] > 1:
                        counter.overlaps.append(job.device_id)
                try:
                    method(job)
                finally:
                    with counter._lock:
                        counter.active[job.device_id] -= 1

            return counted

        DeviceJob.run = wrap(DeviceJob.run)  # type: ignore[method-assign]
        DeviceJob.enroll_only = wrap(DeviceJob.enroll_only)  # type: ignore[method-assign]

    def restore(self) -> None:
        DeviceJob.run, DeviceJob.enroll_only = self._saved  # type: ignore[method-assign]


class InternalErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "internal error" in message:
            self.messages.append(message)


class BatchMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="certline-stateful-"))
        self.server = EstTestServer(passcode=PASSCODE, config=ServerConfig(answer_retransmissions=False))
        self.server.start()
        self.scripted = ScriptedServer(self.server)
        self.jobs = JobCounter()
        self.errors = InternalErrors()
        logging.getLogger("certline.app.batch").addHandler(self.errors)
        self.sim = Simulator(self.root / "sim", UNITS, keygen_latency=0.01)
        self.sim.start()
        self.profile = Profile(
            name="stateful",
            enroll_url=self.server.est_base(),
            auth_style=AuthStyle.PASSCODE_ONLY,
            ca_bundle_pem=self.server.ca_pem,
            subject_template={"CN": "{serial}", "O": "Certline Test"},
            concurrency=2,
        )
        self.journal_path = self.root / "journal.sqlite"
        self.journals: list[Journal] = []
        self.clients: list[EstClient] = []
        self.engine: BatchEngine | None = None
        self.batch_id: int | None = None
        self.ports: dict[int, str | None] = dict(enumerate(self.sim.ports))

    # -- helpers ------------------------------------------------------------------------------
    def _journal(self) -> Journal:
        journal = Journal(self.journal_path)
        self.journals.append(journal)
        return journal

    def _start_engine(self) -> None:
        client = EstClient(
            self.profile, Credentials(passcode=PASSCODE), pool_size=2, timeout=CLIENT_TIMEOUT, retries=1
        )
        self.clients.append(client)
        self.engine = BatchEngine(
            journal=self._journal(),
            profile=self.profile,
            gateway=EstGateway(client, concurrency=2, probe_interval=0.1, max_backoff=0.2),
            open_driver=default_driver_factory(self.profile),
            bus=EventBus(),
            options=BatchOptions(pending_max_wait=1.5),
            batch_id=self.batch_id,
        )
        self.batch_id = self.engine.batch_id
        self.engine.add_ports([p for p in self.ports.values() if p is not None])
        self.engine.enroll_collected()  # what 'batch resume' and the GUI's resume do

    def _stop_engine(self, *, finish: bool) -> None:
        engine, self.engine = self.engine, None
        if engine is None:
            return
        engine.stop()
        assert engine.wait(30), "engine workers did not end after stop"
        if finish:
            engine.finish()

    def _settle(self, timeout: float = 30.0) -> None:
        if self.engine is not None:
            assert self.engine.wait(timeout), "the batch did not come to rest"

    # -- rules --------------------------------------------------------------------------------
    @rule(answers=st.lists(st.sampled_from(ANSWERS), min_size=1, max_size=4))
    def script_server_answers(self, answers: list[str]) -> None:
        self.scripted.script.extend(answers)

    @precondition(lambda self: self.engine is None)
    @rule()
    def start_or_resume(self) -> None:
        self._start_engine()

    @precondition(lambda self: self.engine is not None)
    @rule(settle_first=st.booleans())
    def kill_and_resume(self, settle_first: bool) -> None:
        """Stop without closing the batch and continue at once on a new journal connection."""
        if settle_first:
            self._settle()
        self._stop_engine(finish=False)
        self._start_engine()

    @precondition(lambda self: self.engine is not None)
    @rule()
    def stop(self) -> None:
        self._stop_engine(finish=True)

    @precondition(lambda self: self.engine is not None)
    @rule()
    def pause_then_resume(self) -> None:
        assert self.engine is not None
        self.engine.pause()
        time.sleep(0.2)
        self.engine.resume()

    @precondition(lambda self: self.engine is not None)
    @rule()
    def retry_pending(self) -> None:
        assert self.engine is not None
        self.engine.retry_pending()

    @precondition(lambda self: self.engine is not None)
    @rule(timeout=st.sampled_from([0.3, 2.0, 30.0]))
    def let_it_run(self, timeout: float) -> None:
        assert self.engine is not None
        self.engine.wait(timeout)

    @precondition(lambda self: any(p is not None for p in self.ports.values()))
    @rule(data=st.data())
    def unplug(self, data: st.DataObject) -> None:
        plugged = sorted(i for i, p in self.ports.items() if p is not None)
        index = data.draw(st.sampled_from(plugged))
        self.sim.devices[index].unplug()
        self.ports[index] = None

    @precondition(lambda self: any(p is None for p in self.ports.values()))
    @rule(data=st.data(), other_port=st.booleans())
    def replug(self, data: st.DataObject, other_port: bool) -> None:
        unplugged = sorted(i for i, p in self.ports.items() if p is None)
        index = data.draw(st.sampled_from(unplugged))
        port = self.sim.devices[index].replug(new_path=other_port)
        self.ports[index] = port
        if self.engine is not None:
            self.engine.add_port(port)  # what the hot-plug watcher does

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def one_job_per_unit(self) -> None:
        assert not self.jobs.overlaps, f"two jobs ran at once for device(s) {self.jobs.overlaps}"
        assert not self.scripted.overlaps, f"two POSTs in flight at once for {self.scripted.overlaps}"

    @invariant()
    def journal_is_consistent(self) -> None:
        journal = self.journals[-1] if self.journals else None
        if journal is None:
            return
        devices = journal.devices()
        for snap in devices:
            history = journal.history(snap.device_id)
            for before, after in zip(history, history[1:], strict=False):
                try:
                    check_transition(before.state, after.state)
                except IllegalTransition as exc:
                    raise AssertionError(f"device {snap.device_id}: {exc}") from None
            assert snap.error_code != "internal", snap.error
            if snap.state == S.DONE:
                states = [t.state for t in history]
                last_written = len(states) - 1 - states[::-1].index(S.WRITTEN)
                assert S.VERIFIED in states[last_written:], f"DONE without read-back: {states}"
                device = next(d for d in self.sim.devices if d.serial_number == snap.serial_number)
                row = journal.device_row(snap.device_id)
                assert device.flash.snapshot().get("chain_pem") == row["chain_pem"]
            if snap.state == S.PENDING_APPROVAL and snap.step.startswith("pending approval"):
                assert snap.retry_at is not None
        assert not self.errors.messages, self.errors.messages
        assert journal.audit.verify().ok

    @invariant()
    def nothing_issued_twice(self) -> None:
        csrs_per_unit: dict[str, set[str]] = collections.defaultdict(set)
        delivered: collections.Counter[str] = collections.Counter()
        for post in list(self.scripted.posts):
            csrs_per_unit[post.serial].add(post.csr_sha256)
            if post.answer == "200":
                delivered[post.serial] += 1
        for serial, csrs in csrs_per_unit.items():
            assert len(csrs) == 1, f"{serial}: a second CSR was posted"
        assert all(n <= 1 for n in delivered.values()), f"a unit got two certificates: {delivered}"
        if self.journals:
            for device in self.sim.devices:
                recorded = self.journals[-1].certificates_for(device.serial_number)
                assert len(recorded) <= 1, f"{device.serial_number}: {len(recorded)} certificates"

    # -- the end ------------------------------------------------------------------------------
    def teardown(self) -> None:
        try:
            self._finish_and_check()
        finally:
            if self.engine is not None:
                self.engine.stop()
                self.engine.wait(30)
            for client in self.clients:
                client.close()
            self.sim.stop()
            self.scripted.restore()
            self.jobs.restore()
            logging.getLogger("certline.app.batch").removeHandler(self.errors)
            self.server.close()  # stop, and remove its temporary CA file
            for journal in self.journals:
                journal.close()
            shutil.rmtree(self.root, ignore_errors=True)

    def _finish_and_check(self) -> None:
        self._settle()
        if self.journals:
            for snap in self.journals[-1].devices():
                explained = (
                    snap.state == S.DONE
                    or (snap.state == S.FAILED and bool(snap.error))
                    or (snap.state == S.PENDING_APPROVAL and snap.retry_at is not None)
                    or snap.state not in (S.DONE, S.FAILED, S.SKIPPED)  # stopped mid-way: resumable
                )
                assert explained, snap
        # everything plugged in, the server answering normally: one resume finishes every unit
        self._stop_engine(finish=False)
        self.scripted.script.clear()
        for index, port in list(self.ports.items()):
            if port is None:
                self.ports[index] = self.sim.devices[index].replug()
        self._start_engine()
        self._settle(60)
        journal = self.journals[-1]
        done = {s.serial_number for s in journal.devices() if s.state == S.DONE}
        assert done == {d.serial_number for d in self.sim.devices}, [
            (s.serial_number, s.state.value, s.error or s.step) for s in journal.devices()
        ]
        self.one_job_per_unit()
        self.journal_is_consistent()
        self.nothing_issued_twice()


if settings.get_current_profile_name() == "long":
    BatchMachine.TestCase.settings = settings(settings.get_profile("long"))
    BatchMachine.TestCase = pytest.mark.timeout(4 * 3600)(BatchMachine.TestCase)
else:
    BatchMachine.TestCase.settings = settings(max_examples=6, stateful_step_count=10, deadline=None)

TestBatchEngineUnderAnySequence = BatchMachine.TestCase
