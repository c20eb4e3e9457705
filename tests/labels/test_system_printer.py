"""The system-printer path (ui/plumbing/label_printer.py): Qt paints the same layout; zbar reads its QR code.

Where CUPS and cups-pdf are installed, a label goes through a real print queue too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from certline.app.batch.events import EventBus
from certline.app.batch.journal import Journal
from certline.app.labels.content import content_for_device
from certline.app.labels.hook import LabelPrinting
from certline.app.labels.layout import layout_label
from certline.app.labels.settings import LabelSettings
from tests.labels.conftest import add_done_unit, decode_qr, new_batch, pdf_to_png

pytest.importorskip("PySide6.QtPrintSupport")


def test_qt_printing_paints_a_readable_label(journal: Journal, tmp_path: Path, qapp: object) -> None:
    from certline.ui.plumbing.label_printer import write_pdf_proof

    device = add_done_unit(journal, new_batch(journal, None), "CL-QT-1")
    layout = layout_label(content_for_device(journal, device), LabelSettings.from_json({"output": "system"}))
    pdf = tmp_path / "qt-label.pdf"
    write_pdf_proof(layout, pdf)
    [text] = decode_qr(pdf_to_png(pdf, tmp_path))
    assert json.loads(text)["sn"] == "CL-QT-1"
    assert json.loads(text)["not_after"] == "2027-12-03"


def test_a_missing_system_printer_is_a_clear_error(journal: Journal, qapp: object) -> None:
    from certline.ui.plumbing.label_printer import QtPrinterSink

    device = add_done_unit(journal, new_batch(journal, None), "CL-QT-2")
    layout = layout_label(content_for_device(journal, device), LabelSettings.from_json({"output": "system"}))
    with pytest.raises(OSError, match="no-such-printer"):
        QtPrinterSink("no-such-printer").send(layout, "CL-QT-2")


CUPS_PDF_PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
QUEUE = "certline-labels-test"


def _scheduler_running() -> bool:
    done = subprocess.run(["lpstat", "-r"], capture_output=True, text=True, timeout=10, check=False)
    return "is running" in done.stdout and "not running" not in done.stdout


@pytest.fixture
def cups_pdf_queue() -> str:
    """A real CUPS queue with the cups-pdf backend (scripts/setup.sh test installs both)."""
    if shutil.which("lpadmin") is None or not CUPS_PDF_PPD.is_file():
        pytest.skip("CUPS with printer-driver-cups-pdf is not installed")
    if not _scheduler_running():
        if os.geteuid() != 0 or not Path("/usr/sbin/cupsd").is_file():
            pytest.skip("the CUPS scheduler is not running")
        subprocess.run(["/usr/sbin/cupsd"], check=True, timeout=30)  # daemonises; exits when idle
        for _ in range(50):
            if _scheduler_running():
                break
            time.sleep(0.1)
    subprocess.run(
        ["lpadmin", "-p", QUEUE, "-E", "-v", "cups-pdf:/", "-P", str(CUPS_PDF_PPD)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return QUEUE


def test_a_label_printed_through_a_real_cups_queue_scans(
    journal: Journal, tmp_path: Path, qapp: object, cups_pdf_queue: str
) -> None:
    """The window's path: the hook's thread → QtPrinterSink → CUPS → cups-pdf writes ~/PDF; zbar reads it."""
    from certline.ui.plumbing.label_printer import QtPrinterSink

    serial = f"CL-CUPS-{uuid.uuid4().hex[:8]}"
    bus = EventBus()
    hook = LabelPrinting(journal, bus, system_sink=QtPrinterSink)
    try:
        batch = new_batch(journal, {"output": "system", "target": cups_pdf_queue})
        device = add_done_unit(journal, batch, serial)
        bus.publish(journal.device(device))
        assert hook.wait_idle(30)
    finally:
        hook.close()
    assert hook.printed == {device: f"system printer {cups_pdf_queue}"}, hook.failed
    out_dir = Path.home() / "PDF"  # cups-pdf.conf: Out ${HOME}/PDF
    deadline = time.monotonic() + 60
    printed: list[Path] = []
    while not printed and time.monotonic() < deadline:
        printed = list(out_dir.glob(f"{serial}*.pdf")) if out_dir.is_dir() else []
        time.sleep(0.2)
    assert printed, f"cups-pdf wrote no {serial}*.pdf into {out_dir}"
    time.sleep(0.5)  # cups-pdf renames the finished file into place; let it settle
    [text] = decode_qr(pdf_to_png(printed[0], tmp_path))
    assert json.loads(text)["sn"] == serial
    printed[0].unlink()


def test_the_profile_editor_keeps_the_label_settings(qapp: object) -> None:
    from certline.app.config.profile import Profile
    from certline.ui.profiles.form import ProfileForm

    labels = {"output": "zpl", "target": "10.0.0.7", "template": ["{serial}"]}
    form = ProfileForm()
    form.load(Profile(name="line-a", enroll_url="https://est.example/.well-known/est", label_printing=labels))
    assert form.profile().label_printing == labels
