"""Driver name -> driver class, imported lazily so one missing driver does not break the others.

Profiles and the command line name a driver (``certline``, ``nrf91``); the batch
engine calls :func:`open_driver` with the port of each unit. Driver classes take
``(port, baud)`` and may offer ``open()`` to surface a bad port immediately.
"""

from __future__ import annotations

import importlib

from certline.app.device.driver import DeviceDriver, DeviceUnsupported

#: driver name -> "module:Class"
DRIVERS: dict[str, str] = {
    "certline": "certline.app.device.certline_driver:CertlineDriver",
    "nrf91": "certline.app.device.nrf91_driver:NRF91Driver",
}


def driver_names() -> list[str]:
    return sorted(DRIVERS)


def driver_class(name: str) -> type[DeviceDriver]:
    """The class registered under ``name``; DeviceUnsupported when unknown or not in this build."""
    try:
        target = DRIVERS[name]
    except KeyError:
        raise DeviceUnsupported(
            f"unknown device driver {name!r} (known: {', '.join(driver_names())})"
        ) from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise DeviceUnsupported(f"the {name} device driver is not part of this build") from None
    cls: type[DeviceDriver] = getattr(module, class_name)
    return cls


def open_driver(name: str, port: str, baud: int = 115200) -> DeviceDriver:
    """Construct the driver for ``port`` and open the port (DeviceLost if it cannot be opened)."""
    driver = driver_class(name)(port, baud)  # type: ignore[call-arg]
    opener = getattr(driver, "open", None)
    if callable(opener):
        opener()
    return driver
