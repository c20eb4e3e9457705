"""What the batch buttons do: start, pause, stop, retry, skip, hands-free.

Every engine call may wait on the journal (an fsync'ed SQLite commit) or on
the engine's lock, so each one runs through :func:`ui.worker.run_in_background`
and the controller reports by signal. The controller also closes a batch: the
engine publishes its last snapshot from a port thread that is still alive, so
when nothing is in progress any more it waits for the port threads in a worker
and calls ``engine.finish()``, whose snapshot says ``finished``.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import cast

from PySide6.QtCore import QObject, Signal

from app.batch.engine import BatchEngine, BatchOptions
from app.batch.events import BatchSnapshot
from app.station import StationSession
from app.station.hands_free import HandsFree, PortProvider
from ui.worker import run_in_background

log = logging.getLogger(__name__)

FINISH_WAIT_SECONDS = 2.0
STOP_WAIT_SECONDS = 30.0


class Phase(enum.Enum):
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"


class BatchController(QObject):
    """Drives the session's batch engine from the GUI without blocking it.

    Attributes:
        phase: where the current batch is (see :class:`Phase`).
        engine: the engine of the current or last batch.

    Signals:
        changed(): phase, pause or hands-free state changed (update the actions).
        batch_started(int): a batch id is now shown (new or resumed).
        message(str): something for the status bar.
        failed(str): an action could not be done; the text says why.
    """

    changed = Signal()
    batch_started = Signal(int)
    message = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        session: StationSession,
        port_provider: PortProvider,
        hands_free: HandsFree | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.port_provider = port_provider
        self.hands_free = hands_free
        self.phase = Phase.IDLE
        self.engine: BatchEngine | None = None
        self.options = BatchOptions()
        self.paused = False
        self._finishing = False
        self._stopped = False

    # -- queries ------------------------------------------------------------------------
    @property
    def batch_id(self) -> int | None:
        return self.engine.batch_id if self.engine is not None else None

    @property
    def hands_free_on(self) -> bool:
        return self.hands_free is not None and self.hands_free.active

    def _run(self, fn: Callable[[], object], done: Callable[[object], None] | None = None) -> None:
        """Engine commands run in order, one at a time (pause then resume stays pause then resume)."""
        run_in_background(fn, done, self._action_failed, owner=self, serial=True)

    def _action_failed(self, exc: BaseException) -> None:
        log.error("batch action failed: %s", exc, exc_info=exc)
        self._finishing = False
        if self.phase == Phase.STARTING:
            self.phase = Phase.IDLE  # no batch was started
        elif self.phase == Phase.STOPPING:
            self.phase = Phase.RUNNING  # the engine is still there; Stop can be tried again
        self.failed.emit(str(exc) or type(exc).__name__)
        self.changed.emit()

    # -- actions ------------------------------------------------------------------------
    def start(self, work_order: str | None, operator: str | None, *, hands_free: bool = False) -> None:
        """Start a new batch on the provider's ports (or, hands-free, on ports as they appear)."""
        if self.phase != Phase.IDLE:
            return
        self.phase = Phase.STARTING
        self.paused = False
        self.options = BatchOptions(work_order=work_order, operator=operator)
        self.changed.emit()
        session, options, provider = self.session, self.options, self.port_provider

        def start_batch() -> BatchEngine:
            ports = [] if hands_free else provider()
            engine = session.start_batch(options, ports)
            if hands_free and self.hands_free is not None:
                self.hands_free.start(engine, report_existing=True)
            return engine

        self._run(start_batch, self._started)

    def resume_unfinished(self, batch_id: int) -> None:
        """Continue a batch the station left unfinished (crash, power cut, closed window).

        Collected CSRs are enrolled without their units; the units plugged in now continue
        from their last journaled step (matched by serial number, not by port).
        """
        if self.phase != Phase.IDLE:
            return
        self.phase = Phase.STARTING
        self.paused = False
        self.changed.emit()
        session, provider = self.session, self.port_provider

        def resume_batch() -> BatchEngine:
            record = session.journal.batch(batch_id)
            self.options = BatchOptions(work_order=record.work_order, operator=record.operator)
            engine = session.start_batch(self.options, provider(), resume_batch=batch_id)
            engine.enroll_collected()
            return engine

        self._run(resume_batch, self._started)

    def _started(self, engine: object) -> None:
        assert isinstance(engine, BatchEngine)
        self.engine = engine
        self._stopped = False
        self._finishing = False
        self.phase = Phase.RUNNING
        log.info("batch %s started (work order %s)", engine.batch_id, self.options.work_order or "-")
        self.batch_started.emit(engine.batch_id)
        self.message.emit(self.tr("Batch %1 started").replace("%1", str(engine.batch_id)))
        self.changed.emit()

    def toggle_pause(self) -> None:
        engine = self.engine
        if engine is None or self.phase != Phase.RUNNING:
            return
        self.paused = not self.paused
        self._run(engine.pause if self.paused else engine.resume)
        self.message.emit(self.tr("Paused after the current step") if self.paused else self.tr("Resumed"))
        self.changed.emit()

    def stop(self) -> None:
        """Stop after the current step of every device, then close the batch."""
        engine = self.engine
        if engine is None or self.phase not in (Phase.RUNNING, Phase.STARTING):
            return
        self.phase = Phase.STOPPING
        self.changed.emit()
        hands_free = self.hands_free

        def stop_batch() -> bool:
            if hands_free is not None:
                hands_free.stop()
            engine.stop()
            finished = engine.wait(STOP_WAIT_SECONDS)
            engine.finish()
            return finished

        self._run(stop_batch, self._stop_done)

    def _stop_done(self, finished: object) -> None:
        self._stopped = True
        self.phase = Phase.IDLE
        self.paused = False
        if not finished:
            self.message.emit(self.tr("Stopped; some ports were still busy and will finish their step"))
        self.changed.emit()

    def retry_failed(self) -> None:
        """Run every failed device of the shown batch again (a new engine if the batch was stopped)."""
        engine = self.engine
        if engine is None or self.phase in (Phase.STARTING, Phase.STOPPING):
            return
        session, options, batch_id = self.session, self.options, engine.batch_id
        reuse = not self._stopped

        def retry() -> tuple[BatchEngine, int]:
            target = engine if reuse else session.start_batch(options, resume_batch=batch_id)
            if reuse:
                session.journal.reopen_batch(batch_id)
            return target, target.retry_failed()

        self._finishing = False
        self._run(retry, self._retried)

    def retry_pending(self) -> None:
        """Ask the EST server again now for the units pending approval: the same use case as
        ``certline batch resume`` (:meth:`BatchEngine.retry_pending`), off the GUI thread."""
        engine = self.engine
        if engine is None or self.phase in (Phase.STARTING, Phase.STOPPING):
            return
        session, options, batch_id = self.session, self.options, engine.batch_id
        reuse = not self._stopped

        def retry() -> tuple[BatchEngine, int]:
            target = engine if reuse else session.start_batch(options, resume_batch=batch_id)
            if reuse:
                session.journal.reopen_batch(batch_id)
            return target, target.retry_pending()

        self._finishing = False
        self._run(retry, self._retried_pending)

    def _retried_pending(self, result: object) -> None:
        engine, count = cast(tuple[BatchEngine, int], result)
        self.engine = engine
        self._stopped = False
        self.phase = Phase.RUNNING
        if count:
            self.message.emit(self.tr("Asking the EST server again for %n pending unit(s)", "", count))
        else:
            self.message.emit(self.tr("No unit is waiting for approval"))
        self.changed.emit()

    def _retried(self, result: object) -> None:
        engine, count = cast(tuple[BatchEngine, int], result)
        self.engine = engine
        self._stopped = False
        self.phase = Phase.RUNNING
        if count:
            self.message.emit(self.tr("Retrying %n failed device(s)", "", count))
        else:
            self.message.emit(self.tr("No failed device is still attached"))
        self.changed.emit()

    def reprovision(self, device_id: int) -> None:
        """Replace the credential of one unit the operator confirmed by name (see the engine)."""
        engine = self.engine
        if engine is None or self.phase in (Phase.STARTING, Phase.STOPPING):
            return
        session, options, batch_id = self.session, self.options, engine.batch_id
        reuse = not self._stopped

        def run() -> tuple[BatchEngine, int]:
            target = engine if reuse else session.start_batch(options, resume_batch=batch_id)
            if reuse:
                session.journal.reopen_batch(batch_id)
            return target, int(target.reprovision(device_id))

        self._finishing = False
        self._run(run, self._retried)

    def skip(self, device_ids: list[int]) -> None:
        engine = self.engine
        if engine is None or not device_ids:
            return
        reason = self.tr("skipped by the operator")

        def skip_all() -> None:
            for device_id in device_ids:
                engine.skip(device_id, reason)

        self._run(skip_all)

    def set_hands_free(self, on: bool) -> None:
        """While a batch runs: start or stop watching for units (idle: see ``start(hands_free=True)``).

        Turning it off lets the batch close as soon as the units already plugged in are finished.
        """
        hands_free, engine = self.hands_free, self.engine
        if hands_free is None or engine is None or self.phase != Phase.RUNNING:
            self.changed.emit()
            return
        if on:
            self._run(lambda: hands_free.start(engine, report_existing=False), lambda _r: self.changed.emit())
            return

        def stop_watching() -> bool:
            hands_free.stop()
            return _finish_if_idle(engine)

        self._finishing = True
        self._run(stop_watching, self._hands_free_stopped)

    def _hands_free_stopped(self, finished: object) -> None:
        self._finish_checked(finished)
        self.changed.emit()

    # -- engine events ------------------------------------------------------------------
    def on_batch_snapshot(self, snap: BatchSnapshot) -> None:
        """Close the batch once nothing is in progress (unless hands-free waits for more units).

        Only one closing check runs at a time, so a batch is closed exactly once. The
        snapshot ``engine.finish()`` publishes arrives while that check runs: it ends the
        RUNNING phase at the same moment the window shows the summary.
        """
        engine = self.engine
        if engine is None or snap.batch_id != engine.batch_id:
            return
        if self.phase != Phase.RUNNING or self.hands_free_on or snap.paused:
            return
        if self._finishing:
            if snap.finished:
                self.phase = Phase.IDLE
                self.changed.emit()
            return
        if snap.finished or snap.in_progress == 0:
            self._finishing = True
            self._run(lambda: _finish_if_idle(engine), self._finish_checked)

    def _finish_checked(self, finished: object) -> None:
        self._finishing = False
        if finished and self.phase == Phase.RUNNING:
            self.phase = Phase.IDLE
            self.changed.emit()

    def shutdown(self) -> None:
        """Stop watching and stop the engine (the window is closing). Returns at once."""
        hands_free, engine = self.hands_free, self.engine
        if hands_free is not None:
            run_in_background(hands_free.stop)
        if engine is not None and self.phase != Phase.IDLE:
            run_in_background(engine.stop, serial=True)


def _finish_if_idle(engine: BatchEngine) -> bool:
    """Worker side of closing a batch: True when every port thread ended and nothing is left."""
    if not engine.wait(FINISH_WAIT_SECONDS):
        return False
    if engine.summary().in_progress:
        return False
    engine.finish()
    return True
