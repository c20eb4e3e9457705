"""Line statistics of a real batch: simulated units over USB-serial ptys, the EST test server over TLS.

One unit passes, one refuses its first certificate write and passes when the operator retries,
one refuses every certificate write. The statistics must tell exactly that story.
"""

# ruff: noqa: F811 - the integration fixtures are imported by name so pytest finds them here

from __future__ import annotations

from certline.app.station.line_stats import StatsScope, line_stats
from tests.integration.conftest import line, sims, start_sim  # noqa: F401


def test_a_real_batch_with_a_retry_and_a_hard_failure(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 3, faults=["dev1:refuse@cert-write=1", "dev2:refuse@cert-write"])
    session = line.provision(sim.ports)
    try:
        assert session.engine.retry_failed() == 2
        assert session.engine.wait(120)
        stats = line_stats(session.journal, StatsScope(work_order="WO-TEST")).to_dict()
        station = session.journal.batches()[0].station
    finally:
        session.close()
    assert stats["units"] == {
        "attempted": 3,
        "first_pass": 1,
        "first_pass_yield": 0.3333,
        "done": 2,
        "still_failed": 1,
        "in_progress": 0,
        "skipped": 0,
        "failures": 3,  # dev1 once, dev2 on the first run and again on the retry
    }
    by_step = {r["name"]: r["count"] for r in stats["failures_by_step"]}
    assert by_step == {"writing": 3}, stats["failures_by_step"]
    assert stats["failures_by_step"][0]["cumulative_share"] == 1.0
    # dev1's row no longer holds its error after the retry: the cause comes from the audit trail
    assert stats["failures_by_cause"] == [
        {"name": "refused", "count": 3, "share": 1.0, "cumulative_share": 1.0}
    ]
    assert sum(h["done"] for h in stats["units_per_hour"]) == 2
    assert sum(h["failed"] for h in stats["units_per_hour"]) == 3
    times = {s["step"]: s for s in stats["step_times"]}
    assert (
        times["enrolling"]["stays"] == 3
    )  # every unit enrolled once (a retry resumes at the issued certificate)
    assert times["enrolling"]["p50_s"] > 0 and times["enrolling"]["p95_s"] >= times["enrolling"]["p50_s"]
    assert [s["station"] for s in stats["stations"]] == [station or "(unnamed)"]
