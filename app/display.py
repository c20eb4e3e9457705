"""Whether a window can be opened at all, decided before Qt is asked.

Qt's xcb platform plugin aborts the whole process (SIGABRT, a core dump and a
misleading "xcb-cursor0 is needed" message) when there is no X server to talk
to. ``certline demo`` and ``certline-gui`` both check here first and say
plainly that no display is available: none is set, or the X server that
``DISPLAY`` names does not answer (a stale ``DISPLAY`` after an ssh login
without X forwarding). When in doubt the answer is "available": a probe must
never keep a working station from starting.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import sys
from collections.abc import Mapping

_X_DISPLAY = re.compile(r"^(?P<host>[^:]*):(?P<number>\d+)(?:\.\d+)?$")
_REFUSED = (errno.ECONNREFUSED, errno.ENOENT)


def display_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why no window can be shown here, or None when one can (or Qt's platform was chosen)."""
    env = os.environ if environ is None else environ
    if env.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return None
    if env.get("WAYLAND_DISPLAY"):
        return None
    display = env.get("DISPLAY")
    if not display:
        return "DISPLAY/WAYLAND_DISPLAY unset"
    if not _x_server_answers(display):
        return f"the X server DISPLAY={display} does not answer"
    return None


def display_available(environ: Mapping[str, str] | None = None) -> bool:
    """True when a Qt window can be shown: a display that answers, or an explicitly chosen Qt platform."""
    return display_problem(environ) is None


def _x_server_answers(display: str) -> bool:
    """False only when the X server's socket definitely refuses (or is not there)."""
    match = _X_DISPLAY.match(display)
    if match is None:
        return True  # a form we do not know (launchd paths, …): let Qt decide
    host, number = match["host"], int(match["number"])
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"  # noqa: S108 - the X server's well-known socket, only connected to
        return _unix_answers("\0" + path) or _unix_answers(path)
    try:
        with socket.create_connection((host, 6000 + number), timeout=2):
            return True
    except OSError as exc:
        return exc.errno not in _REFUSED


def _unix_answers(address: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(address)
        except OSError as exc:
            return exc.errno not in _REFUSED
    return True
