"""Re-provisioning a unit that already holds a credential, from the station window."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from certline.app.batch.states import DeviceState
from certline.app.device.driver import StoredCredential
from tests.batch.fakes import FakeDevice

WAIT = 20_000


class ProvisionedDevice(FakeDevice):
    """A unit whose key generation would overwrite a credential it already holds (like an nRF91)."""

    def __init__(self, port: str, serial: str) -> None:
        super().__init__(port, serial)
        self.held = StoredCredential(chain_pem="", sha256=b"\x11" * 32)
        self.allowed: StoredCredential | None = None

    def credential_at_risk(self) -> StoredCredential | None:
        return self.held

    def allow_replacing(self, credential: StoredCredential) -> None:
        self.allowed = credential


def _row_of(window, serial: str) -> int:
    window.model.flush()
    return next(r for r, s in enumerate(window.model.snapshots()) if s.serial_number == serial)


@pytest.mark.parametrize("confirmed", [True, False])
def test_reprovision_asks_naming_the_unit_and_only_then_replaces(
    qtbot, window, station, monkeypatch, confirmed
):
    unit = ProvisionedDevice("/dev/fake7", "SN-HOLDS-CERT")
    station.devices["/dev/fake7"] = unit
    with qtbot.waitSignal(window.summary_shown, timeout=WAIT) as shown:
        window.station_actions.start.trigger()
    shown.args[0].close()
    row = _row_of(window, "SN-HOLDS-CERT")
    snap = window.model.snapshot(row)
    assert snap.state == DeviceState.FAILED and snap.error_code == "already-provisioned"
    assert unit.allowed is None

    asked: list[str] = []

    def question(_parent, title, text, *_args, **_kwargs):
        asked.append(f"{title}\n{text}")
        return QMessageBox.StandardButton.Yes if confirmed else QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", question)
    window.table.selectRow(row)
    window.station_actions.reprovision.trigger()
    assert len(asked) == 1 and "SN-HOLDS-CERT" in asked[0] and "/dev/fake7" in asked[0]
    if confirmed:
        qtbot.waitUntil(lambda: window.model.snapshot(row).state == DeviceState.DONE, timeout=WAIT)
        assert unit.allowed == unit.held
        row_data = window.session.journal.device_row(snap.device_id)
        assert row_data["replaced_sha256"] == "11" * 32
    else:
        qtbot.wait(300)
        assert window.model.snapshot(row).state == DeviceState.FAILED and unit.allowed is None
