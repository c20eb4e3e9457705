"""Driver names resolve to driver classes; unknown names are clear errors."""

from __future__ import annotations

import pytest

from certline.app.device.certline_driver import CertlineDriver
from certline.app.device.driver import DeviceLost, DeviceUnsupported
from certline.app.device.registry import driver_class, driver_names, open_driver
from certline.app.sim.simulator import Simulator


def test_names_resolve_to_classes() -> None:
    assert "certline" in driver_names() and "nrf91" in driver_names()
    assert driver_class("certline") is CertlineDriver
    assert driver_class("nrf91").name == "nrf91"


def test_unknown_driver_is_unsupported() -> None:
    with pytest.raises(DeviceUnsupported, match="known: certline"):
        driver_class("zmodem")


def test_open_driver_opens_the_port_at_once(simulator: Simulator, tmp_path) -> None:
    driver = open_driver("certline", simulator.ports[0], 115200)
    assert driver.port == simulator.ports[0]
    driver.close()
    with pytest.raises(DeviceLost):
        open_driver("certline", str(tmp_path / "ttyMISSING"))
