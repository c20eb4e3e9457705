"""Passcode usage limit and request throttle of the EST test server, as production CAs have them.

DigiCert DTM passcodes allow a number of enrollments, after which the server answers 401; CAs
throttle an account past a rate with 429 and ``Retry-After``. The station must live with both
(issue 19), so the test server can be configured to do both:

- ``passcode_max_uses``: after N certificates issued on a passcode, that passcode gets 401
  ("passcode usage limit reached"). Retransmissions answered from the cache are not new uses.
- ``throttle_limit``: more than R enrollment requests accepted in any ``throttle_window`` seconds
  (60 by default: R per minute) gets 429 with ``Retry-After`` (delta-seconds, or an HTTP-date
  with ``throttle_retry_after_date``) saying when the oldest request leaves the window. Refused
  requests do not count.
"""

from __future__ import annotations

import collections
import email.utils
import math
import threading
import time
from collections.abc import Callable


class PasscodeUses:
    """Certificates issued per passcode (held in memory, like the passcodes themselves)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uses: dict[str, int] = {}

    def spent(self, passcode: str, max_uses: int | None) -> bool:
        if max_uses is None:
            return False
        with self._lock:
            return self._uses.get(passcode, 0) >= max_uses

    def count(self, passcode: str) -> None:
        with self._lock:
            self._uses[passcode] = self._uses.get(passcode, 0) + 1

    def used(self, passcode: str) -> int:
        with self._lock:
            return self._uses.get(passcode, 0)


class Throttle:
    """A sliding window of accepted enrollment requests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._accepted: collections.deque[float] = collections.deque()
        self.refused = 0
        """How many requests were answered 429."""

    def admit(self, limit: int | None, window: float) -> float | None:
        """None when the request may go on (it is counted); else the seconds to ask it to wait."""
        if limit is None:
            return None
        with self._lock:
            now = self._clock()
            while self._accepted and now - self._accepted[0] >= window:
                self._accepted.popleft()
            if len(self._accepted) < limit:
                self._accepted.append(now)
                return None
            self.refused += 1
            return max(0.0, self._accepted[0] + window - now)


def retry_after_header(seconds: float, *, as_date: bool) -> str:
    """``Retry-After`` for a wait of ``seconds``, rounded up (RFC 9110 10.2.3: delta-seconds is a
    whole number; an HTTP-date has one-second resolution)."""
    whole = max(1, math.ceil(seconds))
    if as_date:
        return email.utils.formatdate(time.time() + whole + 1, usegmt=True)
    return str(whole)
