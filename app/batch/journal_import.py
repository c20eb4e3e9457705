"""Move a station's SQLite history into the shared journal, once.

Everything is copied in one PostgreSQL transaction: batches, devices, transitions, certificates
(ids renumbered, station name added), DONE units into the line-wide ``units`` table (so the
line refuses them from now on), the MES outbox (records keep their idempotency key and text, and
what was not delivered yet is delivered by this station from the shared journal), the passcode uses
(so a passcode's limit counts what this station spent with it before it joined the line), and the
audit records *verbatim* as that station's chain, so
the chain still verifies and the station continues it. Running the import again changes
nothing: the source is recorded in ``imports`` by the hash of its newest audit record.
Audit payloads keep the SQLite ids they were written with (they are evidence, not links).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from certline.app.batch.audit import GENESIS
from certline.app.batch.journal import Journal
from certline.app.batch.journal_api import JournalError
from certline.app.batch.journal_pg import Cursor, PgJournal
from certline.app.batch.states import DeviceState


@dataclass(frozen=True)
class ImportResult:
    already: bool
    batches: int
    devices: int
    audit_records: int


_DEVICE_COLUMNS = (
    "serial_number", "model", "firmware", "port", "state", "step", "started_at", "updated_at",
    "csr_der", "csr_sha256", "cert_serial", "cert_fingerprint", "not_before", "not_after", "issuer",
    "chain_pem", "error", "error_code", "failed_step", "retry_at", "enroll_attempts", "kind",
    "scanned_label",
)  # fmt: skip
_CERT_COLUMNS = (
    "device_serial", "cert_serial", "fingerprint", "not_before", "not_after", "issuer", "subject",
    "chain_pem", "operation", "issued_at",
)  # fmt: skip

_OUTBOX_COLUMNS = (
    "key", "outcome", "created_at", "record_json", "folder_delivered_at", "http_delivered_at",
    "attempts", "last_error", "last_attempt_at",
)  # fmt: skip


def import_sqlite(source: Path, target: PgJournal) -> ImportResult:
    """Copy ``source`` into ``target`` under ``target.station`` (see module doc)."""
    if not source.exists():
        raise JournalError(f"no SQLite journal at {source}")
    local = Journal(source, station=target.station)
    try:
        verdict = local.audit.verify()
        if not verdict.ok:
            raise JournalError(
                f"the audit chain of {source} does not verify ({'; '.join(verdict.problems)}); not imported"
            )
        with local._read() as db:
            batches = [dict(r) for r in db.execute("SELECT * FROM batches ORDER BY id")]
            devices = [dict(r) for r in db.execute("SELECT * FROM devices ORDER BY id")]
            transitions = [dict(r) for r in db.execute("SELECT * FROM transitions ORDER BY id")]
            certificates = [dict(r) for r in db.execute("SELECT * FROM certificates ORDER BY id")]
            outbox = [dict(r) for r in db.execute("SELECT * FROM mes_outbox ORDER BY id")]
            passcode_uses = [dict(r) for r in db.execute("SELECT * FROM passcode_uses ORDER BY rowid")]
        audit = local.audit.records()
    finally:
        local.close()
    source_key = f"sqlite:{target.station}:{audit[-1]['hash'] if audit else GENESIS}:{len(devices)}"
    station = target.station

    def work(cur: Cursor) -> int:
        cur.execute("SELECT 1 FROM imports WHERE source=%s", (source_key,))
        if cur.fetchone() is not None:
            return 0
        cur.execute("SELECT seq FROM audit_heads WHERE station=%s FOR UPDATE", (station,))
        head = cur.fetchone()
        if audit and head is not None and head["seq"] > 0:
            raise JournalError(
                f"station {station} already has an audit chain in the shared journal; import this file "
                "under the station name it was written by (--station), before that station uses the line"
            )
        batch_ids: dict[int, int] = {}
        profile_of: dict[int, str] = {}
        for b in batches:
            cur.execute(
                "INSERT INTO batches(station, work_order, profile_name, profile_json, operator,"
                " expected_json, started_at, ended_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                (station, b["work_order"], b["profile_name"], b["profile_json"], b["operator"],
                 b["expected_json"], b["started_at"], b["ended_at"]),
            )  # fmt: skip
            batch_ids[b["id"]] = _id(cur)
            profile_of[b["id"]] = b["profile_name"]
        device_ids: dict[int, int] = {}
        insert_device = _insert("devices", ("batch_id", "station", *_DEVICE_COLUMNS), returning=True)
        for d in devices:
            cur.execute(
                insert_device,
                (batch_ids[d["batch_id"]], station, *(d[c] for c in _DEVICE_COLUMNS)),
            )
            device_ids[d["id"]] = _id(cur)
            if d["state"] == DeviceState.DONE.value and d["serial_number"] and d["kind"] == "enroll":
                cur.execute(
                    "INSERT INTO units(scope, serial_number, done_station, done_at, done_device_id)"
                    " VALUES (%s,%s,%s,%s::timestamptz,%s) ON CONFLICT (scope, serial_number) DO NOTHING",
                    (profile_of[d["batch_id"]], d["serial_number"], station, d["updated_at"],
                     device_ids[d["id"]]),
                )  # fmt: skip
        for t in transitions:
            cur.execute(
                "INSERT INTO transitions(device_id, station, state, step, at, duration_ms)"
                " VALUES (%s,%s,%s,%s,%s,%s)",
                (device_ids[t["device_id"]], station, t["state"], t["step"], t["at"], t["duration_ms"]),
            )
        insert_certificate = _insert("certificates", ("device_id", "station", *_CERT_COLUMNS))
        for c in certificates:
            cur.execute(
                insert_certificate,
                (device_ids[c["device_id"]], station, *(c[k] for k in _CERT_COLUMNS)),
            )
        insert_record = _insert("mes_outbox", ("device_id", "station", *_OUTBOX_COLUMNS))
        for o in outbox:
            cur.execute(
                insert_record + sql.SQL(" ON CONFLICT (key) DO NOTHING"),
                (device_ids[o["device_id"]], station, *(o[k] for k in _OUTBOX_COLUMNS)),
            )
        for u in passcode_uses:
            cur.execute(
                "INSERT INTO passcode_uses(passcode_id, device_id, station, state, reserved_at, issued_at)"
                " VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (passcode_id, device_id) DO NOTHING",
                (u["passcode_id"], device_ids[u["device_id"]], station, u["state"], u["reserved_at"],
                 u["issued_at"]),
            )  # fmt: skip
        for r in audit:
            cur.execute(
                "INSERT INTO audit(station, seq, at, kind, payload, prev_hash, hash)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s)",
                (station, r["seq"], r["at"], r["kind"], r["payload"], r["prev_hash"], r["hash"]),
            )
        if audit:
            cur.execute(
                "INSERT INTO audit_heads(station, seq, hash) VALUES (%s,%s,%s)"
                " ON CONFLICT (station) DO UPDATE SET seq=EXCLUDED.seq, hash=EXCLUDED.hash",
                (station, audit[-1]["seq"], audit[-1]["hash"]),
            )
        cur.execute(
            "INSERT INTO imports(source, station, batches, devices, audit_records) VALUES (%s,%s,%s,%s,%s)",
            (source_key, station, len(batches), len(devices), len(audit)),
        )
        return 1

    done = target._write(work)
    if not done:
        return ImportResult(already=True, batches=0, devices=0, audit_records=0)
    if audit:
        target.audit.checkpoint((audit[-1]["seq"], audit[-1]["hash"]))
    return ImportResult(already=False, batches=len(batches), devices=len(devices), audit_records=len(audit))


def _insert(table: str, columns: tuple[str, ...], *, returning: bool = False) -> sql.Composed:
    query = sql.SQL("INSERT INTO {}({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    return query + sql.SQL(" RETURNING id") if returning else query


def _id(cur: Cursor) -> int:
    row: dict[str, Any] | None = cur.fetchone()
    assert row is not None
    return int(row["id"])
