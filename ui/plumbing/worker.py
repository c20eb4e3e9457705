"""Run blocking work off the GUI thread and get the answer back on it (Anki's ``QueryOp`` idea).

Anything that may wait -- a keyring call (D-Bus), a socket, an SQLite commit
with ``synchronous=FULL``, a serial port -- goes through
:func:`run_in_background`. The function runs in a small ``QThreadPool``;
``on_success(result)`` or ``on_failure(exc)`` is then called on the main
thread, so slots stay short and widgets are only touched where Qt allows.

When ``owner`` is given and has been deleted by the time the work finishes
(the dialog was closed), the callbacks are dropped instead of touching a dead
widget.

Commands whose order matters (pause then resume, start then stop) pass
``serial=True``: they run one at a time, in the order they were given, on a
separate one-thread pool, so a quick "pause, resume" can never arrive as
"resume, pause".
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_THREADS = 4  # keyring, EST checks and journal reads; the engine has its own threads


def _log_failure(exc: BaseException) -> None:
    log.error("background task failed: %s", exc, exc_info=exc)


class _Relay(QObject):
    """Lives in the main thread; worker threads emit ``finished`` and Qt queues it here.

    Signals:
        finished(int, bool, object): task id, whether it succeeded, result or exception.
    """

    finished = Signal(int, bool, object)

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: dict[int, tuple[Callable[[Any], None], Callable[[BaseException], None], Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.finished.connect(self._deliver)

    def register(
        self,
        on_success: Callable[[Any], None],
        on_failure: Callable[[BaseException], None],
        owner: QObject | None,
    ) -> int:
        with self._lock:
            task_id = next(self._ids)
            self._callbacks[task_id] = (on_success, on_failure, owner)
        return task_id

    def pending(self) -> int:
        with self._lock:
            return len(self._callbacks)

    @Slot(int, bool, object)
    def _deliver(self, task_id: int, ok: bool, value: object) -> None:
        with self._lock:
            on_success, on_failure, owner = self._callbacks.pop(task_id)
        if owner is not None and not shiboken6.isValid(owner):
            return
        if ok:
            on_success(value)
        else:
            on_failure(value)  # type: ignore[arg-type]


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay, task_id: int) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay
        self._task_id = task_id

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # noqa: BLE001 - every failure is handed to on_failure
            self._report(False, exc)
        else:
            self._report(True, result)

    def _report(self, ok: bool, value: object) -> None:
        try:
            self._relay.finished.emit(self._task_id, ok, value)
        except RuntimeError:  # the application is shutting down and the relay is gone
            log.debug("background task finished after shutdown; result dropped")


_relay: _Relay | None = None
_pool: QThreadPool | None = None
_serial_pool: QThreadPool | None = None


def _ensure_started(serial: bool = False) -> tuple[_Relay, QThreadPool]:
    global _relay, _pool, _serial_pool
    if _relay is None or not shiboken6.isValid(_relay):
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("run_in_background needs a QApplication")
        _relay = _Relay()
        _relay.moveToThread(app.thread())
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(_MAX_THREADS)
        _serial_pool = QThreadPool()
        _serial_pool.setMaxThreadCount(1)  # FIFO, one at a time
    assert _serial_pool is not None
    return _relay, _serial_pool if serial else _pool


def run_in_background(
    fn: Callable[[], T],
    on_success: Callable[[T], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    *,
    owner: QObject | None = None,
    serial: bool = False,
) -> None:
    """Call ``fn()`` in a worker thread; report to ``on_success``/``on_failure`` on the main thread.

    Call this from the main thread. Without ``on_failure`` the exception is logged.
    ``serial``: run after every earlier serial call has finished (ordered commands).
    """
    relay, pool = _ensure_started(serial)
    task_id = relay.register(on_success or (lambda _result: None), on_failure or _log_failure, owner)
    pool.start(_Task(fn, relay, task_id))


def pending_tasks() -> int:
    """Tasks started and not yet reported back (tests wait for 0)."""
    return _relay.pending() if _relay is not None and shiboken6.isValid(_relay) else 0


def wait_for_workers(timeout_ms: int = 30_000) -> bool:
    """Block until both pools are idle (shutdown and tests only; never from a slot)."""
    pools = [p for p in (_serial_pool, _pool) if p is not None]
    return all(p.waitForDone(timeout_ms) for p in pools)
