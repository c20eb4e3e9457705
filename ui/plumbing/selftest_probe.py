"""The Qt half of ``certline selftest``, run in its own process.

``app`` never imports Qt, so ``certline selftest`` starts this in a child process:
``certline-gui --selftest`` in a frozen bundle (the bundle's GUI entry script
dispatches here), ``python -m certline.ui.plumbing.selftest_probe`` from a source tree.

It checks what a frozen build most often gets wrong: a Qt platform plugin that
does not load (missing xcb/EGL libraries), the SVG icon engine (qsvg plugin and
QtSvg), every ``ui`` module importing, Certline's and Qt's translation files.
The last stdout line is a one-line summary; the exit status is 0 when all is well.
Nothing is written to the user's settings or profiles.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

#: ``ui`` modules not imported by the probe (itself)
SKIP = frozenset({"certline.ui.plumbing.selftest_probe"})


def _ui_modules() -> list[str]:
    from certline import ui

    return [ui.__name__] + [
        info.name
        for info in pkgutil.walk_packages(ui.__path__, prefix=f"{ui.__name__}.")
        if info.name not in SKIP and not info.name.endswith(".__main__")
    ]


def probe() -> list[str]:
    """Run the checks; returns the problems found (empty when all is well)."""
    problems: list[str] = []
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import QLibraryInfo, QTimer, QTranslator, qVersion
    from PySide6.QtGui import QIcon, QImageReader
    from PySide6.QtWidgets import QApplication, QLabel

    _headless_if_no_display()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    print(f"Qt {qVersion()}, PySide6 {pyside_version}, platform {app.platformName()}", flush=True)

    names = _ui_modules()
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - report every broken module
            problems.append(f"import {name}: {type(exc).__name__}: {exc}")

    from certline.ui.plumbing.resources import resource_path, translation_dir

    svgs = sorted(resource_path("icons").glob("*.svg"))
    if not svgs:
        problems.append(f"no icons in {resource_path('icons')}")
    if b"svg" not in [bytes(f.data()) for f in QImageReader.supportedImageFormats()]:
        problems.append("Qt has no SVG image format plugin (qsvg)")
    for svg in svgs:
        if QIcon(str(svg)).pixmap(32, 32).isNull():
            problems.append(f"icon {svg.name} does not render")

    qms = sorted(translation_dir().glob("*.qm"))
    for qm in qms:
        if not QTranslator().load(str(qm)):
            problems.append(f"translation {qm.name} does not load")
    qt_translations = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if qms and not QTranslator().load("qtbase_de", qt_translations):
        problems.append(f"Qt's own qtbase_de.qm is not in {qt_translations}")

    label = QLabel("Certline selftest")
    label.setWindowIcon(QIcon(str(resource_path("icons", "certline.svg"))))
    label.show()
    QTimer.singleShot(200, app.quit)
    app.exec()
    label.close()

    print(
        f"Qt {qVersion()} on {app.platformName()}: {len(names)} ui modules, "
        f"{len(svgs)} SVG icons, {len(qms)} translation(s)"
        + (f"; {len(problems)} problem(s)" if problems else ""),
        flush=True,
    )
    return problems


def _headless_if_no_display() -> None:
    """Like ``certline selftest``: without a display on Linux, use the offscreen platform."""
    import os

    if sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM"):
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"


def main() -> int:
    try:
        problems = probe()
    except Exception as exc:  # noqa: BLE001 - no unhandled exception: a frozen windowed
        # program would show it in a dialog box and wait for a click (CI would hang)
        import traceback

        traceback.print_exc()
        print(f"Qt probe failed: {type(exc).__name__}: {exc}", flush=True)
        return 2
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr, flush=True)
    if problems:
        print(f"Qt probe: {len(problems)} problem(s): " + "; ".join(problems), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
