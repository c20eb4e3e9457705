"""Background threads give way to the station window's thread.

Why: in a batch's busiest phase (every unit reading its CSR, enrolling and writing at once) dozens
of port workers want the interpreter lock and the cores at the same moment, and the window's
thread waits behind them: that wait is the longest stall of the event loop (docs/benchmarks.md
§3). With the workers one step below normal priority, the scheduler runs the window's thread
first whenever both are ready; the workers lose nothing while it sleeps, which is most of the time.

Linux: the thread's nice value (each thread has its own; raising it needs no privilege, so it is
never undone). Windows: ``THREAD_PRIORITY_BELOW_NORMAL``. Elsewhere: nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

#: how far below normal on Linux: nice 0 -> 5 (the CFS weight falls from 1024 to 335)
NICE_STEPS = 5
_THREAD_PRIORITY_BELOW_NORMAL = -1


def lower_this_thread() -> bool:
    """Lower the calling thread's scheduling priority one step below normal; True if it was.

    A refusal by the OS (a sandbox, a container without the call) is logged and ignored: the
    thread then runs at normal priority, as before."""
    try:
        if sys.platform.startswith("linux"):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + NICE_STEPS)
            return True
        if sys.platform == "win32":
            import ctypes  # noqa: PLC0415 - Windows only

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            return bool(
                kernel32.SetThreadPriority(kernel32.GetCurrentThread(), _THREAD_PRIORITY_BELOW_NORMAL)
            )
    except OSError as exc:
        log.debug("thread priority not lowered: %s", exc)
    return False
