"""One label layout in millimetres, shared by every output (PDF, PNG, ZPL and the Qt printer).

The QR code sits on the left with its 4-module quiet zone (ISO/IEC 18004), the
text lines on the right, sized so the longest line fits. Every renderer draws
this same geometry, so a PDF proof, a system-printer print and a ZPL label look alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno

from certline.app.labels.content import LabelContent
from certline.app.labels.settings import LabelSettings

MARGIN_MM = 1.5
GAP_MM = 1.5
QUIET_ZONE_MODULES = 4
#: average advance of a character as a fraction of the font height (Helvetica ≈ 0.55,
#: DejaVu Sans capitals ≈ 0.7); a little generous so the longest line never runs off the label
CHAR_WIDTH_EM = 0.72
MAX_LINE_HEIGHT_MM = 5.0
PT_PER_MM = 72 / 25.4


@dataclass(frozen=True)
class LabelLayout:
    width_mm: float
    height_mm: float
    qr_payload: str
    qr_modules: tuple[tuple[bool, ...], ...]
    """Dark (True) and light modules, quiet zone included."""
    qr_x_mm: float
    qr_y_mm: float
    qr_size_mm: float
    text_x_mm: float
    text_y_mm: float
    """Top of the first text line."""
    line_height_mm: float
    font_height_mm: float
    lines: tuple[str, ...]

    @property
    def module_mm(self) -> float:
        return self.qr_size_mm / len(self.qr_modules)

    @property
    def font_size_pt(self) -> float:
        return self.font_height_mm * PT_PER_MM

    def dark_runs(self) -> list[tuple[int, int, int]]:
        """Horizontal runs of dark modules as (row, first column, length): few shapes to draw."""
        runs: list[tuple[int, int, int]] = []
        for y, row in enumerate(self.qr_modules):
            x = 0
            while x < len(row):
                if row[x]:
                    start = x
                    while x < len(row) and row[x]:
                        x += 1
                    runs.append((y, start, x - start))
                else:
                    x += 1
        return runs


def qr_matrix(payload: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code of ``payload`` (error correction M, byte mode) from segno, with quiet zone."""
    code = segno.make_qr(payload, error="m", boost_error=False)
    return tuple(tuple(bool(m) for m in row) for row in code.matrix_iter(scale=1, border=QUIET_ZONE_MODULES))


def layout_label(content: LabelContent, settings: LabelSettings) -> LabelLayout:
    width, height = settings.width_mm, settings.height_mm
    payload = content.qr_payload()
    modules = qr_matrix(payload)
    qr_size = min(height - 2 * MARGIN_MM, width * 0.45)
    lines = content.render_lines(settings.template)
    text_x = MARGIN_MM + qr_size + GAP_MM
    text_width = max(width - text_x - MARGIN_MM, 1.0)
    usable_height = height - 2 * MARGIN_MM
    line_height = min(usable_height / max(len(lines), 1), MAX_LINE_HEIGHT_MM)
    longest = max((len(line) for line in lines), default=1) or 1
    font_height = min(line_height * 0.8, text_width / (longest * CHAR_WIDTH_EM))
    text_block = line_height * len(lines)
    return LabelLayout(
        width_mm=width,
        height_mm=height,
        qr_payload=payload,
        qr_modules=modules,
        qr_x_mm=MARGIN_MM,
        qr_y_mm=(height - qr_size) / 2,
        qr_size_mm=qr_size,
        text_x_mm=text_x,
        text_y_mm=(height - text_block) / 2,
        line_height_mm=line_height,
        font_height_mm=font_height,
        lines=lines,
    )
