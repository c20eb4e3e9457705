"""The README's commands work as written, through the installed entry points (issue 14, fresh machine).

* The two Quickstart commands: ``scripts/setup.sh demo`` is run for real (with
  ``CERTLINE_SETUP_CHECK_ONLY=1``, so on a machine that is not set up it installs nothing and the
  test is skipped; ``.ci/run`` sets the machine up first, so there it always runs), and
  ``scripts/setup.sh test`` is what ``.ci/run`` executes.
* Every command in the "Using the station" table is parsed out of the README: its subcommands and
  options must exist (literal option values must be accepted choices), and each one is run through
  the ``certline``/``certline-gui`` scripts of this environment -- for real where that needs no
  hardware (the demo, then reports, audit, expiry, resume on the demo's journal, the test
  server, the simulator, selftest), ``--help`` where it needs units, a keyring or a display.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from certline.app.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent
TIMEOUT = 120


@dataclass
class ReadmeCommand:
    """One command of the table, e.g. ``certline report export --batch ID --format csv|json``."""

    program: str
    path: tuple[str, ...]
    options: list[str] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)  # --format -> ["csv", "json"]

    @property
    def name(self) -> str:
        return " ".join((self.program, *self.path))


def _table_rows() -> list[str]:
    section = README.split("## Using the station", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "`" in line]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _parse_span(span: str) -> list[ReadmeCommand]:
    tokens = span.replace("\\|", "|").split()
    program, rest = tokens[0], tokens[1:]
    paths: list[tuple[str, ...]] = [()]
    parser = build_parser()
    while rest and program == "certline":
        choices = _subparsers(parser)
        words = rest[0].split("|")
        if not choices or not all(w in choices for w in words):
            break
        paths = [(*p, w) for p in paths for w in words]
        parser = choices[words[0]]
        rest = rest[1:]
    commands = [ReadmeCommand(program, p) for p in paths]
    _add_options(commands, " ".join(rest))
    return commands


def _add_options(commands: list[ReadmeCommand], text: str) -> None:
    for match in re.finditer(r"(--[a-z0-9-]+)(?:\s+([a-z][a-z0-9|-]*)(?=[\s\])|]|$))?", text):
        option, value = match.group(1), match.group(2)
        for command in commands:
            command.options.append(option)
            if value:
                command.values.setdefault(option, []).extend(value.split("|"))


def readme_commands() -> list[ReadmeCommand]:
    commands: list[ReadmeCommand] = []
    for row in _table_rows():
        latest: list[ReadmeCommand] = []
        for span in re.findall(r"`([^`]+)`", row):
            if span.split()[0] in ("certline", "certline-gui"):
                latest = _parse_span(span)
                commands.extend(latest)
            elif span.startswith("--"):  # "(or `--cert F --key F` / `--p12 F`)"
                _add_options(latest, span)
    return commands


COMMANDS = readme_commands()


def _parser_for(command: ReadmeCommand) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in command.path:
        parser = _subparsers(parser)[word]
    return parser


def certline(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the installed ``certline`` script, as a user who typed the README's command."""
    done = subprocess.run(
        [str(BIN / "certline"), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=dict(os.environ, CERTLINE_HOME=str(home)),
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def test_the_table_was_read() -> None:
    names = {c.name for c in COMMANDS}
    assert {"certline demo", "certline-gui", "certline batch run", "certline est serverkeygen"} <= names
    assert len(names) >= 19, sorted(names)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_command_and_option_in_the_table_exists(command: ReadmeCommand) -> None:
    if command.program == "certline-gui":
        assert not command.path and not command.options
        return
    assert command.path, f"{command.name}: no subcommand"
    parser = _parser_for(command)
    for option in command.options:
        assert option in parser._option_string_actions, f"{command.name} has no {option}"
    for option, values in command.values.items():
        action = parser._option_string_actions[option]
        if action.choices is not None:
            assert set(values) <= set(action.choices), f"{command.name} {option} {values}"


def test_both_scripts_are_installed_as_pyproject_declares() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'certline = "certline.app.cli.main:main"' in pyproject
    assert 'certline-gui = "certline.ui.gui_main:main"' in pyproject
    for name in ("certline", "certline-gui"):
        assert (BIN / name).is_file(), f"{name} is not installed next to {sys.executable}"


# Needs a serial unit, the OS keyring or a display: the README's command is checked through --help.
HELP_ONLY = {
    "certline-gui",
    "certline journal set-password",  # the shared-journal commands need a PostgreSQL server
    "certline journal migrate",
    "certline journal test",
    "certline journal import",
    "certline profile set-passcode",
    "certline batch run",
    "certline reenroll",
    "certline est cacerts",
    "certline est csrattrs",
    "certline est enroll",
    "certline est reenroll",
    "certline est serverkeygen",
    "certline label print",  # needs a DONE unit in the journal: run for real in tests/labels
    "certline mes status",  # need finished units and an MES: run for real in tests/cli/test_mes_cmd.py
    "certline mes flush",
    "certline mes set-token",  # the OS keyring
    "certline profile edit",  # run for real in tests/secrets/test_profile_cli.py
    "certline station status",  # the station's roles: run for real in tests/cli/test_station_roles_cli.py
    "certline station set-pin",
    "certline station lock",
    "certline station unlock",
}
# Run for real in the tests below.
RUN_FOR_REAL = {
    "certline demo",
    "certline profile add",
    "certline profile set-limits",
    "certline batch resume",
    "certline batch status",
    "certline report export",
    "certline audit verify",
    "certline expiry",
    "certline stats",
    "certline est-server",
    "certline sim",
    "certline selftest",
}


def test_every_command_in_the_table_is_exercised() -> None:
    assert {c.name for c in COMMANDS} == HELP_ONLY | RUN_FOR_REAL


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.name in HELP_ONLY], ids=lambda c: c.name)
def test_commands_that_need_hardware_answer_help(command: ReadmeCommand, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / command.program), *command.path, "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=dict(os.environ, CERTLINE_HOME=str(tmp_path)),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {command.name}")
    for option in command.options:
        assert option in done.stdout, f"{command.name} --help does not mention {option}"


def test_the_demo_then_reports_audit_expiry_and_resume_on_its_journal(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    report = tmp_path / "report.json"
    demo = certline(
        "demo", "--headless", "--devices", "2", "--report", str(report), "--state-dir", str(state),
        home=tmp_path / "unused",
    )  # fmt: skip
    assert "Totals: 2 device(s): 2 done" in demo.stdout
    assert len(json.loads(report.read_text())["devices"]) == 2
    home = state / "station"  # the demo's station keeps CERTLINE_HOME's layout

    status = certline("batch", "status", home=home).stdout
    assert re.search(r"batch +1 .* 2 device\(s\): 2 done, 0 skipped, 0 failed, 0 unfinished", status), status
    rows = list(
        csv.DictReader(
            io.StringIO(certline("report", "export", "--batch", "1", "--format", "csv", home=home).stdout)
        )
    )
    assert [r["state"] for r in rows] == ["done", "done"]
    assert json.loads(certline("report", "export", "--batch", "1", "--format", "json", home=home).stdout)
    assert "audit log OK" in certline("audit", "verify", home=home).stdout
    expiry = list(
        csv.DictReader(
            io.StringIO(certline("expiry", "--within", "400", "--format", "csv", home=home).stdout)
        )
    )
    assert len(expiry) == 2 and all(float(r["days_left"]) > 300 for r in expiry)
    stats = json.loads(certline("stats", "--batch", "1", "--format", "json", home=home).stdout)
    assert stats["units"]["attempted"] == stats["units"]["first_pass"] == stats["units"]["done"] == 2
    assert stats["units"]["first_pass_yield"] == 1.0 and stats["failures_by_cause"] == []
    assert {s["step"] for s in stats["step_times"]} >= {"enrolling", "writing"}
    assert "first_pass_yield" in certline("stats", "--batch", "1", "--format", "csv", home=home).stdout
    assert (
        "first-pass yield: 100.0%" in certline("stats", "--batch", "1", "--format", "table", home=home).stdout
    )
    assert "no unfinished batch" in certline("batch", "resume", home=home).stdout


def test_profile_add_tells_the_next_step(tmp_path: Path) -> None:
    url = "https://est.example.com/.well-known/est/cps/IOT_33fd0b45"
    done = certline("profile", "add", "line1", "--url", url, home=tmp_path)
    assert "next: certline profile set-passcode line1" in done.stdout


def test_profile_set_limits_records_the_passcode_limits_and_the_rate(tmp_path: Path) -> None:
    url = "https://est.example.com/.well-known/est/cps/IOT_33fd0b45"
    certline("profile", "add", "line1", "--url", url, "--max-per-minute", "30", home=tmp_path)
    done = certline(
        "profile", "set-limits", "line1", "--uses", "500", "--expires", "2026-12-31",
        "--passcode-name", "dtm-line-1", "--max-per-minute", "none", home=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = json.loads(certline("profile", "export", "line1", "-", home=tmp_path).stdout)
    assert shown["passcode_id"] == "dtm-line-1" and shown["passcode_max_uses"] == 500
    assert shown["passcode_expires"] == "2026-12-31" and shown["max_enrollments_per_minute"] is None
    refused = certline(
        "profile", "set-limits", "line1", "--expires", "31/12/2026", home=tmp_path, check=False
    )
    assert refused.returncode != 0 and "passcode_expires must be an ISO 8601 date" in refused.stderr


def test_selftest(tmp_path: Path) -> None:
    # the Qt half (certline-gui --selftest) is the GUI tests' business; it needs a display
    done = certline("selftest", "--no-gui", home=tmp_path)
    assert "selftest: OK" in done.stdout


def _serve_until_ready(args: list[str], ready: str, home: Path, lines_needed: int = 1) -> list[str]:
    proc = subprocess.Popen(
        [str(BIN / "certline"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, CERTLINE_HOME=str(home), PYTHONUNBUFFERED="1"),
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.rstrip("\n"))
            if sum(ready in s for s in seen) >= lines_needed:
                break
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (seen, err)
    return seen


def test_the_test_server_serves_until_ctrl_c(tmp_path: Path) -> None:
    seen = _serve_until_ready(["est-server"], "Serving; Ctrl-C to stop.", tmp_path)
    assert any(line.strip().startswith("enroll URL:") and "https://127.0.0.1:" in line for line in seen)


def test_the_simulator_prints_its_ports_until_ctrl_c(tmp_path: Path) -> None:
    ports = _serve_until_ready(["sim", "--devices", "2"], "/", tmp_path, lines_needed=2)
    assert len(ports) == 2 and all(Path(p).is_absolute() for p in ports)


def test_setup_demo_as_the_quickstart_says(tmp_path: Path) -> None:
    """``scripts/setup.sh demo`` on a machine that is set up: it installs nothing and runs the demo."""
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup.sh"), "demo", "--headless", "--devices", "2"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=dict(os.environ, CERTLINE_HOME=str(tmp_path), CERTLINE_SETUP_CHECK_ONLY="1"),
        stdin=subprocess.DEVNULL,
    )
    if done.returncode == 3:
        pytest.skip(f"this machine is not set up (.ci/run sets it up first): {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert "Totals: 2 device(s): 2 done" in done.stdout


def test_ci_runs_the_quickstart_test_command() -> None:
    assert 'exec bash scripts/setup.sh test "$@" </dev/null' in (REPO / ".ci" / "run").read_text()
    assert "```sh\nscripts/setup.sh test\n```" in README
    assert "```sh\nscripts/setup.sh demo\n```" in README
