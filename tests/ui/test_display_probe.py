"""The display check before Qt starts: no display, a stale one, and a live one (the test's own)."""

from __future__ import annotations

import os

import pytest

from certline.app.host.display import display_available, display_problem


def test_unset_and_stale_displays_are_reported():
    assert "unset" in (display_problem({}) or "")
    assert "does not answer" in (display_problem({"DISPLAY": ":987"}) or "")
    assert display_problem({"DISPLAY": ":987", "QT_QPA_PLATFORM": "offscreen"}) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None


def test_an_unknown_display_form_is_left_to_qt():
    assert display_available({"DISPLAY": "/private/tmp/launch-x/org.xquartz:0"})


@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs the X server scripts/test.sh starts")
def test_the_running_x_server_answers():
    assert display_available({"DISPLAY": os.environ["DISPLAY"]})
