"""packaging/licenses.py: every bundled component ships its licence text, or the build stops."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("certline_licenses", ROOT / "packaging" / "licenses.py")
assert _spec is not None and _spec.loader is not None
licenses = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = licenses  # dataclasses look their module up while the class is built
_spec.loader.exec_module(licenses)


def make_distribution(
    site: Path, name: str, *, requires: tuple[str, ...] = (), license_text: str | None
) -> None:
    """A minimal installed distribution (.dist-info with METADATA and RECORD) under ``site``."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    meta = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0", "License-Expression: MIT"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    record = [f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    if license_text is not None:
        (info / "LICENSE").write_text(license_text)
        record.append(f"{info.name}/LICENSE,,")
    (info / "RECORD").write_text("\n".join(record) + "\n")


def test_the_real_bundle_closure_has_every_licence(tmp_path):
    out = tmp_path / "licenses"
    assert licenses.main([str(out)]) == 0
    index = (out / "THIRD-PARTY-LICENSES.txt").read_text()
    assert "MISSING" not in index
    # the three the issue names: Qt for Python (LGPL-3), tlslite-ng (LGPL-2.1), and the interpreter
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (out / "pyside6-essentials" / "LGPL-3.0.txt").read_text()
    assert "Version 2.1" in (out / "tlslite-ng" / "LGPL-2.1.txt").read_text()
    assert (out / "tlslite-ng" / "LICENSE").is_file()
    assert "PYTHON SOFTWARE FOUNDATION" in (out / "python" / "LICENSE.txt").read_text().upper()
    for name in ("keyring", "cryptography", "pyserial", "requests", "platformdirs", "shiboken6", "certline"):
        assert any((out / name).iterdir()), name


def test_a_distribution_without_licence_text_stops_the_build(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    make_distribution(
        site, "fake-app", requires=("fake-nolicense", 'fake-devtool; extra == "test"'), license_text="MIT"
    )
    make_distribution(site, "fake-nolicense", license_text=None)
    monkeypatch.syspath_prepend(str(site))
    assert licenses.main([str(tmp_path / "out"), "--root", "fake-app"]) == 1
    err = capsys.readouterr().err
    assert "MISSING fake-nolicense 1.0: no licence text" in err
    assert "fake-app" not in err.replace("--root fake-app", "")  # it has its LICENSE
    assert "fake-devtool" not in err  # extras are not bundled


def test_with_licence_text_the_same_closure_passes(tmp_path, monkeypatch):
    site = tmp_path / "site"
    make_distribution(site, "fake-app", requires=("fake-lib",), license_text="MIT")
    make_distribution(site, "fake-lib", license_text="BSD")
    monkeypatch.syspath_prepend(str(site))
    out = tmp_path / "out"
    assert licenses.main([str(out), "--root", "fake-app"]) == 0
    assert (out / "fake-lib" / "LICENSE").read_text() == "BSD"


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="native libraries are traced with dpkg")
def test_a_bundled_system_library_needs_its_package_copyright(tmp_path):
    bundle = tmp_path / "certline"
    (bundle / "_internal" / "PySide6" / "Qt" / "lib").mkdir(parents=True)
    (bundle / "_internal" / "PySide6" / "Qt" / "lib" / "libQt6Core.so.6").write_bytes(b"")
    (bundle / "_internal" / "libz.so.1").write_bytes(b"")  # zlib1g on Debian
    (bundle / "_internal" / "libcertline-nowhere.so.3").write_bytes(b"")
    components = [licenses.Component("PySide6_Essentials", "6", "LGPL-3.0-only", [("x", b"x")])]
    native, unexplained = licenses.native_components(bundle, components)
    assert unexplained == ["_internal/libcertline-nowhere.so.3"]
    zlib = next(c for c in native if c.name.startswith("zlib1g"))
    assert zlib.files and zlib.files[0][0] == "copyright"


def test_the_python_component_is_the_interpreters_licence():
    component = licenses.python_component()
    assert component.version == sys.version.split()[0] and component.files


def test_links_into_a_distribution_and_the_stdlib_count_as_covered(tmp_path):
    """PyInstaller's layout: top-level links into PySide6/, the stdlib in python3.X/lib-dynload."""
    internal = tmp_path / "certline" / "_internal"
    qt_lib = internal / "PySide6" / "Qt" / "lib"
    qt_lib.mkdir(parents=True)
    (qt_lib / "libQt6Core.so.6").write_bytes(b"")
    (internal / "libQt6Core.so.6").symlink_to("PySide6/Qt/lib/libQt6Core.so.6")
    (internal / "python3.11" / "lib-dynload").mkdir(parents=True)
    (internal / "python3.11" / "lib-dynload" / "_ssl.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    components = [licenses.Component("PySide6_Essentials", "6", "LGPL-3.0-only", [("x", b"x")])]
    native, unexplained = licenses.native_components(
        tmp_path / "certline", components, owner=lambda name: None
    )
    assert (native, unexplained) == ([], [])


def test_an_extra_we_depend_on_brings_its_distributions(tmp_path, monkeypatch):
    """``psycopg[binary]`` bundles psycopg-binary's library: its licence must come along."""
    site = tmp_path / "site"
    make_distribution(site, "fake-app", requires=("fake-db[binary]>=1",), license_text="MIT")
    make_distribution(
        site,
        "fake-db",
        requires=('fake-db-binary; extra == "binary"', 'fake-pool; extra == "pool"'),
        license_text="LGPL",
    )
    make_distribution(site, "fake-db-binary", license_text="LGPL binary")
    monkeypatch.syspath_prepend(str(site))
    names = [d.metadata["Name"] for d in licenses.runtime_distributions("fake-app")]
    assert names == ["fake-app", "fake-db", "fake-db-binary"]  # not the extra nobody asked for
