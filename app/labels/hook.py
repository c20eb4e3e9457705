"""Print a unit's label when it reaches DONE, if the batch's profile asks for labels.

Subscribes to the batch :class:`~certline.app.batch.events.EventBus`; used by both
``certline batch run`` and the station window. Labels print on a thread of
their own, so a slow or absent printer never holds up a device worker, and a
printing failure never fails the unit: it is logged (the CLI shows it on
stderr, the window in its log panel) and the unit can be reprinted later.
Units that were DONE before the hook started are not printed again (a
reprint is an explicit, audited action).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from certline.app.batch.events import DeviceSnapshot, Event, EventBus
from certline.app.batch.journal_api import JournalBackend
from certline.app.batch.states import DeviceState
from certline.app.labels.outputs import SystemSinkFactory, sink_for
from certline.app.labels.reprint import print_label, settings_for_batch
from certline.app.labels.settings import LabelSettings

log = logging.getLogger(__name__)


class LabelPrinting:
    """Attach with ``LabelPrinting(journal, bus)``; ``close()`` finishes the queued labels.

    Attributes:
        printed: device id → where its label went.
        failed: device id → why its label did not print.
    """

    def __init__(
        self,
        journal: JournalBackend,
        bus: EventBus,
        *,
        system_sink: SystemSinkFactory | None = None,
    ) -> None:
        self._journal = journal
        self._system_sink = system_sink
        self._started = datetime.now(UTC)
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._seen: set[int] = set()
        self._settings: dict[int, LabelSettings | None] = {}
        self._lock = threading.Lock()
        self.printed: dict[int, str] = {}
        self.failed: dict[int, str] = {}
        self._thread = threading.Thread(target=self._run, name="label-printing", daemon=True)
        self._thread.start()
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        """On the publishing thread: only queue, never print here."""
        if not isinstance(event, DeviceSnapshot) or event.state is not DeviceState.DONE:
            return
        if event.updated_at < self._started:
            return
        with self._lock:
            if event.device_id in self._seen:
                return
            self._seen.add(event.device_id)
        self._queue.put(event.device_id)

    def _run(self) -> None:
        while True:
            device_id = self._queue.get()
            try:
                if device_id is None:
                    return
                self._print(device_id)
            finally:
                self._queue.task_done()

    def _batch_settings(self, device_id: int) -> LabelSettings | None:
        batch_id = self._journal.device(device_id).batch_id
        if batch_id not in self._settings:
            self._settings[batch_id] = settings_for_batch(self._journal, batch_id)
        return self._settings[batch_id]

    def _print(self, device_id: int) -> None:
        try:
            settings = self._batch_settings(device_id)
            if settings is None:
                return
            sink = sink_for(settings, self._system_sink)
            where = print_label(self._journal, device_id, settings, sink, reprint=False)
        except Exception as exc:  # noqa: BLE001 - a label problem never fails the unit or the batch
            reason = str(exc) or type(exc).__name__
            self.failed[device_id] = reason
            log.warning("label for device %s not printed: %s (reprint it from History)", device_id, reason)
            return
        self.printed[device_id] = where
        log.info("label for device %s: %s", device_id, where)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued label went out (or failed); False on timeout. Not on a GUI thread."""
        done = threading.Event()

        def join() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=join, daemon=True).start()
        return done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop listening, let the queued labels finish (up to ``timeout``), end the thread."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self._queue.put(None)
        self._thread.join(timeout)
