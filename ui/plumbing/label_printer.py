"""The system printer for unit labels: Qt's printing support drawing the core's label layout.

A thin adapter: :class:`certline.app.labels.layout.LabelLayout` says where every QR
module and text line goes (in mm); this module paints exactly that with a
QPainter on a QPrinter (the OS print queue, CUPS on Linux) or, for proofs, on
a QPrinter writing a PDF file. It runs on the label-printing thread (QPainter
on a QPrinter is allowed off the GUI thread), never on the GUI thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QPageLayout, QPageSize, QPainter
from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

from certline.app.labels.layout import LabelLayout


def paint_label(painter: QPainter, layout: LabelLayout, dots_per_mm: float) -> None:
    """Draw the layout with ``dots_per_mm`` device pixels per millimetre, origin at the label's corner."""
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0))
    module = layout.module_mm * dots_per_mm
    x0, y0 = layout.qr_x_mm * dots_per_mm, layout.qr_y_mm * dots_per_mm
    for row, col, length in layout.dark_runs():
        painter.drawRect(QRectF(x0 + col * module, y0 + row * module, length * module, module))
    font = QFont("DejaVu Sans")
    font.setStyleHint(QFont.StyleHint.SansSerif)
    font.setPixelSize(max(round(layout.font_height_mm * dots_per_mm), 1))
    painter.setFont(font)
    painter.setPen(QColor(0, 0, 0))
    for index, line in enumerate(layout.lines):
        top = (layout.text_y_mm + index * layout.line_height_mm) * dots_per_mm
        box = QRectF(
            layout.text_x_mm * dots_per_mm,
            top,
            (layout.width_mm - layout.text_x_mm) * dots_per_mm,
            layout.line_height_mm * dots_per_mm,
        )
        painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, line)


def _page_printer(layout: LabelLayout, printer: QPrinter) -> None:
    size = QPageSize(QSizeF(layout.width_mm, layout.height_mm), QPageSize.Unit.Millimeter, "Label")
    portrait, millimetre = QPageLayout.Orientation.Portrait, QPageLayout.Unit.Millimeter
    printer.setPageLayout(QPageLayout(size, portrait, QMarginsF(0, 0, 0, 0), millimetre))
    printer.setFullPage(True)


def _print(layout: LabelLayout, printer: QPrinter, what: str) -> None:
    _page_printer(layout, printer)
    painter = QPainter()
    if not painter.begin(printer):
        raise OSError(f"{what}: the printer cannot start a job")
    try:
        paint_label(painter, layout, printer.resolution() / 25.4)
    finally:
        if not painter.end():
            raise OSError(f"{what}: the print job failed")


class QtPrinterSink:
    """``label_printing.output = "system"``: the named OS printer, or the default one for ""."""

    def __init__(self, printer_name: str = "") -> None:
        self.printer_name = printer_name

    def send(self, layout: LabelLayout, name: str) -> str:
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        target = self.printer_name or QPrinterInfo.defaultPrinterName()
        if not target or QPrinterInfo.printerInfo(target).isNull():
            raise OSError(f"system printer {target or '(default)'!r} not found")
        printer.setPrinterName(target)
        printer.setDocName(name)
        _print(layout, printer, f"system printer {target!r}")
        return f"system printer {target}"


def write_pdf_proof(layout: LabelLayout, path: Path) -> None:
    """The same painting into a PDF file (what the system printer would get), for proofs and tests."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    _print(layout, printer, f"PDF {path}")
