"""Line statistics on a journal with a known shift (tests/helpers/line_journal.py), worked out by hand."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from certline.app.cli.main import main
from certline.app.config.paths import station_paths
from certline.app.station.line_stats import StatsScope, line_stats
from certline.app.station.line_stats_export import to_csv
from tests.helpers.line_journal import SECOND_BATCH, build_line_journal


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("station")


@pytest.fixture(scope="module")
def journal(home):
    """Built once (every write is fsynced); the tests only read it."""
    with pytest.MonkeyPatch.context() as patch:
        j = build_line_journal(station_paths({"CERTLINE_HOME": str(home)}).journal, patch)
    yield j
    j.close()


def _wo7(journal):
    return line_stats(journal, StatsScope(work_order="WO-7"), tz=UTC).to_dict()


def test_units_and_first_pass_yield_count_a_retried_unit_and_a_replugged_unit_as_not_first_pass(journal):
    stats = _wo7(journal)
    assert stats["scope"]["batches"] == [1, 2]
    # SN-1 passes first time; SN-2 (retried) and SN-3 (failed on A, passed on B) are done but not first
    # pass; SN-4 and SN-7 are still failed; SN-5 is in progress and SN-6 skipped: neither counts.
    assert stats["units"] == {
        "attempted": 5,
        "first_pass": 1,
        "first_pass_yield": 0.2,
        "done": 3,
        "still_failed": 2,
        "in_progress": 1,
        "skipped": 1,
        "failures": 4,
    }


def test_failures_pareto_by_step_and_by_cause(journal):
    stats = _wo7(journal)
    assert stats["failures_by_step"] == [
        {"name": "enrolling", "count": 2, "share": 0.5, "cumulative_share": 0.5},
        {"name": "identified", "count": 1, "share": 0.25, "cumulative_share": 0.75},
        {"name": "writing", "count": 1, "share": 0.25, "cumulative_share": 1.0},
    ]
    # SN-2's cause survives its retry (the device row was cleared; the audit trail keeps it), and
    # SN-4's duplicate refusal (recorded without an audit code) comes from its device row
    assert stats["failures_by_cause"] == [
        {"name": "est", "count": 2, "share": 0.5, "cumulative_share": 0.5},
        {"name": "device", "count": 1, "share": 0.25, "cumulative_share": 0.75},
        {"name": "duplicate", "count": 1, "share": 0.25, "cumulative_share": 1.0},
    ]


def test_units_per_hour_has_the_idle_hour_as_zero(journal):
    assert _wo7(journal)["units_per_hour"] == [
        {"hour": "2026-12-03T08:00:00+00:00", "done": 2, "failed": 3},
        {"hour": "2026-12-03T09:00:00+00:00", "done": 0, "failed": 0},
        {"hour": "2026-12-03T10:00:00+00:00", "done": 1, "failed": 1},
    ]


def test_step_times_are_nearest_rank_percentiles_of_complete_stays(journal):
    times = {s["step"]: s for s in _wo7(journal)["step_times"]}
    happy_path_order = "detected identified key-ready csr-ready enrolling issued writing written verified"
    assert list(times) == happy_path_order.split()
    # enrolling stays: 20 (SN-1), 30 then 10 (SN-2 around its retry), 20 (SN-3 on A), 15 (on B), 40 (SN-7)
    assert times["enrolling"] == {"step": "enrolling", "stays": 6, "p50_s": 20.0, "p95_s": 40.0}
    # writing: 4, 6, 9 (SN-3 failed after 9 s), 5
    assert times["writing"] == {"step": "writing", "stays": 4, "p50_s": 5.0, "p95_s": 9.0}
    # SN-2's retry re-enters csr-ready: a second stay. The refused/skipped units' identified rows and
    # SN-5's key-ready (still running) have no duration yet and are left out.
    assert times["csr-ready"]["stays"] == 6
    assert times["identified"] == {"step": "identified", "stays": 6, "p50_s": 10.0, "p95_s": 10.0}
    assert times["key-ready"]["stays"] == 5
    assert times["detected"] == {"step": "detected", "stays": 8, "p50_s": 2.0, "p95_s": 2.0}


def test_per_station_counts_each_station_on_its_own(journal):
    stations = {s["station"]: s for s in _wo7(journal)["stations"]}
    assert stations["line-A"] == {
        "station": "line-A",
        "attempted": 4,
        "first_pass": 1,
        "first_pass_yield": 0.25,
        "done": 2,
        "still_failed": 2,
        "in_progress": 1,
        "skipped": 1,
        "failures": 3,
    }
    # SN-3 passed first time at line B (it failed at line A: the work-order yield above counts that)
    assert stations["line-B"]["attempted"] == 2 and stations["line-B"]["first_pass_yield"] == 0.5


def test_batch_and_time_window_select_the_same_second_batch(journal):
    by_batch = line_stats(journal, StatsScope(batch_id=2), tz=UTC).to_dict()
    by_time = line_stats(journal, StatsScope(work_order="WO-7", since=SECOND_BATCH), tz=UTC).to_dict()
    assert by_batch["units"] == by_time["units"]
    assert by_batch["units"]["attempted"] == 2 and by_batch["failures_by_cause"][0]["name"] == "est"
    until = line_stats(journal, StatsScope(until=datetime(2026, 12, 3, 9, tzinfo=UTC)), tz=UTC).to_dict()
    assert until["units"]["attempted"] == 4  # line A only; WO-8's unit came later


def test_an_empty_scope_has_no_yield_rather_than_a_division_by_zero(journal):
    stats = line_stats(journal, StatsScope(work_order="nope")).to_dict()
    assert stats["units"]["first_pass_yield"] is None
    assert stats["units_per_hour"] == [] and stats["step_times"] == [] and stats["stations"] == []


def test_cli_json_is_the_app_function_output_and_csv_carries_the_same_numbers(
    journal, home, monkeypatch, capsys
):
    monkeypatch.setenv("CERTLINE_HOME", str(home))  # the CLI opens the journal the fixture wrote
    expected = line_stats(journal, StatsScope(work_order="WO-7")).to_dict()
    assert main(["stats", "--work-order", "WO-7", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == expected
    assert main(["stats", "--work-order", "WO-7", "--format", "csv"]) == 0
    text = capsys.readouterr().out
    assert text == to_csv(expected)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {"section": "units", "name": "", "metric": "first_pass_yield", "value": "0.2"} in rows
    assert {"section": "failures_by_cause", "name": "est", "metric": "count", "value": "2"} in rows
    assert main(["stats", "--work-order", "WO-7"]) == 0
    table = capsys.readouterr().out
    assert "first-pass yield: 20.0%" in table and "enrolling" in table
