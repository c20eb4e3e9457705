"""Can this user open the station's serial ports, and if not, what exactly must be done?

On Linux a USB serial device node (``/dev/ttyACM0``, ``/dev/ttyUSB0``) belongs to the
group ``dialout`` with mode 0660; the packaged udev rule adds an ACL for the user at the
local desktop. A technician who logs in over SSH, or whose account was added to the group
after logging in, still gets a bare ``[Errno 13] Permission denied``. This module turns
that into a sentence that names the group and the fix, for the transport's error, for
``certline selftest`` and for the notice the station window shows on first start.

Qt-free and cheap: it only stats and opens device nodes (read-only, non-blocking, no
controlling terminal, closed at once), so it may run on a worker thread or in the CLI.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from dataclasses import dataclass

#: kernel names that only exist for USB serial devices (CDC-ACM and USB-serial chips)
USB_TTY = re.compile(r"^/dev/tty(ACM|USB)\d+$")
DEFAULT_GROUP = "dialout"


@dataclass(frozen=True)
class PortAccess:
    """Result of trying to open one port: ``ok``, or ``problem`` + ``fix`` in plain words."""

    device: str
    ok: bool
    problem: str = ""
    fix: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"{self.device}: opens"
        return f"{self.device}: {self.problem}. Fix: {self.fix}"


def _user_name() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or "USERNAME"


def device_group(device: str) -> str:
    """Name of the group that owns ``device`` (``dialout`` on Debian/Ubuntu, ``uucp`` on Arch)."""
    try:
        import grp

        return grp.getgrgid(os.stat(device).st_gid).gr_name
    except (ImportError, KeyError, OSError):
        return DEFAULT_GROUP


def _member_in_database(user: str, group: str) -> bool:
    """Is ``user`` listed in ``group`` in the group database (maybe not yet in this login)?"""
    try:
        import grp
        import pwd

        entry = grp.getgrnam(group)
        return user in entry.gr_mem or pwd.getpwnam(user).pw_gid == entry.gr_gid
    except (ImportError, KeyError):
        return False


def _in_process_groups(group: str) -> bool:
    try:
        import grp

        gid = grp.getgrnam(group).gr_gid
    except (ImportError, KeyError):
        return False
    return gid == os.getgid() or gid in os.getgroups()


def permission_fix(device: str) -> tuple[str, str]:
    """``(problem, fix)`` for a port this user may not open (POSIX), naming group and command."""
    group = device_group(device)
    user = _user_name()
    if _member_in_database(user, group) and not _in_process_groups(group):
        return (
            f"permission denied: user {user} was added to the group {group!r}, "
            "but this login session started before that",
            "log out and log in again (or reboot) so the new group membership takes effect",
        )
    if _in_process_groups(group):
        return (
            f"permission denied although user {user} is in the group {group!r} "
            "(the device node's permissions were changed)",
            f"check the udev rules for {device} (ls -l {device}); the packaged rule is "
            "60-certline-serial.rules",
        )
    return (
        f"permission denied: user {user} is not in the group {group!r} that owns {device}",
        f"sudo usermod -aG {group} {user}, then log out and log in again",
    )


def explain_open_error(device: str, exc: BaseException) -> str:
    """A technician-readable reason for a failed open; permission errors name group and fix."""
    if is_permission_error(exc):
        if os.name == "posix":
            problem, fix = permission_fix(device)
            return f"{problem}. Fix: {fix}"
        return (
            f"access denied: {device} is in use by another program (a terminal, another "
            "Certline) or the driver refused it. Fix: close the other program, or unplug "
            "and replug the adapter"
        )
    if is_port_busy(exc):
        return (
            f"{device} is in use by another program (another Certline window or command, a terminal "
            "or a modem manager). Fix: close it, or wait until it is done, and try again"
        )
    return (str(exc).strip() or type(exc).__name__)[:200]


def is_port_busy(exc: BaseException) -> bool:
    """pyserial's exclusive open (``flock``) failed: someone else holds the port. Its own text,
    "Could not exclusively lock port ... [Errno 11] Resource temporarily unavailable", is what a
    field engineer saw when two renewals were started on one unit."""
    return "Could not exclusively lock port" in str(exc) or getattr(exc, "errno", None) in (
        errno.EAGAIN,
        errno.EWOULDBLOCK,
    )


def is_permission_error(exc: BaseException) -> bool:
    """pyserial wraps the OSError in a SerialException but keeps ``errno`` (and the text)."""
    if isinstance(exc, PermissionError) or getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM):
        return True
    text = str(exc)
    return "Permission denied" in text or "Access is denied" in text or "PermissionError" in text


def check_port(device: str) -> PortAccess:
    """Open ``device`` read-only for a moment; what a station would hit when opening it."""
    try:
        if os.name == "posix":
            fd = os.open(device, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
            os.close(fd)
        else:  # pragma: no cover - Windows: COM ports open through pyserial
            import serial

            serial.Serial(device).close()
    except FileNotFoundError:
        return PortAccess(device, False, "the port is gone (unplugged?)", "plug the adapter in again")
    except Exception as exc:  # noqa: BLE001 - every failure of an open is reported, never raised
        if is_permission_error(exc):
            if os.name == "posix":
                problem, fix = permission_fix(device)
            else:  # pragma: no cover - Windows
                problem = "access denied (the port is open in another program)"
                fix = "close the other program, or unplug and replug the adapter"
            return PortAccess(device, False, problem, fix)
        return PortAccess(device, False, f"cannot open it: {type(exc).__name__}: {exc}", "replug the adapter")
    return PortAccess(device, True)


def usb_serial_ports() -> list[str]:
    """Device names of the USB serial ports present now (COMn with a USB VID on Windows)."""
    from serial.tools import list_ports

    found = []
    for port in list_ports.comports():
        device = str(port.device)
        if USB_TTY.match(device) or (sys.platform == "win32" and port.vid is not None):
            found.append(device)
    return sorted(found)


def first_start_problem(ports: list[str] | None = None) -> str | None:
    """A notice for the station window when this user cannot open the USB serial ports, else None.

    Graphical installers do not show the package's post-install message, so the GUI
    checks once at start: every present USB port is opened read-only; without ports
    (nothing plugged in yet) a Linux user outside ``dialout`` on a non-local session
    cannot be judged, so nothing is said then.
    """
    devices = usb_serial_ports() if ports is None else ports
    denied = [r for r in (check_port(d) for d in devices) if not r.ok and "permission" in r.problem]
    if not denied:
        return None
    names = ", ".join(r.device for r in denied)
    return f"Certline cannot open the serial port(s) {names}: {denied[0].problem}. Fix: {denied[0].fix}."
