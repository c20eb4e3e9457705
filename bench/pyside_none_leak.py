"""Repro: PySide6 6.12.0 on Python 3.11 drops one reference to ``None`` on every void call.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python bench/pyside_none_leak.py``

Found while benchmarking (scrolling a 10,000-row device table aborted with ``Fatal Python
error: none_dealloc: deallocating None``). Every call of a Qt method that returns ``void``
(``setEnabled``, ``setText``, ``update``, ``repaint`` ...) returns ``None`` to Python without
taking a reference. On Python 3.12+ ``None`` is immortal (PEP 683) and nothing happens; on
3.11 its reference count falls by one per call and the interpreter aborts when it reaches zero
(a few thousand calls after start-up). PySide6 6.11.3 on the same Python 3.11.7 does not leak.

Exit status 0: no leak; 1: leak (the script keeps ``None`` alive itself so it can report).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    headroom = [None] * 1_000_000  # keeps the interpreter alive long enough to report
    import PySide6
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication.instance() or QApplication([sys.argv[0]])
    widget = QWidget()
    before = sys.getrefcount(None)
    for _ in range(1000):
        widget.setEnabled(True)
    change = sys.getrefcount(None) - before
    print(
        f"PySide6 {PySide6.__version__}, Python {sys.version.split()[0]}: "
        f"None reference count changed by {change} over 1000 void calls "
        f"({'LEAK: the interpreter aborts once it reaches zero' if change < 0 else 'no leak'})"
    )
    widget.deleteLater()
    del app
    # leave the headroom alive until exit: with the leak, freeing it could drop None to zero
    sys.stdout.flush()
    os._exit(1 if change < 0 else 0 if headroom else 0)


if __name__ == "__main__":
    raise SystemExit(main())
