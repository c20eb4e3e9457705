"""packaging/check_bundle.py --drop-unlinked: libraries nothing loads leave the bundle, the rest stay.

The fake bundle is made of real ELF files from this system (readelf reads their NEEDED).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "certline_check_bundle", ROOT / "packaging" / "check_bundle.py"
)
assert _spec is not None and _spec.loader is not None
check_bundle = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = check_bundle
_spec.loader.exec_module(check_bundle)

LIBDIR = Path("/usr/lib/x86_64-linux-gnu")
pytestmark = pytest.mark.skipif(
    not (
        shutil.which("readelf")
        and (LIBDIR / "libpng16.so.16").is_file()
        and (LIBDIR / "libexpat.so.1").is_file()
    ),
    reason="needs readelf and Debian's x86-64 libpng16/libexpat as sample ELF files",
)


def test_only_libraries_nothing_needs_are_dropped(tmp_path):
    internal = tmp_path / "certline" / "_internal"
    (internal / "PySide6" / "Qt" / "plugins" / "platforms").mkdir(parents=True)
    # an extension module that NEEDs libz (libpng16 does), loaded by path: stays, keeps libz
    shutil.copy(LIBDIR / "libpng16.so.16", internal / "_png.cpython-311-x86_64-linux-gnu.so")
    shutil.copy(LIBDIR / "libz.so.1", internal / "libz.so.1")
    # a Qt plugin nothing NEEDs: loaded by path, stays
    shutil.copy(
        LIBDIR / "libexpat.so.1", internal / "PySide6" / "Qt" / "plugins" / "platforms" / "libqfake.so"
    )
    # unlinked: expat, and libpng16 (only it NEEDed by nobody) -- both go
    shutil.copy(LIBDIR / "libexpat.so.1", internal / "libexpat.so.1")
    shutil.copy(LIBDIR / "libpng16.so.16", internal / "libpng16.so.16")
    (internal / "libpng16.so").symlink_to("libpng16.so.16")
    # dlopened by name
    shutil.copy(LIBDIR / "libexpat.so.1", internal / "libpython3.11.so.1.0")

    dropped = dict(check_bundle.drop_unlinked(tmp_path / "certline"))
    assert set(dropped) == {"_internal/libexpat.so.1", "_internal/libpng16.so.16"}
    remaining = {p.name for p in internal.rglob("*")}
    assert {
        "libz.so.1",
        "_png.cpython-311-x86_64-linux-gnu.so",
        "libqfake.so",
        "libpython3.11.so.1.0",
    } <= remaining
    assert "libpng16.so" not in remaining  # the dangling alias went too
    assert check_bundle.unlinked(tmp_path / "certline") == []


def test_a_library_freed_by_a_drop_goes_in_the_next_round(tmp_path):
    internal = tmp_path / "certline" / "_internal"
    internal.mkdir(parents=True)
    shutil.copy(LIBDIR / "libpng16.so.16", internal / "libpng16.so.16")  # unlinked, NEEDs libz
    shutil.copy(LIBDIR / "libz.so.1", internal / "libz.so.1")  # only libpng16 wanted it
    dropped = [name for name, _ in check_bundle.drop_unlinked(tmp_path / "certline")]
    assert dropped == ["_internal/libpng16.so.16", "_internal/libz.so.1"]
