"""Line transport over a serial port (pyserial), with deadlines and unplug detection.

pyserial opens, configures and closes the port (it knows every platform's ioctls).
Reading is a loop of short waits that ends at a caller-given deadline, so nothing
blocks forever even if a device goes silent; a vanished device (USB pulled,
pseudo-terminal closed) surfaces as :class:`DeviceLost`, because the read then
fails (EIO) or finds the port readable but empty (EOF). On POSIX, when pyserial
hands us its own non-blocking port, each wait is one ``select`` on the port's
descriptor followed by one ``os.read`` of everything queued: pyserial's ``read``
costs an ``in_waiting`` ioctl, a select, a read and Python-level timeout objects
per call, and after an idle wait it returns one byte and needs a second call for
the rest — per unit that was ~100 calls and half of a device host's CPU was
system calls. Writes likewise go straight to ``os.write`` (waiting for room only
when the buffer is full). Windows, pyserial URLs (``loop://``) and wrapped serial
objects (which may count bytes) keep pyserial's ``read`` and ``write``.
Line splitting accepts CR, LF and CRLF, drops empty lines, and discards lines
longer than ``max_line`` (a device spewing binary must not grow memory).
No line content is logged here: lines may carry secrets (challenge passwords).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import select
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NoReturn

import serial

from certline.app.device.driver import DeviceLost, DeviceTimeout
from certline.app.device.serial_access import explain_open_error

log = logging.getLogger(__name__)

DEFAULT_MAX_LINE = 8 * 1024
#: each pyserial read waits at most this long, so deadlines are honoured to ~50 ms
READ_SLICE_SECONDS = 0.05
WRITE_TIMEOUT_SECONDS = 5.0
#: the longest single wait on a directly read port: an unplugged port wakes select at once
#: (readable, then EIO or EOF), so this only bounds the unforeseen; 20 idle wake-ups a second
#: per port (the 50 ms pyserial slice) cost a busy station measurable CPU
SELECT_SLICE_SECONDS = 0.5

SerialFactory = Callable[..., Any]

_LINE_END = re.compile(rb"[\r\n]")


#: read as much as this per system call (a unit's longest burst is a few hundred bytes)
READ_CHUNK = 4096
#: errno values after which a non-blocking read simply has nothing yet (what pyserial ignores too)
_RETRY_ERRNOS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR})
#: pyserial's own words for a port that is readable but empty (unplugged), kept for familiarity
_EOF_MESSAGE = (
    "device reports readiness to read but returned no data (device disconnected or multiple access on port?)"
)

_TTY_ERRORS: tuple[type[Exception], ...]
try:  # pyserial lets termios.error (not an OSError) escape from reset_input_buffer on a dead pty
    import termios

    _TTY_ERRORS = (termios.error,)
except ImportError:  # pragma: no cover - Windows has no termios
    _TTY_ERRORS = ()


class LineSplitter:
    """Turns a byte stream into lines; CR, LF and CRLF all end a line; oversized lines are dropped."""

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._lines: deque[bytes] = deque()
        self._skipping = False
        self.oversized = 0
        """How many lines were discarded for exceeding ``max_line`` (diagnostics)."""

    def feed(self, data: bytes) -> None:
        """Split ``data`` at every CR and LF in C (``re.split``), not byte by byte in Python: a
        station reads ~3.5 kB per unit, dozens of units at once, and a per-byte loop was the
        largest single CPU cost of a port worker."""
        pieces = _LINE_END.split(data)
        self._take(pieces[0])
        if len(pieces) == 1:
            return
        self._end_line()
        # the pieces between two line ends are whole lines: no buffer, no skipping state
        max_line, lines = self.max_line, self._lines
        for piece in pieces[1:-1]:
            if len(piece) > max_line:
                self.oversized += 1
            elif piece:
                lines.append(bytes(piece))
        self._take(pieces[-1])

    def _take(self, piece: bytes) -> None:
        """Append ``piece`` (no line ends in it) to the current line, or start skipping the line
        once it would grow past ``max_line``."""
        if self._skipping or not piece:
            return
        if len(self._buffer) + len(piece) > self.max_line:
            self._buffer.clear()
            self._skipping = True
            self.oversized += 1
        else:
            self._buffer += piece

    def _end_line(self) -> None:
        if self._buffer and not self._skipping:
            self._lines.append(bytes(self._buffer))
        self._buffer.clear()
        self._skipping = False

    def pop(self) -> bytes | None:
        return self._lines.popleft() if self._lines else None

    def clear(self) -> None:
        self._buffer.clear()
        self._lines.clear()
        self._skipping = False


class SerialTransport:
    """One open serial port (device path or pyserial URL such as ``loop://``) read as lines."""

    def __init__(
        self,
        port: str,
        baud: int = 115200,
        *,
        max_line: int = DEFAULT_MAX_LINE,
        serial_factory: SerialFactory = serial.serial_for_url,
    ) -> None:
        self.port = port
        self.baud = baud
        self._factory = serial_factory
        self._serial: Any = None
        self._fd: int | None = None
        """The port's descriptor when we may select/read it directly (see :func:`_direct_fd`)."""
        self._splitter = LineSplitter(max_line)

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        """Open the port (exclusively where the OS allows) and drop whatever was queued before us."""
        if self._serial is not None:
            return
        try:
            self._serial = self._factory(
                self.port,
                baudrate=self.baud,
                timeout=READ_SLICE_SECONDS,
                write_timeout=WRITE_TIMEOUT_SECONDS,
                exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            # Permission denied names the owning group and the fix (app/device/serial_access.py)
            reason = explain_open_error(self.port, exc)
            raise DeviceLost(f"cannot open {self.port}: {reason}", port=self.port) from None
        self._fd = _direct_fd(self._serial)
        self.flush_input()

    def flush_input(self) -> None:
        """Forget buffered input (stale replies, boot banners) before a fresh exchange."""
        self._splitter.clear()
        if self._serial is None:
            return
        try:
            self._serial.reset_input_buffer()
        except (serial.SerialException, OSError, *_TTY_ERRORS) as exc:
            self._lost(exc)

    def write_line(self, line: bytes) -> None:
        """Send one line (the caller supplies the terminator)."""
        ser = self._require_open()
        try:
            if self._fd is not None:
                self._write_fd(self._fd, line)
            else:
                ser.write(line)
        except serial.SerialTimeoutException:
            raise DeviceTimeout(f"{self.port} did not accept data for {WRITE_TIMEOUT_SECONDS:g} s") from None
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)

    @staticmethod
    def _write_fd(fd: int, data: bytes) -> None:
        """Write all of ``data``, waiting for room only when the port's buffer is full.

        pyserial's ``write`` (with a write timeout) follows every ``os.write``, even a complete
        one, with a ``select`` for writability: one system call per line for nothing.
        """
        view = memoryview(data)
        give_up = time.monotonic() + WRITE_TIMEOUT_SECONDS
        while view:
            try:
                view = view[os.write(fd, view) :]
            except OSError as exc:
                if exc.errno not in _RETRY_ERRNOS:
                    raise serial.SerialException(f"write failed: {exc}") from None
            if not view:
                return
            left = give_up - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise serial.SerialTimeoutException("Write timeout")

    def read_line(self, deadline: float) -> bytes | None:
        """Next non-empty line before ``deadline`` (``time.monotonic()`` value), else None."""
        ser = self._require_open()
        while True:
            line = self._splitter.pop()
            if line is not None:
                return line
            now = time.monotonic()
            if now >= deadline:
                return None
            fd = self._fd
            if fd is not None:
                data = self._read_fd(fd, min(deadline - now, SELECT_SLICE_SECONDS))
                if data:
                    self._splitter.feed(data)
                continue
            try:
                waiting = ser.in_waiting
                data = ser.read(max(1, min(waiting, 4096)))
            except (serial.SerialException, OSError) as exc:
                self._lost(exc)
            if data:
                self._splitter.feed(data)

    def _read_fd(self, fd: int, wait: float) -> bytes:
        """Wait up to ``wait`` s for input on ``fd``, then take everything queued in one read."""
        try:
            readable, _, _ = select.select([fd], [], [], wait)
            if not readable:
                return b""
            data = os.read(fd, READ_CHUNK)
        except OSError as exc:
            if exc.errno in _RETRY_ERRNOS:
                return b""
            self._lost(serial.SerialException(f"read failed: {exc}"))
        if not data:
            self._lost(serial.SerialException(_EOF_MESSAGE))
        return data

    def close(self) -> None:
        ser, self._serial = self._serial, None
        self._fd = None
        if ser is None:
            return
        try:
            ser.close()
        except (serial.SerialException, OSError):
            log.debug("closing %s failed; the port is gone anyway", self.port)

    def _require_open(self) -> Any:
        if self._serial is None:
            raise DeviceLost(f"{self.port} is not open", port=self.port)
        return self._serial

    def _lost(self, exc: BaseException) -> NoReturn:
        """The port failed under us: close it and report the device as lost."""
        self.close()
        raise DeviceLost(f"lost connection to {self.port}: {_reason(exc)}", port=self.port) from None


def _direct_fd(ser: Any) -> int | None:
    """The descriptor of ``ser`` if it is pyserial's own POSIX port in non-blocking mode, else None.

    Only then does one ``select`` + ``os.read`` do exactly what ``ser.read`` would. Anything
    else (Windows, ``loop://`` and other URL handlers, a wrapper that counts bytes, a test
    double) is read through its ``read`` method.
    """
    try:
        from serial.serialposix import Serial as PosixSerial
    except ImportError:  # pragma: no cover - Windows
        return None
    if not isinstance(ser, PosixSerial):
        return None
    try:
        fd = ser.fileno()
        return None if os.get_blocking(fd) else fd
    except (OSError, ValueError, AttributeError, serial.SerialException):
        return None


def _reason(exc: BaseException) -> str:
    """Short technician-readable cause (pyserial messages are already plain text)."""
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
