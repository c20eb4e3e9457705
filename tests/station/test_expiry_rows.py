"""Expiry rows (certline.app.station.expiry): the CLI's ``certline expiry`` and the GUI's expiry view share them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from certline.app.cli.expiry_cmd import _print_table
from certline.app.station.expiry import COLUMNS, expiry_rows, row_urgency


class _Journal:
    """Only what expiry_rows reads: the journal's certificate listing (rows as the journal returns them)."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        self._rows = rows

    def all_certificates(self) -> list[dict[str, object]]:
        return self._rows


NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _cert(serial: str, days: float) -> dict[str, object]:
    return {
        "device_serial": serial,
        "cert_serial": "0A" + serial,
        "not_after": (NOW + timedelta(days=days)).isoformat(),
        "subject": f"CN={serial}",
        "issuer": "CN=Line CA",
        "operation": "enroll",
        "fingerprint": "ab" * 32,
    }


def test_soonest_expiry_first_with_days_left_and_every_column():
    rows = expiry_rows(_Journal([_cert("U2", 300), _cert("U1", 12.25), _cert("U3", -2)]), now=NOW)
    assert [r["device_serial"] for r in rows] == ["U3", "U1", "U2"]
    assert [r["days_left"] for r in rows] == [-2.0, 12.2, 300.0]
    assert all(set(r) == set(COLUMNS) for r in rows)


def test_within_days_keeps_expired_and_soon_expiring_units_only():
    rows = expiry_rows(_Journal([_cert("U2", 300), _cert("U1", 29), _cert("U3", -2)]), 30, now=NOW)
    assert [r["device_serial"] for r in rows] == ["U3", "U1"]


def test_a_certificate_that_expired_within_the_hour_never_shows_minus_zero():
    """Found from outside: ``certline expiry`` and the expiry view showed "-0.0" days; and the
    CLI table, with no urgency column, then looked the same as a certificate with hours left."""
    rows = expiry_rows(_Journal([_cert("U1", -0.01), _cert("U2", 0.01)]), now=NOW)
    assert [str(r["days_left"]) for r in rows] == ["0.0", "0.0"]
    assert [row_urgency(r, NOW) for r in rows] == ["expired", "critical"]
    table = io.StringIO()
    _print_table(rows, table, NOW)
    lines = table.getvalue().splitlines()
    assert "URGENCY" in lines[0] and "expired" in lines[1] and "critical" in lines[2]
