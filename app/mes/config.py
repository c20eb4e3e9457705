"""Where a station hands its MES records to: a drop folder, an HTTP endpoint, or both.

The settings belong to the station (``settings.json``, see :mod:`certline.app.config.settings`): the MES
is the line's, not a profile's. The bearer token, if the MES wants one, is a secret and comes
through :mod:`certline.app.station.credential_source` (keyring or a named environment variable), never
from the settings file.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from certline.app.config.settings import StationSettings


class MesConfigError(ValueError):
    """The MES settings cannot be used; the message names the setting."""


@dataclass(frozen=True)
class MesConfig:
    drop_folder: Path | None = None
    url: str | None = None
    ca_file: Path | None = None
    """Trust anchors for the MES's TLS certificate; None: the system's trust store."""
    timeout: float = 10.0
    """Overall deadline of one POST: connect, TLS, request and the whole answer."""
    token: str | None = None
    """Bearer token (a secret: registered for redaction by the credential source)."""

    @property
    def channels(self) -> tuple[str, ...]:
        """The outbox channels this station delivers to (see :data:`certline.app.batch.mes_record.CHANNELS`)."""
        return tuple(
            name
            for name, on in (("folder", self.drop_folder is not None), ("http", self.url is not None))
            if on
        )

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def describe(self) -> str:
        parts = []
        if self.drop_folder is not None:
            parts.append(f"folder {self.drop_folder}")
        if self.url is not None:
            parts.append(f"POST {self.url}")
        return ", ".join(parts) or "not configured"


def check_url(url: str) -> None:
    """HTTPS (verified), or plain HTTP only to this computer (a local forwarder, tests)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise MesConfigError(f"mes_url must be an https:// URL, got {url!r}")
    if parts.username or parts.password:
        raise MesConfigError("mes_url must not carry a user or password (use 'certline mes set-token')")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise MesConfigError(
            "mes_url must use https:// (plain http:// is accepted only to this computer, "
            "e.g. a local forwarder)"
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_from_settings(settings: StationSettings, *, token: str | None = None) -> MesConfig:
    """The station's MES hand-off from its settings (raises :class:`MesConfigError`)."""
    url = settings.mes_url or None
    if url is not None:
        check_url(url)
    if settings.mes_timeout_seconds < 1:
        raise MesConfigError("mes_timeout_seconds must be at least 1")
    return MesConfig(
        drop_folder=Path(settings.mes_drop_folder).expanduser() if settings.mes_drop_folder else None,
        url=url,
        ca_file=Path(settings.mes_ca_file).expanduser() if settings.mes_ca_file else None,
        timeout=float(settings.mes_timeout_seconds),
        token=token,
    )
