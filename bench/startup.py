"""Benchmark 4: start-up, from process start to the station window shown and painted.

Run: ``.venv/bin/python bench/startup.py`` (about 30 s). Writes ``bench/results/startup.json``
and docs/benchmarks.md.

What is measured is the real ``certline-gui`` path, ``certline.ui.gui_main.main()``: logging, the
QApplication with translations and the crash hooks, the profile store, the keyring lookup
and the journal in a worker, then the ``MainWindow``. A profile exists (``CERTLINE_HOME``
points at a temporary station home with one saved profile), as at a station that is in use.

The probe (``bench/startup.py --probe``) is the process under test. The parent reads
``CLOCK_MONOTONIC`` (system-wide on Linux, the same clock in both processes) just before
``fork``/``exec``; the probe installs an application event filter and prints the monotonic
time of the station window's first ``Show`` and first ``Paint`` event, then quits. Nothing in
``ui/`` is changed for this; the probe only hooks the QApplication that ``certline.ui.gui_main`` creates
(``ensure_application`` returns an existing one).

Controls, to show where the time goes: the bare interpreter (``python -c pass``), importing
``PySide6.QtWidgets``, and importing ``certline.ui.station.window`` (every module the window needs).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_S = 1.5


def probe() -> int:
    """The process under test: run certline.ui.gui_main.main() and report when the window shows and paints."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    from certline.ui.application import ensure_application
    from certline.ui.plumbing.settings import UiSettings

    app = ensure_application(settings=UiSettings())
    marks: dict[str, float] = {}

    class Watch(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
            kind = event.type()
            if kind in (QEvent.Type.Show, QEvent.Type.Paint) and obj.isWidgetType():
                from certline.ui.station.window import MainWindow

                top = obj.window()  # type: ignore[attr-defined]
                if isinstance(top, MainWindow):
                    key = "shown" if kind == QEvent.Type.Show else "painted"
                    if key not in marks:
                        marks[key] = time.monotonic()
                        if key == "painted":
                            QTimer.singleShot(0, app.quit)
            return False

    watch = Watch()
    app.installEventFilter(watch)
    QTimer.singleShot(20000, app.quit)  # bounded: never hang the benchmark

    import certline.ui.gui_main

    certline.ui.gui_main.main([])
    import resource

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # peak since exec (ru_maxrss keeps the parent's from before)
            rss_mb = int(line.split()[1]) / 1024
    print(
        f"STARTUP shown={marks.get('shown', -1):.6f} painted={marks.get('painted', -1):.6f}"
        f" rss_mb={rss_mb:.1f}",
        flush=True,
    )
    return 0


def _make_home(root: Path) -> dict[str, str]:
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        CERTLINE_HOME=str(root / "home"),
        XDG_CONFIG_HOME=str(root / "xdg-config"),
        XDG_DATA_HOME=str(root / "xdg-data"),
        XDG_CACHE_HOME=str(root / "xdg-cache"),
        XDG_STATE_HOME=str(root / "xdg-state"),
        PYTHONDONTWRITEBYTECODE="",
    )
    code = (
        "from certline.app.config.profile import Profile, AuthStyle\n"
        "from certline.app.config.profile_store import ProfileStore\n"
        "ProfileStore().save(Profile(name='line1', "
        "enroll_url='https://127.0.0.1:9/.well-known/est/cps/IOT_33fd0b45-3188-45ed-9458-6cedc8ccf509', "
        "auth_style=AuthStyle.PASSCODE_ONLY, subject_template={'CN': '{serial}'}))\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    return env


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed: {proc.stderr[-1500:]}")
    return elapsed, proc.stdout


def measure_window(env: dict[str, str]) -> dict[str, float]:
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, __file__, "--probe"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    exit_at = time.monotonic()
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("STARTUP ")), None)
    if line is None:
        raise RuntimeError(f"probe failed ({proc.returncode}): {proc.stderr[-2000:]}")
    fields = dict(kv.split("=") for kv in line.split()[1:])
    shown, painted = float(fields["shown"]), float(fields["painted"])
    if shown < 0 or painted < 0:
        raise RuntimeError(f"the station window was never shown: {proc.stderr[-2000:]}")
    return {
        "shown_s": shown - t0,
        "painted_s": painted - t0,
        "process_s": exit_at - t0,
        "peak_rss_mb": float(fields.get("rss_mb", "nan")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        return probe()

    from bench.common import save_result, wait_for_quiet

    root = Path(tempfile.mkdtemp(prefix="certline-bench-startup-"))
    try:
        env = _make_home(root)
        wait_for_quiet()
        controls: dict[str, list[float]] = {
            "python -c pass": [],
            "import PySide6.QtWidgets": [],
            "import certline.ui.station.window": [],
        }
        windows: list[dict[str, float]] = []
        for i in range(args.runs):
            for name, code in (
                ("python -c pass", "pass"),
                ("import PySide6.QtWidgets", "import PySide6.QtWidgets"),
                ("import certline.ui.station.window", "import certline.ui.station.window"),
            ):
                controls[name].append(_timed([sys.executable, "-c", code], env)[0])
            windows.append(measure_window(env))
            print(
                f"run {i + 1}: shown {windows[-1]['shown_s']:.3f} s, "
                f"painted {windows[-1]['painted_s']:.3f} s",
                flush=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)

    warm = windows[1:] if len(windows) > 1 else windows

    def stats(values: list[float]) -> dict[str, float]:
        return {"median_s": statistics.median(values), "min_s": min(values), "max_s": max(values)}

    results: dict[str, Any] = {
        "runs": len(windows),
        "first_run": windows[0],
        "shown": stats([w["shown_s"] for w in warm]),
        "painted": stats([w["painted_s"] for w in warm]),
        "controls": {name: stats(vals[1:] if len(vals) > 1 else vals) for name, vals in controls.items()},
        "target_s": TARGET_S,
    }
    results["met"] = results["painted"]["max_s"] < TARGET_S and windows[0]["painted_s"] < TARGET_S
    for name, st in results["controls"].items():
        print(f"{name:28s} median {st['median_s']:.3f} s")
    print(
        f"window shown: median {results['shown']['median_s']:.3f} s, painted: median "
        f"{results['painted']['median_s']:.3f} s (max {results['painted']['max_s']:.3f}); "
        f"first run painted {windows[0]['painted_s']:.3f} s"
    )
    if not args.no_save:
        save_result("startup", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
