"""Frozen entry point of ``certline-gui`` (the windowed executable of the bundle).

``certline-gui --selftest`` runs the Qt probe of ``certline selftest``
(:mod:`certline.ui.plumbing.selftest_probe`) instead of opening the station window.
"""

import multiprocessing
import os
import sys


def _main() -> int:
    # the station runs its serial drivers in device host processes (multiprocessing, spawn):
    # in a frozen bundle such a process is this executable again, and this call serves it
    multiprocessing.freeze_support()
    if sys.argv[1:2] == ["--selftest"]:
        # A windowed program started without redirected output has no stdout/stderr.
        if sys.stdout is None:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        if sys.stderr is None:
            sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        from certline.ui.plumbing.selftest_probe import main as probe

        return probe()
    from certline.ui.gui_main import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
