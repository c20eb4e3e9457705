"""Which unit a scanned label belongs to: the binding rule of scan-in.

The technician plugs units in and scans their labels, in any order and at any pace. The desk
pairs them:

1. every unit is registered when its port is taken up (plug order), and says who it is
   (serial number or IMEI) before it is shown as waiting for its label;
2. a scan that names a unit waiting for its label binds to that unit at once;
3. a scan that names no waiting unit waits in line while any unit without a label is still
   being identified (it may be the one the label names) or when no unit is free; once every
   unit without a label has said who it is, it binds to the one plugged in first, which then
   fails as a label mismatch with both values;
4. a label scanned before its unit is plugged in binds when the unit says who it is.

A label bound to a unit that leaves without using it (unplugged): a label that names the unit
waits for that unit alone; any other goes back to the head of the line. A label scanned twice
(the same text, or the same identifiers, still waiting or bound to a unit at work) is ignored
with a message.

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

from certline.app.batch.scan_label import ScannedLabel, UnreadableLabel, parse_label


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
    """Whether the label names the unit it was bound to (False: that unit fails as
    label-mismatch)."""

    @property
    def accepted(self) -> bool:
        return self.result in (ScanResult.BOUND, ScanResult.QUEUED) and self.matches is not False


@dataclass
class _Slot:
    port: str
    order: int
    serial: str | None = None
    """The unit's reported serial number once it said who it is."""
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
        self._reserved: list[ScannedLabel] = []
        """Labels of units that left before taking them: they bind to that unit alone."""
        self._order = 0

    # -- what the engine tells it ------------------------------------------------------
    def plugged(self, port: str) -> None:
        """A unit's job starts on ``port`` (plug order is the order of these calls)."""
        with self._cond:
            self._order += 1
            self._slots[port] = _Slot(port, self._order)
            self._bind_queued()

    def ended(self, port: str) -> None:
        """The job on ``port`` is over (or needs no label). A label it did not take waits for
        that unit alone when it names it, else goes back to the head of the line."""
        with self._cond:
            slot = self._slots.pop(port, None)
            if slot is not None and slot.label is not None and not slot.taken:
                if slot.serial is not None and slot.label.matches(slot.serial):
                    self._reserved.append(slot.label)
                else:
                    self._queue.appendleft(slot.label)
            self._bind_queued()

    def identified(self, port: str, serial: str) -> None:
        """The unit on ``port`` said who it is and is about to ask for its label. Called before
        the wait is journaled (and shown), so a label scanned for the unit on screen finds it."""
        with self._cond:
            self._slot(port).serial = serial
            self._bind_queued()

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
                self._bind_queued()
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
            identifying = self._identifying()
        if slot is None or slot.serial is None:
            why = "the units being identified say who they are" if identifying else "its unit"
            return ScanOutcome(ScanResult.QUEUED, f"{label.describe()}: waits for {why}", label)
        where = slot.port.rsplit("/", 1)[-1]
        matches = label.matches(slot.serial)
        text = f"{label.describe()} → unit {slot.serial} on {where}"
        if not matches:
            text += ": the label does not name this unit; it fails (label mismatch)"
        return ScanOutcome(ScanResult.BOUND, text, label, slot.port, matches)

    def discard_queued(self) -> int:
        """Forget the scans still waiting for a unit; returns how many."""
        with self._cond:
            count = len(self._queue) + len(self._reserved)
            self._queue.clear()
            self._reserved.clear()
            return count

    # -- what views show -----------------------------------------------------------------
    @property
    def queued(self) -> int:
        """Scans waiting for a unit."""
        with self._cond:
            return len(self._queue) + len(self._reserved)

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
        """Apply the rule to every label in line (see the module docstring)."""
        free = self._free_slots()
        for label in [*self._reserved, *self._queue]:
            named = next((s for s in free if s.serial is not None and label.matches(s.serial)), None)
            if named is not None:
                named.label = label
                free.remove(named)
                if label in self._reserved:
                    self._reserved.remove(label)
                else:
                    self._queue.remove(label)
        if not any(s.serial is None for s in free):
            while self._queue and free:
                free.pop(0).label = self._queue.popleft()  # names no unit: plug order
        self._cond.notify_all()

    def _identifying(self) -> bool:
        return any(s.serial is None and s.label is None for s in self._slots.values())

    def _already_scanned(self, label: ScannedLabel) -> bool:
        held = [*self._queue, *self._reserved, *(s.label for s in self._slots.values() if s.label)]
        ids = label.identities()
        return any(other.text == label.text or (ids and ids == other.identities()) for other in held)
