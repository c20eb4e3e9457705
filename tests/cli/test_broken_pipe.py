"""``certline ... | head -1``: the reader goes away before the output is written (newcomer item 3).

The command must end quietly with status 141 (128 + SIGPIPE, what a shell shows for a command
killed by a closed pipe): no traceback, no "internal error", no crash report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

URL = "https://est.example.com/.well-known/est/cps/IOT_0a1b"
CLI = [sys.executable, "-m", "certline.app.cli.main"]


def run_into_closed_pipe(home: Path, *args: str) -> tuple[int, str]:
    """Run the CLI with stdout a pipe whose reading end is already closed (like ``| head -1``
    after it has read its line): every write gets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = dict(os.environ, CERTLINE_HOME=str(home))
    try:
        proc = subprocess.run(
            [*CLI, *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr


def crash_reports(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if "crash" in p.name.lower() and p.is_file()]


@pytest.mark.parametrize(
    "command",
    [("profile", "show", "p1"), ("expiry", "--format", "json"), ("profile", "list")],
)
def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path, command: tuple[str, ...]) -> None:
    home = tmp_path / "home"
    env = dict(os.environ, CERTLINE_HOME=str(home))
    subprocess.run([*CLI, "profile", "add", "p1", "--url", URL], env=env, capture_output=True, check=True)
    rc, err = run_into_closed_pipe(home, *command)
    assert rc == 141, err
    assert "Traceback" not in err and "internal error" not in err and "Broken pipe" not in err, err
    assert err == ""
    assert crash_reports(home) == []


def test_report_export_into_a_closed_pipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from certline.app.batch.journal import Journal
    from certline.app.config.paths import station_paths

    home = tmp_path / "home"
    monkeypatch.setenv("CERTLINE_HOME", str(home))
    journal = Journal(station_paths().journal)
    try:
        batch = journal.create_batch(profile_name="p", profile_json={}, work_order="WO-1")
    finally:
        journal.close()
    rc, err = run_into_closed_pipe(home, "report", "export", "--batch", str(batch))
    assert (rc, err) == (141, "")
    assert crash_reports(home) == []
