"""The station bar tells at a glance whether this station can enroll: server, trust anchor, keyring."""

from __future__ import annotations

from certline.app.config.profile import Profile
from certline.app.est.errors import EstConnectionError
from certline.ui.station.monitor import SecretState, keyring_secret_status, trust_anchor_fingerprints


def test_server_trust_anchor_and_secret_are_shown(qtbot, window, station):
    bar = window.station_bar
    qtbot.waitUntil(lambda: bar.server.text() == "reachable", timeout=10_000)
    qtbot.waitUntil(lambda: bar.trust.text().startswith("SHA-256"), timeout=10_000)
    assert trust_anchor_fingerprints(station.profile)[0] in bar.trust.toolTip()
    assert bar.secret.text() == "secret supplied at start"


def test_unreachable_server_is_shown_in_words(qtbot, window, station):
    qtbot.waitUntil(lambda: window.station_bar.server.text() == "reachable", timeout=10_000)
    station.est.down = True
    window.monitor.check_server()
    qtbot.waitUntil(lambda: window.station_bar.server.text() == "not reachable", timeout=10_000)


def test_keyring_status_never_reads_out_the_value(memory_keyring):
    profile = Profile(name="line-3", enroll_url="https://est.example.test/.well-known/est")
    assert keyring_secret_status(profile).state is SecretState.MISSING
    memory_keyring.set_password("certline", "line-3/passcode", "abc123-secret")
    status = keyring_secret_status(profile)
    assert status.state is SecretState.PRESENT and "abc123" not in status.detail


def test_session_check_server_failure_is_false(station):
    def refuse():
        raise EstConnectionError("connection refused")

    station.est.cacerts = refuse
    assert station.session.check_server() is False
