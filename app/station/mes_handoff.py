"""Start the station's MES hand-off from its settings: the one call the CLI and the window make.

Reads the station settings (:mod:`certline.app.config.settings`), takes the MES token through the
credential source (only when an endpoint is configured), and starts a
:class:`~certline.app.mes.delivery.MesDelivery` on the session's journal and bus. Blocking (settings file,
keyring): the window calls it on a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from certline.app.batch.events import EventBus
from certline.app.batch.journal_api import JournalBackend
from certline.app.config.settings import StationSettings, load_settings
from certline.app.mes.config import MesConfig, config_from_settings
from certline.app.mes.delivery import MesDelivery
from certline.app.station.credential_source import mes_token

log = logging.getLogger(__name__)


def mes_config(
    *,
    settings: StationSettings | None = None,
    token_env: str | None = None,
    token_source: Callable[[str | None], str | None] = mes_token,
) -> MesConfig:
    """The station's MES configuration (raises MesConfigError, SettingsError, SecretMissing)."""
    settings = settings or load_settings()
    config = config_from_settings(settings)
    if config.url is None:
        return config
    return config_from_settings(settings, token=token_source(token_env))


def start_mes_handoff(
    journal: JournalBackend,
    bus: EventBus | None,
    *,
    settings: StationSettings | None = None,
    token_env: str | None = None,
    token_source: Callable[[str | None], str | None] = mes_token,
) -> MesDelivery:
    """A started delivery worker (one that does nothing when no MES is configured)."""
    config = mes_config(settings=settings, token_env=token_env, token_source=token_source)
    delivery = MesDelivery(journal, config, bus=bus)
    if config.enabled:
        log.info("MES hand-off: %s", config.describe())
        delivery.start()
    return delivery
