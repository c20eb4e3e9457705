"""The MES hand-off on a real line: simulated units, the EST test server, a local HTTPS MES and a
drop folder. Every finished unit's record reaches both, matches the documented JSON schema and
says what the unit and the journal say."""

from __future__ import annotations

import json
from pathlib import Path

from certline.app.batch.engine import BatchOptions
from certline.app.mes.config import MesConfig
from certline.app.mes.delivery import MesDelivery
from certline.app.pki import cert_serial_hex, pem_to_chain
from tests.helpers.json_schema_check import problems
from tests.helpers.mes_server import fake_mes
from tests.helpers.waiting import wait_until

from .conftest import start_sim

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "resources" / "mes" / "mes-record.schema.json").read_text(encoding="utf-8")
)


def test_done_and_failed_units_reach_the_mes_and_the_drop_folder_as_schema_valid_records(
    line, sims, tmp_path
):
    sim = start_sim(sims, tmp_path, 3, faults=["dev2:refuse@cert-write"])  # the third unit refuses
    folder = tmp_path / "drop"
    folder.mkdir()
    session = line.session()
    with fake_mes(tmp_path) as mes:
        config = MesConfig(drop_folder=folder, url=mes.url, ca_file=mes.ca_file)
        delivery = MesDelivery(session.journal, config, bus=session.bus).start()
        try:
            engine = session.start_batch(BatchOptions(work_order="WO-MES", operator="ana"), sim.ports)
            assert engine.wait(120), "batch did not finish"
            wait_until(lambda: len(mes.stored) == 3, 30, "three records at the MES")
            wait_until(lambda: delivery.status.waiting == 0, 30, "the backlog empty")
        finally:
            delivery.close()
            session.close()
    files = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")}
    assert files == mes.stored  # the same record, byte for byte in content, through both channels
    for record in files.values():
        assert problems(record, SCHEMA) == [], record
    by_serial = {r["serial"]: r for r in files.values()}
    for device in sim.devices[:2]:
        record = by_serial[device.serial_number]
        assert (
            record["outcome"] == "done" and record["work_order"] == "WO-MES" and record["operator"] == "ana"
        )
        leaf = pem_to_chain(device.flash.snapshot()["chain_pem"])[0]
        assert record["certificate"]["serial"] == cert_serial_hex(leaf)
        assert record["model"] and record["firmware"]
    failed = by_serial[sim.devices[2].serial_number]
    assert failed["outcome"] == "failed" and failed["error"]["message"]


def test_batch_run_hands_off_keeps_what_the_mes_refused_and_mes_flush_delivers_it_later(line, sims, tmp_path):
    """``certline batch run`` with a drop folder and a failing MES, then ``certline mes flush``."""
    import os
    import subprocess
    import sys

    from certline.app.config.profile_store import ProfileStore
    from certline.app.config.settings import StationSettings, save_settings

    from .conftest import PASSCODE

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, LINE_PASSCODE=PASSCODE)
        command = [sys.executable, "-m", "certline.app.cli.main", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    sim = start_sim(sims, tmp_path, 2)
    ProfileStore().save(line.profile(name="line"))
    folder = tmp_path / "drop"
    folder.mkdir()
    with fake_mes(tmp_path) as mes:
        mes.mode = "fail"
        save_settings(
            StationSettings(mes_drop_folder=str(folder), mes_url=mes.url, mes_ca_file=str(mes.ca_file))
        )
        ports = [arg for port in sim.ports for arg in ("--port", port)]
        run = cli("batch", "run", "--profile", "line", "--passcode-env", "LINE_PASSCODE", *ports)
        assert run.returncode == 0, run.stdout + run.stderr  # the units are fine: the MES is not their fault
        assert "MES: 2 record(s) still waiting" in run.stderr and "HTTP 500" in run.stderr
        assert len(list(folder.glob("*.json"))) == 2  # the folder channel delivered on its own
        assert not mes.stored
        mes.mode = "ok"
        flush = cli("mes", "flush", "--timeout", "20")
        assert flush.returncode == 0, flush.stdout + flush.stderr
        assert "delivered 2 record(s)" in flush.stdout
        assert sorted(mes.stored) == sorted(p.stem for p in folder.glob("*.json"))
        assert all(mes.answered_2xx(key) == 1 for key in mes.stored)
        assert cli("mes", "status").returncode == 0
