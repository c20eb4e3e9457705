"""The real Secret Service (gnome-keyring in a D-Bus session): what production stations use.

Skipped without a D-Bus session, failed instead in CI (see ``real_keyring``).
``scripts/test.sh`` runs the suite inside such a session.
"""

from __future__ import annotations

import uuid

import pytest
from keyring.backend import KeyringBackend

from certline.app.cli.main import main
from certline.app.security.secret_store import Purpose, SecretStore

pytestmark = pytest.mark.keyring_real


@pytest.fixture
def profile_name() -> str:
    return f"pytest-{uuid.uuid4().hex[:12]}"


def test_secret_service_round_trip(real_keyring: KeyringBackend, profile_name: str) -> None:
    store = SecretStore()
    assert store.describe_backend() == "keyring.backends.SecretService.Keyring"
    store.check_backend()
    passcode = f"real-{uuid.uuid4().hex}"
    try:
        assert store.get(profile_name, Purpose.PASSCODE) is None
        store.set(profile_name, Purpose.PASSCODE, passcode)
        # a second store (a new D-Bus connection) sees it: it is really in the daemon
        assert SecretStore().get(profile_name, Purpose.PASSCODE) == passcode
        assert real_keyring.get_password("certline", f"{profile_name}/passcode") == passcode
        store.set(profile_name, Purpose.PASSCODE, passcode + "-2")
        assert store.get(profile_name, Purpose.PASSCODE) == passcode + "-2"
    finally:
        store.delete_all(profile_name)
    assert store.get(profile_name, Purpose.PASSCODE) is None


def test_cli_set_passcode_from_env_lands_in_the_secret_service(
    real_keyring: KeyringBackend,
    profile_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    passcode = f"cli-{uuid.uuid4().hex}"
    monkeypatch.setenv("CERTLINE_TEST_PASSCODE", passcode)
    assert main(["profile", "add", profile_name, "--url", "https://est.example/.well-known/est"]) == 0
    try:
        assert main(["profile", "set-passcode", profile_name, "--from-env", "CERTLINE_TEST_PASSCODE"]) == 0
        assert real_keyring.get_password("certline", f"{profile_name}/passcode") == passcode
        assert main(["profile", "show", profile_name]) == 0
        out = capsys.readouterr()
        assert "passcode: stored in keyring" in out.out
        assert passcode not in out.out + out.err
    finally:
        assert main(["profile", "delete", profile_name]) == 0
    assert real_keyring.get_password("certline", f"{profile_name}/passcode") is None
