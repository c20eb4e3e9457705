"""Start on a station that holds no passcode for its profile, started through ``certline-gui``'s
entry point.

Found from outside: a window opened while the OS keyring was unusable let Start run, and every
unit was taken to the EST step and failed there ("no passcode is available for this profile"),
with nothing in the window saying how to fix it. Start is now refused before any unit is touched,
and says why and what to do.
"""

from __future__ import annotations

from certline.app.config.paths import station_paths
from certline.ui.plumbing.worker import pending_tasks
from tests.ui.test_first_day import WAIT, gui, plug_in_simulated_units, store_profile  # noqa: F401


def test_start_without_the_profile_s_passcode_is_refused_before_any_unit(
    qtbot,
    gui,  # noqa: F811
    est_server,
    memory_keyring,
) -> None:
    store_profile(est_server, memory_keyring)
    memory_keyring.delete_password("certline", "line-1/passcode")  # never stored, or the keyring was away
    gui.start()
    window = gui.window()
    plug_in_simulated_units(qtbot, window, 2)
    posts_before = est_server.post_count

    with qtbot.waitSignal(window.controller.failed, timeout=WAIT) as refused:
        window.station_actions.start.trigger()
    qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=WAIT)
    message = refused.args[0]
    assert "Nothing started" in message and "needs its passcode" in message
    assert "profile editor" in message and "certline profile set-passcode line-1" in message
    assert window.session.journal.batches() == []  # no batch, no unit journaled
    assert est_server.post_count == posts_before
    assert window.station_actions.start.isEnabled()  # the operator can try again once it is stored
    window.grab().save(str(station_paths().data / "start-without-passcode.png"))
