"""The core's event bus as Qt signals (Electrum's network-callback-to-signal adapter).

``app`` publishes :class:`~app.batch.events.DeviceSnapshot`,
:class:`~app.batch.events.BatchSnapshot` and :class:`~app.batch.events.LogEvent`
on whichever worker thread made the change. :class:`EventBridge` lives in the
main thread and re-emits them as signals; Qt queues a signal emitted from
another thread to receivers in the main thread, so every slot connected to the
bridge runs on the GUI thread without locks.

:class:`BridgeLogHandler` feeds ordinary ``logging`` records into the same
stream (as ``LogEvent``), so the log panel shows library warnings next to
device events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Signal

from app.batch.events import BatchSnapshot, DeviceSnapshot, Event, EventBus, LogEvent, MesStatus

#: Loggers whose records the engine also publishes as LogEvents (with device context);
#: the handler skips them so the log panel does not show every engine line twice.
BUS_PUBLISHING_LOGGERS: frozenset[str] = frozenset({"app.batch.engine"})


class EventBridge(QObject):
    """Re-emits bus events as queued Qt signals on the main thread.

    Signals:
        device_changed(DeviceSnapshot): one device row changed (or appeared).
        batch_changed(BatchSnapshot): the batch counters changed.
        log_event(LogEvent): a line for the log panel.
        mes_changed(MesStatus): the MES hand-off's backlog changed.
    """

    device_changed = Signal(object)
    batch_changed = Signal(object)
    log_event = Signal(object)
    mes_changed = Signal(object)

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self._on_event)
        self.destroyed.connect(self.close)

    def _on_event(self, event: Event) -> None:
        """Called on the publishing (worker) thread: only emit, never touch widgets."""
        if not shiboken6.isValid(self):
            return
        if isinstance(event, DeviceSnapshot):
            self.device_changed.emit(event)
        elif isinstance(event, BatchSnapshot):
            self.batch_changed.emit(event)
        elif isinstance(event, LogEvent):
            self.log_event.emit(event)
        elif isinstance(event, MesStatus):
            self.mes_changed.emit(event)

    def emit_log(self, event: LogEvent) -> None:
        """Publish a GUI-side log line (any thread)."""
        if shiboken6.isValid(self):
            self.log_event.emit(event)

    def close(self) -> None:
        """Stop listening to the bus (the window is closing)."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()


class BridgeLogHandler(logging.Handler):
    """Forwards ``logging`` records to the bridge as :class:`LogEvent` (any thread).

    Install it with ``app.host.log_setup.attach_handler`` so the redaction filter runs first.
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
