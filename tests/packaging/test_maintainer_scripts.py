"""The .deb's maintainer scripts refuse to pull /opt/certline from under a running Certline.

The scripts are rendered exactly as build_linux.sh renders them and run with ``sh``
against a real process: a copy of ``sleep`` installed as ``<dir>/certline-gui``, found
through ``/proc/PID/exe`` like the real program (``CERTLINE_INSTALL_DIR`` points the
scripts at the temporary directory instead of /opt/certline).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="dpkg maintainer scripts")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("DEBIAN")
    subprocess.run(["sh", str(LINUX / "render_scripts.sh"), str(out)], check=True)
    return out


@pytest.fixture
def install_dir(tmp_path) -> Path:
    directory = tmp_path / "opt" / "certline"
    directory.mkdir(parents=True)
    return directory


@pytest.fixture
def running_gui(install_dir):
    program = install_dir / "certline-gui"
    shutil.copy2(shutil.which("sleep"), program)
    proc = subprocess.Popen([str(program), "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def run(
    scripts: Path, install_dir: Path, *args: str, force: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CERTLINE_UPGRADE_WHILE_RUNNING"}
    env["CERTLINE_INSTALL_DIR"] = str(install_dir)
    if force:
        env["CERTLINE_UPGRADE_WHILE_RUNNING"] = "1"
    return subprocess.run(["sh", str(scripts / args[0]), *args[1:]], env=env, capture_output=True, text=True)


def test_scripts_are_rendered_with_the_running_check(scripts):
    for name in ("preinst", "prerm"):
        text = (scripts / name).read_text()
        assert "@RUNNING_CHECK@" not in text and "refuse_if_running()" in text


def test_upgrade_is_refused_while_the_window_is_open(scripts, install_dir, running_gui):
    proc = run(scripts, install_dir, "preinst", "upgrade", "0.1.0")
    assert proc.returncode == 1
    assert f"PID {running_gui.pid}, user " in proc.stderr
    assert str(install_dir / "certline-gui") in proc.stderr
    assert "CERTLINE_UPGRADE_WHILE_RUNNING=1" in proc.stderr  # how to go ahead anyway


def test_removal_is_refused_while_the_window_is_open(scripts, install_dir, running_gui):
    proc = run(scripts, install_dir, "prerm", "remove")
    assert proc.returncode == 1
    assert "cannot be removed safely" in proc.stderr


def test_a_program_already_replaced_on_disk_is_still_found(scripts, install_dir, running_gui):
    """After a forced upgrade /proc/PID/exe reads '<path> (deleted)': still Certline."""
    replacement = install_dir / "certline-gui.dpkg-new"
    replacement.write_bytes(b"new")
    os.replace(replacement, install_dir / "certline-gui")
    proc = run(scripts, install_dir, "preinst", "upgrade", "0.1.0")
    assert proc.returncode == 1 and f"PID {running_gui.pid}," in proc.stderr


def test_forced_upgrade_goes_ahead_with_a_warning(scripts, install_dir, running_gui):
    proc = run(scripts, install_dir, "preinst", "upgrade", "0.1.0", force=True)
    assert proc.returncode == 0
    assert "continuing" in proc.stderr and f"PID {running_gui.pid}," in proc.stderr


def test_nothing_running_nothing_said(scripts, install_dir):
    for args in (("preinst", "upgrade", "0.1.0"), ("preinst", "install"), ("prerm", "remove")):
        proc = run(scripts, install_dir, *args)
        assert (proc.returncode, proc.stderr) == (0, ""), args


def test_a_first_install_never_looks(scripts, install_dir, running_gui):
    assert run(scripts, install_dir, "preinst", "install").returncode == 0
