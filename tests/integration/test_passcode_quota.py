"""Issue 19 part 1 against the real EST test server (TLS on 127.0.0.1) and simulated units on
real pseudo-terminals: a passcode with a use limit, a passcode the server stops accepting, and a
server that throttles.

Every test runs the server with ``answer_retransmissions=False`` and counts POSTs per CSR, so a
unit enrolled twice cannot hide behind the server's retransmission cache.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import pytest

from certline.app.batch.engine import BatchOptions
from certline.app.batch.states import DeviceState
from certline.app.config.profile_store import ProfileStore
from certline.app.security.secret_store import SecretStore
from certline.app.station.passcode_change import continue_with_new_passcode, quota_outlook, set_new_passcode

from .conftest import PASSCODE, start_sim

NEW_PASSCODE = "line-passcode-second-9c1d"  # a test value, not a secret


class _MemoryStore(SecretStore):
    """The keyring is not what these tests are about (tests/secrets covers it)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def set(self, profile, purpose, value):  # type: ignore[no-untyped-def, override]
        self.values[f"{getattr(profile, 'name', profile)}/{purpose}"] = value


def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    ends = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < ends, "condition not reached"
        time.sleep(0.1)


def _one_post_per_csr(line, engine) -> None:  # type: ignore[no-untyped-def]
    for row in engine.journal.device_rows(engine.batch_id):
        assert line.server.posts_for_csr(bytes(row["csr_der"])) >= 1
    issued_keys = [r.public_key_sha256 for r in line.server.issued]
    assert len(issued_keys) == len(set(issued_keys)), "a unit was issued two certificates"


def test_the_batch_waits_before_the_passcode_runs_out_and_goes_on_with_a_new_one(line, sims, tmp_path):
    line.server.config.answer_retransmissions = False
    line.server.config.passcode_max_uses = 3
    sim = start_sim(sims, tmp_path, 5)
    profile = line.profile(passcode_id="first", passcode_max_uses=3, passcode_expires="2099-12-31")
    session = line.session(passcode_id="first", passcode_max_uses=3, passcode_expires="2099-12-31")
    try:
        outlook = quota_outlook(profile, session.journal, expected_units=5)
        assert outlook is not None and outlook.short
        assert outlook.message.startswith(
            "this work order expects 5 units; the passcode has 3 uses left, "
            "and expires on 2099-12-31 23:59 UTC"
        )
        engine = session.start_batch(BatchOptions(work_order="WO-Q"), sim.ports)
        _wait_for(lambda: engine.summary().passcode_wait is not None and len(line.server.issued) == 3)
        time.sleep(1.0)  # the waiting units really wait: nothing more is sent
        assert len(line.server.issued) == 3
        assert "uses are spent" in (engine.summary().passcode_wait or "")
        waiting = [s for s in engine.devices() if s.state != DeviceState.DONE]
        assert len(waiting) == 2
        assert all(s.state == DeviceState.CSR_READY and "uses are spent" in s.step for s in waiting)
        assert not any(s.state == DeviceState.FAILED for s in engine.devices()), "no unit failed with 401"
        posts_before = line.server.post_count
        assert posts_before == 3, "the passcode was never sent a fourth time"

        line.server.set_passcode(NEW_PASSCODE)
        store, profiles = _MemoryStore(), ProfileStore()
        updated = set_new_passcode(
            profile, NEW_PASSCODE, max_uses=10, expires=None, store=store, profiles=profiles,
            journal=session.journal,
        )  # fmt: skip
        assert updated.passcode_id != "first" and store.values == {"line/passcode": NEW_PASSCODE}
        continue_with_new_passcode(session, updated, NEW_PASSCODE)
        assert engine.wait(60)
        snaps = engine.devices()
        assert [s.state for s in snaps] == [DeviceState.DONE] * 5
        assert len(line.server.issued) == 5 and line.server.post_count == 5
        _one_post_per_csr(line, engine)
        assert session.journal.passcode_usage("first").issued == 3
        assert session.journal.passcode_usage(updated.passcode_id).issued == 2
        kinds = [r["kind"] for r in session.journal.audit.records()]
        assert "passcode-changed" in kinds
    finally:
        session.close()


def test_a_401_after_successes_is_reported_as_passcode_exhausted_with_the_counts(line, sims, tmp_path):
    """The CA's limit is lower than the profile says: the 401 is not a generic failure."""
    line.server.config.answer_retransmissions = False
    line.server.config.passcode_max_uses = 2
    sim = start_sim(sims, tmp_path, 4)
    session = line.session(passcode_id="first", passcode_max_uses=50, concurrency=1)
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        _wait_for(lambda: engine.summary().passcode_wait is not None)
        reason = engine.summary().passcode_wait or ""
        assert reason.startswith("passcode exhausted or expired: the EST server refused it (HTTP 401)")
        assert "2 enrollments made with passcode 'first'" in reason and "of 50 uses left" in reason
        time.sleep(1.0)
        assert not any(s.state == DeviceState.FAILED for s in engine.devices())
        assert len(line.server.issued) == 2

        line.server.set_passcode(NEW_PASSCODE)
        updated = dataclasses.replace(session.profile, passcode_id="second", passcode_max_uses=None)
        continue_with_new_passcode(session, updated, NEW_PASSCODE)
        assert engine.wait(60)
        assert [s.state for s in engine.devices()] == [DeviceState.DONE] * 4
        assert len(line.server.issued) == 4
        _one_post_per_csr(line, engine)
    finally:
        session.close()


def test_a_passcode_that_never_worked_fails_as_a_plain_401(line, sims, tmp_path):
    line.server.config.answer_retransmissions = False
    line.server.set_passcode(NEW_PASSCODE)  # the profile's passcode (PASSCODE) is wrong from the start
    sim = start_sim(sims, tmp_path, 1)
    session = line.session(passcode_id="typo")
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        (snap,) = engine.devices()
        assert snap.state == DeviceState.FAILED and snap.error_code == "unauthorized"
        assert "passcode exhausted" not in (snap.error or "")
        assert session.journal.passcode_usage("typo").spent == 0, "a refused request costs no use"
    finally:
        session.close()
    assert PASSCODE != NEW_PASSCODE


@pytest.mark.parametrize("as_date", [False, True], ids=["delta-seconds", "http-date"])
def test_a_throttling_server_is_honoured_with_its_retry_after(line, sims, tmp_path, as_date):
    """2 enrollments per 3 s, then 429 with Retry-After (both RFC 9110 forms): every unit is
    issued, none sooner than the server allows."""
    line.server.config.answer_retransmissions = False
    line.server.config.throttle_retry_after_date = as_date
    line.server.config.throttle_limit = 2
    line.server.config.throttle_window = 3.0
    sim = start_sim(sims, tmp_path, 4)
    session = line.session(request_timeout=10)
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(120)
        assert [s.state for s in engine.devices()] == [DeviceState.DONE] * 4
        assert line.server.throttled_count >= 1, "the server did throttle"
        times = sorted(r.issued_at for r in line.server.issued)
        assert len(times) == 4
        assert (times[2] - times[0]).total_seconds() >= 2.9, "the third waited for the window"
        _one_post_per_csr(line, engine)
    finally:
        session.close()


def test_the_profile_rate_keeps_the_station_under_the_throttle(line, sims, tmp_path):
    """30 per minute (one every 2 s) against a server allowing 2 per 3 s: never a 429."""
    line.server.config.answer_retransmissions = False
    line.server.config.throttle_limit = 2
    line.server.config.throttle_window = 3.0
    sim = start_sim(sims, tmp_path, 3)
    session = line.session(max_enrollments_per_minute=30.0)
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(120)
        assert [s.state for s in engine.devices()] == [DeviceState.DONE] * 3
        assert line.server.throttled_count == 0
        times = sorted(r.issued_at for r in line.server.issued)
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert all(gap >= 1.8 for gap in gaps), gaps
    finally:
        session.close()


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    from tests.helpers import env_keyring

    environ = dict(
        os.environ, LINE_PASSCODE=PASSCODE, NEW_PASSCODE=NEW_PASSCODE, **env_keyring.environment({})
    )
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "certline.app.cli.main", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line_warns_stops_for_a_new_passcode_and_resume_finishes(line, sims, tmp_path):
    """``batch run`` warns with the counts, stops with exit 3 before the passcode runs out;
    ``profile set-passcode`` and ``batch resume`` finish the batch, nothing issued twice."""
    line.server.config.answer_retransmissions = False
    line.server.config.passcode_max_uses = 2
    sim = start_sim(sims, tmp_path, 3)
    ProfileStore().save(line.profile(passcode_id="wo-passcode-1", passcode_max_uses=2))
    expected = tmp_path / "expected.csv"
    expected.write_text("serial\n" + "".join(f"{d.serial_number}\n" for d in sim.devices))
    ports = [arg for port in sim.ports for arg in ("--port", port)]

    first = _cli(
        "batch", "run", "--profile", "line", "--work-order", "WO-7", "--expected", str(expected),
        "--passcode-env", "LINE_PASSCODE", *ports,
    )  # fmt: skip
    assert first.returncode == 3, first.stdout + first.stderr
    assert "warning: this work order expects 3 units; the passcode has 2 uses left" in first.stderr
    assert "the batch stopped: the passcode's uses are spent" in first.stderr
    assert "now 2 enrollments made with passcode 'wo-passcode-1', 0 of 2 uses left" in first.stderr
    assert "certline profile set-passcode line" in first.stderr
    # the resume it suggests names the ports: without them a resume does not write to the units
    assert f"certline batch resume --port {sim.ports[0]} --port {sim.ports[1]}" in first.stderr
    assert PASSCODE not in first.stdout + first.stderr
    assert len(line.server.issued) == 2 and line.server.post_count == 2

    line.server.set_passcode(NEW_PASSCODE)
    changed = _cli(
        "profile", "set-passcode", "line", "--from-env", "NEW_PASSCODE", "--uses", "5",
        "--expires", "2099-06-30", "--passcode-name", "wo-passcode-2",
    )  # fmt: skip
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "counted as passcode 'wo-passcode-2' (5 uses, expires 2099-06-30)" in changed.stdout
    assert ProfileStore().load("line").passcode_id == "wo-passcode-2"

    resumed = _cli("batch", "resume", "--passcode-env", "NEW_PASSCODE", *ports)
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output
    assert "the passcode has 5 uses left, and expires on 2099-06-30 23:59 UTC" in output
    assert len(line.server.issued) == 3 and line.server.post_count == 3, "each CSR posted exactly once"
    rows = [r for r in _journal_rows()]
    assert sorted(r["state"] for r in rows) == [DeviceState.DONE.value] * 3
    for row in rows:
        assert line.server.posts_for_csr(bytes(row["csr_der"])) == 1
    assert NEW_PASSCODE not in output and PASSCODE not in output


def _journal_rows() -> list[dict[str, object]]:
    from certline.app.batch.journal import Journal
    from certline.app.config.paths import station_paths

    journal = Journal(station_paths().journal)
    try:
        return [row for batch in journal.batches() for row in journal.device_rows(batch.id)]
    finally:
        journal.close()


def test_two_stations_on_the_shared_journal_share_the_passcodes_limit(
    line, sims, tmp_path, pg_cluster, pg_url
):
    """The limit is the line's: two stations, four units, a passcode good for three."""
    from certline.app.batch.journal_pg import PgJournal
    from certline.app.station import StationSession

    line.server.config.answer_retransmissions = False
    line.server.config.passcode_max_uses = 3
    sim = start_sim(sims, tmp_path, 4)
    profile = line.profile(passcode_id="line-passcode", passcode_max_uses=3)
    sessions = [
        StationSession(
            profile,
            line.credentials(),
            paths=line.paths(),
            journal=PgJournal(pg_url, station=name, password=pg_cluster.password, migrate=True),
        )
        for name in ("st-a", "st-b")
    ]
    try:
        engines = [
            session.start_batch(BatchOptions(work_order="WO-LINE"), sim.ports[i * 2 : i * 2 + 2])
            for i, session in enumerate(sessions)
        ]
        _wait_for(lambda: len(line.server.issued) == 3 and any(e.summary().passcode_wait for e in engines))
        time.sleep(1.0)
        assert len(line.server.issued) == 3 and line.server.post_count == 3, "no fourth request, no 401"
        snaps = [s for e in engines for s in e.devices()]
        assert sorted(s.state.value for s in snaps) == ["csr-ready", "done", "done", "done"]
        usage = sessions[0].journal.passcode_usage("line-passcode")
        assert (usage.issued, usage.in_flight) == (3, 0)
    finally:
        for session in sessions:
            session.close()
