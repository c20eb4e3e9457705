"""Window preferences in ``QSettings``, each declared once with its type and default (Picard).

These are the look of this station's window (large text, language, the last
profile, window geometry), not provisioning settings. Booleans are read with
``type=bool``: INI storage gives back the strings ``"true"``/``"false"``
otherwise, and ``"false"`` is truthy. When a value was never set here, the
station settings file (``certline.app.config.settings``) provides the default, so an engineer
can preset large text for every account on a station.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from certline.app.config.settings import SettingsError, load_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Option:
    key: str
    type: type
    default: Any


LARGE_TEXT = Option("view/large_text", bool, False)
LANGUAGE = Option("view/language", str, "auto")
LAST_PROFILE = Option("station/last_profile", str, "")
GEOMETRY = Option("window/geometry", QByteArray, QByteArray())
WINDOW_STATE = Option("window/state", QByteArray, QByteArray())
SPLITTER = Option("window/splitter", QByteArray, QByteArray())

LARGE_TEXT_SCALE = 1.35


def _station_default(option: Option) -> Any:
    """The station settings file's value for options it also declares."""
    name = {LARGE_TEXT.key: "large_text", LANGUAGE.key: "language"}.get(option.key)
    if name is None:
        return option.default
    try:
        return getattr(load_settings(), name)
    except (SettingsError, OSError) as exc:
        log.warning("station settings unreadable, using defaults: %s", exc)
        return option.default


def _default_qsettings() -> QSettings:
    """The user's Qt settings; with ``CERTLINE_HOME`` an INI file in that home's config folder.

    ``CERTLINE_HOME`` promises that everything of a station lives under one folder
    (side-by-side stations, tests), the window's last profile and language included.
    """
    if os.environ.get("CERTLINE_HOME"):
        from certline.app.config.paths import station_paths

        path = station_paths().config / "ui.ini"
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings("Certline", "certline")


class UiSettings:
    """Typed access to the window's ``QSettings`` (pass an INI-backed one in tests)."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings if settings is not None else _default_qsettings()

    def get(self, option: Option) -> Any:
        if not self.qsettings.contains(option.key):
            return _station_default(option)
        return self.qsettings.value(option.key, option.default, type=option.type)

    def set(self, option: Option, value: Any) -> None:
        self.qsettings.setValue(option.key, value)

    def sync(self) -> None:
        self.qsettings.sync()
