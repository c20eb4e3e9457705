"""Certificate expiry rows: every unit this station provisioned or renewed, soonest expiry first.

``certline expiry`` prints them and the GUI's expiry view shows them; both call
:func:`expiry_rows`, so the two never disagree about what expires when.
"""

from __future__ import annotations

from datetime import UTC, datetime

from certline.app.batch.journal_api import JournalBackend
from certline.app.reenroll import urgency_for

COLUMNS = (
    "device_serial",
    "cert_serial",
    "not_after",
    "days_left",
    "subject",
    "issuer",
    "operation",
    "fingerprint",
)


def expiry_rows(
    journal: JournalBackend, within_days: float | None = None, *, now: datetime | None = None
) -> list[dict[str, object]]:
    """One dict per certificate (keys: :data:`COLUMNS`), fewest days left first.

    ``within_days`` keeps only certificates expiring within that many days (already expired
    ones included, with a negative ``days_left``).
    """
    moment = now or datetime.now(UTC)
    rows = []
    for cert in journal.all_certificates():
        days = (datetime.fromisoformat(cert["not_after"]) - moment).total_seconds() / 86400
        if within_days is not None and days > within_days:
            continue
        rows.append(
            {**{k: cert[k] for k in COLUMNS if k in cert}, "days_left": round(days, 1) or 0.0}
        )  # never "-0.0"
    rows.sort(key=lambda r: float(str(r["days_left"])))
    return rows


def row_urgency(row: dict[str, object], now: datetime | None = None) -> str:
    """A row's urgency (``expired``, ``critical``, ``soon``, ``ok``) from its expiry time, on the
    re-enroll view's scale; not from ``days_left``, which is rounded (a certificate expired
    minutes ago shows 0.0 days and is still ``expired``)."""
    not_after = datetime.fromisoformat(str(row["not_after"]))
    return urgency_for((not_after - (now or datetime.now(UTC))).total_seconds() / 86400)
