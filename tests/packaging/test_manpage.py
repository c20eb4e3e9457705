"""packaging/make_manpage.py: certline(1) is generated from argparse and covers every subcommand."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from certline.app.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "certline_make_manpage", ROOT / "packaging" / "make_manpage.py"
)
assert _spec is not None and _spec.loader is not None
make_manpage = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = make_manpage
_spec.loader.exec_module(make_manpage)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("man") / "certline.1"
    assert make_manpage.main([str(out)]) == 0
    return out.read_text()


def test_every_subcommand_has_a_section(page):
    names = [name for name, _ in make_manpage.subcommands(build_parser())]
    assert {"selftest", "profile set-passcode", "batch run", "est enroll"} <= set(names)
    for name in names:
        assert f".SS {make_manpage.roff(name)}\n" in page, name


def test_every_option_of_a_subcommand_is_listed(page):
    section = page.split(".SS selftest\n")[1].split(".SS ")[0]
    for option in ("\\-\\-no\\-gui", "\\-\\-no\\-keyring", "\\-\\-port", "\\-\\-gui\\-timeout"):
        assert f"\\fB{option}\\fR" in section, option


@pytest.mark.skipif(not shutil.which("groff"), reason="needs groff to render the page")
def test_the_page_renders_without_warnings(tmp_path, page):
    source = tmp_path / "certline.1"
    source.write_text(page)
    proc = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-z", str(source)], capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
