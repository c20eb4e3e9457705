"""PostgreSQL schema of the shared journal, as forward-only migrations (see the package doc).

Timestamps of journal rows are ISO-8601 text, exactly as in the SQLite journal, so reports and
imports are byte-identical whichever backend holds them; lease arithmetic (``units``) uses the
database clock (``timestamptz``, ``now()``) so stations with skewed clocks agree on expiry.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
CREATE TABLE batches (
    id BIGSERIAL PRIMARY KEY,
    station TEXT NOT NULL,
    work_order TEXT, profile_name TEXT NOT NULL, profile_json TEXT NOT NULL,
    operator TEXT, expected_json TEXT,
    started_at TEXT NOT NULL, ended_at TEXT
);
CREATE TABLE work_orders (
    work_order TEXT PRIMARY KEY,
    profile_name TEXT NOT NULL,
    expected_json TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE devices (
    id BIGSERIAL PRIMARY KEY,
    batch_id BIGINT NOT NULL REFERENCES batches(id),
    station TEXT NOT NULL,
    serial_number TEXT, model TEXT, firmware TEXT, port TEXT NOT NULL,
    state TEXT NOT NULL, step TEXT NOT NULL,
    started_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    csr_der BYTEA, csr_sha256 TEXT,
    cert_serial TEXT, cert_fingerprint TEXT, not_before TEXT, not_after TEXT, issuer TEXT,
    chain_pem TEXT,
    error TEXT, error_code TEXT, failed_step TEXT, retry_at TEXT,
    enroll_attempts INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL DEFAULT 'enroll'
);
CREATE INDEX devices_serial ON devices(serial_number);
CREATE INDEX devices_batch ON devices(batch_id);
CREATE TABLE transitions (
    id BIGSERIAL PRIMARY KEY,
    device_id BIGINT NOT NULL REFERENCES devices(id),
    station TEXT NOT NULL,
    state TEXT NOT NULL, step TEXT NOT NULL, at TEXT NOT NULL, duration_ms INTEGER
);
CREATE INDEX transitions_device ON transitions(device_id);
CREATE TABLE certificates (
    id BIGSERIAL PRIMARY KEY,
    device_id BIGINT NOT NULL REFERENCES devices(id),
    station TEXT NOT NULL,
    device_serial TEXT, cert_serial TEXT NOT NULL, fingerprint TEXT NOT NULL,
    not_before TEXT NOT NULL, not_after TEXT NOT NULL, issuer TEXT NOT NULL, subject TEXT NOT NULL,
    chain_pem TEXT NOT NULL, operation TEXT NOT NULL, issued_at TEXT NOT NULL
);
CREATE INDEX certificates_device_serial ON certificates(device_serial);
-- One row per unit (serial number within a profile): who holds it now (a lease) and who
-- provisioned it first. The primary key makes the row unique; claims update it in one
-- statement under its row lock.
CREATE TABLE units (
    scope TEXT NOT NULL,
    serial_number TEXT NOT NULL,
    holder TEXT,
    lease_until TIMESTAMPTZ,
    claimed_at TIMESTAMPTZ,
    done_station TEXT,
    done_at TIMESTAMPTZ,
    done_device_id BIGINT REFERENCES devices(id),
    reprovision BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (scope, serial_number),
    CHECK ((holder IS NULL) = (lease_until IS NULL))
);
CREATE INDEX units_holder ON units(holder) WHERE holder IS NOT NULL;
-- One hash chain per station: appends of different stations never wait for each other.
CREATE TABLE audit (
    station TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (station, seq)
);
CREATE TABLE audit_heads (
    station TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
-- Every write transaction leaves its id here, so a write whose COMMIT reply was lost with
-- the connection is recognised on retry instead of applied twice.
CREATE TABLE ops (
    op_id UUID PRIMARY KEY,
    station TEXT NOT NULL,
    result BIGINT,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE imports (
    source TEXT PRIMARY KEY,
    station TEXT NOT NULL,
    batches INTEGER NOT NULL,
    devices INTEGER NOT NULL,
    audit_records INTEGER NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
""",
    ),
    (
        2,
        """
-- The CSR exactly as the device sent it (csr_der is the normalised one that was posted) and the
-- certificate a re-provisioning replaced (public material, journaled before anything is deleted).
ALTER TABLE devices ADD COLUMN csr_received_der BYTEA;
ALTER TABLE devices ADD COLUMN csr_received_sha256 TEXT;
ALTER TABLE devices ADD COLUMN replaced_chain_pem TEXT;
ALTER TABLE devices ADD COLUMN replaced_sha256 TEXT;
-- One job per unit row (a port worker, a background enrollment, a retry of a pending unit): the
-- claim's owner and when it was last taken or renewed (database clock; a claim of another
-- station whose lease ran out is taken over, see PgJournal.claim).
ALTER TABLE devices ADD COLUMN claimed_by TEXT;
ALTER TABLE devices ADD COLUMN claimed_at TIMESTAMPTZ;
CREATE INDEX devices_claimed_by ON devices(claimed_by) WHERE claimed_by IS NOT NULL;
""",
    ),
    (
        3,
        """
-- MES outbox: one record per unit that reached DONE or FAILED, written in that transition's own
-- transaction (app/batch/mes_record.py). Each station delivers the records it wrote (station),
-- per channel (drop folder, HTTP POST); see docs/mes.md.
CREATE TABLE mes_outbox (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    device_id BIGINT NOT NULL REFERENCES devices(id),
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
CREATE INDEX mes_outbox_station ON mes_outbox(station, id);
""",
    ),
    (
        4,
        """
-- Uses of a passcode, by its non-secret id (never the passcode), for the whole line: one row per
-- unit sent (or about to be sent) with it; 'reserved' until the answer, 'issued' once it paid.
CREATE TABLE passcode_uses (
    passcode_id TEXT NOT NULL,
    device_id BIGINT NOT NULL REFERENCES devices(id),
    station TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'issued')),
    reserved_at TEXT NOT NULL, issued_at TEXT,
    PRIMARY KEY (passcode_id, device_id)
);
""",
    ),
    (
        6,
        """
-- Scan-in: the unit's label exactly as the technician scanned it (a serial number, an IMEI, a
-- QR code's JSON or URL), compared with what the unit reports before any side effect.
ALTER TABLE devices ADD COLUMN scanned_label TEXT;
""",
    ),
    (
        7,
        """
-- A batch's failed rows by index (as the SQLite journal's devices_batch_state): the engine looks
-- through them for every unit plugged in (a row to continue), which without it read every row of
-- the batch, so each unit of a long hands-free batch cost more than the one before.
CREATE INDEX devices_batch_state ON devices(batch_id, state);
""",
    ),
)

LATEST = MIGRATIONS[-1][0]
