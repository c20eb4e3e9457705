"""URL shapes (unit) and the ``certline est-server`` command (subprocess)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from certline.app.estserver import Operation, build_path, parse_path
from certline.app.estserver.routes import RouteError
from tests.helpers.estserver_fixture import basic_passcode, csr_pem, make_csr

LABEL = "cps/IOT_33fd0b45-3188-45ed-9458-6cedc8ccf509"


@pytest.mark.parametrize(
    ("path", "op", "label", "group"),
    [
        ("/.well-known/est/cacerts", "cacerts", None, None),
        ("/.well-known/est/simpleenroll/", "simpleenroll", None, None),
        ("/.well-known/est/arbitraryLabel1/csrattrs", "csrattrs", "arbitraryLabel1", None),
        (f"/.well-known/est/{LABEL}/simpleenroll", "simpleenroll", LABEL, None),
        (f"/.well-known/est/{LABEL}/simplereenroll/grp-9", "simplereenroll", LABEL, "grp-9"),
        (f"/.well-known/est/{LABEL}/device-group/grp-9/serverkeygen", "serverkeygen", LABEL, "grp-9"),
        ("/.well-known/est/device-group/g1/cacerts", "cacerts", None, "g1"),
        ("/.well-known/est/simpleenroll?x=1", "simpleenroll", None, None),
    ],
)
def test_parse_path(path: str, op: str, label: str | None, group: str | None) -> None:
    route = parse_path(path)
    assert (route.op, route.label, route.device_group) == (Operation(op), label, group)


@pytest.mark.parametrize(
    "path",
    ["/", "/est/cacerts", "/.well-known/est", "/.well-known/est/a/b/c", "/.well-known/est//cacerts"],
)
def test_parse_path_rejects_non_est_paths(path: str) -> None:
    with pytest.raises(RouteError):
        parse_path(path)


def test_build_path_round_trips() -> None:
    for style in ("suffix", "path"):
        path = build_path("simpleenroll", LABEL, "g-1", group_style=style)
        route = parse_path(path)
        assert (route.label, route.device_group) == (LABEL, "g-1")


def test_cli_serves_until_sigterm_and_keeps_passcode_out_of_output(tmp_path: Path) -> None:
    passcode = "cli-passcode-0123456789"
    env = {**os.environ, "TEST_EST_PASSCODE": passcode}
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "certline.app.cli.main",
            "est-server",
            "--state-dir",
            str(state),
            "--passcode-env",
            "TEST_EST_PASSCODE",
            "--label",
            LABEL,
            "--fault",
            "pending=1:1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Serving"):
                break
        out = "".join(lines)
        url_match = re.search(r"enroll URL:\s+(\S+)", out)
        ca_match = re.search(r"CA certificate:\s+(\S+)", out)
        assert url_match and ca_match, out
        url, ca_file = url_match.group(1), ca_match.group(1)
        assert re.search(r"CA SHA-256:\s+([0-9A-F]{2}:){31}[0-9A-F]{2}", out)
        assert Path(ca_file) == state / "ca.pem"
        csr, _ = make_csr("cli-device")
        session = requests.Session()
        session.trust_env = False
        headers = {**basic_passcode(passcode), "Content-Type": "text/plain"}
        first = session.post(url, data=csr_pem(csr), headers=headers, verify=ca_file)
        second = session.post(url, data=csr_pem(csr), headers=headers, verify=ca_file)
        assert (first.status_code, second.status_code) == (202, 200)
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert passcode not in out + rest + err
    assert (state / "issued.jsonl").read_text().count("\n") == 1
    assert not any(passcode in p.read_text(errors="ignore") for p in state.rglob("*") if p.is_file())


def test_cli_without_state_dir_removes_its_temporary_ca_file_on_exit() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "certline.app.cli.main", "est-server"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Serving"):
                break
        match = re.search(r"CA certificate:\s+(\S+)", "".join(lines))
        assert match
        ca_file = Path(match.group(1))
        assert ca_file.is_file()
        assert "client-certificate authentication only" in "".join(lines)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert not ca_file.exists()


def test_cli_refuses_missing_passcode_env_and_bad_fault(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_VAR_EST"}
    bad_env = subprocess.run(
        [sys.executable, "-m", "certline.app.cli.main", "est-server", "--passcode-env", "NO_SUCH_VAR_EST"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    bad_fault = subprocess.run(
        [sys.executable, "-m", "certline.app.cli.main", "est-server", "--fault", "nosuch"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert bad_env.returncode == 2 and "NO_SUCH_VAR_EST" in bad_env.stderr
    assert bad_fault.returncode == 2 and "nosuch" in bad_fault.stderr
