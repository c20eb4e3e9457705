"""Screenshots of the station window for the docs: ``xvfb-run -a .venv/bin/python scripts/screenshots.py``.

Drives the real widgets on a real X display (``QT_QPA_PLATFORM=xcb``) and saves
PNGs to ``docs/screenshots/``: the empty station, a batch in progress with a
failed unit, the finished batch's summary, the profile editor and the
bootstrap (fingerprint) dialog. This first version runs on the in-memory fakes
of ``tests/batch/fakes.py``; the demo environment can replace them later.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
os.environ.setdefault("CERTLINE_HOME", tempfile.mkdtemp(prefix="certline-shots-"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

from app.device.driver import DeviceRefused  # noqa: E402
from app.est.bootstrap import BootstrapResult, cert_fingerprint  # noqa: E402
from app.est.credentials import Credentials  # noqa: E402
from app.paths import StationPaths  # noqa: E402
from app.profile import CsrFormat, Profile  # noqa: E402
from app.station import StationSession  # noqa: E402
from tests.batch.fakes import FakeCA, FakeDevice, FakeEst  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
_out = OUT


class SlowDevice(FakeDevice):
    """Waits at key generation until released, so the picture shows units mid-way."""

    def __init__(self, port: str, serial: str, gate: threading.Event) -> None:
        super().__init__(port, serial)
        self.gate = gate

    def generate_key(self, algorithm) -> None:  # noqa: ANN001
        self.gate.wait(60)
        super().generate_key(algorithm)


class FullDevice(FakeDevice):
    def generate_key(self, algorithm) -> None:  # noqa: ANN001
        raise DeviceRefused("key storage is full (slot 0 and 1 in use); erase the unit and plug it in again")


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = datetime.now() + timedelta(seconds=timeout_s)
    while not condition():
        if datetime.now() > deadline:
            raise TimeoutError("the window did not reach the expected state")
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()


def settle(ms: int = 400) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, name: str) -> None:
    settle()
    path = _out / f"{name}.png"
    widget.grab().save(str(path))
    print(f"saved {path}")


def make_session(root: Path, devices: dict[str, FakeDevice], ca: FakeCA) -> StationSession:
    from cryptography.hazmat.primitives import serialization

    profile = Profile(
        name="acme-line-1",
        enroll_url="https://est.acme.example/.well-known/est",
        label="cps/IOT_7c1d9a52-3f1e-4a8b-9d2e-0c6b5f4a1e93",
        csr_format=CsrFormat.PEM_TEXT,
        ca_bundle_pem=ca.cert.public_bytes(serialization.Encoding.PEM).decode(),
        subject_template={"CN": "{serial}", "O": "ACME Devices", "C": "DE"},
    )
    est = FakeEst(ca)
    return StationSession(
        profile,
        Credentials(passcode="screenshot"),
        paths=StationPaths(root / "data", root / "config", root / "logs", root / "cache"),
        client_factory=lambda p, c, n: est,
        driver_factory=lambda port: devices[port],
    )


def bootstrap_result(ca: FakeCA) -> BootstrapResult:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "est.acme.example")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=90))
        .sign(ca.key, hashes.SHA256())
    )
    return BootstrapResult(
        url="https://est.acme.example/.well-known/est/cps/IOT_7c1d9a52/cacerts",
        server_certificate=server,
        server_fingerprint=cert_fingerprint(server),
        ca_certs=(ca.cert,),
        ca_fingerprints=(cert_fingerprint(ca.cert),),
        server_issued_by_ca=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-text", action="store_true", help="take the pictures with large text on")
    parser.add_argument("--language", default="en", help="UI language (en, de)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to save the PNGs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from ui import window_commands
    from ui.app_window import ensure_application
    from ui.bootstrap_dialog import BootstrapDialog
    from ui.main_window import MainWindow
    from ui.profile_editor import ProfileEditor
    from ui.station_monitor import SecretState, SecretStatus
    from ui.ui_settings import LANGUAGE, UiSettings

    global _out
    _out = args.out
    root = Path(os.environ["CERTLINE_HOME"])
    settings = UiSettings(QSettings(str(root / "ui.ini"), QSettings.Format.IniFormat))
    settings.set(LANGUAGE, args.language)
    app = ensure_application(settings=settings)
    ca = FakeCA()
    gate = threading.Event()
    devices: dict[str, FakeDevice] = {}
    for i in range(8):
        port = f"/dev/ttyACM{i}"
        serial = f"ACM-24-{1000 + i * 7}"
        if i == 3:
            devices[port] = FullDevice(port, serial)
        elif i >= 5:
            devices[port] = SlowDevice(port, serial, gate)
        else:
            devices[port] = FakeDevice(port, serial)
    session = make_session(root / "station", devices, ca)
    window = MainWindow(
        session,
        lambda: sorted(devices),
        settings=settings,
        secret_check=lambda profile: SecretStatus(SecretState.PRESENT),
    )
    server_seen: list[object] = []
    window.monitor.server_status.connect(server_seen.append)
    try:
        if args.large_text:
            window.station_actions.large_text.setChecked(True)
        window.resize(1440, 900)
        window.show()
        window.station_bar.work_order.setText("WO-2024-0815")
        window.station_bar.operator.setText("m.keller")
        wait_until(lambda: True in server_seen)
        save(window, "station-empty")

        window_commands.start(window)
        wait_until(lambda: sum(s.state.value == "done" for s in window.model.snapshots()) == 4)
        wait_until(lambda: window.counters.failed.value_text() == "1")
        window.model.flush()
        failed_row = next(
            r for r, snap in enumerate(window.model.snapshots()) if snap.state.value == "failed"
        )
        window.table.selectRow(failed_row)
        wait_until(lambda: window.details.steps.rowCount() > 2)
        save(window, "station-batch-with-failure")

        window.table.selectRow(0)
        wait_until(lambda: window.details.cert_fields["serial"].text() not in ("—", ""))
        window.details.setCurrentIndex(1)
        shown: list[QWidget] = []
        window.summary_shown.connect(shown.append)
        gate.set()
        wait_until(lambda: bool(shown))
        save(shown[0], "batch-summary")
        shown[0].close()
        save(window, "station-batch-finished")

        editor = ProfileEditor(session.profile, secret_store=_PresentSecrets, parent=window)
        editor.show()
        save(editor, "profile-editor")
        editor.form.setCurrentIndex(1)
        save(editor, "profile-editor-authentication")
        editor.close()

        result = bootstrap_result(ca)
        dialog = BootstrapDialog(lambda: result, window)
        dialog.show()
        wait_until(lambda: len(dialog.rows) == 2)
        dialog.rows[0].ticked.setChecked(True)
        dialog.rows[1].pasted.setText("AB:CD:" + result.ca_fingerprints[0][6:])
        save(dialog, "bootstrap-dialog")
        dialog.close()
    finally:
        gate.set()  # let held units finish, and close without the "batch running" question
        window_commands.confirm_quit = lambda _window: True
        window.close()
        session.close()
        app.processEvents()
    return 0


class _PresentSecrets:
    """Stands in for the keyring in pictures: the passcode is "stored"."""

    def has(self, profile: object, purpose: str) -> bool:
        return True


if __name__ == "__main__":
    raise SystemExit(main())
