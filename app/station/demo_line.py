"""The embedded demo environment: simulated devices plus the local HTTPS EST test server.

Used by ``certline demo``, the end-to-end tests and the benchmarks. Everything
lives under one temporary directory that :meth:`DemoEnvironment.close`
removes, and every thread and pseudo-terminal it started is stopped there, so
a finished demo leaves nothing behind.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from certline.app.config.paths import StationPaths
from certline.app.config.profile import AuthStyle, CsrFormat, KeyGeneration, Profile
from certline.app.est.credentials import Credentials

#: exit status of the demo window process when Qt cannot open a window at all
DISPLAY_FAILED = 75


@dataclass
class DemoSettings:
    devices: int = 4
    driver: str = "certline"
    baud: int = 115200
    keygen_latency: float | None = None
    csr_format: CsrFormat = CsrFormat.RFC7030
    key_generation: KeyGeneration = KeyGeneration.DEVICE
    label: str | None = "cps/IOT_7c1d9a52-demo"
    concurrency: int = 4
    sim_faults: list[str] = field(default_factory=list)


class DemoEnvironment:
    """Starts the simulator and the EST test server; hands out a profile pointed at them."""

    def __init__(self, settings: DemoSettings | None = None, *, root: Path | None = None) -> None:
        self.settings = settings or DemoSettings()
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="certline-demo-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.passcode = secrets.token_urlsafe(16)
        self.server: object | None = None
        self.simulator: object | None = None
        self.ports: list[str] = []

    def start(self) -> DemoEnvironment:
        from certline.app.estserver.server import EstTestServer
        from certline.app.sim.simulator import Simulator

        try:
            server = EstTestServer(state_dir=self.root / "est-server", passcode=self.passcode)
            server.start()
            self.server = server
            sim = Simulator(
                self.root / "sim",
                self.settings.devices,
                driver=self.settings.driver,
                baud=self.settings.baud,
                faults=self.settings.sim_faults,
                keygen_latency=self.settings.keygen_latency,
            )
            self.simulator = sim
            self.ports = list(sim.start())
        except BaseException:
            self.close()
            raise
        return self

    @property
    def est_server(self):  # noqa: ANN201 - EstTestServer, imported lazily
        assert self.server is not None, "start() first"
        return self.server

    def profile(self) -> Profile:
        server = self.est_server
        return Profile(
            name="demo",
            enroll_url=server.est_base(self.settings.label),
            reenroll_url=server.est_base(self.settings.label, clientauth=True),
            auth_style=AuthStyle.PASSCODE_ONLY,
            ca_bundle_pem=server.ca_pem,
            csr_format=self.settings.csr_format,
            key_generation=self.settings.key_generation,
            concurrency=self.settings.concurrency,
            driver=self.settings.driver,
            baud=self.settings.baud,
            subject_template={"CN": "{serial}", "O": "Certline Demo"},
        )

    def credentials(self) -> Credentials:
        return Credentials(passcode=self.passcode)

    def station_paths(self) -> StationPaths:
        home = self.root / "station"
        return StationPaths(home / "data", home / "config", home / "logs", home / "cache")

    def write_handoff(self, *, report: Path | None) -> Path:
        """Describe this environment for the window process. Contains no secret."""
        home = self.station_paths()
        data = {
            "profile": self.profile().to_json(),
            "ports": self.ports,
            "station_home": {
                "data": str(home.data),
                "config": str(home.config),
                "logs": str(home.logs),
                "cache": str(home.cache),
            },
            "report": str(report) if report else None,
        }
        path = self.root / "demo-handoff.json"
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")
        return path

    @staticmethod
    def read_handoff(path: Path) -> tuple[Profile, list[str], StationPaths, Path | None]:
        data = json.loads(path.read_text(encoding="utf-8"))
        home = data["station_home"]
        paths = StationPaths(
            Path(home["data"]), Path(home["config"]), Path(home["logs"]), Path(home["cache"])
        )
        report = Path(data["report"]) if data.get("report") else None
        return Profile.from_json(data["profile"]), list(data["ports"]), paths, report

    def close(self) -> None:
        sim, self.simulator = self.simulator, None
        server, self.server = self.server, None
        if sim is not None:
            sim.stop()  # type: ignore[attr-defined]
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DemoEnvironment:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
