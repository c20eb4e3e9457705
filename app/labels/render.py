"""Render a :class:`LabelLayout` as PDF (fpdf2) or PNG (Pillow), without Qt.

fpdf2 is a small, maintained, pure-Python PDF writer; it lets the CLI and the
after-DONE hook write PDF labels on a station without a display (Qt's
QPdfWriter would need a Qt application in ``app/``, which never imports Qt).
Text uses the PDF core font Helvetica (Latin-1); other characters print as '?'.

fpdf2 and Pillow are imported when a label is rendered, not when this module is: fpdf2 pulls in
numpy when it is installed (the Statistics view brings it), which would add a quarter of a
second to every start of the station window and of the CLI.
"""

from __future__ import annotations

import io

from certline.app.labels.layout import LabelLayout


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(layout: LabelLayout) -> bytes:
    """One page of exactly the label's size (what label printer drivers expect)."""
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format=(layout.width_mm, layout.height_mm))
    pdf.set_margins(0, 0, 0)
    pdf.set_auto_page_break(False)
    pdf.set_creator("Certline")
    pdf.set_title(f"Label {layout.lines[0] if layout.lines else ''}")
    pdf.add_page()
    pdf.set_fill_color(0, 0, 0)
    module = layout.module_mm
    for row, col, length in layout.dark_runs():
        pdf.rect(
            layout.qr_x_mm + col * module, layout.qr_y_mm + row * module, length * module, module, style="F"
        )
    pdf.set_font("Helvetica", size=layout.font_size_pt)
    for index, line in enumerate(layout.lines):
        baseline = layout.text_y_mm + index * layout.line_height_mm + layout.font_height_mm * 0.8
        pdf.text(layout.text_x_mm, baseline, _latin1(line))
    return bytes(pdf.output())


def render_png(layout: LabelLayout, dpi: int = 300) -> bytes:
    """A bitmap proof of the label (previews, docs, and decoding the QR code in tests)."""
    from PIL import Image, ImageDraw, ImageFont

    scale = dpi / 25.4
    image = Image.new("L", (round(layout.width_mm * scale), round(layout.height_mm * scale)), 255)
    draw = ImageDraw.Draw(image)
    module = layout.module_mm * scale
    x0, y0 = layout.qr_x_mm * scale, layout.qr_y_mm * scale
    for row, col, length in layout.dark_runs():
        draw.rectangle(
            (
                round(x0 + col * module),
                round(y0 + row * module),
                round(x0 + (col + length) * module) - 1,
                round(y0 + (row + 1) * module) - 1,
            ),
            fill=0,
        )
    font = ImageFont.load_default(size=max(layout.font_height_mm * scale, 6))
    for index, line in enumerate(layout.lines):
        top = (layout.text_y_mm + index * layout.line_height_mm) * scale
        draw.text((layout.text_x_mm * scale, top), line, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()
