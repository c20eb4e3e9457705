"""nRF91 units on a real line: the simulator answers as real firmware (NULL-parameter CSRs, URCs,
CFUN=1 at boot, a 4096-byte AT host), over pseudo-terminals, against the EST test server over TLS.

Each unit also carries nRF Cloud credentials in sec_tag 16842753 (the published certificate and
CA of tests/device/fixtures): provisioning Certline's tag must never touch them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from certline.app.batch.engine import BatchOptions
from certline.app.batch.report import render
from certline.app.batch.states import DeviceState
from certline.app.config.paths import StationPaths
from certline.app.device.nrf91_driver import DEFAULT_SEC_TAG, NRF91Driver
from certline.app.sim.simulator import Simulator
from certline.app.station import StationSession

from .conftest import Line, start_sim

FIXTURES = Path(__file__).parents[1] / "device" / "fixtures"
NRF_CLOUD = {
    "16842753,0": (FIXTURES / "amazon_root_ca1.pem").read_text(encoding="ascii"),
    "16842753,1": (FIXTURES / "nrfcloud_dev_cert_16842753.pem").read_text(encoding="ascii"),
}


def nrf91_units(sims: list[Simulator], root: Path, count: int, **kwargs: object) -> Simulator:
    sim = start_sim(sims, root, count, driver="nrf91", **kwargs)
    for device in sim.devices:
        store = dict(device.flash.get("nrf91.cmng", {}))
        store.update(NRF_CLOUD)
        device.flash.update(**{"nrf91.cmng": store})
    return sim


def cmng(sim: Simulator, index: int = 0) -> dict[str, str]:
    return dict(sim.devices[index].flash.get("nrf91.cmng", {}))


def other_station(line: Line, name: str) -> StationSession:
    """A second station (its own journal) that has never seen these units."""
    home = line.root / name
    paths = StationPaths(home / "data", home / "config", home / "logs", home / "cache")
    return StationSession(line.profile(driver="nrf91"), line.credentials(), paths=paths)


def run(session: StationSession, ports: list[str], **options: object) -> None:
    engine = session.start_batch(BatchOptions(**options), ports)  # type: ignore[arg-type]
    assert engine.wait(120), "batch did not finish"


def test_real_firmware_units_go_green_with_other_sec_tags_untouched(line, sims, tmp_path):
    sim = nrf91_units(sims, tmp_path, 2)
    session = line.provision(sim.ports, driver="nrf91")
    try:
        assert session.engine.all_verified(), [s.error for s in session.engine.devices()]
        for index, snap in enumerate(sorted(session.engine.devices(), key=lambda s: s.port)):
            store = cmng(sim, index)
            for key, content in NRF_CLOUD.items():
                assert store[key] == content  # nRF Cloud's credentials, byte for byte
            assert f"{DEFAULT_SEC_TAG},1" in store and f"{DEFAULT_SEC_TAG},2" in store
            row = session.journal.device_row(snap.device_id)
            # journaled as received (NULL parameter, as real modems send it) and as posted
            assert bytes.fromhex("300c06082a8648ce3d0403020500") in row["csr_received_der"]
            assert bytes.fromhex("300c06082a8648ce3d0403020500") not in row["csr_der"]
            assert row["csr_received_sha256"] == hashlib.sha256(row["csr_received_der"]).hexdigest()
            assert row["csr_sha256"] == hashlib.sha256(row["csr_der"]).hexdigest()
        report = json.loads(render(session.journal, session.engine.batch_id, "json"))
        assert all(d["csr_as_received_sha256"] for d in report["devices"])
        assert len(line.server.issued) == 2
    finally:
        session.close()
    # The modems booted online (CFUN=1); they are online again afterwards.
    for port in sim.ports:
        driver = NRF91Driver(port)
        try:
            driver.open()
            assert driver._functional_mode() == 1
        finally:
            driver.close()


def test_failing_csr_step_on_a_provisioned_unit_leaves_its_credential_intact(line, sims, tmp_path):
    sim = nrf91_units(sims, tmp_path, 1)
    line.provision(sim.ports, driver="nrf91").close()
    before = cmng(sim)
    issued = len(line.server.issued)

    session = other_station(line, "station-b")  # has never seen this unit
    try:
        run(session, sim.ports)
        (snap,) = session.engine.devices()
        assert snap.state == DeviceState.FAILED and snap.error_code == "already-provisioned"
        assert "left untouched" in (snap.error or "") and "--reprovision" in (snap.error or "")
    finally:
        session.close()
    assert cmng(sim) == before  # same key, same certificate, same CA: the unit still works
    assert len(line.server.issued) == issued


def test_reprovision_journals_the_old_certificate_then_replaces_it(line, sims, tmp_path):
    sim = nrf91_units(sims, tmp_path, 1)
    line.provision(sim.ports, driver="nrf91").close()
    old_leaf = cmng(sim)[f"{DEFAULT_SEC_TAG},1"]

    session = other_station(line, "station-c")
    try:
        run(session, sim.ports, reprovision=True)
        (snap,) = session.engine.devices()
        assert snap.state == DeviceState.DONE, snap.error
        row = session.journal.device_row(snap.device_id)
        assert row["replaced_chain_pem"] == old_leaf
        assert row["replaced_sha256"] == hashlib.sha256(old_leaf.encode()).hexdigest()
        history = [t.step for t in session.journal.history(snap.device_id)]
        journaled = next(i for i, s in enumerate(history) if s.startswith("re-provisioning: journaled"))
        assert journaled < history.index("CSR ready")  # journaled before the key was replaced
        report = json.loads(render(session.journal, session.engine.batch_id, "json"))
        assert report["devices"][0]["replaced_certificate_pem"] == old_leaf
    finally:
        session.close()
    store = cmng(sim)
    assert store[f"{DEFAULT_SEC_TAG},1"] != old_leaf
    for key, content in NRF_CLOUD.items():
        assert store[key] == content


def test_station_action_reprovisions_only_the_confirmed_unit(line, sims, tmp_path):
    """The GUI's "Re-provision selected unit" (after its confirmation) calls engine.reprovision."""
    sim = nrf91_units(sims, tmp_path, 2)
    line.provision(sim.ports, driver="nrf91").close()
    before = [cmng(sim, i) for i in range(2)]

    session = other_station(line, "station-d")
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(120)
        snaps = sorted(engine.devices(), key=lambda s: s.port)
        assert [s.error_code for s in snaps] == ["already-provisioned"] * 2
        assert engine.reprovision(snaps[0].device_id)
        assert engine.wait(120)
        after = {s.device_id: s for s in engine.devices()}
        assert after[snaps[0].device_id].state == DeviceState.DONE
        assert after[snaps[1].device_id].state == DeviceState.FAILED
        assert not engine.reprovision(snaps[0].device_id)  # only a unit refused as provisioned
    finally:
        session.close()
    ports = sorted(sim.ports)
    changed = [cmng(sim, i) != before[i] for i in range(2)]
    assert sorted(changed) == [False, True]  # exactly one unit was re-provisioned
    assert changed[sim.ports.index(ports[0])]
