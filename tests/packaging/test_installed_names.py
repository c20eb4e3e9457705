"""The wheel installs Certline's code only under the name ``certline`` (docs/architecture.md, "Decisions").

pyproject.toml lists the packages one by one (setuptools cannot add a prefix to the packages it
finds), so a new package folder that is not added there would be missing from every install.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("app", "ui", "resources")


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _package_folders() -> set[str]:
    found = set()
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT)
            found.add("certline." + ".".join(relative.parts))
    return found


def test_every_package_folder_is_installed_under_certline():
    listed = set(_setuptools()["packages"])
    missing = sorted(_package_folders() - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
    gone = sorted(listed - _package_folders())
    assert not gone, f"listed in pyproject.toml but no such package folder: {gone}"


def test_no_top_level_name_other_than_certline_is_installed():
    config = _setuptools()
    assert {name.split(".")[0] for name in config["packages"]} == {"certline"}
    assert config["package-dir"] == {f"certline.{folder}": folder for folder in FOLDERS}
    assert set(config["package-data"]) <= set(config["packages"])


def test_the_commands_start_certline_modules():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    targets = {**project["scripts"], **project["gui-scripts"]}
    assert targets == {
        "certline": "certline.app.cli.main:main",
        "certline-gui": "certline.ui.gui_main:main",
    }
