"""One JSON file per record in the MES's drop folder, written so a reader never sees half a file.

The record goes to a temporary name first (a dot file ending in ``.tmp``, which MES pickers must
ignore), is flushed to disk (``fsync``) and then renamed to ``<idempotency key>.json`` in one
``os.replace``, which is atomic within a file system; the folder itself is fsynced afterwards so
the rename survives a power cut. Writing the same record again (a retry after a crash between the
rename and the journal's "delivered" mark) replaces the file with identical bytes.
"""

from __future__ import annotations

import os
from pathlib import Path


class DropFolderError(OSError):
    """The record could not be written to the drop folder (the message names the folder)."""


def record_path(folder: Path, key: str) -> Path:
    if not key or "/" in key or "\\" in key or key.startswith("."):
        raise ValueError(f"not a record key: {key!r}")
    return folder / f"{key}.json"


def write_record(folder: Path, key: str, body: str) -> Path:
    """Atomically place ``body`` as ``<key>.json`` in ``folder`` (which must exist); returns the path."""
    final = record_path(folder, key)
    if not folder.is_dir():
        raise DropFolderError(f"the MES drop folder {folder} does not exist or is not a folder")
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    data = body.encode("utf-8")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        _fsync_dir(folder)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DropFolderError(
            f"cannot write to the MES drop folder {folder}: {exc.strerror or exc}"
        ) from None
    return final


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a directory for fsync; NTFS journals the rename itself
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
