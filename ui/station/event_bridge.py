"""The core's event bus as Qt signals (Electrum's network-callback-to-signal adapter).

``app`` publishes :class:`~certline.app.batch.events.DeviceSnapshot`,
:class:`~certline.app.batch.events.BatchSnapshot` and :class:`~certline.app.batch.events.LogEvent`
on whichever worker thread made the change. :class:`EventBridge` lives in the
main thread and re-emits them as signals on the GUI thread, so every slot
connected to the bridge runs there without locks.

Events are coalesced per frame: a worker only appends to a buffer (and wakes the
GUI thread's frame timer, a C++ slot, once when the buffer was empty); the GUI thread
drains the buffer at most once per :data:`FRAME_MS` and hands it on in one go: the newest snapshot
of each device (``devices_changed``), every log line (``log_events``), then the
newest snapshot of each batch (``batch_changed``), in that order, so a view that
reacts to a finished batch already holds its devices' final rows. A 32-unit batch
publishes ~1,500 events; one queued Qt call per event meant one GIL acquisition
of the GUI thread per event against 32 busy worker threads (docs/benchmarks.md,
GUI responsiveness).

:class:`BridgeLogHandler` feeds ordinary ``logging`` records into the same
stream (as ``LogEvent``), so the log panel shows library warnings next to
device events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from certline.app.batch.events import BatchSnapshot, DeviceSnapshot, Event, EventBus, LogEvent, MesStatus

#: Loggers whose records the engine also publishes as LogEvents (with device context);
#: the handler skips them so the log panel does not show every engine line twice.
BUS_PUBLISHING_LOGGERS: frozenset[str] = frozenset({"certline.app.batch.engine"})

#: the GUI thread takes the buffered events at most this often: the device table's redraw rate
#: (what a technician reads from across the bench), not the display's 60 Hz. Each frame is one
#: entry of the GUI thread into Python, which waits for the GIL while the engine's port workers
#: hold it, and one repaint of the counters and the rows (docs/benchmarks.md, GUI responsiveness).
FRAME_MS = 100


class EventBridge(QObject):
    """Re-emits bus events as Qt signals on the main thread, coalesced per frame.

    Signals:
        devices_changed(list): the newest :class:`DeviceSnapshot` of each device that changed
            since the last frame, in the order they first changed.
        device_changed(DeviceSnapshot): the same, one at a time (after ``devices_changed``).
        log_events(list): the :class:`LogEvent` lines since the last frame, oldest first.
        log_event(LogEvent): the same, one at a time.
        batch_changed(BatchSnapshot): the newest counters of each batch that changed (last).
        mes_changed(MesStatus): the MES hand-off's backlog changed (handed on at once: rare).
    """

    devices_changed = Signal(list)
    device_changed = Signal(object)
    log_events = Signal(list)
    log_event = Signal(object)
    batch_changed = Signal(object)
    _wake = Signal()
    _finished = Signal()
    mes_changed = Signal(object)

    def __init__(self, bus: EventBus, parent: QObject | None = None, *, frame_ms: int = FRAME_MS) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._buffer: list[Event] = []
        self._frame = QTimer(self, singleShot=True, interval=frame_ms)
        self._frame.timeout.connect(self.drain)
        # queued when emitted by a worker thread, straight to the C++ slot: starting the frame
        # timer runs no Python (no GIL acquisition of the GUI thread against busy workers)
        self._wake.connect(self._frame.start)
        # a batch that finished is handed on at once, not at the end of the frame: the summary
        # (and the buttons) follow the last unit without the frame's delay
        self._finished.connect(self.drain)
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self._on_event)
        self.destroyed.connect(self.close)

    def _on_event(self, event: Event) -> None:
        """Called on the publishing (worker) thread: only buffer (or emit), never touch widgets."""
        if isinstance(event, MesStatus):
            if shiboken6.isValid(self):
                self.mes_changed.emit(event)  # queued to the GUI thread; a few per minute at most
            return
        self._push(event)

    def emit_log(self, event: LogEvent) -> None:
        """Publish a GUI-side log line (any thread)."""
        self._push(event)

    def _push(self, event: Event) -> None:
        if not isinstance(event, DeviceSnapshot | BatchSnapshot | LogEvent):
            return
        with self._lock:
            first = not self._buffer
            self._buffer.append(event)
        if not shiboken6.isValid(self):
            return
        if isinstance(event, BatchSnapshot) and event.finished:
            self._finished.emit()  # rare: the end of a batch
        elif first:
            self._wake.emit()  # one wake per frame, not one queued call per event

    def drain(self) -> None:
        """Hand the buffered events on (GUI thread; the frame timer calls it, tests may too)."""
        with self._lock:
            events, self._buffer = self._buffer, []
        if not events:
            return
        devices: dict[int, DeviceSnapshot] = {}
        batches: dict[int, BatchSnapshot] = {}
        logs: list[LogEvent] = []
        for event in events:
            if isinstance(event, DeviceSnapshot):
                devices[event.device_id] = event
            elif isinstance(event, BatchSnapshot):
                batches[event.batch_id] = event
            elif isinstance(event, LogEvent):
                logs.append(event)
        if devices:
            snaps = list(devices.values())
            self.devices_changed.emit(snaps)
            for snap in snaps:
                self.device_changed.emit(snap)
        if logs:
            self.log_events.emit(logs)
            for line in logs:
                self.log_event.emit(line)
        for batch in batches.values():
            self.batch_changed.emit(batch)

    def close(self) -> None:
        """Stop listening to the bus (the window is closing)."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()


class BridgeLogHandler(logging.Handler):
    """Forwards ``logging`` records to the bridge as :class:`LogEvent` (any thread).

    Install it with ``certline.app.host.log_setup.attach_handler`` so the redaction filter runs first.
    """

    def __init__(self, bridge: EventBridge, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._bridge = bridge

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in BUS_PUBLISHING_LOGGERS:
            return
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message = f"{message}: {record.exc_info[1]}"
            elif record.exc_text:  # the redaction filter already formatted (and scrubbed) it
                message = f"{message}: {record.exc_text.strip().splitlines()[-1]}"
            self._bridge.emit_log(LogEvent(record.levelno, message))
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)
