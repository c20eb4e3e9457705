"""Offline mode: collect CSRs while the EST server is out of reach, enroll them later without the
units, and write the certificates when the units are connected again."""

from __future__ import annotations

import os
import subprocess
import sys

from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState
from certline.app.config.paths import station_paths
from certline.app.config.profile_store import ProfileStore

from .conftest import PASSCODE, start_sim

CLI = [sys.executable, "-m", "certline.app.cli.main"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LINE_PASSCODE=PASSCODE)
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_csrs_collected_offline_are_enrolled_later_and_written_when_units_return(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 3)
    ProfileStore().save(line.profile(name="line"))
    ports = [arg for port in sim.ports for arg in ("--port", port)]

    collected = cli(
        "batch", "run", "--profile", "line", "--offline", "--passcode-env", "LINE_PASSCODE", *ports
    )
    assert collected.returncode == 1, "an offline batch is not finished yet"
    assert line.server.issued == []
    journal = Journal(station_paths().journal)
    try:
        rows = journal.device_rows(1)
        assert [r["state"] for r in rows] == [DeviceState.CSR_READY.value] * 3
        assert all(r["csr_der"] for r in rows)
    finally:
        journal.close()

    # back online, units not connected yet: the collected CSRs are enrolled
    for device in sim.devices:
        device.unplug()
    enrolled = cli("batch", "resume", "--passcode-env", "LINE_PASSCODE", "--timeout", "30")
    assert len(line.server.issued) == 3, enrolled.stdout + enrolled.stderr
    journal = Journal(station_paths().journal)
    try:
        assert {r["state"] for r in journal.device_rows(1)} == {DeviceState.ISSUED.value}
    finally:
        journal.close()

    # the units come back (on new ports): the journaled certificates are written, no new enrollment
    new_ports = [device.replug(new_path=True) for device in sim.devices]
    finished = cli(
        "batch", "resume", "--passcode-env", "LINE_PASSCODE", *[a for p in new_ports for a in ("--port", p)]
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert len(line.server.issued) == 3
    for device in sim.devices:
        assert device.flash.snapshot().get("chain_pem")
