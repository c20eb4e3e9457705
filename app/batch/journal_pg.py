"""The shared journal: PostgreSQL (psycopg 3 + psycopg_pool), one database for every station.

Same interface as the SQLite journal (:class:`certline.app.batch.journal_api.JournalBackend`); every
row also names the station that wrote it. The guarantees between stations live in the
database, not in Python:

* ``units`` has one row per (profile, serial number). A claim is one ``INSERT ... ON CONFLICT
  DO UPDATE ... WHERE`` statement: it takes the unit only when nobody holds a live lease and the
  unit was never DONE (unless re-provisioning was asked for). Leases are renewed by a thread
  while the station works, and every non-terminal transition re-checks, under the row lock
  (``SELECT ... FOR UPDATE``), that this station still holds the unit.
* DONE is recorded on the unit row in the transition's own transaction, refused if another
  station recorded it first.
* Audit: one hash chain per station (``audit_heads`` row locked per append), so stations do not
  serialise each other.

The database going away: a write or read that fails because the server is unreachable waits
and retries until it is back (the station pauses at the step whose write last succeeded). A
write whose COMMIT reply was lost is recognised by its operation id (``ops``), never applied
twice. ``close()`` ends the waiting.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from certline.app.batch import report_entry
from certline.app.batch.audit import GENESIS, record_hash, verify_chain, with_operator
from certline.app.batch.claim_owner import LIVE_OWNERS, claim_owner_alive
from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.journal_api import (
    AUDITED_STATES,
    SNAPSHOT_COLUMNS,
    UPDATABLE_FIELDS,
    AuditVerdict,
    BatchRecord,
    ClaimLost,
    JournalError,
    JournalFull,
    JournalUnavailable,
    PasscodeUsage,
    SchemaTooNew,
    StepChange,
    TransitionRecord,
    UnitDoneElsewhere,
    UnitHeldElsewhere,
    snapshot_from_row,
)
from certline.app.batch.journal_schema.pg import LATEST, MIGRATIONS
from certline.app.batch.journal_url import redact_url
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

log = logging.getLogger(__name__)

T = TypeVar("T")
Cursor = psycopg.Cursor[dict[str, Any]]

#: libpq messages that waiting will not fix (configuration, credentials, TLS trust)
_CONFIGURATION_ERRORS = (
    "authentication failed",
    "no password supplied",
    "does not exist",
    "certificate verify failed",
    "root certificate file",
    "server certificate for",
    "pg_hba.conf",
)

#: longest wait for a pooled connection before the call counts the database as unreachable
#: (and says so); the call then keeps retrying
_POOL_WAIT = 2.0

#: advisory lock key serialising schema migrations across stations
_MIGRATION_LOCK = 0x63657274  # "cert"
_PASSCODE_LOCK = 0x70617373  # "pass": advisory lock class of passcode-use reservations


#: device rows as snapshots: only the columns a snapshot shows (see SNAPSHOT_COLUMNS)
_SELECT_SNAPSHOTS = "SELECT " + ", ".join(SNAPSHOT_COLUMNS) + " FROM devices"  # noqa: S608 - fixed names
#: a page of the CSV report: its columns and the state (retry_at is shown only while pending)
_SELECT_CSV_PAGE = (
    "SELECT "  # noqa: S608 - fixed names
    + ", ".join(dict.fromkeys((*report_entry.CSV_SOURCES, "state")))
    + " FROM devices WHERE batch_id=%s AND id>%s ORDER BY id LIMIT %s"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class SchemaOutdated(JournalError):
    """The database schema is older than this Certline: run ``certline journal migrate``."""


class PgJournal:
    """A station's handle on the shared journal. Thread-safe (a small connection pool)."""

    shared = True

    def __init__(
        self,
        conninfo: str,
        *,
        station: str,
        password: str | None = None,
        lease_seconds: float = 60.0,
        audit_head: Path | None = None,
        pool_size: int = 8,
        connect_timeout: float = 5.0,
        max_outage: float | None = None,
        migrate: bool = False,
        on_reachable: Callable[[bool], None] | None = None,
    ) -> None:
        """``max_outage``: how long a call waits for an unreachable database before raising
        :class:`JournalUnavailable` (None: until it is back or the journal is closed)."""
        self.station = station
        self.lease_seconds = lease_seconds
        self.max_outage = max_outage
        self._url = conninfo
        self._closing = threading.Event()
        self._connect_timeout = connect_timeout
        self.on_reachable = on_reachable
        self.reachable = True
        self._held: set[tuple[str, str]] = set()
        self._held_rows: dict[int, str] = {}
        """Unit rows whose one-job claim a job of this station holds (renewed with the leases)."""
        self._held_lock = threading.Lock()
        self._head_path = audit_head
        self._head_lock = threading.Lock()
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
        kwargs["connect_timeout"] = max(1, int(connect_timeout))
        kwargs["application_name"] = f"certline:{station}"[:63]
        if password is not None:
            kwargs["password"] = password  # a libpq keyword, never part of the URL or argv
        self._probe(conninfo, kwargs)
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            conninfo,
            kwargs=kwargs,
            min_size=1,
            max_size=pool_size,
            open=False,
            timeout=min(connect_timeout, _POOL_WAIT),
            check=_check_if_idle,
            reset=_mark_returned,
            name=f"journal:{station}",
        )
        self._pool.open(wait=False)
        self.audit = PgAudit(self)
        if migrate:
            self.migrate()
        else:
            self._check_schema()
        self._renewer = threading.Thread(target=self._renew_leases, name="journal-leases", daemon=True)
        self._renewer.start()

    # -- plumbing ---------------------------------------------------------------------------
    def _probe(self, conninfo: str, kwargs: dict[str, Any]) -> None:
        """Fail fast on what waiting cannot fix (wrong password, unknown database, a server
        certificate that does not verify); an unreachable server is left to the retries."""
        try:
            psycopg.connect(conninfo, **kwargs).close()
        except psycopg.OperationalError as exc:
            text = str(exc)
            if any(marker in text for marker in _CONFIGURATION_ERRORS):
                raise JournalError(
                    f"cannot use the shared journal {self.describe()}: {_first_line(exc)}"
                ) from None
            log.warning("the shared journal %s is not reachable yet: %s", self.describe(), _first_line(exc))

    def describe(self) -> str:
        return redact_url(self._url)

    def close(self) -> None:
        self._closing.set()
        self._pool.close()

    def _set_reachable(self, value: bool) -> None:
        if value != self.reachable:
            self.reachable = value
            if value:
                log.warning("the shared journal %s is reachable again; resuming", self.describe())
            else:
                log.warning("the shared journal %s is unreachable; units wait", self.describe())
            if self.on_reachable is not None:
                self.on_reachable(value)

    def _retrying(self, attempt: Callable[[int], T]) -> T:
        """Run ``attempt(n)``, waiting out an unreachable database (see module doc)."""
        started = time.monotonic()
        delay = 0.2
        tries = 0
        while True:
            try:
                result = attempt(tries)
            except psycopg.errors.DiskFull as exc:
                raise JournalFull(f"the shared journal's disk is full: {_first_line(exc)}") from exc
            except (psycopg.OperationalError, PoolTimeout) as exc:
                if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
                    tries += 1
                    continue
                if self._closing.is_set():
                    raise JournalUnavailable(
                        f"the shared journal {self.describe()} is unreachable: {_first_line(exc)}"
                    ) from exc
                if self.max_outage is not None and time.monotonic() - started > self.max_outage:
                    raise JournalUnavailable(
                        f"the shared journal {self.describe()} has been unreachable for "
                        f"{self.max_outage:.0f} s: {_first_line(exc)}"
                    ) from exc
                self._set_reachable(False)
                tries += 1
                self._closing.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            except psycopg.Error as exc:
                raise JournalError(f"shared journal error: {_first_line(exc)}") from exc
            self._set_reachable(True)
            return result

    def _read(self, work: Callable[[Cursor], T]) -> T:
        def attempt(_n: int) -> T:
            with self._pool.connection() as conn, conn.cursor() as cur:
                return work(cur)

        return self._retrying(attempt)

    def _write(self, work: Callable[[Cursor], int | None]) -> int | None:
        """One transaction; ``work`` may return an id, handed back even when the COMMIT reply
        was lost and the write is recognised on retry."""
        op_id = uuid.uuid4()
        staged: list[tuple[int, str]] = []

        def attempt(n: int) -> int | None:
            with self._pool.connection() as conn:
                if n:
                    done = conn.execute("SELECT result FROM ops WHERE op_id=%s", (op_id,)).fetchone()
                    if done is not None:
                        return done["result"]
                staged.clear()
                with conn.transaction(), conn.cursor() as cur:
                    self.audit.take_staged()  # drop what a failed earlier attempt staged
                    result = work(cur)
                    cur.execute(
                        "INSERT INTO ops(op_id, station, result) VALUES (%s,%s,%s)",
                        (op_id, self.station, result),
                    )
                    # last: the station's chain head stays locked only until this commit
                    self.audit.flush(cur)
                    staged.extend(self.audit.take_staged())
                return result

        try:
            result = self._retrying(attempt)
        finally:
            self.audit.take_staged()
        if staged:
            self.audit.checkpoint(staged[-1])
        return result

    # -- schema -----------------------------------------------------------------------------
    def schema_version(self) -> int:
        def work(cur: Cursor) -> int:
            cur.execute("SELECT to_regclass('schema_migrations') AS t")
            row = cur.fetchone()
            if row is None or row["t"] is None:
                return 0
            cur.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            found = cur.fetchone()
            return int(found["v"]) if found else 0

        return self._read(work)

    def _check_schema(self) -> None:
        version = self.schema_version()
        if version > LATEST:
            raise SchemaTooNew(_too_new(version))
        if version == 0:
            self.migrate()  # an empty database: create the schema (nothing to migrate yet)
        elif version < LATEST:
            raise SchemaOutdated(
                f"the shared journal's schema is version {version}, this Certline needs {LATEST}: "
                "run 'certline journal migrate --journal URL' once for the line"
            )

    def migrate(self) -> tuple[int, int]:
        """Apply every missing migration in order; returns (version before, version after)."""

        def attempt(_n: int) -> tuple[int, int]:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_by TEXT NOT NULL)"
                )
                row = conn.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").fetchone()
                before = int(row["v"]) if row else 0
                if before > LATEST:
                    raise SchemaTooNew(_too_new(before))
                for version, script in MIGRATIONS:
                    if version > before:
                        conn.execute(script.encode())
                        conn.execute(
                            "INSERT INTO schema_migrations(version, applied_by) VALUES (%s,%s)",
                            (version, self.station),
                        )
                return before, LATEST

        return self._retrying(attempt)

    # -- claims -----------------------------------------------------------------------------
    def claim(self, device_id: int, owner: str) -> bool:
        """Take the one job slot of a unit's row; False if another live job holds it.

        Decided under the row's lock (``SELECT ... FOR UPDATE``) in one transaction, so two jobs
        of any stations racing for one unit never both get it. A holder counts as gone when its
        process on this host no longer runs, or (any host) when its claim was not renewed within
        the lease: a station that died gives its units back after ``lease_seconds``.
        """

        def work(cur: Cursor) -> int:
            cur.execute(
                "SELECT claimed_by, claimed_at < now() - make_interval(secs => %s) AS expired"
                " FROM devices WHERE id=%s FOR UPDATE",
                (self.lease_seconds, device_id),
            )
            row = cur.fetchone()
            if row is None:
                raise KeyError(f"no device {device_id} in the journal")
            holder = row["claimed_by"]
            if holder is not None and holder != owner and not row["expired"] and claim_owner_alive(holder):
                return 0
            LIVE_OWNERS.add(owner)  # before the commit: nobody may see this claim as dead
            cur.execute("UPDATE devices SET claimed_by=%s, claimed_at=now() WHERE id=%s", (owner, device_id))
            return 1

        try:
            claimed = bool(self._write(work))
        except BaseException:
            LIVE_OWNERS.discard(owner)
            raise
        if claimed:
            with self._held_lock:
                self._held_rows[device_id] = owner
        else:
            LIVE_OWNERS.discard(owner)
        return claimed

    def release(self, device_id: int, owner: str) -> None:
        """Give the unit row's claim back (only if ``owner`` still holds it)."""
        with self._held_lock:
            if self._held_rows.get(device_id) == owner:
                del self._held_rows[device_id]
        try:
            self._write(
                _execute(
                    "UPDATE devices SET claimed_by=NULL, claimed_at=NULL WHERE id=%s AND claimed_by=%s",
                    (device_id, owner),
                )
            )
        finally:
            LIVE_OWNERS.discard(owner)

    def claim_holder(self, device_id: int) -> str | None:
        """Who holds the unit row's claim now (None if nobody, or only a gone holder did)."""
        row = self._one(
            "SELECT claimed_by, claimed_at < now() - make_interval(secs => %s) AS expired"
            " FROM devices WHERE id=%s",
            (self.lease_seconds, device_id),
        )
        if row is None or row["claimed_by"] is None or row["expired"]:
            return None
        holder = str(row["claimed_by"])
        return holder if claim_owner_alive(holder) else None

    def claim_unit(self, scope: str, serial_number: str, *, reprovision: bool = False) -> None:
        def work(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO units(scope, serial_number, holder, lease_until, claimed_at, reprovision)"
                " VALUES (%(scope)s, %(serial)s, %(me)s, now() + make_interval(secs => %(lease)s), now(),"
                " %(re)s)"
                " ON CONFLICT (scope, serial_number) DO UPDATE SET holder = EXCLUDED.holder,"
                " lease_until = EXCLUDED.lease_until, reprovision = EXCLUDED.reprovision,"
                " claimed_at = CASE WHEN units.holder = EXCLUDED.holder THEN units.claimed_at ELSE now() END"
                " WHERE (units.holder IS NULL OR units.holder = EXCLUDED.holder OR units.lease_until < now())"
                " AND (units.done_at IS NULL OR EXCLUDED.reprovision)"
                " RETURNING holder",
                {
                    "scope": scope,
                    "serial": serial_number,
                    "me": self.station,
                    "lease": self.lease_seconds,
                    "re": reprovision,
                },
            )
            if cur.fetchone() is not None:
                return None
            cur.execute(
                "SELECT holder, lease_until, claimed_at, done_station, done_at, done_device_id FROM units"
                " WHERE scope=%s AND serial_number=%s",
                (scope, serial_number),
            )
            row = cur.fetchone()
            assert row is not None  # the INSERT conflicted with it
            if row["done_at"] is not None and not reprovision:
                raise UnitDoneElsewhere(
                    f"unit {serial_number} was first provisioned at station {row['done_station']} "
                    f"on {row['done_at'].astimezone(UTC).isoformat(timespec='seconds')}",
                    station=row["done_station"],
                    at=row["done_at"],
                    device_id=row["done_device_id"],
                )
            raise UnitHeldElsewhere(
                f"unit {serial_number} is being provisioned at station {row['holder']} "
                f"(since {row['claimed_at'].astimezone(UTC).isoformat(timespec='seconds')}, "
                f"lease until {row['lease_until'].astimezone(UTC).isoformat(timespec='seconds')})",
                station=row["holder"],
                at=row["claimed_at"],
                device_id=None,
            )

        self._write(lambda cur: work(cur))
        with self._held_lock:
            self._held.add((scope, serial_number))

    def release_unit(self, scope: str, serial_number: str) -> None:
        with self._held_lock:
            self._held.discard((scope, serial_number))
        self._write(
            _execute(
                "UPDATE units SET holder=NULL, lease_until=NULL"
                " WHERE scope=%s AND serial_number=%s AND holder=%s",
                (scope, serial_number, self.station),
            )
        )

    def held_units(self) -> list[tuple[str, str]]:
        with self._held_lock:
            return sorted(self._held)

    def _renew_leases(self) -> None:
        interval = max(0.2, self.lease_seconds / 3)
        next_prune = time.monotonic() + 60
        while not self._closing.wait(interval):
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + 3600
                self._prune_ops()
            held = self.held_units()
            with self._held_lock:
                rows = dict(self._held_rows)
            if not held and not rows:
                continue
            try:
                with self._pool.connection(timeout=interval) as conn:
                    if held:
                        conn.execute(
                            "UPDATE units SET lease_until = now() + make_interval(secs => %s)"
                            " WHERE holder = %s AND (scope, serial_number) IN"
                            " (SELECT * FROM unnest(%s::text[], %s::text[]))",
                            (self.lease_seconds, self.station, [s for s, _ in held], [n for _, n in held]),
                        )
                    if rows:
                        conn.execute(
                            "UPDATE devices SET claimed_at = now() WHERE (id, claimed_by) IN"
                            " (SELECT * FROM unnest(%s::bigint[], %s::text[]))",
                            (list(rows), list(rows.values())),
                        )
            except (psycopg.Error, PoolTimeout) as exc:  # the next transition re-checks the lease
                log.debug("lease renewal failed: %s", exc)

    def _prune_ops(self) -> None:
        """Operation ids only matter while a write may be retried (seconds to an outage's length);
        a day's worth is kept."""
        try:
            with self._pool.connection(timeout=5) as conn:
                conn.execute(
                    "DELETE FROM ops WHERE station=%s AND at < now() - interval '1 day'", (self.station,)
                )
        except (psycopg.Error, PoolTimeout) as exc:
            log.debug("pruning old operation ids failed: %s", exc)

    def _check_holder(self, cur: Cursor, scope: str, serial: str | None, kind: str | None) -> None:
        """Under the unit's row lock: refuse if another station took the unit over; renew the
        lease if it is ours (one statement when it is, the usual case)."""
        if serial is None or kind != "enroll":
            return
        cur.execute(
            "UPDATE units SET lease_until = now() + make_interval(secs => %s)"
            " WHERE scope=%s AND serial_number=%s AND holder=%s RETURNING holder",
            (self.lease_seconds, scope, serial, self.station),
        )
        if cur.fetchone() is not None:
            return
        cur.execute(
            "SELECT holder FROM units WHERE scope=%s AND serial_number=%s FOR UPDATE", (scope, serial)
        )
        row = cur.fetchone()
        if row is None or row["holder"] is None or row["holder"] == self.station:
            return
        raise ClaimLost(
            f"unit {serial} was taken over by station {row['holder']} after this station's lease "
            "expired; it is not worked on here any more"
        )

    def _record_done(
        self, cur: Cursor, scope: str, serial: str | None, device_id: int, kind: str | None
    ) -> None:
        if serial is None or kind != "enroll":
            return
        cur.execute(
            "INSERT INTO units(scope, serial_number, done_station, done_at, done_device_id)"
            " VALUES (%(scope)s, %(serial)s, %(me)s, now(), %(dev)s)"
            " ON CONFLICT (scope, serial_number) DO UPDATE SET done_station = EXCLUDED.done_station,"
            " done_at = EXCLUDED.done_at, done_device_id = EXCLUDED.done_device_id, reprovision = false"
            " WHERE units.done_at IS NULL OR units.reprovision RETURNING done_station",
            {"scope": scope, "serial": serial, "me": self.station, "dev": device_id},
        )
        if cur.fetchone() is None:
            cur.execute(
                "SELECT done_station, done_at FROM units WHERE scope=%s AND serial_number=%s", (scope, serial)
            )
            row = cur.fetchone() or {"done_station": "?", "done_at": None}
            raise ClaimLost(
                f"unit {serial} was provisioned at station {row['done_station']} on {row['done_at']} "
                "while this station worked on it; not recorded twice"
            )

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
        expected_json = json.dumps(list(expected)) if expected is not None else None

        def work(cur: Cursor) -> int:
            line_expected = expected_json
            if work_order is not None:
                cur.execute(
                    "INSERT INTO work_orders(work_order, profile_name, expected_json, created_by)"
                    " VALUES (%s,%s,%s,%s) ON CONFLICT (work_order) DO NOTHING",
                    (work_order, profile_name, expected_json, self.station),
                )
                cur.execute("SELECT * FROM work_orders WHERE work_order=%s FOR SHARE", (work_order,))
                order = cur.fetchone()
                assert order is not None
                if expected_json is None:
                    line_expected = order["expected_json"]
                elif order["expected_json"] is not None and sorted(
                    json.loads(order["expected_json"])
                ) != sorted(expected or ()):
                    raise JournalError(
                        f"work order {work_order} already has a different expected-serials list at this "
                        f"line (set by station {order['created_by']}); use the same list on every station"
                    )
            cur.execute(
                "INSERT INTO batches(station, work_order, profile_name, profile_json, operator,"
                " expected_json, started_at) VALUES (%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                (
                    self.station,
                    work_order,
                    profile_name,
                    json.dumps(profile_json, sort_keys=True),
                    operator,
                    line_expected,
                    _ts(utcnow()),
                ),
            )
            row = cur.fetchone()
            assert row is not None
            batch_id = int(row["id"])
            self.audit.append(
                cur,
                "batch-started",
                {
                    "batch": batch_id,
                    "profile": profile_name,
                    "work_order": work_order,
                    "operator": operator,
                    "station": self.station,
                },
            )
            return batch_id

        return int(self._write(work) or 0)

    def end_batch(self, batch_id: int) -> None:
        def work(cur: Cursor) -> None:
            cur.execute(
                "UPDATE batches SET ended_at=%s WHERE id=%s AND ended_at IS NULL", (_ts(utcnow()), batch_id)
            )
            self.audit.append(cur, "batch-ended", {"batch": batch_id})

        self._write(work)

    def reopen_batch(self, batch_id: int) -> None:
        self._write(_execute("UPDATE batches SET ended_at=NULL WHERE id=%s", (batch_id,)))

    def batch(self, batch_id: int) -> BatchRecord:
        row = self._read(lambda cur: cur.execute("SELECT * FROM batches WHERE id=%s", (batch_id,)).fetchone())
        if row is None:
            raise KeyError(f"no batch {batch_id} in the journal")
        return _batch_record(row)

    def batches(self, limit: int = 200) -> list[BatchRecord]:
        rows = self._read(
            lambda cur: cur.execute("SELECT * FROM batches ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
        )
        return [_batch_record(r) for r in rows]

    def unfinished_batches(self) -> list[BatchRecord]:
        """This station's unfinished batches (another station's are its own to resume; their
        units are still resumable here through the unit claims)."""
        rows = self._read(
            lambda cur: cur.execute(
                "SELECT DISTINCT b.* FROM batches b LEFT JOIN devices d ON d.batch_id=b.id"
                " WHERE b.station=%s AND (b.ended_at IS NULL OR d.state <> ALL(%s)) ORDER BY b.id",
                (self.station, [s.value for s in TERMINAL]),
            ).fetchall()
        )
        return [_batch_record(r) for r in rows]

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
        """Insert a unit and the transitions in ``then`` in one transaction; ``claimed_by``: the
        job that found the unit holds its row's claim from the first moment (see :meth:`claim`)."""
        detected = detected_at or utcnow()
        unknown = set(fields) - UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"unknown device fields {sorted(unknown)}")
        path = [(DeviceState.DETECTED, "detected"), *then]
        for (previous, _), (nxt, _) in zip(path, path[1:], strict=False):
            check_transition(previous, nxt)
        final_state, final_step = path[-1]
        now = utcnow() if then else detected
        if claimed_by is not None:
            fields = {**fields, "claimed_by": claimed_by, "claimed_at": now}
            LIVE_OWNERS.add(claimed_by)
        columns = ["batch_id", "station", "port", "state", "step", "started_at", "updated_at", *fields]
        values = [batch_id, self.station, port, final_state.value, final_step, _ts(detected), _ts(now)]
        values += list(fields.values())

        inserted: list[dict[str, Any]] = []

        def work(cur: Cursor) -> int:
            cur.execute(
                sql.SQL("INSERT INTO devices({}) VALUES ({}) RETURNING *").format(
                    sql.SQL(",").join(map(sql.Identifier, columns)),
                    sql.SQL(",").join(sql.Placeholder() * len(columns)),
                ),
                values,
            )
            row = cur.fetchone()
            assert row is not None
            inserted.append(row)
            device_id = int(row["id"])
            for index, (state, step) in enumerate(path):
                at = detected if index == 0 else now
                duration = int((now - detected).total_seconds() * 1000) if index == 0 and then else None
                cur.execute(
                    "INSERT INTO transitions(device_id, station, state, step, at, duration_ms)"
                    " VALUES (%s,%s,%s,%s,%s,%s)",
                    (device_id, self.station, state.value, step, _ts(at), duration),
                )
                self.audit.append(
                    cur,
                    "device-" + state.value,
                    {
                        "device": device_id,
                        "batch": batch_id,
                        "port": port,
                        "serial": fields.get("serial_number"),
                        "station": self.station,
                    },
                )
            if final_state in MES_OUTCOMES:  # the MES record names the last audit record: write the chain now
                self._queue_mes_record(cur, device_id, final_state, now, self.audit.flush(cur)[-1])
            return device_id

        device_id = int(self._write(work) or 0)
        if claimed_by is not None:
            with self._held_lock:
                self._held_rows[device_id] = claimed_by
        if inserted and int(inserted[-1]["id"]) == device_id:
            return snapshot_from_row(_plain(inserted[-1]))  # the row as inserted, no second query
        return self.device(device_id)

    def transition(self, device_id: int, state: DeviceState, step: str, **fields: Any) -> DeviceSnapshot:
        return self._transition(device_id, state, step, fields)

    def set_step(self, device_id: int, step: str, **fields: Any) -> DeviceSnapshot:
        """A new step in the unit's current state (read under the row lock, one transaction)."""
        return self._transition(device_id, None, step, fields)

    def advance(self, device_id: int, changes: Sequence[StepChange]) -> list[DeviceSnapshot]:
        """Several transitions (or step texts) of one unit in one transaction, in order; the
        snapshot after each (see :meth:`JournalBackend.advance`)."""
        if not changes:
            raise ValueError("advance needs at least one change")
        written: list[dict[str, Any]] = []
        works = [self._transition_work(device_id, c.state, c.step, dict(c.fields), written) for c in changes]

        def work(cur: Cursor) -> None:
            written.clear()
            for each in works:
                each(cur)

        self._write(work)
        return self._snapshots(written, device_id)

    def _snapshots(self, written: list[dict[str, Any]], device_id: int) -> list[DeviceSnapshot]:
        """The rows a committed transaction wrote, as snapshots. A write recognised on retry
        after a lost COMMIT reply keeps the rows of its committed attempt (see :meth:`_write`);
        should none be there, the unit's row as it is now, once."""
        return [snapshot_from_row(_plain(row)) for row in written] or [self.device(device_id)]

    def _transition(
        self, device_id: int, new_state: DeviceState | None, step: str, fields: dict[str, Any]
    ) -> DeviceSnapshot:
        """One transaction of a few statements; the snapshot comes from the updated row itself
        (``RETURNING``), so no second query is needed to hand it back."""
        written: list[dict[str, Any]] = []
        change = self._transition_work(device_id, new_state, step, fields, written)

        def work(cur: Cursor) -> None:
            written.clear()
            change(cur)

        self._write(work)
        # the committed attempt's row (a write recognised after a lost COMMIT reply kept it too)
        return snapshot_from_row(_plain(written[-1])) if written else self.device(device_id)

    def _transition_work(
        self,
        device_id: int,
        new_state: DeviceState | None,
        step: str,
        fields: dict[str, Any],
        written: list[dict[str, Any]],
    ) -> Callable[[Cursor], None]:
        """The statements of one transition in the caller's transaction; the updated row is
        appended to ``written``."""
        unknown = set(fields) - UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"unknown device fields {sorted(unknown)}")

        def work(cur: Cursor) -> None:
            now = utcnow()
            cur.execute(
                "SELECT d.state, d.serial_number, d.batch_id, d.kind, b.profile_name FROM devices d"
                " JOIN batches b ON b.id=d.batch_id WHERE d.id=%s FOR UPDATE OF d",
                (device_id,),
            )
            row = cur.fetchone()
            if row is None:
                raise KeyError(f"no device {device_id} in the journal")
            current = DeviceState(row["state"])
            state = current if new_state is None else new_state
            check_transition(current, state)
            serial = fields.get("serial_number", row["serial_number"])
            kind = fields.get("kind", row["kind"])
            if state not in (DeviceState.FAILED, DeviceState.SKIPPED):
                self._check_holder(cur, row["profile_name"], serial, kind)
            if state == DeviceState.DONE:
                self._record_done(cur, row["profile_name"], serial, device_id, kind)
            assignments = {
                "state": state.value,
                "step": step,
                "updated_at": _ts(now),
                "station": self.station,
            }
            assignments.update(fields)
            cur.execute(
                sql.SQL("UPDATE devices SET {} WHERE id={} RETURNING *").format(
                    sql.SQL(", ").join(
                        sql.SQL("{}={}").format(sql.Identifier(k), sql.Placeholder()) for k in assignments
                    ),
                    sql.Placeholder(),
                ),
                [*assignments.values(), device_id],
            )
            updated = cur.fetchone()
            assert updated is not None
            written.append(updated)
            # the previous transition's duration (truncated to ms, as the SQLite journal does) and
            # the new transition, in one statement
            cur.execute(
                "WITH previous AS (UPDATE transitions SET duration_ms ="
                " trunc(extract(epoch FROM (%(now)s::timestamptz - at::timestamptz)) * 1000)"
                " WHERE id = (SELECT max(id) FROM transitions WHERE device_id = %(device)s))"
                " INSERT INTO transitions(device_id, station, state, step, at)"
                " VALUES (%(device)s, %(station)s, %(state)s, %(step)s, %(at)s)",
                {
                    "now": now,
                    "device": device_id,
                    "station": self.station,
                    "state": state.value,
                    "step": step,
                    "at": _ts(now),
                },
            )
            if state in AUDITED_STATES or state != current:
                payload: dict[str, Any] = {
                    "device": device_id,
                    "batch": row["batch_id"],
                    "serial": serial,
                    "step": step,
                    "station": self.station,
                }
                for key in ("cert_serial", "cert_fingerprint", "csr_sha256", "error", "error_code", "port"):
                    if key in fields and fields[key] is not None:
                        payload[key] = fields[key]
                self.audit.append(cur, "device-" + state.value, payload)
                if state in MES_OUTCOMES and state != current:
                    # the MES record names this transition's audit record: write the chain now
                    audited = self.audit.flush(cur)[-1]
                    self._queue_mes_record(cur, device_id, state, now, audited)

        return work

    def _queue_mes_record(
        self, cur: Cursor, device_id: int, state: DeviceState, now: datetime, audited: tuple[int, str]
    ) -> None:
        """Queue the unit's MES record in the caller's transaction (the DONE/FAILED transition's)."""
        cur.execute("SELECT * FROM devices WHERE id=%s", (device_id,))
        device = cur.fetchone()
        assert device is not None
        cur.execute("SELECT * FROM batches WHERE id=%s", (device["batch_id"],))
        batch = cur.fetchone()
        assert batch is not None
        key = new_key()
        body = build_record(
            key=key,
            device=device,
            batch=batch,
            outcome=state,
            station=self.station,
            finished_at=now,
            audit_seq=audited[0],
            audit_hash=audited[1],
        )
        cur.execute(
            "INSERT INTO mes_outbox(key, device_id, station, outcome, created_at, record_json)"
            " VALUES (%s,%s,%s,%s,%s,%s)",
            (key, device_id, self.station, state.value, _ts(now), body),
        )

    # -- the MES outbox (this station's records; see app/batch/mes_record.py) -----------------
    def mes_pending(self, channel: str, limit: int = 100) -> list[OutboxRecord]:
        """This station's records ``channel`` has not delivered, oldest first. Each station
        delivers the records it wrote (docs/mes.md), so two stations never send one record."""
        column = channel_column(channel)
        rows = self._all(
            f"SELECT * FROM mes_outbox WHERE station=%s AND {column} IS NULL ORDER BY id LIMIT %s",  # noqa: S608 - whitelisted
            (self.station, limit),
        )
        return [_outbox_record(r) for r in rows]

    def mes_mark_delivered(self, key: str, channel: str) -> None:
        column = channel_column(channel)
        self._write(
            _execute(
                f"UPDATE mes_outbox SET {column}=%s, last_error=NULL WHERE key=%s AND {column} IS NULL",  # noqa: S608 - whitelisted
                (_ts(utcnow()), key),
            )
        )

    def mes_note_failure(self, key: str, channel: str, error: str) -> None:
        channel_column(channel)
        self._write(
            _execute(
                "UPDATE mes_outbox SET attempts=attempts+1, last_error=%s, last_attempt_at=%s WHERE key=%s",
                (f"{channel}: {error}", _ts(utcnow()), key),
            )
        )

    def mes_backlog(self, channels: Sequence[str]) -> MesBacklog:
        if not channels:
            return MesBacklog(0)
        condition = " OR ".join(f"{channel_column(c)} IS NULL" for c in channels)
        row = self._one(
            MES_BACKLOG_SQL.format(scope="station=%s", condition=condition),
            (self.station, self.station),
        )
        if row is None or not row["waiting"]:
            return MesBacklog(0)
        oldest = datetime.fromisoformat(row["oldest"]) if row["oldest"] else None
        return MesBacklog(int(row["waiting"]), oldest, row["last_error"])

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
        """Journal an issued certificate, and the unit's ``then`` changes in the same transaction;
        the snapshot after each of ``then``."""
        written: list[dict[str, Any]] = []
        changes = [self._transition_work(device_id, c.state, c.step, dict(c.fields), written) for c in then]

        settle = None if passcode_paid is None else self._settle_work(passcode_paid, device_id, issued=True)

        def work(cur: Cursor) -> None:
            written.clear()
            if settle is not None:
                settle(cur)
            cur.execute("SELECT serial_number FROM devices WHERE id=%s", (device_id,))
            row = cur.fetchone()
            if row is None:
                raise KeyError(f"no device {device_id} in the journal")
            cur.execute(
                "INSERT INTO certificates(device_id, station, device_serial, cert_serial, fingerprint,"
                " not_before, not_after, issuer, subject, chain_pem, operation, issued_at)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (
                    device_id,
                    self.station,
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
            self.audit.append(
                cur,
                "certificate-" + operation,
                {
                    "device": device_id,
                    "serial": row["serial_number"],
                    "cert_serial": cert_serial,
                    "fingerprint": fingerprint,
                    "not_after": _ts(not_after),
                    "issuer": issuer,
                    "station": self.station,
                },
            )
            for change in changes:
                change(cur)

        self._write(work)
        return self._snapshots(written, device_id) if then else []

    # -- reads (line-wide) ------------------------------------------------------------------
    def append_audit(self, kind: str, payload: dict[str, Any]) -> None:
        """Record an operator action that changes no journal row (e.g. a label reprint) in this
        station's audit chain."""

        def work(cur: Cursor) -> None:
            self.audit.append(cur, kind, payload)

        self._write(work)

    # -- passcode uses ---------------------------------------------------------------------------
    def reserve_passcode_use(self, passcode_id: str, device_id: int, *, max_uses: int | None) -> bool:
        """See :meth:`JournalBackend.reserve_passcode_use`. Stations reserving uses of one
        passcode queue on a transaction-scoped advisory lock keyed by the passcode id, so the
        count and the insert are one decision line-wide (two stations never take the last use)."""

        def work(cur: Cursor) -> int | None:
            cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_PASSCODE_LOCK, passcode_id))
            cur.execute(
                "SELECT 1 FROM passcode_uses WHERE passcode_id=%s AND device_id=%s", (passcode_id, device_id)
            )
            if cur.fetchone() is not None:
                return 1
            cur.execute("SELECT COUNT(*) AS n FROM passcode_uses WHERE passcode_id=%s", (passcode_id,))
            row = cur.fetchone()
            spent = int(row["n"]) if row else 0
            if max_uses is not None and spent >= max_uses:
                return 0
            cur.execute(
                "INSERT INTO passcode_uses(passcode_id, device_id, station, state, reserved_at)"
                " VALUES (%s,%s,%s,'reserved',%s)",
                (passcode_id, device_id, self.station, _ts(utcnow())),
            )
            return 1

        return bool(self._write(work))

    def advance_reserving(
        self, device_id: int, changes: Sequence[StepChange], *, passcode_id: str, max_uses: int | None
    ) -> list[DeviceSnapshot] | None:
        """See :meth:`JournalBackend.advance_reserving`; here two transactions, the reservation
        first. The reservation holds the line-wide passcode lock (:meth:`reserve_passcode_use`)
        until its COMMIT; in one transaction with the changes it would also be held while the
        unit's row is written and the station's audit chain head waits for its other writes,
        and every station of the line would wait with it. A crash between the two leaves a
        reserved use for a unit whose CSR is not journaled yet: no request was sent, and its
        resume reuses that reservation, so it is never charged twice."""
        if not changes:
            raise ValueError("advance_reserving needs at least one change")
        if not self.reserve_passcode_use(passcode_id, device_id, max_uses=max_uses):
            return None
        return self.advance(device_id, changes)

    def settle_passcode_use(self, passcode_id: str, device_id: int, *, issued: bool) -> None:
        self._write(self._settle_work(passcode_id, device_id, issued=issued))

    @staticmethod
    def _settle_work(passcode_id: str, device_id: int, *, issued: bool) -> Callable[[Cursor], None]:
        def work(cur: Cursor) -> None:
            if issued:
                cur.execute(
                    "UPDATE passcode_uses SET state='issued', issued_at=%s"
                    " WHERE passcode_id=%s AND device_id=%s",
                    (_ts(utcnow()), passcode_id, device_id),
                )
            else:
                cur.execute(
                    "DELETE FROM passcode_uses WHERE passcode_id=%s AND device_id=%s AND state='reserved'",
                    (passcode_id, device_id),
                )

        return work

    def passcode_usage(self, passcode_id: str) -> PasscodeUsage:
        row = self._one(
            "SELECT COUNT(*) FILTER (WHERE state='issued') AS issued,"
            " COUNT(*) FILTER (WHERE state='reserved') AS in_flight"
            " FROM passcode_uses WHERE passcode_id=%s",
            (passcode_id,),
        )
        if row is None:
            return PasscodeUsage(passcode_id, issued=0, in_flight=0)
        return PasscodeUsage(passcode_id, issued=int(row["issued"]), in_flight=int(row["in_flight"]))

    def _one(self, query: str, params: Sequence[Any]) -> dict[str, Any] | None:
        return self._read(lambda cur: cur.execute(query.encode(), params).fetchone())

    def _all(self, query: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return self._read(lambda cur: cur.execute(query.encode(), params).fetchall())

    def device(self, device_id: int) -> DeviceSnapshot:
        row = self._one(_SELECT_SNAPSHOTS + " WHERE id=%s", (device_id,))
        if row is None:
            raise KeyError(f"no device {device_id} in the journal")
        return snapshot_from_row(row)

    def device_row(self, device_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM devices WHERE id=%s", (device_id,))
        if row is None:
            raise KeyError(f"no device {device_id} in the journal")
        return _plain(row)

    def devices(self, batch_id: int | None = None) -> list[DeviceSnapshot]:
        if batch_id is None:
            return [snapshot_from_row(r) for r in self._all(_SELECT_SNAPSHOTS + " ORDER BY id")]
        return [
            snapshot_from_row(r)
            for r in self._all(_SELECT_SNAPSHOTS + " WHERE batch_id=%s ORDER BY id", (batch_id,))
        ]

    def failed_devices(self, batch_id: int) -> list[DeviceSnapshot]:
        return [
            snapshot_from_row(r)
            for r in self._all(
                _SELECT_SNAPSHOTS + " WHERE batch_id=%s AND state=%s ORDER BY id",
                (batch_id, DeviceState.FAILED.value),
            )
        ]

    def device_rows(self, batch_id: int) -> list[dict[str, Any]]:
        return [
            _plain(r) for r in self._all("SELECT * FROM devices WHERE batch_id=%s ORDER BY id", (batch_id,))
        ]

    def device_rows_after(self, batch_id: int, after_id: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        return [
            _plain(r)
            for r in self._all(
                "SELECT * FROM devices WHERE batch_id=%s AND id>%s ORDER BY id LIMIT %s",
                (batch_id, after_id, max(0, int(limit))),
            )
        ]

    def device_report_json_after(
        self, batch_id: int, after_id: int = 0, limit: int = 1000
    ) -> list[tuple[int, str]]:
        return [
            (row["id"], report_entry.entry_json(report_entry.entry_from_row(row)))
            for row in self.device_rows_after(batch_id, after_id, limit)
        ]

    def device_report_csv_after(
        self, batch_id: int, after_id: int = 0, limit: int = 1000
    ) -> list[tuple[Any, ...]]:
        rows = self._all(_SELECT_CSV_PAGE, (batch_id, after_id, max(0, int(limit))))
        return [(row["id"], report_entry.csv_line(report_entry.csv_values(row))) for row in rows]

    def device_state_counts(self, batch_id: int) -> dict[str, int]:
        rows = self._all(
            "SELECT state, COUNT(*) AS n FROM devices WHERE batch_id=%s GROUP BY state", (batch_id,)
        )
        return {r["state"]: int(r["n"]) for r in rows}

    def unfinished_devices(self, batch_id: int | None = None) -> list[DeviceSnapshot]:
        terminal = [s.value for s in TERMINAL]
        if batch_id is None:
            rows = self._all(_SELECT_SNAPSHOTS + " WHERE state <> ALL(%s) ORDER BY id", (terminal,))
        else:
            rows = self._all(
                _SELECT_SNAPSHOTS + " WHERE state <> ALL(%s) AND batch_id=%s ORDER BY id",
                (terminal, batch_id),
            )
        return [snapshot_from_row(r) for r in rows]

    def find_unfinished_by_serial(self, serial_number: str) -> DeviceSnapshot | None:
        """Line-wide: a unit left mid-way by any station (resumable once its claim is ours)."""
        row = self._one(
            _SELECT_SNAPSHOTS + " WHERE serial_number=%s AND state <> ALL(%s) ORDER BY id DESC LIMIT 1",
            (serial_number, [s.value for s in TERMINAL]),
        )
        return snapshot_from_row(row) if row is not None else None

    def find_done_by_serial(self, serial_number: str) -> DeviceSnapshot | None:
        row = self._one(
            _SELECT_SNAPSHOTS + " WHERE serial_number=%s AND state=%s ORDER BY id DESC LIMIT 1",
            (serial_number, DeviceState.DONE.value),
        )
        return snapshot_from_row(row) if row is not None else None

    def certificates_for(self, device_serial: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM certificates WHERE device_serial=%s ORDER BY id", (device_serial,))

    def all_certificates(self) -> list[dict[str, Any]]:
        """What every unit holds: its latest certificate written and verified (see the SQLite
        journal's)."""
        return self._all(
            "SELECT c.* FROM certificates c JOIN (SELECT c2.device_serial, MAX(c2.id) AS id FROM certificates c2"
            " JOIN devices d ON d.id=c2.device_id WHERE d.state=%s GROUP BY c2.device_serial) latest"
            " ON latest.id=c.id ORDER BY c.not_after",
            (DeviceState.DONE.value,),
        )

    def history(self, device_id: int) -> list[TransitionRecord]:
        rows = self._all(
            "SELECT state, step, at, duration_ms, station FROM transitions WHERE device_id=%s ORDER BY id",
            (device_id,),
        )
        return [
            TransitionRecord(
                DeviceState(r["state"]),
                r["step"],
                datetime.fromisoformat(r["at"]),
                r["duration_ms"],
                station=r["station"],
            )
            for r in rows
        ]

    def transitions_of_batches(self, batch_ids: Sequence[int]) -> list[tuple[int, TransitionRecord]]:
        """(device id, transition) for every unit of ``batch_ids``, in the order they were written
        (one query: line statistics read whole work orders)."""
        rows = self._all(
            "SELECT t.device_id, t.station, t.state, t.step, t.at, t.duration_ms FROM transitions t"
            " JOIN devices d ON d.id=t.device_id WHERE d.batch_id = ANY(%s) ORDER BY t.id",
            ([int(batch_id) for batch_id in batch_ids],),
        )
        return [
            (
                int(r["device_id"]),
                TransitionRecord(
                    DeviceState(r["state"]),
                    r["step"],
                    datetime.fromisoformat(r["at"]),
                    r["duration_ms"],
                    station=r["station"],
                ),
            )
            for r in rows
        ]

    def finished_serials(self, work_order: str) -> set[str]:
        """Line-wide: every station's batches of the work order."""
        rows = self._all(
            "SELECT DISTINCT d.serial_number FROM devices d JOIN batches b ON b.id=d.batch_id"
            " WHERE b.work_order=%s AND d.state = ANY(%s) AND d.serial_number IS NOT NULL",
            (work_order, [DeviceState.DONE.value, DeviceState.SKIPPED.value]),
        )
        return {r["serial_number"] for r in rows}

    # -- line-wide views --------------------------------------------------------------------
    def line_progress(self, work_order: str | None = None) -> list[dict[str, Any]]:
        """Units per station and state (optionally one work order), for the line view."""
        query = (
            "SELECT d.station, d.state, COUNT(*) AS units FROM devices d JOIN batches b ON b.id=d.batch_id"
        )
        params: tuple[Any, ...] = ()
        if work_order is not None:
            query += " WHERE b.work_order=%s"
            params = (work_order,)
        return self._all(query + " GROUP BY d.station, d.state ORDER BY d.station, d.state", params)

    def unit_holders(self, work_order: str | None = None) -> list[dict[str, Any]]:
        """Which station holds which unit right now (live leases only); with ``work_order``, only
        the work order's units: those with a journal row in one of its batches (of the unit's
        profile), and those held by a station whose open batch is of that work order (a unit is
        claimed a moment before its first journal row)."""
        return self._all(
            "SELECT u.scope, u.serial_number, u.holder, u.claimed_at, u.lease_until FROM units u"
            " WHERE u.holder IS NOT NULL AND u.lease_until > now() AND (%(wo)s::text IS NULL"
            " OR EXISTS (SELECT 1 FROM devices d JOIN batches b ON b.id = d.batch_id"
            " WHERE d.serial_number = u.serial_number AND b.profile_name = u.scope AND b.work_order = %(wo)s)"
            " OR EXISTS (SELECT 1 FROM batches b WHERE b.station = u.holder AND b.ended_at IS NULL"
            " AND b.profile_name = u.scope AND b.work_order = %(wo)s))"
            " ORDER BY u.holder, u.serial_number",
            {"wo": work_order},
        )


class PgAudit:
    """Per-station hash chains in the shared database (same record hash as the SQLite log)."""

    def __init__(self, journal: PgJournal) -> None:
        self._journal = journal
        self._local = threading.local()
        self._batch_operators: dict[int, str | None] = {}
        self._newest_lock = threading.Lock()
        self._newest: tuple[int, str] | None = None
        """The newest committed (seq, hash) of this station's chain reported by any thread."""
        self._on_disk: tuple[int, str] | None = None
        """The (seq, hash) the local head file holds (written by this process)."""

    def _staged(self) -> list[tuple[int, str]]:
        staged: list[tuple[int, str]] | None = getattr(self._local, "staged", None)
        if staged is None:
            staged = []
            self._local.staged = staged
        return staged

    def _pending(self) -> list[tuple[str, str]]:
        pending: list[tuple[str, str]] | None = getattr(self._local, "pending", None)
        if pending is None:
            pending = []
            self._local.pending = pending
        return pending

    def take_staged(self) -> list[tuple[int, str]]:
        """The (seq, hash) written by this thread's last flush; also drops records appended by a
        transaction attempt that failed before its flush."""
        staged = list(self._staged())
        self._staged().clear()
        self._pending().clear()
        return staged

    def append(self, cur: Cursor, kind: str, payload: dict[str, Any]) -> None:
        """Append to this station's chain as part of the caller's transaction.

        The record is written by :meth:`flush`, which the journal calls as the transaction's last
        step: the chain's head row is then locked only from there to the COMMIT, so the station's
        concurrent writes wait for each other's commit, not for each other's whole transaction.
        Every record names its operator: the caller's, else the operator of the record's batch.
        """
        payload = with_operator(payload, lambda p: self._operator_of(cur, p))
        body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        self._pending().append((kind, body))

    def flush(self, cur: Cursor) -> list[tuple[int, str]]:
        """Write the pending records to this station's chain (two statements, head row locked);
        returns their (seq, hash), oldest first (an MES record names its transition's)."""
        pending = self._pending()
        if not pending:
            return []
        station = self._journal.station
        cur.execute(
            "INSERT INTO audit_heads(station, seq, hash) VALUES (%s, 0, %s)"
            " ON CONFLICT (station) DO UPDATE SET station = EXCLUDED.station RETURNING seq, hash",
            (station, GENESIS),
        )  # creates the head on first use, else locks it (like SELECT ... FOR UPDATE) and reads it
        head = cur.fetchone()
        assert head is not None
        seq, prev = int(head["seq"]), str(head["hash"])
        rows: list[tuple[int, str, str, str, str, str]] = []
        for kind, body in pending:
            seq += 1
            at = utcnow().isoformat()
            digest = record_hash(prev, seq, at, kind, body)
            rows.append((seq, at, kind, body, prev, digest))
            prev = digest
        pending.clear()
        cur.execute(
            "WITH written AS (INSERT INTO audit(station, seq, at, kind, payload, prev_hash, hash)"
            " SELECT %(station)s, * FROM unnest(%(seq)s::bigint[], %(at)s::text[], %(kind)s::text[],"
            " %(body)s::text[], %(prev)s::text[], %(hash)s::text[]))"
            " UPDATE audit_heads SET seq = %(head_seq)s, hash = %(head_hash)s WHERE station = %(station)s",
            {
                "station": station,
                "seq": [r[0] for r in rows],
                "at": [r[1] for r in rows],
                "kind": [r[2] for r in rows],
                "body": [r[3] for r in rows],
                "prev": [r[4] for r in rows],
                "hash": [r[5] for r in rows],
                "head_seq": seq,
                "head_hash": prev,
            },
        )
        self._staged().append((seq, prev))
        return [(row[0], row[5]) for row in rows]

    def _operator_of(self, cur: Cursor, payload: dict[str, Any]) -> str | None:
        batch = payload.get("batch")
        if batch is None and payload.get("device") is not None:
            cur.execute("SELECT batch_id FROM devices WHERE id=%s", (payload["device"],))
            row = cur.fetchone()
            batch = row["batch_id"] if row is not None else None
        if batch is None:
            return None
        if batch not in self._batch_operators:
            cur.execute("SELECT operator FROM batches WHERE id=%s", (batch,))
            row = cur.fetchone()
            self._batch_operators[batch] = row["operator"] if row is not None else None
        return self._batch_operators[batch]

    def checkpoint(self, head: tuple[int, str]) -> None:
        """Keep this station's newest (seq, hash) in a local file too, as the SQLite journal does:
        deleting the newest records *and* the database's head row is still caught here."""
        path = self._journal._head_path
        if path is None:
            return
        from certline.app.batch.audit import write_head_file

        with self._newest_lock:
            if self._newest is None or head[0] > self._newest[0]:
                self._newest = head
        with self._journal._head_lock:
            # Group commit of the file: a station's port workers finish their writes together, and
            # whoever gets here first writes the newest committed head any of them reported; the
            # others find it already on disk and skip their fsync. The file never goes backwards.
            with self._newest_lock:
                newest = self._newest
            if newest is None or (self._on_disk is not None and self._on_disk[0] >= newest[0]):
                return
            write_head_file(path, *newest)
            self._on_disk = newest

    def records_of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Every station's records of one kind (each chain oldest first), for line statistics."""
        return self._journal._all("SELECT * FROM audit WHERE kind=%s ORDER BY station, seq", (kind,))

    def records(self, station: str | None = None) -> list[dict[str, Any]]:
        station = station or self._journal.station
        return self._journal._all("SELECT * FROM audit WHERE station=%s ORDER BY seq", (station,))

    def stations(self) -> list[str]:
        rows = self._journal._all(
            "SELECT station FROM audit_heads UNION SELECT DISTINCT station FROM audit ORDER BY 1"
        )
        return [r["station"] for r in rows]

    def verify_station(self, station: str) -> AuditVerdict:
        rows = self.records(station)
        problems = verify_chain(rows)
        head = self._journal._one("SELECT seq, hash FROM audit_heads WHERE station=%s", (station,))
        last = rows[-1] if rows else None
        if head is None and rows:
            problems.append("the chain's head row is missing")
        elif head is not None and (head["seq"], head["hash"]) != (
            (last["seq"], last["hash"]) if last else (0, GENESIS)
        ):
            problems.append(
                f"the newest records were deleted or edited: the head names record {head['seq']}, "
                f"the chain ends at {last['seq'] if last else 0}"
            )
        path = self._journal._head_path
        if station == self._journal.station and path is not None and path.exists():
            from certline.app.batch.audit import read_head_file

            local = read_head_file(path)
            by_seq = {r["seq"]: r for r in rows}
            if local is None:
                problems.append(f"audit head file {path} is unreadable")
            elif local[0] not in by_seq or by_seq[local[0]]["hash"] != local[1]:
                problems.append(
                    f"record {local[0]} named by this station's head file {path} is missing or differs"
                )
        return AuditVerdict(ok=not problems, records=len(rows), problems=tuple(problems))

    def verify_stations(self) -> dict[str, AuditVerdict]:
        return {station: self.verify_station(station) for station in self.stations()}

    def verify(self) -> AuditVerdict:
        verdicts = self.verify_stations()
        problems = tuple(f"{s}: {p}" for s, v in verdicts.items() for p in v.problems)
        return AuditVerdict(
            ok=not problems, records=sum(v.records for v in verdicts.values()), problems=problems
        )


#: a pooled connection idle longer than this is checked (one round trip) before it is handed out
_CHECK_AFTER_IDLE = 2.0
_returned_at: dict[int, float] = {}


def _mark_returned(conn: psycopg.Connection[Any]) -> None:
    """Pool ``reset`` callback: remember when the connection came back to the pool."""
    _returned_at[id(conn)] = time.monotonic()


def _check_if_idle(conn: psycopg.Connection[Any]) -> None:
    """Pool ``check`` callback: a connection that sat idle for a while may have been cut (a
    database restart) and is checked before use; one just returned by another call is not,
    which saves a round trip on nearly every journal call of a busy station. A connection that
    fails anyway is caught by the call's own retry (see :meth:`PgJournal._retrying`)."""
    returned = _returned_at.pop(id(conn), None)
    if returned is None or time.monotonic() - returned > _CHECK_AFTER_IDLE:
        ConnectionPool.check_connection(conn)


def _execute(query: str, params: Sequence[Any]) -> Callable[[Cursor], None]:
    """A write that is one statement and returns nothing."""

    def work(cur: Cursor) -> None:
        cur.execute(query.encode(), params)

    return work


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def _too_new(version: int) -> str:
    return (
        f"the shared journal's schema is version {version}, newer than this Certline knows ({LATEST}): "
        "update Certline on this station; it will not write to a journal it does not understand"
    )


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for column in ("csr_der", "csr_received_der"):
        if isinstance(out.get(column), memoryview):
            out[column] = bytes(out[column])
    if isinstance(out.get("claimed_at"), datetime):  # text, as in the SQLite journal
        out["claimed_at"] = out["claimed_at"].astimezone(UTC).isoformat()
    return out


def _outbox_record(row: dict[str, Any]) -> OutboxRecord:
    return OutboxRecord(
        key=row["key"],
        device_id=int(row["device_id"]),
        outcome=row["outcome"],
        created_at=datetime.fromisoformat(row["created_at"]),
        body=row["record_json"],
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
    )


def _batch_record(row: dict[str, Any]) -> BatchRecord:
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
        ended_at=datetime.fromisoformat(row["ended_at"]) if row["ended_at"] else None,
    )
