"""The real station window on the demo setup: simulated units on pseudo-terminals and the local
HTTPS EST test server. Every row must turn green (done) without anyone touching the window."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt

from certline.app.batch.states import DeviceState
from certline.app.station import StationSession
from certline.app.station.demo_line import DemoEnvironment, DemoSettings
from certline.ui.application import open_station_window
from certline.ui.station.batch_controller import Phase
from certline.ui.station.device_model import Column
from tests.helpers.waiting import wait_until


def test_demo_window_provisions_every_unit_to_done(qtbot, tmp_path):
    with DemoEnvironment(DemoSettings(devices=3, keygen_latency=0.05), root=tmp_path / "demo") as env:
        session = StationSession(env.profile(), env.credentials(), paths=env.station_paths())
        try:
            window = open_station_window(session, lambda: list(env.ports), autostart=True)
            qtbot.addWidget(window)

            def all_rows_done() -> None:
                model = window.model
                assert model.rowCount() == 3
                states = [model.snapshot(row).state for row in range(model.rowCount())]
                assert states == [DeviceState.DONE] * 3

            qtbot.waitUntil(all_rows_done, timeout=60_000)
            model = window.model
            for row in range(model.rowCount()):
                state_text = model.index(row, Column.STATE).data(Qt.ItemDataRole.DisplayRole)
                assert state_text, "the state is shown in words, not by colour alone"
                assert model.index(row, Column.SERIAL).data() in {
                    d.serial_number for d in env.simulator.devices
                }
            assert session.engine is not None and session.engine.all_verified()
            qtbot.waitUntil(lambda: window.controller.phase is Phase.IDLE, timeout=30_000)  # batch closed
            window.close()
        finally:
            session.close()


def _proc_stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of a live process from /proc, None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    return int(fields[1]), fields[0], fields[19]


def _descendants(root: int) -> dict[int, str]:
    """The processes below ``root`` (pid -> start time): only this test's own process tree,
    never another run's or another user's processes."""
    children: dict[int, list[int]] = {}
    started: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
            started[int(entry.name)] = stat[2]
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found[pid] = started[pid]
        todo.extend(children.get(pid, []))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _still_running(pid: int, start_time: str) -> bool:
    """The same process (not a reused pid) still exists and is not just an unreaped zombie."""
    stat = _proc_stat(pid)
    return stat is not None and stat[2] == start_time and stat[1] != "Z"


def test_demo_window_process_leaves_nothing_behind_when_terminated(tmp_path):
    tmp_root = tmp_path / "tmp"
    tmp_root.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp_root), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen(
        [sys.executable, "-m", "certline.app.cli.main", "demo", "--devices", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tree: dict[int, str] = {}
    try:

        def window_process_started() -> bool:
            assert proc.poll() is None, "the demo exited before its window process started"
            tree.update(_descendants(proc.pid))
            return any("certline.ui.demo_window_main" in _cmdline(pid) for pid in tree)

        wait_until(window_process_started, timeout=60, what="the demo's window process")
        assert any(tmp_root.glob("certline-demo-*/demo-handoff.json")), "the window got no hand-off"
    finally:
        tree.update(_descendants(proc.pid))  # everything running at the moment of the SIGTERM
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert list(tmp_root.iterdir()) == []
    leftovers = [f"{pid}: {_cmdline(pid)}" for pid, start in tree.items() if _still_running(pid, start)]
    assert leftovers == [], "processes the demo started outlived it"


def test_demo_window_log_panel_shows_the_batch_like_certline_gui(qtbot, qapp, tmp_path, monkeypatch):
    """Issue 14.4: the demo window's log panel stayed empty (its process never set up logging)."""
    import logging

    from PySide6.QtCore import QTimer

    from certline.ui import demo_window_main as demo_main
    from certline.ui.station.window import MainWindow

    logging.getLogger().setLevel(logging.WARNING)  # what a fresh process starts with
    seen: dict[str, list[str]] = {}

    def watch() -> None:
        windows = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if windows and windows[0].controller.phase is Phase.IDLE and windows[0].model.rowCount() == 2:
            seen["lines"] = windows[0].log_panel.visible_messages()
            windows[0].close()
            return
        QTimer.singleShot(50, watch)

    with DemoEnvironment(DemoSettings(devices=2, keygen_latency=0.05), root=tmp_path / "demo") as env:
        handoff = env.write_handoff(report=None)
        monkeypatch.setenv("CERTLINE_DEMO_PASSCODE", env.passcode)
        QTimer.singleShot(0, watch)
        assert demo_main.main([str(handoff)]) == 0
    assert any("simpleenroll" in line or "EST" in line for line in seen["lines"]), seen["lines"]
