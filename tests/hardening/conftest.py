"""Shared pieces for the hardening tests: the real line (EST test server + simulator) and waits.

The ``line`` and ``sims`` fixtures and ``start_sim`` are the integration tests' own, so a
hardening test runs on exactly the line the batch tests use.
"""

from __future__ import annotations

from certline.app.batch.engine import BatchEngine
from certline.app.batch.events import DeviceSnapshot, LogEvent
from certline.app.batch.states import DeviceState
from certline.app.sim.simulator import Simulator
from tests.integration.conftest import PASSCODE, Line, line, sims, start_sim

__all__ = [
    "PASSCODE",
    "Line",
    "LINE_TIMEOUT",
    "LogRecorder",
    "by_serial",
    "chain_on",
    "line",
    "sims",
    "start_sim",
    "states",
]


#: A generous ceiling for a wait on the real line (TLS, pseudo-terminals) on a loaded machine.
LINE_TIMEOUT = 60.0


def by_serial(engine: BatchEngine) -> dict[str, DeviceSnapshot]:
    return {s.serial_number or s.port: s for s in engine.devices()}


def chain_on(sim: Simulator, index: int) -> str | None:
    """The certificate chain the simulated unit holds in its flash (None: nothing was written)."""
    chain = sim.devices[index].flash.snapshot().get("chain_pem")
    return str(chain) if chain else None


class LogRecorder:
    """Collects the engine's LogEvents (what the technician sees in the log panel)."""

    def __init__(self) -> None:
        self.events: list[LogEvent] = []

    def __call__(self, event: object) -> None:
        if isinstance(event, LogEvent):
            self.events.append(event)

    def errors(self) -> list[str]:
        import logging

        return [e.message for e in self.events if e.level >= logging.ERROR]


def states(engine: BatchEngine) -> dict[str, DeviceState]:
    return {serial: snap.state for serial, snap in by_serial(engine).items()}
