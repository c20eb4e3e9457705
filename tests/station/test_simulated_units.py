"""The window's simulated units (app/station/simulated_units.py), on real pseudo-terminals."""

from __future__ import annotations

from pathlib import Path

from certline.app.sim.simulator import Simulator
from certline.app.station.simulated_units import PortChoice


def test_the_window_s_simulated_units_do_not_share_serials_with_certline_sim(tmp_path: Path) -> None:
    """Found by a newcomer: after a session with ``certline sim``, the window's simulated units came
    up with the same serials (CL-000001 ...) and the station, rightly, failed them as duplicates of
    units it had provisioned. The two benches now count from different numbers."""
    cli = Simulator(tmp_path / "cli", 2)  # what `certline sim --devices 2` makes
    choice = PortChoice(lambda: [])
    try:
        cli.start()
        ports = choice.use_simulated(
            2, "certline", 115200, keygen_latency=0.01, state_dir=tmp_path / "window"
        )
        assert len(ports) == 2 and choice.simulated
        window_serials = {device.serial_number for device in choice._simulator.devices}  # type: ignore[union-attr]
        cli_serials = {device.serial_number for device in cli.devices}
        assert cli_serials == {"CL-000001", "CL-000002"}
        assert window_serials == {"CL-500001", "CL-500002"}
    finally:
        choice.close()
        cli.stop()
