"""``certline selftest``: check that this installation (source tree or frozen bundle) works.

Meant for the technician right after installing, and for CI on the packaged build.
One line per check::

    PASS modules: 112 certline modules import
    FAIL keyring: The OS keyring (...) is locked ... Fix: unlock the keyring ...
    FAIL serial: ...

Required checks (a FAIL makes the exit status 1):

* ``modules`` -- every module of the ``app`` package imports (a frozen build that
  missed one fails here instead of in front of a unit);
* ``gui`` -- the Qt side in a *separate process*: the ``certline-gui`` next to this
  executable with ``--selftest`` in a frozen build, ``python -m certline.ui.plumbing.selftest_probe``
  from a source tree. This module never imports Qt itself (``app`` is Qt-free);
* ``keyring-backends`` -- the keyring backend for this OS is in the build;
* ``serial`` -- pyserial opens a real pseudo-terminal (POSIX) and its ``loop://``
  URL handler works (the URL handlers are loaded by name, so bundles miss them);
* ``tls`` -- a TLS round trip: ``/cacerts`` from an in-process EST test server on
  127.0.0.1, with the EST client pinned to that server's CA.

* ``keyring`` -- what ``profile set-passcode`` and a batch will do: store a throwaway
  secret in the OS keyring, read it back, delete it. Fails when there is no D-Bus
  session, no Secret Service daemon, or the keyring is locked, with the fix (``--no-keyring``
  skips it on stations that pass secrets with ``--passcode-env``);
* ``serial-access`` -- every USB serial port present (or each ``--port``) is opened
  read-only, as this user; a port the user may not open fails with the group to join.

Every FAIL line ends with ``Fix: ...``, one thing to do.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from certline.app import __version__

PASS = "PASS"  # noqa: S105 - a status word, not a password
FAIL = "FAIL"
INFO = "INFO"

#: modules that are entry points / demos rather than library code, and modules that only
#: import on another OS (none today); listed by exact dotted name
SKIP_MODULES: frozenset[str] = frozenset()

GUI_PROBE_TIMEOUT = 90.0
#: the keyring round trip may show an unlock prompt on the desktop: give the technician time
KEYRING_TIMEOUT = 60.0

#: keyring backend modules that must be bundled, by platform (they are loaded via entry
#: points, so a frozen build easily ends up with none and silently uses fail.Keyring)
NATIVE_KEYRING: dict[str, tuple[str, ...]] = {
    "linux": ("keyring.backends.SecretService", "secretstorage", "jeepney"),
    "win32": ("keyring.backends.Windows", "win32ctypes.pywin32.win32cred"),
    "darwin": ("keyring.backends.macOS",),
}


@dataclass(frozen=True)
class CheckResult:
    status: str
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status} {self.name}: {self.detail}"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "selftest",
        help="check this installation: modules, Qt, keyring, serial, TLS",
        description="Check that this Certline installation works. Prints one PASS/FAIL/INFO line per "
        "check; the exit status is 1 when a required check fails.",
    )
    parser.add_argument("--no-gui", action="store_true", help="skip the Qt check (no GUI process is started)")
    parser.add_argument(
        "--gui-timeout",
        type=float,
        default=GUI_PROBE_TIMEOUT,
        metavar="SECONDS",
        help=f"how long the Qt check may take (default {GUI_PROBE_TIMEOUT:g})",
    )
    parser.add_argument(
        "--no-keyring",
        action="store_true",
        help="skip the keyring round trip (stations that pass secrets with --passcode-env)",
    )
    parser.add_argument(
        "--port",
        action="append",
        default=None,
        metavar="DEVICE",
        help="check access to this serial port instead of every USB serial port present (repeatable)",
    )
    parser.set_defaults(func=run)


# --------------------------------------------------------------------------- checks


def frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def check_environment() -> CheckResult:
    how = f"frozen bundle in {Path(sys.executable).parent}" if frozen() else f"Python {sys.executable}"
    return CheckResult(
        INFO,
        "version",
        f"certline {__version__}, Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()} {platform.machine()}, {how}",
    )


def iter_module_names(package: str = "certline.app") -> Iterator[str]:
    """Dotted names of every module and subpackage of ``package`` (works in a frozen bundle too)."""
    root = importlib.import_module(package)
    yield package
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if info.name not in SKIP_MODULES and not info.name.endswith(".__main__"):
            yield info.name


def check_modules(package: str = "certline.app") -> CheckResult:
    names: list[str] = []
    failed: list[str] = []
    try:
        for name in iter_module_names(package):
            names.append(name)
            try:
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - report every broken module, not the first
                failed.append(f"{name} ({type(exc).__name__}: {exc})")
    except Exception as exc:  # noqa: BLE001 - walk_packages imports packages as it goes
        failed.append(f"walking {package}: {type(exc).__name__}: {exc}")
    if failed:
        return CheckResult(
            FAIL, "modules", f"{len(failed)} of {len(names)} do not import: " + "; ".join(failed)
        )
    if len(names) < 10:  # a bundle without the package's modules would "pass" with nothing to import
        return CheckResult(FAIL, "modules", f"only {len(names)} modules found under {package}: {names}")
    return CheckResult(PASS, "modules", f"{len(names)} certline modules import")


def gui_probe_command() -> list[str] | None:
    """How to start the Qt probe: the sibling ``certline-gui`` when frozen, else ``python -m``."""
    if frozen():
        here = Path(sys.executable).resolve().parent
        for name in ("certline-gui.exe", "certline-gui") if sys.platform == "win32" else ("certline-gui",):
            candidate = here / name
            if candidate.is_file():
                return [str(candidate), "--selftest"]
        return None
    return [sys.executable, "-m", "certline.ui.plumbing.selftest_probe"]


def gui_probe_env() -> dict[str, str]:
    """The probe's environment: headless when there is no display to show a window on."""
    env = dict(os.environ)
    if sys.platform.startswith("linux") and "QT_QPA_PLATFORM" not in env:
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def check_gui(timeout: float = GUI_PROBE_TIMEOUT) -> CheckResult:
    command = gui_probe_command()
    if command is None:
        return CheckResult(FAIL, "gui", f"certline-gui is missing next to {sys.executable}")
    env = gui_probe_env()
    platform_name = env.get("QT_QPA_PLATFORM", "default platform")
    try:
        proc = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return CheckResult(FAIL, "gui", f"{' '.join(command)} did not finish within {timeout:g} s")
    except OSError as exc:
        return CheckResult(FAIL, "gui", f"could not start {command[0]}: {exc}")
    # The probe's own stderr (Qt warnings, a traceback) is passed on so it is not lost.
    if proc.stderr.strip():
        sys.stderr.write(proc.stderr if proc.stderr.endswith("\n") else proc.stderr + "\n")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    summary = lines[-1] if lines else "(no output)"
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] if proc.stderr.strip() else []
        why = "; ".join([summary, *tail])
        return CheckResult(FAIL, "gui", f"Qt probe exited with {proc.returncode} ({platform_name}): {why}")
    return CheckResult(PASS, "gui", summary)


def _entry_point_backends() -> list[str]:
    from importlib.metadata import entry_points

    return sorted(ep.name for ep in entry_points(group="keyring.backends"))


def check_keyring_backends() -> CheckResult:
    needed = next((mods for prefix, mods in NATIVE_KEYRING.items() if sys.platform.startswith(prefix)), ())
    missing = []
    for name in needed:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any import failure means "not in this build"
            missing.append(f"{name} ({type(exc).__name__}: {exc})")
    try:
        registered = _entry_point_backends()
    except Exception as exc:  # noqa: BLE001 - broken metadata in a bundle
        return CheckResult(FAIL, "keyring-backends", f"cannot read keyring's entry points: {exc}")
    if not registered:
        missing.append("keyring's entry points (its package metadata is not in this build)")
    if missing:
        return CheckResult(FAIL, "keyring-backends", "missing: " + "; ".join(missing))
    return CheckResult(PASS, "keyring-backends", "registered: " + ", ".join(registered))


KEYRING_FIXES: dict[str, str] = {
    "locked": "unlock the keyring (log in again, or open Passwords and Keys / KWallet and unlock "
    "the Login keyring), then run certline selftest again",
    "no-backend": "log in to a desktop session with GNOME Keyring or KWallet "
    "(sudo apt install gnome-keyring, then log out and log in again); on a headless station see "
    "docs/secrets.md, or use --passcode-env",
    "no-collection": "create the Login keyring: log in to the desktop once, or on a headless station "
    "see docs/secrets.md (A headless station)",
    "insecure": "use the OS keyring (log in to a desktop session with GNOME Keyring or KWallet)",
    "error": "log out and log in again; if it persists, restart the keyring daemon",
}


def _keyring_roundtrip() -> str:
    """Store, read back and delete a throwaway secret; returns the backend's name."""
    import secrets as random_source

    from certline.app.security.secret_store import Purpose, SecretStore, SecretStoreError

    store = SecretStore()
    backend = store.describe_backend()
    profile = f"selftest-{random_source.token_hex(4)}"
    value = random_source.token_urlsafe(16)
    store.check_backend(probe=False)
    store.set(profile, Purpose.PASSCODE, value)
    try:
        got = store.get(profile, Purpose.PASSCODE)
    finally:
        try:
            store.delete(profile, Purpose.PASSCODE)
        except SecretStoreError:
            pass  # the read-back result below is what matters
    if got != value:
        # never show either value: they are secrets by construction
        raise SecretStoreError(f"the keyring ({backend}) returned a different value than was stored")
    return backend


def check_keyring(timeout: float = KEYRING_TIMEOUT) -> CheckResult:
    """The round trip on a worker thread: an unlock prompt may wait for the technician."""
    import threading

    from certline.app.security.secret_store import KeyringUnavailable, SecretStoreError

    outcome: dict[str, object] = {}

    def attempt() -> None:
        try:
            outcome["backend"] = _keyring_roundtrip()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=attempt, name="selftest-keyring", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return CheckResult(
            FAIL,
            "keyring",
            f"the keyring did not answer within {timeout:g} s (an unlock prompt may be waiting). "
            f"Fix: {KEYRING_FIXES['locked']}",
        )
    error = outcome.get("error")
    if isinstance(error, KeyringUnavailable):
        fix = KEYRING_FIXES.get(error.reason, KEYRING_FIXES["error"])
        return CheckResult(FAIL, "keyring", f"{error} Fix: {fix}")
    if isinstance(error, SecretStoreError):
        return CheckResult(FAIL, "keyring", f"{error}. Fix: {KEYRING_FIXES['error']}")
    if isinstance(error, BaseException):
        return CheckResult(FAIL, "keyring", f"{type(error).__name__}: {error}. Fix: {KEYRING_FIXES['error']}")
    return CheckResult(PASS, "keyring", f"stored, read back and deleted a test secret ({outcome['backend']})")


def check_serial_access(ports: list[str] | None = None) -> CheckResult:
    """Open every USB serial port (or the given ones) read-only, as this user."""
    from certline.app.device import serial_access

    devices = serial_access.usb_serial_ports() if ports is None else ports
    if not devices:
        return CheckResult(
            INFO,
            "serial-access",
            "no USB serial port is plugged in, so access could not be tried; plug in a unit and run "
            "certline selftest again",
        )
    results = [serial_access.check_port(device) for device in devices]
    denied = [r for r in results if not r.ok]
    if denied:
        return CheckResult(FAIL, "serial-access", "; ".join(r.describe() for r in denied))
    return CheckResult(PASS, "serial-access", f"{len(results)} port(s) open read-only: {', '.join(devices)}")


def _roundtrip(write: Callable[[bytes], object], read: Callable[[int], bytes], payload: bytes) -> bytes:
    write(payload)
    got = b""
    deadline = time.monotonic() + 5.0
    while len(got) < len(payload) and time.monotonic() < deadline:
        got += read(len(payload) - len(got))
    return got


def _pty_roundtrip() -> str:
    import serial

    master, slave = os.openpty()
    try:
        name = os.ttyname(slave)
        import tty

        tty.setraw(slave)
        with serial.Serial(name, baudrate=115200, timeout=0.5) as port:
            payload = b"CERTLINE-SELFTEST\n"
            got = _roundtrip(lambda data: os.write(master, data), port.read, payload)
            if got != payload:
                raise OSError(f"pty -> serial: sent {payload!r}, read {got!r}")
            got = _roundtrip(port.write, lambda n: os.read(master, n), b"OK\n")
            if got != b"OK\n":
                raise OSError(f"serial -> pty: sent b'OK\\n', read {got!r}")
        return name
    finally:
        os.close(master)
        os.close(slave)


def check_serial() -> CheckResult:
    try:
        import serial

        with serial.serial_for_url("loop://", baudrate=115200, timeout=1.0) as loop:
            got = _roundtrip(loop.write, loop.read, b"loop\n")
        if got != b"loop\n":
            return CheckResult(FAIL, "serial", f"loop:// echoed {got!r}")
        detail = f"pyserial {serial.VERSION}: loop:// URL handler"
        if os.name == "posix":
            detail += f", pseudo-terminal {_pty_roundtrip()}"
        from serial.tools import list_ports

        ports = list_ports.comports()
    except Exception as exc:  # noqa: BLE001 - every failure here is a FAIL line
        return CheckResult(FAIL, "serial", f"{type(exc).__name__}: {exc}")
    return CheckResult(PASS, "serial", f"{detail}; {len(ports)} serial port(s) present")


def check_tls() -> CheckResult:
    try:
        from certline.app.config.profile import Profile
        from certline.app.est.client import EstClient
        from certline.app.est.credentials import Credentials
        from certline.app.estserver import EstTestServer

        with EstTestServer() as server:
            profile = Profile(name="selftest", enroll_url=server.url, ca_bundle_pem=server.ca_pem)
            with EstClient(profile, Credentials(passcode=server.passcode), timeout=15.0, retries=0) as client:
                certs = client.cacerts()
            fingerprint = server.ca_fingerprint
            roots = [c for c in certs if c.subject == c.issuer]
            if not roots:
                return CheckResult(FAIL, "tls", "/cacerts returned no root certificate")
            from cryptography.hazmat.primitives import hashes

            got = roots[0].fingerprint(hashes.SHA256()).hex(":").upper()
            if got != fingerprint:
                return CheckResult(FAIL, "tls", f"/cacerts root {got} is not the server's CA {fingerprint}")
            port = server.port
    except Exception as exc:  # noqa: BLE001 - every failure here is a FAIL line
        return CheckResult(FAIL, "tls", f"{type(exc).__name__}: {exc}")
    import ssl

    return CheckResult(
        PASS,
        "tls",
        f"/cacerts over TLS from 127.0.0.1:{port}, CA pinned ({len(certs)} cert(s), {ssl.OPENSSL_VERSION})",
    )


# --------------------------------------------------------------------------- runner


def run_checks(
    *,
    gui: bool = True,
    gui_timeout: float = GUI_PROBE_TIMEOUT,
    keyring: bool = True,
    ports: list[str] | None = None,
) -> Iterator[CheckResult]:
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("version", check_environment),
        ("modules", check_modules),
    ]
    if gui:
        checks.append(("gui", lambda: check_gui(gui_timeout)))
    checks.append(("keyring-backends", check_keyring_backends))
    if keyring:
        checks.append(("keyring", check_keyring))
    checks += [
        ("serial", check_serial),
        ("serial-access", lambda: check_serial_access(ports)),
        ("tls", check_tls),
    ]
    for name, check in checks:
        try:
            yield check()
        except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check
            detail = "".join(traceback.format_exception_only(exc)).strip()
            yield CheckResult(FAIL, name, f"the check itself crashed: {detail}")
    if not gui:
        yield CheckResult(INFO, "gui", "skipped (--no-gui)")
    if not keyring:
        yield CheckResult(INFO, "keyring", "skipped (--no-keyring)")


def run(args: argparse.Namespace) -> int:
    failed = 0
    for result in run_checks(
        gui=not args.no_gui, gui_timeout=args.gui_timeout, keyring=not args.no_keyring, ports=args.port
    ):
        print(result.line(), flush=True)
        failed += result.status == FAIL
    print(f"selftest: {'FAILED' if failed else 'OK'} ({failed} required check(s) failed)", flush=True)
    return 1 if failed else 0
