"""Station settings: one small JSON file, every setting declared once with type and default.

Settings belong to the station (this computer and account), not to a profile:
how the UI looks, which language, and the one security escape hatch,
``allow_insecure_keyring_backend``. They live in ``station_paths().settings``
(``settings.json``, mode 0600) and are edited by hand or by the GUI.

A missing file means "all defaults". A file with a wrong type or an unknown
value for a setting is an error that names the file and the key, because a
silently ignored security setting is worse than a refusal to start. Unknown
keys are kept and logged (a newer Certline may have written them).

``allow_insecure_keyring_backend``
    Certline refuses to keep secrets in a keyring backend that does not
    protect them (``keyring.backends.fail.Keyring``, ``keyring.backends.null.Keyring``,
    any ``keyrings.alt`` backend such as ``keyrings.alt.file.PlaintextKeyring``).
    Set this to the backend's full class name -- exactly the string
    ``SecretStore.describe_backend()`` prints, e.g.
    ``"keyrings.alt.file.PlaintextKeyring"`` -- to accept that one backend on
    this station. Any other insecure backend is still refused.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certline.app.config.paths import ensure_private_dir, station_paths

log = logging.getLogger(__name__)


class SettingsError(Exception):
    """The settings file exists but cannot be used; the message names the file and key."""


def _setting(default: Any, doc: str, choices: tuple[Any, ...] | None = None) -> Any:
    return field(default=default, metadata={"doc": doc, "choices": choices})


@dataclass(frozen=True)
class StationSettings:
    """Every station setting with its type and default. Field names are the JSON keys."""

    allow_insecure_keyring_backend: str | None = _setting(
        None,
        "Full class name of one insecure keyring backend to accept anyway "
        "(e.g. keyrings.alt.file.PlaintextKeyring). Leave unset to refuse all.",
    )
    large_text: bool = _setting(False, "Larger fonts and controls for the factory floor.")
    language: str = _setting("auto", "UI language as a locale code (en, de, ...); 'auto' follows the system.")
    journal_url: str | None = _setting(
        None,
        "Shared journal of the line: postgresql://USER@HOST:PORT/DB?sslmode=verify-full&sslrootcert=CA "
        "(no password: see 'certline journal set-password'). Unset: this station's own SQLite journal.",
    )
    station_name: str | None = _setting(
        None, "This station's name in the (shared) journal. Unset: the host name."
    )
    mes_drop_folder: str | None = _setting(
        None, "MES hand-off: folder that receives one JSON file per finished unit (docs/mes.md). Unset: none."
    )
    mes_url: str | None = _setting(
        None,
        "MES hand-off: https:// endpoint each unit's record is POSTed to (docs/mes.md). Unset: none.",
    )
    mes_ca_file: str | None = _setting(
        None, "MES hand-off: PEM file of the CA(s) that sign the MES's TLS certificate. Unset: system trust."
    )
    mes_timeout_seconds: int = _setting(10, "MES hand-off: overall deadline of one POST, in seconds.")
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Keys this version does not know; preserved on save so a newer version's settings survive."""

    @classmethod
    def declared(cls) -> tuple[dataclasses.Field[Any], ...]:
        """The declared settings (everything but ``extra``)."""
        return tuple(f for f in dataclasses.fields(cls) if f.name != "extra")

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in self.declared()}
        return {**self.extra, **data}

    @classmethod
    def from_json(cls, data: Any, *, source: str = "settings") -> StationSettings:
        if not isinstance(data, dict):
            raise SettingsError(f"{source}: expected a JSON object, got {type(data).__name__}")
        values: dict[str, Any] = {}
        for f in cls.declared():
            if f.name in data:
                values[f.name] = _check_value(f, data[f.name], source)
        extra = {k: v for k, v in data.items() if k not in values}
        if extra:
            log.warning("%s: ignoring unknown settings: %s", source, ", ".join(sorted(extra)))
        return cls(**values, extra=extra)

    def replace(self, **changes: Any) -> StationSettings:
        """A copy with ``changes`` applied, each validated like a value read from the file."""
        known = {f.name: f for f in self.declared()}
        for name, value in changes.items():
            if name not in known:
                raise SettingsError(f"unknown setting {name!r}")
            _check_value(known[name], value, "settings")
        return dataclasses.replace(self, **changes)


def _check_value(f: dataclasses.Field[Any], value: Any, source: str) -> Any:
    """Validate one value against the field's declared type (``str | None``, ``bool``, ...)."""
    kind = str(f.type)
    optional = "None" in kind
    if value is None:
        if optional:
            return None
        raise SettingsError(f"{source}: setting {f.name!r} must not be null")
    expected: type = bool if kind.startswith("bool") else int if kind.startswith("int") else str
    # bool is a subclass of int: do not accept true for an integer setting or 1 for a flag
    if type(value) is not expected:
        raise SettingsError(f"{source}: setting {f.name!r} must be {expected.__name__}, got {value!r}")
    choices = f.metadata.get("choices")
    if choices is not None and value not in choices:
        raise SettingsError(f"{source}: setting {f.name!r} must be one of {', '.join(map(str, choices))}")
    return value


def settings_path() -> Path:
    return station_paths().settings


def load_settings(path: Path | None = None) -> StationSettings:
    """Read the station settings; defaults when the file does not exist."""
    path = settings_path() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return StationSettings()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read settings: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return StationSettings.from_json(data, source=str(path))


def save_settings(settings: StationSettings, path: Path | None = None) -> Path:
    """Write the settings atomically, owner-only (0600)."""
    path = settings_path() if path is None else path
    ensure_private_dir(path.parent)
    write_private_json(path, settings.to_json())
    return path


def write_private_json(path: Path, data: Any) -> None:
    """Write JSON to ``path`` via a 0600 temporary file and an atomic rename.

    Shared with the profile store: a crash mid-write must never leave a
    half-written file, and the file is never readable by other accounts, not
    even for the instant between create and chmod.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        if os.name == "posix":
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
