"""Report pages read from the SQLite journal, the per-row work done by SQLite in C.

A 100,000-unit JSON report is ~260 MB of text, nearly all of it certificate PEMs: making each
entry in Python (a dict per row, then the JSON encoder, every key escaped again for every unit)
cost more CPU than reading the journal. Here one query per page gives each entry's JSON text
ready to write: the keys and the layout are concatenated with the values ``json_quote`` quoted.

``json_quote`` escapes exactly as ``json.dumps`` does for ASCII text (checked once per
connection by :func:`sql_quotes_like_python`, or the caller falls back to Python), but leaves
non-ASCII characters and DEL (0x7f) as they are where ``json.dumps`` writes ``\\uXXXX``. So a
row whose entry is not pure ASCII without DEL is made again in Python from its journal row: the
text is always byte for byte :func:`~certline.app.batch.report_entry.entry_json` of
:func:`~certline.app.batch.report_entry.entry_from_row`. SQLite has no base64, so the CSR as
received is encoded in Python, and the leaf certificate is cut from the quoted chain (not quoted
a second time); the entry comes in parts that Python joins.

The CSV lines are made the same way: each field quoted in SQL as the csv writer quotes it,
probed against the writer at the journal's first export, a line that is not pure ASCII written again
by the writer.
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
    raise AssertionError(f"no SQL for the report field {key!r}")


#: made in Python: the CSR's base64 (SQLite has none) and the leaf (a prefix of the quoted chain)
_IN_PYTHON = ("csr_as_received_base64", "certificate_pem", "chain_pem")
assert tuple(key for key, _ in layout.ENTRY_FIELDS[-2:]) == _IN_PYTHON[1:]
_CHAIN_LEAD = layout.ITEM_SEPARATOR + json.dumps("chain_pem") + layout.KEY_SEPARATOR


def _entry_sql() -> str:
    """``id, head, csr_received_der, middle, quoted chain``: the entry is head, the CSR's base64,
    middle (up to the leaf's value), the leaf, then the chain (see :func:`json_page`)."""
    segments: list[list[str]] = [[]]
    for n, (key, column) in enumerate(layout.ENTRY_FIELDS[:-1]):
        lead = (
            (layout.ENTRY_OPEN if n == 0 else layout.ITEM_SEPARATOR) + json.dumps(key) + layout.KEY_SEPARATOR
        )
        segments[-1].append(_literal(lead))
        if key in _IN_PYTHON:
            segments.append([])
        else:
            segments[-1].append(_value_sql(key, column))
    head, middle = (" || ".join(parts) for parts in segments[:2])
    return f"id, {head}, csr_received_der, {middle}, json_quote(NULLIF(chain_pem, ''))"


_JSON_PAGE = f"SELECT {_entry_sql()} FROM devices WHERE batch_id=? AND id>? ORDER BY id LIMIT ?"  # noqa: S608 - fixed names


def _leaf_json(chain: str) -> str:
    """The leaf's JSON value from the chain's: ``chain_pem`` up to the first END line and one
    character more is, quoted, the quoted chain up to that character's escape. An escape is
    ``\\`` and a character, or ``\\u`` and 4 hex digits; only the closing quote is a bare ``"``."""
    end = chain.find(layout.PEM_END)
    if end < 0:  # also "null": no chain
        return "null"
    end += len(layout.PEM_END)
    if chain[end] == '"':  # the chain ends with the END line: the leaf is all of it
        return chain
    if chain[end] == "\\":
        end += 6 if chain[end + 1] == "u" else 2
    else:
        end += 1
    return chain[:end] + '"'


def _csv_field(value: Any) -> str:
    """``value`` as a field of a CSV line by the report's writer (it is never the last field)."""
    return layout.csv_line((value, "z"))[: -len(",z\n")]


#: the ASCII characters that make the csv writer quote a field (Python 3.11: , " and newline;
#: newer versions also carriage return): found out, not assumed, and checked by the probe below
_CSV_QUOTED_BY = "".join(c for c in map(chr, range(0x80)) if _csv_field("a" + c + "b").startswith('"'))


def _csv_field_sql(value: str) -> str:
    """SQL quoting the value of the SQL expression ``value`` as :func:`_csv_field` does."""
    if not _CSV_QUOTED_BY:
        return f"COALESCE({value}, '')"
    quoted_if = " OR ".join(f"instr({value}, char({ord(c)}))" for c in _CSV_QUOTED_BY)
    return (
        f"CASE WHEN {value} IS NULL THEN '' WHEN {quoted_if}"
        f" THEN '\"' || replace({value}, '\"', '\"\"') || '\"' ELSE {value} END"
    )


def _csv_value_sql(column: str) -> str:
    if column == "retry_at":
        return f"CASE WHEN state={_literal(layout.RETRY_STATE)} THEN retry_at END"
    return column


_CSV_PAGE = (
    "SELECT id, "  # noqa: S608 - fixed names
    + " || ',' || ".join(_csv_field_sql(_csv_value_sql(column)) for column in layout.CSV_SOURCES)
    + " || char(10) FROM devices WHERE batch_id=? AND id>? ORDER BY id LIMIT ?"
)
_CSV_VALUES = "SELECT " + ", ".join(_csv_value_sql(column) for column in layout.CSV_SOURCES)  # noqa: S608
_CSV_VALUES_BY_ID = _CSV_VALUES + " FROM devices WHERE id=?"
_CSV_VALUES_PAGE = _CSV_VALUES + " FROM devices WHERE batch_id=? AND id>? ORDER BY id LIMIT ?"


def _csv_probe_values() -> list[Any]:
    values: list[Any] = [None, "", " ", "  a ", 12, -3]
    for c in map(chr, range(0x80)):
        values += [c, "a" + c, c + "a", "a" + c + "b", c + c + c]
    return values


def sql_csv_like_python(db: sqlite3.Connection) -> bool:
    """Whether the SQL of :data:`_CSV_PAGE` writes every ASCII field as the csv writer does."""
    values = _csv_probe_values()
    rows = ",".join("(?, ?)" for _ in values)
    query = f"WITH probe(n, x) AS (VALUES {rows}) SELECT '' || {_csv_field_sql('x')} FROM probe ORDER BY n"  # noqa: S608 - fixed
    try:
        found = [
            row[0] for row in db.execute(query, [v for n, value in enumerate(values) for v in (n, value)])
        ]
    except sqlite3.Error:
        return False
    return found == [_csv_field(value) for value in values]


def json_page(db: sqlite3.Connection, batch_id: int, after_id: int, limit: int) -> list[tuple[int, str]]:
    """``(device id, entry JSON)`` of at most ``limit`` devices of the batch after ``after_id``."""
    cursor = db.cursor()
    cursor.row_factory = None
    rows = cursor.execute(_JSON_PAGE, (batch_id, after_id, limit)).fetchall()
    page: list[tuple[int, str]] = []
    redo: dict[int, int] = {}  # device id -> index in page, for entries to make in Python
    for device_id, head, der, middle, chain in rows:
        csr = '"' + base64.b64encode(der).decode("ascii") + '"' if der else "null"
        text = "".join((head, csr, middle, _leaf_json(chain), _CHAIN_LEAD, chain, layout.ENTRY_CLOSE))
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


def csv_page(db: sqlite3.Connection, batch_id: int, after_id: int, limit: int) -> list[tuple[int, str]]:
    """``(device id, CSV line)`` of at most ``limit`` devices of the batch after ``after_id``; a
    line that is not pure ASCII is written again by the csv writer (only ASCII is probed)."""
    cursor = db.cursor()
    cursor.row_factory = None
    page: list[tuple[int, str]] = cursor.execute(_CSV_PAGE, (batch_id, after_id, limit)).fetchall()
    gone = set()
    for n, (device_id, line) in enumerate(page):
        if not line.isascii():
            values = cursor.execute(_CSV_VALUES_BY_ID, (device_id,)).fetchone()
            if values is None:  # gone between the two reads (the journal deletes no device)
                gone.add(device_id)
            else:
                page[n] = (device_id, layout.csv_line(tuple(values)))
    return [entry for entry in page if entry[0] not in gone] if gone else page


def csv_page_in_python(
    db: sqlite3.Connection, batch_id: int, after_id: int, limit: int
) -> list[tuple[int, str]]:
    """:func:`csv_page` with every line written by the csv writer (an SQLite the probe refused)."""
    cursor = db.cursor()
    cursor.row_factory = None
    rows = cursor.execute(_CSV_VALUES_PAGE, (batch_id, after_id, limit)).fetchall()
    return [(values[0], layout.csv_line(values)) for values in rows]
