"""Drain the journal's MES outbox: every record to every configured channel, exactly once per key.

The outbox is in the journal (:mod:`certline.app.batch.mes_record`): a record is queued by the unit's
DONE/FAILED transition itself, so nothing is lost when the MES, the drop folder's share or this
process is down; a restarted station delivers what is left. A record is marked delivered on a
channel only after that channel took it (the file renamed into place, a 2xx answer).

"Nothing sent twice" is the idempotency key's job: if the station dies between the MES's 2xx and
the journal's mark, the next start sends the record again with the same key and the same bytes,
and the MES keeps one (docs/mes.md says the MES must dedupe on the key).

Failures: a MES that is down, busy or slow (connection refused, 5xx, 408/429, no answer within
the deadline) stops the round for that channel and backs off exponentially (1 s doubling to
60 s, with jitter; ``Retry-After`` honoured up to that cap), so a dead MES is not hammered; a
record the MES refuses (another 4xx) is noted and the next records go on. Each failure is counted
in the outbox row, and the backlog (:class:`~certline.app.batch.events.MesStatus`) is published on the
event bus for the station bar and the CLI.

Threads: one daemon thread (``mes-delivery``); the bus subscriber only wakes it. Qt-free.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from certline.app.batch.events import DeviceSnapshot, Event, EventBus, MesStatus
from certline.app.batch.journal_api import JournalBackend, JournalError
from certline.app.batch.mes_record import MES_OUTCOMES, OutboxRecord
from certline.app.mes.config import MesConfig
from certline.app.mes.drop_folder import DropFolderError, write_record

if TYPE_CHECKING:
    from certline.app.mes.http_post import MesPoster
from certline.app.mes.delivery_error import MesDeliveryError

log = logging.getLogger(__name__)

BASE_BACKOFF = 1.0
MAX_BACKOFF = 60.0
#: how often the worker looks at the outbox without being woken (records of another process of
#: this station, e.g. a ``certline batch run`` next to the window)
IDLE_POLL = 15.0
ROUND_SIZE = 50


class MesDelivery:
    """Delivers this station's outbox; ``start()`` the thread or call :meth:`flush` directly."""

    def __init__(
        self,
        journal: JournalBackend,
        config: MesConfig,
        *,
        bus: EventBus | None = None,
        poster_factory: Callable[[MesConfig], MesPoster] | None = None,
        base_backoff: float = BASE_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        idle_poll: float = IDLE_POLL,
    ) -> None:
        self.journal = journal
        self.config = config
        self.channels = config.channels
        self._bus = bus
        self._poster_factory = poster_factory or _http_poster
        self._poster: MesPoster | None = None
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._idle_poll = idle_poll
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._round_lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._due: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.status = MesStatus(0, self.channels)
        self._published: MesStatus | None = None
        self._publish_asked = False
        self.delivered = 0
        """Records delivered (per channel) by this object, for the CLI's summary."""

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> MesDelivery:
        """Deliver in the background from now on (the backlog first)."""
        if not self.channels or self._thread is not None:
            return self
        if self._bus is not None:
            self._unsubscribe = self._bus.subscribe(self._on_event)
        self._thread = threading.Thread(target=self._run, name="mes-delivery", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the background thread (a POST in flight ends at its deadline); undelivered records
        stay queued, and :meth:`flush` may still be called."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self, timeout: float | None = 5.0) -> None:
        """:meth:`stop`, then let go of the HTTP session."""
        self.stop(timeout)
        with self._round_lock:
            if self._poster is not None:
                self._poster.close()
                self._poster = None

    def ask_status(self) -> None:
        """Have the delivery thread publish the backlog soon, changed or not (any thread; does not
        block: a view that just subscribed gets the current count)."""
        self._publish_asked = True
        self._wake.set()

    def wake(self) -> None:
        """Look at the outbox now (a channel that is backing off still waits its turn)."""
        self._wake.set()

    def _on_event(self, event: Event) -> None:
        """On the publishing thread: a unit just finished, its record is queued: wake up."""
        if isinstance(event, DeviceSnapshot) and event.state in MES_OUTCOMES:
            self._wake.set()

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                pause = self.deliver_round()
            except JournalError as exc:  # the journal is unreachable: try again later
                log.warning("MES hand-off waits for the journal: %s", exc)
                pause = self._idle_poll
            except Exception:  # a bug must not end delivery for the rest of the shift
                log.exception("MES hand-off round failed; trying again later")
                pause = self._idle_poll
            self._wake.wait(pause)
            self._wake.clear()

    # -- delivering ----------------------------------------------------------------------------
    def deliver_round(self, *, ignore_backoff: bool = False) -> float:
        """Deliver what is due on every channel; returns seconds until the next round is due."""
        with self._round_lock:
            now = time.monotonic()
            for channel in self.channels:
                if self._stopping():
                    break
                if not ignore_backoff and self._due.get(channel, 0.0) > now:
                    continue
                self._deliver_channel(channel)
            asked, self._publish_asked = self._publish_asked, False
            self._publish_status(always=asked)
            now = time.monotonic()
            waits = [max(0.0, self._due[c] - now) for c in self.channels if self._failures.get(c)]
            return min([self._idle_poll, *waits])

    def _stopping(self) -> bool:
        """The background thread was told to stop (a direct :meth:`flush` runs to its end)."""
        return self._closing.is_set() and threading.current_thread() is self._thread

    def _deliver_channel(self, channel: str) -> None:
        failed = False
        retry_after: float | None = None
        more = True
        while more and not failed:
            records = self.journal.mes_pending(channel, ROUND_SIZE)
            more = len(records) == ROUND_SIZE
            for record in records:
                try:
                    self._deliver(channel, record)
                except (MesDeliveryError, DropFolderError) as exc:
                    failed = True
                    self.journal.mes_note_failure(record.key, channel, str(exc))
                    # said once per outage (the station bar keeps showing it); retries go to debug
                    log.log(
                        logging.DEBUG if self._failures.get(channel) else logging.WARNING,
                        "MES record of %s not delivered (%s): %s; kept, retried with backoff",
                        record.unit,
                        channel,
                        exc,
                    )
                    if getattr(exc, "transient", True):
                        retry_after = getattr(exc, "retry_after", None)
                        break  # the MES or the folder is down: do not hammer it with the rest
                    continue  # the MES refused this record: the next ones go on
                self.journal.mes_mark_delivered(record.key, channel)
                self.delivered += 1
                if self._stopping():
                    return
        if failed:
            count = self._failures.get(channel, 0) + 1
            self._failures[channel] = count
            delay = min(self._max_backoff, self._base_backoff * 2 ** (count - 1)) * random.uniform(0.8, 1.2)
            if retry_after is not None:
                delay = min(self._max_backoff, max(delay, retry_after))
            self._due[channel] = time.monotonic() + delay
        else:
            if self._failures.pop(channel, None):
                log.warning("MES hand-off (%s) works again; the waiting records are being delivered", channel)
            self._due.pop(channel, None)

    def _deliver(self, channel: str, record: OutboxRecord) -> None:
        if channel == "folder":
            assert self.config.drop_folder is not None
            write_record(Path(self.config.drop_folder), record.key, record.body)
            return
        if self._poster is None:
            self._poster = self._poster_factory(self.config)
        self._poster.post(record.key, record.body)

    def _publish_status(self, *, always: bool = False) -> None:
        backlog = self.journal.mes_backlog(self.channels)
        status = MesStatus(backlog.waiting, self.channels, backlog.last_error, backlog.oldest)
        self.status = status
        if (always or status != self._published) and self._bus is not None:
            self._published = status
            self._bus.publish(status)

    def flush(self, timeout: float) -> MesStatus:
        """Deliver until nothing waits or ``timeout`` passes (backoff respected); the CLI's call.
        Blocking: never on a GUI thread."""
        ends = time.monotonic() + timeout
        pause = self.deliver_round(ignore_backoff=True)
        while self.status.waiting:
            left = ends - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(pause, left))
            if time.monotonic() >= ends:
                break
            pause = self.deliver_round()
        return self.status


def _http_poster(config: MesConfig) -> MesPoster:
    """The HTTPS channel, imported when first needed: ``requests`` costs the window ~70 ms of
    start-up, and most stations deliver to a drop folder or not at all."""
    from certline.app.mes.http_post import MesPoster

    return MesPoster(config)
