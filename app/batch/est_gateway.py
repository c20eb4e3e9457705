"""Shared access to the EST server for all port workers of a batch.

Why a gateway: the batch must (1) cap in-flight EST requests (the profile's
concurrency, sharing one keep-alive session), (2) notice when the server is
unreachable, stop sending, keep devices preparing CSRs, and resume by itself
when a background probe sees the server again, and (3) back off with jitter
on retryable errors instead of hammering a struggling server. Workers call
:meth:`enroll` and get a verified result, an ``EstPending`` (202), a
non-retryable ``EstError``, or ``GatewayStopped`` when the batch is stopped.

Throttling: enrollment requests first take a slot from the profile's token bucket
(``app/batch/rate_limit.py``, the profile's ``max_enrollments_per_minute``), so the station
never sends faster than the CA allows. A 429 or 503 whose ``Retry-After`` the client could not
wait out within one call (``app/est/transport.py`` honours it there first) is waited out here,
unless it asks for more than ``max_retry_wait``: then the unit fails with the server's answer
rather than sitting silently for hours.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from cryptography import x509

from certline.app.batch.rate_limit import TokenBucket
from certline.app.est.errors import EstConnectionError, EstError, EstPending, EstServerError
from certline.app.est.results import CsrAttributes, EnrollResult, ServerKeygenResult

log = logging.getLogger(__name__)

T = TypeVar("T")


CsrFactory = Callable[[bytes | None], bytes]
"""Makes the CSR once the TLS connection exists: gets tls-unique (None on TLS 1.3) for PoP."""


class EnrollmentClient(Protocol):
    """The subset of ``certline.app.est.client.EstClient`` the batch engine uses."""

    def cacerts(self) -> list[x509.Certificate]: ...

    def csrattrs(self) -> CsrAttributes: ...

    def simpleenroll(self, csr: bytes | CsrFactory) -> EnrollResult: ...

    def serverkeygen(self, csr: bytes) -> ServerKeygenResult: ...


class GatewayStopped(Exception):
    """The batch was stopped while a worker waited for the server.

    Its message is the reason the engine logs ("paused at this step: <reason>"), so it is
    never empty.
    """

    def __init__(self, reason: str = "batch stopped while waiting for the EST server") -> None:
        super().__init__(reason)


class EstGateway:
    """Concurrency cap, reachability gate and retry policy around one EST client.

    Every request the batch makes (enroll, /csrattrs, the reachability probe) holds one of the
    ``concurrency`` slots, so the client's connection pool, sized to the same number, is never
    asked for more connections than it keeps.
    """

    def __init__(
        self,
        client: EnrollmentClient,
        *,
        concurrency: int = 4,
        probe_interval: float = 2.0,
        max_backoff: float = 30.0,
        on_reachability: Callable[[bool], None] | None = None,
        rate: TokenBucket | None = None,
        max_retry_wait: float = 600.0,
    ) -> None:
        self.client = client
        self._rate = rate
        self._max_retry_wait = max_retry_wait
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._up = threading.Event()
        self._up.set()
        self._stopped = threading.Event()
        self._probe_interval = probe_interval
        self._max_backoff = max_backoff
        self._on_reachability = on_reachability
        self._probe_lock = threading.Lock()
        self._prober: threading.Thread | None = None
        self._attrs_lock = threading.Lock()
        self._attrs: CsrAttributes | None = None
        self._down_reason: str | None = None

    @property
    def reachable(self) -> bool:
        return self._up.is_set()

    def set_rate(self, rate: TokenBucket | None) -> None:
        """Use this token bucket (or none) from the next enrollment request on."""
        self._rate = rate

    def stop(self) -> None:
        self._stopped.set()
        self._up.set()  # wake waiters so they see the stop

    def enroll(
        self,
        csr: bytes | CsrFactory,
        *,
        on_wait: Callable[[str], None],
        cancel: threading.Event | None = None,
    ) -> EnrollResult:
        """Enroll, waiting out outages and retryable errors; ``cancel`` stops waiting for one unit."""
        return self._call(lambda: self.client.simpleenroll(csr), on_wait, cancel, metered=True)

    def requirements(self) -> CsrAttributes:
        """What the server's ``/csrattrs`` asks of every CSR, fetched once per batch.

        An unreachable or broken ``/csrattrs`` means "no requirements": the profile's settings
        apply and the enroll request itself will say if the server insists on something else.
        """
        with self._attrs_lock:
            if self._attrs is None:
                try:
                    with self._slots:  # every request counts against the pool (no "pool is full")
                        self._attrs = self.client.csrattrs()
                except EstError as exc:
                    log.warning("/csrattrs unusable (%s); using the profile's key settings", exc)
                    if isinstance(exc, EstConnectionError):
                        self._down_reason = str(exc)
                    self._attrs = CsrAttributes()
            return self._attrs

    def serverkeygen(
        self, csr_der: bytes, *, on_wait: Callable[[str], None], cancel: threading.Event | None = None
    ) -> ServerKeygenResult:
        return self._call(lambda: self.client.serverkeygen(csr_der), on_wait, cancel, metered=True)

    def _call(
        self,
        operation: Callable[[], T],
        on_wait: Callable[[str], None],
        cancel: threading.Event | None,
        *,
        metered: bool = False,
    ) -> T:
        attempt = 0
        stopped = self._stopped if cancel is None else _Either(self._stopped, cancel)
        while True:
            self._wait_until_reachable(on_wait, stopped)
            if metered:
                self._wait_for_rate(on_wait, stopped)
            with self._slots:
                if stopped.is_set():
                    raise GatewayStopped("batch stopped before the request was sent to the EST server")
                try:
                    return operation()
                except EstPending:
                    raise
                except EstConnectionError as exc:
                    if stopped.is_set():  # ended by the stop: the unit's step keeps why it waited
                        on_wait(f"stopped while waiting for the EST server: {exc}")
                        raise GatewayStopped() from None
                    log.warning("EST server unreachable: %s", exc)
                    self._down_reason = str(exc)
                    self._mark_down()
                    attempt = 0
                    continue
                except EstServerError as exc:
                    attempt += 1
                    delay = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
                    if attempt >= 6 or delay > self._max_retry_wait:
                        raise
                    on_wait(f"EST server busy ({exc}); retrying in {delay:.0f} s")
                except EstError:
                    raise
            if stopped.wait(delay):
                raise GatewayStopped("batch stopped while waiting to retry the EST request")

    def _wait_for_rate(self, on_wait: Callable[[str], None], stopped: _Stoppable) -> None:
        """Take this request's slot of the profile's enrollment rate (shared by every worker)."""
        rate = self._rate
        if rate is None:
            return

        def tell(delay: float) -> None:
            on_wait(
                f"waiting {delay:.0f} s for the profile's enrollment rate ({rate.per_minute:g} per minute)"
            )

        if not rate.acquire(stopped, tell):
            raise GatewayStopped("batch stopped while waiting for the profile's enrollment rate")

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, so many workers do not retry in lockstep."""
        return random.uniform(0, min(self._max_backoff, 0.5 * 2**attempt))

    def _wait_until_reachable(self, on_wait: Callable[[str], None], stopped: _Stoppable) -> None:
        if not self._up.is_set():
            # The unit's step (journaled) says why it waits, e.g. which server timed out after how long.
            reason = self._down_reason
            on_wait(
                f"waiting for the EST server to answer again (last error: {reason})"
                if reason
                else "waiting for the EST server to answer again"
            )
        while not self._up.wait(0.2):
            if stopped.is_set():
                raise GatewayStopped("batch stopped while waiting for the EST server to answer again")
        if stopped.is_set():
            raise GatewayStopped("batch stopped before the request was sent to the EST server")

    def _mark_down(self) -> None:
        with self._probe_lock:
            if not self._up.is_set():
                return
            self._up.clear()
            if self._on_reachability:
                self._on_reachability(False)
            self._prober = threading.Thread(target=self._probe_until_up, name="est-probe", daemon=True)
            self._prober.start()

    def _probe_until_up(self) -> None:
        delay = self._probe_interval
        while not self._stopped.wait(delay):
            try:
                with self._slots:  # the probe shares the pool with enrollment, never exceeds it
                    self.client.cacerts()
            except EstError as exc:
                log.info("EST server still unreachable: %s", exc)
                delay = min(self._max_backoff, delay * 1.5)
                continue
            except Exception:  # noqa: BLE001 - a dead probe would leave the batch waiting forever
                log.exception("EST server probe failed unexpectedly; probing again")
                delay = min(self._max_backoff, delay * 1.5)
                continue
            log.warning("EST server reachable again; resuming enrollment")
            self._up.set()
            if self._on_reachability:
                self._on_reachability(True)
            return


class _Stoppable(Protocol):
    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class _Either:
    """Set when the batch stops or when this one unit is cancelled (skip, duplicate)."""

    def __init__(self, first: threading.Event, second: threading.Event) -> None:
        self._events = (first, second)

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._events[1].wait(0.2 if remaining is None else min(0.2, remaining))
        return True
