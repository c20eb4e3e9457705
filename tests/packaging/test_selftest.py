"""``certline selftest`` from the source tree (fast: part of the default suite).

The frozen bundle runs the same command in tests/packaging/test_packages.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from certline.app.cli import selftest_cmd
from certline.app.cli.main import main

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CERTLINE_HOME", str(tmp_path / "home"))


def test_selftest_without_gui_passes(capsys, memory_keyring):
    assert main(["selftest", "--no-gui"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for check in ("modules", "keyring-backends", "keyring", "serial", "tls"):
        assert any(line.startswith(f"PASS {check}: ") for line in lines), out
    assert any(line.startswith(("PASS serial-access: ", "INFO serial-access: ")) for line in lines), out
    assert lines[-1].startswith("selftest: OK")


def test_no_keyring_skips_the_round_trip(capsys):
    """The default guard keyring fails every call: --no-keyring must not touch it."""
    assert main(["selftest", "--no-gui", "--no-keyring"]) == 0
    assert "INFO keyring: skipped (--no-keyring)" in capsys.readouterr().out


def test_every_line_is_one_check(capsys, memory_keyring):
    main(["selftest", "--no-gui"])
    for line in capsys.readouterr().out.splitlines()[:-1]:
        status, _, rest = line.partition(" ")
        assert status in ("PASS", "FAIL", "INFO"), line
        assert ": " in rest, line


def test_module_walk_finds_the_cli_and_the_simulator():
    names = set(selftest_cmd.iter_module_names("certline.app"))
    assert {
        "certline.app.cli.main",
        "certline.app.cli.selftest_cmd",
        "certline.app.sim.simulator",
        "certline.app.est.client",
    } <= names


def test_a_module_that_does_not_import_fails_the_check(monkeypatch):
    real = selftest_cmd.importlib.import_module

    def broken(name, *args):
        if name == "certline.app.est.der_reader":
            raise ImportError("simulated: missing from the bundle")
        return real(name, *args)

    monkeypatch.setattr(selftest_cmd.importlib, "import_module", broken)
    result = selftest_cmd.check_modules()
    assert result.status == selftest_cmd.FAIL
    assert "certline.app.est.der_reader" in result.detail and "missing from the bundle" in result.detail


def test_a_failed_required_check_makes_the_exit_status_1(monkeypatch, capsys):
    monkeypatch.setattr(
        selftest_cmd, "check_serial", lambda: selftest_cmd.CheckResult("FAIL", "serial", "simulated")
    )
    assert main(["selftest", "--no-gui", "--no-keyring"]) == 1
    out = capsys.readouterr().out
    assert "FAIL serial: simulated" in out
    assert out.splitlines()[-1].startswith("selftest: FAILED (1 ")


def test_a_crashing_check_is_reported_not_raised(monkeypatch, capsys):
    def boom():
        raise RuntimeError("surprise")

    monkeypatch.setattr(selftest_cmd, "check_tls", boom)
    assert main(["selftest", "--no-gui", "--no-keyring"]) == 1
    assert "FAIL tls: the check itself crashed: RuntimeError: surprise" in capsys.readouterr().out


def test_the_qt_probe_runs_in_a_child_process():
    """The Qt half from source: ``python -m certline.ui.plumbing.selftest_probe`` (offscreen without a display)."""
    assert selftest_cmd.gui_probe_command() == [sys.executable, "-m", "certline.ui.plumbing.selftest_probe"]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "certline.ui.plumbing.selftest_probe"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " ui modules, " in proc.stdout.splitlines()[-1]
    assert "problem" not in proc.stdout + proc.stderr


def test_selftest_never_imports_qt():
    code = (
        "import sys; from certline.app.cli.main import main; rc = main(['selftest', '--no-gui', '--no-keyring']); "
        "assert 'PySide6' not in sys.modules, 'selftest imported Qt'; sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
