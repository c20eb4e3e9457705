"""Hands-free (certline.app.station.hands_free): plugged-in ports reach the engine, without Qt.

``certline batch run --ports auto`` and the station window's hands-free mode both use it.
"""

from __future__ import annotations

import threading

from certline.app.station.hands_free import HandsFree, ProviderPortSource


class _Engine:
    """Records the ports handed to ``add_port`` (the engine's thread-safe entry point)."""

    def __init__(self) -> None:
        self.ports: list[str] = []
        self.added = threading.Event()

    def add_port(self, port: str) -> None:
        self.ports.append(port)
        self.added.set()


def test_ports_plugged_in_later_are_handed_to_the_engine_once():
    plugged = ["/dev/ttyACM0"]
    engine = _Engine()
    hands_free = HandsFree(ProviderPortSource(lambda: list(plugged)))
    hands_free.start(engine, report_existing=True)  # type: ignore[arg-type]
    try:
        assert hands_free.active
        assert engine.added.wait(5)
        engine.added.clear()
        plugged.append("/dev/ttyACM1")
        assert engine.added.wait(5)
    finally:
        hands_free.stop()
    assert not hands_free.active
    assert engine.ports == ["/dev/ttyACM0", "/dev/ttyACM1"]


def test_turning_it_on_mid_batch_ignores_units_already_plugged_in():
    plugged = ["/dev/ttyACM0"]
    engine = _Engine()
    hands_free = HandsFree(ProviderPortSource(lambda: list(plugged)))
    hands_free.start(engine, report_existing=False)  # type: ignore[arg-type]
    try:
        plugged.append("/dev/ttyACM1")
        assert engine.added.wait(5)
    finally:
        hands_free.stop()
    assert engine.ports == ["/dev/ttyACM1"]
