"""The re-enrollment and expiry views against the real simulator and the EST test server over TLS."""

# ruff: noqa: F811 - the integration fixtures are imported by name so pytest finds them here

from __future__ import annotations

import csv

from PySide6.QtWidgets import QMenu

from certline.app import pki
from certline.app.cli.expiry_cmd import COLUMNS
from certline.ui.plumbing.worker import pending_tasks
from certline.ui.renewal.expiry_dialog import ExpiryDialog
from certline.ui.renewal.reenroll_dialog import ReenrollDialog
from tests.integration.conftest import line, sims, start_sim  # noqa: F401


def _open_reenroll(qtbot, session, port):
    dialog = ReenrollDialog(session, port_provider=lambda: [port])
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _read(qtbot, dialog):
    qtbot.mouseClick(dialog.read_button, qtbot_button())
    qtbot.waitUntil(lambda: not dialog.busy and dialog.current.serial.text() != "—", timeout=30000)


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_read_then_renew_shows_old_and_new_and_the_unit_holds_the_new_chain(qtbot, line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 1)
    session = line.provision(sim.ports)
    try:
        assert session.engine.all_verified()
        old_serial = session.journal.all_certificates()[0]["cert_serial"]
        dialog = _open_reenroll(qtbot, session, sim.ports[0])
        assert dialog.port.currentText() == sim.ports[0]
        assert not dialog.renew_button.isEnabled()  # read first
        _read(qtbot, dialog)
        assert dialog.current.serial.text() == old_serial
        assert "days" in dialog.current.days_left.text()
        assert dialog.renew_button.isEnabled()
        qtbot.mouseClick(dialog.renew_button, qtbot_button())
        assert not dialog.renew_button.isEnabled() and not dialog.read_button.isEnabled()
        qtbot.waitUntil(lambda: not dialog.busy, timeout=60000)
        assert dialog.after.isVisible() and dialog.before.isVisible(), dialog.status.text()
        new_serial = dialog.after.serial.text()
        assert dialog.before.serial.text() == old_serial != new_serial
        assert dialog.before.subject.text() == dialog.after.subject.text()
        assert not dialog.warnings.isVisible()
        # found from outside: Renew stayed enabled, and a second press issued another certificate
        assert not dialog.renew_button.isEnabled() and dialog.read_button.isEnabled()
        _read(qtbot, dialog)
        assert dialog.current.serial.text() == new_serial and dialog.renew_button.isEnabled()
        qtbot.waitUntil(lambda: pending_tasks() == 0)
    finally:
        session.close()
    flash = sim.devices[0].flash.snapshot()
    assert pki.cert_serial_hex(pki.pem_to_chain(flash["chain_pem"])[0]) == new_serial


def test_a_unit_that_cannot_sign_is_explained_and_nothing_is_issued(qtbot, line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 1, driver="nrf91")
    session = line.provision(sim.ports, driver="nrf91")
    try:
        assert session.engine.all_verified()
        issued_before = len(line.server.issued)
        dialog = _open_reenroll(qtbot, session, sim.ports[0])
        _read(qtbot, dialog)
        qtbot.mouseClick(dialog.renew_button, qtbot_button())
        qtbot.waitUntil(lambda: not dialog.busy, timeout=60000)
        assert "cannot sign the TLS handshake" in dialog.status.text()
        assert not dialog.after.isVisible()
        assert len(line.server.issued) == issued_before
        qtbot.waitUntil(lambda: pending_tasks() == 0)
    finally:
        session.close()


def test_expiry_lists_every_unit_soonest_first_and_exports_csv(qtbot, line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 3)
    session = line.provision(sim.ports)
    try:
        dialog = ExpiryDialog(session.journal)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: dialog.loaded, timeout=15000)
        rows = dialog.visible_rows()
        serials = {d.serial_number for d in sim.devices}
        assert {r["device_serial"] for r in rows} == serials and len(rows) == 3
        days = [float(str(r["days_left"])) for r in rows]
        assert days == sorted(days)
        assert "days_left" not in dialog.status.text()
        dialog.within_check.setChecked(True)
        dialog.within_days.setValue(0)
        assert dialog.visible_rows() == [] and not dialog.export_button.isEnabled()
        dialog.within_check.setChecked(False)
        out = tmp_path / "expiry.csv"
        dialog.export_csv(out)
        qtbot.waitUntil(lambda: pending_tasks() == 0 and out.exists(), timeout=15000)
        with out.open(encoding="utf-8", newline="") as handle:
            written = list(csv.reader(handle))
        assert written[0] == list(COLUMNS)
        assert len(written) == 1 + 3
        assert [fields[0] for fields in written[1:]] == [r["device_serial"] for r in dialog.visible_rows()]
    finally:
        session.close()


def test_expiry_model_passes_the_model_tester(qtbot, qtmodeltester, line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 2)
    session = line.provision(sim.ports)
    try:
        dialog = ExpiryDialog(session.journal)
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: dialog.loaded, timeout=15000)
        qtmodeltester.check(dialog.proxy)
    finally:
        session.close()


def test_station_menu_opens_both_views(qtbot, window):
    from certline.ui.renewal import menu as reenroll_menu

    menu_texts = [a.text() for m in window.menuBar().findChildren(QMenu) for a in m.actions()]
    assert window.field_actions.reenroll.text() in menu_texts
    assert window.field_actions.expiry.text() in menu_texts
    reenroll = reenroll_menu.open_reenroll(window, lambda: ["/dev/fake0"])
    assert reenroll.port.currentText() == "/dev/fake0" and reenroll.isVisible()
    reenroll.close()
    expiry = reenroll_menu.open_expiry(window)
    qtbot.waitUntil(lambda: expiry.loaded, timeout=15000)
    assert expiry.visible_rows() == []
    expiry.close()
