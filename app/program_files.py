"""Notice that this program's files were replaced under it (a package upgrade while it runs).

A frozen Certline (PyInstaller) reads modules from the archive inside its executable, by
path, the first time each module is imported. When ``apt-get install ./certline_<new>.deb``
replaces ``/opt/certline`` while the station window is open, the next first-time import
reads the *new* file at the old offsets and fails with ``zlib.error: Error -3``. dpkg
replaces files by renaming a new file over the old one, so the path then names another
inode; an in-place rewrite changes the size or mtime. :class:`ProgramFiles` remembers
``(inode, size, mtime)`` of the files that matter at start and tells which ones differ
now, so the window can pause the batch after the current step and ask for a restart
instead of crashing in front of a unit.

Qt-free; :meth:`ProgramFiles.replaced` only stats a few files, but it is still disk
access, so the GUI calls it from a worker.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileIdentity:
    """What identifies one version of a file on disk."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return cls(st.st_ino, st.st_size, st.st_mtime_ns)


def frozen_program_paths() -> list[Path]:
    """The files a frozen build reads lazily: its executable (holding the module archive) and
    ``base_library.zip``; empty when running from a source tree (nothing to watch there)."""
    if not getattr(sys, "frozen", False):
        return []
    paths = [Path(sys.executable)]
    bundle = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    base_library = bundle / "base_library.zip"
    if base_library.is_file():
        paths.append(base_library)
    return paths


class ProgramFiles:
    """The identities of the program's files at start; :meth:`replaced` compares with now."""

    def __init__(self, paths: list[Path] | None = None) -> None:
        self.paths = frozen_program_paths() if paths is None else list(paths)
        self._at_start = {path: FileIdentity.of(path) for path in self.paths}

    @property
    def watching(self) -> bool:
        return bool(self.paths)

    def replaced(self) -> list[Path]:
        """Files that were replaced, changed or removed since start (empty: all as they were)."""
        return [path for path, before in self._at_start.items() if FileIdentity.of(path) != before]


_AT_START: ProgramFiles | None = None


def at_start() -> ProgramFiles:
    """The program files as they were when this process first asked (call it early in main)."""
    global _AT_START
    if _AT_START is None:
        _AT_START = ProgramFiles()
    return _AT_START


RESTART_MESSAGE = (
    "Certline was updated while it was running ({files}). The running program can no "
    "longer load its own files safely, so the batch was paused after the current step. "
    "Close Certline and start it again; the unfinished batch is offered for resuming."
)

#: put in front of an unexpected error's summary when the program was replaced under it
CRASH_HINT = (
    "Certline was updated while it was running, so it can no longer load its own files. "
    "Close Certline and start it again; the unfinished batch is offered for resuming."
)
