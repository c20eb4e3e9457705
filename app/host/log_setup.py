"""Logging set-up for the CLI and the GUI. Every handler gets the redaction filter.

Where logs go:

* ``station_paths().logs / "certline.log"`` -- rotating (5 x 2 MB kept), owner-only
  files in an owner-only directory, because a station log names devices,
  servers and operators even when it names no secret. Always INFO and above
  (DEBUG with ``-vv``): the file is what support asks for after the fact.
* stderr for the CLI (WARNING by default, ``-v`` INFO, ``-vv`` DEBUG).
* the GUI adds its own view handler with :func:`attach_handler`.

Only handlers installed here are ever removed on re-configuration, so test
harnesses (pytest's ``caplog``) and embedding applications keep theirs.
If the log directory cannot be written the program still runs, with a
warning on stderr: losing the log file must not stop a provisioning batch.
"""

from __future__ import annotations

import datetime
import io
import logging
import logging.handlers
import os
import platform
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import cast

from certline.app.config.paths import ensure_private_dir, station_paths
from certline.app.security.redaction import RedactingFilter, scrub

LOG_FILE_NAME = "certline.log"
LOG_MAX_BYTES = 2 * 1024 * 1024
LOG_BACKUPS = 5
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(process)d %(threadName)s %(name)s: %(message)s"

_OWNED = "_certline_handler"  # attribute marking the handlers this module installed

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files are created 0600, including after each rollover."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if os.name == "posix":
            os.fchmod(fd, 0o600)  # an older file may have been created with the umask
        return cast(io.TextIOWrapper, open(fd, self.mode, encoding=self.encoding, errors=self.errors))


def attach_handler(handler: logging.Handler, logger: logging.Logger | None = None) -> None:
    """Add ``handler`` (with the redaction filter) to ``logger`` (root by default).

    The GUI's log view and any other extra handler must come in through here:
    a handler without the filter would show secrets that a library logged.
    """
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
    (logger or logging.getLogger()).addHandler(handler)


def log_file_path() -> Path:
    return station_paths().logs / LOG_FILE_NAME


def reset_logging() -> None:
    """Remove and close the handlers installed by this module (re-configuration, tests)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OWNED, False):
            root.removeHandler(handler)
            handler.close()


def _own(handler: logging.Handler) -> logging.Handler:
    setattr(handler, _OWNED, True)
    handler.addFilter(RedactingFilter())
    logging.getLogger().addHandler(handler)
    return handler


def _file_handler(level: int) -> Path | None:
    path = log_file_path()
    try:
        ensure_private_dir(path.parent)
        handler = PrivateRotatingFileHandler(
            path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError as exc:
        print(f"certline: warning: cannot write the log file {path}: {exc.strerror}", file=sys.stderr)
        return None
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    _own(handler)
    return path


def _stream_handler(level: int, fmt: str) -> None:
    if sys.stderr is None:  # GUI started without a console (pythonw, frozen app)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(fmt))
    _own(handler)


def _configure_root(level: int) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    logging.captureWarnings(True)


def configure_cli_logging(verbosity: int) -> Path | None:
    """stderr by ``-v`` count plus the rotating file; returns the log file (None if unwritable)."""
    console = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    file_level = logging.DEBUG if verbosity >= 2 else logging.INFO
    reset_logging()
    _configure_root(min(console, file_level))
    _stream_handler(console, "%(levelname)s %(name)s: %(message)s")
    return _file_handler(file_level)


def configure_gui_logging(*, debug: bool = False) -> Path | None:
    """The rotating file (plus warnings on stderr when there is one); the GUI adds its view.

    Returns the log file path so the GUI can offer "open log folder".
    """
    file_level = logging.DEBUG if debug else logging.INFO
    reset_logging()
    _configure_root(file_level)
    _stream_handler(logging.WARNING, "%(levelname)s %(name)s: %(message)s")
    return _file_handler(file_level)


def write_crash_report(exc_info: ExcInfo | None = None) -> Path:
    """Write a redacted crash report next to the logs and return its path.

    Used by the CLI and GUI excepthooks. Contains versions, the (scrubbed)
    command line and traceback, and the tail of the current log file -- all
    passed through ``scrub`` because a traceback's message can quote anything.
    Falls back to the temporary directory when the log directory is unwritable.
    """
    if exc_info is None:
        current = sys.exc_info()
        if current[0] is None or current[1] is None:
            raise ValueError("write_crash_report() needs exc_info outside an except block")
        exc_info = (current[0], current[1], current[2])
    from certline.app import __version__

    now = datetime.datetime.now(datetime.UTC)
    lines = [
        f"Certline {__version__} crash report",
        f"time: {now.isoformat(timespec='seconds')}",
        f"python: {platform.python_version()} ({sys.executable})",
        f"platform: {platform.platform()}",
        f"argv: {' '.join(sys.argv)}",
        "",
        "".join(traceback.format_exception(*exc_info)),
    ]
    tail = _log_tail(log_file_path(), 60)
    if tail:
        lines += ["", f"last lines of {log_file_path()}:", tail]
    text = scrub("\n".join(lines))
    name = f"crash-{now.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for directory in (station_paths().logs, None):
        try:
            if directory is None:
                import tempfile

                directory = Path(tempfile.gettempdir())
            else:
                ensure_private_dir(directory)
            path = directory / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            return path
        except OSError:
            continue
    raise OSError(f"cannot write crash report {name} to the log or temporary directory")


def _log_tail(path: Path, count: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-count:])


def install_cli_excepthook() -> None:
    """On an unexpected exception: write a crash report, print one scrubbed line and its path."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        logging.getLogger("certline.crash").critical("unexpected error", exc_info=(exc_type, exc, tb))
        try:
            path: Path | str = write_crash_report((exc_type, exc, tb))
        except OSError as err:
            path = f"(not written: {err})"
        message = scrub("".join(traceback.format_exception_only(exc_type, exc)).strip())
        print(f"certline: internal error: {message}\ncrash report: {path}", file=sys.stderr)

    sys.excepthook = hook
