"""A provisioning line for integration tests: the EST test server and the simulator, both real."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from certline.app.batch.engine import BatchOptions
from certline.app.config.paths import StationPaths
from certline.app.config.profile import AuthStyle, Profile
from certline.app.est.credentials import Credentials
from certline.app.estserver import EstTestServer
from certline.app.sim.simulator import Simulator
from certline.app.station import StationSession
from tests.helpers.pg_cluster import pg_cluster, pg_url  # noqa: F401 - fixtures (shared journal)

PASSCODE = "line-passcode-7f3a"  # a test value, not a secret
LABEL = "cps/IOT_33fd0b45-3188-45ed-9458-6cedc8ccf509"


@dataclass
class Line:
    server: EstTestServer
    root: Path

    def profile(self, **changes: object) -> Profile:
        base = Profile(
            name="line",
            enroll_url=self.server.est_base(LABEL),
            reenroll_url=self.server.est_base(LABEL, clientauth=True),
            auth_style=AuthStyle.PASSCODE_ONLY,
            ca_bundle_pem=self.server.ca_pem,
            subject_template={"CN": "{serial}", "O": "Certline Test"},
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def credentials(self) -> Credentials:
        return Credentials(passcode=PASSCODE)

    def paths(self) -> StationPaths:
        home = self.root / "station"
        return StationPaths(home / "data", home / "config", home / "logs", home / "cache")

    def session(self, **profile_changes: object) -> StationSession:
        return StationSession(self.profile(**profile_changes), self.credentials(), paths=self.paths())

    def provision(self, ports: list[str], **profile_changes: object) -> StationSession:
        """Run one batch on ``ports`` to the end; returns the (open) session for inspection."""
        session = self.session(**profile_changes)
        engine = session.start_batch(BatchOptions(work_order="WO-TEST"), ports)
        assert engine.wait(120), "batch did not finish"
        return session


@pytest.fixture
def line(tmp_path: Path) -> Iterator[Line]:
    server = EstTestServer(state_dir=tmp_path / "est", passcode=PASSCODE)
    with server:
        yield Line(server, tmp_path)


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[list[Simulator]]:
    """Append simulators here (``sims.append(Simulator(...)); sim.start()``); all stopped after."""
    made: list[Simulator] = []
    yield made
    for sim in made:
        sim.stop()


def start_sim(sims: list[Simulator], root: Path, count: int, **kwargs: object) -> Simulator:
    kwargs.setdefault("keygen_latency", 0.01)
    sim = Simulator(root / f"sim{len(sims)}", count, **kwargs)  # type: ignore[arg-type]
    sims.append(sim)
    sim.start()
    return sim
