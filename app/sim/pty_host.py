"""Pseudo-terminal host: one simulated device on a real pty, paced at its baud rate.

The host owns the pty pair and a stable symlink to the slave (what the station
opens with pyserial), runs the device personality in its own thread, paces every
byte it sends at ``baud`` (10 bit times per byte, sent in ~10 ms slices against
a monotonic schedule), and applies transport faults to outgoing lines.
Unplugging closes both ends of the pty and removes the symlink, so the station
sees exactly what a pulled USB cable produces: EIO/EOF on the open port and a
vanished path. Only the device thread creates and closes pty descriptors, so
no descriptor is closed while another thread waits on it.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import re
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

from certline.app.device.certline_protocol import transmit_seconds
from certline.app.device.transport import LineSplitter
from certline.app.sim.faults import DeviceFaults, SimReboot
from certline.app.sim.personality import Personality, SimUnplugged

log = logging.getLogger(__name__)

#: longest request line a simulated device keeps (longer ones are dropped, like a firmware UART buffer)
DEVICE_MAX_LINE = 2048
SLICE_SECONDS = 0.01
#: if the station does not drain the pty for this long, further output is dropped like a UART does
WRITE_STALL_SECONDS = 2.0

PersonalityFactory = Callable[[str], Personality]
"""Builds a fresh firmware instance for each boot; the argument is the boot reason."""


def pacing_plan(nbytes: int, baud: int, slice_seconds: float = SLICE_SECONDS) -> list[tuple[int, float]]:
    """Slices ``(length, start offset in seconds)`` that send ``nbytes`` at ``baud``.

    Offsets come from one schedule (start + bytes sent so far × byte time) rather
    than per-slice sleeps, so sleep overshoot does not accumulate into a slower line.
    """
    per_slice = max(1, int(baud / 10 * slice_seconds))
    plan: list[tuple[int, float]] = []
    sent = 0
    while sent < nbytes:
        length = min(per_slice, nbytes - sent)
        plan.append((length, transmit_seconds(sent, baud)))
        sent += length
    return plan


class PtyPort:
    """The device side of one plug session (implements :class:`~certline.app.sim.personality.SimPort`)."""

    def __init__(
        self,
        master_fd: int,
        baud: int,
        faults: DeviceFaults,
        gone: threading.Event,
        wake_fd: int,
        listening: threading.Event | None = None,
    ) -> None:
        self.baud = baud
        self._listening = listening
        self._fd = master_fd
        self._faults = faults
        self._gone = gone
        self._wake_fd = wake_fd
        self._splitter = LineSplitter(DEVICE_MAX_LINE)
        self._line_free_at = 0.0
        self._rng = random.Random()  # noqa: S311 - fault noise, not security

    # -- SimPort -------------------------------------------------------------
    def read_line(self, timeout: float | None = None) -> bytes | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._listening is not None:
            self._listening.set()  # the firmware finished booting and waits for requests
        while True:
            line = self._splitter.pop()
            if line is not None:
                slow = self._faults.peek("slow")
                if slow is not None and slow.seconds > 0:
                    self.sleep(slow.seconds)
                return line
            self._check()
            wait = 0.5 if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                return None
            readable, _, _ = select.select([self._fd, self._wake_fd], [], [], min(wait, 0.5))
            if self._wake_fd in readable:
                _drain(self._wake_fd)
            if self._fd in readable:
                self._read_some()

    def write(self, data: bytes) -> None:
        """Send ``data`` paced at the baud rate (:func:`pacing_plan`): no slice leaves before its time.

        Slices whose time has already come (several, after this thread was kept off the CPU)
        go out in one ``os.write``: each system call here wakes the station's reader, so
        needless extra writes cost CPU on both sides.
        """
        data = self._mangle(data)
        plan = pacing_plan(len(data), self.baud)
        start = max(time.monotonic(), self._line_free_at)
        sent = index = 0
        while index < len(plan):
            delay = start + plan[index][1] - time.monotonic()
            if delay > 0:
                self.sleep(delay)
            self._check()
            now = time.monotonic()
            end = sent + plan[index][0]
            index += 1
            while index < len(plan) and start + plan[index][1] <= now:  # due as well: same write
                end += plan[index][0]
                index += 1
            self._write_all(data[sent:end])
            sent = end
        self._line_free_at = start + transmit_seconds(len(data), self.baud)

    def sleep(self, seconds: float) -> None:
        if self._gone.wait(max(0.0, seconds)):
            raise SimUnplugged("unplugged")

    # -- internals -----------------------------------------------------------
    def _check(self) -> None:
        if self._gone.is_set():
            raise SimUnplugged("unplugged")

    def _read_some(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EIO:  # nobody holds the slave open; cannot happen while we hold it
                self.sleep(0.05)
                return
            raise SimUnplugged(f"pty failed: {exc.strerror}") from None
        self._splitter.feed(data)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        stall_deadline = time.monotonic() + WRITE_STALL_SECONDS
        while view:
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                written = 0
            except OSError as exc:
                raise SimUnplugged(f"pty failed: {exc.strerror}") from None
            view = view[written:]
            if view:
                if time.monotonic() >= stall_deadline:
                    return  # nobody reads: drop the rest, as a UART would
                select.select([self._wake_fd], [self._fd], [], 0.05)
                self._check()

    def _mangle(self, data: bytes) -> bytes:
        """Apply transport faults line by line; only lines carrying a frame are damaged."""
        out = bytearray()
        for line, eol in _split_keep_eol(data):
            if b"@" in line:
                if self._faults.take("garbage"):
                    out += self._garbage()
                keep_from = max(3, line.find(b" ") + 2)  # keep "@<id> " so the host knows it was its reply
                if keep_from < len(line) and self._faults.take("truncate"):
                    line = line[: self._rng.randrange(keep_from, len(line))]
                if eol and self._faults.take("crlf"):
                    eol = self._rng.choice([b"\r", b"\n", b"\n\r", b"\r\r\n"])
            out += line + eol
        return bytes(out)

    def _garbage(self) -> bytes:
        noise = bytes(self._rng.choice(b"\x00\x07\x1b#$%&*+<>?^~|\xa5\xfe\xff0123abcXYZ ") for _ in range(24))
        return noise + (b"\r\n" if self._rng.random() < 0.5 else b"")


def _drain(fd: int) -> None:
    """Empty the (non-blocking) wake-up pipe so select does not spin on a stale byte."""
    try:
        while os.read(fd, 64):
            pass
    except BlockingIOError:
        pass


_LINE_AND_EOL = re.compile(rb"([^\r\n]*)(\r\n|[\r\n])")


def _split_keep_eol(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split into (line, terminator) pairs (CRLF, CR or LF); the last pair may lack a terminator.

    One regex scan in C: a byte-by-byte Python loop here cost ~1 ms of simulator CPU per unit.
    """
    parts: list[tuple[bytes, bytes]] = []
    end = 0
    for match in _LINE_AND_EOL.finditer(data):
        parts.append((match[1], match[2]))
        end = match.end()
    if end < len(data):
        parts.append((data[end:], b""))
    return parts


class PtyHost:
    """One simulated device: a pty pair, a symlink, and a thread running its firmware."""

    def __init__(
        self,
        link: Path,
        factory: PersonalityFactory,
        *,
        baud: int = 115200,
        faults: DeviceFaults | None = None,
        name: str = "sim",
    ) -> None:
        self.name = name
        self.baud = baud
        self.faults = faults or DeviceFaults()
        self.faults.on_unplug = self._request_unplug
        self._factory = factory
        self._link = link
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._plug_wanted = threading.Event()
        self._plugged = threading.Event()
        self._listening = threading.Event()
        self._unplugged = threading.Event()
        self._gone = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._thread: threading.Thread | None = None
        self._tty_name: str | None = None

    @property
    def link(self) -> Path:
        """The symlink the station opens (changes if :meth:`replug` asked for a new one)."""
        return self._link

    @property
    def tty_name(self) -> str | None:
        """The real pty slave path of the current plug session, None while unplugged."""
        return self._tty_name

    @property
    def is_plugged(self) -> bool:
        return self._plugged.is_set()

    def start(self, timeout: float = 5.0) -> str:
        """Plug the device in and boot it; returns the symlink path."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._plug_wanted.set()
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.name}", daemon=True)
        self._thread.start()
        if not self._listening.wait(timeout):
            raise RuntimeError(f"simulated device {self.name} did not come up")
        return str(self._link)

    def unplug(self, timeout: float = 5.0) -> None:
        """Pull the cable: the pty closes, the symlink disappears. Returns once that happened."""
        self._request_unplug()
        if not self._unplugged.wait(timeout):
            raise RuntimeError(f"simulated device {self.name} did not unplug")

    def replug(self, link: Path | None = None, timeout: float = 5.0) -> str:
        """Plug back in (on a new pty, optionally under a new symlink); returns the symlink path."""
        if self._plugged.is_set():
            self.unplug(timeout)
        if link is not None:
            self._link = link
        self._plugged.clear()
        self._listening.clear()
        self._plug_wanted.set()
        os.write(self._wake_w, b"x")
        if not self._listening.wait(timeout):
            raise RuntimeError(f"simulated device {self.name} did not replug")
        return str(self._link)

    def stop(self, timeout: float = 5.0) -> None:
        """Power off for good: unplug, stop the thread, release every descriptor."""
        self._stop.set()
        self._request_unplug()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("simulated device %s did not stop within %.1f s", self.name, timeout)
                return
        for fd in (self._wake_r, self._wake_w):
            _close_quietly(fd)
        self._wake_r = self._wake_w = -1

    # -- device thread ---------------------------------------------------------
    def _request_unplug(self) -> None:
        self._plug_wanted.clear()
        self._gone.set()
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._plug_wanted.is_set():
                self._wait_for_wake()
                continue
            self._session()

    def _wait_for_wake(self) -> None:
        readable, _, _ = select.select([self._wake_r], [], [], 0.5)
        if readable:
            _drain(self._wake_r)

    def _session(self) -> None:
        master, slave = self._open_pty()
        _drain(self._wake_r)
        self._gone.clear()
        if not self._plug_wanted.is_set() or self._stop.is_set():
            self._gone.set()  # an unplug raced with this plug-in
        self._unplugged.clear()
        self._plugged.set()
        boot_reason = "power"
        try:
            while not self._gone.is_set():
                port = PtyPort(master, self.baud, self.faults, self._gone, self._wake_r, self._listening)
                try:
                    self._factory(boot_reason).run(port)
                    self._gone.wait()  # firmware halted: stays silent until unplugged
                except SimReboot:
                    boot_reason = "reset"
                except SimUnplugged:
                    break
                except Exception:  # noqa: BLE001 - a firmware crash must not kill the host
                    log.exception("simulated device %s crashed; rebooting", self.name)
                    boot_reason = "crash"
                    self._gone.wait(0.2)
        finally:
            self._plugged.clear()
            self._listening.clear()
            self._remove_link()
            _close_quietly(master)
            _close_quietly(slave)
            self._tty_name = None
            self._unplugged.set()

    def _open_pty(self) -> tuple[int, int]:
        master, slave = os.openpty()
        import tty  # POSIX only; imported here so the CLI, which imports this module, starts on Windows

        tty.setraw(slave)
        os.set_blocking(master, False)
        self._tty_name = os.ttyname(slave)
        self._link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._link.with_name(self._link.name + ".new")
        _unlink_quietly(tmp)
        os.symlink(self._tty_name, tmp)
        os.replace(tmp, self._link)
        return master, slave

    def _remove_link(self) -> None:
        try:
            if self._tty_name and os.readlink(self._link) == self._tty_name:
                self._link.unlink()
        except OSError:
            pass


def _close_quietly(fd: int) -> None:
    if fd < 0:
        return
    try:
        os.close(fd)
    except OSError:
        pass


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
