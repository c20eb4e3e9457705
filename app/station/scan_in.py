"""Scan-in at the station: telling a barcode scanner from a person typing, and scans on stdin.

A keyboard-wedge scanner types a label's content as key presses, much faster than a person
(a few milliseconds per key; people need 80 ms or more), and ends it with a terminator (Enter,
or Tab on scanners set up that way). :class:`KeyBurst` applies that rule to the key presses a
view reports, with their timestamps; the window's scan field is a thin Qt adapter over it, and
tests drive it with synthetic key events at scanner and at human speed.

The binding of a scan to a unit is :mod:`certline.app.batch.label_desk` (through
:meth:`certline.app.station.batch_run.BatchRun.scan`), the same for the window and the CLI.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from certline.app.batch.label_desk import ScanOutcome

#: A scanner's keys come at most this far apart (milliseconds); slower keys are typing.
MAX_SCANNER_GAP_MS = 50
#: A scan has at least this many characters (a stray Enter after two quick keys is no label).
MIN_SCAN_CHARS = 4


class Verdict(enum.Enum):
    SCANNED = "scanned"
    TYPED = "typed"
    EMPTY = "empty"


@dataclass(frozen=True)
class BurstResult:
    verdict: Verdict
    text: str


class KeyBurst:
    """Collects printable key presses and decides, at the terminator, scan or typing.

    Every key that comes more than :data:`MAX_SCANNER_GAP_MS` after the one before starts a
    new burst, so what a person typed before a scan never becomes part of the label. At the
    terminator the burst is a scan when it has at least :data:`MIN_SCAN_CHARS` characters and
    the terminator, too, came at scanner speed. ``typed`` is everything since the last
    terminator (what a person typed, for an explicit hand entry).
    """

    def __init__(self, max_gap_ms: int = MAX_SCANNER_GAP_MS, min_chars: int = MIN_SCAN_CHARS) -> None:
        self.max_gap_ms = max_gap_ms
        self.min_chars = min_chars
        self._burst: list[str] = []
        self._typed: list[str] = []
        self._last_ms: int | None = None

    def key(self, text: str, at_ms: int) -> None:
        """A printable key press at ``at_ms`` (a monotonic millisecond clock)."""
        if self._last_ms is None or at_ms - self._last_ms > self.max_gap_ms:
            self._burst = []
        self._burst.append(text)
        self._typed.append(text)
        self._last_ms = at_ms

    def backspace(self) -> None:
        """A correction is typing by definition: the burst is no scan any more."""
        if self._typed:
            self._typed.pop()
        self._burst = []
        self._last_ms = None

    def terminate(self, at_ms: int) -> BurstResult:
        """Enter or Tab: the verdict on what came before; the burst starts afresh."""
        quick = self._last_ms is not None and at_ms - self._last_ms <= self.max_gap_ms
        burst, typed = "".join(self._burst), "".join(self._typed)
        self.reset()
        if quick and len(burst) >= self.min_chars:
            return BurstResult(Verdict.SCANNED, burst)
        if not typed.strip():
            return BurstResult(Verdict.EMPTY, "")
        return BurstResult(Verdict.TYPED, typed)

    def reset(self) -> None:
        self._burst, self._typed, self._last_ms = [], [], None


def read_scans(stream: TextIO, scan: Callable[[str], ScanOutcome], out: TextIO) -> int:
    """``certline batch run --scan-in``: every line on ``stream`` is one scan (a wedge scanner
    types into the terminal and ends with Enter). Prints what became of each. Returns how
    many scans were read when the stream ends."""
    count = 0
    for line in stream:
        if not line.strip():
            continue
        count += 1
        outcome = scan(line)
        print(f"scan: {outcome.message}", file=out, flush=True)
    return count
