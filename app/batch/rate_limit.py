"""The profile's maximum enrollments per minute: one token bucket per profile for the station.

Why: production CAs throttle (DigiCert DTM answers 429 past an account's rate). Backing off after
a 429 costs a round trip per unit and can lock an account for longer; spacing requests so the
throttle is never reached costs nothing. The bucket is per profile and per station process, so
every worker of every batch of that profile draws from it (a batch started after another one
does not get a fresh allowance).

The bucket holds one token: requests are spaced evenly, ``60 / rate`` seconds apart, so no
60-second window sees more than ``rate`` requests from this station, however they arrive.
(A larger bucket would allow a burst on top of the rate in the first minute, which is exactly
what trips a sliding-window throttle.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Stoppable(Protocol):
    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class TokenBucket:
    """At most ``per_minute`` acquisitions per minute, evenly spaced (thread-safe)."""

    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError("the rate must be positive")
        self._clock = clock
        self._lock = threading.Lock()
        self._interval = 60.0 / per_minute
        self._next_free = clock()

    @property
    def per_minute(self) -> float:
        with self._lock:
            return 60.0 / self._interval

    def set_rate(self, per_minute: float) -> None:
        if per_minute <= 0:
            raise ValueError("the rate must be positive")
        with self._lock:
            self._interval = 60.0 / per_minute

    def reserve(self) -> float:
        """Take the next free slot; returns how long the caller must wait before using it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_free)
            self._next_free = slot + self._interval
            return slot - now

    def acquire(self, stop: Stoppable, on_wait: Callable[[float], None] | None = None) -> bool:
        """Wait for this caller's slot; False when ``stop`` is set first (the slot is lost, which
        only makes the next requests later, never earlier)."""
        delay = self.reserve()
        if delay <= 0:
            return not stop.is_set()
        if on_wait is not None and delay >= 1.0:
            on_wait(delay)
        return not stop.wait(delay)


_buckets: dict[str, TokenBucket] = {}
_buckets_lock = threading.Lock()


def station_bucket(profile_name: str, per_minute: float | None) -> TokenBucket | None:
    """The station's bucket for ``profile_name`` (created on first use, its rate kept current);
    None when the profile sets no rate."""
    with _buckets_lock:
        if per_minute is None:
            _buckets.pop(profile_name, None)
            return None
        bucket = _buckets.get(profile_name)
        if bucket is None:
            bucket = _buckets[profile_name] = TokenBucket(per_minute)
        elif bucket.per_minute != per_minute:
            bucket.set_rate(per_minute)
        return bucket
