"""Report pages read from the SQLite journal, the per-row work done by SQLite in C.

A 100,000-unit JSON report is ~260 MB of text, nearly all of it certificate PEMs: making each
entry in Python (a dict per row, then the JSON encoder, every key escaped again for every unit)
cost more CPU than reading the journal. Here one query per page gives each entry's JSON text
ready to write: ``printf`` lays the entry out and ``json_quote`` quotes the values.

``json_quote`` escapes exactly as ``json.dumps`` does for ASCII text (checked once per
connection by :func:`sql_quotes_like_python`, or the caller falls back to Python), but leaves
non-ASCII characters and DEL (0x7f) as they are where ``json.dumps`` writes ``\\uXXXX``. So a
row whose entry is not pure ASCII without DEL is made again in Python from its journal row: the
text is always byte for byte :func:`~certline.app.batch.report_entry.entry_json` of
:func:`~certline.app.batch.report_entry.entry_from_row`. SQLite has no base64, so the CSR as
received is encoded in Python and put between the two halves of the entry.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from typing import Any

from certline.app.batch import report_entry as layout

_ASCII_PROBE = "".join(map(chr, range(0x7F)))  # every ASCII character but DEL


def sql_quotes_like_python(db: sqlite3.Connection) -> bool:
    """Whether this SQLite's ``json_quote`` quotes ASCII text as ``json.dumps`` does (and exists)."""
    try:
        row = db.execute("SELECT json_quote(?), json_quote(NULL), json_quote(42)", (_ASCII_PROBE,)).fetchone()
    except sqlite3.Error:
        return False
    return tuple(row) == (json.dumps(_ASCII_PROBE), "null", "42")


def _literal(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _value_sql(key: str, column: str | None) -> str:
    """The SQL giving the entry's JSON value for ``key`` (see report_entry.entry_from_row)."""
    if column is not None:
        return f"json_quote({column})"
    if key == "retry_at":
        return f"CASE WHEN state={_literal(layout.RETRY_STATE)} THEN json_quote(retry_at) ELSE 'null' END"
    if key == "certificate_pem":  # chain_pem[: find(END) + len(END) + 1], in characters, 1-based
        end = f"instr(chain_pem, {_literal(layout.PEM_END)})"
        return (
            f"CASE WHEN {end} > 0 THEN json_quote(substr(chain_pem, 1, {end} + {len(layout.PEM_END)}))"
            " ELSE 'null' END"
        )
    if key == "chain_pem":
        return "json_quote(NULLIF(chain_pem, ''))"
    raise AssertionError(f"no SQL for the report field {key!r}")


def _entry_halves_sql() -> str:
    """``id, head, csr_received_der, tail``: the entry is head + (base64 of the CSR) + tail."""
    halves: list[tuple[list[str], list[str]]] = [([], []), ([], [])]
    half = 0
    for n, (key, column) in enumerate(layout.ENTRY_FIELDS):
        lead = (
            (layout.ENTRY_OPEN if n == 0 else layout.ITEM_SEPARATOR) + json.dumps(key) + layout.KEY_SEPARATOR
        )
        if key == "csr_as_received_base64":
            halves[0][0].append(lead.replace("%", "%%"))
            half = 1
            continue
        halves[half][0].append(lead.replace("%", "%%") + "%s")
        halves[half][1].append(_value_sql(key, column))
    halves[1][0].append(layout.ENTRY_CLOSE.replace("%", "%%"))
    head, tail = (f"printf({_literal(''.join(fmt))}, {', '.join(args)})" for fmt, args in halves)
    return f"id, {head}, csr_received_der, {tail}"


_JSON_PAGE = f"SELECT {_entry_halves_sql()} FROM devices WHERE batch_id=? AND id>? ORDER BY id LIMIT ?"  # noqa: S608 - fixed names

_CSV_PAGE = (
    "SELECT "  # noqa: S608 - fixed names
    + ", ".join(
        f"CASE WHEN state={_literal(layout.RETRY_STATE)} THEN retry_at END"
        if column == "retry_at"
        else column
        for column in layout.CSV_SOURCES
    )
    + " FROM devices WHERE batch_id=? AND id>? ORDER BY id LIMIT ?"
)


def json_page(db: sqlite3.Connection, batch_id: int, after_id: int, limit: int) -> list[tuple[int, str]]:
    """``(device id, entry JSON)`` of at most ``limit`` devices of the batch after ``after_id``."""
    cursor = db.cursor()
    cursor.row_factory = None
    rows = cursor.execute(_JSON_PAGE, (batch_id, after_id, limit)).fetchall()
    page: list[tuple[int, str]] = []
    redo: dict[int, int] = {}  # device id -> index in page, for entries to make in Python
    for device_id, head, der, tail in rows:
        middle = '"' + base64.b64encode(der).decode("ascii") + '"' if der else "null"
        text = head + middle + tail
        if not text.isascii() or "\x7f" in text:
            redo[device_id] = len(page)
        page.append((device_id, text))
    if redo:
        cursor = db.cursor()
        cursor.row_factory = None
        marks = ",".join("?" * len(redo))
        cursor.execute(f"SELECT * FROM devices WHERE id IN ({marks})", tuple(redo))  # noqa: S608 - marks
        names = [column[0] for column in cursor.description]
        for values in cursor.fetchall():
            row: dict[str, Any] = dict(zip(names, values, strict=True))
            page[redo.pop(row["id"])] = (row["id"], layout.entry_json(layout.entry_from_row(row)))
        if redo:  # gone between the two reads (the journal deletes no device; never a guess)
            page = [entry for entry in page if entry[0] not in redo]
    return page


def csv_page(db: sqlite3.Connection, batch_id: int, after_id: int, limit: int) -> list[tuple[Any, ...]]:
    """The CSV values (device id first) of at most ``limit`` devices of the batch after ``after_id``."""
    cursor = db.cursor()
    cursor.row_factory = None
    return cursor.execute(_CSV_PAGE, (batch_id, after_id, limit)).fetchall()
