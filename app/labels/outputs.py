"""Where a label goes: a PDF file in a folder, a ZPL printer on the network, or the system printer.

A sink takes a finished :class:`LabelLayout` and returns a short description of
where the label went (for the log and the audit). The system printer sink lives
in ``ui/plumbing/label_printer.py`` (Qt); ``app/`` only knows its interface.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from certline.app.labels.layout import LabelLayout
from certline.app.labels.render import render_pdf
from certline.app.labels.settings import LabelOutput, LabelSettings, parse_host_port
from certline.app.labels.zpl import DEFAULT_DEADLINE_S, render_zpl, send_raw


class LabelSink(Protocol):
    def send(self, layout: LabelLayout, name: str) -> str:
        """Print or save one label; ``name`` is a file-safe stem. Raises OSError on failure."""
        ...


#: builds the system-printer sink for a printer name ("" = the default printer); given by ui/
SystemSinkFactory = Callable[[str], LabelSink]


def safe_stem(text: str) -> str:
    """A file name from a serial number: letters, digits, dot, dash, underscore only."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).strip(".") or "label"


def write_atomically(path: Path, data: bytes) -> None:
    """Temporary file in the same folder, fsync, rename: a reader never sees half a PDF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name, suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; a label is no secret and a print watcher must read it
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class PdfFolderSink:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, layout: LabelLayout, name: str) -> str:
        path = self.folder / f"{name}.pdf"
        write_atomically(path, render_pdf(layout))
        return str(path)


class ZplSink:
    def __init__(self, host: str, port: int, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        self.host, self.port, self.deadline_s = host, port, deadline_s

    def send(self, layout: LabelLayout, name: str) -> str:
        send_raw(self.host, self.port, render_zpl(layout), self.deadline_s)
        return f"ZPL printer {self.host}:{self.port}"


class SystemPrinterUnavailable(OSError):
    """The profile asks for the system printer where there is no Qt (the CLI)."""


def sink_for(settings: LabelSettings, system_sink: SystemSinkFactory | None = None) -> LabelSink:
    if settings.output is LabelOutput.PDF:
        return PdfFolderSink(Path(settings.target).expanduser())
    if settings.output is LabelOutput.ZPL:
        return ZplSink(*parse_host_port(settings.target))
    if system_sink is None:
        raise SystemPrinterUnavailable(
            "the system printer output prints from the station window (certline-gui) only; "
            "from the command line use 'certline label print --out DIR' or '--zpl HOST:PORT'"
        )
    return system_sink(settings.target)
