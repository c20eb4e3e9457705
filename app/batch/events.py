"""Events the core publishes for views (CLI progress, the Qt bridge in ``ui/``, reports).

Events are immutable snapshots built from the journal row just written, so
every view shows what the journal says. The bus calls subscribers on the
publishing (worker) thread; a GUI adapter must hop to its own thread (the Qt
bridge does that with queued signals).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from certline.app.batch.states import DeviceState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceSnapshot:
    """One device row as the journal has it now."""

    device_id: int
    batch_id: int
    port: str
    serial_number: str | None
    model: str | None
    state: DeviceState
    step: str
    """Human-readable description of the current or failing step."""
    progress: float
    started_at: datetime
    updated_at: datetime
    cert_serial: str | None = None
    cert_not_after: datetime | None = None
    cert_fingerprint: str | None = None
    error: str | None = None
    error_code: str | None = None
    failed_step: str | None = None
    retry_at: datetime | None = None
    scanned_label: str | None = None
    """Scan-in: the unit's label as scanned (compared with what the unit reports)."""
    kind: str = "enroll"
    """``enroll`` (a batch) or ``reenroll`` (a field re-enrollment: only a re-enrollment may
    continue it, since its request is authenticated by the unit's certificate, not a passcode)."""


@dataclass(frozen=True)
class BatchSnapshot:
    batch_id: int
    done: int
    in_progress: int
    failed: int
    pending_approval: int
    expected_remaining: int | None
    finished: bool
    paused: bool = False
    server_reachable: bool | None = None
    awaiting_label: int = 0
    """Scan-in: units held until their label is scanned."""
    scans_queued: int = 0
    """Scan-in: labels scanned that wait for the next unit plugged in."""
    skipped: int = 0
    """Units left out (already provisioned, duplicates, skipped by the operator); also in ``done``."""
    passcode_wait: str | None = None
    """Why the batch waits for a new passcode (uses spent, expired, refused after use), or None."""


@dataclass(frozen=True)
class LogEvent:
    level: int
    message: str
    device_id: int | None = None
    port: str | None = None


@dataclass(frozen=True)
class MesStatus:
    """The station's MES hand-off: how many records wait for delivery, and the last failure."""

    waiting: int
    channels: tuple[str, ...]
    """The configured channels ("folder", "http"); empty when no MES is configured."""
    last_error: str | None = None
    oldest: datetime | None = None


Event = DeviceSnapshot | BatchSnapshot | LogEvent | MesStatus
Subscriber = Callable[[Event], None]


class EventBus:
    """Thread-safe publish/subscribe. A failing subscriber is logged and never breaks the engine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - a broken view must not stop provisioning
                log.exception("event subscriber failed")
