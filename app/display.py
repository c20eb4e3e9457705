"""Whether a window can be opened at all, decided before Qt is asked.

Qt's xcb platform plugin aborts the whole process (SIGABRT, a core dump and a
misleading "xcb-cursor0 is needed" message) when there is no X server to talk
to. ``certline demo`` and ``certline-gui`` both check here first and say
plainly that no display is available.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def display_available(environ: Mapping[str, str] | None = None) -> bool:
    """True when a Qt window can be shown: a real display, or an explicitly chosen Qt platform."""
    env = os.environ if environ is None else environ
    if env.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return True
