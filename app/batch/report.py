"""Batch reports (JSON, CSV): a view of the journal an auditor can file.

One entry per device with what was issued to it. The issued certificate is
public and included in JSON; nothing secret is ever in the journal, so
nothing secret can reach a report.

Reports are streamed: the devices are read from the journal one page at a time
(:meth:`~certline.app.batch.journal_api.JournalBackend.device_rows_after`) and written as
they come, so a 100,000-unit batch needs the memory of one page, not of the whole
report, and never holds the journal for longer than one page's read. The JSON is
byte for byte what ``json.dumps(build_json_report(...), indent=2)`` gives.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import operator
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from certline.app import __version__, pki
from certline.app.batch.journal_api import JournalBackend
from certline.app.config.paths import ensure_private_dir

CSV_COLUMNS = (
    "device_id",
    "serial_number",
    "model",
    "firmware",
    "port",
    "state",
    "step",
    "retry_at",
    "certificate_serial",
    "sha256_fingerprint",
    "not_before",
    "not_after",
    "issuer",
    "error",
    "error_code",
    "failed_step",
    "started_at",
    "updated_at",
    "csr_sha256",
    "csr_as_received_sha256",
    "replaced_certificate_sha256",
    "scanned_label",
)


#: devices read per journal call while a report streams
PAGE_SIZE = 1000


def device_rows(
    journal: JournalBackend, batch_id: int, page_size: int = PAGE_SIZE
) -> Iterator[dict[str, Any]]:
    """Every device row of the batch in id order, read one page at a time (keyset paging)."""
    after = 0
    while True:
        page = journal.device_rows_after(batch_id, after, page_size)
        yield from page
        if len(page) < page_size:
            return
        after = page[-1]["id"]


def device_entries(journal: JournalBackend, batch_id: int) -> Iterator[dict[str, Any]]:
    for row in device_rows(journal, batch_id):
        chain = row["chain_pem"] or ""
        leaf_end = chain.find("-----END CERTIFICATE-----")
        leaf_pem = chain[: leaf_end + len("-----END CERTIFICATE-----\n")] if leaf_end >= 0 else None
        yield {
            "device_id": row["id"],
            "serial_number": row["serial_number"],
            "model": row["model"],
            "firmware": row["firmware"],
            "port": row["port"],
            "state": row["state"],
            "step": row["step"],
            "retry_at": row["retry_at"] if row["state"] == "pending-approval" else None,
            "certificate_serial": row["cert_serial"],
            "sha256_fingerprint": row["cert_fingerprint"],
            "not_before": row["not_before"],
            "not_after": row["not_after"],
            "issuer": row["issuer"],
            "error": row["error"],
            "error_code": row["error_code"],
            "failed_step": row["failed_step"],
            "started_at": row["started_at"],
            "updated_at": row["updated_at"],
            "csr_sha256": row["csr_sha256"],
            "csr_as_received_sha256": row["csr_received_sha256"],
            "csr_as_received_base64": (
                base64.b64encode(row["csr_received_der"]).decode("ascii") if row["csr_received_der"] else None
            ),
            "replaced_certificate_sha256": row["replaced_sha256"],
            "replaced_certificate_pem": row["replaced_chain_pem"],
            "scanned_label": row["scanned_label"],
            "certificate_pem": leaf_pem,
            "chain_pem": chain or None,
        }


def build_json_report(journal: JournalBackend, batch_id: int) -> dict[str, Any]:
    """The whole report as one dict (small batches, the support bundle); files are streamed."""
    report = _json_head(journal, batch_id)
    report["devices"] = list(device_entries(journal, batch_id))
    return report


def _json_head(journal: JournalBackend, batch_id: int) -> dict[str, Any]:
    """Everything of the JSON report but the devices (the totals are counted by the journal)."""
    batch = journal.batch(batch_id)
    counts = journal.device_state_counts(batch_id)
    return {
        "certline_version": __version__,
        "batch": {
            "id": batch.id,
            "work_order": batch.work_order,
            "profile": batch.profile_name,
            "operator": batch.operator,
            "station": batch.station,
            "started_at": batch.started_at.isoformat(),
            "ended_at": batch.ended_at.isoformat() if batch.ended_at else None,
            "expected": list(batch.expected) if batch.expected is not None else None,
            "trust_anchor_sha256": _anchor_fingerprints(batch.profile_json),
        },
        "totals": {
            "devices": sum(counts.values()),
            "done": counts.get("done", 0),
            "failed": counts.get("failed", 0),
            "skipped": counts.get("skipped", 0),
            "pending_approval": counts.get("pending-approval", 0),
        },
    }


#: one device entry as ``json.dumps(..., indent=2)`` lays it out inside the report's list, made by
#: the C encoder (``indent`` would select the pure-Python one, 5x slower): entries are flat dicts
_ENTRY_ENCODER = json.JSONEncoder(separators=(",\n      ", ": "))


def _entry_json(entry: dict[str, Any]) -> str:
    return "{\n      " + _ENTRY_ENCODER.encode(entry)[1:-1] + "\n    }"


def write_json(journal: JournalBackend, batch_id: int, out: TextIO) -> None:
    """Stream the JSON report to ``out`` (same bytes as ``json.dumps(report, indent=2) + "\\n"``)."""
    head = json.dumps({**_json_head(journal, batch_id), "devices": []}, indent=2)
    tail = "[]\n}"
    assert head.endswith(tail)
    out.write(head[: -len(tail)])
    separator = "[\n    "
    for entry in device_entries(journal, batch_id):
        out.write(separator)
        out.write(_entry_json(entry))
        separator = ",\n    "
    out.write("[]\n}\n" if separator.startswith("[") else "\n  ]\n}\n")


#: the journal column behind each CSV column (the JSON entry's names differ in places)
_CSV_SOURCES = {
    "device_id": "id",
    "certificate_serial": "cert_serial",
    "sha256_fingerprint": "cert_fingerprint",
    "csr_as_received_sha256": "csr_received_sha256",
    "replaced_certificate_sha256": "replaced_sha256",
}
_CSV_ROW = operator.itemgetter(*(_CSV_SOURCES.get(column, column) for column in CSV_COLUMNS))
_RETRY_AT = CSV_COLUMNS.index("retry_at")


def write_csv(journal: JournalBackend, batch_id: int, out: TextIO) -> None:
    """Stream the CSV report: one line per device straight from its journal row (the columns of
    :data:`CSV_COLUMNS`, the same values as the JSON entries)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in device_rows(journal, batch_id):
        values = _CSV_ROW(row)
        if values[_RETRY_AT] is not None and row["state"] != "pending-approval":
            values = (*values[:_RETRY_AT], None, *values[_RETRY_AT + 1 :])
        writer.writerow(values)


def write_report(journal: JournalBackend, batch_id: int, fmt: str, out: TextIO) -> None:
    """Stream the report in ``fmt`` (``json`` or ``csv``) to ``out``."""
    if fmt == "json":
        write_json(journal, batch_id, out)
    elif fmt == "csv":
        write_csv(journal, batch_id, out)
    else:
        raise ValueError(f"unknown report format {fmt!r} (use json or csv)")


def _anchor_fingerprints(profile_json: dict[str, Any]) -> list[str]:
    """Which CA the batch trusted, so an auditor can tie every certificate to it."""
    pem = profile_json.get("ca_bundle_pem")
    if not pem and profile_json.get("ca_bundle_file"):
        # a profile that names a CA file: its anchors as the file holds them now (the profile keeps
        # only the path); a file that is gone or unreadable leaves the list empty, not a guess
        try:
            pem = Path(profile_json["ca_bundle_file"]).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            return []
    if not pem:
        return []
    try:
        return [pki.fingerprint(cert) for cert in pki.pem_to_chain(pem)]
    except ValueError:
        return []


def render(journal: JournalBackend, batch_id: int, fmt: str) -> str:
    buffer = io.StringIO()
    write_report(journal, batch_id, fmt, buffer)
    return buffer.getvalue()


def export_report(journal: JournalBackend, batch_id: int, fmt: str, path: Path) -> Path:
    """Write the report owner-readable only (reports name units and work orders).

    Streamed into a private temporary file next to ``path`` and renamed over it at the end, so
    a failed export (journal unreachable, disk full) never leaves half a report behind.
    """
    if fmt not in ("json", "csv"):
        raise ValueError(f"unknown report format {fmt!r} (use json or csv)")
    if not path.parent.exists():
        ensure_private_dir(path.parent)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 20) as out:
            write_report(journal, batch_id, fmt, out)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    path.chmod(0o600)
    return path
