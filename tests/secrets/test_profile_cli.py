"""``certline profile ...`` as a technician uses it; the passcode never shows up anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certline.app.cli.main import main
from certline.app.config.profile_store import ProfileStore
from certline.app.host.log_setup import log_file_path
from tests.conftest import MemoryKeyring

PASSCODE = "Pq4-cli-passcode-2718"
URL = "https://est.example.com/.well-known/est/cps/IOT_0a1b"


@pytest.fixture
def out(capsys: pytest.CaptureFixture[str]) -> pytest.CaptureFixture[str]:
    return capsys


def add(name: str = "line1", *extra: str) -> int:
    return main(["profile", "add", name, "--url", URL, *extra])


def test_add_with_all_options_then_show(out: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc = add(
        "line1",
        "--reenroll-url", "https://clientauth.est.example.com/.well-known/est/cps/IOT_0a1b",
        "--label", "IOT_0a1b",
        "--device-group", "grp-7",
        "--csr-format", "pem-text",
        "--keygen", "server",
        "--key-alg", "ec-p384",
        "--subject", r"CN={serial},O=ACME\, Inc.",
        "--driver", "nrf91",
        "--baud", "9600",
        "--concurrency", "12",
    )  # fmt: skip
    assert rc == 0
    profile = ProfileStore().load("line1")
    assert profile.subject_template == {"CN": "{serial}", "O": "ACME, Inc."}
    assert profile.key_generation.value == "server" and profile.driver == "nrf91"
    assert profile.concurrency == 12 and profile.baud == 9600
    assert "next: certline profile set-passcode line1" in out.readouterr().out


def test_add_refuses_bad_input_with_one_clear_line(out: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "add", "x", "--url", "http://est.example.com/x"]) == 1
    err = out.readouterr().err
    assert err.startswith("certline profile: error: enroll_url must be an https:// URL")
    assert main(["profile", "add", "x", "--url", URL, "--ca", "/nonexistent.pem"]) == 1
    assert "--ca: no such file: /nonexistent.pem" in out.readouterr().err
    assert add("x", "--subject", "CN") == 1
    assert "--subject: expected ATTR=VALUE" in out.readouterr().err
    assert ProfileStore().list() == []


def test_add_existing_needs_force(out: pytest.CaptureFixture[str]) -> None:
    assert add() == 0
    assert add("line1", "--concurrency", "2") == 1
    assert "already exists (use --force" in out.readouterr().err
    assert add("line1", "--concurrency", "2", "--force") == 0
    assert ProfileStore().load("line1").concurrency == 2


def test_ca_file_must_hold_a_certificate(out: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    assert add("line1", "--ca", str(bogus)) == 1
    assert "holds no PEM certificate" in out.readouterr().err


def test_set_passcode_from_env_stores_it_and_nothing_prints_it(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, out: pytest.CaptureFixture[str]
) -> None:
    assert add() == 0
    monkeypatch.setenv("LINE1_PASSCODE", PASSCODE)
    assert main(["-vv", "profile", "set-passcode", "line1", "--from-env", "LINE1_PASSCODE"]) == 0
    assert memory_keyring.entries == {("certline", "line1/passcode"): PASSCODE}
    stored = out.readouterr()
    assert "stored the passcode of profile line1 in the keyring" in stored.out

    assert main(["profile", "show", "line1"]) == 0
    captured = out.readouterr()
    assert "passcode: stored in keyring" in captured.out
    shown = captured.out[: captured.out.rindex("}") + 1]
    assert json.loads(shown)["name"] == "line1"
    logged = log_file_path().read_text()
    assert "stored passcode of profile line1 in" in logged  # the log is written, just without the value
    for text in (stored.out, stored.err, captured.out, captured.err, logged):
        assert PASSCODE not in text
    for path in ProfileStore().directory.iterdir():
        assert PASSCODE not in path.read_text()


def test_show_says_missing_without_a_passcode(
    memory_keyring: MemoryKeyring, out: pytest.CaptureFixture[str]
) -> None:
    assert add() == 0
    out.readouterr()
    assert main(["profile", "show", "line1"]) == 0
    assert "passcode: missing (certline profile set-passcode line1" in out.readouterr().out


def test_show_user_password_profile_reports_that_entry(
    memory_keyring: MemoryKeyring, out: pytest.CaptureFixture[str]
) -> None:
    assert add("basic", "--auth", "user-password", "--user", "station7") == 0
    out.readouterr()
    assert main(["profile", "show", "basic"]) == 0
    assert "user-password: missing" in out.readouterr().out


def test_set_passcode_from_an_unset_variable_names_it(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, out: pytest.CaptureFixture[str]
) -> None:
    assert add() == 0
    monkeypatch.delenv("NOPE_VAR", raising=False)
    assert main(["profile", "set-passcode", "line1", "--from-env", "NOPE_VAR"]) == 1
    assert "environment variable NOPE_VAR is not set" in out.readouterr().err
    assert memory_keyring.entries == {}


def test_set_passcode_without_a_terminal_points_to_from_env(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, out: pytest.CaptureFixture[str]
) -> None:
    import io

    assert add() == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSCODE + "\n"))
    assert main(["profile", "set-passcode", "line1"]) == 1
    assert "use --from-env VAR" in out.readouterr().err
    assert memory_keyring.entries == {}


def test_set_passcode_prompts_twice_hidden(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, out: pytest.CaptureFixture[str]
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return PASSCODE

    assert add() == 0
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", fake_getpass)
    out.readouterr()
    assert main(["profile", "set-passcode", "line1"]) == 0
    assert prompts == ["passcode for profile line1: ", "repeat passcode: "]
    assert memory_keyring.entries[("certline", "line1/passcode")] == PASSCODE
    said = out.readouterr()
    assert "its uses are counted as passcode" in said.out
    assert "WARNING" not in said.err  # a normal change is said once, not as a warning too


def test_the_passcode_is_never_accepted_on_the_command_line(out: pytest.CaptureFixture[str]) -> None:
    assert add() == 0
    with pytest.raises(SystemExit) as info:
        main(["profile", "set-passcode", "line1", "--passcode", PASSCODE])
    assert info.value.code == 2


def test_set_passcode_with_a_refused_keyring_asks_nothing(
    monkeypatch: pytest.MonkeyPatch, out: pytest.CaptureFixture[str]
) -> None:
    import keyring.core
    from keyring.backends import null

    monkeypatch.setattr(keyring.core, "_keyring_backend", null.Keyring())
    monkeypatch.setattr("getpass.getpass", lambda prompt: pytest.fail("prompted anyway"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    assert add() == 0
    assert main(["profile", "set-passcode", "line1"]) == 1
    assert "Refusing keyring backend keyring.backends.null.Keyring" in out.readouterr().err


def test_list_export_import_delete(
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    out: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    assert add("line1", "--label", "IOT_0a1b") == 0
    monkeypatch.setenv("P", PASSCODE)
    assert main(["profile", "set-passcode", "line1", "--from-env", "P"]) == 0
    out.readouterr()

    assert main(["profile", "list"]) == 0
    assert f"line1  passcode-only  {URL}  IOT_0a1b" in out.readouterr().out

    exported = tmp_path / "line1.json"
    assert main(["profile", "export", "line1", str(exported)]) == 0
    assert PASSCODE not in exported.read_text()
    assert main(["profile", "import", str(exported), "--name", "line2"]) == 0
    assert main(["profile", "list", "--json"]) == 0
    out.readouterr()
    assert ProfileStore().list() == ["line1", "line2"]

    assert main(["profile", "delete", "line1"]) == 0
    assert "removed from the keyring: passcode" in out.readouterr().out
    assert ProfileStore().list() == ["line2"]
    assert memory_keyring.entries == {}
    assert main(["profile", "delete", "line1"]) == 1
    assert "no profile named 'line1'" in out.readouterr().err


def test_export_to_stdout_is_pure_json(out: pytest.CaptureFixture[str]) -> None:
    assert add() == 0
    out.readouterr()
    assert main(["profile", "export", "line1", "-"]) == 0
    assert json.loads(out.readouterr().out)["enroll_url"] == URL


@pytest.mark.parametrize("value", ["", "1234567", "  xp  "])
def test_set_passcode_refuses_one_too_short_to_be_real(
    value: str,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    out: pytest.CaptureFixture[str],
) -> None:
    assert add() == 0
    out.readouterr()
    monkeypatch.setenv("SHORT", value)
    assert main(["profile", "set-passcode", "line1", "--from-env", "SHORT"]) == 1
    err = out.readouterr().err
    assert err.startswith("certline profile: error: ")
    assert "nothing stored" in err or "is empty" in err
    if value.strip():
        assert "at least 8" in err and value.strip() not in err
    assert memory_keyring.entries == {}


def test_set_passcode_accepts_the_minimum_length(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, out: pytest.CaptureFixture[str]
) -> None:
    assert add() == 0
    monkeypatch.setenv("EIGHT", "8chars!!")
    assert main(["profile", "set-passcode", "line1", "--from-env", "EIGHT"]) == 0
    assert memory_keyring.entries == {("certline", "line1/passcode"): "8chars!!"}


def test_a_too_short_passcode_is_refused_in_plain_words(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, out: pytest.CaptureFixture[str]
) -> None:
    """The refused value was registered for redaction first and scrubbed out of the words of the
    message ("too [REDACTED]"): it is now registered only once it is accepted."""
    assert add() == 0
    out.readouterr()
    monkeypatch.setenv("PW", "short")
    assert main(["profile", "set-passcode", "line1", "--from-env", "PW"]) == 1
    err = out.readouterr().err
    assert "REDACTED" not in err, err
    assert "the passcode is too short: an EST passcode has at least 8 characters" in err
    assert memory_keyring.entries == {}


DICT_KEYRING = """
from keyring.backend import KeyringBackend


class DictKeyring(KeyringBackend):
    priority = 1
    entries: dict = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        self.entries.pop((service, username), None)
"""


def test_end_of_input_at_the_hidden_prompt_aborts_without_a_crash_report(tmp_path: Path) -> None:
    """On a real terminal: the technician presses Ctrl+D (end of input) at the passcode prompt."""
    import os
    import pty
    import select
    import subprocess
    import sys

    home = tmp_path / "home"
    (tmp_path / "dict_keyring.py").write_text(DICT_KEYRING, encoding="utf-8")
    env = dict(
        os.environ,
        CERTLINE_HOME=str(home),
        PYTHON_KEYRING_BACKEND="dict_keyring.DictKeyring",
        PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(tmp_path)])),
    )
    cli = [sys.executable, "-m", "certline.app.cli.main"]
    subprocess.run([*cli, "profile", "add", "line1", "--url", URL], env=env, capture_output=True, check=True)
    pid, master = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as in a technician's shell
        os.execve(sys.executable, [*cli, "profile", "set-passcode", "line1"], env)
    output = b""
    try:
        while b"passcode for profile" not in output:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, output
            try:
                output += os.read(master, 1024)
            except OSError:  # EIO: the child ended before it prompted
                pytest.fail(f"no prompt: {output!r}")
        os.write(master, b"\x04")  # Ctrl+D: end of input
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, output
            try:
                chunk = os.read(master, 1024)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 1, text
    assert "aborted: no input" in text
    assert "Traceback" not in text and "internal error" not in text
    assert not [p for p in home.rglob("*") if "crash" in p.name.lower()]


def test_edit_changes_only_what_is_given(out: pytest.CaptureFixture[str]) -> None:
    assert (
        add("line1", "--require-pop", "--concurrency", "6", "--reenroll-url", URL.replace("est.", "c.")) == 0
    )
    assert (
        main(["profile", "edit", "line1", "--concurrency", "8", "--no-require-pop", "--reenroll-url", ""])
        == 0
    )
    assert "changed concurrency, reenroll_url, require_pop" in out.readouterr().out
    profile = ProfileStore().load("line1")
    assert profile.concurrency == 8 and not profile.require_pop and profile.reenroll_url is None
    assert profile.enroll_url == URL  # untouched
    # the whole profile is validated before it replaces the old one
    assert main(["profile", "edit", "line1", "--url", "http://plain.example.com/x"]) == 1
    assert "https://" in out.readouterr().err
    assert ProfileStore().load("line1").enroll_url == URL
    assert main(["profile", "edit", "line1"]) == 1
    assert "nothing to change" in out.readouterr().err


def test_edit_names_only_what_really_changed(out: pytest.CaptureFixture[str]) -> None:
    """An engineer reads the answer as what now differs: a value given again is not a change."""
    assert add("line1", "--concurrency", "6") == 0
    out.readouterr()
    assert main(["profile", "edit", "line1", "--concurrency", "6", "--reenroll-url", ""]) == 0
    said = out.readouterr().out
    assert "saved" not in said and "line1 unchanged" in said
    assert main(["profile", "edit", "line1", "--concurrency", "6", "--baud", "9600"]) == 0
    said = out.readouterr().out
    assert "changed baud" in said and "concurrency" not in said
    assert ProfileStore().load("line1").baud == 9600
