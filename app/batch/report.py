"""Batch reports (JSON, CSV): a view of the journal an auditor can file.

One entry per device with what was issued to it. The issued certificate is
public and included in JSON; nothing secret is ever in the journal, so
nothing secret can reach a report.

Reports are streamed: the devices are read from the journal one page at a time
(:meth:`~certline.app.batch.journal_api.JournalBackend.device_rows_after`) and written as
they come, so a 100,000-unit batch needs the memory of one page, not of the whole
report, and never holds the journal for longer than one page's read. The JSON is
byte for byte what ``json.dumps(build_json_report(...), indent=2)`` gives. An entry's layout
and values are in :mod:`certline.app.batch.report_entry`.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from certline.app import __version__, pki
from certline.app.batch import report_entry
from certline.app.batch.journal_api import JournalBackend
from certline.app.batch.report_entry import CSV_COLUMNS
from certline.app.config.paths import ensure_private_dir, refuse_station_config_target

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
    """Every device's report entry, in id order, read one page at a time."""
    for row in device_rows(journal, batch_id):
        yield report_entry.entry_from_row(row)


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


def write_json(journal: JournalBackend, batch_id: int, out: TextIO) -> None:
    """Stream the JSON report to ``out`` (same bytes as ``json.dumps(report, indent=2) + "\\n"``).

    The journal hands over a page of entries as JSON text (its backend makes them, the SQLite one
    in SQL), written :data:`_ENTRIES_PER_WRITE` entries per ``write``."""
    head = json.dumps({**_json_head(journal, batch_id), "devices": []}, indent=2)
    tail = "[]\n}"
    assert head.endswith(tail)
    out.write(head[: -len(tail)])
    opened = False
    after = 0
    while True:
        page = journal.device_report_json_after(batch_id, after, PAGE_SIZE)
        for start in range(0, len(page), _ENTRIES_PER_WRITE):
            out.write(_ENTRY_SEPARATOR if opened else "[\n    ")
            out.write(_ENTRY_SEPARATOR.join([text for _, text in page[start : start + _ENTRIES_PER_WRITE]]))
            opened = True
        if len(page) < PAGE_SIZE:
            break
        after = page[-1][0]
    out.write("\n  ]\n}\n" if opened else "[]\n}\n")


_ENTRY_SEPARATOR = ",\n    "
#: entries joined per ``write``: a write per entry costs more CPU than the disk does, and a
#: page's text at once (~3 MB) is a fresh allocation each time, whose page faults cost as much
_ENTRIES_PER_WRITE = 32


def write_csv(journal: JournalBackend, batch_id: int, out: TextIO) -> None:
    """Stream the CSV report: one line per device, the columns of :data:`CSV_COLUMNS` (the same
    values as the JSON entries), read from the journal a page of lines at a time."""
    report_entry.csv_writer(out).writerow(CSV_COLUMNS)
    after = 0
    while True:
        page = journal.device_report_csv_after(batch_id, after, PAGE_SIZE)
        for start in range(0, len(page), _ENTRIES_PER_WRITE):
            out.write("".join([line for _, line in page[start : start + _ENTRIES_PER_WRITE]]))
        if len(page) < PAGE_SIZE:
            return
        after = page[-1][0]


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
    refuse_station_config_target(path)
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
