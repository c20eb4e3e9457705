"""ZPL II for network label printers, and sending it raw over TCP (port 9100).

The QR code is drawn by the printer (``^BQN``, error correction M) from the same
payload as the PDF/PNG, so it prints at the printer's native resolution. Field
data goes through ``^FH`` hex escapes, so a serial number holding ``^`` or ``~``
cannot end a field or inject printer commands; ``^CI28`` makes the text UTF-8.
"""

from __future__ import annotations

import socket
import time

from certline.app.labels.layout import LabelLayout

#: 203 dpi, the resolution of most thermal label printers
DOTS_PER_MM = 8
#: an unresponsive printer must not hold a label forever (every network request has a deadline)
DEFAULT_DEADLINE_S = 10.0


class LabelPrinterError(OSError):
    """The label printer at host:port could not take the label (message names it)."""


def _field(text: str) -> str:
    """``^FH\\`` field data: printable ASCII as is, everything else (and ^ ~ \\) as \\XX hex bytes."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if 0x20 <= byte < 0x7F and char not in "^~\\":
            out.append(char)
        else:
            out.append(f"\\{byte:02X}")
    return "".join(out)


def _dots(mm: float) -> int:
    return max(round(mm * DOTS_PER_MM), 0)


def render_zpl(layout: LabelLayout) -> bytes:
    modules = len(layout.qr_modules)
    magnification = max(1, min(10, _dots(layout.qr_size_mm) // modules))
    quiet = _dots(layout.module_mm * 4)
    commands = [
        "^XA",
        "^CI28",
        f"^PW{_dots(layout.width_mm)}",
        f"^LL{_dots(layout.height_mm)}",
        f"^FO{_dots(layout.qr_x_mm) + quiet},{_dots(layout.qr_y_mm) + quiet}",
        f"^BQN,2,{magnification}",
        f"^FH\\^FDMA,{_field(layout.qr_payload)}^FS",
    ]
    font = max(_dots(layout.font_height_mm), 10)
    for index, line in enumerate(layout.lines):
        top = _dots(layout.text_y_mm + index * layout.line_height_mm)
        commands.append(f"^FO{_dots(layout.text_x_mm)},{top}^A0N,{font},0^FH\\^FD{_field(line)}^FS")
    commands.append("^XZ")
    return ("\n".join(commands) + "\n").encode("ascii")


def send_raw(host: str, port: int, data: bytes, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
    """Connect, send everything and close, all within ``deadline_s`` seconds overall."""
    where = f"{host}:{port}"
    end = time.monotonic() + deadline_s

    def remaining() -> float:
        left = end - time.monotonic()
        if left <= 0:
            raise LabelPrinterError(f"label printer {where}: no answer within {deadline_s:g} s")
        return left

    try:
        with socket.create_connection((host, port), timeout=remaining()) as sock:
            view = memoryview(data)
            while view:
                sock.settimeout(remaining())
                sent = sock.send(view)
                view = view[sent:]
            sock.shutdown(socket.SHUT_WR)
    except LabelPrinterError:
        raise
    except TimeoutError:
        raise LabelPrinterError(f"label printer {where}: no answer within {deadline_s:g} s") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise LabelPrinterError(f"label printer {where}: {reason}") from None
