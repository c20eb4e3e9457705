"""Finding serial ports: where devices are, and noticing when they come and go.

A :class:`PortSource` lists ports. :class:`ListPortsSource` asks the OS through
``serial.tools.list_ports`` and applies a profile's filters (VID:PID, description,
manufacturer, USB serial) so a station with a mouse, a modem and twelve units on
a hub only sees the units. :class:`StaticPortSource` lists ports given by hand
(pyserial URLs, the simulator's pty symlinks); a path that no longer exists is
left out, so an unplugged simulated device disappears like a USB one.
:class:`HotplugWatcher` polls a source on its own thread and reports changes.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PortInfo:
    """One serial port as the OS describes it. Only ``device`` is always known."""

    device: str
    description: str = ""
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    manufacturer: str | None = None

    @property
    def vid_pid(self) -> str | None:
        """``"2fe3:0100"`` style (lower-case hex), None for non-USB ports."""
        if self.vid is None or self.pid is None:
            return None
        return f"{self.vid:04x}:{self.pid:04x}"


class PortSource(ABC):
    """Something that can list the ports devices may be on."""

    @abstractmethod
    def ports(self) -> list[PortInfo]:
        """The ports present now. Must not block for long; never raises for a vanished port."""


FILTER_KEYS = ("vid_pid", "description", "manufacturer", "serial_number")
#: What a technician reads for each filter key (profile editor, messages).
FILTER_LABELS: dict[str, str] = {
    "vid_pid": "USB VID:PID",
    "description": "Port description",
    "manufacturer": "USB manufacturer",
    "serial_number": "USB serial number",
}


class ListPortsSource(PortSource):
    """The OS's serial ports (``serial.tools.list_ports``), filtered by a profile.

    Filters (all optional, all must match): ``vid_pid`` — one or more ``VVVV:PPPP``
    separated by commas; ``description``, ``manufacturer``, ``serial_number`` —
    regular expressions searched case-insensitively.

    Only USB serial ports (those reporting a USB VID:PID) are kept unless
    ``include_non_usb``: a PC's built-in ``/dev/ttyS0`` or ``COM1`` is never a unit, and
    taking it would fail one "unit" in every batch. Each ignored port is logged once,
    with the reason, so a technician looking for a missing unit finds it in the log.
    """

    def __init__(
        self,
        vid_pid: str | None = None,
        description: str | None = None,
        manufacturer: str | None = None,
        serial_number: str | None = None,
        *,
        include_non_usb: bool = False,
        lister: Callable[[], Iterable[Any]] | None = None,
    ) -> None:
        self._include_non_usb = include_non_usb
        self._ignored_logged: set[str] = set()
        self._vid_pids = _parse_vid_pids(vid_pid) if vid_pid else None
        self._patterns = {
            name: _compile(name, pattern)
            for name, pattern in (
                ("description", description),
                ("manufacturer", manufacturer),
                ("serial_number", serial_number),
            )
            if pattern
        }
        self._lister = lister

    @classmethod
    def from_filters(cls, filters: Mapping[str, str], *, include_non_usb: bool = False) -> ListPortsSource:
        """Build from a profile's ``port_filters`` (and ``include_non_usb_ports``); unknown keys
        are a ValueError naming them."""
        unknown = sorted(set(filters) - set(FILTER_KEYS))
        if unknown:
            raise ValueError(f"unknown port filter(s) {', '.join(unknown)}; known: {', '.join(FILTER_KEYS)}")
        return cls(
            vid_pid=filters.get("vid_pid"),
            description=filters.get("description"),
            manufacturer=filters.get("manufacturer"),
            serial_number=filters.get("serial_number"),
            include_non_usb=include_non_usb,
        )

    def ports(self) -> list[PortInfo]:
        if self._lister is not None:
            raw = list(self._lister())
        else:
            from serial.tools import list_ports

            raw = list(list_ports.comports())
        infos = [_from_pyserial(item) for item in raw]
        if not self._include_non_usb:
            infos = [p for p in infos if self._is_usb(p)]
        return sorted((p for p in infos if self.matches(p)), key=lambda p: p.device)

    def _is_usb(self, port: PortInfo) -> bool:
        if port.vid_pid is not None:
            return True
        if port.device not in self._ignored_logged:
            self._ignored_logged.add(port.device)
            log.info(
                "ignoring serial port %s (%s): not a USB serial port (no USB VID:PID); "
                "enable 'include non-USB serial ports' in the profile to use it",
                port.device,
                port.description or "no description",
            )
        return False

    def matches(self, port: PortInfo) -> bool:
        if self._vid_pids is not None and port.vid_pid not in self._vid_pids:
            return False
        for name, pattern in self._patterns.items():
            if not pattern.search(getattr(port, name) or ""):
                return False
        return True


class StaticPortSource(PortSource):
    """Ports given by hand: device paths, symlinks or pyserial URLs (``socket://``, ``loop://``).

    Paths are only listed while they exist; URLs are always listed. ``add``/``remove``
    are thread-safe, so a test or the demo can change the set while a watcher polls it.
    """

    def __init__(self, ports: Iterable[str | PortInfo] = ()) -> None:
        self._lock = threading.Lock()
        self._ports: dict[str, PortInfo] = {}
        for port in ports:
            self.add(port)

    def add(self, port: str | PortInfo) -> None:
        info = port if isinstance(port, PortInfo) else PortInfo(port, description="static")
        with self._lock:
            self._ports[info.device] = info

    def remove(self, device: str) -> None:
        with self._lock:
            self._ports.pop(device, None)

    def ports(self) -> list[PortInfo]:
        with self._lock:
            infos = list(self._ports.values())
        return [p for p in infos if "://" in p.device or os.path.exists(p.device)]


PortCallback = Callable[[PortInfo], None]


class HotplugWatcher:
    """Polls a :class:`PortSource` on a background thread; reports ports that appear or vanish.

    Callbacks run on the watcher thread (a GUI must hop to its own thread). Ports
    present at :meth:`start` are reported as appeared unless ``report_existing`` is False.
    A failing source or callback is logged and polling goes on.
    """

    def __init__(
        self,
        source: PortSource,
        on_added: PortCallback | None = None,
        on_removed: PortCallback | None = None,
        *,
        interval: float = 0.5,
        report_existing: bool = True,
    ) -> None:
        self.source = source
        self.on_added = on_added
        self.on_removed = on_removed
        self.interval = interval
        self._known: dict[str, PortInfo] = {}
        self._report_existing = report_existing
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> list[PortInfo]:
        """The ports seen at the last poll."""
        return sorted(self._known.values(), key=lambda p: p.device)

    def poll_once(self) -> tuple[list[PortInfo], list[PortInfo]]:
        """Compare with the previous poll, fire callbacks; returns ``(added, removed)``."""
        try:
            now = {p.device: p for p in self.source.ports()}
        except Exception:  # noqa: BLE001 - a flaky OS listing must not stop hot-plug detection
            log.exception("listing serial ports failed; will retry")
            return [], []
        added = [p for d, p in sorted(now.items()) if d not in self._known]
        removed = [p for d, p in sorted(self._known.items()) if d not in now]
        self._known = now
        for port in removed:
            self._call(self.on_removed, port)
        for port in added:
            self._call(self.on_added, port)
        return added, removed

    def _call(self, callback: PortCallback | None, port: PortInfo) -> None:
        if callback is None:
            return
        try:
            callback(port)
        except Exception:  # noqa: BLE001 - one bad consumer must not stop the watcher
            log.exception("hot-plug callback failed for %s", port.device)

    def start(self) -> HotplugWatcher:
        if self._thread is not None:
            raise RuntimeError("watcher already started")
        if not self._report_existing:
            self._known = {p.device: p for p in self.source.ports()}
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="hotplug-watcher", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> HotplugWatcher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _from_pyserial(item: Any) -> PortInfo:
    return PortInfo(
        device=str(item.device),
        description=str(getattr(item, "description", "") or ""),
        vid=getattr(item, "vid", None),
        pid=getattr(item, "pid", None),
        serial_number=getattr(item, "serial_number", None),
        manufacturer=getattr(item, "manufacturer", None),
    )


def _parse_vid_pids(text: str) -> set[str]:
    result = set()
    for part in text.split(","):
        vid, sep, pid = part.strip().partition(":")
        try:
            result.add(f"{int(vid, 16):04x}:{int(pid, 16):04x}")
        except ValueError:
            raise ValueError(f"bad VID:PID {part.strip()!r}; expected hex like 2fe3:0100") from None
        if not sep:
            raise ValueError(f"bad VID:PID {part.strip()!r}; expected hex like 2fe3:0100")
    return result


def _compile(name: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"bad {name} filter {pattern!r}: {exc}") from None
