"""Hands-free mode: plug a unit in and it is provisioned, no key press needed.

A :class:`~certline.app.device.discovery.HotplugWatcher` polls a port source on its
own thread; every port that appears is handed to the running engine's
``add_port`` (thread-safe, returns at once). The default source for a real
station is the OS port list filtered by the profile; the demo and the tests
pass the window's ``port_provider`` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from certline.app.batch.engine import BatchEngine
from certline.app.config.profile import Profile
from certline.app.device.discovery import HotplugWatcher, PortInfo, PortSource

log = logging.getLogger(__name__)

PortProvider = Callable[[], list[str]]
POLL_INTERVAL = 0.5


class ProviderPortSource(PortSource):
    """Adapts a ``port_provider`` callable (a list of port names) to a :class:`PortSource`."""

    def __init__(self, provider: PortProvider) -> None:
        self._provider = provider

    def ports(self) -> list[PortInfo]:
        return [PortInfo(name) for name in self._provider()]


def profile_port_source(profile: Profile) -> PortSource:
    """The OS serial ports that pass the profile's ``port_filters`` (USB serial ports only, unless the
    profile includes the others)."""
    from certline.app.device.discovery import ListPortsSource

    return ListPortsSource.from_filters(profile.port_filters, include_non_usb=profile.include_non_usb_ports)


class HandsFree:
    """Feeds newly plugged ports to the engine it was started for.

    Attributes:
        source: where ports are listed.
        active: whether the watcher thread runs.
    """

    def __init__(self, source: PortSource) -> None:
        self.source = source
        self._engine: BatchEngine | None = None
        self._watcher: HotplugWatcher | None = None

    @property
    def active(self) -> bool:
        return self._watcher is not None

    def start(self, engine: BatchEngine, *, report_existing: bool = True) -> None:
        """Start watching. Without ``report_existing`` only ports plugged in from now on count
        (turning hands-free on mid-batch must not re-run units that are already finished)."""
        self._engine = engine
        if self._watcher is None:
            self._watcher = HotplugWatcher(
                self.source,
                on_added=self._added,
                on_removed=self._removed,
                interval=POLL_INTERVAL,
                report_existing=report_existing,
            ).start()

    def stop(self) -> None:
        """Stop watching (joins the watcher thread briefly; call it from a worker)."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def _added(self, port: PortInfo) -> None:
        engine = self._engine
        if engine is None:
            return
        log.info("hands-free: unit plugged in on %s", port.device)
        engine.add_port(port.device)

    def _removed(self, port: PortInfo) -> None:
        log.info("hands-free: %s unplugged", port.device)
