"""The one way a test waits for something another thread or process does.

A test that must see an effect that lands asynchronously (a request recorded just after the
response went out, a unit reaching DONE, a child process appearing) polls for that condition
instead of sleeping a fixed time. The timeout is a generous ceiling, never a timing assertion:
on a loaded machine a wait may take long, but it only fails when the condition never holds,
and then it says which condition it was waiting for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: Polling interval: short enough not to slow tests, long enough not to spin a core.
POLL_INTERVAL = 0.02


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 10.0,
    what: str = "condition",
) -> None:
    """Poll ``predicate`` until it is truthy; fail with "<what> not reached within N s" otherwise.

    The predicate is checked once more after the deadline, so a condition that became true
    while the test thread was descheduled still counts.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # Event.wait instead of time.sleep: same pause, never patched by tests
    while not predicate():
        if time.monotonic() >= deadline:
            if predicate():
                return
            raise AssertionError(f"{what} not reached within {timeout:g} s")
        pause.wait(POLL_INTERVAL)
