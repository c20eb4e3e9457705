"""Every directory Certline writes to, resolved in one place.

``CERTLINE_HOME`` puts everything under one folder (tests, side-by-side
stations); otherwise platformdirs gives the platform's data, config, log and
cache dirs, which honour the ``XDG_*`` variables on Linux. Directories are
created owner-only (0700) on POSIX because the journal and logs are private to
the station account.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "certline"


@dataclass(frozen=True)
class StationPaths:
    data: Path
    config: Path
    logs: Path
    cache: Path

    @property
    def journal(self) -> Path:
        return self.data / "journal.sqlite3"

    @property
    def profiles(self) -> Path:
        return self.config / "profiles"

    @property
    def settings(self) -> Path:
        return self.config / "settings.json"

    @property
    def reports(self) -> Path:
        return self.data / "reports"


def station_paths(environ: dict[str, str] | None = None) -> StationPaths:
    env = os.environ if environ is None else environ
    home = env.get("CERTLINE_HOME")
    if home:
        base = Path(home)
        return StationPaths(base / "data", base / "config", base / "logs", base / "cache")
    return StationPaths(
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
    )


class InsideStationConfig(ValueError):
    """An export was asked to write into the station's configuration folder (message: where)."""


def refuse_station_config_target(path: Path, paths: StationPaths | None = None) -> None:
    """Raise :class:`InsideStationConfig` when ``path`` lies in the station's configuration folder.

    Exports (reports, profiles, statistics, expiry lists) write where they are told, and a
    technician may run them; saved over a profile, the settings or ``station-lock.json`` they
    would replace what the engineer set up (found from outside: a profile export saved over the
    station lock). Nothing Certline exports belongs in that folder.
    """
    config = (paths or station_paths()).config.expanduser().resolve()
    target = path.expanduser().resolve()
    if target == config or config in target.parents:
        raise InsideStationConfig(
            f"{path} is in the station's configuration folder ({config}), where an export could "
            "replace a profile, the settings or the station lock; choose another folder"
        )


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with mode 0700; tighten ``path`` if it existed.

    Every directory *this call* creates is owner-only (``mkdir(parents=True)`` would create
    the parents with the default umask), while pre-existing parents are left alone.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
    if os.name == "posix":
        for directory in [*missing, path]:
            os.chmod(directory, 0o700)
    return path
