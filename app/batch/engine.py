"""The batch engine: one worker thread per port, a shared EST gateway, the journal as truth.

The engine decides *which* device a port carries (by the serial number it
reports, never by the port), guards against duplicates and unexpected units,
and hands the device to a :class:`~certline.app.batch.pipeline.DeviceJob` that walks
the journaled steps. Views (CLI progress, the Qt window) subscribe to the
:class:`~certline.app.batch.events.EventBus`; every event is a snapshot of a journal row.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from certline.app import pki
from certline.app.batch.claim_owner import new_claim_owner
from certline.app.batch.est_gateway import EstGateway, GatewayStopped
from certline.app.batch.events import BatchSnapshot, DeviceSnapshot, EventBus, LogEvent
from certline.app.batch.journal_api import JournalBackend, JournalError, UnitDoneElsewhere, UnitHeldElsewhere
from certline.app.batch.label_desk import LabelDesk, ScanOutcome, ScanResult
from certline.app.batch.passcode_quota import PasscodeQuota
from certline.app.batch.pipeline import (
    AwaitingApproval,
    DeviceJob,
    JobControl,
    JobInterrupted,
    LabelBinding,
    StepFailed,
)
from certline.app.batch.states import TERMINAL, DeviceState
from certline.app.batch.tally import BatchTally
from certline.app.batch.unfinished_renewal import REENROLL_KIND, supersede_renewal, unfinished_renewal_advice
from certline.app.config.profile import Profile, ScanIn
from certline.app.device.driver import DeviceDriver, DeviceError, DeviceIdentity, DeviceLost
from certline.app.est.errors import EstError
from certline.app.host.thread_priority import lower_this_thread

log = logging.getLogger(__name__)

OpenDriver = Callable[[str], DeviceDriver]

#: how old (s) the work order's finished serials from other batches may be in a batch summary
_ORDER_REFRESH_S = 1.0


@dataclass(frozen=True)
class BatchOptions:
    work_order: str | None = None
    operator: str | None = None
    station: str | None = None
    expected: frozenset[str] | None = None
    allow_unexpected: bool = False
    reprovision: bool = False
    offline: bool = False
    pending_max_wait: float = 15 * 60.0
    """How long a unit waits in line for approval after a 202; a server asking to come back later
    than that leaves the unit pending (with the time it asked for) for "Retry pending"."""
    label_ids: tuple[tuple[str, str], ...] = ()
    """Scan-in: (label ID, serial number) pairs from the expected-serials CSV's label column."""


def is_verified(snap: DeviceSnapshot) -> bool:
    return snap.state == DeviceState.DONE or (
        snap.state == DeviceState.SKIPPED and snap.error_code == "already-provisioned"
    )


class _Worker:
    """Book-keeping for one port's thread."""

    def __init__(self, port: str) -> None:
        self.port = port
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()
        self.abort_reason: str | None = None
        """Why the engine stopped this worker's unit (duplicate serial, operator skip)."""
        self.abort_code: str = "duplicate"
        self.serial: str | None = None
        self.device_id: int | None = None
        self.claimed: str | None = None
        """Serial whose line-wide claim this worker holds (released when its unit stops)."""
        self.claim: tuple[int, str] | None = None
        """(device id, claim owner) while this worker holds a unit's journal claim."""
        self.detached = False
        self.moved_to: str | None = None
        self.look_again = False
        """A unit was plugged into this port while this worker still ran."""
        self.ended = False
        """The worker's job is over (claim given back, port closed); set under the engine's lock
        together with reading ``look_again``, so a later plug-in starts a new worker itself."""
        self.path_seen = port.startswith("/") and os.path.exists(port)
        """The port was a device path that existed when the worker started (so its disappearance
        means the unit was unplugged)."""


class BatchEngine:
    """Runs one batch. Thread-safe; every public method returns quickly (work happens in threads)."""

    def __init__(
        self,
        *,
        journal: JournalBackend,
        profile: Profile,
        gateway: EstGateway,
        open_driver: OpenDriver,
        bus: EventBus | None = None,
        options: BatchOptions | None = None,
        batch_id: int | None = None,
        quota: PasscodeQuota | None = None,
        workers_yield: bool = False,
    ) -> None:
        """``workers_yield``: port workers run one step below normal priority, so a window's
        thread in this process comes first (:mod:`certline.app.host.thread_priority`)."""
        self.journal = journal
        self.workers_yield = workers_yield
        self.quota = quota
        """The passcode gate (uses, expiry) every enrollment of this batch passes; None: none."""
        if quota is not None:
            quota.on_change = self._passcode_wait_changed
        self.profile = profile
        self.gateway = gateway
        self.open_driver = open_driver
        self.bus = bus or EventBus()
        self.options = options or BatchOptions()
        self._lock = threading.RLock()
        self._workers: dict[str, _Worker] = {}
        self._reprovision_serials: set[str] = set()
        """Units whose existing credential the operator confirmed to replace (GUI action)."""
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.labels: LabelDesk | None = (
            LabelDesk(dict(self.options.label_ids)) if profile.scan_in == ScanIn.REQUIRED else None
        )
        """Scan-in: pairs scanned labels with plugged units (None when the profile does not ask)."""
        self._order_finished: tuple[float, frozenset[str]] | None = None
        """(when read, serials) of the work order finished in other batches (see summary)."""
        resumed = batch_id is not None
        if batch_id is None:
            batch_id = journal.create_batch(
                profile_name=profile.name,
                profile_json=profile.to_json(),
                work_order=self.options.work_order,
                operator=self.options.operator,
                station=self.options.station,
                expected=sorted(self.options.expected) if self.options.expected is not None else None,
            )
            if self.options.expected is None and self.options.work_order is not None:
                # a shared journal hands every station of the line the work order's list
                line_expected = journal.batch(batch_id).expected
                if line_expected is not None:
                    self.options = dataclasses.replace(self.options, expected=frozenset(line_expected))
        else:
            journal.reopen_batch(batch_id)
            record = journal.batch(batch_id)
            if record.expected is not None and self.options.expected is None:
                self.options = dataclasses.replace(self.options, expected=frozenset(record.expected))
        self.batch_id = batch_id
        self._tally = BatchTally(self.options.expected)
        """The summary's counts, updated per published snapshot (see :mod:`certline.app.batch.tally`)."""
        if resumed:
            self._tally.reset(journal.devices(batch_id))

    # -- control --------------------------------------------------------------------------
    def add_ports(self, ports: Iterable[str]) -> None:
        for port in ports:
            self.add_port(port)

    def add_port(self, port: str) -> None:
        """Start provisioning whatever unit is on ``port`` (no-op if a worker already runs there)."""
        with self._lock:
            if self._stop.is_set():
                return
            worker = self._workers.get(port)
            if (
                worker is not None
                and worker.thread is not None
                and worker.thread.is_alive()
                and not worker.ended
            ):
                # a unit plugged in (again) while the old job on this port still ends its step:
                # that job looks at the port once more when it is over (see _end_port_worker)
                worker.look_again = True
                return
            self._start_port_worker(port)

    def _start_port_worker(self, port: str) -> None:
        """Register and start a worker for ``port`` (caller holds ``self._lock``)."""
        worker = _Worker(port)
        worker.thread = threading.Thread(
            target=self._run_port, args=(worker,), name=f"port:{port}", daemon=True
        )
        self._workers[port] = worker
        worker.thread.start()

    def enroll_collected(self) -> int:
        """Enroll, without the units, every CSR this batch collected while offline or left pending.

        Returns how many were started. Their certificates are written when the units come back
        (a port worker that finds one of these units waits for the unit's claim, see
        :meth:`Journal.claim`, so a CSR is never posted by two jobs at once).
        """
        return self._start_detached(
            (DeviceState.CSR_READY, DeviceState.ENROLLING, DeviceState.PENDING_APPROVAL), attach=False
        )

    def retry_pending(self) -> int:
        """Ask the EST server again, now, for every unit of this batch pending approval.

        The CLI (``certline batch resume``) and the GUI's "Retry pending" action both end here.
        Each unit re-sends its journaled CSR byte for byte; a certificate the server has issued
        meanwhile is journaled and, if the unit is still on its port, written. Units a job is
        already working on are left to that job. Returns how many were retried.
        """
        return self._start_detached((DeviceState.PENDING_APPROVAL,), attach=True)

    def _start_detached(self, states: tuple[DeviceState, ...], *, attach: bool) -> int:
        if self.options.offline or self._stop.is_set():
            return 0
        started = 0
        for snap in self.journal.unfinished_devices(self.batch_id):
            if snap.state not in states:
                continue
            if self.journal.claim_holder(snap.device_id) is not None:
                continue  # a job is on this unit already; it will finish the enrollment
            worker = _Worker(f"detached:{snap.device_id}")
            worker.device_id = snap.device_id
            worker.detached = True
            worker.thread = threading.Thread(
                target=self._run_detached, args=(worker, snap, attach), name=worker.port, daemon=True
            )
            with self._lock:
                previous = self._workers.get(worker.port)
                if previous is not None and previous.thread is not None and previous.thread.is_alive():
                    continue
                self._workers[worker.port] = worker
            worker.thread.start()
            started += 1
        return started

    def _run_detached(self, worker: _Worker, snap: DeviceSnapshot, attach: bool) -> None:
        owner = new_claim_owner(worker.port)
        try:
            if not self.journal.claim(snap.device_id, owner):
                return  # another job (a port worker, another engine) holds this unit
        except JournalError as exc:
            self._journal_failed(snap.device_id, worker.port, exc)
            return
        worker.claim = (snap.device_id, owner)
        identity = DeviceIdentity(snap.serial_number or "", snap.model or "", "", "")
        job = DeviceJob(
            journal=self.journal,
            profile=self.profile,
            gateway=self.gateway,
            driver=_DetachedDevice(snap.port),
            identity=identity,
            device_id=snap.device_id,
            control=self._control(worker),
            publish=self._publish,
        )
        issued = False
        try:
            job.enroll_only()
            issued = self.journal.device(snap.device_id).state == DeviceState.ISSUED
        except AwaitingApproval as exc:
            self._log(logging.WARNING, str(exc), port=snap.port, device_id=snap.device_id)
        except (JobInterrupted, GatewayStopped):
            pass
        except (StepFailed, DeviceError, EstError) as exc:
            self._fail(snap.device_id, "enrolling", exc, getattr(exc, "code", "est"))
        except JournalError as exc:
            self._journal_failed(snap.device_id, worker.port, exc)
        except Exception as exc:  # noqa: BLE001 - a bug must fail this unit, never vanish silently
            log.exception("internal error while enrolling device %s", snap.device_id)
            self._fail(snap.device_id, "enrolling", exc, "internal")
        finally:
            self._release(worker)
        if issued and attach and self._port_still_there(snap.port):
            self.add_port(snap.port)  # the unit may still be there: write its certificate now

    def _port_still_there(self, port: str) -> bool:
        """Whether ``port`` can be opened again: a device path must still exist; a port that was
        never a path (pyserial URL, a test's fake) is simply tried."""
        with self._lock:
            worker = self._workers.get(port)
        if worker is not None and not worker.path_seen:
            return True
        return _port_present(port)

    def _control(self, worker: _Worker, *, reprovision: bool = False) -> JobControl:
        return JobControl(
            stop=worker.stop,
            running=self._running,
            offline=self.options.offline,
            pending_max_wait=self.options.pending_max_wait,
            reprovision=reprovision,
            quota=self.quota,
        )

    def _release(self, worker: _Worker) -> None:
        """Give back what the worker's job held: the unit row's claim (one job per unit), then the
        line-wide lease on its serial number (unless another job of this engine still holds it,
        e.g. the port the unit was moved to)."""
        claim, worker.claim = worker.claim, None
        if claim is not None:
            try:
                self.journal.release(*claim)
            except JournalError as exc:
                # the claim stays until this process ends (or its lease runs out); then it is
                # stale and taken over
                self._log(logging.ERROR, _journal_failure(exc), port=worker.port, device_id=claim[0])
        with self._lock:
            serial, worker.claimed = worker.claimed, None
            if serial is None or any(w.claimed == serial for w in self._workers.values()):
                return
        try:
            self.journal.release_unit(self.profile.name, serial)
        except JournalError as exc:  # the lease runs out by itself
            self._log(logging.WARNING, f"could not release unit {serial}: {exc}", port=worker.port)

    def pause(self) -> None:
        self._running.clear()
        self._publish_summary()

    def resume(self) -> None:
        self._running.set()
        self._publish_summary()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def stop(self) -> None:
        """Stop after the current step of every device; nothing is left half-journaled."""
        self._stop.set()
        self._running.set()
        self.gateway.stop()
        with self._lock:
            for worker in self._workers.values():
                worker.stop.set()

    def retry_failed(self) -> int:
        """Run again every failed device of this batch whose port is still attached."""
        failed_ports = {snap.port for snap in self.journal.failed_devices(self.batch_id)}
        count = 0
        for port in failed_ports:
            with self._lock:
                worker = self._workers.get(port)
                busy = worker is not None and worker.thread is not None and worker.thread.is_alive()
            if not busy:
                self.add_port(port)
                count += 1
        return count

    def reprovision(self, device_id: int) -> bool:
        """Run a unit again that failed because it already holds a credential, now replacing it.

        Only for a unit the operator confirmed by name; the old certificate is journaled before
        anything on it is deleted (see ``DeviceJob``). False when the unit is not in that state.
        """
        snap = self.journal.device(device_id)
        if (
            snap.state != DeviceState.FAILED
            or snap.error_code != "already-provisioned"
            or not snap.serial_number
        ):
            return False
        with self._lock:
            self._reprovision_serials.add(snap.serial_number)
        self.add_port(snap.port)
        return True

    def skip(self, device_id: int, reason: str = "skipped by the operator") -> None:
        snap = self.journal.device(device_id)
        if snap.state in TERMINAL:
            return
        with self._lock:
            for worker in self._workers.values():
                if worker.device_id == device_id:
                    worker.abort_reason = reason
                    worker.abort_code = "skipped"
                    worker.stop.set()
                    return
        self._publish(self.journal.transition(device_id, DeviceState.SKIPPED, reason))

    def scan(self, text: str) -> ScanOutcome:
        """A label was scanned at the station: bind it to a unit (see :mod:`certline.app.batch.label_desk`).

        Returns at once; the unit's job, waiting for its label, journals and compares it.
        """
        if self.labels is None:
            return ScanOutcome(
                ScanResult.NOT_ASKED,
                f"profile {self.profile.name} does not ask for unit labels (scan_in off)",
            )
        outcome = self.labels.submit(text)
        self._log(logging.INFO if outcome.accepted else logging.WARNING, outcome.message, port=outcome.port)
        self._publish_summary()
        return outcome

    def discard_scans(self) -> int:
        """Forget the scanned labels still waiting for a unit (a wrong label scanned by mistake
        before its unit was plugged in). Returns how many."""
        if self.labels is None:
            return 0
        count = self.labels.discard_queued()
        if count:
            self._log(logging.INFO, f"{count} scanned label(s) waiting for a unit forgotten")
            self._publish_summary()
        return count

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every port worker has finished; True if all finished within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                threads = [w.thread for w in self._workers.values() if w.thread is not None]
            pending = [t for t in threads if t.is_alive()]
            if not pending:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            pending[0].join(remaining if remaining is not None else None)

    def finish(self) -> None:
        """Close the batch in the journal once nothing is left to do.

        The closing summary is counted from the journal itself, not from the running tally."""
        self.journal.end_batch(self.batch_id)
        self._tally.reset(self.journal.devices(self.batch_id))
        self._publish_summary()

    # -- views ------------------------------------------------------------------------------
    def devices(self) -> list[DeviceSnapshot]:
        return self.journal.devices(self.batch_id)

    def summary(self) -> BatchSnapshot:
        """The batch's counts now, from the tally kept per published event (no journal read)."""
        counts = self._tally.counts()
        finished = False
        if counts.in_progress == 0:
            with self._lock:
                finished = not any(
                    w.thread is not None and w.thread.is_alive() for w in self._workers.values()
                )
        remaining = counts.expected_remaining
        if self.options.expected is not None and self.options.work_order is not None:
            elsewhere = self._work_order_finished()  # the work order's units finished in other batches
            if elsewhere:
                remaining = len(self.options.expected - self._tally.finished_serials() - elsewhere)
        return BatchSnapshot(
            batch_id=self.batch_id,
            done=counts.done,
            in_progress=counts.in_progress,
            failed=counts.failed,
            pending_approval=counts.pending_approval,
            expected_remaining=remaining,
            finished=finished,
            paused=self.paused,
            server_reachable=self.gateway.reachable,
            awaiting_label=counts.awaiting_label,
            skipped=counts.skipped,
            scans_queued=self.labels.queued if self.labels is not None else 0,
            passcode_wait=self.quota.waiting_reason if self.quota is not None else None,
        )

    def _work_order_finished(self) -> frozenset[str]:
        """Serials of this work order finished in any batch (on a shared journal: at any station
        of the line), so the expected count is the work order's, not this batch's. Re-read at
        most once a second: the summary is rebuilt after every event, and this batch's own
        finished units are counted from its fresh snapshot anyway."""
        order = self.options.work_order
        if order is None:
            return frozenset()
        cached = self._order_finished
        if cached is not None and time.monotonic() - cached[0] < _ORDER_REFRESH_S:
            return cached[1]
        serials = frozenset(self.journal.finished_serials(order))
        self._order_finished = (time.monotonic(), serials)
        return serials

    def all_verified(self) -> bool:
        """True when every unit of the batch is verified: done now, or recognised as holding the
        certificate this station issued earlier (skipped as already provisioned)."""
        snaps = self.devices()
        return bool(snaps) and all(is_verified(s) for s in snaps)

    # -- internals --------------------------------------------------------------------------
    def _passcode_wait_changed(self, reason: str | None) -> None:
        """The batch started (or stopped) waiting for a new passcode: say so to every view."""
        if reason is not None:
            self._log(logging.WARNING, f"batch waits for a new passcode: {reason}")
        else:
            self._log(logging.WARNING, "new passcode in use; units waiting for it continue")
        self._publish_summary()

    def _publish(self, snap: DeviceSnapshot) -> None:
        self._tally.update(snap)
        self.bus.publish(snap)
        self._publish_summary()

    def _publish_summary(self) -> None:
        self.bus.publish(self.summary())

    def _log(self, level: int, message: str, port: str | None = None, device_id: int | None = None) -> None:
        log.log(level, "%s%s", f"[{port}] " if port else "", message)
        self.bus.publish(LogEvent(level, message, device_id=device_id, port=port))

    def _run_port(self, worker: _Worker) -> None:
        try:
            self._run_port_job(worker)
        finally:
            self._end_port_worker(worker)
        self._publish_summary()

    def _run_port_job(self, worker: _Worker) -> None:
        port = worker.port
        detected_at = datetime.now(UTC)
        if self.labels is not None:
            self.labels.plugged(port)  # its place in plug order, for the label scanned next
        try:
            driver = self.open_driver(port)
        except DeviceError as exc:
            self._log(logging.ERROR, f"cannot open port: {exc}", port=port)
            if self.labels is not None:
                self.labels.ended(port)
            return
        if self.workers_yield:
            # only now: opening the port may start a device host process, which would inherit
            # this thread's priority for good (an unprivileged process cannot raise it again)
            lower_this_thread()
        try:
            self._provision(worker, driver, detected_at)
        except JournalError as exc:  # e.g. registering the unit, or recording that it was lost
            self._log(logging.ERROR, _journal_failure(exc), port=port)
        finally:
            if self.labels is not None:
                self.labels.ended(port)  # a label this unit did not take goes to the next one
            self._release(worker)
            try:
                driver.close()
            except DeviceError:
                pass

    def _end_port_worker(self, worker: _Worker) -> None:
        """Mark the worker ended and, if a unit was plugged into its port meanwhile, start the
        next worker there - in one step under the lock, after the claim was given back and the
        port closed.

        Both halves matter. Deciding "look again" and "this worker is over" separately loses a
        plug-in that :meth:`add_port` sees between them (the thread still runs, so it only sets
        ``look_again``, which nobody reads any more). And the next worker is registered before
        this thread ends, so :meth:`wait` never sees "every worker finished" in the gap between
        the two jobs of one port (the unit unplugged mid-step and plugged back in).
        """
        port = worker.port
        with self._lock:
            worker.serial = None
            worker.ended = True
            again = worker.look_again and not self._stop.is_set()
            if again and (not worker.path_seen or _port_present(port)):
                self._start_port_worker(port)

    def _provision(self, worker: _Worker, driver: DeviceDriver, detected_at: datetime) -> None:
        port = worker.port
        try:
            identity = driver.identify()
        except DeviceError as exc:
            message = str(exc) or exc.__class__.__name__
            snap = self.journal.add_device(
                self.batch_id,
                port,
                detected_at=detected_at,
                then=[(DeviceState.FAILED, f"failed: {message}")],
                error=message,
                error_code=exc.code,
                failed_step="identify",
            )
            self._publish(snap)
            self._log(
                logging.ERROR, f"cannot identify the unit: {message}", port=port, device_id=snap.device_id
            )
            return
        device_id = self._claim(worker, driver, identity, detected_at)
        if device_id is None:
            return
        worker.device_id = device_id
        control = self._control(
            worker,
            reprovision=self.options.reprovision or identity.serial_number in self._reprovision_serials,
        )
        job = DeviceJob(
            journal=self.journal,
            profile=self.profile,
            gateway=self.gateway,
            driver=driver,
            identity=identity,
            device_id=device_id,
            control=control,
            publish=self._publish,
            labels=self._label_binding(worker),
        )
        try:
            job.run()
        except AwaitingApproval as exc:
            self._log(logging.WARNING, str(exc), port=port, device_id=device_id)
        except (JobInterrupted, GatewayStopped) as exc:
            if worker.moved_to is not None:
                self._log(logging.INFO, f"unit moved to {worker.moved_to}", port=port, device_id=device_id)
            elif worker.abort_reason and worker.abort_code == "skipped":
                self._publish(self.journal.transition(device_id, DeviceState.SKIPPED, worker.abort_reason))
            elif worker.abort_reason:
                self._fail(device_id, "stopped", RuntimeError(worker.abort_reason), worker.abort_code)
            else:
                self._log(logging.INFO, f"paused at this step: {exc}", port=port, device_id=device_id)
        except DeviceLost as exc:
            self._publish(
                self.journal.set_step(device_id, f"device lost on {port} ({exc}); plug it in again to resume")
            )
        except StepFailed as exc:
            self._fail(device_id, self.journal.device(device_id).step, exc, exc.code)
        except DeviceError as exc:
            self._fail(device_id, self.journal.device(device_id).step, exc, exc.code)
        except EstError as exc:
            self._fail(device_id, self.journal.device(device_id).step, exc, exc.code)
        except JournalError as exc:
            self._journal_failed(device_id, port, exc)
        except Exception as exc:  # noqa: BLE001 - a bug must fail this unit, never kill the port worker
            log.exception("internal error while provisioning device %s", device_id)
            self._fail(device_id, self.journal.device(device_id).step, exc, "internal")
        finally:
            with self._lock:
                worker.device_id = None

    def _label_binding(self, worker: _Worker) -> LabelBinding | None:
        if self.labels is None:
            return None
        port = worker.port
        return LabelBinding(self.labels, port, lambda: not worker.path_seen or _port_present(port))

    def _claim(
        self, worker: _Worker, driver: DeviceDriver, identity: DeviceIdentity, detected_at: datetime
    ) -> int | None:
        """Decide which journal row this unit is, or stop it (duplicate, unexpected, already done)."""
        serial = identity.serial_number
        port = worker.port
        ident_fields = {"serial_number": serial, "model": identity.model, "firmware": identity.firmware}
        with self._lock:
            twin = next((w for w in self._workers.values() if w is not worker and w.serial == serial), None)
            if twin is not None and twin.path_seen and not _port_present(twin.port):
                # the same unit, moved: its old port is gone. Its old job ends after its current
                # step and gives the claim back; this port's job takes over from the journal.
                twin.moved_to = port
                twin.serial = None
                twin.stop.set()
                twin = None
            if twin is not None:
                reason = (
                    f"serial number {serial} is reported by two ports ({twin.port} and {port}); both stopped"
                )
                twin.abort_reason = reason
                twin.stop.set()
                self._new_failed(port, detected_at, ident_fields, reason, "duplicate")
                return None
            worker.serial = serial
        expected = self.options.expected
        if expected is not None and serial not in expected and not self.options.allow_unexpected:
            self._new_failed(
                port,
                detected_at,
                ident_fields,
                f"unit {serial} is not on this batch's expected list",
                "unexpected",
            )
            return None
        reprovision = self.options.reprovision or serial in self._reprovision_serials
        try:  # the line-wide guard (a no-op for the one-station SQLite journal)
            self.journal.claim_unit(self.profile.name, serial, reprovision=reprovision)
        except UnitHeldElsewhere as exc:
            self._new_failed(port, detected_at, ident_fields, str(exc), "claimed-elsewhere")
            return None
        except UnitDoneElsewhere as exc:
            if exc.device_id is None:
                self._new_failed(port, detected_at, ident_fields, str(exc), "duplicate")
            else:
                done_elsewhere = self.journal.device(exc.device_id)
                if done_elsewhere.batch_id == self.batch_id:
                    self._log(logging.INFO, f"unit {serial} is already done in this batch", port=port)
                else:
                    self._already_done(
                        port, detected_at, ident_fields, done_elsewhere, driver, first=str(exc)
                    )
            return None
        worker.claimed = serial
        done: DeviceSnapshot | None = None
        resumable = self.journal.find_unfinished_by_serial(serial)
        if resumable is not None and resumable.kind == REENROLL_KIND:
            # only a re-enrollment finishes it (app/batch/unfinished_renewal.py): nothing is
            # written to the unit and nothing is requested for it, unless the operator asked to
            # re-provision the unit, which ends that renewal and enrolls the unit anew
            if not reprovision:
                profile_name = self.journal.batch(resumable.batch_id).profile_name
                advice = unfinished_renewal_advice(resumable, profile_name, port)
                self._new_failed(port, detected_at, ident_fields, advice, "reenroll-unfinished")
                return None
            self._supersede_renewal(resumable, port)
            resumable = None
        if resumable is None:
            # the batch's failed rows answer both questions; not a read of the whole batch, which
            # made every unit of a long hands-free batch slower than the one before (soak, §9)
            in_batch = self.journal.failed_devices(self.batch_id)
            resumable = _failed_in_batch(in_batch, serial)
            if resumable is None:
                done = self.journal.find_done_by_serial(serial)
                if done is None:
                    # only a unit this journal has never finished may continue a row that failed
                    # before it was identified: a finished unit taking it over would be enrolled
                    # a second time
                    resumable = _unidentified_failure_on(in_batch, port)
        if resumable is not None:
            if not self._take_claim(worker, resumable.device_id, serial):
                return None
            current = self.journal.device(resumable.device_id)
            if current.state in (DeviceState.DONE, DeviceState.SKIPPED):
                self._log(logging.INFO, f"unit {serial} was finished by another job", port=port)
                return None
            snap = self.journal.set_step(resumable.device_id, f"resumed on {port}", port=port, **ident_fields)
            self._publish(snap)
            return resumable.device_id
        if done is not None and done.batch_id == self.batch_id:
            self._log(logging.INFO, f"unit {serial} is already done in this batch", port=port)
            return None
        if done is not None and not self.options.reprovision:
            self._already_done(port, detected_at, ident_fields, done, driver)
            return None
        owner = new_claim_owner(f"port:{port}")
        snap = self.journal.add_device(
            self.batch_id,
            port,
            detected_at=detected_at,
            then=[(DeviceState.IDENTIFIED, "identified")],
            claimed_by=owner,
            **ident_fields,
        )
        worker.claim = (snap.device_id, owner)
        self._publish(snap)
        return snap.device_id

    def _supersede_renewal(self, renewal: DeviceSnapshot, port: str) -> None:
        """The operator re-provisions a unit whose field re-enrollment did not finish: that
        renewal ends failed (its one-unit batch closed) before this batch enrolls the unit anew,
        so the unit has one job. Its certificate, if one was issued, stays in the journal."""
        reason = (
            f"superseded: the operator re-provisions unit {renewal.serial_number} on {port} in batch "
            f"{self.batch_id}"
        )
        supersede_renewal(self.journal, renewal, reason)
        self._log(logging.WARNING, f"unit {renewal.serial_number}: field re-enrollment {reason}", port=port)

    def _take_claim(self, worker: _Worker, device_id: int, serial: str) -> bool:
        """Claim the unit's journal row for this port's job, waiting while another job holds it
        (a background enrollment of its CSR, the job on the port it was moved from, another
        engine). False if this worker is stopped first."""
        owner = new_claim_owner(f"port:{worker.port}")
        announced = False
        while not self.journal.claim(device_id, owner):
            if not announced:
                self._log(
                    logging.INFO,
                    f"unit {serial} is busy in another job; continuing when that job ends",
                    port=worker.port,
                    device_id=device_id,
                )
                announced = True
            with self._lock:
                for other in self._workers.values():
                    if other.detached and other.device_id == device_id:
                        other.stop.set()  # a background enrollment lets go after its request
            if worker.stop.wait(0.2):
                return False
        worker.claim = (device_id, owner)
        return True

    def _already_done(
        self,
        port: str,
        detected_at: datetime,
        ident: dict[str, str],
        done: DeviceSnapshot,
        driver: DeviceDriver,
        first: str | None = None,
    ) -> None:
        try:
            stored = driver.read_certificate_chain()
        except DeviceError:
            stored = None
        holds_it = stored is not None and any(
            pki.fingerprint(c) == done.cert_fingerprint for c in pki.pem_to_chain(stored.chain_pem)[:1]
        )
        if holds_it:
            where = f"already provisioned ({first})" if first else "already provisioned here"
            step = f"{where} (certificate serial {done.cert_serial}); not re-provisioned"
            self._publish(
                self.journal.add_device(
                    self.batch_id,
                    port,
                    detected_at=detected_at,
                    then=[(DeviceState.IDENTIFIED, "identified"), (DeviceState.SKIPPED, step)],
                    cert_serial=done.cert_serial,
                    cert_fingerprint=done.cert_fingerprint,
                    not_after=done.cert_not_after.isoformat() if done.cert_not_after else None,
                    error_code="already-provisioned",
                    **ident,
                )
            )
        else:
            where = f"{first}; " if first else ""
            self._new_failed(
                port,
                detected_at,
                ident,
                f"{where}serial number {ident['serial_number']} was already provisioned (device "
                f"#{done.device_id}, certificate serial {done.cert_serial}) but this unit does not hold "
                "that certificate; re-provision it explicitly if this is intended",
                "duplicate",
            )
        return None

    def _new_failed(
        self, port: str, detected_at: datetime, ident: dict[str, str], reason: str, code: str
    ) -> None:
        snap = self.journal.add_device(
            self.batch_id,
            port,
            detected_at=detected_at,
            then=[(DeviceState.IDENTIFIED, "identified"), (DeviceState.FAILED, f"failed: {reason}")],
            error=reason,
            error_code=code,
            failed_step="identified",
            **ident,
        )
        self._publish(snap)
        self._log(
            logging.ERROR, f"failed in step 'identified': {reason}", port=port, device_id=snap.device_id
        )

    def _journal_failed(self, device_id: int, port: str, exc: JournalError) -> None:
        """The journal refused a write (disk full, I/O error): the unit stops at the last step the
        journal holds, which is where a resume continues. Recorded as failed if the journal can
        still take that; said in the log either way."""
        message = _journal_failure(exc)
        try:
            self._fail(device_id, self.journal.device(device_id).step, RuntimeError(message), "journal")
        except JournalError:
            self._log(logging.ERROR, message, port=port, device_id=device_id)

    def _fail(self, device_id: int, step: str, exc: BaseException, code: str) -> None:
        message = str(exc) or exc.__class__.__name__
        snap = self.journal.transition(
            device_id,
            DeviceState.FAILED,
            f"failed: {message}",
            error=message,
            error_code=code,
            failed_step=step,
        )
        self._publish(snap)
        self._log(logging.ERROR, f"failed in step '{step}': {message}", port=snap.port, device_id=device_id)


def _failed_in_batch(in_batch: list[DeviceSnapshot], serial: str) -> DeviceSnapshot | None:
    """The newest row of the batch where unit ``serial`` failed (not as a duplicate)."""
    for snap in reversed(in_batch):
        failed = snap.state == DeviceState.FAILED and snap.error_code != "duplicate"
        if failed and snap.serial_number == serial:
            return snap
    return None


def _unidentified_failure_on(in_batch: list[DeviceSnapshot], port: str) -> DeviceSnapshot | None:
    """The batch's row for a unit on ``port`` that failed before it could be identified (busy,
    garbage): the unit identifying there now continues that row instead of leaving it failed
    forever."""
    for snap in reversed(in_batch):
        if snap.port == port and snap.serial_number is None and snap.state == DeviceState.FAILED:
            return snap
    return None


def _port_present(port: str) -> bool:
    """False only when ``port`` is a device path that no longer exists (the unit was unplugged);
    pyserial URLs and detached pseudo-ports count as present."""
    if not port.startswith("/"):
        return True
    return os.path.exists(port)


def _journal_failure(exc: JournalError) -> str:
    return (
        f"the station journal could not be written ({exc}); this unit stopped at its last recorded "
        "step - free disk space (or bring the journal database back), then resume the batch"
    )


class _DetachedDevice(DeviceDriver):
    """Stands in for a unit that is not connected; any device call says so."""

    name = "detached"

    def __init__(self, port: str) -> None:
        self._port = port

    @property
    def port(self) -> str:
        return self._port

    def _absent(self, *_args: object, **_kwargs: object) -> NoReturn:
        raise DeviceLost("the unit is not connected")

    identify = _absent
    generate_key = _absent
    create_csr = _absent
    import_private_key = _absent
    write_certificate_chain = _absent
    read_certificate_chain = _absent
    sign_digest = _absent
