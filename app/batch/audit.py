"""Append-only audit log, each record chained to the previous one by SHA-256.

Records live in the journal database (table ``audit``) and are written in the
same transaction as the change they describe, so the audit log can never miss
or invent a transition. Each record's hash covers its content and the previous
record's hash; editing or deleting any record breaks the chain. A sidecar
*head* file (sequence number and hash of the last record, fsynced after each
commit) catches deletion of the newest records, which a chain alone cannot.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from certline.app.batch.journal_api import AuditVerdict

__all__ = ["GENESIS", "AuditLog", "AuditVerdict", "record_hash", "verify_chain"]

GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL
);
"""


def record_hash(prev_hash: str, seq: int, at: str, kind: str, payload: str) -> str:
    material = json.dumps([prev_hash, seq, at, kind, payload], separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def with_operator(
    payload: dict[str, Any], operator_of: Callable[[dict[str, Any]], str | None]
) -> dict[str, Any]:
    """``payload`` with an ``operator`` key: kept when the caller named one, else looked up.

    Shared by both journals, so every audit record says who was in charge of what it records
    (issue 19, roles): a unit's transitions name the operator of its batch."""
    if payload.get("operator"):
        return payload
    return {**payload, "operator": operator_of(payload)}


def verify_chain(rows: list[dict[str, Any]]) -> list[str]:
    """Every problem of one chain (rows in ``seq`` order): a missing record, a broken link,
    an edited record. Shared by the SQLite log and the per-station chains in PostgreSQL."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    for row in rows:
        if row["seq"] != expected_seq:
            problems.append(f"record {expected_seq} is missing (next present is {row['seq']})")
        if row["prev_hash"] != prev:
            problems.append(f"record {row['seq']} does not link to the record before it")
        if record_hash(row["prev_hash"], row["seq"], row["at"], row["kind"], row["payload"]) != row["hash"]:
            problems.append(f"record {row['seq']} was edited (its hash does not match its content)")
        prev = row["hash"]
        expected_seq = row["seq"] + 1
    return problems


# The head file: two fixed-size slots written in place, alternately, each with its own CRC.
# Replacing a whole file (write a temporary file, fsync it, rename it over the old one) costs
# a file-system metadata commit on every group commit; overwriting one slot of an existing file
# and ``fdatasync`` writes one data block. A write torn by a power cut damages only the slot
# being written: the other still holds the previous head, an older but consistent checkpoint,
# and the reader takes the newest slot whose CRC matches. A head file in the first format (one
# JSON object) is still read, and replaced by the slot format on the next write.
_SLOT = 128
_MAGIC = b"CLHEAD1"


def _slot_bytes(seq: int, digest: str) -> bytes:
    body = b"%s %020d %s" % (_MAGIC, seq, digest.encode("ascii"))
    line = b"%s %08x\n" % (body, zlib.crc32(body))
    return line.ljust(_SLOT, b" ")


def _parse_slot(raw: bytes) -> tuple[int, str] | None:
    parts = raw.split()
    if len(parts) != 4 or parts[0] != _MAGIC:
        return None
    body = b" ".join(parts[:3])
    try:
        if int(parts[3], 16) != zlib.crc32(body):
            return None
        return int(parts[1]), parts[2].decode("ascii")
    except ValueError:
        return None


def _slots_of(data: bytes) -> list[tuple[int, str] | None]:
    return [_parse_slot(data[i * _SLOT : (i + 1) * _SLOT]) for i in range(2)]


def write_head_file(path: Path, seq: int, digest: str) -> None:
    """Record (seq, digest) as the head checkpoint, durable when this returns (owner-only file).

    Overwrites the slot that does not hold the newest head, then ``fdatasync``; a missing or
    old-format file is first created whole (temporary file, fsync, rename)."""
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        fd = -1
    if fd >= 0:
        try:
            data = os.read(fd, 2 * _SLOT)
            if len(data) == 2 * _SLOT and not data.startswith(b"{"):
                seqs = [slot[0] if slot is not None else -1 for slot in _slots_of(data)]
                newest = 0 if seqs[0] >= seqs[1] else 1
                os.lseek(fd, (1 - newest) * _SLOT, os.SEEK_SET)
                os.write(fd, _slot_bytes(seq, digest))
                _datasync(fd)
                return
        finally:
            os.close(fd)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    try:
        os.write(fd, _slot_bytes(seq, digest) + b" " * _SLOT)  # the second slot: empty
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _datasync(fd: int) -> None:
    sync = getattr(os, "fdatasync", os.fsync)  # Windows has no fdatasync
    sync(fd)


def read_head_file(path: Path) -> tuple[int, str] | None:
    """(seq, hash) from a head checkpoint, None when it is unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data.startswith(b"{"):  # the first format: one JSON object
        try:
            head = json.loads(data.decode("utf-8"))
            return int(head["seq"]), str(head["hash"])
        except (ValueError, KeyError, TypeError):
            return None
    valid = [slot for slot in _slots_of(data) if slot is not None]
    return max(valid) if valid else None


class AuditLog:
    """Writes chained records inside the journal's transactions; verifies the chain."""

    def __init__(
        self, db: sqlite3.Connection, lock: threading.RLock, head_path: Path, *, station: str = "this station"
    ) -> None:
        self.station = station
        self._db = db
        self._lock = lock
        self._head_path = head_path
        self._pending_head: tuple[int, str] | None = None
        self._batch_operators: dict[int, str | None] = {}
        self._head_lock = threading.Lock()
        self._persisted_seq = 0
        db.executescript(_SCHEMA)

    def _operator_of(self, payload: dict[str, Any]) -> str | None:
        """The operator of the batch a record belongs to (cached: one lookup per batch)."""
        batch = payload.get("batch")
        if batch is None and payload.get("device") is not None:
            row = self._db.execute("SELECT batch_id FROM devices WHERE id=?", (payload["device"],)).fetchone()
            batch = row[0] if row is not None else None
        if batch is None:
            return None
        if batch not in self._batch_operators:
            row = self._db.execute("SELECT operator FROM batches WHERE id=?", (batch,)).fetchone()
            self._batch_operators[batch] = row[0] if row is not None else None
        return self._batch_operators[batch]

    def append_locked(self, kind: str, payload: dict[str, Any]) -> tuple[int, str]:
        """Append a record; returns its (seq, hash). Caller holds the journal lock inside an open
        transaction.

        The chain's end is read from the table once per transaction; later records of the same
        transaction (a group commit carries many) chain to the head it appended last, which
        nothing else can have changed: the transaction holds the database's write lock. Every
        record names its operator: the caller's, else the operator of the record's batch."""
        payload = with_operator(payload, self._operator_of)
        last = self._pending_head
        if last is None:
            last = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (1, GENESIS) if last is None else (last[0] + 1, last[1])
        at = datetime.now(UTC).isoformat()
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        digest = record_hash(prev, seq, at, kind, body)
        self._db.execute(
            "INSERT INTO audit(seq, at, kind, payload, prev_hash, hash) VALUES (?,?,?,?,?,?)",
            (seq, at, kind, body, prev, digest),
        )
        self._pending_head = (seq, digest)
        return seq, digest

    def take_head(self) -> tuple[int, str] | None:
        """The head a just-committed transaction extended the chain to (caller holds the journal
        lock, right after the COMMIT); persist it with :meth:`persist_head`."""
        head, self._pending_head = self._pending_head, None
        return head

    def persist_head(self, head: tuple[int, str]) -> None:
        """Write the head checkpoint (fsynced) unless a later one is already on disk.

        Group commit writes it outside the journal lock, so two groups' heads may race: the
        newer one wins and covers the older group's records, which it chains to."""
        seq, digest = head
        with self._head_lock:
            if seq <= self._persisted_seq:
                return
            write_head_file(self._head_path, seq, digest)
            self._persisted_seq = seq

    def after_rollback(self) -> None:
        self._pending_head = None
        self._batch_operators.clear()  # a rolled-back batch row's id may be given out again

    def records(self) -> list[dict[str, Any]]:
        from certline.app.batch.journal import translate_sqlite_errors

        with self._lock, translate_sqlite_errors():
            rows = self._db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
        return [
            dict(zip(("seq", "at", "kind", "payload", "prev_hash", "hash"), tuple(r), strict=True))
            for r in rows
        ]

    def records_of_kind(self, kind: str) -> list[dict[str, Any]]:
        """This station's records of one kind, oldest first (one station: one chain)."""
        return [r for r in self.records() if r["kind"] == kind]

    def verify(self) -> AuditVerdict:
        """Walk the chain; report every record whose hash, link or sequence is wrong."""
        rows = self.records()
        problems = verify_chain(rows)
        problems.extend(self._check_head(rows))
        return AuditVerdict(ok=not problems, records=len(rows), problems=tuple(problems))

    def verify_stations(self) -> dict[str, AuditVerdict]:
        """One station, one chain (the shared journal has one per station)."""
        return {self.station: self.verify()}

    def _check_head(self, rows: list[dict[str, Any]]) -> list[str]:
        if not self._head_path.exists():
            return [] if not rows else [f"audit head file {self._head_path} is missing"]
        head = read_head_file(self._head_path)
        if head is None:
            return [f"audit head file {self._head_path} is unreadable"]
        head_seq, head_hash = head
        by_seq = {row["seq"]: row for row in rows}
        if head_seq not in by_seq:
            return [
                f"the newest records were deleted: the head names record {head_seq}, "
                f"the log ends at {rows[-1]['seq'] if rows else 0}"
            ]
        if by_seq[head_seq]["hash"] != head_hash:
            return [f"record {head_seq} differs from the head checkpoint"]
        return []
