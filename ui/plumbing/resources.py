"""Icons and translation files shipped in the ``certline.resources`` package (the resources/ folder).

Plain files, no rcc.

Files are found with ``importlib.resources`` so they work from a source tree,
an installed wheel and a frozen bundle alike, and diff cleanly in review.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from PySide6.QtGui import QIcon


def resource_path(*parts: str) -> Path:
    """Filesystem path of a file in the ``certline.resources`` package (the resources/ folder)."""
    path = resources.files("certline.resources")
    for part in parts:  # one at a time: Python 3.11's MultiplexedPath (frozen bundle) takes one name
        path = path.joinpath(part)
    return Path(str(path))


@cache
def icon(name: str) -> QIcon:
    """The SVG icon ``resources/icons/<name>.svg`` (an empty icon if it is missing)."""
    path = resource_path("icons", f"{name}.svg")
    return QIcon(str(path)) if path.is_file() else QIcon()


def app_icon() -> QIcon:
    return icon("certline")


def translation_dir() -> Path:
    return resource_path("i18n")
