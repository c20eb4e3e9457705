"""Make build/import-root: this checkout's code under its installed names, for the tools that need a folder.

    python scripts/import_root.py [--copy] [--quiet]      prints the folder's path

The folders app/, ui/ and resources/ are installed as ``certline.app``, ``certline.ui`` and
``certline.resources`` (pyproject.toml, ``[tool.setuptools] package-dir``). An installed wheel
has them in site-packages; an editable install (``pip install -e``) maps the names with an
import hook of setuptools. Tools that look for modules on disk instead of importing them do not
see that hook: mypy silently turns every first-party type into ``Any``, PyInstaller does not find
the modules, and a shared venv's hook points at another checkout. For them this makes

    build/import-root/certline/app       -> ../../../app
    build/import-root/certline/ui        -> ../../../ui
    build/import-root/certline/resources -> ../../../resources

(``certline`` is a namespace package, as installed: no ``__init__.py``). Put it first on the
path: mypy's ``mypy_path`` (pyproject), ``PYTHONPATH`` (scripts/test.sh, scripts/setup.sh),
PyInstaller's ``pathex`` (packaging/certline.spec). Symbolic links follow every edit at once;
``--copy`` copies instead (Windows without symlink rights; run it again after editing).
Running it again is cheap and repairs a stale or partial folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT_ROOT = ROOT / "build" / "import-root"
NAMESPACE = "certline"
PACKAGES = ("app", "ui", "resources")


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        try:
            path.unlink()
        except (IsADirectoryError, PermissionError):  # a directory link on Windows
            os.rmdir(path)
    elif path.is_dir():
        shutil.rmtree(path)


def make_import_root(root: Path = ROOT, *, copy: bool = False) -> Path:
    """Create or refresh ``root/build/import-root`` and return its path."""
    import_root = root / "build" / "import-root"
    namespace = import_root / NAMESPACE
    namespace.mkdir(parents=True, exist_ok=True)
    _remove(namespace / "__init__.py")  # must stay a namespace package, as installed
    for name in PACKAGES:
        source = root / name
        link = namespace / name
        relative = Path(os.path.relpath(source, namespace))
        if not copy and link.is_symlink() and Path(os.readlink(link)) == relative:
            continue
        _remove(link)
        if copy:
            shutil.copytree(source, link, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            link.symlink_to(relative, target_is_directory=True)
    return import_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copy", action="store_true", help="copy the folders instead of linking them")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)
    path = make_import_root(copy=args.copy)
    if not args.quiet:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
