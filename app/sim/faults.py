"""Fault switches for simulated devices: parsing ``--fault`` specs and arming them per device.

Grammar: ``[devN:]KIND[@POINT][=VALUE]``, for example ``dev1:unplug@cert-write``,
``corrupt=3``, ``garbage=*``, ``slow=1.5``, ``dup-serial``. Without ``devN:`` a
fault applies to every device. VALUE is a count for countable faults (``*`` =
forever), seconds for ``slow``, a serial number for ``dup-serial``.

Transport faults (garbage, truncate, crlf, slow) are applied by the pseudo-terminal
host for every personality. Protocol faults are applied by the personality: it
calls :meth:`DeviceFaults.take` (busy, refuse, corrupt) and
:meth:`DeviceFaults.checkpoint` at named points (unplug, reboot), so the same
switches work for the Certline and the nRF91 firmware.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from certline.app.sim.personality import SimUnplugged

#: kind -> (default count or None for "forever", default point)
FAULT_KINDS: dict[str, tuple[int | None, str | None]] = {
    "unplug": (1, "cert-write"),
    "reboot": (1, "cert-write"),
    "garbage": (1, None),
    "truncate": (1, None),
    "crlf": (None, None),
    "corrupt": (1, None),
    "slow": (None, None),
    "busy": (1, None),
    "refuse": (None, "cert-write"),
    "dup-serial": (None, None),
}

#: checkpoints personalities report; unplug/reboot/refuse may target any of them
POINTS = ("hello", "keygen", "csr", "key-import", "cert-write", "cert-commit", "sign")

#: how many fired faults :attr:`DeviceFaults.fired` remembers
MAX_FIRED = 1000

_SPEC_RE = re.compile(r"^(?:dev(?P<dev>\d+):)?(?P<kind>[a-z-]+)(?:@(?P<point>[a-z-]+))?(?:=(?P<value>\S+))?$")


class SimReboot(Exception):  # noqa: N818 - a control-flow signal, like StopIteration
    """Raised inside a personality to make the host reboot it (RAM state lost, flash kept)."""


@dataclass(frozen=True)
class FaultSpec:
    """One parsed fault switch. ``count`` None means it never runs out."""

    kind: str
    device: int | None = None
    point: str | None = None
    count: int | None = 1
    seconds: float = 0.0
    text: str = ""

    def __str__(self) -> str:
        dev = f"dev{self.device}:" if self.device is not None else ""
        point = f"@{self.point}" if self.point else ""
        return f"{dev}{self.kind}{point}"


def parse_fault(spec: str) -> FaultSpec:
    """Parse one ``--fault`` value; ValueError with a usage hint when it is malformed."""
    match = _SPEC_RE.match(spec.strip())
    if not match:
        raise ValueError(f"bad fault spec {spec!r}: expected [devN:]KIND[@POINT][=VALUE]")
    kind = match["kind"]
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
    default_count, default_point = FAULT_KINDS[kind]
    point = match["point"] or default_point
    if point is not None and point not in POINTS and point != "now":
        raise ValueError(f"unknown fault point {point!r}; known: {', '.join(POINTS)}")
    fault = FaultSpec(kind, int(match["dev"]) if match["dev"] else None, point, default_count)
    value = match["value"]
    if value is None:
        return fault
    if kind == "slow":
        return replace(fault, seconds=_float(value, spec))
    if kind == "dup-serial":
        return replace(fault, text=value)
    if value == "*":
        return replace(fault, count=None)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"bad fault spec {spec!r}: count must be a positive integer or *")
    return replace(fault, count=int(value))


def _float(value: str, spec: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"bad fault spec {spec!r}: seconds expected") from None
    if seconds < 0:
        raise ValueError(f"bad fault spec {spec!r}: seconds must not be negative")
    return seconds


class DeviceFaults:
    """The faults armed on one device; thread-safe, counts run down as faults fire.

    ``fired`` lists every fault that took effect (``kind@point``) so tests can assert
    that the failure they observe is the one they injected.
    """

    def __init__(self, specs: Iterable[FaultSpec] = ()) -> None:
        self._lock = threading.Lock()
        self._armed: list[FaultSpec] = []
        self.fired: list[str] = []
        self.on_unplug: Callable[[], None] | None = None
        """Set by the host: called by :meth:`checkpoint` to pull the plug."""
        for spec in specs:
            self.arm(spec)

    def arm(self, spec: FaultSpec | str) -> None:
        fault = parse_fault(spec) if isinstance(spec, str) else spec
        with self._lock:
            self._armed.append(fault)

    def clear(self, kind: str | None = None) -> None:
        with self._lock:
            self._armed = [f for f in self._armed if kind is not None and f.kind != kind]

    def peek(self, kind: str, point: str | None = None) -> FaultSpec | None:
        """The armed fault of ``kind`` (at ``point``) without consuming it."""
        with self._lock:
            return self._find(kind, point)

    def take(self, kind: str, point: str | None = None) -> FaultSpec | None:
        """Consume one occurrence of ``kind`` (at ``point``); None when nothing is armed."""
        with self._lock:
            fault = self._find(kind, point)
            if fault is None:
                return None
            if fault.count is not None:
                index = self._armed.index(fault)
                if fault.count <= 1:
                    del self._armed[index]
                else:
                    self._armed[index] = replace(fault, count=fault.count - 1)
            self.fired.append(f"{kind}@{point}" if point else kind)
            if len(self.fired) > MAX_FIRED:
                del self.fired[: MAX_FIRED // 2]  # persistent faults (crlf) fire on every line
            return fault

    def _find(self, kind: str, point: str | None) -> FaultSpec | None:
        for fault in self._armed:
            if fault.kind == kind and (fault.point is None or fault.point == point):
                return fault
        return None

    def checkpoint(self, point: str) -> None:
        """Called by a personality at ``point``: fires an armed unplug or reboot there."""
        if self.take("unplug", point):
            if self.on_unplug is not None:
                self.on_unplug()
            raise SimUnplugged(f"unplugged at {point}")
        if self.take("reboot", point):
            raise SimReboot(f"rebooted at {point}")
