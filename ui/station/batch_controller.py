"""What the batch buttons do: start, pause, stop, retry, skip, hands-free — a thin Qt adapter.

The rules (what may happen next, when a batch closes, how a stopped batch is retried) are
:class:`certline.app.station.batch_run.BatchRun`, which ``certline batch run`` uses too. This class
turns button presses into its calls on the one-thread command queue
(:func:`certline.ui.plumbing.worker.run_in_background` with ``serial=True``: every call may wait on the
journal, port threads or the EST server) and reports back by signal on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from certline.app.batch.engine import BatchEngine, BatchOptions
from certline.app.batch.events import BatchSnapshot
from certline.app.batch.label_desk import ScanOutcome
from certline.app.station import StationSession
from certline.app.station.batch_run import BatchRun, Phase, SnapshotVerdict
from certline.app.station.hands_free import HandsFree, PortProvider
from certline.ui.plumbing.worker import run_in_background

__all__ = ["BatchController", "Phase"]

log = logging.getLogger(__name__)


class BatchController(QObject):
    """Drives the station's :class:`BatchRun` from the GUI without blocking it.

    Attributes:
        run: the batch lifecycle (phase, engine, options).
        port_provider: the ports a batch starts on (USB ports, or simulated units).

    Signals:
        changed(): phase, pause or hands-free state changed (update the actions).
        batch_started(int): a batch id is now shown (new or resumed).
        message(str): something for the status bar.
        failed(str): an action could not be done; the text says why.
        scan_result(ScanOutcome): what became of a scanned label.
    """

    changed = Signal()
    batch_started = Signal(int)
    message = Signal(str)
    failed = Signal(str)
    scan_result = Signal(object)

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
        self.run = BatchRun(session, hands_free)
        self._pause_shown = False

    # -- what the window shows ----------------------------------------------------------
    @property
    def phase(self) -> Phase:
        return self.run.phase

    @property
    def engine(self) -> BatchEngine | None:
        return self.run.engine

    @property
    def batch_id(self) -> int | None:
        return self.run.batch_id

    @property
    def hands_free_on(self) -> bool:
        return self.run.watching

    @property
    def paused(self) -> bool:
        """The Pause button's state (set at the press; the engine pauses after its current step)."""
        return self._pause_shown

    # -- plumbing -----------------------------------------------------------------------
    def _queue(self, fn: Callable[[], object], done: Callable[[object], None] | None = None) -> None:
        """Lifecycle calls run in order, one at a time (pause then resume stays pause then resume)."""
        run_in_background(fn, done, self._action_failed, owner=self, serial=True)

    def _action_failed(self, exc: BaseException) -> None:
        log.error("batch action failed: %s", exc, exc_info=exc)
        self.run.failed()
        self.failed.emit(str(exc) or type(exc).__name__)
        self.changed.emit()

    # -- actions ------------------------------------------------------------------------
    def start(self, work_order: str | None, operator: str | None, *, hands_free: bool = False) -> None:
        """Start a new batch on the provider's ports (or, hands-free, on ports as they appear)."""
        if not self.run.begin_start():
            return
        self._pause_shown = False
        self.changed.emit()
        options = BatchOptions(work_order=work_order, operator=operator)
        self._queue(lambda: self.run.start(options), lambda engine: self._started(engine, hands_free))

    def resume_unfinished(self, batch_id: int) -> None:
        """Continue a batch the station left unfinished (crash, power cut, closed window).

        Collected CSRs are enrolled without their units; the units plugged in now continue
        from their last journaled step (matched by serial number, not by port).
        """
        if not self.run.begin_start():
            return
        self._pause_shown = False
        self.changed.emit()
        journal = self.session.journal

        def resume() -> BatchEngine:
            record = journal.batch(batch_id)
            options = BatchOptions(work_order=record.work_order, operator=record.operator)
            return self.run.resume(batch_id, options)

        self._queue(resume, lambda engine: self._started(engine, False))

    def _started(self, engine: object, hands_free: bool) -> None:
        """The batch id is known here first, then its ports are added: every event has its batch."""
        assert isinstance(engine, BatchEngine)
        self.batch_started.emit(engine.batch_id)
        self.message.emit(self.tr("Batch %1 started").replace("%1", str(engine.batch_id)))
        self.changed.emit()
        if hands_free:
            self._queue(lambda: self.run.watch(report_existing=True), lambda _r: self.changed.emit())
        else:
            provider = self.port_provider
            self._queue(lambda: self.run.add_ports(provider()))

    def toggle_pause(self) -> None:
        if self.run.engine is None or self.phase != Phase.RUNNING:
            return
        self._pause_shown = not self._pause_shown
        self._queue(self.run.pause if self._pause_shown else self.run.resume_work)
        self.message.emit(
            self.tr("Paused after the current step") if self._pause_shown else self.tr("Resumed")
        )
        self.changed.emit()

    def stop(self) -> None:
        """Stop after the current step of every device, then close the batch."""
        if not self.run.begin_stop():
            return
        self.changed.emit()
        self._queue(self.run.stop, self._stop_done)

    def _stop_done(self, finished: object) -> None:
        self._pause_shown = False
        if not finished:
            self.message.emit(self.tr("Stopped; some ports were still busy and will finish their step"))
        self.changed.emit()

    def retry_failed(self) -> None:
        """Run every failed device of the shown batch again (a new engine if the batch was stopped)."""
        if self.run.can_retry():
            self._queue(self.run.retry_failed, self._retried)

    def _retried(self, count: object) -> None:
        if count:
            self.message.emit(self.tr("Retrying %n failed device(s)", "", int(count)))  # type: ignore[call-overload]
        else:
            self.message.emit(self.tr("No failed device is still attached"))
        self.changed.emit()

    def retry_pending(self) -> None:
        """Ask the EST server again now for the units pending approval: the same use case as
        ``certline batch resume``, off the GUI thread."""
        if self.run.can_retry():
            self._queue(self.run.retry_pending, self._retried_pending)

    def _retried_pending(self, count: object) -> None:
        if count:
            self.message.emit(
                self.tr("Asking the EST server again for %n pending unit(s)", "", int(count))  # type: ignore[call-overload]
            )
        else:
            self.message.emit(self.tr("No unit is waiting for approval"))
        self.changed.emit()

    def reprovision(self, device_id: int) -> None:
        """Replace the credential of one unit the operator confirmed by name (see the engine)."""
        if self.run.can_retry():
            self._queue(lambda: int(self.run.reprovision(device_id)), self._retried)

    def scan(self, text: str) -> None:
        """A label was scanned: hand it to the batch (off the GUI thread: the engine logs it)."""

        def report(outcome: object) -> None:
            assert isinstance(outcome, ScanOutcome)
            self.scan_result.emit(outcome)

        def failed(exc: BaseException) -> None:
            log.error("scan not handed to the batch: %s", exc, exc_info=exc)
            self.failed.emit(str(exc) or type(exc).__name__)

        run_in_background(lambda: self.run.scan(text), report, failed, owner=self)

    def discard_scans(self) -> None:
        """Esc in the empty scan field: forget the labels waiting for a unit."""

        def report(count: object) -> None:
            self.message.emit(self.tr("%n waiting scan(s) forgotten", "", int(count)))  # type: ignore[call-overload]

        run_in_background(self.run.discard_scans, report, owner=self)

    def skip(self, device_ids: list[int]) -> None:
        if self.run.engine is None or not device_ids:
            return
        reason = self.tr("skipped by the operator")
        self._queue(lambda: self.run.skip(device_ids, reason))

    def set_hands_free(self, on: bool) -> None:
        """While a batch runs: start or stop watching for units (idle: see ``start(hands_free=True)``).

        Turning it off lets the batch close as soon as the units already plugged in are finished.
        """
        if self.run.hands_free is None or self.run.engine is None or self.phase != Phase.RUNNING:
            self.changed.emit()
            return
        if on:
            self._queue(lambda: self.run.watch(report_existing=False), lambda _r: self.changed.emit())
        else:
            self._queue(self.run.stop_watching, lambda _closed: self.changed.emit())

    # -- engine events ------------------------------------------------------------------
    def on_batch_snapshot(self, snap: BatchSnapshot) -> None:
        """Close the batch once nothing is in progress (unless hands-free waits for more units)."""
        if snap.batch_id != self.run.batch_id:
            return
        verdict = self.run.note_snapshot(
            finished=snap.finished, in_progress=snap.in_progress, paused=snap.paused
        )
        if verdict is SnapshotVerdict.CLOSE:
            self._queue(self.run.close_if_idle, lambda _closed: self.changed.emit())
        elif verdict is SnapshotVerdict.CLOSED or snap.finished:
            # the close check on the command queue may have gone idle before this snapshot
            # arrived: the buttons must follow now, before the summary opens
            self.changed.emit()

    def shutdown(self) -> None:
        """Stop watching and stop the engine (the window is closing). Returns at once."""
        run_in_background(self.run.shutdown, serial=True)
