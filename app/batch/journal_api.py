"""The journal boundary: what the engine, the CLI and the views may ask of a journal backend.

Two backends implement it: :class:`certline.app.batch.journal.Journal` (SQLite, one station, the
embedded default) and :class:`certline.app.batch.journal_pg.PgJournal` (PostgreSQL, shared by every
station of a line). The engine sees only this protocol and the backend-neutral exceptions
below, never ``sqlite3.Error`` or ``psycopg.Error``.

Claims (line-wide guarantees)
-----------------------------
``claim_unit(scope, serial)`` is called once the engine knows which unit a port carries and
before it touches any journal row of that unit. A shared backend makes the database decide, in
one statement, that this station now holds the unit (a lease it renews while it works); it
raises :class:`UnitHeldElsewhere` when another station's lease is live and
:class:`UnitDoneElsewhere` when the unit was provisioned (DONE) before, unless the operator
asked to re-provision. ``release_unit`` ends the lease when the job stops. The SQLite backend
serves one station, where the engine's own per-station checks already hold, so its claims
always succeed and change nothing.

``claim(device_id, owner)`` is the one-job-per-unit slot of one journal row (a port worker, a
background enrollment of a collected CSR, a retry of a pending unit): every job takes it before it
journals anything for the unit and gives it back with ``release``. Both backends decide it in the
database (SQLite: one ``BEGIN IMMEDIATE`` transaction; PostgreSQL: the row lock), and take over a
claim whose holder is gone (a dead process; on PostgreSQL also another station's claim whose
lease ran out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.mes_record import MesBacklog, OutboxRecord
from certline.app.batch.states import DeviceState, progress_of


@dataclass(frozen=True)
class StepChange:
    """One entry of :meth:`JournalBackend.advance`: a transition to ``state`` (None: a new step
    in the unit's current state) doing ``step``, setting the device columns in ``fields``."""

    state: DeviceState | None
    step: str
    fields: dict[str, Any] = field(default_factory=dict)


class JournalError(Exception):
    """The journal could not do what was asked; the message is safe to show (no secret, no URL
    password). The unit stays at the last step the journal holds."""


class JournalUnavailable(JournalError):
    """The journal cannot take writes right now (disk full, database unreachable)."""


class JournalFull(JournalUnavailable):
    """The journal's storage is full (SQLite ``SQLITE_FULL``, PostgreSQL ``disk_full``)."""


class SchemaTooNew(JournalError):
    """The journal was migrated by a newer Certline; this one must not write to it."""


class ClaimRefused(JournalError):
    """The line-wide guard refused this unit. Not a fault of the journal: the unit must not be
    provisioned here now (the message says why and names the other station)."""

    def __init__(self, message: str, *, station: str, at: datetime, device_id: int | None) -> None:
        super().__init__(message)
        self.station = station
        self.at = at
        self.device_id = device_id


class UnitHeldElsewhere(ClaimRefused):
    """Another station holds a live lease on this unit."""


class UnitDoneElsewhere(ClaimRefused):
    """The unit was provisioned before (``device_id`` is that journal row); re-provisioning
    must be asked for explicitly."""


class ClaimLost(JournalError):
    """This station's lease on the unit expired and another station took it over; the unit's
    next side effect is refused so it is never worked on by two stations."""


@dataclass(frozen=True)
class BatchRecord:
    id: int
    work_order: str | None
    profile_name: str
    profile_json: dict[str, Any]
    operator: str | None
    station: str | None
    expected: tuple[str, ...] | None
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class PasscodeUsage:
    """What the journal knows about one passcode (by its non-secret ``passcode_id``).

    ``issued``: enrollments it paid for (a certificate came back and was journaled).
    ``in_flight``: requests reserved and possibly sent, with no answer journaled yet (a request
    in flight, a crash, a 202): the CA may have counted them, so they count against the limit.
    On a shared journal these are the line's numbers, every station's included.
    """

    passcode_id: str
    issued: int
    in_flight: int

    @property
    def spent(self) -> int:
        return self.issued + self.in_flight


@dataclass(frozen=True)
class TransitionRecord:
    state: DeviceState
    step: str
    at: datetime
    duration_ms: int | None
    station: str | None = None
    """The station that wrote it (a shared journal; None in a station's own SQLite journal, where
    the batch names the station)."""


@dataclass(frozen=True)
class AuditVerdict:
    ok: bool
    records: int
    problems: tuple[str, ...]


@runtime_checkable
class AuditChecker(Protocol):
    def verify(self) -> AuditVerdict:
        """All chains together (ok only if every station's chain is intact)."""

    def verify_stations(self) -> dict[str, AuditVerdict]:
        """One verdict per station chain."""

    def records(self) -> list[dict[str, Any]]:
        """This station's chain, oldest first (keys: seq, at, kind, payload, prev_hash, hash)."""

    def records_of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Every chain's records of one kind (a shared journal: every station's), each chain oldest
        first; a record of a shared journal also names its ``station``."""


@runtime_checkable
class JournalBackend(Protocol):
    """What the engine, the CLI and the views use. Every method is thread-safe and may block
    (disk sync, network): never call it from the GUI thread."""

    station: str

    @property
    def audit(self) -> AuditChecker:
        """The audit chain(s) of this journal."""

    @property
    def shared(self) -> bool:
        """True when several stations write this journal (line-wide views make sense)."""

    def describe(self) -> str:
        """Where the journal is, for messages (a path or a URL without password)."""

    def close(self) -> None: ...

    # batches
    def create_batch(
        self,
        *,
        profile_name: str,
        profile_json: dict[str, Any],
        work_order: str | None = None,
        operator: str | None = None,
        station: str | None = None,
        expected: Sequence[str] | None = None,
    ) -> int: ...
    def end_batch(self, batch_id: int) -> None: ...
    def reopen_batch(self, batch_id: int) -> None: ...
    def batch(self, batch_id: int) -> BatchRecord: ...
    def batches(self, limit: int = 200) -> list[BatchRecord]: ...
    def unfinished_batches(self) -> list[BatchRecord]: ...

    # units
    def claim(self, device_id: int, owner: str) -> bool: ...
    def release(self, device_id: int, owner: str) -> None: ...
    def claim_holder(self, device_id: int) -> str | None: ...
    def claim_unit(self, scope: str, serial_number: str, *, reprovision: bool = False) -> None: ...
    def release_unit(self, scope: str, serial_number: str) -> None: ...
    def add_device(
        self,
        batch_id: int,
        port: str,
        *,
        detected_at: datetime | None = None,
        then: Sequence[tuple[DeviceState, str]] = (),
        claimed_by: str | None = None,
        **fields: Any,
    ) -> DeviceSnapshot: ...
    def transition(self, device_id: int, state: DeviceState, step: str, **fields: Any) -> DeviceSnapshot: ...
    def set_step(self, device_id: int, step: str, **fields: Any) -> DeviceSnapshot: ...
    def advance(self, device_id: int, changes: Sequence[StepChange]) -> list[DeviceSnapshot]:
        """``changes`` in order, in one transaction (one durable write); the snapshot after each,
        so the views see every state as if each had been its own write (the last is the row now)."""
        ...

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
        """The certificate and ``then`` in one transaction; the snapshots after ``then``, as
        :meth:`advance`."""
        ...

    def append_audit(self, kind: str, payload: dict[str, Any]) -> None: ...

    # the MES outbox: a record is queued by the DONE/FAILED transition itself (same transaction);
    # each station delivers the records it wrote, per channel ("folder", "http")
    def mes_pending(self, channel: str, limit: int = 100) -> list[OutboxRecord]:
        """This station's records ``channel`` has not delivered yet, oldest first."""

    def mes_mark_delivered(self, key: str, channel: str) -> None:
        """``channel`` delivered the record (after the MES's 2xx, or the file's rename)."""

    def mes_note_failure(self, key: str, channel: str, error: str) -> None:
        """A delivery attempt failed (counted; the error, secret-free, is shown in the backlog)."""

    def mes_backlog(self, channels: Sequence[str]) -> MesBacklog:
        """How many of this station's records still wait for any of ``channels``."""

    # passcode uses (counted by the passcode's non-secret id, line-wide on a shared journal)
    def reserve_passcode_use(self, passcode_id: str, device_id: int, *, max_uses: int | None) -> bool:
        """Reserve one use of the passcode for this unit before its request is sent.

        True when the unit holds a reservation now: a new one (fewer than ``max_uses`` spent,
        decided in one transaction so two stations never take the last use together) or the one
        it already had (a resumed unit re-sending its journaled CSR pays once). False when the
        passcode's uses are spent; nothing is written then.
        """

    def advance_reserving(
        self, device_id: int, changes: Sequence[StepChange], *, passcode_id: str, max_uses: int | None
    ) -> list[DeviceSnapshot] | None:
        """:meth:`reserve_passcode_use` and :meth:`advance` in one transaction (one durable write):
        the unit's CSR and its step into ENROLLING are journaled with the use its request will
        spend. The snapshots, as :meth:`advance`; None when the passcode's uses are spent, and then
        nothing is written (the caller journals its changes on their own and waits). The shared
        journal commits the reservation first, in its own transaction (see ``PgJournal``)."""
        ...

    def settle_passcode_use(self, passcode_id: str, device_id: int, *, issued: bool) -> None:
        """After the answer: ``issued`` marks the use paid; otherwise the reservation is dropped
        (the server refused the request, so the passcode was not used)."""

    def passcode_usage(self, passcode_id: str) -> PasscodeUsage: ...

    # reads
    def device(self, device_id: int) -> DeviceSnapshot: ...
    def device_row(self, device_id: int) -> dict[str, Any]: ...
    def devices(self, batch_id: int | None = None) -> list[DeviceSnapshot]: ...
    def failed_devices(self, batch_id: int) -> list[DeviceSnapshot]:
        """The batch's FAILED units, by id: what the engine looks through for every unit plugged
        in (a row to continue), so it must not cost a read of the whole batch."""
        ...

    def device_rows(self, batch_id: int) -> list[dict[str, Any]]: ...
    def device_rows_after(self, batch_id: int, after_id: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """At most ``limit`` device rows of the batch with ``id > after_id``, by id (keyset paging).

        What a 100,000-unit batch is read with: a report streams it page by page and the history
        view loads it as the operator scrolls, so neither holds the journal (SQLite: its one
        connection's lock, which the engine's writes wait for) longer than one page takes."""

    def device_report_json_after(
        self, batch_id: int, after_id: int = 0, limit: int = 1000
    ) -> list[tuple[int, str]]:
        """``(device id, report entry)`` of the same devices as :meth:`device_rows_after`; each
        entry is exactly ``report_entry.entry_json(report_entry.entry_from_row(row))`` (the JSON
        report's text of the unit). The SQLite backend makes them in SQL (a 100,000-unit report
        must stream in seconds), the PostgreSQL one from the rows."""

    def device_report_csv_after(
        self, batch_id: int, after_id: int = 0, limit: int = 1000
    ) -> list[tuple[int, str]]:
        """``(device id, CSV line)`` of the same devices as :meth:`device_rows_after`, each line
        exactly ``report_entry.csv_line(report_entry.csv_values(row))``, reading only the CSV's
        columns (the SQLite backend writes the lines in SQL)."""

    def device_state_counts(self, batch_id: int) -> dict[str, int]:
        """How many devices of the batch are in each state (``state`` value -> count), one query."""

    def unfinished_devices(self, batch_id: int | None = None) -> list[DeviceSnapshot]: ...
    def find_unfinished_by_serial(self, serial_number: str) -> DeviceSnapshot | None: ...
    def find_done_by_serial(self, serial_number: str) -> DeviceSnapshot | None: ...
    def certificates_for(self, device_serial: str) -> list[dict[str, Any]]: ...
    def all_certificates(self) -> list[dict[str, Any]]:
        """The certificate each unit holds: its latest one written and verified (row DONE)."""
        ...

    def history(self, device_id: int) -> list[TransitionRecord]: ...
    def transitions_of_batches(self, batch_ids: Sequence[int]) -> list[tuple[int, TransitionRecord]]: ...
    def finished_serials(self, work_order: str) -> set[str]:
        """Serial numbers of the work order's units that are DONE or SKIPPED, in any batch (a
        shared journal: at any station), for the work order's expected-serials count."""
        ...


#: device columns added after the first schema (SQLite adds them on open, PostgreSQL by migrations):
#: the CSR exactly as the device sent it and the certificate a re-provisioning replaced
#: (migration 2); the unit's label as scanned at the station (scan-in, migration 6)
ADDED_DEVICE_COLUMNS: tuple[str, ...] = (
    "csr_received_der",
    "csr_received_sha256",
    "replaced_chain_pem",
    "replaced_sha256",
    "scanned_label",
)

#: device columns a transition may set (anything else is a programming error)
UPDATABLE_FIELDS = frozenset(
    {
        "serial_number",
        "model",
        "firmware",
        "port",
        "csr_der",
        "csr_sha256",
        "cert_serial",
        "cert_fingerprint",
        "not_before",
        "not_after",
        "issuer",
        "chain_pem",
        "error",
        "error_code",
        "failed_step",
        "retry_at",
        "enroll_attempts",
        "kind",
        *ADDED_DEVICE_COLUMNS,
    }
)

#: states an auditor cares about even when re-entered (a resume re-announcing the step)
AUDITED_STATES = frozenset(
    {
        DeviceState.ENROLLING,
        DeviceState.ISSUED,
        DeviceState.WRITING,
        DeviceState.VERIFIED,
        DeviceState.DONE,
        DeviceState.FAILED,
        DeviceState.SKIPPED,
    }
)


#: the device columns :func:`snapshot_from_row` reads: a query for snapshots selects only these,
#: not the CSR and certificate chain (kilobytes per row; the batch summary reads every row of the
#: batch after every event)
SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "id",
    "batch_id",
    "port",
    "serial_number",
    "model",
    "state",
    "step",
    "started_at",
    "updated_at",
    "cert_serial",
    "not_after",
    "cert_fingerprint",
    "error",
    "error_code",
    "failed_step",
    "retry_at",
    "scanned_label",
    "kind",
)


def snapshot_from_row(row: Any) -> DeviceSnapshot:
    """A device row (SQLite's ``sqlite3.Row`` or psycopg's dict row) as the snapshot views show.

    One mapping for both backends, so a column added to the snapshot reaches both at once.
    """
    state = DeviceState(row["state"])

    def ts(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return DeviceSnapshot(
        device_id=row["id"],
        batch_id=row["batch_id"],
        port=row["port"],
        serial_number=row["serial_number"],
        model=row["model"],
        state=state,
        step=row["step"],
        progress=progress_of(state),
        started_at=datetime.fromisoformat(row["started_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        cert_serial=row["cert_serial"],
        cert_not_after=ts(row["not_after"]),
        cert_fingerprint=row["cert_fingerprint"],
        error=row["error"],
        error_code=row["error_code"],
        failed_step=row["failed_step"],
        retry_at=ts(row["retry_at"]),
        scanned_label=row["scanned_label"],
        kind=row["kind"],
    )
