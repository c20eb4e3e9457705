"""Window process of ``certline demo``: run the batch in the station window, exit with its result.

``app/cli/demo.py`` starts the simulator and the EST test server, then runs
``python -m ui.demo_main HANDOFF`` with the passcode in ``CERTLINE_DEMO_PASSCODE``.
Exit status: 0 when every device ended verified, 1 otherwise, DISPLAY_FAILED
when no window could be opened (the parent then runs headless).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from app.demo_env import DISPLAY_FAILED, DemoEnvironment
    from app.est.credentials import Credentials
    from app.redaction import register_secret
    from app.station import StationSession

    args = sys.argv[1:] if argv is None else argv
    profile, ports, paths, report = DemoEnvironment.read_handoff(Path(args[0]))
    passcode = os.environ.pop("CERTLINE_DEMO_PASSCODE", None)
    register_secret(passcode)
    try:
        from PySide6.QtWidgets import QApplication

        from ui.launch import create_application
    except ImportError as exc:
        print(f"certline demo: Qt is not usable here ({exc})", file=sys.stderr)
        return DISPLAY_FAILED
    app = QApplication.instance() or create_application([sys.argv[0]])
    if app is None:
        return DISPLAY_FAILED
    from ui.app_window import open_station_window

    session = StationSession(profile, Credentials(passcode=passcode), paths=paths)
    try:
        window = open_station_window(
            session, lambda: list(ports), autostart=True, report_path=report, quit_when_done=True
        )
        app.exec()
        return 0 if window.batch_verified() else 1
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main())
