"""Start-up: the last-used profile opens with its keyring secret; a crash leaves a redacted report."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtWidgets import QMessageBox

from certline.app.config.paths import station_paths
from certline.app.config.profile import Profile
from certline.app.config.profile_store import ProfileStore
from certline.app.security.redaction import register_secret
from certline.ui.gui_main import Launcher, build_session
from certline.ui.plumbing import crash
from certline.ui.plumbing.settings import LAST_PROFILE


def store_profile(name: str) -> Profile:
    # no trust anchor: the background server check fails at once instead of touching the network
    profile = Profile(name=name, enroll_url="https://127.0.0.1:9/.well-known/est")
    ProfileStore().save(profile)
    return profile


def test_without_profiles_there_is_nothing_to_open():
    with pytest.raises(LookupError):
        build_session(None)


def test_session_gets_the_profile_and_its_keyring_passcode(memory_keyring):
    store_profile("line-a")
    store_profile("line-b")
    memory_keyring.set_password("certline", "line-b/passcode", "pc-from-keyring")
    session = build_session("line-b")
    try:
        assert session.profile.name == "line-b"
        assert session.paths == station_paths()
        assert "pc-from-keyring" not in repr(session._credentials)
        assert session._credentials.passcode == "pc-from-keyring"
    finally:
        session.close()
    fallback = build_session("deleted-meanwhile")
    assert fallback.profile.name == "line-a"
    fallback.close()


def test_launcher_opens_the_window_and_remembers_the_profile(qtbot, memory_keyring, ui_settings):
    store_profile("line-c")
    launcher = Launcher(ui_settings)
    launcher.open("line-c")
    qtbot.waitUntil(lambda: launcher.window is not None, timeout=10_000)
    window = launcher.window
    qtbot.addWidget(window)
    assert window.isVisible() and "line-c" in window.windowTitle()
    assert ui_settings.get(LAST_PROFILE) == "line-c"
    qtbot.waitUntil(lambda: window.station_bar.secret.text() == "passcode missing", timeout=10_000)
    qtbot.waitUntil(lambda: window.station_bar.server.text() == "not reachable", timeout=10_000)
    window.close()
    launcher.close()


def test_crash_writes_a_redacted_report_and_tells_where(monkeypatch, qapp):
    register_secret("crash-secret-99")
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    try:
        raise RuntimeError("EST said: crash-secret-99 is wrong")
    except RuntimeError:
        crash.handle_exception(*sys.exc_info())
    reports = list(station_paths().logs.glob("crash-*.txt"))
    assert len(reports) == 1
    text = reports[0].read_text()
    assert "crash-secret-99" not in text and "RuntimeError" in text
    assert str(reports[0]) in shown[0] and "crash-secret-99" not in shown[0]
