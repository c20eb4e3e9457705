"""The line view from a real two-station run.

Run: ``xvfb-run -a .venv/bin/python scripts/screenshot_line_view.py``.

Everything on the picture is real: a throwaway PostgreSQL cluster (as the tests start one) is the
line's shared journal; station-2 is a headless station (the engine API ``certline batch run``
uses) with its own simulated units, which provisions four units of the work order and then keeps
two slow units in flight; station-1 is the window, started through ``certline-gui``'s own entry
(:func:`certline.ui.gui_main.start`) with the shared journal selected by ``CERTLINE_JOURNAL_URL``, running
its own simulated units of the same work order: three to the end, then two slow ones. With both
stations working, the window's Batch > Line view… is opened and saved as
``docs/screenshots/line-view.png`` (``--out``). The EST passcode and the database password live
in an in-memory keyring only.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
HOME = Path(tempfile.mkdtemp(prefix="certline-line-shot-"))
os.environ["CERTLINE_HOME"] = str(HOME / "station-1")  # never the user's profiles, journal or settings
os.environ["CERTLINE_STATION"] = "station-1"

import keyring  # noqa: E402
from keyring.backend import KeyringBackend  # noqa: E402
from keyring.compat import properties  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
LABEL = "cps/IOT_7c1d9a52-3f1e-4a8b-9d2e-0c6b5f4a1e93"
WORK_ORDER = "WO-2024-0815"


class MemoryKeyring(KeyringBackend):
    """Secrets live in this process only."""

    @properties.classproperty
    def priority(cls) -> float:
        return 0.1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


def settle(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(condition: Callable[[], object], timeout_s: float = 90.0) -> None:
    deadline = datetime.now() + timedelta(seconds=timeout_s)
    while not condition():
        if datetime.now() > deadline:
            raise TimeoutError("the line did not reach the expected state")
        settle(50)


def start_cluster() -> object:
    from tests.helpers.pg_cluster import PgCluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="certline-line-shot-pg-"))
    os.chmod(root, 0o755)  # noqa: S103 - the cluster's user (nobody when run as root) must enter it
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    cluster = PgCluster(bindir, root, port, secrets.token_urlsafe(16))
    if os.geteuid() == 0:
        cluster._user = "nobody"
    cluster.init()
    cluster.start()
    return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where to save the PNG")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    keyring.set_keyring(MemoryKeyring())

    from certline.app.batch.engine import BatchOptions
    from certline.app.batch.journal_pg import PgJournal
    from certline.app.batch.journal_url import keyring_user
    from certline.app.config.paths import StationPaths
    from certline.app.config.profile import AuthStyle, Profile
    from certline.app.config.profile_store import ProfileStore
    from certline.app.est.credentials import Credentials
    from certline.app.estserver import EstTestServer
    from certline.app.security.secret_store import SERVICE, Purpose, SecretStore
    from certline.app.sim.flash import Flash
    from certline.app.sim.simulator import Simulator
    from certline.app.station import StationSession
    from certline.ui import gui_main as launch
    from certline.ui.batch_dialogs.line_view import LineViewDialog
    from certline.ui.station import commands as window_commands
    from certline.ui.station import simulated_units

    cluster = start_cluster()
    url = cluster.url(cluster.create_database())  # type: ignore[attr-defined]
    password = cluster.password  # type: ignore[attr-defined]
    os.environ["CERTLINE_JOURNAL_URL"] = url
    keyring.set_password(SERVICE, keyring_user(url), password)
    passcode = secrets.token_urlsafe(16)
    server = EstTestServer(state_dir=HOME / "est-server", passcode=passcode)
    server.start()
    profile = Profile(
        name="acme-line-1",
        enroll_url=server.est_base(LABEL),
        auth_style=AuthStyle.PASSCODE_ONLY,
        ca_bundle_pem=server.ca_pem,
        subject_template={"CN": "{serial}", "O": "ACME Devices"},
    )
    ProfileStore().save(profile)
    SecretStore().set(profile, Purpose.PASSCODE, passcode)
    sims: list[Simulator] = []
    sessions: list[StationSession] = []
    launcher = None
    try:
        # -- station-2: four units done, then two slow ones in flight ---------------------------
        home2 = HOME / "station-2"
        paths2 = StationPaths(home2 / "data", home2 / "config", home2 / "logs", home2 / "cache")
        journal2 = PgJournal(url, station="station-2", password=password, audit_head=home2 / "head")
        session2 = StationSession(profile, Credentials(passcode=passcode), paths=paths2, journal=journal2)
        sessions.append(session2)
        tray = HOME / "tray-2"
        for index in range(4):
            Flash(tray / f"certline-{index}.flash.json").update(serial=f"CL-{201 + index:06d}")
        sims.append(Simulator(tray, 4, keygen_latency=0.2))
        sims[-1].start()
        engine = session2.start_batch(BatchOptions(work_order=WORK_ORDER), sims[-1].ports)
        assert engine.wait(120), "station-2's batch did not finish"
        slow_tray = HOME / "tray-2-slow"
        for index in range(2):
            Flash(slow_tray / f"certline-{index}.flash.json").update(serial=f"CL-{301 + index:06d}")
        sims.append(Simulator(slow_tray, 2, keygen_latency=120))
        sims[-1].start()
        session2.start_batch(BatchOptions(work_order=WORK_ORDER), sims[-1].ports)

        # -- station-1: the window, on the same work order ---------------------------------------
        launcher = launch.start([])
        assert launcher is not None, "no display: run under xvfb-run"
        wait_until(lambda: launcher.window is not None and launcher.window.isVisible())
        window = launcher.window
        assert window is not None
        window.resize(1280, 800)
        window.station_bar.work_order.setText(WORK_ORDER)
        window.station_bar.operator.setText("m.keller")
        ready: list[int] = []
        window.simulated_units_ready.connect(ready.append)
        shown: list[QWidget] = []
        window.summary_shown.connect(shown.append)
        simulated_units.use(window, 3, keygen_latency=0.3)
        wait_until(lambda: ready)
        window_commands.start(window)
        wait_until(lambda: shown, 120)
        shown[-1].close()
        ready.clear()
        slow_tray1 = HOME / "tray-1-slow"
        for index in range(2):
            Flash(slow_tray1 / f"certline-{index}.flash.json").update(serial=f"CL-{101 + index:06d}")
        simulated_units.use(window, 2, keygen_latency=120, state_dir=slow_tray1)
        wait_until(lambda: ready)
        window_commands.start(window)
        wait_until(lambda: sum(s.state.value == "identified" for s in window.model.snapshots()) >= 2)
        window.station_actions.line_view.trigger()
        wait_until(lambda: window.findChild(LineViewDialog) is not None)
        dialog = window.findChild(LineViewDialog)
        assert dialog is not None
        wait_until(lambda: dialog.progress.rowCount() > 0 and dialog.holders.rowCount() >= 4)
        dialog.resize(680, 560)
        settle(600)
        path = args.out / "line-view.png"
        dialog.grab().save(str(path))
        print(f"saved {path}")
        dialog.close()
    finally:
        window_commands.confirm_quit = lambda _window: True
        if launcher is not None:
            if launcher.window is not None:
                launcher.window.session.engine and launcher.window.session.engine.stop()
                launcher.window.close()
            settle(200)
            launcher.close()
        for session in sessions:  # stop the headless station before its units and its journal go
            if session.engine is not None:
                session.engine.stop()
        for sim in sims:
            sim.stop()
        for session in sessions:
            if session.engine is not None:
                session.engine.wait(30)
            session.journal.close()
        server.stop()
        cluster.stop("immediate")  # type: ignore[attr-defined]
        shutil.rmtree(cluster.root, ignore_errors=True)  # type: ignore[attr-defined]
        shutil.rmtree(HOME, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
