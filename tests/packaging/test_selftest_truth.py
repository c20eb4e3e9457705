"""``certline selftest`` tells the truth about the keyring and the serial ports (issue 20, item 2).

* keyring: a real gnome-keyring in a private D-Bus session, first unlocked (PASS: a secret
  is stored and read back), then locked (FAIL with "unlock the keyring");
* serial: a pseudo-terminal standing in for /dev/ttyACM0, owned by ``dialout``, opened by a
  real non-root process (a forked child that drops to ``nobody``: root ignores file modes,
  so a root test would always "pass").
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from certline.app.cli import selftest_cmd
from certline.app.device import serial_access
from certline.app.device.driver import DeviceLost
from certline.app.device.transport import SerialTransport

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- keyring

LOCKED_SESSION = textwrap.dedent(
    """
    set -eu
    printf %s test | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
    "$PY" - <<'PY'
    from certline.app.cli.selftest_cmd import check_keyring
    print("UNLOCKED", check_keyring(timeout=30).line())
    import secretstorage
    connection = secretstorage.dbus_init()
    secretstorage.get_default_collection(connection).lock()
    PY
    "$PY" -m certline.app.cli.main selftest --no-gui
    """
)


@pytest.mark.skipif(
    not (shutil.which("gnome-keyring-daemon") and shutil.which("dbus-run-session")),
    reason="needs gnome-keyring-daemon and dbus-run-session (scripts/setup.sh test installs them)",
)
def test_selftest_fails_on_a_locked_keyring_and_passes_on_an_unlocked_one(tmp_path):
    for name in ("data", "runtime", "home", "certline"):
        (tmp_path / name).mkdir(mode=0o700)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")
    }
    env.update(
        PY=sys.executable,
        # this checkout's code as certline.*: scripts/test.sh's import root if set, else the install
        PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])),
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_RUNTIME_DIR=str(tmp_path / "runtime"),
        CERTLINE_HOME=str(tmp_path / "certline"),
    )
    proc = subprocess.run(
        ["dbus-run-session", "--", "sh", "-c", LOCKED_SESSION],
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    out = proc.stdout
    unlocked = next(line for line in out.splitlines() if line.startswith("UNLOCKED "))
    assert unlocked.startswith("UNLOCKED PASS keyring: stored, read back and deleted a test secret"), out
    locked = [line for line in out.splitlines() if line.startswith("FAIL keyring: ")]
    assert locked, out + proc.stderr
    assert "locked" in locked[0] and "Fix: unlock the keyring" in locked[0], locked[0]
    assert proc.returncode == 1, out
    assert out.splitlines()[-1].startswith("selftest: FAILED (1 ")


def test_no_keyring_backend_fails_with_a_fix(monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    import keyring.core

    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    result = selftest_cmd.check_keyring(timeout=10)
    assert result.status == selftest_cmd.FAIL
    assert "keyring.backends.fail.Keyring" in result.detail
    assert "Fix: log in to a desktop session" in result.detail


def test_a_keyring_that_loses_the_secret_fails(memory_keyring, monkeypatch):
    """A backend that accepts a secret but hands back something else is not a keyring."""
    monkeypatch.setattr(memory_keyring, "get_password", lambda service, username: "something else")
    result = selftest_cmd.check_keyring(timeout=10)
    assert result.status == selftest_cmd.FAIL
    assert "different value" in result.detail


def test_the_round_trip_cleans_up_after_itself(memory_keyring):
    assert selftest_cmd.check_keyring(timeout=10).status == selftest_cmd.PASS
    assert memory_keyring.entries == {}


# --------------------------------------------------------------------------- serial

needs_root = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0,
    reason="drops to the user nobody to prove file permissions apply (needs root to do so)",
)


def _as_nobody(work) -> str:
    """Run ``work()`` in a forked child that is the user ``nobody`` (no groups); its text result."""
    nobody = pwd.getpwnam("nobody")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop root for good, then do the work
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            text = work()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            text = f"CHILD ERROR {type(exc).__name__}: {exc}"
        os.write(write_fd, text.encode())
        os._exit(0)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


@pytest.fixture
def dialout_pty():
    """A pseudo-terminal slave standing in for /dev/ttyACM0: yields its path; mode set by the test."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.chown(path, 0, grp.getgrnam("dialout").gr_gid)
    try:
        yield path
    finally:
        os.close(master)
        os.close(slave)


@needs_root
@pytest.mark.parametrize("mode", [0o000, 0o660])
def test_selftest_fails_on_a_port_the_user_cannot_open(dialout_pty, mode):
    os.chmod(dialout_pty, mode)
    result = _as_nobody(lambda: selftest_cmd.check_serial_access([dialout_pty]).line())
    assert result.startswith(f"FAIL serial-access: {dialout_pty}: permission denied"), result
    assert "user nobody is not in the group 'dialout'" in result
    assert "Fix: sudo usermod -aG dialout nobody, then log out and log in again" in result


@needs_root
def test_selftest_passes_on_a_port_the_user_can_open(dialout_pty):
    os.chmod(dialout_pty, 0o666)
    result = _as_nobody(lambda: selftest_cmd.check_serial_access([dialout_pty]).line())
    assert result == f"PASS serial-access: 1 port(s) open read-only: {dialout_pty}", result


@needs_root
def test_opening_a_forbidden_port_names_the_group_and_the_fix(dialout_pty):
    os.chmod(dialout_pty, 0o660)

    def open_it() -> str:
        try:
            SerialTransport(dialout_pty).open()
        except DeviceLost as exc:
            return str(exc)
        return "opened"

    message = _as_nobody(open_it)
    assert message.startswith(f"cannot open {dialout_pty}: permission denied"), message
    assert "'dialout'" in message and "sudo usermod -aG dialout nobody" in message


@needs_root
def test_first_start_notice_for_a_forbidden_port(dialout_pty):
    os.chmod(dialout_pty, 0o660)
    notice = _as_nobody(lambda: str(serial_access.first_start_problem([dialout_pty])))
    assert notice.startswith(f"Certline cannot open the serial port(s) {dialout_pty}"), notice
    assert "usermod -aG dialout" in notice


def test_added_to_the_group_but_not_logged_in_again_says_log_in_again(monkeypatch):
    monkeypatch.setattr(serial_access, "device_group", lambda device: "dialout")
    monkeypatch.setattr(serial_access, "_member_in_database", lambda user, group: True)
    monkeypatch.setattr(serial_access, "_in_process_groups", lambda group: False)
    problem, fix = serial_access.permission_fix("/dev/ttyACM0")
    assert "was added to the group 'dialout'" in problem
    assert fix.startswith("log out and log in again")


def test_no_usb_port_plugged_in_is_info_not_pass(monkeypatch):
    monkeypatch.setattr(serial_access, "usb_serial_ports", lambda: [])
    result = selftest_cmd.check_serial_access()
    assert result.status == selftest_cmd.INFO and "no USB serial port" in result.detail


def test_a_vanished_port_is_not_a_permission_problem():
    access = serial_access.check_port("/dev/ttyACM-certline-missing")
    assert not access.ok and "gone" in access.problem
    assert serial_access.first_start_problem(["/dev/ttyACM-certline-missing"]) is None
