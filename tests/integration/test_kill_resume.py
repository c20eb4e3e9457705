"""Crash safety: ``certline batch run`` killed with SIGKILL at random points, then resumed.

Every device must end verified exactly once, the EST test server must have issued exactly one
certificate per device, the unit must hold the certificate the journal recorded, and the
journal's audit chain must verify. The station runs as a separate process (as in production);
the simulator and the EST server run in the test process and survive the kills.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState
from certline.app.config.paths import station_paths
from certline.app.config.profile_store import ProfileStore

from .conftest import PASSCODE, start_sim

CLI = [sys.executable, "-m", "certline.app.cli.main"]


def _station_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["LINE_PASSCODE"] = PASSCODE
    return env


def _transitions() -> int:
    path = station_paths().journal
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT COUNT(*) FROM transitions").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        db.close()


def _unfinished() -> int:
    journal = Journal(station_paths().journal)
    try:
        return len(journal.unfinished_devices()) + len(journal.unfinished_batches())
    finally:
        journal.close()


def _run_and_kill_after(args: list[str], transitions: int) -> bool:
    """Run the station; SIGKILL it once the journal holds ``transitions`` more transitions.

    Returns True when the kill interrupted the process, False when it had already finished.
    Killing at a journal position (not a wall-clock time) lands the kill at a random *step*
    of the batch however fast or slow the machine is.
    """
    target = _transitions() + transitions
    proc = subprocess.Popen(
        [*CLI, *args], env=_station_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if _transitions() >= target:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            return True
        time.sleep(0.005)
    proc.wait(timeout=10)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sigkills_never_issue_a_second_certificate(line, sims, tmp_path, seed):
    rng = random.Random(seed)
    sim = start_sim(sims, tmp_path, 6, keygen_latency=0.3)
    ProfileStore().save(line.profile(name="line"))
    ports: list[str] = []
    for port in sim.ports:
        ports += ["--port", port]
    secret = ["--passcode-env", "LINE_PASSCODE"]

    # responses leave the server 0.4 s after it issued: kills land in the lost-response window too
    line.server.faults.add("slow", seconds=0.4, op="simpleenroll")
    kills = 0
    runs = [["batch", "run", "--profile", "line", *ports, *secret]] + [
        ["batch", "resume", *ports, *secret]
    ] * 8
    for args in runs:
        if _unfinished() or args[1] == "run":
            kills += _run_and_kill_after(args, rng.randint(1, 20))
    assert kills >= 2, "the kills should interrupt the batch, or this test proves nothing"
    final = subprocess.run(
        [*CLI, "batch", "resume", *ports, *secret],
        env=_station_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    # if a kill happened to land after the batch completed, there is nothing left to resume
    assert final.returncode == 0, final.stdout + final.stderr

    journal = Journal(station_paths().journal)
    try:
        rows = [r for b in journal.batches() for r in journal.device_rows(b.id)]
        done = collections.Counter(r["serial_number"] for r in rows if r["state"] == DeviceState.DONE.value)
        assert set(done) == {d.serial_number for d in sim.devices}
        assert all(n == 1 for n in done.values()), done
        assert not journal.unfinished_devices()
        assert journal.audit.verify().ok
        by_serial = {r["serial_number"]: r for r in rows if r["state"] == DeviceState.DONE.value}
    finally:
        journal.close()

    issued = collections.Counter(r.subject for r in line.server.issued)
    assert len(issued) == 6 and all(n == 1 for n in issued.values()), issued
    for device in sim.devices:
        assert device.flash.snapshot()["chain_pem"] == by_serial[device.serial_number]["chain_pem"]


def test_batch_run_from_the_command_line_reports_every_unit(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 3)
    ProfileStore().save(line.profile(name="line"))
    expected = tmp_path / "expected.csv"
    expected.write_text("serial_number\n" + "".join(f"{d.serial_number}\n" for d in sim.devices))
    args = [
        "batch",
        "run",
        "--profile",
        "line",
        "--passcode-env",
        "LINE_PASSCODE",
        "--work-order",
        "WO-7",
        "--expected",
        str(expected),
    ]
    for port in sim.ports:
        args += ["--port", port]
    result = subprocess.run([*CLI, *args], env=_station_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Totals: 3 device(s): 3 done" in result.stdout
    status = subprocess.run(
        [*CLI, "batch", "status"], env=_station_env(), capture_output=True, text=True, timeout=60
    )
    assert "WO-7" in status.stdout and "3 done" in status.stdout
    report = subprocess.run(
        [*CLI, "report", "export", "--batch", "1", "--format", "csv"],
        env=_station_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = report.stdout.strip().splitlines()
    assert lines[0].startswith("device_id,serial_number") and len(lines) == 4
    audit = subprocess.run(
        [*CLI, "audit", "verify"], env=_station_env(), capture_output=True, text=True, timeout=60
    )
    assert audit.returncode == 0 and "chain intact" in audit.stdout
    assert PASSCODE not in result.stdout + result.stderr + status.stdout + report.stdout


def test_passcode_is_never_accepted_on_the_command_line():
    result = subprocess.run([*CLI, "batch", "run", "--help"], capture_output=True, text=True, timeout=60)
    assert "--passcode-env" in result.stdout
    assert "--passcode " not in result.stdout and "--passcode=" not in result.stdout
