"""Frozen entry point of ``certline`` (the console executable of the bundle).

Besides the CLI it understands ``certline -m MODULE ARGS...`` for the few ``ui``
modules that Certline itself starts as ``[sys.executable, "-m", MODULE]`` (the
demo window): in a frozen bundle ``sys.executable`` is this program, not Python.
"""

import multiprocessing
import runpy
import sys

#: modules ``-m`` may run; anything else is an error rather than arbitrary code
RUNNABLE = ("certline.ui.demo_window_main", "certline.ui.plumbing.selftest_probe")


def _prepare_qt() -> None:
    """What PyInstaller's PySide6 runtime hook does, which this executable goes without
    (packaging/certline.spec): tell Qt where its plugins are in the bundle."""
    import os

    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is None:
        return
    qt_dir = (
        os.path.join(bundle, "PySide6") if sys.platform == "win32" else os.path.join(bundle, "PySide6", "Qt")
    )
    os.environ.setdefault("QT_PLUGIN_PATH", os.path.join(qt_dir, "plugins"))
    if sys.platform == "win32":
        os.environ["PATH"] = bundle + os.pathsep + os.environ.get("PATH", "")


def _main() -> int:
    # the station runs its serial drivers in device host processes (multiprocessing, spawn):
    # in a frozen bundle such a process is this executable again, and this call serves it
    multiprocessing.freeze_support()
    if len(sys.argv) >= 3 and sys.argv[1] == "-m":
        module = sys.argv[2]
        if module not in RUNNABLE:
            print(f"certline: -m {module}: not a runnable module in this build", file=sys.stderr)
            return 2
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        _prepare_qt()
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return 0
    from certline.app.cli.main import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
