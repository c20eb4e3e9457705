"""One device's entry of a batch report (JSON and CSV), from its journal row.

The report module streams these; the journal backends make them page by page
(:meth:`~certline.app.batch.journal_api.JournalBackend.device_report_json_after`,
:meth:`~certline.app.batch.journal_api.JournalBackend.device_report_csv_after`), the SQLite one
mostly in SQL, which is why the layout lives here, apart from the report's file handling: every
backend must give exactly what :func:`entry_json` and :func:`csv_line` give for a row.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Mapping
from typing import Any

#: what ends the leaf certificate, the first block of ``chain_pem``
PEM_END = "-----END CERTIFICATE-----"

#: the JSON entry's keys in their order, each with the journal column it shows (``None``: a value
#: derived from the row, see :func:`entry_from_row`)
ENTRY_FIELDS: tuple[tuple[str, str | None], ...] = (
    ("device_id", "id"),
    ("serial_number", "serial_number"),
    ("model", "model"),
    ("firmware", "firmware"),
    ("port", "port"),
    ("state", "state"),
    ("step", "step"),
    ("retry_at", None),  # only while the unit waits for approval
    ("certificate_serial", "cert_serial"),
    ("sha256_fingerprint", "cert_fingerprint"),
    ("not_before", "not_before"),
    ("not_after", "not_after"),
    ("issuer", "issuer"),
    ("error", "error"),
    ("error_code", "error_code"),
    ("failed_step", "failed_step"),
    ("started_at", "started_at"),
    ("updated_at", "updated_at"),
    ("csr_sha256", "csr_sha256"),
    ("csr_as_received_sha256", "csr_received_sha256"),
    ("csr_as_received_base64", None),  # base64 of csr_received_der
    ("replaced_certificate_sha256", "replaced_sha256"),
    ("replaced_certificate_pem", "replaced_chain_pem"),
    ("scanned_label", "scanned_label"),
    ("certificate_pem", None),  # the leaf: chain_pem up to the first END line and its newline
    ("chain_pem", None),  # chain_pem, None when empty
)

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

_SOURCES = dict(ENTRY_FIELDS)
#: the journal column behind each CSV column (``retry_at`` shown as in the JSON entry)
CSV_SOURCES: tuple[str, ...] = tuple(_SOURCES[column] or column for column in CSV_COLUMNS)
CSV_RETRY_AT = CSV_COLUMNS.index("retry_at")
assert CSV_COLUMNS[0] == "device_id" and CSV_SOURCES[0] == "id"  # the id comes first: keyset paging

#: the journal states in which ``retry_at`` is part of the report
RETRY_STATE = "pending-approval"

#: the layout ``json.dumps(report, indent=2)`` gives an entry of the report's device list
ENTRY_OPEN = "{\n      "
ITEM_SEPARATOR = ",\n      "
KEY_SEPARATOR = ": "
ENTRY_CLOSE = "\n    }"

#: one entry made by the C encoder with the indented separators (``indent`` would select the
#: pure-Python encoder, 5x slower): entries are flat dicts
_ENTRY_ENCODER = json.JSONEncoder(separators=(ITEM_SEPARATOR, KEY_SEPARATOR))


def leaf_pem(chain: str) -> str | None:
    leaf_end = chain.find(PEM_END)
    return chain[: leaf_end + len(PEM_END) + 1] if leaf_end >= 0 else None


def entry_from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The report entry of one journal device row (a mapping of column name to value)."""
    chain = row["chain_pem"] or ""
    der = row["csr_received_der"]
    derived = {
        "retry_at": row["retry_at"] if row["state"] == RETRY_STATE else None,
        "csr_as_received_base64": base64.b64encode(der).decode("ascii") if der else None,
        "certificate_pem": leaf_pem(chain),
        "chain_pem": chain or None,
    }
    return {key: row[column] if column else derived[key] for key, column in ENTRY_FIELDS}


def entry_json(entry: Mapping[str, Any]) -> str:
    """The entry as ``json.dumps(report, indent=2)`` writes it inside the report's device list."""
    return ENTRY_OPEN + _ENTRY_ENCODER.encode(entry)[1:-1] + ENTRY_CLOSE


def csv_values(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The CSV line's values of one journal device row (the same values as its JSON entry)."""
    values = tuple(row[column] for column in CSV_SOURCES)
    if values[CSV_RETRY_AT] is not None and row["state"] != RETRY_STATE:
        values = (*values[:CSV_RETRY_AT], None, *values[CSV_RETRY_AT + 1 :])
    return values


def csv_writer(out: Any) -> Any:
    """The report's CSV writer (the csv module's excel dialect, lines ended by a newline)."""
    return csv.writer(out, lineterminator="\n")


def csv_line(values: tuple[Any, ...]) -> str:
    """One CSV line of :func:`csv_values`, exactly as :func:`csv_writer` writes it."""
    buffer = io.StringIO()
    csv_writer(buffer).writerow(values)
    return buffer.getvalue()
