"""Terminal progress for batches: one line per device state change, then totals.

Line-oriented rather than a redrawing display so it reads the same in a
terminal, a CI log and a pipe. Printing happens on the engine's worker
threads, serialised by a lock.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from certline.app.batch.events import BatchSnapshot, DeviceSnapshot, Event
from certline.app.batch.pipeline import format_retry_at
from certline.app.batch.states import DeviceState


class ProgressPrinter:
    """Subscribe ``printer.on_event`` to an EventBus."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._last: dict[int, tuple[DeviceState, str]] = {}
        self.summary: BatchSnapshot | None = None

    def on_event(self, event: Event) -> None:
        if isinstance(event, BatchSnapshot):
            self.summary = event
            return
        if not isinstance(event, DeviceSnapshot):
            return
        key = (event.state, event.step)
        with self._lock:
            if self._last.get(event.device_id) == key:
                return
            self._last[event.device_id] = key
            when = event.updated_at.astimezone().strftime("%H:%M:%S")
            port = event.port.rsplit("/", 1)[-1]
            serial = event.serial_number or "?"
            line = f"{when}  {port:<10} {serial:<16} {event.state.value:<16} {event.step}"
            if event.state == DeviceState.DONE and event.cert_serial:
                line += f"  (certificate serial {event.cert_serial})"
            print(line, file=self._stream, flush=True)

    def print_totals(self, snaps: list[DeviceSnapshot]) -> None:
        counts: dict[str, int] = {}
        for snap in snaps:
            counts[snap.state.value] = counts.get(snap.state.value, 0) + 1
        parts = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        print(f"Totals: {len(snaps)} device(s): {parts}", file=self._stream, flush=True)
        for snap in snaps:
            who = snap.serial_number or snap.port
            if snap.state == DeviceState.FAILED:
                print(f"  FAILED {who}: {snap.error}", file=self._stream, flush=True)
            elif snap.state == DeviceState.PENDING_APPROVAL:
                asked = (
                    f"the EST server asks to retry at {format_retry_at(snap.retry_at)}"
                    if snap.retry_at is not None
                    else "waiting for approval on the EST server"
                )
                print(
                    f"  PENDING {who}: {asked}; 'certline batch resume' asks again",
                    file=self._stream,
                    flush=True,
                )
