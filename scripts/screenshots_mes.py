"""Screenshots of the MES hand-off from a real run.

Run ``xvfb-run -a .venv/bin/python scripts/screenshots_mes.py``.

Like ``scripts/screenshots.py`` (whose helpers it uses): the station starts through
``certline-gui``'s own entry with a profile against the local HTTPS EST test server, units are
simulated on real pseudo-terminals, and the MES is a local HTTPS endpoint (the one the tests
use, ``tests/helpers/mes_server.py``) that fails with HTTP 500 first and then recovers. Also
prints what ``certline mes status`` said while the MES was down. Look at every PNG before committing.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys

import keyring
import screenshots as shots  # sets CERTLINE_HOME to a throwaway home before any app import

UNITS = 4
CLI_MAIN = "from certline.app.cli.main import main; raise SystemExit(main())"


def main() -> int:
    keyring.set_keyring(shots.MemoryKeyring())
    from certline.app.config.profile import Profile
    from certline.app.config.profile_store import ProfileStore
    from certline.app.config.settings import StationSettings, save_settings
    from certline.app.estserver import EstTestServer
    from certline.app.security.secret_store import Purpose, SecretStore
    from certline.ui import gui_main as launch
    from certline.ui.station import commands as window_commands
    from certline.ui.station import simulated_units
    from tests.helpers.mes_server import fake_mes

    home = shots.HOME
    passcode = secrets.token_urlsafe(16)
    server = EstTestServer(state_dir=home / "est-server", passcode=passcode)
    server.start()
    url = server.est_base(shots.LABEL)
    profile = Profile(name="acme-line-1", enroll_url=url, ca_bundle_pem=server.ca_pem)
    ProfileStore().save(profile)
    SecretStore().set(profile, Purpose.PASSCODE, passcode)
    inbox = home / "mes-inbox"
    inbox.mkdir()
    with fake_mes(home) as mes:
        mes.mode = "fail"
        save_settings(
            StationSettings(mes_drop_folder=str(inbox), mes_url=mes.url, mes_ca_file=str(mes.ca_file))
        )
        launcher = launch.start([])
        assert launcher is not None, "no display: run under xvfb-run"
        try:
            shots.wait_until(lambda: launcher.window is not None and launcher.window.isVisible())
            window = launcher.window
            assert window is not None
            window.resize(1440, 900)
            window.station_bar.work_order.setText("WO-2024-0815")
            window.station_bar.operator.setText("m.keller")
            ready: list[int] = []
            window.simulated_units_ready.connect(ready.append)
            simulated_units.use(window, UNITS, keygen_latency=0.2)
            shots.wait_until(lambda: ready)
            shown: list[object] = []
            window.summary_shown.connect(shown.append)
            window_commands.start(window)
            shots.wait_until(lambda: shown, 120)
            shown[-1].close()  # type: ignore[attr-defined]
            waiting = f"{UNITS} record(s) waiting: MES not reachable"
            shots.wait_until(lambda: window.station_bar.mes.text() == waiting, 60)
            status = subprocess.run(
                [sys.executable, "-c", CLI_MAIN, "mes", "status"],
                capture_output=True,
                text=True,
                env={**os.environ},
                check=False,
            )
            print("$ certline mes status\n" + status.stdout + status.stderr)
            shots.settle(600)
            shots.save(window, "station-mes-backlog")
            mes.mode = "ok"
            shots.wait_until(lambda: window.station_bar.mes.text() == "all records delivered", 120)
            shots.settle(600)
            shots.save(window, "station-mes-delivered")
            files = len(list(inbox.glob("*.json")))
            print(f"MES stored {len(mes.stored)} records; drop folder has {files} files")
        finally:
            window_commands.confirm_quit = lambda _window: True
            if launcher.window is not None:
                launcher.window.close()
            shots.settle(200)
            launcher.close()
            server.stop()
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
