"""What a scanned unit label says: a serial number, an IMEI, a QR code with JSON, or a URL.

A keyboard-wedge scanner types the label's content like a keyboard, so everything arrives as
one line of text. The accepted forms (docs/scan-in.md lists them with examples):

- **plain text**: the serial number (``CL-000042``), or a label ID that the expected-serials CSV
  maps to a serial number;
- **IMEI**: exactly 15 digits (also with spaces or dashes, or after ``IMEI:``) whose last digit
  is the Luhn check digit (3GPP TS 23.003 6.2.1). A 15-digit number with a wrong check digit is
  refused rather than taken as a serial: it is almost always a misread or mistyped IMEI;
- **JSON** (a QR code): an object with ``serial`` (or ``serial_number``, ``sn``,
  ``serialNumber``), ``imei`` and/or ``label`` (or ``label_id``, ``id``);
- **URL** (a QR code): ``http(s)://`` with the serial in a query parameter (``serial``,
  ``serial_number``, ``sn``, ``imei``, ``label``, ``id``), in a GS1 Digital Link path
  (``/01/<GTIN>/21/<serial>``, GS1 Digital Link Standard: URI Syntax 1.2), or else as the
  last path segment.

The label matches a unit when any identifier it carries equals the serial number the unit
reports (nRF91 units report their IMEI, read with ``AT+CGSN=1``), ignoring case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_LABEL_CHARS = 1024
"""A label longer than this is not a unit label (a scanner stuck, or a document scanned)."""

_SERIAL_KEYS = ("serial", "serial_number", "serialnumber", "sn")
_IMEI_KEYS = ("imei",)
_LABEL_KEYS = ("label", "label_id", "labelid", "id")
_IMEI_TEXT = re.compile(r"(?:imei\s*[:=]?\s*)?(\d(?:[ -]?\d){14})", re.IGNORECASE)


class UnreadableLabel(ValueError):
    """The scanned text is not a label Certline can read; the message says why (no unit fails)."""


@dataclass(frozen=True)
class ScannedLabel:
    """One scanned label: the text as scanned and the identifiers read from it.

    ``expected_serial`` is the serial number the expected-serials CSV gives for the label's ID.
    """

    text: str
    serial: str | None = None
    imei: str | None = None
    label_id: str | None = None
    expected_serial: str | None = None

    def identities(self) -> frozenset[str]:
        """Every identifier on the label, case-folded (what a unit's serial is compared with)."""
        values = (self.serial, self.imei, self.label_id, self.expected_serial)
        return frozenset(v.casefold() for v in values if v)

    def matches(self, unit_serial: str) -> bool:
        """True when the unit's reported serial number (or IMEI) is on this label."""
        return unit_serial.strip().casefold() in self.identities()

    def describe(self) -> str:
        """The label as the technician reads it on screen: 'IMEI 35…', 'serial X', 'label L (serial S)'."""
        parts = []
        if self.serial:
            parts.append(f"serial {self.serial}")
        if self.imei:
            parts.append(f"IMEI {self.imei}")
        if self.label_id and self.label_id not in (self.serial, self.imei):
            parts.append(f"label {self.label_id}")
        text = ", ".join(parts) or repr(self.text)
        if self.expected_serial and self.expected_serial not in (self.serial, self.imei):
            text += f" (serial {self.expected_serial} in the expected list)"
        return text


def luhn_valid(digits: str) -> bool:
    """The Luhn check (ISO/IEC 7812-1) that an IMEI's 15th digit satisfies."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def parse_label(text: str, label_ids: Mapping[str, str] | None = None) -> ScannedLabel:
    """Read one scanned label. ``label_ids`` maps label IDs to serial numbers (the CSV column).

    Raises :class:`UnreadableLabel` with the reason.
    """
    text = text.strip()
    if not text:
        raise UnreadableLabel("the scan was empty")
    if len(text) > MAX_LABEL_CHARS:
        raise UnreadableLabel(
            f"the scan is {len(text)} characters long; a unit label has at most {MAX_LABEL_CHARS}"
        )
    if not text.isprintable():
        raise UnreadableLabel(
            "the scan contains control characters (check the scanner's prefix and suffix settings)"
        )
    if text[0] in "{[":
        label = _from_json(text)
    elif re.match(r"https?://", text, re.IGNORECASE):
        label = _from_url(text)
    else:
        label = _from_plain(text)
    return _with_expected(label, label_ids or {})


def _from_plain(text: str) -> ScannedLabel:
    imei = _imei_in(text)
    if imei is not None:
        return ScannedLabel(text, imei=imei)
    if any(c.isspace() for c in text):
        raise UnreadableLabel(f"{text!r} is not a serial number (it contains spaces)")
    return ScannedLabel(text, serial=text)


def _imei_in(text: str) -> str | None:
    """The IMEI if ``text`` is one (with its check digit verified); None if it is no IMEI at all."""
    found = _IMEI_TEXT.fullmatch(text.strip())
    if found is None:
        return None
    digits = re.sub(r"[ -]", "", found.group(1))
    if not luhn_valid(digits):
        raise UnreadableLabel(f"{text!r} looks like an IMEI but its check digit is wrong (misread?)")
    return digits


def _from_json(text: str) -> ScannedLabel:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableLabel(f"the QR code is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise UnreadableLabel("the QR code's JSON is not an object")
    fields = {str(k).casefold(): v for k, v in data.items()}
    serial = _field(fields, _SERIAL_KEYS)
    imei_text = _field(fields, _IMEI_KEYS)
    label_id = _field(fields, _LABEL_KEYS)
    return _checked(text, serial, imei_text, label_id, "the QR code's JSON")


def _from_url(text: str) -> ScannedLabel:
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. a misread "[" in the host: urllib calls it an invalid IPv6 URL
        raise UnreadableLabel(f"the URL cannot be read ({exc})") from None
    query = {k.casefold(): v for k, v in parse_qsl(parts.query)}
    serial = _field(query, _SERIAL_KEYS)
    imei_text = _field(query, _IMEI_KEYS)
    label_id = _field(query, _LABEL_KEYS)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if serial is None and "21" in segments[:-1] and "01" in segments:
        # GS1 Digital Link: /01/<GTIN>/…/21/<serial>
        serial = segments[segments.index("21") + 1]
    if serial is None and imei_text is None and label_id is None and segments:
        serial = segments[-1]
    return _checked(text, serial, imei_text, label_id, "the URL")


def _field(fields: Mapping[str, object], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = fields.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _checked(
    text: str, serial: str | None, imei_text: str | None, label_id: str | None, where: str
) -> ScannedLabel:
    if serial is None and imei_text is None and label_id is None:
        raise UnreadableLabel(f"{where} names no serial number, IMEI or label ID")
    imei = None
    if imei_text is not None:
        imei = _imei_in(imei_text)
        if imei is None:
            raise UnreadableLabel(f"{where} has an IMEI {imei_text!r} that is not 15 digits")
    for value in (serial, label_id):
        if value is not None and (len(value) > 128 or not value.isprintable()):
            raise UnreadableLabel(f"{where} has an identifier Certline cannot use: {value[:40]!r}")
    return ScannedLabel(text, serial=serial, imei=imei, label_id=label_id)


def _with_expected(label: ScannedLabel, label_ids: Mapping[str, str]) -> ScannedLabel:
    """Add the serial number the expected-serials CSV gives for this label's ID."""
    if not label_ids:
        return label
    folded = {k.casefold(): v for k, v in label_ids.items()}
    for key in (label.label_id, label.serial, label.text):
        if key and key.casefold() in folded:
            plain_id = label.serial == label.text and label.label_id is None
            return ScannedLabel(
                label.text,
                serial=None if plain_id else label.serial,
                imei=label.imei,
                label_id=label.label_id or key,
                expected_serial=folded[key.casefold()],
            )
    return label
