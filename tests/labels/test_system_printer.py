"""The system-printer path (ui/label_printer.py): Qt paints the same layout; zbar reads its QR code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.batch.journal import Journal
from app.labels.content import content_for_device
from app.labels.layout import layout_label
from app.labels.settings import LabelSettings
from tests.labels.conftest import add_done_unit, decode_qr, new_batch, pdf_to_png

pytest.importorskip("PySide6.QtPrintSupport")


def test_qt_printing_paints_a_readable_label(journal: Journal, tmp_path: Path, qapp: object) -> None:
    from ui.label_printer import write_pdf_proof

    device = add_done_unit(journal, new_batch(journal, None), "CL-QT-1")
    layout = layout_label(content_for_device(journal, device), LabelSettings.from_json({"output": "system"}))
    pdf = tmp_path / "qt-label.pdf"
    write_pdf_proof(layout, pdf)
    [text] = decode_qr(pdf_to_png(pdf, tmp_path))
    assert json.loads(text)["sn"] == "CL-QT-1"
    assert json.loads(text)["not_after"] == "2027-12-03"


def test_a_missing_system_printer_is_a_clear_error(journal: Journal, qapp: object) -> None:
    from ui.label_printer import QtPrinterSink

    device = add_done_unit(journal, new_batch(journal, None), "CL-QT-2")
    layout = layout_label(content_for_device(journal, device), LabelSettings.from_json({"output": "system"}))
    with pytest.raises(OSError, match="no-such-printer"):
        QtPrinterSink("no-such-printer").send(layout, "CL-QT-2")
