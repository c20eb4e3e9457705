"""``scripts/setup.sh`` on the machines a first-time user has (issue 14, item 7).

The script runs for real, copied into a scratch checkout, with the system tools it asks about
(``id``, ``dpkg-query``, ``apt-get``, ``apt-cache``) and the virtual environment's ``python``
replaced by stubs that record what they were asked to do. Nothing is installed anywhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a bash script for Debian/Ubuntu")


def _stub(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "certline"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "setup.sh", root / "scripts" / "setup.sh")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    _stub(root / "scripts" / "test.sh", f'echo "test.sh $*" >> "{tmp_path}/calls"\n')
    return root


def _fake_system(tmp_path: Path, *, uid: int, installed: bool) -> Path:
    bin_dir = tmp_path / "fakebin"
    log = tmp_path / "calls"
    _stub(bin_dir / "id", f'[ "$1" = -u ] && echo {uid} && exit 0\nexec /usr/bin/id "$@"\n')
    status = "install ok installed" if installed else ""
    _stub(bin_dir / "dpkg-query", f'printf %s "{status}"\n' + ("exit 0\n" if installed else "exit 1\n"))
    _stub(bin_dir / "apt-get", f'echo "apt-get $*" >> "{log}"\n')
    _stub(bin_dir / "apt-cache", "exit 0\n")
    return bin_dir


def _fake_venv(root: Path, tmp_path: Path) -> None:
    """A .venv whose python records pip's arguments and 'installs' the certline script."""
    log = tmp_path / "calls"
    venv_bin = root / ".venv" / "bin"
    _stub(
        venv_bin / "python",
        f'echo "python $*" >> "{log}"\n'
        f'printf "#!/bin/sh\\necho \\"certline \\$*\\" >> {log}\\n" > "{venv_bin}/certline"\n'
        f'chmod +x "{venv_bin}/certline"\n'
        f'cp "{venv_bin}/certline" "{venv_bin}/certline-gui"\n',
    )


def _run(root: Path, bin_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(root.parent / "home"),
        "PYTHON": sys.executable,
        **env,
    }
    return subprocess.run(
        ["bash", str(root / "scripts" / "setup.sh"), *args],
        capture_output=True,
        text=True,
        env=full_env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@pytest.mark.parametrize("mode", ["demo", "test"])
def test_a_user_without_root_gets_a_line_that_works_on_an_empty_package_list(
    mode: str, checkout: Path, tmp_path: Path
) -> None:
    bin_dir = _fake_system(tmp_path, uid=1000, installed=False)
    done = _run(checkout, bin_dir, mode)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("sudo ")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("sudo apt-get update && sudo apt-get install -y --no-install-recommends ")
    assert "libxcb-cursor0" in lines[0]
    assert ("xvfb" in lines[0].split()) == (mode == "test")  # the demo needs no X server of its own
    assert not (tmp_path / "calls").exists()  # nothing was run with apt-get


def test_a_too_old_python_names_the_releases_that_work(checkout: Path, tmp_path: Path) -> None:
    bin_dir = _fake_system(tmp_path, uid=1000, installed=True)
    _stub(bin_dir / "python3.10", 'case "$1" in -V) echo "Python 3.10.12";; *) exit 1;; esac\n')
    done = _run(checkout, bin_dir, "demo", PYTHON="python3.10")
    assert done.returncode == 1
    assert "Python 3.10.12; Certline needs Python 3.11 or newer" in done.stderr
    assert "Debian 12 or newer, Ubuntu 24.04 or newer" in done.stderr
    assert not (checkout / ".venv").exists()


def test_demo_installs_only_the_runtime_and_test_adds_the_test_tools(checkout: Path, tmp_path: Path) -> None:
    bin_dir = _fake_system(tmp_path, uid=0, installed=True)
    _fake_venv(checkout, tmp_path)
    calls = tmp_path / "calls"

    demo = _run(checkout, bin_dir, "demo", "--headless")
    assert demo.returncode == 0, demo.stderr
    pip = [c for c in calls.read_text().splitlines() if " pip install" in c]
    assert pip == ["python -m pip install --disable-pip-version-check -e ."]  # no -q: progress shows
    assert calls.read_text().splitlines()[-1] == "certline demo --headless"
    assert ". " + str(checkout / ".venv" / "bin" / "activate") in demo.stderr  # how to get the commands

    calls.unlink()
    again = _run(checkout, bin_dir, "demo")
    assert "python packages: up to date" in again.stderr
    assert " pip install" not in calls.read_text()

    calls.unlink()
    test = _run(checkout, bin_dir, "test", "-x", CERTLINE_SKIP_LINT="1")
    assert test.returncode == 0, test.stderr
    lines = calls.read_text().splitlines()
    assert "python -m pip install --disable-pip-version-check -e .[test]" in lines
    assert lines[-1] == "test.sh -x"


def test_check_only_installs_nothing(checkout: Path, tmp_path: Path) -> None:
    bin_dir = _fake_system(tmp_path, uid=0, installed=False)
    done = _run(checkout, bin_dir, "demo", CERTLINE_SETUP_CHECK_ONLY="1")
    assert done.returncode == 3
    assert "check only: would install system packages" in done.stderr
    assert not (tmp_path / "calls").exists()


def test_link_puts_both_commands_on_path(checkout: Path, tmp_path: Path) -> None:
    bin_dir = _fake_system(tmp_path, uid=1000, installed=True)
    _fake_venv(checkout, tmp_path)
    subprocess.run([str(checkout / ".venv" / "bin" / "python")], check=True)  # creates the scripts
    target = tmp_path / "userbin"
    done = _run(checkout, bin_dir, "link", str(target))
    assert done.returncode == 0, done.stderr
    for name in ("certline", "certline-gui"):
        assert os.readlink(target / name) == str(checkout / ".venv" / "bin" / name)
    assert f"{target} is not on your PATH yet" in done.stderr
