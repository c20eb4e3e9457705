"""Serial drivers in device host processes: the station's side (see :mod:`.driver_host_process`).

:class:`DriverHosts` starts a few host processes (multiprocessing, *spawn* on every platform:
the station has threads, and a forked copy of them is not safe) and opens each port's driver in
the least busy one. :class:`HostedDriver` is the :class:`DeviceDriver` the batch engine gets: each
method is one request to the host and blocks until the host answers, so the engine's order of
"journal, then the device call" is exactly what it is with an in-process driver.

A host that dies (killed, crashed) fails the calls waiting on it with :class:`DeviceLost`, which
fails only those units, as an unplugged unit would; the next port opened starts a fresh host.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import logging
import multiprocessing
import os
import pickle
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from certline.app.device.driver import DeviceDriver, DeviceError, DeviceIdentity, DeviceLost, StoredCredential
from certline.app.device.driver_host_process import CALL, CLOSE, LOG, OPEN, PING, RAISED, RESULT, STOP, serve
from certline.app.device.registry import open_driver as open_in_station
from certline.app.pki import KeyAlgorithm

log = logging.getLogger(__name__)

#: how long closing the hosts waits for each to end before it is terminated (s)
_STOP_WAIT_S = 2.0

ENV_HOSTS = "CERTLINE_DEVICE_HOSTS"
"""Environment override of the number of device host processes (0: drivers run in the station)."""


def default_host_count() -> int:
    """How many host processes a station starts: ``CERTLINE_DEVICE_HOSTS`` if set, else one per
    CPU beyond the station's own, at least one and at most four (each host carries many ports;
    more processes than cores only adds switching)."""
    configured = os.environ.get(ENV_HOSTS, "").strip()
    if configured:
        try:
            return max(0, int(configured))
        except ValueError:
            log.warning("%s=%r is not a number; using the default", ENV_HOSTS, configured)
    return max(1, min(4, (os.cpu_count() or 2) - 1))


_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def _host_module_as_main() -> Iterator[None]:
    """Let a spawned host run the host module as its ``__main__``, not the station's.

    multiprocessing's spawn runs the parent's main module again in the child. For an installed
    ``certline-gui`` that is the console script, which imports the whole window: every host then
    loaded PySide6 (0.7 instead of 0.14 s to start, 84 instead of 32 MB). multiprocessing names
    the main module by its ``__spec__`` when it has one, so for the start it is given the host
    module's. A frozen bundle's main (packaging/entry_*.py) imports nothing up front and is
    served by ``freeze_support()``; it is left alone.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(sys, "frozen", False):
        yield
        return
    with _MAIN_LOCK:
        had_spec = "__spec__" in vars(main)
        saved = getattr(main, "__spec__", None)
        main.__spec__ = importlib.util.find_spec(serve.__module__)
        try:
            yield
        finally:
            if had_spec:
                main.__spec__ = saved
            else:
                del main.__spec__


class _Waiting:
    """One call waiting for its answer (set once by the host's reader thread)."""

    __slots__ = ("done", "result", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class _Host:
    """One device host process, its pipe, and the thread that reads its answers."""

    def __init__(self, index: int, log_level: int) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        self.index = index
        self.conn: Connection = ours
        self.process = context.Process(
            target=serve, args=(theirs, log_level), name=f"certline-device-host-{index}", daemon=True
        )
        try:
            with _host_module_as_main():
                self.process.start()
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.open_drivers = 0
        self.alive = True
        self.death = ""
        """Why the host stopped answering (set once, by the reader, when its pipe closes)."""
        self._send_lock = threading.Lock()
        self._waiting: dict[int, _Waiting] = {}
        self._waiting_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name=f"device-host-{index}", daemon=True)
        self._reader.start()

    def request(self, message: tuple[Any, ...], timeout: float | None = None) -> Any:
        """Send ``message`` (its second item is the call id) and wait for the host's answer
        (every driver call has its own deadlines; ``timeout`` is for the host's own requests)."""
        waiting = _Waiting()
        with self._waiting_lock:
            if not self.alive:
                raise DeviceLost(self.death)
            self._waiting[message[1]] = waiting
        try:
            with self._send_lock:
                self.conn.send(message)
        except (OSError, ValueError) as exc:
            unreachable = f"the station's device host process {self.index} cannot be reached ({exc})"
            with self._waiting_lock:
                self._waiting.pop(message[1], None)
                if self.alive:  # its reader may not have seen the pipe close yet
                    self.alive = False
                    self.death = unreachable
            raise DeviceLost(unreachable) from None
        if not waiting.done.wait(timeout):
            with self._waiting_lock:
                self._waiting.pop(message[1], None)
            raise DeviceLost(f"the device host process {self.index} did not answer within {timeout:.0f} s")
        if waiting.error is not None:
            raise waiting.error
        return waiting.result

    def _read(self) -> None:
        while True:
            try:
                answer = self.conn.recv()
            except (EOFError, OSError):
                break
            kind = answer[0]
            if kind == LOG:
                _relog(*answer[1:])
                continue
            with self._waiting_lock:
                waiting = self._waiting.pop(answer[1], None)
            if waiting is None:
                continue
            if kind == RESULT:
                waiting.result = answer[2]
            elif kind == RAISED:
                waiting.error = _exception(*answer[2:])
            waiting.done.set()
        death = self._death()  # once, outside the lock: it waits briefly for the exit code
        with self._waiting_lock:
            self.death = death
            self.alive = False
            orphans, self._waiting = self._waiting, {}
        for waiting in orphans.values():
            waiting.error = DeviceLost(death)
            waiting.done.set()

    def gone(self) -> bool:
        """Whether this host can no longer serve a port: its reader saw the pipe close, or the
        process has ended and the reader has not noticed yet (a kill and the next open can race)."""
        return not self.alive or not self.process.is_alive()

    def _death(self) -> str:
        self.process.join(0.2)
        code = self.process.exitcode
        if code is None:
            how = "its pipe closed while it still runs"
        elif code < 0:
            how = f"it was killed (signal {-code})"
        else:
            how = f"it ended with exit code {code}"
        return f"the station's device host process {self.index} stopped answering: {how}"

    def ask_to_stop(self) -> None:
        try:
            with self._send_lock:
                self.conn.send((STOP,))
        except (OSError, ValueError):
            pass  # already gone

    def stop(self) -> None:
        self.ask_to_stop()
        self.process.join(_STOP_WAIT_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(_STOP_WAIT_S)
        self.conn.close()
        self._reader.join(_STOP_WAIT_S)


def _relog(name: str, level: int, message: str, trace: str | None) -> None:
    """Write a host's log record to the station's log, under the driver's own logger name."""
    logger = logging.getLogger(name)
    if logger.isEnabledFor(level):
        logger.log(level, "%s%s", message, f"\n{trace}" if trace else "")


def _exception(blob: bytes | None, description: str | None, detail: str | None) -> BaseException:
    """The host's exception as the station raises it: the driver's own :class:`DeviceError`, or,
    for a bug in the host, a RuntimeError the engine records as an internal error."""
    if blob is not None:
        exc = pickle.loads(blob)  # noqa: S301 - from our own host process, over a private pipe
        if isinstance(exc, DeviceError):
            return exc
    if detail:
        log.error("device host: %s", detail.rstrip())
    return RuntimeError(f"internal error in the device host: {description}")


class _HostEnded(DeviceLost):
    """The host died under an open: the port was never touched, so the open may be tried again."""


class DriverHosts:
    """The station's device host processes; opens drivers in them. Thread-safe.

    Hosts start on the first :meth:`open_driver` (or :meth:`start`, to have them ready before a
    batch) and end with :meth:`close`.
    """

    def __init__(self, count: int | None = None) -> None:
        self.count = default_host_count() if count is None else count
        self._hosts: list[_Host] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        self._start_failed = False
        # a pool dropped without close() (a session nobody closed) still ends its processes
        weakref.finalize(self, _tell_to_stop, self._hosts)

    def start(self) -> None:
        """Start every host now (each takes a few hundred ms to import the drivers)."""
        with self._lock:
            self._replace_dead()

    def wait_ready(self, timeout: float) -> None:
        """Block until every host answers (it has imported the drivers), at most ``timeout`` s."""
        with self._lock:
            hosts = list(self._hosts)
        for host in hosts:
            host.request((PING, next(self._ids), 0), timeout=timeout)

    def _replace_dead(self) -> None:
        """Start hosts until there are ``count`` alive. A host that cannot be started (the OS
        refuses a process: limits, memory) is said in the log, once until one starts again; the
        station then runs its drivers with the hosts it has, or in its own process."""
        if self._closed:
            raise DeviceLost("the station is closing; no device can be opened")
        self._hosts[:] = [h for h in self._hosts if not h.gone()]
        level = logging.getLogger("certline").getEffectiveLevel()
        while len(self._hosts) < self.count:
            try:
                self._hosts.append(_Host(next(self._ids), level))
            except OSError as exc:
                if not self._start_failed:
                    log.warning(
                        "a device host process could not be started (%s); the serial drivers run "
                        "with %d host(s)%s",
                        exc,
                        len(self._hosts),
                        "" if self._hosts else ", in the station's own process",
                    )
                self._start_failed = True
                return
        self._start_failed = False

    def open_driver(self, driver_name: str, port: str, baud: int) -> DeviceDriver:
        """Open ``port``'s driver in the least busy host (DeviceLost if the port cannot be opened),
        or in this process when no host could be started.

        A host that dies just before the open (killed, crashed, between two units) costs the port
        nothing: opening touches no device state, so it is tried once more on a fresh host.
        """
        try:
            return self._open_once(driver_name, port, baud)
        except _HostEnded as ended:
            log.info("%s before %s was opened; opening it in a fresh host", ended, port)
            return self._open_once(driver_name, port, baud)  # a second _HostEnded is a DeviceLost

    def _open_once(self, driver_name: str, port: str, baud: int) -> DeviceDriver:
        with self._lock:
            self._replace_dead()
            host = min(self._hosts, key=lambda h: h.open_drivers) if self._hosts else None
            if host is not None:
                host.open_drivers += 1
        if host is None:
            return open_in_station(driver_name, port, baud)
        handle = next(self._ids)
        try:
            name = host.request((OPEN, next(self._ids), handle, driver_name, port, baud))
        except DeviceLost as lost:
            self._closed_one(host)
            if host.gone():
                raise _HostEnded(str(lost), port=port) from None
            raise  # the port itself cannot be opened
        except BaseException:
            self._closed_one(host)
            raise
        return HostedDriver(host, handle, port, name, lambda: self._closed_one(host), self._ids)

    def _closed_one(self, host: _Host) -> None:
        with self._lock:
            host.open_drivers -= 1

    def close(self) -> None:
        """End every host (their drivers' ports are closed as they exit)."""
        with self._lock:
            self._closed = True
            hosts = list(self._hosts)
            self._hosts.clear()
        for host in hosts:
            host.stop()


def _tell_to_stop(hosts: list[_Host]) -> None:
    """Ask each host to end, without waiting (runs when a pool is garbage-collected)."""
    for host in hosts:
        host.ask_to_stop()


class HostedDriver(DeviceDriver):
    """A driver running in a device host process; every method is one request there."""

    def __init__(
        self,
        host: _Host,
        handle: int,
        port: str,
        name: str,
        on_close: Callable[[], None],
        ids: itertools.count[int],
    ) -> None:
        self._host = host
        self._handle = handle
        self._port = port
        self.name = name
        self._on_close: Callable[[], None] | None = on_close
        self._ids = ids

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._host.request((CALL, next(self._ids), self._handle, method, args, kwargs))

    @property
    def port(self) -> str:
        return self._port

    def identify(self) -> DeviceIdentity:
        identity: DeviceIdentity = self._call("identify")
        return identity

    def generate_key(self, algorithm: KeyAlgorithm) -> None:
        self._call("generate_key", algorithm)

    def create_csr(self, subject: dict[str, str], challenge_password: str | None = None) -> bytes:
        csr: bytes = self._call("create_csr", subject, challenge_password)
        return csr

    def import_private_key(self, pkcs8_der: bytes) -> None:
        self._call("import_private_key", pkcs8_der)

    def write_certificate_chain(self, chain_pem: str) -> None:
        self._call("write_certificate_chain", chain_pem)

    def read_certificate_chain(self) -> StoredCredential | None:
        stored: StoredCredential | None = self._call("read_certificate_chain")
        return stored

    def sign_digest(self, digest: bytes, hash_name: str = "sha256", rsa_padding: str = "pkcs1v15") -> bytes:
        signature: bytes = self._call("sign_digest", digest, hash_name, rsa_padding)
        return signature

    def credential_at_risk(self) -> StoredCredential | None:
        stored: StoredCredential | None = self._call("credential_at_risk")
        return stored

    def allow_replacing(self, credential: StoredCredential) -> None:
        self._call("allow_replacing", credential)

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is None:
            return
        try:
            self._host.request((CLOSE, next(self._ids), self._handle))
        except DeviceError:
            pass  # the host is gone, and the port with it
        finally:
            on_close()
