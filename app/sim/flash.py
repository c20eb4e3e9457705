"""Persistent "flash" of one simulated device: a JSON file written atomically.

A restart of the simulator finds what was written, like real non-volatile
storage. Writes go to a temporary file that is renamed over the old one, so a
killed simulator never leaves a half-written flash image.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class Flash:
    """Key/value storage of one device. Values must be JSON-serialisable (keys: PEM strings)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {}
        if path is not None and path.exists():
            self._data = json.loads(path.read_text(encoding="utf-8"))

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(key, default)

    def update(self, **values: Any) -> None:
        """Set several keys in one atomic write (None deletes a key)."""
        with self._lock:
            for key, value in values.items():
                if value is None:
                    self._data.pop(key, None)
                else:
                    self._data[key] = value
            self._persist()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._data)

    def _persist(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self._data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._path)
