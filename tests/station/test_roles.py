"""Roles (issue 19 part 6): what a technician and an engineer may do, checked in app/ for every view.

The batch use cases run on real simulated units and the real EST test server; the PINs are real
salted hashes in a real lock file (with fewer PBKDF2 rounds to keep the suite fast).
"""

from __future__ import annotations

import json

import pytest

from certline.app.batch.engine import BatchOptions
from certline.app.batch.states import DeviceState
from certline.app.security.roles import (
    PERMITTED,
    Action,
    Operator,
    Role,
    RoleGate,
    RoleRequired,
    starting_operator,
)
from certline.app.security.station_lock import StationLock, StationLockError, StationLockUnreadable
from certline.app.station import StationSession
from certline.app.station.batch_run import BatchRun
from tests.integration.conftest import line, sims, start_sim  # noqa: F401 - fixtures

ENGINEER_PIN = "8642-eng"
TECHNICIAN_PIN = "1357"


@pytest.fixture
def lock(tmp_path) -> StationLock:
    return StationLock(tmp_path / "config" / "station-lock.json", iterations=1000)


def test_the_issue_s_table_technician_runs_the_line_engineer_also_changes_it():
    technician = PERMITTED[Role.TECHNICIAN]
    assert {
        Action.START_BATCH,
        Action.PAUSE_BATCH,
        Action.RETRY_UNITS,
        Action.SCAN_LABELS,
        Action.PRINT_LABELS,
    } <= technician
    for engineer_only in (
        Action.EDIT_PROFILES,
        Action.PIN_TRUST_ANCHOR,
        Action.CHANGE_SECRETS,
        Action.REPROVISION,
        Action.UNLOCK_STATION,
        Action.EDIT_SETTINGS,
    ):
        assert engineer_only not in technician
        assert engineer_only in PERMITTED[Role.ENGINEER]
    assert technician <= PERMITTED[Role.ENGINEER]


def test_who_acts_before_anyone_signs_in(lock):
    assert starting_operator(lock, "ana") == Operator("ana", Role.ENGINEER)  # no PINs: roles are off
    lock.set_pin(ENGINEER_PIN)
    assert starting_operator(lock, "ana") == Operator("ana", Role.ENGINEER)  # set up, not locked yet
    lock.lock()
    assert starting_operator(lock, "ana") == Operator("ana", Role.TECHNICIAN)
    lock.set_technician_pin(TECHNICIAN_PIN, engineer_pin=ENGINEER_PIN)
    assert starting_operator(lock, "ana") is None  # the window waits for a sign-in
    cli = RoleGate.for_command_line(lock, "ana")
    assert cli.operator == Operator("ana", Role.TECHNICIAN)  # the OS account is the technician


def test_the_pin_says_the_role_and_only_the_engineer_pin_unlocks(lock):
    lock.set_pin(ENGINEER_PIN)
    lock.set_technician_pin(TECHNICIAN_PIN, engineer_pin=ENGINEER_PIN)
    lock.lock()
    gate = RoleGate.for_station(lock, "ana")
    with pytest.raises(RoleRequired, match="sign in"):
        gate.require(Action.START_BATCH)
    with pytest.raises(StationLockError, match="wrong PIN") as refused:
        gate.sign_in("ana", "0000")
    assert "0000" not in str(refused.value)
    assert gate.sign_in("ana", TECHNICIAN_PIN) == Operator("ana", Role.TECHNICIAN)
    assert lock.locked and gate.allows(Action.START_BATCH) and not gate.allows(Action.EDIT_PROFILES)
    with pytest.raises(RoleRequired, match="engineer role is needed"):
        gate.require(Action.REPROVISION)
    assert gate.sign_in("ben", ENGINEER_PIN, unlock=False).role is Role.ENGINEER
    assert lock.locked  # the command line proves the role for one command only
    gate.sign_in("ben", ENGINEER_PIN)
    assert not lock.locked and gate.allows(Action.REPROVISION)
    assert gate.sign_out() is None and lock.locked  # signing out locks; nobody acts until a sign-in


def test_the_two_pins_must_differ_and_only_the_engineer_sets_the_technician_pin(lock):
    with pytest.raises(StationLockError, match="engineer PIN is wrong"):
        lock.set_technician_pin(TECHNICIAN_PIN, engineer_pin=ENGINEER_PIN)  # no engineer PIN yet
    lock.set_pin(ENGINEER_PIN)
    with pytest.raises(StationLockError, match="differ"):
        lock.set_technician_pin(ENGINEER_PIN, engineer_pin=ENGINEER_PIN)
    with pytest.raises(StationLockError, match="engineer PIN is wrong"):
        lock.set_technician_pin(TECHNICIAN_PIN, engineer_pin=TECHNICIAN_PIN)
    lock.set_technician_pin(TECHNICIAN_PIN, engineer_pin=ENGINEER_PIN)
    with pytest.raises(StationLockError, match="differ"):
        lock.set_pin(TECHNICIAN_PIN, current_pin=ENGINEER_PIN)
    stored = lock.path.read_text()
    assert TECHNICIAN_PIN not in stored and ENGINEER_PIN not in stored
    assert lock.role_for_pin(TECHNICIAN_PIN) == "technician" and lock.role_for_pin("9999") is None


def _locked_session(line, lock: StationLock, operator: Operator | None) -> StationSession:  # noqa: F811
    return StationSession(
        line.profile(), line.credentials(), paths=line.paths(), roles=RoleGate(lock, operator)
    )


def test_a_technician_runs_a_batch_but_cannot_reprovision_a_unit(line, sims, tmp_path, lock):  # noqa: F811
    lock.set_pin(ENGINEER_PIN)
    lock.lock()
    sim = start_sim(sims, tmp_path, 1)
    session = _locked_session(line, lock, Operator("tia", Role.TECHNICIAN))
    try:
        run = BatchRun(session)
        assert run.begin_start()
        with pytest.raises(RoleRequired, match="re-provision"):
            run.start(BatchOptions(reprovision=True))
        engine = run.start(BatchOptions(work_order="WO-R"))
        run.add_ports(sim.ports)
        assert engine.wait(60)
        [unit] = engine.devices()
        assert unit.state == DeviceState.DONE
        issued = len(line.server.issued)
        with pytest.raises(RoleRequired, match="engineer role is needed"):
            run.reprovision(unit.device_id)
        assert session.journal.device(unit.device_id).state == DeviceState.DONE  # untouched
        assert len(line.server.issued) == issued
        assert run.retry_failed() == 0  # a technician may retry
    finally:
        session.close()


def test_nobody_signed_in_cannot_start_a_batch(line, lock):  # noqa: F811
    session = _locked_session(line, lock, None)
    try:
        run = BatchRun(session)
        assert run.begin_start()
        with pytest.raises(RoleRequired, match="sign in"):
            run.start(BatchOptions())
        run.failed()
        assert session.journal.batches() == []
    finally:
        session.close()


def test_every_audit_record_names_its_operator(line, sims, tmp_path, lock):  # noqa: F811
    sim = start_sim(sims, tmp_path, 2)
    session = _locked_session(line, lock, Operator("tia", Role.TECHNICIAN))
    try:
        run = BatchRun(session)
        assert run.begin_start()
        engine = run.start(BatchOptions(work_order="WO-A"))  # nobody typed a name: the signed-in one
        run.add_ports(sim.ports)
        assert engine.wait(60)
        run.stop(10)
        session.journal.append_audit("label-reprinted", {"device": 1, "operator": "ben"})
        records = session.journal.audit.records()
        kinds = {r["kind"] for r in records}
        assert {"batch-started", "device-done", "batch-ended", "label-reprinted"} <= kinds
        assert any(k.startswith("certificate-") for k in kinds)
        operators = {r["kind"]: json.loads(r["payload"])["operator"] for r in records}
        assert operators["label-reprinted"] == "ben"  # the caller's operator is kept
        assert all(
            json.loads(r["payload"])["operator"] == "tia" for r in records if r["kind"] != "label-reprinted"
        )
        assert session.journal.audit.verify().ok
    finally:
        session.close()


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "line1", "enroll_url": "https://est.example.com"}',  # an export saved over it
        '{"pin": {}, "locked": false}',  # a PIN hash with nothing in it
        '{"pin": {"algorithm": "md5", "salt": "", "hash": "", "iterations": 1}}',
        "not json at all",
    ],
    ids=["export", "empty-hash", "unknown-algorithm", "not-json"],
)
def test_a_damaged_lock_file_fails_closed_even_for_an_engineer_signed_in(lock, content: str):
    """Found in review: the lock file saved over while an engineer was signed in, then "Sign out"
    raised before the session ended, and the engineer stayed engineer. Every damaged file reads
    as locked, and signing out always ends the session."""
    lock.set_pin(ENGINEER_PIN)
    gate = RoleGate.for_station(lock, "ben")
    assert gate.sign_in("ben", ENGINEER_PIN).role is Role.ENGINEER
    lock.path.write_text(content, encoding="utf-8")

    status = lock.status()
    assert status.locked and status.roles_on and status.problem
    assert gate.sign_out() == Operator("ben", Role.TECHNICIAN)
    assert not gate.allows(Action.EDIT_PROFILES) and gate.allows(Action.START_BATCH)
    with pytest.raises(StationLockUnreadable):
        gate.sign_in("ben", ENGINEER_PIN)  # no PIN proves the engineer role against such a file
    assert starting_operator(lock, "ana") == Operator("ana", Role.TECHNICIAN)
