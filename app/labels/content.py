"""What goes on a unit's label, read from the journal's DONE record (the journal is the truth)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from certline.app.batch.journal_api import JournalBackend
from certline.app.batch.states import DeviceState

#: hex digits of the certificate's SHA-256 fingerprint on the label (64 bits: enough to tell
#: certificates apart by eye and to match a scan against the journal; the full value is in it)
SHA256_PREFIX_HEX = 16


class LabelError(ValueError):
    """This unit cannot have a label (not DONE, no certificate, unknown unit)."""


@dataclass(frozen=True)
class LabelContent:
    """The fields a label template and the QR code draw from."""

    device: int
    batch: int
    serial: str
    model: str
    firmware: str
    cert_serial: str
    sha256_prefix: str
    not_after: str
    """Certificate expiry as an ISO date (UTC), e.g. ``2027-12-03``."""
    work_order: str

    def qr_payload(self) -> str:
        """Compact JSON a scanner reads back: serial, certificate SHA-256 prefix, not-after."""
        return json.dumps(
            {"sn": self.serial, "sha256": self.sha256_prefix, "not_after": self.not_after},
            separators=(",", ":"),
        )

    def fields(self) -> dict[str, str]:
        return {
            "serial": self.serial,
            "model": self.model,
            "firmware": self.firmware,
            "cert_serial": self.cert_serial,
            "sha256_prefix": self.sha256_prefix,
            "not_after": self.not_after,
            "work_order": self.work_order,
            "batch": str(self.batch),
            "device": str(self.device),
        }

    def render_lines(self, template: tuple[str, ...]) -> tuple[str, ...]:
        """The template's lines with the placeholders filled (checked by ``check_template``)."""
        values = self.fields()
        return tuple(line.format_map(values) for line in template)


def sha256_prefix(fingerprint: str) -> str:
    """``AB:CD:…`` (as journaled) → the first hex digits, upper case, no separators."""
    digits = fingerprint.replace(":", "").strip().upper()
    if len(digits) != 64 or any(c not in "0123456789ABCDEF" for c in digits):
        raise LabelError(f"journaled fingerprint {fingerprint!r} is not a SHA-256 fingerprint")
    return digits[:SHA256_PREFIX_HEX]


def content_for_device(journal: JournalBackend, device_id: int) -> LabelContent:
    """The label of one DONE unit, from its journal row; LabelError says why there is none."""
    try:
        row = journal.device_row(device_id)
    except KeyError as exc:
        raise LabelError(str(exc).strip("'\"")) from None
    if row["state"] != DeviceState.DONE.value:
        raise LabelError(f"device {device_id} is {row['state']}, not done: only done units get a label")
    if not (row["serial_number"] and row["cert_serial"] and row["cert_fingerprint"] and row["not_after"]):
        raise LabelError(f"device {device_id} has no certificate in the journal")
    batch = journal.batch(row["batch_id"])
    return LabelContent(
        device=device_id,
        batch=row["batch_id"],
        serial=row["serial_number"],
        model=row["model"] or "",
        firmware=row["firmware"] or "",
        cert_serial=row["cert_serial"],
        sha256_prefix=sha256_prefix(row["cert_fingerprint"]),
        not_after=datetime.fromisoformat(row["not_after"]).date().isoformat(),
        work_order=batch.work_order or "",
    )


def find_done_device(
    journal: JournalBackend,
    *,
    batch_id: int | None = None,
    device_id: int | None = None,
    serial: str | None = None,
) -> int:
    """The device to (re)print: ``--batch B --device D`` or ``--serial S`` (its latest DONE unit)."""
    if serial is not None:
        snap = journal.find_done_by_serial(serial)
        if snap is None:
            raise LabelError(f"no done unit with serial {serial!r} in the journal")
        return snap.device_id
    if batch_id is None or device_id is None:
        raise LabelError("name the unit with --batch and --device, or with --serial")
    try:
        snap = journal.device(device_id)
    except KeyError:
        raise LabelError(f"no device {device_id} in the journal") from None
    if snap.batch_id != batch_id:
        raise LabelError(f"device {device_id} belongs to batch {snap.batch_id}, not {batch_id}")
    return device_id
