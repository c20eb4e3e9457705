"""The device host process: runs the serial drivers of many ports, outside the station's interpreter.

Why a separate process: every byte a unit sends passes through Python (pyserial's read loop, line
splitting, frame parsing, CRCs, base64). With 32-64 units on one station that work, done by one
thread per port, held the station's single interpreter lock most of a batch, and the journal, the
EST client and the window all queued behind it (docs/benchmarks.md, sections 2 and 3). Here it
runs under this process's own lock, on another core; the station's port worker only waits on a
pipe for each driver call's result.

The protocol is one request per driver call (``open``, ``call``, ``close``), answered by one
result or exception, in order per driver. One thread per open driver serves its calls, so units
on different ports still run at once. Log records of the drivers are sent to the station, which
writes them to its own log as if the driver ran there. Nothing here is journaled or decided:
the station still journals before each call, exactly as with an in-process driver.
"""

from __future__ import annotations

import logging
import pickle
import queue
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from certline.app.device.driver import DeviceDriver, DeviceError
from certline.app.device.registry import open_driver

#: request kinds (station -> host)
OPEN, CALL, CLOSE, PING, STOP = "open", "call", "close", "ping", "stop"
#: answer kinds (host -> station)
RESULT, RAISED, LOG = "result", "raised", "log"

#: how long a host that is told to stop waits for each driver to close its port (s)
_CLOSE_WAIT_S = 1.0

#: driver methods the station may call; anything else is refused (the host runs no other code)
CALLABLE = frozenset(
    {
        "identify",
        "generate_key",
        "create_csr",
        "import_private_key",
        "write_certificate_chain",
        "read_certificate_chain",
        "sign_digest",
        "credential_at_risk",
        "allow_replacing",
    }
)


class _Answers:
    """The host's side of the pipe: one writer at a time (driver threads answer concurrently)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            try:
                self._conn.send(message)
            except (OSError, ValueError):
                pass  # the station is gone; this process ends with its pipe


class _ForwardLogs(logging.Handler):
    """Sends each record to the station as (logger name, level, message, traceback text)."""

    def __init__(self, answers: _Answers) -> None:
        super().__init__()
        self._answers = answers

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            trace = (
                self.formatter.formatException(record.exc_info)
                if record.exc_info and self.formatter
                else None
            )
            if record.exc_info and trace is None:
                trace = "".join(traceback.format_exception(*record.exc_info))
            self._answers.send((LOG, record.name, record.levelno, text, trace))
        except Exception:  # noqa: BLE001 - a log line must never break a driver call
            self.handleError(record)


def _raised(call_id: int, exc: BaseException) -> tuple[Any, ...]:
    """The answer for a call that raised: the exception itself when it survives pickling (every
    :class:`DeviceError` does), else a plain description the station turns into an internal error."""
    if isinstance(exc, DeviceError):
        blob = _pickled(exc)
        if blob is not None:
            return (RAISED, call_id, blob, None, None)
    detail = "".join(traceback.format_exception(exc))
    return (RAISED, call_id, None, f"{type(exc).__name__}: {exc}", detail)


def _pickled(exc: DeviceError) -> bytes | None:
    """The exception as bytes the station can load, or None (an attribute that does not pickle)."""
    try:
        blob = pickle.dumps(exc)
        pickle.loads(blob)  # noqa: S301 - our own bytes, made just above
    except Exception:  # noqa: BLE001 - the caller falls back to a description
        return None
    return blob


class _DriverThread:
    """Serves one open driver's calls in order, on its own thread."""

    def __init__(self, handle: int, answers: _Answers, on_end: Callable[[int], None]) -> None:
        self.handle = handle
        self._answers = answers
        self._on_end = on_end
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._driver: DeviceDriver | None = None
        self._thread = threading.Thread(target=self._serve, name=f"driver:{handle}", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def put(self, request: tuple[Any, ...]) -> None:
        self._inbox.put(request)

    def _serve(self) -> None:
        try:
            while True:
                request = self._inbox.get()
                kind, call_id = request[0], request[1]
                try:
                    result = self._handle(kind, request[3:])
                except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
                    self._answers.send(_raised(call_id, exc))
                    if kind == OPEN:
                        return  # the port did not open: there is no driver to serve
                else:
                    self._answers.send((RESULT, call_id, result))
                if kind == CLOSE:
                    return
        finally:
            self._on_end(self.handle)

    def _handle(self, kind: str, args: tuple[Any, ...]) -> Any:
        if kind == OPEN:
            driver_name, port, baud = args
            self._driver = open_driver(driver_name, port, baud)
            return self._driver.name
        driver = self._driver
        if kind == CLOSE:
            if driver is not None:
                driver.close()
            return None
        method, call_args, call_kwargs = args
        if driver is None or method not in CALLABLE:
            raise RuntimeError(f"the device host cannot run {method!r}")
        return getattr(driver, method)(*call_args, **call_kwargs)


def serve(conn: Connection, log_level: int) -> None:
    """The host process's main loop: route each request to its driver's thread until STOP or EOF.

    Started by :class:`certline.app.device.driver_host.DriverHosts` (multiprocessing, spawn).
    """
    answers = _Answers(conn)
    root = logging.getLogger()
    root.handlers[:] = [_ForwardLogs(answers)]
    root.setLevel(log_level)
    drivers: dict[int, _DriverThread] = {}
    drivers_lock = threading.Lock()

    def ended(handle: int) -> None:
        with drivers_lock:
            drivers.pop(handle, None)

    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                break  # the station went away: end with it
            kind = request[0]
            if kind == STOP:
                break
            if kind == PING:
                answers.send((RESULT, request[1], None))
                continue
            handle = request[2]
            with drivers_lock:
                if kind == OPEN:
                    drivers[handle] = _DriverThread(handle, answers, ended)
                worker = drivers.get(handle)
            if worker is None:
                answers.send(_raised(request[1], RuntimeError(f"no open driver {handle}")))
                continue
            worker.put(request)
    finally:
        with drivers_lock:
            left = list(drivers.values())
        for worker in left:  # close the ports still open (the station stopped or went away)
            worker.put((CLOSE, -1, worker.handle))
            worker.join(_CLOSE_WAIT_S)
