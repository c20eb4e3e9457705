"""The installed Qt binding must not corrupt the interpreter during a long shift at the line.

PySide6 6.12.0 on Python 3.11 drops a reference to ``None`` on every void Qt call and the
station aborts ("deallocating None") after a few thousand calls; pyproject excludes it. This
test runs the check in a child process so a bad binding fails the test instead of the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import sys
keep = [None] * 100000
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([sys.argv[0]])
widget = QWidget()
before = sys.getrefcount(None)
for _ in range(1000):
    widget.setEnabled(True)
print(sys.getrefcount(None) - before)
"""


def test_void_qt_calls_keep_none_alive():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) >= 0, "this PySide6 build leaks references to None"
