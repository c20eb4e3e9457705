"""Line transport over a serial port (pyserial), with deadlines and unplug detection.

Every read is a short pyserial read in a loop that ends at a caller-given
deadline, so nothing blocks forever even if a device goes silent; a vanished
device (USB pulled, pseudo-terminal closed) surfaces as :class:`DeviceLost`
because pyserial then raises ``SerialException``/``OSError`` or reports EOF.
Line splitting accepts CR, LF and CRLF, drops empty lines, and discards lines
longer than ``max_line`` (a device spewing binary must not grow memory).
No line content is logged here: lines may carry secrets (challenge passwords).
"""

from __future__ import annotations

import logging
import re
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

SerialFactory = Callable[..., Any]

_LINE_END = re.compile(rb"[\r\n]")


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
        for index, piece in enumerate(_LINE_END.split(data)):
            if index:
                self._end_line()
            self._take(piece)

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
            ser.write(line)
        except serial.SerialTimeoutException:
            raise DeviceTimeout(f"{self.port} did not accept data for {WRITE_TIMEOUT_SECONDS:g} s") from None
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)

    def read_line(self, deadline: float) -> bytes | None:
        """Next non-empty line before ``deadline`` (``time.monotonic()`` value), else None."""
        ser = self._require_open()
        while True:
            line = self._splitter.pop()
            if line is not None:
                return line
            if time.monotonic() >= deadline:
                return None
            try:
                waiting = ser.in_waiting
                data = ser.read(max(1, min(waiting, 4096)))
            except (serial.SerialException, OSError) as exc:
                self._lost(exc)
            if data:
                self._splitter.feed(data)

    def close(self) -> None:
        ser, self._serial = self._serial, None
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


def _reason(exc: BaseException) -> str:
    """Short technician-readable cause (pyserial messages are already plain text)."""
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
