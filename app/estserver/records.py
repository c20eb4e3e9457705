"""What the test server remembers: every certificate it issued and the last requests it saw.

Tests assert on these instead of scraping logs: "each device got exactly one
certificate", "the client sent text/plain PEM", "the label was cps/IOT_...".
The issuance record is also appended to ``issued.jsonl`` so it survives a
server restart (crash/kill tests count issuance across restarts).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class IssuedRecord:
    """One issued certificate. ``op`` is the EST operation that produced it."""

    serial: int
    subject: str
    public_key_sha256: str
    csr_sha256: str
    label: str | None
    device_group: str | None
    issued_at: dt.datetime
    op: str
    listener: str = "passcode"
    not_after: dt.datetime | None = None
    fault: str | None = None
    """Name of the fault that shaped this certificate (wrong_key, unknown_ca, change_subject)."""

    @property
    def serial_hex(self) -> str:
        return f"{self.serial:x}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["serial"] = self.serial_hex
        data["issued_at"] = self.issued_at.isoformat()
        data["not_after"] = self.not_after.isoformat() if self.not_after else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssuedRecord:
        values = dict(data)
        values["serial"] = int(values["serial"], 16)
        values["issued_at"] = dt.datetime.fromisoformat(values["issued_at"])
        if values.get("not_after"):
            values["not_after"] = dt.datetime.fromisoformat(values["not_after"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})


class IssuanceLog:
    """Thread-safe list of :class:`IssuedRecord`, mirrored to a JSON-lines file when given one."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._records: list[IssuedRecord] = []
        if path is not None and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if not line:
                    continue
                try:
                    self._records.append(IssuedRecord.from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line after a kill: skip it, keep the rest

    def append(self, record: IssuedRecord) -> None:
        with self._lock:
            self._records.append(record)
            if self._path is not None:
                with self._path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record.to_json(), sort_keys=True) + "\n")
                    fh.flush()

    def snapshot(self) -> list[IssuedRecord]:
        with self._lock:
            return list(self._records)


@dataclass
class RequestRecord:
    """One HTTP request as received, for byte-exact assertions in tests.

    Headers include ``Authorization``; the record lives in memory only and its
    ``repr`` redacts that header so a failing assertion cannot print a passcode.
    """

    method: str
    path: str
    headers: list[tuple[str, str]] = field(repr=False)
    body: bytes = field(repr=False)
    listener: str = "passcode"
    op: str | None = None
    label: str | None = None
    device_group: str | None = None
    status: int | None = None
    client_cert_subject: str | None = None
    tls_version: str | None = None
    auth_style: str | None = None
    """Which credential style authenticated it: passcode-only, user-password, client-cert."""
    received_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def content_type(self) -> str | None:
        return self.header("Content-Type")

    @property
    def authorization(self) -> str | None:
        return self.header("Authorization")

    def __repr__(self) -> str:
        return (
            f"RequestRecord({self.method} {self.path} listener={self.listener} op={self.op} "
            f"label={self.label!r} device_group={self.device_group!r} status={self.status} "
            f"content_type={self.content_type!r} body={len(self.body)}B "
            f"authorization={'<redacted>' if self.authorization else None})"
        )


class RequestLog:
    """Bounded, thread-safe log of the most recent requests."""

    def __init__(self, maxlen: int = 1000) -> None:
        self._lock = threading.Lock()
        self._records: collections.deque[RequestRecord] = collections.deque(maxlen=maxlen)

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
