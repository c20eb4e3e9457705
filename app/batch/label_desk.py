"""Which unit a scanned label belongs to: the binding rule of scan-in.

The technician plugs units in and scans their labels, in any order and at any pace. The desk
pairs them:

1. every unit is registered when its port is taken up (plug order);
2. a scan that names a unit already identified and still without a label binds to that unit;
3. otherwise it binds to the unit plugged in first that has no label yet (identified or not:
   a label scanned while its unit is still answering the identify command is not lost);
4. with no unit free, the scan waits in line and binds to the next unit plugged in.

A label bound to a unit whose job ends without using it (unplugged, failed to identify, not on
the expected list) goes back to the head of the line. A label scanned twice (the same text, or
the same identifiers, still waiting or bound to a unit at work) is ignored with a message.

Thread-safe. Nothing here touches a port, the journal or the network, so a view may call
:meth:`LabelDesk.submit` from its GUI thread; the job waiting for its label journals the result.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app.batch.scan_label import ScannedLabel, UnreadableLabel, parse_label


class ScanResult(enum.StrEnum):
    BOUND = "bound"
    QUEUED = "queued"
    DUPLICATE = "duplicate"
    UNREADABLE = "unreadable"
    NOT_ASKED = "not-asked"


@dataclass(frozen=True)
class ScanOutcome:
    """What became of one scan; ``message`` is what the technician reads."""

    result: ScanResult
    message: str
    label: ScannedLabel | None = None
    port: str | None = None
    matches: bool | None = None
    """Bound to a unit that already said who it is: whether the label names it (False: that
    unit fails as label-mismatch)."""

    @property
    def accepted(self) -> bool:
        return self.result in (ScanResult.BOUND, ScanResult.QUEUED) and self.matches is not False


@dataclass
class _Slot:
    port: str
    order: int
    serial: str | None = None
    """The unit's reported serial number once it asked for its label."""
    label: ScannedLabel | None = None
    taken: bool = False
    """The unit's job took its label (it is compared and journaled; never given back)."""


class LabelDesk:
    """Pairs scanned labels with plugged units (see the module docstring for the rule)."""

    def __init__(self, label_ids: Mapping[str, str] | None = None) -> None:
        self.label_ids: dict[str, str] = dict(label_ids or {})
        self._cond = threading.Condition()
        self._slots: dict[str, _Slot] = {}
        self._queue: deque[ScannedLabel] = deque()
        self._order = 0

    # -- what the engine tells it ------------------------------------------------------
    def plugged(self, port: str) -> None:
        """A unit's job starts on ``port`` (plug order is the order of these calls)."""
        with self._cond:
            self._order += 1
            self._slots[port] = _Slot(port, self._order)
            self._bind_queued()

    def ended(self, port: str) -> None:
        """The job on ``port`` is over; a label it did not take goes back to the head of the line."""
        with self._cond:
            slot = self._slots.pop(port, None)
            if slot is not None and slot.label is not None and not slot.taken:
                self._queue.appendleft(slot.label)
                self._bind_queued()

    def identified(self, port: str, serial: str) -> None:
        """The unit on ``port`` said who it is and is about to ask for its label. Called before
        the wait is journaled (and shown), so a label scanned for the unit on screen finds it."""
        with self._cond:
            slot = self._slot(port)
            slot.serial = serial
            self._rebind_for(slot)

    def wait_for_label(
        self,
        port: str,
        serial: str,
        stop: threading.Event,
        timeout: float | None,
        *,
        present: Callable[[], bool] = lambda: True,
    ) -> ScannedLabel | None:
        """Block until a label is bound to the unit on ``port``; None when ``stop`` is set, the
        unit is no longer ``present`` or the timeout (seconds; None = no limit) passes. The label
        is taken: it is never given to another unit, whatever the comparison says."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            slot = self._slot(port)
            if slot.serial != serial:
                slot.serial = serial
                self._rebind_for(slot)
            while slot.label is None:
                if stop.is_set() or not present():
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(0.2 if remaining is None else min(0.2, remaining))
            slot.taken = True
            return slot.label

    def parse(self, text: str) -> ScannedLabel:
        """Read a label with this batch's label IDs (for a label journaled earlier)."""
        return parse_label(text, self.label_ids)

    # -- what the technician does --------------------------------------------------------
    def submit(self, text: str) -> ScanOutcome:
        """One scan from the scanner (or typed by hand): bind it, queue it or say why not."""
        try:
            label = parse_label(text, self.label_ids)
        except UnreadableLabel as exc:
            return ScanOutcome(ScanResult.UNREADABLE, f"label not read: {exc}")
        with self._cond:
            if self._already_scanned(label):
                return ScanOutcome(
                    ScanResult.DUPLICATE, f"{label.describe()} was already scanned; ignored", label
                )
            self._queue.append(label)
            self._bind_queued()
            slot = next((s for s in self._slots.values() if s.label is label), None)
            self._cond.notify_all()
        if slot is None:
            return ScanOutcome(
                ScanResult.QUEUED, f"{label.describe()}: waits for the next unit plugged in", label
            )
        where = slot.port.rsplit("/", 1)[-1]
        if slot.serial is None:
            return ScanOutcome(
                ScanResult.BOUND, f"{label.describe()} → the unit on {where}", label, slot.port
            )
        matches = label.matches(slot.serial)
        text = f"{label.describe()} → unit {slot.serial} on {where}"
        if not matches:
            text += ": the label does not name this unit; it fails (label mismatch)"
        return ScanOutcome(ScanResult.BOUND, text, label, slot.port, matches)

    def discard_queued(self) -> int:
        """Forget the scans still waiting for a unit; returns how many."""
        with self._cond:
            count = len(self._queue)
            self._queue.clear()
            return count

    # -- what views show -----------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Scans waiting for a unit."""
        with self._cond:
            return len(self._queue)

    def waiting_ports(self) -> list[str]:
        """Ports whose unit asked for its label and has none yet, in plug order."""
        with self._cond:
            slots = sorted(self._slots.values(), key=lambda s: s.order)
            return [s.port for s in slots if s.serial is not None and s.label is None]

    # -- the rule (caller holds the lock) --------------------------------------------------
    def _slot(self, port: str) -> _Slot:
        slot = self._slots.get(port)
        if slot is None:  # a job the engine did not register: it joins the line now
            self._order += 1
            slot = self._slots[port] = _Slot(port, self._order)
        return slot

    def _free_slots(self) -> list[_Slot]:
        return sorted((s for s in self._slots.values() if s.label is None), key=lambda s: s.order)

    def _bind_queued(self) -> None:
        while self._queue:
            free = self._free_slots()
            if not free:
                return
            label = self._queue[0]
            named = next((s for s in free if s.serial is not None and label.matches(s.serial)), None)
            (named or free[0]).label = self._queue.popleft()
        self._cond.notify_all()

    def _rebind_for(self, slot: _Slot) -> None:
        """A unit just said who it is: a label bound by plug order to another unit still
        identifying, that names this unit, moves here (the other unit gets the next label)."""
        if slot.label is not None and slot.label.matches(slot.serial or ""):
            return
        for other in self._slots.values():
            if (
                other is not slot
                and other.serial is None
                and other.label is not None
                and other.label.matches(slot.serial or "")
            ):
                if slot.label is not None:
                    self._queue.appendleft(slot.label)
                slot.label, other.label = other.label, None
                break
        self._bind_queued()

    def _already_scanned(self, label: ScannedLabel) -> bool:
        held = list(self._queue) + [s.label for s in self._slots.values() if s.label is not None]
        ids = label.identities()
        return any(other.text == label.text or (ids and ids == other.identities()) for other in held)
