"""The station journal: SQLite, the single source of truth for batches, devices and certificates.

Every state transition is committed (WAL, ``synchronous=FULL``) before the call
that wrote it returns, so a power cut loses at most the transitions being
written, never one already announced. Writes are *group-committed*: the worker
threads queue their writes, one of them (the leader) runs every queued write in
one transaction and commits once - one fsync of the WAL and one of the audit
head for the whole group instead of two per write.
Every caller still blocks until its own write is durable, so the rule "journal
before side effect" holds unchanged. Reads use a second connection: in WAL mode
they see every committed write and never wait for a commit's fsync.

The engine talks only to :class:`Journal`; nothing else in Certline issues SQL,
so a shared PostgreSQL for multi-station lines can replace this module without
touching the engine.

Only public material is stored: CSRs, certificates, fingerprints, errors. Never
a passcode or a private key (the engine never hands one to the journal).
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from certline.app.batch import journal_report_sqlite as report_sql
from certline.app.batch import report_entry
from certline.app.batch.audit import AuditLog
from certline.app.batch.claim_owner import LIVE_OWNERS as _LIVE_OWNERS
from certline.app.batch.claim_owner import claim_owner_alive, new_claim_owner
from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.journal_api import (
    ADDED_DEVICE_COLUMNS,
    AUDITED_STATES,
    UPDATABLE_FIELDS,
    BatchRecord,
    JournalError,
    JournalFull,
    JournalUnavailable,
    PasscodeUsage,
    SchemaTooNew,
    StepChange,
    TransitionRecord,
    snapshot_from_row,
)
from certline.app.batch.mes_record import (
    MES_BACKLOG_SQL,
    MES_OUTCOMES,
    MesBacklog,
    OutboxRecord,
    build_record,
    channel_column,
    new_key,
)
from certline.app.batch.states import TERMINAL, DeviceState, check_transition

__all__ = [
    "BatchRecord",
    "Journal",
    "TransitionRecord",
    "claim_owner_alive",
    "new_claim_owner",
    "translate_sqlite_errors",
    "utcnow",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: the latest certificate of each unit whose row is DONE (written and verified): what it holds
_SELECT_HELD_CERTIFICATES = (
    "SELECT c.* FROM certificates c JOIN (SELECT c2.device_serial, MAX(c2.id) AS id FROM certificates c2"
    " JOIN devices d ON d.id=c2.device_id WHERE d.state=? GROUP BY c2.device_serial) latest"
    " ON latest.id=c.id ORDER BY c.not_after"
)

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
CREATE INDEX IF NOT EXISTS devices_batch_state ON devices(batch_id, state);
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
-- MES outbox: one record per unit that reached DONE or FAILED, written in that transition's own
-- transaction (app/batch/mes_record.py); delivered per channel by app/mes (docs/mes.md)
CREATE TABLE IF NOT EXISTS mes_outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    device_id INTEGER NOT NULL REFERENCES devices(id),
    station TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at TEXT NOT NULL,
    record_json TEXT NOT NULL,
    folder_delivered_at TEXT,
    http_delivered_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_attempt_at TEXT
);
CREATE INDEX IF NOT EXISTS mes_outbox_station ON mes_outbox(station, id);
-- Uses of a passcode, by its non-secret id (never the passcode): one row per unit that was sent
-- (or is about to be sent) with it; 'reserved' until the answer, 'issued' once it paid.
CREATE TABLE IF NOT EXISTS passcode_uses (
    passcode_id TEXT NOT NULL,
    device_id INTEGER NOT NULL REFERENCES devices(id),
    station TEXT,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'issued')),
    reserved_at TEXT NOT NULL, issued_at TEXT,
    PRIMARY KEY (passcode_id, device_id)
);
"""

#: Device columns added after the first schema, created on open when an older journal lacks them
#: (names in :data:`certline.app.batch.journal_api.ADDED_DEVICE_COLUMNS`): the CSR exactly as the device
#: sent it (``csr_der`` is the normalised one that was posted) and the certificate a
#: re-provisioning replaced (public material, journaled before anything is deleted); the unit's
#: label as scanned (scan-in; PostgreSQL migration 6).
_ADDED_DEVICE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("csr_received_der", "BLOB"),
    ("csr_received_sha256", "TEXT"),
    ("replaced_chain_pem", "TEXT"),
    ("replaced_sha256", "TEXT"),
    ("scanned_label", "TEXT"),
)
assert tuple(name for name, _ in _ADDED_DEVICE_COLUMNS) == ADDED_DEVICE_COLUMNS

_UPDATABLE = UPDATABLE_FIELDS

#: what a transition needs to know, in one statement: the unit's state and its latest transition
#: (whose duration the new one closes)
_CURRENT_WITH_LAST_TRANSITION = (
    "SELECT d.state, d.serial_number, d.batch_id, t.id AS last_id, t.at AS last_at FROM devices d"
    " LEFT JOIN transitions t ON t.id=(SELECT MAX(id) FROM transitions WHERE device_id=d.id)"
    " WHERE d.id=?"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def journal_error(exc: sqlite3.Error) -> JournalError:
    """The backend-neutral journal error for ``exc`` (chained to it)."""
    text = str(exc)
    code = getattr(exc, "sqlite_errorname", "") or ""
    error: JournalError
    if code == "SQLITE_FULL" or "disk is full" in text:
        error = JournalFull(f"the station journal is full: {text}")
    elif code in ("SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN") or isinstance(
        exc, sqlite3.OperationalError
    ):
        error = JournalUnavailable(f"the station journal cannot be written: {text}")
    else:
        error = JournalError(f"station journal error: {text}")
    error.__cause__ = exc
    return error


@contextmanager
def translate_sqlite_errors() -> Iterator[None]:
    """Turn ``sqlite3.Error`` into the backend-neutral journal errors the engine handles."""
    try:
        yield
    except sqlite3.Error as exc:
        raise journal_error(exc) from exc


T = TypeVar("T")


class _QueuedWrite:
    """One caller's write waiting for (or done by) a group commit.

    ``wake`` is released exactly once while the caller waits: when its write is done, or when
    it is handed the leadership of the queue. Only that caller is woken; a condition variable
    notified for every commit would wake every waiting port worker each time (dozens of
    threads re-taking the interpreter lock to find their write still pending)."""

    __slots__ = ("done", "error", "promoted", "result", "wake", "work")

    def __init__(self, work: Callable[[sqlite3.Connection], Any]) -> None:
        self.work = work
        self.done = False
        self.promoted = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.wake = threading.Lock()
        self.wake.acquire()

    def fail(self, exc: BaseException) -> None:
        self.error = journal_error(exc) if isinstance(exc, sqlite3.Error) else exc
        self.done = True


class Journal:
    """Thread-safe access to one station journal file.

    Two connections: the writer (``_db``, guarded by ``_lock``, used only by the group commit
    and the audit chain) and the reader (``_reader``, guarded by ``_read_lock``). Implements
    :class:`certline.app.batch.journal_api.JournalBackend` for a single station."""

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
            self._read_lock = threading.Lock()
            self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self._reader.row_factory = sqlite3.Row
            self._reader.execute("PRAGMA query_only=ON")
        self._queue: list[_QueuedWrite] = []
        self._queue_lock = threading.Lock()
        self._committing = False
        # whether this SQLite quotes JSON and CSV fields as Python does: probed at the first
        # export, not at every open (start-up pays nothing for a feature it may not use)
        self._sql_report: bool | None = None
        self._sql_csv: bool | None = None
        self._unfinished: list[_QueuedWrite] = []
        self._committed: list[_QueuedWrite] = []
        self.group_commits = 0
        """Transactions committed so far (with :attr:`grouped_writes`: how well writes group)."""
        self.grouped_writes = 0

    # -- transactions: group commit ---------------------------------------------------------
    def _commit(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(db)`` in a transaction and return its result once that is durable.

        The caller queues its write. If no leader is committing, it becomes the leader and
        commits everything queued so far (its own write and other threads') in one transaction;
        otherwise it sleeps until its write is done or the finishing leader hands it the queue.
        Either way it returns only after the COMMIT of its write (``synchronous=FULL``: the WAL
        is fsynced) and an audit head naming it (or a later record) are on disk. An exception
        from ``work`` (or the commit) is raised here, in the caller's thread, and never costs
        another caller its write.
        """
        item = _QueuedWrite(work)
        with self._queue_lock:
            self._queue.append(item)
            leading = not self._committing
            if leading:
                self._committing = True
                item.promoted = True
        if not leading:
            try:
                item.wake.acquire()
            except BaseException:
                self._withdraw(item)  # interrupted while waiting (KeyboardInterrupt, main thread)
                raise
        if not item.done:
            self._lead_queue(item)
        if item.error is not None:
            raise item.error
        return item.result

    def _lead_queue(self, leader: _QueuedWrite) -> None:
        """Commit everything queued (``leader``'s write included), wake the group's callers and
        hand the queue on to the first write that arrived meanwhile."""
        with self._queue_lock:
            group, self._queue = self._queue, []
        try:
            self._lead(group)
        except BaseException:
            # interrupted while leading (KeyboardInterrupt on the main thread): what was
            # committed is done; the other callers' unfinished writes go back to the queue
            with self._queue_lock:
                self._queue[:0] = [w for w in self._unfinished if w is not leader]
            self._unfinished = []
            self._wake_done(group, leader)
            self._hand_on()
            raise
        self._wake_done(group, leader)
        self._hand_on()

    @staticmethod
    def _wake_done(group: list[_QueuedWrite], leader: _QueuedWrite) -> None:
        for write in group:
            if write.done and write is not leader:
                write.wake.release()

    def _hand_on(self) -> None:
        """Make the oldest queued write's caller the next leader, or end the commit run."""
        with self._queue_lock:
            if not self._queue:
                self._committing = False
                return
            successor = self._queue[0]
            successor.promoted = True
        successor.wake.release()

    def _withdraw(self, item: _QueuedWrite) -> None:
        """A waiting caller was interrupted: take its write back if no leader took it yet, and
        pass the queue on if it had just been made the leader."""
        with self._queue_lock:
            queued = any(w is item for w in self._queue)
            if queued:
                self._queue = [w for w in self._queue if w is not item]
            if not (queued and item.promoted):
                return
        self._hand_on()

    def _lead(self, group: list[_QueuedWrite]) -> None:
        """The leader's job: every write of ``group`` committed (or failed) when this returns.

        The leader holds ``_lock`` for the transaction and for the audit head's fsync after it.
        (Handing leadership on before the head sync, to overlap it with the next group's
        transaction, was measured and is slower: the next group starts with one or two writes
        instead of everything that queued up during the sync, so there are more fsyncs in all.)
        """
        with self._lock:
            self._committed = []
            try:
                durable = self._commit_rounds(group)
            except BaseException:
                # an interrupt (main thread): what was committed is done, the rest is run again
                self._abort()
                for write in self._committed:
                    write.done = True
                self._unfinished = [w for w in group if not w.done]
                raise
            head = self.audit.take_head() if durable else None
            try:
                if head is not None:
                    self.audit.persist_head(head)
            except OSError as exc:
                for write in durable:
                    error = JournalUnavailable(f"the station journal's audit head cannot be written: {exc}")
                    error.__cause__ = exc
                    write.error = error
            finally:
                for write in durable:
                    write.done = True

    def _commit_rounds(self, group: list[_QueuedWrite]) -> list[_QueuedWrite]:
        """Commit ``group`` (caller holds ``_lock``); returns the writes now durable.

        All writes run in one transaction, without a savepoint each (two statements saved per
        write, and failures are rare). When one raises, the transaction is rolled back, that
        write fails with its error, and the others run again in a new transaction: each write's
        outcome is its own, whatever else was queued with it.
        """
        db = self._db
        pending = group
        while pending:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                for write in pending:
                    write.fail(exc)
                return []
            for index, write in enumerate(pending):
                try:
                    write.result = write.work(db)
                except Exception as exc:  # noqa: BLE001 - it belongs to the write's caller, raised there
                    write.fail(exc)
                    self._abort()
                    pending = pending[:index] + pending[index + 1 :]
                    break
            else:
                try:
                    db.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._abort()
                    for write in pending:
                        write.fail(exc)
                    return []
                self._committed = pending
                self.group_commits += 1
                self.grouped_writes += len(pending)
                return pending
        return []

    def _abort(self) -> None:
        """End a transaction that will not be committed. SQLite may have rolled it back by itself
        (SQLITE_FULL, I/O error); a second ROLLBACK would only hide that cause."""
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                log.warning("rollback of the station journal failed", exc_info=True)
        self.audit.after_rollback()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._read_lock, translate_sqlite_errors():
            yield self._reader

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with self._read_lock:
            self._reader.close()

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

        def work(db: sqlite3.Connection) -> int:
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

        return self._commit(work)

    def end_batch(self, batch_id: int) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE batches SET ended_at=? WHERE id=? AND ended_at IS NULL", (_ts(utcnow()), batch_id)
            )
            self.audit.append_locked("batch-ended", {"batch": batch_id})

        self._commit(work)

    def reopen_batch(self, batch_id: int) -> None:
        self._commit(lambda db: db.execute("UPDATE batches SET ended_at=NULL WHERE id=?", (batch_id,)))

    def batch(self, batch_id: int) -> BatchRecord:
        with self._read() as db:
            row = db.execute("SELECT * FROM batches WHERE id=?", (batch_id,)).fetchone()
        if row is None:
            raise KeyError(f"no batch {batch_id} in the journal")
        return _batch_record(row)

    def batches(self, limit: int = 200) -> list[BatchRecord]:
        with self._read() as db:
            rows = db.execute("SELECT * FROM batches ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_batch_record(row) for row in rows]

    def unfinished_batches(self) -> list[BatchRecord]:
        with self._read() as db:
            rows = db.execute(
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
        :meth:`claim`), so no other job can pick the new row up in between.

        The snapshot returned is the row as inserted (``RETURNING``), not read back afterwards."""
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

        def work(db: sqlite3.Connection) -> DeviceSnapshot:
            row = db.execute(
                f"INSERT INTO devices({','.join(columns)}) VALUES ({','.join('?' * len(columns))})"  # noqa: S608 - column names are whitelisted
                " RETURNING *",
                values,
            ).fetchall()[0]
            device_id = int(row["id"])
            for index, (state, step) in enumerate(path):
                at = detected if index == 0 else now
                duration = int((now - detected).total_seconds() * 1000) if index == 0 and then else None
                db.execute(
                    "INSERT INTO transitions(device_id, state, step, at, duration_ms) VALUES (?,?,?,?,?)",
                    (device_id, state.value, step, _ts(at), duration),
                )
                audited = self.audit.append_locked(
                    "device-" + state.value,
                    {
                        "device": device_id,
                        "batch": batch_id,
                        "port": port,
                        "serial": fields.get("serial_number"),
                    },
                )
            if final_state in MES_OUTCOMES:
                self._queue_mes_record(db, device_id, final_state, now, audited)
            return snapshot_from_row(row)

        return self._commit(work)

    def transition(self, device_id: int, state: DeviceState, step: str, **fields: Any) -> DeviceSnapshot:
        """Record that ``device_id`` is now in ``state`` doing ``step``; set columns in ``fields``.

        One transaction: device row, transition history (with the time spent in the previous
        entry), and an audit record for states an auditor cares about. The snapshot returned is
        the row as updated (``RETURNING``), not read back afterwards.
        """
        return self._change(device_id, state, step, fields)

    def set_step(self, device_id: int, step: str, **fields: Any) -> DeviceSnapshot:
        """Update the step text (and fields) without changing state, e.g. "waiting for EST server"."""
        return self._change(device_id, None, step, fields)

    def advance(self, device_id: int, changes: Sequence[StepChange]) -> list[DeviceSnapshot]:
        """Several transitions (or step texts) of one unit in one transaction, in order; the
        snapshot after each. For changes with no side effect between them (a state and
        the step that starts right after it), so a unit waits for one durable write, not two."""
        if not changes:
            raise ValueError("advance needs at least one change")
        works = [self._change_work(device_id, c.state, c.step, dict(c.fields)) for c in changes]
        return self._commit(lambda db: [each(db) for each in works])

    def _change(
        self, device_id: int, state: DeviceState | None, step: str, fields: dict[str, Any]
    ) -> DeviceSnapshot:
        """A transition to ``state`` (None: stay in the current state, read in the same transaction)."""
        return self._commit(self._change_work(device_id, state, step, fields))

    def _change_work(
        self, device_id: int, state: DeviceState | None, step: str, fields: dict[str, Any]
    ) -> Callable[[sqlite3.Connection], DeviceSnapshot]:
        """The transaction step of :meth:`_change` (checked before anything is queued)."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"unknown device fields {sorted(unknown)}")
        assignments = ", ".join(["state=?", "step=?", "updated_at=?"] + [f"{name}=?" for name in fields])
        update = f"UPDATE devices SET {assignments} WHERE id=? RETURNING *"  # noqa: S608 - whitelisted

        def work(db: sqlite3.Connection) -> DeviceSnapshot:
            now = utcnow()
            row = db.execute(_CURRENT_WITH_LAST_TRANSITION, (device_id,)).fetchone()
            if row is None:
                raise KeyError(f"no device {device_id} in the journal")
            current = DeviceState(row["state"])
            new = current if state is None else state
            check_transition(current, new)
            values = [new.value, step, _ts(now), *fields.values(), device_id]
            written = db.execute(update, values).fetchall()[0]
            if row["last_id"] is not None:
                elapsed = now - datetime.fromisoformat(row["last_at"])
                db.execute(
                    "UPDATE transitions SET duration_ms=? WHERE id=?",
                    (int(elapsed.total_seconds() * 1000), row["last_id"]),
                )
            db.execute(
                "INSERT INTO transitions(device_id, state, step, at, duration_ms) VALUES (?,?,?,?,NULL)",
                (device_id, new.value, step, _ts(now)),
            )
            if new in _AUDITED or new != current:
                payload: dict[str, Any] = {
                    "device": device_id,
                    "batch": row["batch_id"],
                    "serial": fields.get("serial_number", row["serial_number"]),
                    "step": step,
                }
                for key in ("cert_serial", "cert_fingerprint", "csr_sha256", "error", "error_code", "port"):
                    if key in fields and fields[key] is not None:
                        payload[key] = fields[key]
                audited = self.audit.append_locked("device-" + new.value, payload)
                if new in MES_OUTCOMES and new != current:
                    self._queue_mes_record(db, device_id, new, now, audited)
            return snapshot_from_row(written)

        return work

    def _queue_mes_record(
        self,
        db: sqlite3.Connection,
        device_id: int,
        state: DeviceState,
        now: datetime,
        audited: tuple[int, str],
    ) -> None:
        """Queue the unit's MES record in the caller's transaction (the DONE/FAILED transition's)."""
        device = db.execute("SELECT * FROM devices WHERE id=?", (device_id,)).fetchone()
        batch = db.execute("SELECT * FROM batches WHERE id=?", (device["batch_id"],)).fetchone()
        key = new_key()
        body = build_record(
            key=key,
            device=dict(device),
            batch=dict(batch),
            outcome=state,
            station=self.station,
            finished_at=now,
            audit_seq=audited[0],
            audit_hash=audited[1],
        )
        db.execute(
            "INSERT INTO mes_outbox(key, device_id, station, outcome, created_at, record_json)"
            " VALUES (?,?,?,?,?,?)",
            (key, device_id, self.station, state.value, _ts(now), body),
        )

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

        marked = False

        def work(db: sqlite3.Connection) -> bool:
            nonlocal marked
            row = db.execute("SELECT claimed_by FROM devices WHERE id=?", (device_id,)).fetchone()
            if row is None:
                raise KeyError(f"no device {device_id} in the journal")
            holder = row["claimed_by"]
            if holder is not None and holder != owner and claim_owner_alive(holder):
                return False
            _LIVE_OWNERS.add(owner)  # before the commit: nobody may see this claim as dead
            marked = True
            db.execute(
                "UPDATE devices SET claimed_by=?, claimed_at=? WHERE id=?",
                (owner, _ts(utcnow()), device_id),
            )
            return True

        try:
            return self._commit(work)
        except BaseException:
            if marked:
                _LIVE_OWNERS.discard(owner)
            raise

    def release(self, device_id: int, owner: str) -> None:
        """Give the unit's claim back (only if ``owner`` still holds it)."""
        self._commit(
            lambda db: db.execute(
                "UPDATE devices SET claimed_by=NULL, claimed_at=NULL WHERE id=? AND claimed_by=?",
                (device_id, owner),
            )
        )
        _LIVE_OWNERS.discard(owner)

    def claim_holder(self, device_id: int) -> str | None:
        """Who holds the unit's claim now (None if nobody, or only a dead process did)."""
        with self._read() as db:
            row = db.execute("SELECT claimed_by FROM devices WHERE id=?", (device_id,)).fetchone()
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
        then: Sequence[StepChange] = (),
        passcode_paid: str | None = None,
    ) -> list[DeviceSnapshot]:
        """Journal an issued certificate, and the unit's ``then`` changes in the same transaction
        (ISSUED: one durable write instead of two); ``passcode_paid``: the passcode whose reserved
        use this certificate spent, settled in the same transaction. The snapshot after each of
        ``then``."""
        changes = [self._change_work(device_id, c.state, c.step, dict(c.fields)) for c in then]

        settle = None if passcode_paid is None else self._settle_work(passcode_paid, device_id, issued=True)

        def work(db: sqlite3.Connection) -> list[DeviceSnapshot]:
            if settle is not None:
                settle(db)
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
            return [change(db) for change in changes]

        return self._commit(work)

    def append_audit(self, kind: str, payload: dict[str, Any]) -> None:
        """Record an operator action that changes no journal row (e.g. a label reprint) in the audit."""
        self._commit(lambda _db: self.audit.append_locked(kind, payload))

    # -- the MES outbox (see app/batch/mes_record.py) ------------------------------------------
    # One station writes this journal: every record in it is this station's to deliver, also those
    # written before the station was renamed (the row's station column says who wrote it).
    def mes_pending(self, channel: str, limit: int = 100) -> list[OutboxRecord]:
        column = channel_column(channel)
        with self._read() as db:
            rows = db.execute(
                f"SELECT * FROM mes_outbox WHERE {column} IS NULL ORDER BY id LIMIT ?",  # noqa: S608 - whitelisted
                (limit,),
            ).fetchall()
        return [_outbox_record(row) for row in rows]

    def mes_mark_delivered(self, key: str, channel: str) -> None:
        column = channel_column(channel)
        self._commit(
            lambda db: db.execute(
                f"UPDATE mes_outbox SET {column}=?, last_error=NULL WHERE key=? AND {column} IS NULL",  # noqa: S608 - whitelisted
                (_ts(utcnow()), key),
            )
        )

    def mes_note_failure(self, key: str, channel: str, error: str) -> None:
        channel_column(channel)
        self._commit(
            lambda db: db.execute(
                "UPDATE mes_outbox SET attempts=attempts+1, last_error=?, last_attempt_at=? WHERE key=?",
                (f"{channel}: {error}", _ts(utcnow()), key),
            )
        )

    def mes_backlog(self, channels: Sequence[str]) -> MesBacklog:
        if not channels:
            return MesBacklog(0)
        condition = " OR ".join(f"{channel_column(c)} IS NULL" for c in channels)
        with self._read() as db:
            row = db.execute(MES_BACKLOG_SQL.format(scope="1=1", condition=condition)).fetchone()
        return _backlog(row)

    # -- passcode uses ---------------------------------------------------------------------------
    def reserve_passcode_use(self, passcode_id: str, device_id: int, *, max_uses: int | None) -> bool:
        """See :meth:`JournalBackend.reserve_passcode_use`; check and insert in one write transaction."""
        return self._commit(self._reserve_work(passcode_id, device_id, max_uses))

    def advance_reserving(
        self, device_id: int, changes: Sequence[StepChange], *, passcode_id: str, max_uses: int | None
    ) -> list[DeviceSnapshot] | None:
        """See :meth:`JournalBackend.advance_reserving`: the reservation and the changes in one
        transaction, or nothing written when the passcode's uses are spent."""
        if not changes:
            raise ValueError("advance_reserving needs at least one change")
        reserve = self._reserve_work(passcode_id, device_id, max_uses)
        works = [self._change_work(device_id, c.state, c.step, dict(c.fields)) for c in changes]

        def work(db: sqlite3.Connection) -> list[DeviceSnapshot] | None:
            if not reserve(db):
                return None  # the check wrote nothing
            return [each(db) for each in works]

        return self._commit(work)

    def _reserve_work(
        self, passcode_id: str, device_id: int, max_uses: int | None
    ) -> Callable[[sqlite3.Connection], bool]:
        def work(db: sqlite3.Connection) -> bool:
            mine = db.execute(
                "SELECT 1 FROM passcode_uses WHERE passcode_id=? AND device_id=?", (passcode_id, device_id)
            ).fetchone()
            if mine is not None:
                return True
            spent = db.execute(
                "SELECT COUNT(*) FROM passcode_uses WHERE passcode_id=?", (passcode_id,)
            ).fetchone()[0]
            if max_uses is not None and spent >= max_uses:
                return False
            db.execute(
                "INSERT INTO passcode_uses(passcode_id, device_id, station, state, reserved_at)"
                " VALUES (?,?,?,'reserved',?)",
                (passcode_id, device_id, self.station, _ts(utcnow())),
            )
            return True

        return work

    def settle_passcode_use(self, passcode_id: str, device_id: int, *, issued: bool) -> None:
        self._commit(self._settle_work(passcode_id, device_id, issued=issued))

    @staticmethod
    def _settle_work(
        passcode_id: str, device_id: int, *, issued: bool
    ) -> Callable[[sqlite3.Connection], None]:
        def work(db: sqlite3.Connection) -> None:
            if issued:
                db.execute(
                    "UPDATE passcode_uses SET state='issued', issued_at=?"
                    " WHERE passcode_id=? AND device_id=?",
                    (_ts(utcnow()), passcode_id, device_id),
                )
            else:
                db.execute(
                    "DELETE FROM passcode_uses WHERE passcode_id=? AND device_id=? AND state='reserved'",
                    (passcode_id, device_id),
                )

        return work

    def passcode_usage(self, passcode_id: str) -> PasscodeUsage:
        with self._read() as db:
            row = db.execute(
                "SELECT COALESCE(SUM(state='issued'), 0), COALESCE(SUM(state='reserved'), 0)"
                " FROM passcode_uses WHERE passcode_id=?",
                (passcode_id,),
            ).fetchone()
        return PasscodeUsage(passcode_id, issued=int(row[0]), in_flight=int(row[1]))

    def device(self, device_id: int) -> DeviceSnapshot:
        with self._read() as db:
            row = db.execute("SELECT * FROM devices WHERE id=?", (device_id,)).fetchone()
        if row is None:
            raise KeyError(f"no device {device_id} in the journal")
        return snapshot_from_row(row)

    def device_row(self, device_id: int) -> dict[str, Any]:
        """All columns of one device (CSR bytes and chain included) for the engine and reports."""
        with self._read() as db:
            row = db.execute("SELECT * FROM devices WHERE id=?", (device_id,)).fetchone()
        if row is None:
            raise KeyError(f"no device {device_id} in the journal")
        return dict(row)

    def devices(self, batch_id: int | None = None) -> list[DeviceSnapshot]:
        with self._read() as db:
            if batch_id is None:
                rows = db.execute("SELECT * FROM devices ORDER BY id").fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM devices WHERE batch_id=? ORDER BY id", (batch_id,)
                ).fetchall()
        return [snapshot_from_row(row) for row in rows]

    def failed_devices(self, batch_id: int) -> list[DeviceSnapshot]:
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM devices WHERE batch_id=? AND state=? ORDER BY id",
                (batch_id, DeviceState.FAILED.value),
            ).fetchall()
        return [snapshot_from_row(row) for row in rows]

    def device_rows(self, batch_id: int) -> list[dict[str, Any]]:
        with self._read() as db:
            rows = db.execute("SELECT * FROM devices WHERE batch_id=? ORDER BY id", (batch_id,)).fetchall()
        return [dict(row) for row in rows]

    def device_rows_after(self, batch_id: int, after_id: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self._read() as db:
            cursor = db.cursor()
            cursor.row_factory = None  # plain tuples: dict(zip()) is ~3x faster than dict(sqlite3.Row)
            rows = cursor.execute(
                "SELECT * FROM devices WHERE batch_id=? AND id>? ORDER BY id LIMIT ?",
                (batch_id, after_id, max(0, int(limit))),
            ).fetchall()
            names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def device_report_json_after(
        self, batch_id: int, after_id: int = 0, limit: int = 1000
    ) -> list[tuple[int, str]]:
        if self._sql_report is None:
            with self._read() as db:
                self._sql_report = report_sql.sql_quotes_like_python(db)
        if not self._sql_report:  # this SQLite quotes differently: every entry made in Python
            return [
                (row["id"], report_entry.entry_json(report_entry.entry_from_row(row)))
                for row in self.device_rows_after(batch_id, after_id, limit)
            ]
        with self._read() as db:
            return report_sql.json_page(db, batch_id, after_id, max(0, int(limit)))

    def device_report_csv_after(
        self, batch_id: int, after_id: int = 0, limit: int = 1000
    ) -> list[tuple[int, str]]:
        with self._read() as db:
            if self._sql_csv is None:
                self._sql_csv = report_sql.sql_csv_like_python(db)
            if not self._sql_csv:  # this SQLite or Python writes CSV fields differently
                return report_sql.csv_page_in_python(db, batch_id, after_id, max(0, int(limit)))
            return report_sql.csv_page(db, batch_id, after_id, max(0, int(limit)))

    def device_state_counts(self, batch_id: int) -> dict[str, int]:
        with self._read() as db:
            rows = db.execute(
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
        with self._read() as db:
            rows = db.execute(query + " ORDER BY id", params).fetchall()
        return [snapshot_from_row(row) for row in rows]

    def find_unfinished_by_serial(self, serial_number: str) -> DeviceSnapshot | None:
        terminal = tuple(s.value for s in TERMINAL)
        with self._read() as db:
            row = db.execute(
                "SELECT * FROM devices WHERE serial_number=? AND state NOT IN (?,?,?)"
                " ORDER BY id DESC LIMIT 1",
                (serial_number, *terminal),
            ).fetchone()
        return snapshot_from_row(row) if row is not None else None

    def find_done_by_serial(self, serial_number: str) -> DeviceSnapshot | None:
        with self._read() as db:
            row = db.execute(
                "SELECT * FROM devices WHERE serial_number=? AND state=? ORDER BY id DESC LIMIT 1",
                (serial_number, DeviceState.DONE.value),
            ).fetchone()
        return snapshot_from_row(row) if row is not None else None

    def certificates_for(self, device_serial: str) -> list[dict[str, Any]]:
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM certificates WHERE device_serial=? ORDER BY id", (device_serial,)
            ).fetchall()
        return [dict(row) for row in rows]

    def all_certificates(self) -> list[dict[str, Any]]:
        """The certificate every unit holds: the latest one written and verified (its row DONE),
        soonest expiry first (the expiry view). An issued certificate not yet written (a renewal
        cut off, one that expired first) is not what the unit holds, and is left out."""
        with self._read() as db:
            rows = db.execute(_SELECT_HELD_CERTIFICATES, (DeviceState.DONE.value,)).fetchall()
        return [dict(row) for row in rows]

    def history(self, device_id: int) -> list[TransitionRecord]:
        with self._read() as db:
            rows = db.execute(
                "SELECT state, step, at, duration_ms FROM transitions WHERE device_id=? ORDER BY id",
                (device_id,),
            ).fetchall()
        return [
            TransitionRecord(
                DeviceState(r["state"]), r["step"], datetime.fromisoformat(r["at"]), r["duration_ms"]
            )
            for r in rows
        ]

    def finished_serials(self, work_order: str) -> set[str]:
        with self._read() as db:
            rows = db.execute(
                "SELECT DISTINCT d.serial_number FROM devices d JOIN batches b ON b.id=d.batch_id"
                " WHERE b.work_order=? AND d.state IN (?, ?) AND d.serial_number IS NOT NULL",
                (work_order, DeviceState.DONE.value, DeviceState.SKIPPED.value),
            ).fetchall()
        return {r["serial_number"] for r in rows}

    def transitions_of_batches(self, batch_ids: Sequence[int]) -> list[tuple[int, TransitionRecord]]:
        """(device id, transition) for every unit of ``batch_ids``, in the order they were written.

        Read-only, one query instead of one per device: line statistics read whole work orders.
        """
        ids = json.dumps([int(batch_id) for batch_id in batch_ids])
        with self._read() as db:
            rows = db.execute(
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


def _outbox_record(row: sqlite3.Row) -> OutboxRecord:
    return OutboxRecord(
        key=row["key"],
        device_id=row["device_id"],
        outcome=row["outcome"],
        created_at=datetime.fromisoformat(row["created_at"]),
        body=row["record_json"],
        attempts=row["attempts"],
        last_error=row["last_error"],
    )


def _backlog(row: Any) -> MesBacklog:
    if row is None or not row["waiting"]:
        return MesBacklog(0)
    return MesBacklog(int(row["waiting"]), _parse_ts(row["oldest"]), row["last_error"])


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
