"""The station bar's MES line: the backlog while the MES is down, and "all delivered" once it is back.

The window starts the hand-off from the station settings (a worker thread reads them and the
keyring); a batch runs through the window's Start action; the MES is a local HTTPS server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certline.app.config.settings import StationSettings, save_settings
from tests.helpers.mes_server import FakeMes, fake_mes

WAIT = 30_000


@pytest.fixture
def mes(tmp_path: Path) -> Iterator[FakeMes]:
    """A failing MES named in the station settings, before the window starts."""
    with fake_mes(tmp_path) as server:
        server.mode = "fail"
        save_settings(
            StationSettings(mes_url=server.url, mes_ca_file=str(server.ca_file), mes_timeout_seconds=2)
        )
        yield server


def test_the_bar_shows_the_backlog_while_the_mes_fails_and_clears_when_it_recovers(
    qtbot, mes, window, station
):
    bar = window.station_bar
    qtbot.waitUntil(lambda: window.mes is not None, timeout=WAIT)
    window.station_actions.start.trigger()
    qtbot.waitUntil(lambda: bar.mes.text() == "4 record(s) waiting: MES not reachable", timeout=WAIT)
    assert "HTTP 500" in bar.mes.toolTip()
    assert not mes.stored
    mes.mode = "ok"
    qtbot.waitUntil(lambda: bar.mes.text() == "all records delivered", timeout=WAIT)
    assert len(mes.stored) == 4
    assert all(mes.answered_2xx(key) == 1 for key in mes.stored)


def test_without_mes_settings_the_bar_says_not_configured(qtbot, window):
    qtbot.waitUntil(lambda: window.mes is not None, timeout=WAIT)
    assert window.station_bar.mes.text() == "not configured"


def test_bad_mes_settings_are_shown_not_fatal(qtbot, request):
    save_settings(StationSettings(mes_url="http://mes.factory.example/api"))
    win = request.getfixturevalue("window")
    qtbot.waitUntil(lambda: "check the MES settings" in win.station_bar.mes.text(), timeout=WAIT)
    assert "https://" in win.station_bar.mes.toolTip()


def test_an_unmounted_drop_folder_is_named_in_the_bar(qtbot, request, tmp_path):
    save_settings(StationSettings(mes_drop_folder=str(tmp_path / "not-mounted")))
    win = request.getfixturevalue("window")
    qtbot.waitUntil(lambda: win.mes is not None, timeout=WAIT)
    win.station_actions.start.trigger()
    qtbot.waitUntil(
        lambda: win.station_bar.mes.text() == "4 record(s) waiting: drop folder not writable", timeout=WAIT
    )
    assert "not-mounted" in win.station_bar.mes.toolTip()


def test_before_the_hand_off_has_read_the_settings_the_line_says_checking(qtbot):
    """The first paint comes before the worker has read the MES settings: a configured MES must
    not flash "not configured" (docs/mes.md: *checking…* at start)."""
    from certline.ui.station.station_bar import StationBar

    bar = StationBar("line-1")
    qtbot.addWidget(bar)
    assert bar.mes.text() == "checking…"
