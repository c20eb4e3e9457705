"""SecretStore: the naming scheme, refusal of weak backends, keyring failures as clear errors."""

from __future__ import annotations

import logging
from pathlib import Path

import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null

from certline.app.config.profile import Profile
from certline.app.config.settings import StationSettings, save_settings, settings_path
from certline.app.security.secret_store import (
    HEADLESS_HINT,
    HEADLESS_UNLOCK,
    InsecureKeyringBackend,
    KeyringUnavailable,
    Purpose,
    SecretStore,
    keyring_username,
)
from certline.app.station.credential_source import secret_from_env
from tests.conftest import MemoryKeyring

PASSCODE = "Zq7-passcode-4711"


class PlaintextKeyring(MemoryKeyring):
    """Stands in for keyrings.alt.file.PlaintextKeyring (keyrings.alt is not installed)."""


PlaintextKeyring.__module__ = "keyrings.alt.file"
PLAINTEXT_NAME = "keyrings.alt.file.PlaintextKeyring"


class RaisingKeyring(MemoryKeyring):
    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def get_password(self, service: str, username: str) -> str | None:
        raise self.exc

    set_password = get_password  # type: ignore[assignment]


def test_entries_follow_the_documented_naming_scheme(memory_keyring: MemoryKeyring) -> None:
    store = SecretStore()
    store.set("line1", Purpose.PASSCODE, PASSCODE)
    store.set("line1", Purpose.USER_PASSWORD, "pw-1")
    store.set("line1", Purpose.P12_PASSWORD, "p12-1")
    store.set_station_pin("2468")

    assert memory_keyring.entries == {
        ("certline", "line1/passcode"): PASSCODE,
        ("certline", "line1/user-password"): "pw-1",
        ("certline", "line1/p12-password"): "p12-1",
        ("certline", "station/pin"): "2468",
    }
    assert store.get("line1", "passcode") == PASSCODE
    assert store.get_station_pin() == "2468"


def test_get_has_delete_round_trip(memory_keyring: MemoryKeyring) -> None:
    store = SecretStore()
    profile = Profile(name="line2", enroll_url="https://est.example/.well-known/est")
    assert store.get(profile, Purpose.PASSCODE) is None
    assert not store.has(profile, Purpose.PASSCODE)

    store.set(profile, Purpose.PASSCODE, PASSCODE)
    assert store.has("line2", Purpose.PASSCODE)
    assert store.delete(profile, Purpose.PASSCODE) is True
    assert store.delete(profile, Purpose.PASSCODE) is False
    assert store.get(profile, Purpose.PASSCODE) is None


def test_delete_all_removes_every_entry_of_one_profile_only(memory_keyring: MemoryKeyring) -> None:
    store = SecretStore()
    store.set("a", Purpose.PASSCODE, "x1")
    store.set("a", Purpose.P12_PASSWORD, "x2")
    store.set("b", Purpose.PASSCODE, "x3")
    assert store.delete_all("a") == [Purpose.PASSCODE, Purpose.P12_PASSWORD]
    assert list(memory_keyring.entries) == [("certline", "b/passcode")]


@pytest.mark.parametrize("bad", ["", "a/b", "x\ny"])
def test_keyring_username_rejects_names_that_would_break_the_scheme(bad: str) -> None:
    with pytest.raises(ValueError):
        keyring_username(bad, Purpose.PASSCODE)


def test_empty_secret_is_refused(memory_keyring: MemoryKeyring) -> None:
    from certline.app.security.secret_store import SecretStoreError

    with pytest.raises(SecretStoreError, match="empty"):
        SecretStore().set("p", Purpose.PASSCODE, "")
    assert memory_keyring.entries == {}


# --- backend policy ----------------------------------------------------------------------


def test_fail_backend_is_refused_with_the_headless_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    store = SecretStore(backend=fail.Keyring())
    with pytest.raises(KeyringUnavailable) as info:
        store.check_backend()
    message = str(info.value)
    assert info.value.reason == "no-backend"
    assert "keyring.backends.fail.Keyring" in message
    assert "DBUS_SESSION_BUS_ADDRESS is not set" in message
    assert (
        "install gnome-keyring and run inside a D-Bus session: dbus-run-session -- bash -c "
        '\'read -rsp "Keyring password: " PW; printf %s "$PW" | gnome-keyring-daemon --unlock '
        "--components=secrets; unset PW; certline ...'"
    ) in message
    # found from outside: the recipe had the keyring's password typed on the command line
    assert "echo -n PW" not in message
    assert HEADLESS_HINT in message


def test_the_headless_recipe_in_the_docs_is_the_one_the_messages_print() -> None:
    """``certline selftest`` sends a headless station to docs/secrets.md, which had no recipe."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "secrets.md"
    assert HEADLESS_UNLOCK in docs.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("backend", "name", "what"),
    [
        (null.Keyring(), "keyring.backends.null.Keyring", "stores nothing"),
        (PlaintextKeyring(), PLAINTEXT_NAME, "keeps secrets readable in a file"),
    ],
)
def test_insecure_backends_are_refused_and_the_message_names_the_setting(
    backend: KeyringBackend, name: str, what: str
) -> None:
    store = SecretStore(backend=backend)
    with pytest.raises(InsecureKeyringBackend) as info:
        store.set("p", Purpose.PASSCODE, PASSCODE)
    message = str(info.value)
    assert message.startswith(f"Refusing keyring backend {name}: it {what}")
    assert f'"allow_insecure_keyring_backend": "{name}"' in message
    assert str(settings_path()) in message
    assert info.value.reason == "insecure"
    assert PASSCODE not in message


def test_refused_backend_never_receives_the_secret() -> None:
    backend = PlaintextKeyring()
    with pytest.raises(InsecureKeyringBackend):
        SecretStore(backend=backend).set("p", Purpose.PASSCODE, PASSCODE)
    assert backend.entries == {}


def test_the_setting_allows_exactly_the_named_backend() -> None:
    save_settings(StationSettings(allow_insecure_keyring_backend=PLAINTEXT_NAME))
    backend = PlaintextKeyring()
    store = SecretStore(backend=backend)
    store.set("p", Purpose.PASSCODE, PASSCODE)
    assert backend.entries == {("certline", "p/passcode"): PASSCODE}

    with pytest.raises(InsecureKeyringBackend):
        SecretStore(backend=null.Keyring()).check_backend()


def test_describe_backend_prints_what_the_setting_must_name() -> None:
    assert SecretStore(backend=PlaintextKeyring()).describe_backend() == PLAINTEXT_NAME


def test_chainer_with_a_plaintext_member_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyring.backends import chainer

    members = [MemoryKeyring(), PlaintextKeyring()]
    monkeypatch.setattr(chainer.ChainerBackend, "backends", members)
    store = SecretStore(backend=chainer.ChainerBackend())
    with pytest.raises(InsecureKeyringBackend, match=PLAINTEXT_NAME):
        store.check_backend()


# --- keyring failures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "reason", "phrase"),
    [
        (keyring.errors.KeyringLocked("Failed to unlock the collection!"), "locked", "is locked"),
        (
            keyring.errors.InitError("Failed to create the collection: Prompt dismissed.."),
            "no-collection",
            "no default collection",
        ),
        (ConnectionRefusedError("dbus socket"), "error", "ConnectionRefusedError"),
    ],
)
def test_keyring_failures_become_keyring_unavailable(exc: Exception, reason: str, phrase: str) -> None:
    store = SecretStore(backend=RaisingKeyring(exc))
    with pytest.raises(KeyringUnavailable) as info:
        store.check_backend()
    assert info.value.reason == reason
    assert phrase in str(info.value)
    assert "gnome-keyring-daemon --unlock --components=secrets" in str(info.value) or reason == "error"


def test_a_secret_in_a_backend_error_is_scrubbed(memory_keyring: MemoryKeyring) -> None:
    SecretStore().set("p", Purpose.PASSCODE, PASSCODE)  # registers it for redaction
    store = SecretStore(backend=RaisingKeyring(RuntimeError(f"cannot store {PASSCODE}")))
    with pytest.raises(KeyringUnavailable) as info:
        store.set("p", Purpose.PASSCODE, PASSCODE)
    assert PASSCODE not in str(info.value)


# --- environment ---------------------------------------------------------------------------


def test_loaded_secrets_are_scrubbed_from_later_log_lines(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from certline.app.security.redaction import RedactingFilter

    memory_keyring.entries[("certline", "p/passcode")] = PASSCODE
    monkeypatch.setenv("OTHER_SECRET", "env-secret-99")
    SecretStore().get("p", Purpose.PASSCODE)
    secret_from_env("OTHER_SECRET")

    caplog.handler.addFilter(RedactingFilter())
    logging.getLogger("test").warning("server said %s / %s", PASSCODE, "env-secret-99")
    assert PASSCODE not in caplog.text
    assert "env-secret-99" not in caplog.text
    assert "[REDACTED] / [REDACTED]" in caplog.text
