"""Line statistics as CSV and as a plain-text table (``certline stats`` and the Statistics view).

The CSV is "long": one number per line as ``section,name,metric,value``, so every section
(hours, Pareto bars, steps, stations) fits one sheet and a pivot table rebuilds any view.
"""

from __future__ import annotations

import csv
import io
from typing import Any

CSV_COLUMNS = ("section", "name", "metric", "value")

#: (section in the JSON form, the field naming each row)
_LISTS = (
    ("units_per_hour", "hour"),
    ("failures_by_step", "name"),
    ("failures_by_cause", "name"),
    ("step_times", "step"),
    ("stations", "station"),
)


def csv_rows(stats: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Every number of ``stats`` (the :meth:`LineStats.to_dict` form) as one CSV row each."""
    rows = [("units", "", metric, _text(value)) for metric, value in stats["units"].items()]
    for section, key in _LISTS:
        for entry in stats[section]:
            rows += [(section, str(entry[key]), m, _text(v)) for m, v in entry.items() if m != key]
    return rows


def to_csv(stats: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(stats))
    return out.getvalue()


def to_table(stats: dict[str, Any]) -> str:
    """A readable summary for a terminal."""
    units = stats["units"]
    fpy = units["first_pass_yield"]
    lines = [
        f"batches: {', '.join(map(str, stats['scope']['batches'])) or 'none'}",
        f"units with an outcome: {units['attempted']}  done: {units['done']}  "
        f"first pass: {units['first_pass']}  first-pass yield: "
        + (f"{fpy:.1%}" if fpy is not None else "n/a"),
        f"still failed: {units['still_failed']}  in progress: {units['in_progress']}  "
        f"skipped: {units['skipped']}  failures: {units['failures']}",
        "",
        "units per hour:",
        *(f"  {h['hour']}  done {h['done']:>4}  failed {h['failed']:>4}" for h in stats["units_per_hour"]),
    ]
    for title, section in (
        ("failures by step", "failures_by_step"),
        ("failures by cause", "failures_by_cause"),
    ):
        lines += ["", f"{title}:"]
        lines += [
            f"  {r['name']:<24} {r['count']:>5}  {r['share']:>6.1%}  cumulative {r['cumulative_share']:>6.1%}"
            for r in stats[section]
        ] or ["  none"]
    lines += ["", "time per step (seconds):"]
    lines += [
        f"  {s['step']:<18} p50 {s['p50_s']:>9.3f}  p95 {s['p95_s']:>9.3f}  ({s['stays']} stays)"
        for s in stats["step_times"]
    ] or ["  none"]
    lines += ["", "stations:"]
    for s in stats["stations"]:
        fpy_s = f"{s['first_pass_yield']:.1%}" if s["first_pass_yield"] is not None else "n/a"
        lines.append(
            f"  {s['station']:<20} done {s['done']:>5}  first-pass yield {fpy_s:>6}  failures {s['failures']}"
        )
    return "\n".join(lines) + "\n"


def _text(value: object) -> str:
    return "" if value is None else str(value)
