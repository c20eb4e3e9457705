"""``certline sim`` as a process: prints ready ports, serves them, cleans up on SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from certline.app.cli.main import main
from certline.app.device.certline_driver import CertlineDriver


def _start(state: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "certline.app.cli.main", "sim", "--state-dir", str(state), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sim_prints_ports_serves_them_and_removes_links_on_signal(
    tmp_path: Path, sig: signal.Signals
) -> None:
    # the with block closes the pipes (no unclosed-file warning) and reaps the process
    with _start(tmp_path, "--devices", "2", "--keygen-latency", "0.01", "--fault", "dev1:garbage=3") as proc:
        try:
            assert proc.stdout is not None
            ports = [proc.stdout.readline().strip() for _ in range(2)]
            assert ports == [str(tmp_path / "ttyCERT0"), str(tmp_path / "ttyCERT1")]
            driver = CertlineDriver(ports[1])
            assert driver.identify().serial_number == "CL-000002"
            driver.close()
            proc.send_signal(sig)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert not any(Path(p).is_symlink() for p in ports)
    assert (tmp_path / "certline-1.flash.json").exists()


@pytest.mark.timeout(60)
def test_a_second_simulator_brings_units_with_their_own_serial_numbers(tmp_path: Path) -> None:
    with _start(tmp_path, "--devices", "2", "--first-serial", "101", "--keygen-latency", "0.01") as proc:
        try:
            assert proc.stdout is not None
            ports = [proc.stdout.readline().strip() for _ in range(2)]
            serials = []
            for port in ports:
                driver = CertlineDriver(port)
                serials.append(driver.identify().serial_number)
                driver.close()
            assert serials == ["CL-000101", "CL-000102"]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_bad_fault_spec_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--state-dir", str(tmp_path), "--fault", "dev1:explode"]) == 2
    assert "unknown fault" in capsys.readouterr().err
