"""The station journal: SQLite, the single source of truth for batches, devices and certificates.

Every state transition is one committed transaction (WAL, ``synchronous=FULL``)
so a power cut loses at most the transition being written, never one already
announced. The engine talks only to :class:`Journal`; nothing else in Certline
issues SQL, so a shared PostgreSQL for multi-station lines can replace this
module without touching the engine.

Only public material is stored: CSRs, certificates, fingerprints, errors. Never
a passcode or a private key (the engine never hands one to the journal).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.batch.audit import AuditLog
from app.batch.claim_owner import LIVE_OWNERS as _LIVE_OWNERS
from app.batch.claim_owner import claim_owner_alive, new_claim_owner
from app.batch.events import DeviceSnapshot
from app.batch.journal_api import (
    ADDED_DEVICE_COLUMNS,
    AUDITED_STATES,
    UPDATABLE_FIELDS,
    BatchRecord,
    JournalError,
    JournalFull,
    JournalUnavailable,
    SchemaTooNew,
    TransitionRecord,
    snapshot_from_row,
)
from app.batch.states import TERMINAL, DeviceState, check_transition

__all__ = [
    "BatchRecord",
    "Journal",
    "TransitionRecord",
    "claim_owner_alive",
    "new_claim_owner",
    "translate_sqlite_errors",
    "utcnow",
]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    work_order TEXT, profile_name TEXT NOT NULL, profile_json TEXT NOT NULL,
    operator TEXT, station TEXT, expected_json TEXT,
    started_at TEXT NOT NULL, ended_at TEXT
);
CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    serial_number TEXT, model TEXT, firmware TEXT, port TEXT NOT NULL,
    state TEXT NOT NULL, step TEXT NOT NULL,
    started_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    csr_der BLOB, csr_sha256 TEXT,
    cert_serial TEXT, cert_fingerprint TEXT, not_before TEXT, not_after TEXT, issuer TEXT,
    chain_pem TEXT,
    error TEXT, error_code TEXT, failed_step TEXT, retry_at TEXT,
    enroll_attempts INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL DEFAULT 'enroll',
    claimed_by TEXT, claimed_at TEXT
);
CREATE INDEX IF NOT EXISTS devices_serial ON devices(serial_number);
CREATE INDEX IF NOT EXISTS devices_batch ON devices(batch_id);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES devices(id),
    state TEXT NOT NULL, step TEXT NOT NULL, at TEXT NOT NULL, duration_ms INTEGER
);
CREATE INDEX IF NOT EXISTS transitions_device ON transitions(device_id);
CREATE TABLE IF NOT EXISTS certificates (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES devices(id),
    device_serial TEXT, cert_serial TEXT NOT NULL, fingerprint TEXT NOT NULL,
    not_before TEXT NOT NULL, not_after TEXT NOT NULL, issuer TEXT NOT NULL, subject TEXT NOT NULL,
    chain_pem TEXT NOT NULL, operation TEXT NOT NULL, issued_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_device_serial ON certificates(device_serial);
"""

#: Device columns added after the first schema, created on open when an older journal lacks them
#: (names in :data:`app.batch.journal_api.ADDED_DEVICE_COLUMNS`): the CSR exactly as the device
#: sent it (``csr_der`` is the normalised one that was posted) and the certificate a
#: re-provisioning replaced (public material, journaled before anything is deleted).
_ADDED_DEVICE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("csr_received_der", "BLOB"),
    ("csr_received_sha256", "TEXT"),
    ("replaced_chain_pem", "TEXT"),
    ("replaced_sha256", "TEXT"),
)
assert tuple(name for name, _ in _ADDED_DEVICE_COLUMNS) == ADDED_DEVICE_COLUMNS

_UPDATABLE = UPDATABLE_FIELDS


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@contextmanager
def translate_sqlite_errors() -> Iterator[None]:
    """Turn ``sqlite3.Error`` into the backend-neutral journal errors the engine handles."""
    try:
        yield
    except sqlite3.Error as exc:
        text = str(exc)
        code = getattr(exc, "sqlite_errorname", "") or ""
        if code == "SQLITE_FULL" or "disk is full" in text:
            raise JournalFull(f"the station journal is full: {text}") from exc
        if code in ("SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN") or isinstance(
            exc, sqlite3.OperationalError
        ):
            raise JournalUnavailable(f"the station journal cannot be written: {text}") from exc
        raise JournalError(f"station journal error: {text}") from exc


class Journal:
    """Thread-safe access to one station journal file. One connection, serialised by a lock.

    Implements :class:`app.batch.journal_api.JournalBackend` for a single station."""

    shared = False

    def __init__(self, path: Path, *, audit_head: Path | None = None, station: str | None = None) -> None:
        self.path = path
        self.station = station or socket.gethostname()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        with translate_sqlite_errors():
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            present = {row["name"] for row in self._db.execute("PRAGMA table_info(devices)")}
            for name, sql_type in _ADDED_DEVICE_COLUMNS:
                if name not in present:
                    self._db.execute(f"ALTER TABLE devices ADD COLUMN {name} {sql_type}")
            for column in ("claimed_by", "claimed_at"):
                if column not in present:  # a journal written before claims existed
                    self._db.execute(f"ALTER TABLE devices ADD COLUMN {column} TEXT")
            self._db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            found = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if found is not None and int(found["value"]) > SCHEMA_VERSION:
                self._db.close()
                raise SchemaTooNew(
                    f"the journal {path} has schema version {found['value']}, newer than this Certline "
                    f"knows ({SCHEMA_VERSION}): update Certline on this station; it will not write to a "
                    "journal it does not understand"
                )
            head = audit_head if audit_head is not None else path.with_name(path.name + ".audit-head")
            self.audit = AuditLog(self._db, self._lock, head, station=self.station)

    # -- transactions -----------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, translate_sqlite_errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite rolls back by itself on SQLITE_FULL/IOERR; a second ROLLBACK would
                # raise "no transaction is active" and hide the real cause (disk full).
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self.audit.after_rollback()
                raise
            self.audit.after_commit()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, translate_sqlite_errors():
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def describe(self) -> str:
        return str(self.path)

    # -- claims (one station: the engine's own checks are the guard) ------------------------
    def claim_unit(self, scope: str, serial_number: str, *, reprovision: bool = False) -> None:
        """Nothing to do: one station writes this journal, and the engine already refuses a
        serial that is busy on another port or DONE before (see journal_api)."""

    def release_unit(self, scope: str, serial_number: str) -> None:
        """Nothing to release (see :meth:`claim_unit`)."""

    # -- batches ----------------------------------------------------------------------------
    def create_batch(
        self,
        *,
        profile_name: str,
        profile_json: dict[str, Any],
        work_order: str | None = None,
        operator: str | None = None,
        station: str | None = None,
        expected: Sequence[str] | None = None,
    ) -> int:
        now = utcnow()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO batches(work_order, profile_name, profile_json, operator, station,"
                " expected_json, started_at) VALUES (?,?,?,?,?,?,?)",
                (
                    work_order,
                    profile_name,
                    json.dumps(profile_json, sort_keys=True),
                    operator,
                    station,
                    json.dumps(list(expected)) if expected is not None else None,
                    _ts(now),
                ),
            )
            batch_id = int(cur.lastrowid or 0)
            self.audit.append_locked(
                "batch-started",
                {
                    "batch": batch_id,
                    "profile": profile_name,
                    "work_order": work_order,
                    "operator": operator,
                    "station": station,
                },
            )
        return batch_id

    def end_batch(self, batch_id: int) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE batches SET ended_at=? WHERE id=? AND ended_at IS NULL", (_ts(utcnow()), batch_id)
            )
            self.audit.append_locked("batch-ended", {"batch": batch_id})

    def reopen_batch(self, batch_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE batches SET ended_at=NULL WHERE id=?", (batch_id,))

    def batch(self, batch_id: int) -> BatchRecord:
        with self._read():
            row = self._db.execute("SELECT * FROM batches WHERE id=?", (batch_id,)).fetchone()
        if row is None:
            raise KeyError(f"no batch {batch_id} in the journal")
        return _batch_record(row)

    def batches(self, limit: int = 200) -> list[BatchRecord]:
        with self._read():
            rows = self._db.execute("SELECT * FROM batches ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_batch_record(row) for row in rows]

    def unfinished_batches(self) -> list[BatchRecord]:
        with self._read():
            rows = self._db.execute(
                "SELECT DISTINCT b.* FROM batches b LEFT JOIN devices d ON d.batch_id=b.id"
                " WHERE b.ended_at IS NULL OR d.state NOT IN (?,?,?) ORDER BY b.id",
                tuple(s.value for s in TERMINAL),
            ).fetchall()
        return [_batch_record(row) for row in rows]

    # -- devices ----------------------------------------------------------------------------
    def add_device(
        self,
        batch_id: int,
        port: str,
        *,
        detected_at: datetime | None = None,
        then: Sequence[tuple[DeviceState, str]] = (),
        claimed_by: str | None = None,
        **fields: Any,
    ) -> DeviceSnapshot:
        """Insert a device detected on ``port`` and, in the same transaction, the transitions in
        ``then`` (e.g. IDENTIFIED): a crash can never leave a half-registered unit behind.

        ``claimed_by``: the job that found the unit holds its claim from the first moment (see
        :meth:`claim`), so no other job can pick the new row up in between."""
        detected = detected_at or utcnow()
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"unknown device fields {sorted(unknown)}")
        path = [(DeviceState.DETECTED, "detected"), *then]
        for (previous, _), (nxt, _) in zip(path, path[1:], strict=False):
            check_transition(previous, nxt)
        final_state, final_step = path[-1]
        now = utcnow() if then else detected
        if claimed_by is not None:
            fields = {**fields, "claimed_by": claimed_by, "claimed_at": _ts(now)}
            _LIVE_OWNERS.add(claimed_by)
        columns = ["batch_id", "port", "state", "step", "started_at", "updated_at", *fields]
        values = [batch_id, port, final_state.value, final_step, _ts(detected), _ts(now), *fields.values()]
        with self._tx() as db:
            cur = db.execute(
                f"INSERT INTO devices({','.join(columns)}) VALUES ({','.join('?' * len(columns))})",  # noqa: S608 - column names are whitelisted
                values,
            )
            device_id = int(cur.lastrowid or 0)
            for index, (state, step) in enumerate(path):
                at = detected if index == 0 else now
                duration = int((now - detected).total_seconds() * 1000) if index == 0 and then else None
                db.execute(
                    "INSERT INTO transitions(device_id, state, step, at, duration_ms) VALUES (?,?,?,?,?)",
                    (device_id, state.value, step, _ts(at), duration),
                )
                self.audit.append_locked(
                    "device-" + state.value,
                    {
                        "device": device_id,
                        "batch": batch_id,
                        "port": port,
                        "serial": fields.get("serial_number"),
                    },
                )
        return self.device(device_id)

    def transition(self, device_id: int, state: DeviceState, step: str, **fields: Any) -> DeviceSnapshot:
        """Record that ``device_id`` is now in ``state`` doing ``step``; set columns in ``fields``.

        One transaction: device row, transition history (with the time spent in the previous
        entry), and an audit record for states an auditor cares about.
        """
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"unknown device fields {sorted(unknown)}")
        now = utcnow()
        with self._tx() as db:
            row = db.execute(
                "SELECT state, updated_at, serial_number, batch_id FROM devices WHERE id=?", (device_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"no device {device_id} in the journal")
            check_transition(DeviceState(row["state"]), state)
            assignments = ["state=?", "step=?", "updated_at=?"] + [f"{name}=?" for name in fields]
            db.execute(
                f"UPDATE devices SET {', '.join(assignments)} WHERE id=?",  # noqa: S608 - whitelisted
                [state.value, step, _ts(now), *fields.values(), device_id],
            )
            last = db.execute(
                "SELECT id, at FROM transitions WHERE device_id=? ORDER BY id DESC LIMIT 1", (device_id,)
            ).fetchone()
            if last is not None:
                elapsed = now - datetime.fromisoformat(last["at"])
                db.execute(
                    "UPDATE transitions SET duration_ms=? WHERE id=?",
                    (int(elapsed.total_seconds() * 1000), last["id"]),
                )
            db.execute(
                "INSERT INTO transitions(device_id, state, step, at, duration_ms) VALUES (?,?,?,?,NULL)",
                (device_id, state.value, step, _ts(now)),
            )
            if state in _AUDITED or state != DeviceState(row["state"]):
                payload: dict[str, Any] = {
                    "device": device_id,
                    "batch": row["batch_id"],
                    "serial": fields.get("serial_number", row["serial_number"]),
                    "step": step,
                }
                for key in ("cert_serial", "cert_fingerprint", "csr_sha256", "error", "error_code", "port"):
                    if key in fields and fields[key] is not None:
                        payload[key] = fields[key]
                self.audit.append_locked("device-" + state.value, payload)
        return self.device(device_id)

    def set_step(self, device_id: int, step: str, **fields: Any) -> DeviceSnapshot:
        """Update the step text (and fields) without changing state, e.g. "waiting for EST server"."""
        with self._read():
            state = DeviceState(
                self._db.execute("SELECT state FROM devices WHERE id=?", (device_id,)).fetchone()["state"]
            )
        return self.transition(device_id, state, step, **fields)

    # -- the one-job-per-unit claim ---------------------------------------------------------
    def claim(self, device_id: int, owner: str) -> bool:
        """Take the one job slot of a unit; False if another live job holds it.

        This is *the* place that enforces "one job per unit at any time": every job (a port
        worker, a detached enrollment of a collected CSR, a retry of a pending unit) claims the
        unit's row before it journals anything for it and releases it when it ends. Timing,
        threads and ports play no part: two engines, two ports or a port and a background
        enrollment racing for one unit all go through this check-and-set, which runs in one
        ``BEGIN IMMEDIATE`` transaction (a PostgreSQL backend does the same with
        ``UPDATE ... WHERE claimed_by IS NULL OR <holder is dead> RETURNING id``).

        A claim is held by ``owner`` (see :func:`new_claim_owner`: host, process and job). A
        claim left behind by a process that no longer runs (a crash, a kill, a power cut) is
        stale and is taken over; so is one held by the same ``owner`` (re-claiming is a no-op).
        """
        with self._tx() as db:
            row = db.execute("SELECT claimed_by FROM devices WHERE id=?", (device_id,)).fetchone()
            if row is None:
                raise KeyError(f"no device {device_id} in the journal")
            holder = row["claimed_by"]
            if holder is not None and holder != owner and claim_owner_alive(holder):
                return False
            _LIVE_OWNERS.add(owner)  # before the commit: nobody may see this claim as dead
            try:
                db.execute(
                    "UPDATE devices SET claimed_by=?, claimed_at=? WHERE id=?",
                    (owner, _ts(utcnow()), device_id),
                )
            except BaseException:
                _LIVE_OWNERS.discard(owner)
                raise
        return True

    def release(self, device_id: int, owner: str) -> None:
        """Give the unit's claim back (only if ``owner`` still holds it)."""
        with self._tx() as db:
            db.execute(
                "UPDATE devices SET claimed_by=NULL, claimed_at=NULL WHERE id=? AND claimed_by=?",
                (device_id, owner),
            )
        _LIVE_OWNERS.discard(owner)

    def claim_holder(self, device_id: int) -> str | None:
        """Who holds the unit's claim now (None if nobody, or only a dead process did)."""
        with self._lock:
            row = self._db.execute("SELECT claimed_by FROM devices WHERE id=?", (device_id,)).fetchone()
        holder = row["claimed_by"] if row is not None else None
        return holder if holder is not None and claim_owner_alive(holder) else None

    def record_certificate(
        self,
        device_id: int,
        *,
        operation: str,
        chain_pem: str,
        cert_serial: str,
        fingerprint: str,
        not_before: datetime,
        not_after: datetime,
        issuer: str,
        subject: str,
    ) -> None:
        with self._tx() as db:
            row = db.execute("SELECT serial_number FROM devices WHERE id=?", (device_id,)).fetchone()
            db.execute(
                "INSERT INTO certificates(device_id, device_serial, cert_serial, fingerprint, not_before,"
                " not_after, issuer, subject, chain_pem, operation, issued_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    device_id,
                    row["serial_number"],
                    cert_serial,
                    fingerprint,
                    _ts(not_before),
                    _ts(not_after),
                    issuer,
                    subject,
                    chain_pem,
                    operation,
                    _ts(utcnow()),
                ),
            )
            self.audit.append_locked(
                "certificate-" + operation,
                {
                    "device": device_id,
                    "serial": row["serial_number"],
                    "cert_serial": cert_serial,
                    "fingerprint": fingerprint,
                    "not_after": _ts(not_after),
                    "issuer": issuer,
                },
            )

    def append_audit(self, kind: str, payload: dict[str, Any]) -> None:
        """Record an operator action that changes no journal row (e.g. a label reprint) in the audit."""
        with self._tx():
            self.audit.append_locked(kind, payload)

    def device(self, device_id: int) -> DeviceSnapshot:
        with self._read():
            row = self._db.execute("SELECT * FROM devices WHERE id=?", (device_id,)).fetchone()
        if row is None:
            raise KeyError(f"no device {device_id} in the journal")
        return snapshot_from_row(row)

    def device_row(self, device_id: int) -> dict[str, Any]:
        """All columns of one device (CSR bytes and chain included) for the engine and reports."""
        with self._read():
            row = self._db.execute("SELECT * FROM devices WHERE id=?", (device_id,)).fetchone()
        if row is None:
            raise KeyError(f"no device {device_id} in the journal")
        return dict(row)

    def devices(self, batch_id: int | None = None) -> list[DeviceSnapshot]:
        with self._read():
            if batch_id is None:
                rows = self._db.execute("SELECT * FROM devices ORDER BY id").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT * FROM devices WHERE batch_id=? ORDER BY id", (batch_id,)
                ).fetchall()
        return [snapshot_from_row(row) for row in rows]

    def device_rows(self, batch_id: int) -> list[dict[str, Any]]:
        with self._read():
            rows = self._db.execute(
                "SELECT * FROM devices WHERE batch_id=? ORDER BY id", (batch_id,)
            ).fetchall()
        return [dict(row) for row in rows]

    def device_rows_after(self, batch_id: int, after_id: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self._read():
            cursor = self._db.cursor()
            cursor.row_factory = None  # plain tuples: dict(zip()) is ~3x faster than dict(sqlite3.Row)
            rows = cursor.execute(
                "SELECT * FROM devices WHERE batch_id=? AND id>? ORDER BY id LIMIT ?",
                (batch_id, after_id, max(0, int(limit))),
            ).fetchall()
            names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def device_state_counts(self, batch_id: int) -> dict[str, int]:
        with self._read():
            rows = self._db.execute(
                "SELECT state, COUNT(*) AS n FROM devices WHERE batch_id=? GROUP BY state", (batch_id,)
            ).fetchall()
        return {row["state"]: row["n"] for row in rows}

    def unfinished_devices(self, batch_id: int | None = None) -> list[DeviceSnapshot]:
        terminal = tuple(s.value for s in TERMINAL)
        query = "SELECT * FROM devices WHERE state NOT IN (?,?,?)"
        params: tuple[Any, ...] = terminal
        if batch_id is not None:
            query += " AND batch_id=?"
            params = (*terminal, batch_id)
        with self._read():
            rows = self._db.execute(query + " ORDER BY id", params).fetchall()
        return [snapshot_from_row(row) for row in rows]

    def find_unfinished_by_serial(self, serial_number: str) -> DeviceSnapshot | None:
        terminal = tuple(s.value for s in TERMINAL)
        with self._read():
            row = self._db.execute(
                "SELECT * FROM devices WHERE serial_number=? AND state NOT IN (?,?,?)"
                " ORDER BY id DESC LIMIT 1",
                (serial_number, *terminal),
            ).fetchone()
        return snapshot_from_row(row) if row is not None else None

    def find_done_by_serial(self, serial_number: str) -> DeviceSnapshot | None:
        with self._read():
            row = self._db.execute(
                "SELECT * FROM devices WHERE serial_number=? AND state=? ORDER BY id DESC LIMIT 1",
                (serial_number, DeviceState.DONE.value),
            ).fetchone()
        return snapshot_from_row(row) if row is not None else None

    def certificates_for(self, device_serial: str) -> list[dict[str, Any]]:
        with self._read():
            rows = self._db.execute(
                "SELECT * FROM certificates WHERE device_serial=? ORDER BY id", (device_serial,)
            ).fetchall()
        return [dict(row) for row in rows]

    def all_certificates(self) -> list[dict[str, Any]]:
        """The latest certificate of every unit (for the expiry view), newest first."""
        with self._read():
            rows = self._db.execute(
                "SELECT c.* FROM certificates c JOIN (SELECT device_serial, MAX(id) AS id"
                " FROM certificates GROUP BY device_serial) latest ON latest.id=c.id ORDER BY c.not_after"
            ).fetchall()
        return [dict(row) for row in rows]

    def history(self, device_id: int) -> list[TransitionRecord]:
        with self._read():
            rows = self._db.execute(
                "SELECT state, step, at, duration_ms FROM transitions WHERE device_id=? ORDER BY id",
                (device_id,),
            ).fetchall()
        return [
            TransitionRecord(
                DeviceState(r["state"]), r["step"], datetime.fromisoformat(r["at"]), r["duration_ms"]
            )
            for r in rows
        ]

    def transitions_of_batches(self, batch_ids: Sequence[int]) -> list[tuple[int, TransitionRecord]]:
        """(device id, transition) for every unit of ``batch_ids``, in the order they were written.

        Read-only, one query instead of one per device: line statistics read whole work orders.
        """
        ids = json.dumps([int(batch_id) for batch_id in batch_ids])
        with self._lock:
            rows = self._db.execute(
                "SELECT t.device_id, t.state, t.step, t.at, t.duration_ms FROM transitions t"
                " JOIN devices d ON d.id=t.device_id"
                " WHERE d.batch_id IN (SELECT value FROM json_each(?)) ORDER BY t.id",
                (ids,),
            ).fetchall()
        return [
            (
                r["device_id"],
                TransitionRecord(
                    DeviceState(r["state"]), r["step"], datetime.fromisoformat(r["at"]), r["duration_ms"]
                ),
            )
            for r in rows
        ]


_AUDITED = AUDITED_STATES


def _batch_record(row: sqlite3.Row) -> BatchRecord:
    expected = json.loads(row["expected_json"]) if row["expected_json"] else None
    return BatchRecord(
        id=row["id"],
        work_order=row["work_order"],
        profile_name=row["profile_name"],
        profile_json=json.loads(row["profile_json"]),
        operator=row["operator"],
        station=row["station"],
        expected=tuple(expected) if expected is not None else None,
        started_at=datetime.fromisoformat(row["started_at"]),
        ended_at=_parse_ts(row["ended_at"]),
    )
