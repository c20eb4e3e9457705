"""A journal with one DONE unit holding a real certificate, and QR decoding with zbar."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from PIL import Image

from certline.app import pki
from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState
from tests.helpers.certs import make_cert, new_key

pyzbar = pytest.importorskip("pyzbar.pyzbar", reason="pyzbar + libzbar0 decode the QR codes")


def decode_qr(png: bytes) -> list[str]:
    """Every QR code zbar finds in a PNG image, as text."""
    return [d.data.decode("utf-8") for d in pyzbar.decode(Image.open(io.BytesIO(png))) if d.type == "QRCODE"]


def pdf_to_png(pdf: Path, tmp_path: Path) -> bytes:
    """Rasterise a PDF page with poppler's pdftoppm (a real PDF reader, not ours)."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    stem = tmp_path / f"{pdf.stem}-page"
    command = ["pdftoppm", "-r", "300", "-png", "-singlefile", str(pdf), str(stem)]
    subprocess.run(command, check=True, timeout=60)
    return stem.with_suffix(".png").read_bytes()


def make_certificate(serial: str) -> x509.Certificate:
    key = new_key()
    return make_cert(
        serial,
        key.public_key(),
        key,
        not_before=datetime.now(UTC),
        not_after=datetime(2027, 12, 3, 10, 0, tzinfo=UTC),  # the expiry the label tests print
    )


def add_done_unit(journal: Journal, batch_id: int, serial: str, port: str = "/dev/ttyACM0") -> int:
    """A unit journaled as DONE with a certificate, the columns the pipeline writes."""
    cert = make_certificate(serial)
    snap = journal.add_device(
        batch_id,
        port,
        detected_at=datetime.now(UTC) - timedelta(seconds=5),
        then=[(DeviceState.IDENTIFIED, "identified")],
        serial_number=serial,
        model="CL-100",
        firmware="1.4.2",
    )
    journal.transition(
        snap.device_id,
        DeviceState.DONE,
        "done",
        cert_serial=pki.cert_serial_hex(cert),
        cert_fingerprint=pki.fingerprint(cert),
        not_after=cert.not_valid_after_utc.isoformat(),
    )
    return snap.device_id


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()


def new_batch(journal: Journal, label_printing: dict[str, Any] | None) -> int:
    profile: dict[str, Any] = {"name": "line-a", "enroll_url": "https://est.example/.well-known/est"}
    if label_printing is not None:
        profile["label_printing"] = label_printing
    return journal.create_batch(profile_name="line-a", profile_json=profile, work_order="WO-7")
