"""Station setting "Shared journal": connection test against a real PostgreSQL, password to the
keyring only, settings saved for the next start."""

from __future__ import annotations

from certline.app.config.settings import load_settings
from certline.ui.station.shared_journal_dialog import SharedJournalDialog


def test_the_connection_test_and_save_use_the_real_database_and_the_keyring(
    qtbot,
    pg_cluster,
    pg_url,
    memory_keyring,
    tmp_path,
):
    dialog = SharedJournalDialog(None, None)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.url.setText(pg_url)
    dialog.station.setText("st-gui")
    dialog.password.setText("not-the-password")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.outcome.text().startswith("Not connected"), timeout=20000)
    assert "not-the-password" not in dialog.outcome.text()
    assert "authentication failed" in dialog.outcome.text()

    dialog.password.setText(pg_cluster.password)
    assert pg_cluster.password not in dialog.password.displayText()  # never on screen
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.outcome.text().startswith("Connected"), timeout=20000)
    dialog.grab().save(str(tmp_path / "shared-journal-dialog.png"))

    with qtbot.waitSignal(dialog.saved, timeout=20000):
        dialog.save()
    settings = load_settings()
    assert settings.journal_url == pg_url and settings.station_name == "st-gui"
    assert list(memory_keyring.entries.values()) == [pg_cluster.password]
    assert dialog.password.text() == ""


def test_an_unverified_remote_url_is_refused_by_the_test(qtbot, memory_keyring):
    dialog = SharedJournalDialog(None, None)
    qtbot.addWidget(dialog)
    dialog.url.setText("postgresql://certline@db.example:5432/line")
    dialog.test_button.click()
    qtbot.waitUntil(lambda: dialog.outcome.text().startswith("Not connected"), timeout=10000)
    assert "sslmode=verify-full" in dialog.outcome.text()


def test_the_station_bar_shows_the_station_and_when_the_shared_journal_is_unreachable(
    qtbot,
    pg_cluster,
    pg_url,
    tmp_path,
    ui_settings,
):
    import threading

    from certline.app.batch.journal_pg import PgJournal
    from certline.app.est.credentials import Credentials
    from certline.app.station import StationSession
    from certline.ui.station.window import MainWindow
    from tests.ui.conftest import Station

    fakes = Station(tmp_path / "fakes", {})
    fakes.session.close()
    journal = PgJournal(pg_url, station="st-bar", password=pg_cluster.password, connect_timeout=1.0)
    session = StationSession(
        fakes.profile, Credentials(passcode="x"), paths=fakes.paths, journal=journal,
        client_factory=lambda p, c, n: fakes.est, driver_factory=lambda port: None,
    )  # fmt: skip
    window = MainWindow(session, fakes.ports, settings=ui_settings, secret_check=None)
    qtbot.addWidget(window)
    try:
        assert window.station_bar.journal.text() == "station st-bar, shared journal"
        pg_cluster.stop()
        try:
            reader = threading.Thread(target=journal.batches, daemon=True)  # a unit's next write, say
            reader.start()
            qtbot.waitUntil(lambda: "unreachable" in window.station_bar.journal.text(), timeout=15000)
            window.grab().save(str(tmp_path / "station-bar-journal-down.png"))
        finally:
            pg_cluster.start()
        qtbot.waitUntil(
            lambda: window.station_bar.journal.text() == "station st-bar, shared journal", timeout=20000
        )
        reader.join(20)
    finally:
        window.close()
        session.close()


def test_the_line_view_shows_units_per_station_and_live_holders(qtbot, pg_cluster, pg_url, tmp_path):
    from certline.app.batch.journal_pg import PgJournal
    from certline.ui.batch_dialogs.line_view import LineViewDialog
    from tests.journal.test_journal_backends import _walk_to_done

    a = PgJournal(pg_url, station="st-a", password=pg_cluster.password)
    b = PgJournal(pg_url, station="st-b", password=pg_cluster.password)
    try:
        _walk_to_done(a, a.create_batch(profile_name="p", profile_json={}, work_order="WO-9"), "SN-A")
        b.create_batch(profile_name="p", profile_json={}, work_order="WO-9")
        b.claim_unit("p", "SN-B")
        dialog = LineViewDialog(a, "WO-9")
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(
            lambda: dialog.progress.rowCount() == 1 and dialog.holders.rowCount() == 1, timeout=10000
        )
        assert [dialog.progress.item(0, c).text() for c in range(3)] == ["st-a", "done", "1"]
        assert [dialog.holders.item(0, c).text() for c in range(2)] == ["SN-B", "st-b"]
        dialog.grab().save(str(tmp_path / "line-view.png"))
    finally:
        a.close()
        b.close()
