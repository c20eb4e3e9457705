"""The per-unit record handed to the MES (manufacturing execution system), built in the journal.

A record is made in the same journal transaction as the unit's DONE or FAILED transition (see
``Journal.transition``), from the rows that transaction reads and the audit record it appends, and
is queued in the journal's MES outbox (table ``mes_outbox``). So a unit that is DONE always has
its record queued, and the record says exactly what the journal says. Delivery is
:mod:`certline.app.mes`; the record's format is documented in ``docs/mes.md`` and as a JSON Schema in
``resources/mes/mes-record.schema.json``.

The record's text is made once, here, and stored: every delivery (a file in the drop folder,
each POST and each retry of it) carries these very bytes, so the MES can compare a retried
record with the one it has by its idempotency key and its body alike.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from certline.app.batch.states import DeviceState

#: the record format's name and version (``schema`` field); a change that breaks readers is /2
SCHEMA_ID = "certline.mes-record/1"

#: terminal states that hand a record to the MES (SKIPPED units were never worked on here)
MES_OUTCOMES = frozenset({DeviceState.DONE, DeviceState.FAILED})

#: delivery channels, each with its own "delivered at" column in the outbox
CHANNELS: tuple[str, ...] = ("folder", "http")


#: the backlog: records some wanted channel has not delivered (``condition``) among those this
#: station delivers (``scope``), how old the oldest is and the newest failure among them
MES_BACKLOG_SQL = (
    "SELECT COUNT(*) AS waiting, MIN(created_at) AS oldest,"
    " (SELECT last_error FROM mes_outbox WHERE {scope} AND last_error IS NOT NULL"
    " AND ({condition}) ORDER BY last_attempt_at DESC LIMIT 1) AS last_error"
    " FROM mes_outbox WHERE {scope} AND ({condition})"
)


@dataclass(frozen=True)
class OutboxRecord:
    """One queued record: its idempotency key and the exact JSON text to deliver."""

    key: str
    device_id: int
    outcome: str
    created_at: datetime
    body: str
    attempts: int = 0
    last_error: str | None = None

    @property
    def unit(self) -> str:
        """How messages name the unit: its serial number, as the window's table shows it, and its
        journal row (a unit that failed before it said who it is has only the row)."""
        try:
            serial = json.loads(self.body).get("serial")
        except (ValueError, AttributeError):
            serial = None
        return f"{serial} (unit {self.device_id})" if serial else f"unit {self.device_id}"


@dataclass(frozen=True)
class MesBacklog:
    """How many of this station's records still wait for a channel, for the station bar."""

    waiting: int
    oldest: datetime | None = None
    last_error: str | None = None


def new_key() -> str:
    """A record's idempotency key: a random UUID, unique across stations and journals."""
    return str(uuid.uuid4())


def channel_column(channel: str) -> str:
    """The outbox column that says when ``channel`` delivered a record (whitelisted names only)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown MES channel {channel!r} (one of {', '.join(CHANNELS)})")
    return f"{channel}_delivered_at"


def build_record(
    *,
    key: str,
    device: Mapping[str, Any],
    batch: Mapping[str, Any],
    outcome: DeviceState,
    station: str,
    finished_at: datetime,
    audit_seq: int,
    audit_hash: str,
) -> str:
    """The record's JSON text from the unit's row (after the transition), its batch row and the
    audit record of the transition (same transaction). Only public material: no secret is ever
    in a journal row."""
    failed = outcome is DeviceState.FAILED
    certificate = None
    if device.get("cert_serial"):
        certificate = {
            "serial": device["cert_serial"],
            "sha256_fingerprint": device.get("cert_fingerprint"),
            "not_after": device.get("not_after"),
        }
    error = None
    if failed:
        error = {
            "code": device.get("error_code"),
            "message": device.get("error"),
            "step": device.get("failed_step"),
        }
    record = {
        "schema": SCHEMA_ID,
        "idempotency_key": key,
        "outcome": outcome.value,
        "serial": device.get("serial_number"),
        "model": device.get("model"),
        "firmware": device.get("firmware"),
        "csr_sha256": device.get("csr_sha256"),
        "certificate": certificate,
        "error": error,
        "station": station,
        "operator": batch.get("operator"),
        "work_order": batch.get("work_order"),
        "profile": batch.get("profile_name"),
        "batch": int(batch["id"]),
        "device": int(device["id"]),
        "port": device.get("port"),
        "kind": device.get("kind") or "enroll",
        "started_at": device.get("started_at"),
        "finished_at": finished_at.isoformat(),
        "audit": {"station": station, "seq": int(audit_seq), "hash": audit_hash},
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
