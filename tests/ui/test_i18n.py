"""German translation: complete, in step with the code, compiled, and actually used by the window."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt

from certline.ui.plumbing.i18n import install_translators, remove_translators, resolve_language
from certline.ui.plumbing.resources import translation_dir

ROOT = Path(__file__).resolve().parents[2]
TS = translation_dir() / "certline_de.ts"
QM = translation_dir() / "certline_de.qm"


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def messages(ts: Path) -> dict[tuple[str, str], ET.Element]:
    root = ET.parse(ts).getroot()
    return {
        (ctx.findtext("name"), msg.findtext("source")): msg.find("translation")
        for ctx in root.iter("context")
        for msg in ctx.iter("message")
    }


@pytest.fixture
def german(qapp):
    install_translators(qapp, "de")
    yield qapp
    remove_translators(qapp)


def test_every_string_has_a_german_translation():
    translations = messages(TS)
    unfinished = [key for key, t in translations.items() if t.get("type") == "unfinished"]
    assert translations and not unfinished


def test_translation_file_is_in_step_with_the_code(tmp_path):
    fresh = tmp_path / "fresh.ts"
    sources = sorted(str(p) for p in (ROOT / "ui").rglob("*.py"))
    subprocess.run([_tool("pyside6-lupdate"), *sources, "-ts", str(fresh)], check=True, capture_output=True)
    assert set(messages(fresh)) == set(messages(TS)), "run pyside6-lupdate (see ui/plumbing/i18n.py)"


def test_compiled_translation_matches_the_source(tmp_path):
    compiled = tmp_path / "de.qm"
    subprocess.run(
        [_tool("pyside6-lrelease"), str(TS), "-qm", str(compiled)], check=True, capture_output=True
    )
    assert compiled.read_bytes() == QM.read_bytes(), "run pyside6-lrelease (see ui/plumbing/i18n.py)"


def test_german_is_loaded_and_used_by_the_window(german, qtbot, station, ui_settings):
    from certline.ui.station.window import MainWindow

    assert QCoreApplication.translate("DeviceState", "Done") == "Fertig"
    window = MainWindow(station.session, station.ports, settings=ui_settings, secret_check=None)
    qtbot.addWidget(window)
    assert window.station_actions.retry.text() == "Fehlgeschlagene &wiederholen"
    assert window.counters.failed.caption.text() == "Fehlgeschlagen"
    assert window.model.headerData(1, Qt.Orientation.Horizontal) == "Seriennummer"
    window.close()


def test_language_setting_falls_back_to_english():
    assert resolve_language("de_AT") == "de"
    assert resolve_language("fr") == "en"
