"""The MES token: stored in the keyring by ``certline mes set-token``, or named in an environment
variable; registered for redaction as soon as it is read; never an argument or in a file."""

from __future__ import annotations

import io

import pytest

from certline.app.cli.main import main
from certline.app.security.redaction import scrub
from certline.app.station.credential_source import SecretFromEnvError, mes_token

TOKEN = "mes-bearer-1f4a7c9e"  # a test value


def test_set_token_reads_stdin_into_the_keyring_and_the_hand_off_finds_it(
    memory_keyring, monkeypatch, capsys
):
    monkeypatch.setattr("sys.stdin", io.StringIO(TOKEN + "\n"))
    assert main(["mes", "set-token"]) == 0
    assert TOKEN not in capsys.readouterr().out
    assert mes_token() == TOKEN
    assert TOKEN not in scrub(f"the MES said: bad token {TOKEN}")  # registered for redaction


def test_a_named_variable_wins_and_a_missing_one_is_an_error(memory_keyring):
    assert mes_token() is None  # no token stored: an MES that wants none
    assert mes_token("MES_TOKEN", environ={"MES_TOKEN": "from-env-7d2e"}) == "from-env-7d2e"
    with pytest.raises(SecretFromEnvError, match="MES_TOKEN is not set"):
        mes_token("MES_TOKEN", environ={})


def test_an_empty_token_is_not_stored(memory_keyring, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["mes", "set-token"]) == 2
    assert "empty token" in capsys.readouterr().err
    assert mes_token() is None
