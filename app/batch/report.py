"""Batch reports (JSON, CSV): a view of the journal an auditor can file.

One entry per device with what was issued to it. The issued certificate is
public and included in JSON; nothing secret is ever in the journal, so
nothing secret can reach a report.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app import __version__, pki
from app.batch.journal_api import JournalBackend
from app.config.paths import ensure_private_dir

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


def device_entries(journal: JournalBackend, batch_id: int) -> Iterator[dict[str, Any]]:
    for row in journal.device_rows(batch_id):
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
    batch = journal.batch(batch_id)
    devices = list(device_entries(journal, batch_id))
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
            "devices": len(devices),
            "done": sum(1 for d in devices if d["state"] == "done"),
            "failed": sum(1 for d in devices if d["state"] == "failed"),
            "skipped": sum(1 for d in devices if d["state"] == "skipped"),
            "pending_approval": sum(1 for d in devices if d["state"] == "pending-approval"),
        },
        "devices": devices,
    }


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
    if fmt == "json":
        return json.dumps(build_json_report(journal, batch_id), indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for entry in device_entries(journal, batch_id):
            writer.writerow(entry)
        return buffer.getvalue()
    raise ValueError(f"unknown report format {fmt!r} (use json or csv)")


def export_report(journal: JournalBackend, batch_id: int, fmt: str, path: Path) -> Path:
    """Write the report owner-readable only (reports name units and work orders)."""
    if not path.parent.exists():
        ensure_private_dir(path.parent)
    text = render(journal, batch_id, fmt)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path
