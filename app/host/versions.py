"""Versions of Certline and of the native libraries it runs on, for support and security review.

A frozen bundle carries its own Python, OpenSSL, SQLite, zlib and expat (and Qt): when a
security advisory names one of them, IT needs to know which version a station runs.
``certline --version --verbose`` prints :func:`component_versions`; the support bundle
stores it in ``about.json``.

Qt-free on purpose: Qt's version is taken from an already loaded ``PySide6.QtCore`` (the
station window), else from the installed PySide6 distribution's metadata, so the CLI never
loads QtCore (and ICU with it) just to print a version.
"""

from __future__ import annotations

import platform
import sqlite3
import ssl
import sys
import zlib
from importlib import metadata

from certline.app import __version__


def _qt_version() -> str:
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is not None:
        return (
            f"{qtcore.qVersion()} (PySide6 {getattr(sys.modules.get('PySide6'), '__version__', '?')}, loaded)"
        )
    try:
        return f"PySide6 {metadata.version('PySide6-Essentials')} (not loaded)"
    except metadata.PackageNotFoundError:
        return "not installed"


def _cryptography_openssl() -> str:
    try:
        from cryptography.hazmat.backends.openssl.backend import backend

        return str(backend.openssl_version_text())
    except Exception as exc:  # noqa: BLE001 - a version report never fails the command
        return f"unknown ({type(exc).__name__})"


def component_versions() -> dict[str, str]:
    """Name -> version of Certline, the interpreter and the native libraries it uses."""
    import pyexpat

    how = "frozen bundle" if getattr(sys, "frozen", False) else "Python environment"
    return {
        "certline": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()}, {how})",
        "openssl (Python ssl)": ssl.OPENSSL_VERSION,
        "openssl (cryptography)": _cryptography_openssl(),
        "sqlite": sqlite3.sqlite_version,
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
        "expat": pyexpat.EXPAT_VERSION,
        "qt": _qt_version(),
        "platform": f"{platform.platform()} {platform.machine()}",
    }


def verbose_version_text() -> str:
    versions = component_versions()
    width = max(len(name) for name in versions)
    lines = [f"certline {versions.pop('certline')}"]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in versions.items()]
    return "\n".join(lines)
