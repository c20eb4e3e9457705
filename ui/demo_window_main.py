"""Window process of ``certline demo``: the station window on the simulator and the EST test server.

``app/cli/demo.py`` starts the simulator and the EST test server, then runs
``python -m certline.ui.demo_window_main HANDOFF`` with the passcode in ``CERTLINE_DEMO_PASSCODE``
(``app`` never imports ``ui``). The batch starts at once; the window stays open
until the user closes it. Exit status: 0 when every unit ended verified, 1
otherwise, DISPLAY_FAILED when no window could be opened (the parent then runs
headless).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from certline.app.batch.report import export_report
    from certline.app.est.credentials import Credentials
    from certline.app.host.log_setup import configure_gui_logging
    from certline.app.security.redaction import register_secret
    from certline.app.station import StationSession
    from certline.app.station.demo_line import DISPLAY_FAILED, DemoEnvironment

    args = sys.argv[1:] if argv is None else argv
    # as certline-gui does: without it the root logger stays at WARNING and the window's log
    # panel shows nothing of a batch that goes well
    configure_gui_logging()
    profile, ports, paths, report = DemoEnvironment.read_handoff(Path(args[0]))
    passcode = os.environ.pop("CERTLINE_DEMO_PASSCODE", None)
    register_secret(passcode)
    try:
        from certline.ui.application import ensure_application, open_station_window
    except ImportError as exc:
        print(f"certline demo: Qt is not usable here ({exc})", file=sys.stderr)
        return DISPLAY_FAILED
    try:
        app = ensure_application([sys.argv[0]])
    except RuntimeError as exc:
        print(f"certline demo: cannot open a window ({exc})", file=sys.stderr)
        return DISPLAY_FAILED
    session = StationSession(profile, Credentials(passcode=passcode), paths=paths)
    try:
        open_station_window(session, lambda: list(ports), autostart=True)
        app.exec()
        engine = session.engine
        if engine is None:
            return 1
        if report is not None:
            export_report(session.journal, engine.batch_id, "json", report)
        return 0 if engine.all_verified() else 1
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main())
