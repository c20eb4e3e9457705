"""Several stations, one line: ``certline batch run`` processes with their own CERTLINE_HOMEs
sharing one real PostgreSQL journal and one EST server. Their simulators hand out the same
serial numbers (every simulator numbers its units CL-000001, CL-000002, ...)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from certline.app.config.profile_store import ProfileStore
from certline.app.sim.simulator import Simulator
from tests.helpers.pg_cluster import PgCluster

from .conftest import PASSCODE, Line, start_sim

CLI = [sys.executable, "-m", "certline.app.cli.main"]


class Station:
    def __init__(self, name: str, root: Path, line: Line, url: str, cluster: PgCluster) -> None:
        self.name = name
        self.home = root / name
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTLINE_", "DISPLAY"))}
        self.env.update(
            CERTLINE_HOME=str(self.home),
            CERTLINE_STATION=name,
            CERTLINE_JOURNAL_URL=url,
            DBPW=cluster.password,
            LINE_PASSCODE=PASSCODE,
        )
        ProfileStore(self._profiles_dir()).save(line.profile(name="line"))

    def _profiles_dir(self) -> Path:
        old = os.environ.get("CERTLINE_HOME")
        os.environ["CERTLINE_HOME"] = str(self.home)
        try:
            from certline.app.config.paths import station_paths

            return station_paths().profiles
        finally:
            if old is None:
                del os.environ["CERTLINE_HOME"]
            else:
                os.environ["CERTLINE_HOME"] = old

    def run(self, sim: Simulator, *extra: str) -> subprocess.Popen[str]:
        ports = [arg for port in sim.ports for arg in ("--port", port)]
        return subprocess.Popen(
            [*CLI, "batch", "run", "--profile", "line", *ports, "--passcode-env", "LINE_PASSCODE",
             "--journal-password-env", "DBPW", "--work-order", "WO-LINE", *extra],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip


@pytest.fixture
def line_db(pg_cluster, pg_url) -> str:
    """The shared journal's database, schema created (as 'certline journal migrate' would)."""
    from certline.app.batch.journal_pg import PgJournal

    PgJournal(pg_url, station="admin", password=pg_cluster.password, migrate=True).close()
    return pg_url


def query(url: str, cluster: PgCluster, sql: str) -> list[tuple]:
    with psycopg.connect(url, password=cluster.password) as conn:
        return conn.execute(sql.encode()).fetchall()


def done_per_serial(url: str, cluster: PgCluster) -> dict[str, list[str]]:
    rows = query(url, cluster, "SELECT serial_number, station FROM devices WHERE state='done' ORDER BY id")
    out: dict[str, list[str]] = {}
    for serial, station in rows:
        out.setdefault(serial, []).append(station)
    return out


def assert_line_consistent(url: str, cluster: PgCluster, serials: set[str]) -> None:
    """Every serial DONE exactly once line-wide, one certificate each, every chain intact."""
    done = done_per_serial(url, cluster)
    assert set(done) == serials, done
    assert all(len(stations) == 1 for stations in done.values()), done
    certs = query(url, cluster, "SELECT device_serial, COUNT(*) FROM certificates GROUP BY device_serial")
    assert dict(certs) == dict.fromkeys(serials, 1)
    from certline.app.batch.journal_pg import PgJournal

    journal = PgJournal(url, station="auditor", password=cluster.password)
    try:
        verdicts = journal.audit.verify_stations()
    finally:
        journal.close()
    assert verdicts and all(v.ok for v in verdicts.values()), verdicts


@pytest.mark.slow
def test_overlapping_serials_are_provisioned_once_line_wide_and_duplicates_name_the_first_station(
    line, sims, tmp_path, pg_cluster, line_db
):
    pg_url = line_db
    stations = [Station(f"st-{i}", tmp_path, line, pg_url, pg_cluster) for i in range(3)]
    sim_of = {s.name: start_sim(sims, tmp_path, 3) for s in stations}
    procs = [s.run(sim_of[s.name]) for s in stations]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    serials = {d.serial_number for d in sims[0].devices}
    assert serials == {d.serial_number for d in sims[1].devices}  # the overlap is real
    assert_line_consistent(pg_url, pg_cluster, serials)
    refused = query(
        pg_url, pg_cluster, "SELECT serial_number, station, error FROM devices WHERE state='failed'"
    )
    assert len(refused) == 6, outputs
    done = done_per_serial(pg_url, pg_cluster)
    for serial, station, error in refused:
        first = done[serial][0]
        assert station != first and f"station {first}" in error, error
    holders = sum(1 for sim in sims for d in sim.devices if d.flash.get("chain_pem"))
    assert holders == 3  # only the units that were provisioned hold a certificate


@pytest.mark.slow
def test_a_killed_stations_units_are_finished_by_another_after_its_lease_expires(
    line, sims, tmp_path, pg_cluster, line_db
):
    pg_url = line_db
    a = Station("st-a", tmp_path, line, pg_url, pg_cluster)
    b = Station("st-b", tmp_path, line, pg_url, pg_cluster)
    sim = start_sim(sims, tmp_path, 3, keygen_latency=0.4)
    serials = {d.serial_number for d in sim.devices}
    proc = a.run(sim, "--journal-lease", "8")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        issued = query(
            pg_url,
            pg_cluster,
            "SELECT COUNT(*) FROM devices"
            " WHERE state IN ('csr-ready','enrolling','issued','writing','written')",
        )
        if issued[0][0] >= 1:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)  # reaps it and closes its output pipe
    held = query(pg_url, pg_cluster, "SELECT serial_number FROM units WHERE holder='st-a'")
    assert held, "the kill should leave units held by the dead station"
    # the units move to station B: same flash (same keys, same serials), new ports
    sim.stop()
    moved = Simulator(sim.state_dir, 3, keygen_latency=0.01)
    sims.append(moved)
    moved.start()
    early = b.run(moved, "--journal-lease", "8")
    out = early.communicate(timeout=120)[0]
    assert "being provisioned at station st-a" in out  # the lease was still live
    while query(pg_url, pg_cluster, "SELECT COUNT(*) FROM units WHERE holder='st-a' AND lease_until > now()")[
        0
    ][0]:
        time.sleep(0.2)  # the dead station's leases run out
    retry = subprocess.run(
        [*CLI, "batch", "run", "--profile", "line", *[x for p in moved.ports for x in ("--port", p)],
         "--passcode-env", "LINE_PASSCODE", "--journal-password-env", "DBPW"],
        env=b.env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert_line_consistent(pg_url, pg_cluster, serials)
    taken_over = query(
        pg_url, pg_cluster, "SELECT COUNT(*) FROM devices WHERE state='done' AND station='st-b'"
    )
    assert taken_over[0][0] >= 1, retry.stdout
    for device in moved.devices:
        chain = query(
            pg_url, pg_cluster,
            f"SELECT chain_pem FROM devices WHERE serial_number='{device.serial_number}' AND state='done'",
        )  # fmt: skip
        assert device.flash.get("chain_pem") == chain[0][0]


@pytest.mark.slow
def test_the_database_restarting_mid_batch_loses_and_doubles_nothing(
    line, sims, tmp_path, pg_cluster, line_db
):
    pg_url = line_db
    a = Station("st-a", tmp_path, line, pg_url, pg_cluster)
    sim = start_sim(sims, tmp_path, 4, keygen_latency=0.4)
    serials = {d.serial_number for d in sim.devices}
    proc = a.run(sim)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if query(pg_url, pg_cluster, "SELECT COUNT(*) FROM transitions")[0][0] >= 6:
            break
        time.sleep(0.02)
    pg_cluster.stop()
    time.sleep(5)  # longer than the 2 s a station waits for a connection before it says so
    assert proc.poll() is None, "the station must wait for its journal, not give up"
    pg_cluster.start()
    out = proc.communicate(timeout=180)[0]
    assert proc.returncode == 0, out
    assert "is unreachable; units wait" in out and "reachable again" in out  # the operator is told
    assert_line_consistent(pg_url, pg_cluster, serials)
    assert query(pg_url, pg_cluster, "SELECT COUNT(*) FROM devices")[0][0] == 4  # no doubled row
