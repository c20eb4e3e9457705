"""``certline batch run --scan-in``: labels scanned into the terminal, label IDs from the CSV."""

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


def test_label_ids_from_the_csv_are_scanned_on_stdin_and_checked_against_each_unit(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 2)
    serials = [d.serial_number for d in sim.devices]
    ProfileStore().save(line.profile(name="line"))
    expected = tmp_path / "wo.csv"
    expected.write_text(
        f"Serial,Label ID,Model\n{serials[0]},LBL-0001,CL\n{serials[1]},LBL-0002,CL\n", encoding="utf-8"
    )
    ports = [arg for port in sim.ports for arg in ("--port", port)]
    scans = 'LBL-0002\n{"label": "LBL-0001"}\n'  # in the wrong order: matched by what they name
    result = subprocess.run(
        [*CLI, "batch", "run", "--profile", "line", "--scan-in", "--expected", str(expected),
         "--passcode-env", "LINE_PASSCODE", "--timeout", "90", *ports],
        input=scans, env=dict(os.environ, LINE_PASSCODE=PASSCODE), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"scan: label LBL-0002 (serial {serials[1]} in the expected list)" in result.stdout
    journal = Journal(station_paths().journal)
    try:
        rows = {s.serial_number: s for s in journal.devices()}
        assert {s: rows[s].state for s in serials} == dict.fromkeys(serials, DeviceState.DONE)
        assert rows[serials[0]].scanned_label == '{"label": "LBL-0001"}'
        assert rows[serials[1]].scanned_label == "LBL-0002"
    finally:
        journal.close()


def test_a_label_id_that_names_another_unit_fails_that_unit_and_the_exit_status_says_so(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 1)
    ProfileStore().save(line.profile(name="line", scan_in="required"))
    expected = tmp_path / "wo.csv"
    serial = sim.devices[0].serial_number
    expected.write_text(f"serial,label\n{serial},A-1\nCL-777777,A-2\n", encoding="utf-8")
    result = subprocess.run(
        [*CLI, "batch", "run", "--profile", "line", "--expected", str(expected),
         "--passcode-env", "LINE_PASSCODE", "--timeout", "60", "--port", sim.ports[0]],
        input="A-2\n", env=dict(os.environ, LINE_PASSCODE=PASSCODE), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "label mismatch: the scanned label says label A-2 (serial CL-777777 in the expected list)" in (
        result.stdout
    )
    assert f"the unit reports {sim.devices[0].serial_number}" in result.stdout
    assert line.server.issued == []
