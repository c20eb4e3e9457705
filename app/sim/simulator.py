"""A bench of N simulated devices on real pseudo-terminals, with their lifecycle.

Used by ``certline sim``, the tests, the demo and the batch engine's tests::

    with Simulator(tmp_path, count=3, keygen_latency=0.01) as sim:
        ports = sim.start()                    # symlinks STATE/ttyCERT0..2
        sim.devices[1].unplug()                # cable pulled: pty gone
        new_port = sim.devices[1].replug()     # plugged back (new pty)

Each device's flash lives in ``STATE/<driver>-<i>.flash.json`` and keeps its
serial number (``CL-000001`` ...), keys and chain across simulator restarts.
Personalities are found through :data:`PERSONALITIES` and imported lazily, so
a missing one (nRF91 not built yet) only fails when asked for.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from certline.app.sim.faults import DeviceFaults, FaultSpec, parse_fault
from certline.app.sim.flash import Flash
from certline.app.sim.keys import KeygenLatency
from certline.app.sim.personality import Personality
from certline.app.sim.pty_host import PtyHost

log = logging.getLogger(__name__)

#: driver name -> ("module:Class", symlink prefix, serial prefix)
PERSONALITIES: dict[str, tuple[str, str, str]] = {
    "certline": ("certline.app.sim.certline_device:CertlineDevice", "ttyCERT", "CL-"),
    "nrf91": ("certline.app.sim.nrf91_device:Nrf91Device", "ttyNRF", "NRF-"),
}


class UnknownPersonality(ValueError):
    """The requested device personality does not exist in this build."""


@dataclass
class DeviceContext:
    """What a personality gets from the simulator: its identity, flash, faults and timing model.

    A personality class is constructed as ``cls(context, boot_reason)`` at every boot
    (``boot_reason`` is ``power``, ``reset`` or ``crash``), so RAM state never survives a reboot.
    """

    index: int
    serial_number: str
    flash: Flash
    faults: DeviceFaults
    keygen_latency: KeygenLatency
    baud: int


def load_personality(driver: str) -> type[Personality]:
    """Import the personality class for ``driver``; clear error when unknown or not installed."""
    try:
        target = PERSONALITIES[driver][0]
    except KeyError:
        known = ", ".join(sorted(PERSONALITIES))
        raise UnknownPersonality(f"no simulated device for driver {driver!r} (known: {known})") from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UnknownPersonality(f"the {driver} device simulator is not part of this build") from None
    cls: type[Personality] = getattr(module, class_name)
    return cls


class SimDevice:
    """One simulated unit: its pty host, flash and faults."""

    def __init__(self, host: PtyHost, context: DeviceContext) -> None:
        self.host = host
        self.context = context

    @property
    def index(self) -> int:
        return self.context.index

    @property
    def serial_number(self) -> str:
        """The serial number the device reports (a dup-serial fault makes two devices share one)."""
        return self.context.serial_number

    @property
    def port(self) -> str:
        """Current symlink path the station opens."""
        return str(self.host.link)

    @property
    def flash(self) -> Flash:
        return self.context.flash

    @property
    def faults(self) -> DeviceFaults:
        return self.context.faults

    @property
    def is_plugged(self) -> bool:
        return self.host.is_plugged

    def snapshot(self) -> dict[str, Any]:
        """Copy of the flash contents (keys are PEM; tests only)."""
        return self.flash.snapshot()

    def unplug(self) -> None:
        self.host.unplug()

    def replug(self, new_path: bool = False) -> str:
        """Plug back in on a fresh pty; with ``new_path`` under a different symlink name."""
        link = None
        if new_path:
            base = self.host.link
            stem = base.name.split(".")[0]
            generation = int(base.name.split(".")[1]) + 1 if "." in base.name else 1
            link = base.with_name(f"{stem}.{generation}")
        return self.host.replug(link)

    def set_fault(self, spec: FaultSpec | str) -> None:
        self.faults.arm(spec)

    def clear_faults(self) -> None:
        self.faults.clear()


class Simulator:
    """N devices of one personality, each on its own pseudo-terminal."""

    def __init__(
        self,
        state_dir: Path | str,
        count: int = 1,
        driver: str = "certline",
        baud: int = 115200,
        faults: Iterable[FaultSpec | str] = (),
        keygen_latency: KeygenLatency | float | None = None,
        first_serial: int = 1,
    ) -> None:
        """``first_serial``: the number in the first new device's serial (``CL-000001`` for 1), so
        that two simulators on one station, or a new state directory, do not bring units with the
        serial numbers of units the journal already knows. A device keeps the serial in its flash."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if first_serial < 1:
            raise ValueError("first_serial must be at least 1")
        self.first_serial = first_serial
        self.state_dir = Path(state_dir)
        self.count = count
        self.driver = driver
        self.baud = baud
        self.faults = [parse_fault(f) if isinstance(f, str) else f for f in faults]
        if isinstance(keygen_latency, int | float):
            keygen_latency = KeygenLatency.uniform(float(keygen_latency))
        self.keygen_latency = keygen_latency or KeygenLatency()
        self.devices: list[SimDevice] = []
        self._personality = load_personality(driver)

    @property
    def ports(self) -> list[str]:
        return [device.port for device in self.devices]

    def start(self) -> list[str]:
        """Create, plug in and boot every device; returns their port paths in order."""
        if self.devices:
            raise RuntimeError("simulator already started")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        _, link_prefix, _ = PERSONALITIES[self.driver]
        try:
            for index in range(self.count):
                device = self._make_device(index, link_prefix)
                self.devices.append(device)
                device.host.start()
        except BaseException:
            self.stop()
            raise
        return self.ports

    def _make_device(self, index: int, link_prefix: str) -> SimDevice:
        flash = Flash(self.state_dir / f"{self.driver}-{index}.flash.json")
        serial = flash.get("serial")
        if not serial:
            serial = f"{PERSONALITIES[self.driver][2]}{self.first_serial + index:06d}"
            flash.update(serial=serial)
        specs = [f for f in self.faults if f.device in (None, index)]
        reported = self._reported_serial(serial, specs)
        context = DeviceContext(
            index, reported, flash, DeviceFaults(s for s in specs if s.kind != "dup-serial"),
            self.keygen_latency, self.baud,
        )  # fmt: skip
        personality = self._personality

        def boot(reason: str) -> Personality:
            return personality(context, reason)  # type: ignore[call-arg]

        host = PtyHost(
            self.state_dir / f"{link_prefix}{index}", boot, baud=self.baud, faults=context.faults,
            name=f"{self.driver}{index}",
        )  # fmt: skip
        return SimDevice(host, context)

    def _reported_serial(self, own: str, specs: Sequence[FaultSpec]) -> str:
        dup = next((f for f in specs if f.kind == "dup-serial"), None)
        if dup is None:
            return own
        return dup.text or (self.devices[0].serial_number if self.devices else own)

    def stop(self) -> None:
        """Unplug and stop every device; removes the symlinks and closes every descriptor."""
        for device in self.devices:
            device.host.stop()
        self.devices = []

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
