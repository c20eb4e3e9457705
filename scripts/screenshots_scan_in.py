"""Scan-in screenshots from a real run: ``xvfb-run -a .venv/bin/python scripts/screenshots_scan_in.py``.

The station starts through ``certline-gui``'s own entry (:func:`certline.ui.gui_main.start`) with a profile
that asks for scan-in, against the local HTTPS EST test server, with simulated units on real
pseudo-terminals. Labels are typed into the scan field as key events with a barcode scanner's
timing (8 ms per key, Enter at the end): a QR code with JSON for one unit, a plain serial number
for another, and a label that belongs to no unit on the bench for a third, which then fails
with both values; the fourth still waits for its label. PNGs go to ``docs/screenshots/``.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import keyring  # noqa: E402
import screenshots as shots  # noqa: E402 - sets CERTLINE_HOME and the Qt platform first
from PySide6.QtCore import QEvent, Qt  # noqa: E402
from PySide6.QtGui import QKeyEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SCANNER_GAP_MS = 8


def scan(text: str) -> None:
    """The scanner types ``text`` and Enter into whatever has the keyboard focus."""
    clock = scan.clock  # type: ignore[attr-defined]
    for key, char in [(Qt.Key(ord(c.upper())), c) for c in text] + [(Qt.Key.Key_Return, "\r")]:
        clock += SCANNER_GAP_MS
        target = QApplication.focusWidget()
        assert target is not None, "nothing has the keyboard focus"
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, char)
            event.setTimestamp(clock)
            QApplication.sendEvent(target, event)
    scan.clock = clock + 2000  # type: ignore[attr-defined]


scan.clock = 1_000_000  # type: ignore[attr-defined]


def main() -> int:
    keyring.set_keyring(shots.MemoryKeyring())
    from certline.app.config.profile import AuthStyle, Profile, ScanIn
    from certline.app.config.profile_store import ProfileStore
    from certline.app.estserver import EstTestServer
    from certline.ui import gui_main as launch
    from certline.ui.station import commands as window_commands
    from certline.ui.station import simulated_units

    passcode = secrets.token_urlsafe(16)
    server = EstTestServer(state_dir=shots.HOME / "est-server", passcode=passcode)
    server.start()
    ProfileStore().save(
        Profile(
            name="acme-line-1",
            enroll_url=server.est_base(shots.LABEL),
            auth_style=AuthStyle.PASSCODE_ONLY,
            ca_bundle_pem=server.ca_pem,
            subject_template={"CN": "{serial}", "O": "ACME Devices"},
            scan_in=ScanIn.REQUIRED,
        )
    )
    keyring.set_password("certline", "acme-line-1/passcode", passcode)
    launcher = launch.start(["--profile", "acme-line-1"])
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
        simulated_units.use(window, 4, keygen_latency=0.3)
        shots.wait_until(lambda: ready)
        window.activateWindow()
        window_commands.start(window)

        def waiting() -> list[str]:
            return sorted(
                s.serial_number or "" for s in window.model.snapshots() if s.state.value == "awaiting-label"
            )

        shots.wait_until(lambda: len(waiting()) == 4)
        shots.wait_until(window.scan_panel.field.hasFocus)
        serials = waiting()
        window.model.flush()
        shots.save(window, "station-scan-in-waiting")
        scan(f'{{"serial":"{serials[0]}","model":"CL-1"}}')
        shots.settle(300)
        scan(serials[2])
        shots.settle(300)
        scan("CL-000099")  # a label from another tray: binds to the first unit without one
        shots.wait_until(lambda: window.counters.failed.value_text() == "1")
        shots.wait_until(lambda: sum(s.state.value == "done" for s in window.model.snapshots()) == 2, 60)
        window.model.flush()
        failed_row = next(r for r, s in enumerate(window.model.snapshots()) if s.state.value == "failed")
        window.table.selectRow(failed_row)
        shots.wait_until(lambda: window.details.steps.rowCount() > 1)
        shots.wait_until(window.scan_panel.field.hasFocus)
        shots.save(window, "station-scan-in-mismatch")
    finally:
        window_commands.confirm_quit = lambda _window: True
        if launcher.window is not None:
            launcher.window.close()
        shots.settle(200)
        launcher.close()
        server.stop()
        shutil.rmtree(shots.HOME, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
