"""A batch's lifecycle: start or resume, hands-free, pause, stop, retry, close when idle.

``certline batch run|resume`` and the station window both drive batches through
:class:`BatchRun`, so starting, stopping, retrying and closing a batch follow one set of
rules whichever view is used. Before this module the window kept these rules in its
controller (a phase enum plus ``_finishing``/``_stopped`` flags) and the CLI in its own loop,
and the two had drifted apart.

Threads: the methods marked *blocking* wait on the journal (an fsync'ed commit), on port
threads or on EST requests in flight. The CLI calls them on its main thread; the window calls
them on its one-thread command queue (``certline.ui.plumbing.worker.run_in_background(serial=True)``), so they
run in the order the operator gave them. The ``begin_*`` methods only flip the phase under a
lock that no blocking call holds: the window calls them on the GUI thread, so its buttons
change the moment they are pressed.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
from collections.abc import Iterable

from certline.app.batch.engine import BatchEngine, BatchOptions
from certline.app.batch.label_desk import ScanOutcome, ScanResult
from certline.app.security.roles import Action
from certline.app.security.secret_store import Purpose
from certline.app.station.credential_source import SecretMissing
from certline.app.station.hands_free import HandsFree
from certline.app.station.session import StationSession

log = logging.getLogger(__name__)

#: how long closing a batch waits for port threads that are ending their last step
CLOSE_WAIT_SECONDS = 2.0
#: how long Stop waits for every unit to finish its current step
STOP_WAIT_SECONDS = 30.0
#: after Stop, how long requests to a slow EST server may still run before they are cancelled
ABORT_REQUESTS_AFTER_SECONDS = 2.0


class Phase(enum.Enum):
    """Where the station's current batch is."""

    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"


class SnapshotVerdict(enum.Enum):
    """See :meth:`BatchRun.note_snapshot`."""

    NOTHING = "nothing"
    CLOSE = "close"
    CLOSED = "closed"


class BatchRun:
    """The station's current batch and what may be done with it next.

    Attributes:
        session: the station session (journal, bus, EST client).
        hands_free: the watcher that feeds newly plugged ports to the engine, if any.
        engine: the engine of the current or last batch (None before the first).
        options: the options the current batch runs with.
        phase: see :class:`Phase`.
    """

    def __init__(self, session: StationSession, hands_free: HandsFree | None = None) -> None:
        self.session = session
        self.hands_free = hands_free
        self.engine: BatchEngine | None = None
        self.options = BatchOptions()
        self.phase = Phase.IDLE
        self._stopped = False
        self._closing = False
        self._lock = threading.Lock()

    # -- state (cheap: any thread) ------------------------------------------------------------
    @property
    def batch_id(self) -> int | None:
        return self.engine.batch_id if self.engine is not None else None

    @property
    def watching(self) -> bool:
        """Whether hands-free is on (units are provisioned as they are plugged in)."""
        return self.hands_free is not None and self.hands_free.active

    @property
    def paused(self) -> bool:
        return self.engine is not None and self.engine.paused

    def begin_start(self) -> bool:
        """Claim the station for a new (or resumed) batch; False when one is already running."""
        with self._lock:
            if self.phase != Phase.IDLE:
                return False
            self.phase = Phase.STARTING
            return True

    def begin_stop(self) -> bool:
        """Mark the batch as stopping; False when there is nothing to stop."""
        with self._lock:
            if self.engine is None or self.phase not in (Phase.RUNNING, Phase.STARTING):
                return False
            self.phase = Phase.STOPPING
            return True

    def can_retry(self) -> bool:
        """Retry, retry pending and re-provision need a batch that is not starting or stopping."""
        return self.engine is not None and self.phase not in (Phase.STARTING, Phase.STOPPING)

    def note_snapshot(self, *, finished: bool, in_progress: int, paused: bool) -> SnapshotVerdict:
        """What a batch snapshot from the engine means for closing the batch.

        ``CLOSE``: nothing is left to do; run :meth:`close_if_idle` (said at most once until that
        check reports back, so a batch is closed exactly once). ``CLOSED``: the engine published
        its finished snapshot while that check ran, and the batch is over now. Never while
        hands-free waits for more units or the batch is paused.
        """
        with self._lock:
            if self.phase != Phase.RUNNING or self.watching or paused:
                return SnapshotVerdict.NOTHING
            if self._closing:
                if finished:
                    self.phase = Phase.IDLE
                    return SnapshotVerdict.CLOSED
                return SnapshotVerdict.NOTHING
            if finished or in_progress == 0:
                self._closing = True
                return SnapshotVerdict.CLOSE
            return SnapshotVerdict.NOTHING

    def failed(self) -> None:
        """A blocking step raised: put the phase back where the operator can try again."""
        with self._lock:
            self._closing = False
            if self.phase == Phase.STARTING:
                self.phase = Phase.IDLE  # no batch was started
            elif self.phase == Phase.STOPPING:
                self.phase = Phase.RUNNING  # the engine is still there; Stop can be tried again

    # -- starting (blocking) ------------------------------------------------------------------
    def start(self, options: BatchOptions) -> BatchEngine:
        """Create a new batch and return its engine before any port is added.

        The caller learns the batch id first (to subscribe, to show it) and then hands ports to
        :meth:`add_ports` or :meth:`watch`, so no unit's event can arrive for an unknown batch.
        """
        options = self._authorised(options)
        self._refuse_without_secrets()
        return self._started(self.session.start_batch(options), options)

    def _refuse_without_secrets(self) -> None:
        """A new batch without the secret its profile requires would take every unit to the EST
        step and fail it there ("no passcode is available"); refuse it before any unit is touched.
        (A resumed batch may still write and prove units already issued, so it is not refused.)"""
        missing = self.session.missing_secrets()
        if missing:
            profile = self.session.profile.name
            what = " and ".join(f"its {purpose.value}" for purpose in missing)
            commands = " and ".join(
                f"'certline profile set-passcode {profile}"
                + ("" if purpose is Purpose.PASSCODE else f" --purpose {purpose.value}")
                + "'"
                for purpose in missing
            )
            raise SecretMissing(
                f"Nothing started: profile {profile!r} needs {what}, and this station holds none (the OS "
                "keyring was unusable when the station opened, or holds none for this profile). Store it "
                f"with the profile editor or {commands}, then start again."
            )

    def _authorised(self, options: BatchOptions) -> BatchOptions:
        """Check the operator's role for starting (and re-provisioning); record who and where.

        Every batch carries an operator, so every audit record of its units names one: the
        name typed in the station bar (or ``--operator``), else the signed-in operator's.
        """
        roles = self.session.roles
        operator = roles.require(Action.START_BATCH)
        if options.reprovision:
            roles.require(Action.REPROVISION)
        if not options.operator:
            options = dataclasses.replace(options, operator=operator.name)
        if not options.station:  # the window passes none: the batch and its report name the station
            options = dataclasses.replace(options, station=self.session.journal.station)
        return options

    def resume(self, batch_id: int, options: BatchOptions) -> BatchEngine:
        """Continue a batch from the journal (see :mod:`certline.app.station.resume_choice` for which).

        CSRs collected offline or left pending are enrolled without their units; units plugged
        in later continue from their last journaled step.
        """
        options = self._authorised(options)
        engine = self._started(self.session.start_batch(options, resume_batch=batch_id), options)
        engine.enroll_collected()
        return engine

    def _started(self, engine: BatchEngine, options: BatchOptions) -> BatchEngine:
        with self._lock:
            self.engine = engine
            self.options = options
            self._stopped = False
            self._closing = False
            self.phase = Phase.RUNNING
        log.info("batch %s started (work order %s)", engine.batch_id, options.work_order or "-")
        return engine

    def add_ports(self, ports: Iterable[str]) -> None:
        """Provision whatever unit is on each port (returns at once)."""
        if self.engine is not None:
            self.engine.add_ports(ports)

    # -- hands-free (blocking: joins the watcher thread) --------------------------------------
    def watch(self, *, report_existing: bool) -> None:
        """Turn hands-free on: every port that appears is provisioned.

        ``report_existing``: also the ports present now (a new batch), not only those plugged in
        from now on (turning it on mid-batch must not re-run finished units).
        """
        if self.hands_free is not None and self.engine is not None:
            self.hands_free.start(self.engine, report_existing=report_existing)

    def stop_watching(self) -> bool:
        """Turn hands-free off; the batch then closes as soon as the units plugged in are done.

        Returns True when the batch was closed right away (nothing was left).
        """
        if self.hands_free is not None:
            self.hands_free.stop()
        with self._lock:
            self._closing = True
        return self.close_if_idle()

    # -- while running ------------------------------------------------------------------------
    def pause(self) -> None:
        """Pause after the current step of every unit."""
        if self.engine is not None:
            self.engine.pause()

    def resume_work(self) -> None:
        if self.engine is not None:
            self.engine.resume()

    def scan(self, text: str) -> ScanOutcome:
        """A label was scanned (scan-in): bind it to a unit of the running batch. Returns at once
        (no journal, port or network call: the unit's job journals and compares the label)."""
        engine = self.engine
        if engine is None or self.phase not in (Phase.RUNNING, Phase.STARTING):
            return ScanOutcome(ScanResult.NOT_ASKED, "no batch is running; start one, then scan")
        if not self.session.roles.allows(Action.SCAN_LABELS):  # someone signed out mid-batch
            return ScanOutcome(ScanResult.NOT_ASKED, "sign in to scan labels")
        return engine.scan(text)

    def discard_scans(self) -> int:
        """Forget the labels scanned for units not plugged in yet; returns how many."""
        return self.engine.discard_scans() if self.engine is not None else 0

    def skip(self, device_ids: Iterable[int], reason: str) -> None:
        """Take units out of the batch (blocking: one journal write each)."""
        self.session.roles.require(Action.SKIP_UNITS)
        if self.engine is not None:
            for device_id in device_ids:
                self.engine.skip(device_id, reason)

    def retry_failed(self) -> int:
        """Run again every failed unit still attached; returns how many."""
        self.session.roles.require(Action.RETRY_UNITS)
        return self._engine_for_more_work().retry_failed()

    def retry_pending(self) -> int:
        """Ask the EST server again now for every unit pending approval (``batch resume`` does too)."""
        self.session.roles.require(Action.RETRY_UNITS)
        return self._engine_for_more_work().retry_pending()

    def reprovision(self, device_id: int) -> bool:
        """Replace the credential of the one unit the operator confirmed (see the engine).

        Engineers only: it destroys the unit's working credential."""
        self.session.roles.require(Action.REPROVISION)
        return self._engine_for_more_work().reprovision(device_id)

    def _engine_for_more_work(self) -> BatchEngine:
        """The running engine with its batch reopened, or a new engine for a stopped batch."""
        engine = self.engine
        if engine is None:
            raise RuntimeError("no batch yet")
        if self._stopped:
            engine = self._started(
                self.session.start_batch(self.options, resume_batch=engine.batch_id), self.options
            )
        else:
            self.session.journal.reopen_batch(engine.batch_id)
            with self._lock:
                self._closing = False
                self.phase = Phase.RUNNING
        return engine

    # -- ending (blocking) --------------------------------------------------------------------
    def stop(self, wait_seconds: float = STOP_WAIT_SECONDS, *, close: bool = True) -> bool:
        """Stop after the current step of every unit. True when every port thread ended in time.

        Requests to an EST server that is slow to answer are cancelled after
        :data:`ABORT_REQUESTS_AFTER_SECONDS` (the journal says where each unit is; resuming
        re-sends the same CSR). ``close``: also close the batch in the journal, as the window
        does when the operator presses Stop (unfinished units stay resumable either way); the
        CLI closes a batch only when nothing is left (:meth:`close_if_complete`).
        """
        engine = self.engine
        if self.hands_free is not None:
            self.hands_free.stop()
        if engine is None:
            return True
        engine.stop()
        finished = engine.wait(min(ABORT_REQUESTS_AFTER_SECONDS, wait_seconds))
        if not finished:
            self.session.abort_requests()
            finished = engine.wait(max(0.0, wait_seconds - ABORT_REQUESTS_AFTER_SECONDS))
        if close:
            engine.finish()
        with self._lock:
            self._stopped = True
            self._closing = False
            self.phase = Phase.IDLE
        return finished

    def close_if_complete(self) -> bool:
        """Close the batch in the journal if none of its units is left unfinished."""
        engine = self.engine
        if engine is None or self.session.journal.unfinished_devices(engine.batch_id):
            return False
        engine.finish()
        return True

    def close_if_idle(self, wait_seconds: float = CLOSE_WAIT_SECONDS) -> bool:
        """Close the batch when every port thread ended and nothing is in progress.

        Returns True when it was closed; the engine then publishes a snapshot that says
        ``finished``. Runs after :meth:`should_close` said so.
        """
        engine = self.engine
        closed = False
        if engine is not None and engine.wait(wait_seconds) and not engine.summary().in_progress:
            engine.finish()
            closed = True
        with self._lock:
            self._closing = False
            if closed and self.phase == Phase.RUNNING:
                self.phase = Phase.IDLE
        return closed

    def shutdown(self) -> None:
        """The station is closing: stop watching and stop the engine (does not wait)."""
        if self.hands_free is not None:
            self.hands_free.stop()
        if self.engine is not None and self.phase != Phase.IDLE:
            self.engine.stop()
