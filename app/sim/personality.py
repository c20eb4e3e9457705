"""Contract between the simulator's pseudo-terminal host and a device personality.

The host (``app/sim/pty_host.py``) owns the pseudo-terminal, paces output at the
configured baud rate and applies transport faults (garbage, truncation, CRLF
mangling, unplug). A personality (``certline_device.py``, ``nrf91_device.py``)
is the firmware: it reads requests and writes responses through a
:class:`SimPort`, keeps its "flash" in a :class:`Flash`, and applies
protocol-level faults (busy, refusal, reboot during a certificate write).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol


class SimUnplugged(Exception):
    """Raised inside a personality when the host has unplugged the simulated device."""


class SimPort(Protocol):
    """The device side of one simulated serial line."""

    baud: int

    def read_line(self, timeout: float | None = None) -> bytes | None:
        """Next line without its terminator (CR, LF or CRLF), or None on timeout. Raises SimUnplugged."""
        ...

    def write(self, data: bytes) -> None:
        """Send bytes to the host, paced at ``baud`` (10 bit times per byte). Raises SimUnplugged."""
        ...

    def sleep(self, seconds: float) -> None:
        """Model work time (key generation); returns early by raising SimUnplugged if unplugged."""
        ...


class Personality(ABC):
    """Firmware of one simulated device. ``run`` loops until the port is unplugged or closed."""

    @abstractmethod
    def run(self, port: SimPort) -> None:
        """Serve requests forever; return or raise SimUnplugged when the line goes away."""
