"""Fixtures for the station window: a session on in-memory fakes, isolated settings, no keyring.

The fakes (``tests/batch/fakes.py``) have real keys and a real CA, so every
certificate in these tests is genuine; only the serial line and the HTTPS hop
are skipped. The lead switches the end-to-end window test to the simulator and
the EST test server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from certline.app.config.paths import StationPaths
from certline.app.config.profile import Profile
from certline.app.device.driver import DeviceRefused
from certline.app.est.credentials import Credentials
from certline.app.security.station_lock import StationLock
from certline.app.station import StationSession
from certline.ui.plumbing.settings import UiSettings
from certline.ui.plumbing.worker import pending_tasks, wait_for_workers
from tests.batch.fakes import FakeCA, FakeDevice, FakeEst
from tests.helpers.estserver_fixture import est_server  # noqa: F401 - fixture re-export

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from tests.helpers.pg_cluster import pg_cluster, pg_url  # noqa: F401 - fixtures (shared journal)


class FlakyDevice(FakeDevice):
    """Refuses key generation ``failures`` times (a full flash, say), then behaves."""

    def __init__(self, port: str, serial: str, *, failures: int = 1) -> None:
        super().__init__(port, serial)
        self.failures = failures

    def generate_key(self, algorithm) -> None:  # noqa: ANN001
        if self.failures > 0:
            self.failures -= 1
            raise DeviceRefused("key storage is full")
        super().generate_key(algorithm)


class Station:
    """A StationSession on fakes plus handles to the fakes."""

    def __init__(self, root: Path, devices: dict[str, FakeDevice]) -> None:
        self.ca = FakeCA()
        self.est = FakeEst(self.ca)
        self.devices = devices
        self.paths = StationPaths(root / "data", root / "config", root / "logs", root / "cache")
        self.profile = Profile(
            name="line-1", enroll_url="https://est.example.test/.well-known/est", ca_bundle_pem=self.ca_pem()
        )
        self.session = StationSession(
            self.profile,
            Credentials(passcode="not-used-by-fakes"),
            paths=self.paths,
            client_factory=lambda p, c, n: self.est,
            driver_factory=lambda port: self.devices[port],
        )

    def ca_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return self.ca.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def ports(self) -> list[str]:
        return sorted(self.devices)


@pytest.fixture
def ui_settings(tmp_path: Path) -> UiSettings:
    return UiSettings(QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    devices: dict[str, FakeDevice] = {
        f"/dev/fake{i}": FakeDevice(f"/dev/fake{i}", f"SN-{i:04d}") for i in range(4)
    }
    st = Station(tmp_path / "station", devices)
    yield st
    wait_for_workers()
    st.session.close()


@pytest.fixture
def window(qtbot, station: Station, ui_settings: UiSettings, tmp_path: Path, monkeypatch):
    from certline.ui.station import commands as window_commands
    from certline.ui.station.window import MainWindow

    # closing with a batch still running asks first; a test that failed mid-batch must not hang there
    monkeypatch.setattr(window_commands, "confirm_quit", lambda _window: True)

    app = QApplication.instance()
    base_font = app.font()
    win = MainWindow(
        station.session,
        station.ports,
        settings=ui_settings,
        secret_check=None,
        station_lock=StationLock(tmp_path / "lock.json", iterations=1000),
    )
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=15000)
    win.bridge.close()
    app.setFont(base_font)
