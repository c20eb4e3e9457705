"""Overall deadlines for EST requests: a watchdog that shuts the socket down when time is up.

Why a watchdog: socket timeouts (``requests``' ``(connect, read)``, urllib3's
``Timeout(total=...)`` as well, and tlslite's reads) bound each *single* socket
operation. A server that sends one byte a second - during the TLS handshake, in
the headers or in the body - resets that clock on every byte and holds a request
forever. The only portable way to bound the whole exchange (connect + TLS +
request + complete answer) from outside the blocking call is to break the
socket when the deadline passes: ``shutdown(SHUT_RDWR)`` wakes a thread blocked
in ``recv``/``send`` on that socket at once, on every platform Certline runs on.

One daemon thread serves every deadline of the process; a request registers the
sockets it uses and unregisters them when it ends, so a keep-alive connection
returned to the pool is never touched after its request finished.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Deadline", "active_deadline", "bind"]


class Deadline:
    """The end time of one EST request, and the sockets to break when it passes."""

    def __init__(self, seconds: float, where: str) -> None:
        self.seconds = max(0.0, seconds)
        self.where = where
        """``host:port`` of the server, for the error message."""
        self.started = time.monotonic()
        self.ends = self.started + self.seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._fired: list[socket.socket] = []
        self._fired_at: float | None = None
        self._done = False
        self.expired = False
        """True once the watchdog (or :meth:`abort`) broke this request's sockets."""
        self.aborted = False
        """True when :meth:`abort` (closing the client), not the clock, ended the request."""

    def elapsed(self) -> float:
        """Seconds since the request started (until now, or until it was cut off)."""
        return (self._fired_at or time.monotonic()) - self.started

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def socket_timeout(self, per_operation: float) -> float:
        """A per-operation socket timeout that never outlives the deadline (at least 1 ms)."""
        return max(0.001, min(per_operation, self.remaining()))

    def watch(self, sock: socket.socket) -> None:
        """Break ``sock`` when the deadline passes (at once if it already has).

        A duplicate of the descriptor is kept, not ``sock`` itself: wrapping a socket in TLS
        detaches the original object (its ``fileno()`` becomes -1) while the handshake that
        must be cut off runs on the wrapper. ``shutdown`` acts on the socket behind every
        descriptor, and the duplicate cannot be reused for another connection while we hold it.
        """
        try:
            dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except (OSError, ValueError):
            return  # already closed: there is nothing left to hold
        with self._lock:
            if not self._done and not self.expired:
                self._sockets.append(dup)
                return
            fire_now = self.expired
        if fire_now:
            _shutdown(dup)
        dup.close()

    def fire(self, *, aborted: bool = False) -> None:
        """Shut down every watched socket (the watchdog calls this at the deadline)."""
        with self._lock:
            if self._done or self.expired:
                return
            self.expired = True
            self.aborted = aborted
            self._fired_at = time.monotonic()
            sockets, self._sockets = self._sockets, []
            self._fired = sockets
        for sock in sockets:
            _shutdown(sock)
        with self._lock:
            done = self._done
        if done:  # the request ended while we were shutting down: close the duplicates now
            self._close_fired()

    @property
    def finished(self) -> bool:
        """True once the request ended (:meth:`finish`): nothing is left to break."""
        return self._done

    def abort(self) -> None:
        """End the request now (the client is closing)."""
        self.fire(aborted=True)

    def finish(self) -> None:
        """The request is over: its sockets are no longer ours to break."""
        with self._lock:
            self._done = True
            sockets, self._sockets = self._sockets, []
            fired = self.expired
        for dup in sockets:
            dup.close()
        if fired:
            self._close_fired()

    def _close_fired(self) -> None:
        with self._lock:
            fired, self._fired = self._fired, []
        for dup in fired:
            dup.close()

    def describe(self) -> str:
        """Human wording of the limit, e.g. ``4 s`` or ``0.5 s``."""
        return f"{self.seconds:g} s"


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed or never connected: nothing left to wake


class _Watchdog:
    """One thread that fires deadlines in time order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            # The thread sleeps until the earliest deadline; only a new earliest one changes
            # that. Waking it for every request (all of which end later) cost a thread switch
            # and a GIL hand-off per EST request.
            earliest = not self._heap or deadline.ends < self._heap[0][0]
            heapq.heappush(self._heap, (deadline.ends, next(self._seq), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="certline-deadline", daemon=True)
                self._thread.start()
            elif earliest:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._heap:
                    self._cond.wait(_IDLE_EXIT)
                    if not self._heap:  # idle: end; the next add() starts a new thread
                        self._thread = None
                        return
                    continue
                # Requests that already finished need no firing: drop them from the top rather
                # than sleep until their (long past) end, which cost one thread wake-up and GIL
                # hand-off per request once a batch ran longer than the timeout.
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                if not self._heap:
                    continue
                ends, _seq, deadline = self._heap[0]
                delay = ends - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            deadline.fire()  # a no-op when the request already finished


_IDLE_EXIT = 5.0
"""Seconds without any deadline after which the watchdog thread ends."""

_WATCHDOG = _Watchdog()
_current = threading.local()


@contextmanager
def bind(deadline: Deadline) -> Iterator[Deadline]:
    """Make ``deadline`` the current thread's request deadline for the ``with`` block.

    Connections opened or reused by this thread inside the block register their sockets
    with it (see :func:`active_deadline`); leaving the block releases them.
    """
    previous = getattr(_current, "deadline", None)
    _current.deadline = deadline
    _WATCHDOG.add(deadline)
    try:
        yield deadline
    finally:
        deadline.finish()
        _current.deadline = previous


def active_deadline() -> Deadline | None:
    """The deadline of the request this thread is running, if any."""
    return getattr(_current, "deadline", None)
