"""The tarball's install-user.sh: a per-user menu entry pointing at the unpacked folder, and back out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux tarball")


@pytest.fixture
def unpacked(tmp_path) -> Path:
    """The layout build_linux.sh gives certline-VERSION/ in the tarball (programs are stand-ins)."""
    top = tmp_path / "Downloads" / "certline-0.1.0"
    (top / "share" / "applications").mkdir(parents=True)
    (top / "share" / "icons" / "hicolor" / "48x48" / "apps").mkdir(parents=True)
    (top / "share" / "icons" / "hicolor" / "scalable" / "apps").mkdir(parents=True)
    shutil.copy(ROOT / "packaging" / "linux" / "certline.desktop", top / "share" / "applications")
    (top / "share" / "icons" / "hicolor" / "48x48" / "apps" / "certline.png").write_bytes(b"png")
    shutil.copy(
        ROOT / "resources" / "icons" / "certline.svg",
        top / "share" / "icons" / "hicolor" / "scalable" / "apps",
    )
    for name in ("certline", "certline-gui"):
        (top / name).write_text("#!/bin/sh\necho certline stand-in\n")
        (top / name).chmod(0o755)
    shutil.copy(ROOT / "packaging" / "linux" / "install-user.sh", top)
    return top


def run(unpacked: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(
        ["sh", str(unpacked / "install-user.sh"), *args], env=env, capture_output=True, text=True
    )


def test_install_and_uninstall_for_this_user_only(unpacked, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    proc = run(unpacked, home)
    assert proc.returncode == 0, proc.stderr
    desktop = (home / ".local/share/applications/certline.desktop").read_text()
    assert f"Exec={unpacked}/certline-gui" in desktop and "/opt/certline" not in desktop
    assert (home / ".local/share/icons/hicolor/48x48/apps/certline.png").is_file()
    assert (home / ".local/share/icons/hicolor/scalable/apps/certline.svg").is_file()
    assert os.readlink(home / ".local/bin/certline") == str(unpacked / "certline")
    assert "usermod -aG dialout" in proc.stdout and "60-certline-serial.rules" in proc.stdout

    proc = run(unpacked, home, "--uninstall")
    assert proc.returncode == 0, proc.stderr
    assert not (home / ".local/share/applications/certline.desktop").exists()
    assert not (home / ".local/bin/certline").exists()
    assert not list((home / ".local/share/icons").rglob("certline.*"))
    assert (unpacked / "certline-gui").is_file()  # the program itself stays


def test_unknown_option_changes_nothing(unpacked, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    assert run(unpacked, home, "--bogus").returncode == 2
    assert not (home / ".local").exists()
