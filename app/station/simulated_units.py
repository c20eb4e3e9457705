"""Simulated units a trainer can plug into the real station window ("Use simulated units…").

A new technician learns the line on the real window without hardware: the
simulator (``certline.app.sim``) puts N units on pseudo-terminals and the window runs
its batches on them instead of the USB ports. The units' flash lives under the
station's cache directory, one folder per driver, so their serial numbers and
certificates survive a restart of the station, exactly like real units left
on the bench (and a batch interrupted by a crash can be resumed on them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from certline.app.config.paths import station_paths
from certline.app.sim.simulator import Simulator

PortProvider = Callable[[], list[str]]

MAX_UNITS = 64

#: The serial number of the window's first simulated unit (``CL-500001``). ``certline sim`` starts
#: at 1 (``CL-000001``); both on one station journal brought units with the serials of units it
#: already had provisioned, and the window failed them as duplicates (found by a newcomer who tried
#: the command line first). A unit keeps its serial in its flash, so a bench made earlier keeps its.
WINDOW_FIRST_SERIAL = 500_001


def simulated_units_dir(driver: str) -> Path:
    return station_paths().cache / "simulated-units" / driver


class PortChoice:
    """The ports a batch runs on: the connected hardware, or the simulated units once chosen.

    ``ports`` is what the station window's batch, hands-free and re-enroll views ask.
    """

    def __init__(self, hardware: PortProvider) -> None:
        self._hardware = hardware
        self._simulator: Simulator | None = None
        self._lock = threading.Lock()

    @property
    def simulated(self) -> bool:
        return self._simulator is not None

    def ports(self) -> list[str]:
        with self._lock:
            simulator = self._simulator
        return list(simulator.ports) if simulator is not None else self._hardware()

    def use_simulated(
        self,
        count: int,
        driver: str,
        baud: int,
        *,
        keygen_latency: float | None = None,
        faults: Iterable[str] = (),
        state_dir: Path | None = None,
    ) -> list[str]:
        """Start ``count`` simulated units for the profile's driver (blocking: call from a worker).

        Replaces simulated units chosen earlier; returns their ports. ``faults`` are the
        simulator's fault switches (``dev3:refuse@keygen``), for showing what a failure looks
        like; ``state_dir`` keeps a second bench of units apart from the usual one.
        """
        if not 1 <= count <= MAX_UNITS:
            raise ValueError(f"choose between 1 and {MAX_UNITS} simulated units")
        simulator = Simulator(
            state_dir or simulated_units_dir(driver),
            count,
            driver=driver,
            baud=baud,
            keygen_latency=keygen_latency,
            faults=list(faults),
            first_serial=WINDOW_FIRST_SERIAL,
        )
        self.close()
        ports = simulator.start()
        with self._lock:
            self._simulator = simulator
        return ports

    def close(self) -> None:
        """Unplug the simulated units (back to the hardware ports)."""
        with self._lock:
            simulator, self._simulator = self._simulator, None
        if simulator is not None:
            simulator.stop()
