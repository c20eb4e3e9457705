"""One credential source (certline.app.station.credential_source): typed secret, environment variable,
keyring; no Qt."""

from __future__ import annotations

import logging

import pytest
from keyring.backends import fail

from certline.app.config.profile import AuthStyle, Profile
from certline.app.security.redaction import REDACTED, scrub
from certline.app.security.secret_store import Purpose, SecretStore
from certline.app.station.credential_source import (
    CredentialSource,
    SecretFromEnvError,
    SecretMissing,
    secret_from_env,
)
from tests.conftest import MemoryKeyring

URL = "https://est.example/.well-known/est"


def dtm(**kwargs: object) -> Profile:
    return Profile(name="line1", enroll_url=URL, **kwargs)  # type: ignore[arg-type]


def no_keyring() -> SecretStore:
    raise AssertionError("the keyring must not be touched")


def unusable_keyring() -> SecretStore:
    return SecretStore(backend=fail.Keyring())


# --- environment -----------------------------------------------------------------------------


def test_secret_from_env_returns_the_value_and_registers_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EST_PASSCODE", "Zq7-env-reader-1")
    assert secret_from_env("EST_PASSCODE") == "Zq7-env-reader-1"
    assert scrub("was Zq7-env-reader-1") == f"was {REDACTED}"


@pytest.mark.parametrize(("value", "problem"), [(None, "is not set"), ("", "is empty")])
def test_secret_from_env_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str | None, problem: str
) -> None:
    if value is None:
        monkeypatch.delenv("EST_PASSCODE", raising=False)
    else:
        monkeypatch.setenv("EST_PASSCODE", value)
    with pytest.raises(SecretFromEnvError, match=f"^environment variable EST_PASSCODE {problem}$"):
        secret_from_env("EST_PASSCODE")


def test_named_variables_are_used_and_the_keyring_is_not_touched() -> None:
    environ = {"PC": "Zq7-env-pc-2", "P12": "Zq7-env-p12-2"}
    source = CredentialSource(basic_env="PC", p12_env="P12", store_factory=no_keyring, environ=environ)
    creds = source.credentials(dtm(client_p12_file="renew.p12"))
    assert (creds.passcode, creds.p12_password) == ("Zq7-env-pc-2", "Zq7-env-p12-2")
    assert "Zq7-env-pc-2" not in repr(creds)


def test_passcode_env_carries_the_password_of_the_user_password_style() -> None:
    basic = dtm(auth_style=AuthStyle.USER_PASSWORD, username="u")
    source = CredentialSource(basic_env="PC", store_factory=no_keyring, environ={"PC": "Zq7-basic-3"})
    creds = source.credentials(basic)
    assert creds.password == "Zq7-basic-3" and creds.basic_secret == "Zq7-basic-3"
    assert creds.passcode is None


def test_a_named_variable_for_an_unused_secret_is_checked_but_not_used() -> None:
    source = CredentialSource(
        basic_env="PC", p12_env="P12", store_factory=no_keyring, environ={"PC": "x-pc-4"}
    )
    with pytest.raises(SecretFromEnvError, match="P12 is not set"):
        source.credentials(dtm())
    source = CredentialSource(
        basic_env="PC", p12_env="P12", store_factory=no_keyring, environ={"PC": "x-pc-4", "P12": "x-p12-4"}
    )
    assert source.credentials(dtm()).p12_password is None  # no client credential in the profile


# --- keyring -------------------------------------------------------------------------------


def test_the_keyring_fills_what_no_variable_named(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.entries[("certline", "line1/p12-password")] = "Zq7-kr-p12-5"
    source = CredentialSource(basic_env="PC", environ={"PC": "Zq7-env-pc-5"})
    creds = source.credentials(dtm(client_p12_file="renew.p12"))
    assert (creds.passcode, creds.p12_password) == ("Zq7-env-pc-5", "Zq7-kr-p12-5")
    assert scrub("Zq7-kr-p12-5") == REDACTED


def test_an_optional_key_password_comes_from_the_keyring_when_stored(memory_keyring: MemoryKeyring) -> None:
    pem = dtm(auth_style=AuthStyle.CLIENT_CERT, client_cert_file="c.pem", client_key_file="k.pem")
    assert CredentialSource().credentials(pem).p12_password is None
    memory_keyring.entries[("certline", "line1/p12-password")] = "Zq7-kr-key-6"
    assert CredentialSource().credentials(pem).p12_password == "Zq7-kr-key-6"


@pytest.mark.usefixtures("memory_keyring")
def test_a_missing_required_secret_says_where_to_put_it() -> None:
    with pytest.raises(SecretMissing) as info:
        CredentialSource().credentials(dtm())
    message = str(info.value)
    assert "no passcode for profile 'line1' in the keyring" in message
    assert "'certline profile set-passcode line1'" in message and "--passcode-env" in message

    with pytest.raises(SecretMissing) as info:
        CredentialSource(basic_env="PC", environ={"PC": "x"}).credentials(dtm(client_p12_file="r.p12"))
    assert "set-passcode line1 --purpose p12-password" in str(info.value)
    assert "--p12-password-env" in str(info.value)


@pytest.mark.usefixtures("memory_keyring")
def test_not_strict_leaves_missing_secrets_out() -> None:
    creds = CredentialSource().credentials(dtm(client_p12_file="r.p12"), strict=False)
    assert creds.secrets() == ()


def test_an_unusable_keyring_stops_a_strict_run_that_needs_it() -> None:
    """The command line's message names its own way round the keyring; the keyring's message
    itself does not (the window, which has no such option, shows it too)."""
    with pytest.raises(SecretMissing, match="No usable OS keyring") as missing:
        CredentialSource(store_factory=unusable_keyring).credentials(dtm())
    assert str(missing.value).endswith("Or name a variable holding the secret with --passcode-env VAR.")
    with pytest.raises(SecretMissing) as p12:
        CredentialSource(store_factory=unusable_keyring).credentials(
            dtm(auth_style=AuthStyle.CLIENT_CERT, client_p12_file="c.p12")
        )
    assert "--p12-password-env VAR" in str(p12.value) and "--passcode-env" not in str(p12.value)


def test_an_unusable_keyring_does_not_stop_a_run_whose_required_secrets_were_named() -> None:
    pem = dtm(client_cert_file="c.pem", client_key_file="k.pem")  # key password optional
    source = CredentialSource(basic_env="PC", store_factory=unusable_keyring, environ={"PC": "x-pc-7"})
    assert source.credentials(pem).passcode == "x-pc-7"


def test_the_gui_starts_without_secrets_when_the_keyring_is_unusable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="certline.app.station.credential_source"):
        creds = CredentialSource(store_factory=unusable_keyring).credentials(dtm(), strict=False)
    assert creds.secrets() == ()
    assert "keyring unavailable" in caplog.text


def test_without_the_keyring_a_missing_secret_names_the_option() -> None:
    with pytest.raises(SecretMissing, match="no passcode given for profile 'line1': name a variable"):
        CredentialSource(use_keyring=False).credentials(dtm())


# --- typed secret (profile editor) --------------------------------------------------------


def test_the_typed_secret_wins_and_the_rest_comes_from_the_keyring(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.entries[("certline", "line1/passcode")] = "old-stored-8"
    memory_keyring.entries[("certline", "line1/p12-password")] = "Zq7-kr-p12-8"
    creds = CredentialSource(typed="Zq7-typed-8").credentials(dtm(client_p12_file="r.p12"), strict=False)
    assert (creds.passcode, creds.p12_password) == ("Zq7-typed-8", "Zq7-kr-p12-8")
    assert scrub("Zq7-typed-8") == REDACTED


def test_a_typed_key_password_is_the_p12_password(memory_keyring: MemoryKeyring) -> None:
    p12 = dtm(auth_style=AuthStyle.CLIENT_CERT, client_p12_file="c.p12")
    creds = CredentialSource(typed="Zq7-typed-9").credentials(p12, strict=False)
    assert creds.p12_password == "Zq7-typed-9" and creds.passcode is None
    assert memory_keyring.entries == {}


def test_stored_purpose_names_match_the_rule() -> None:
    assert [p.value for p in Purpose] == ["passcode", "user-password", "p12-password"]
