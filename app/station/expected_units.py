"""The expected-serials CSV of a work order: the serial numbers, and the label ID of each unit.

An MES or ERP export lists the units a work order covers. Certline reads:

- the serial numbers: the column named ``serial`` (or ``serial_number``, ``serialnumber``,
  ``imei``), else the first column when the file has no such header;
- the label IDs (scan-in): the column named ``label`` (or ``label_id``, ``labelid``,
  ``label id``), when the file has one. A scanned label ID stands for the serial number on the
  same row, so a label that carries only its own ID can be checked against the unit.

Header names are matched ignoring case; empty rows are skipped; a UTF-8 byte order mark is
ignored (spreadsheet exports).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

_SERIAL_HEADERS = ("serial", "serial_number", "serialnumber", "imei")
_LABEL_HEADERS = ("label", "label_id", "labelid", "label id")


@dataclass(frozen=True)
class ExpectedUnits:
    serials: frozenset[str]
    label_ids: dict[str, str] = field(default_factory=dict)
    """label ID -> serial number"""


def read_expected_csv(path: Path) -> ExpectedUnits:
    """Read the expected-serials CSV (see the module doc). Raises ValueError for a label ID that
    two rows give to different serial numbers (a label must name one unit)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    if not rows:
        return ExpectedUnits(frozenset())
    header = [cell.strip().lower() for cell in rows[0]]
    serial_col = next((i for i, name in enumerate(header) if name in _SERIAL_HEADERS), None)
    label_col = next((i for i, name in enumerate(header) if name in _LABEL_HEADERS), None)
    has_header = serial_col is not None or label_col is not None
    body = rows[1:] if has_header else rows
    serial_index = serial_col if serial_col is not None else 0
    serials: set[str] = set()
    labels: dict[str, str] = {}
    for number, row in enumerate(body, start=2 if has_header else 1):
        serial = _cell(row, serial_index)
        if not serial:
            continue
        serials.add(serial)
        label = _cell(row, label_col) if label_col is not None else ""
        if not label:
            continue
        known = labels.get(label)
        if known is not None and known != serial:
            raise ValueError(
                f"{path}: row {number}: label ID {label} is given to {known} and to {serial}; "
                "a label must name one unit"
            )
        labels[label] = serial
    return ExpectedUnits(frozenset(serials), labels)


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if len(row) > index else ""
