"""Certline-firmware units that already hold a certificate issued by another station.

The rule (README, CONTRIBUTING.md): a working credential on a unit is never destroyed unless the
operator asked for it. A unit provisioned by station A and plugged into station B (its own
journal, which has never seen the unit) fails as ``already-provisioned`` with its flash
unchanged; with ``--reprovision`` the old certificate is journaled, then replaced.
"""

from __future__ import annotations

import hashlib

from certline.app.batch.engine import BatchOptions
from certline.app.batch.states import DeviceState
from certline.app.config.paths import StationPaths
from certline.app.config.profile import KeyGeneration
from certline.app.sim.simulator import Simulator
from certline.app.station import StationSession

from .conftest import Line, start_sim


def other_station(line: Line, name: str) -> StationSession:
    """A second station (its own CERTLINE_HOME and journal) that has never seen these units."""
    home = line.root / name
    paths = StationPaths(home / "data", home / "config", home / "logs", home / "cache")
    return StationSession(line.profile(), line.credentials(), paths=paths)


def run(session: StationSession, ports: list[str], **options: object) -> None:
    engine = session.start_batch(BatchOptions(**options), ports)  # type: ignore[arg-type]
    assert engine.wait(120), "batch did not finish"


def flash(sim: Simulator) -> dict[str, object]:
    return sim.devices[0].snapshot()


def test_unit_provisioned_by_another_station_is_left_untouched(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 1)
    line.provision(sim.ports).close()
    before = flash(sim)
    assert before.get("chain_pem")
    issued = len(line.server.issued)

    session = other_station(line, "station-b")
    try:
        run(session, sim.ports)
        (snap,) = session.engine.devices()
        assert snap.state == DeviceState.FAILED and snap.error_code == "already-provisioned", snap.error
        assert "left untouched" in (snap.error or "") and "--reprovision" in (snap.error or "")
    finally:
        session.close()
    assert flash(sim) == before  # same active key, same chain, nothing pending
    assert len(line.server.issued) == issued


def test_reprovision_on_another_station_journals_then_replaces(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 1)
    line.provision(sim.ports).close()
    old_chain = str(flash(sim)["chain_pem"])

    session = other_station(line, "station-c")
    try:
        run(session, sim.ports, reprovision=True)
        (snap,) = session.engine.devices()
        assert snap.state == DeviceState.DONE, snap.error
        row = session.journal.device_row(snap.device_id)
        assert row["replaced_chain_pem"] == old_chain
        assert row["replaced_sha256"] == hashlib.sha256(old_chain.encode("ascii")).hexdigest()
        history = [t.step for t in session.journal.history(snap.device_id)]
        journaled = next(i for i, s in enumerate(history) if s.startswith("re-provisioning: journaled"))
        assert journaled < history.index("CSR ready")
    finally:
        session.close()
    assert flash(sim)["chain_pem"] != old_chain


def test_the_station_that_provisioned_it_still_skips_it(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 1)
    line.provision(sim.ports).close()
    before = flash(sim)
    session = line.provision(sim.ports)
    try:
        (snap,) = session.engine.devices()
        assert snap.state == DeviceState.SKIPPED and snap.error_code == "already-provisioned"
    finally:
        session.close()
    assert flash(sim) == before


def test_retrying_a_job_after_it_wrote_its_own_chain_is_not_refused(line, sims, tmp_path):
    """Server-side keys: a unit that failed after its chain was committed restarts at key
    generation; the chain it holds is the one journaled for that very job, not a credential
    from elsewhere, so the operator's retry must not fail it as already-provisioned."""
    sim = start_sim(sims, tmp_path, 1, faults=["reboot@sign=2"])  # proof fails after the commit
    session = line.session(key_generation=KeyGeneration.SERVER)
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(120), "batch did not finish"
        (failed,) = engine.devices()
        assert failed.state == DeviceState.FAILED, failed.state
        written = session.journal.device_row(failed.device_id)["chain_pem"]
        assert flash(sim)["chain_pem"] == written  # this job's chain is on the unit
        assert engine.retry_failed() == 1
        assert engine.wait(120), "retry did not finish"
        (snap,) = engine.devices()
        assert snap.state == DeviceState.DONE, (snap.error_code, snap.error)
    finally:
        session.close()
