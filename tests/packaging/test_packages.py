"""The packaged builds, for real: slow, so only with CERTLINE_PACKAGING_TESTS=1.

    CERTLINE_PACKAGING_TESTS=1 .venv/bin/pytest -m packaging tests/packaging

builds the Linux bundle, .tar.gz and .deb when there are none yet (packaging/build_linux.sh;
set CERTLINE_PACKAGING_REBUILD=1 to rebuild), then runs packaging/test_linux_package.sh:
the .deb's contents, the unpacked bundle in a minimal environment (`certline --version`,
`certline selftest` offscreen, `certline-gui --selftest`, under Xvfb and with a D-Bus
keyring when available; any unexpected stderr fails), and as root with debootstrap an
`apt-get install` of the .deb into a clean Debian 12 root. Also compiles the Windows
installer script with makensis (packaging/check_nsis.sh). See docs/packaging.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENABLED = os.environ.get("CERTLINE_PACKAGING_TESTS") == "1"

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(
        not ENABLED,
        reason="builds and installs the frozen bundle (minutes): set CERTLINE_PACKAGING_TESTS=1 "
        "and run with -m packaging (docs/packaging.md)",
    ),
    pytest.mark.timeout(1800),
]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(command), cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited with {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="needs dpkg-deb (Debian/Ubuntu)")
def test_linux_packages_install_and_run():
    args = ["--build"] if os.environ.get("CERTLINE_PACKAGING_REBUILD") == "1" else []
    proc = _run("bash", str(ROOT / "packaging" / "test_linux_package.sh"), *args)
    assert "test_linux_package: PASS" in proc.stderr
    # the selftest ran from the unpacked .deb and every required check passed
    assert "ok: selftest" in proc.stderr


@pytest.mark.skipif(not shutil.which("makensis"), reason="needs makensis: apt-get install nsis")
def test_windows_installer_script_compiles():
    proc = _run("bash", str(ROOT / "packaging" / "check_nsis.sh"))
    assert "check_nsis: OK" in proc.stdout
