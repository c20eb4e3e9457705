"""Collect the licence text of every component in the bundle; fail when one has none.

    python packaging/licenses.py OUT_DIR [--bundle DIST_DIR]

Run by build_linux.sh and build_windows.ps1 after PyInstaller. It writes

* ``OUT_DIR/<component>/...`` -- each component's licence files, copied verbatim;
* ``OUT_DIR/THIRD-PARTY-LICENSES.txt`` -- the index: component, version, licence, files.

Components:

1. **Python distributions**: ``certline`` and the closure of its runtime requirements
   (``importlib.metadata``; markers evaluated for this platform, extras left out), so a
   dependency added to ``pyproject.toml`` is covered without touching this file. The
   licence files are those the wheel lists (``License-File`` / ``*.dist-info/licenses/``,
   ``LICENSE*``, ``COPYING*``, ``NOTICE*``). Wheels that carry none get a text from
   ``packaging/licenses/`` via :data:`VENDORED` -- only by an explicit entry here.
2. **Python itself**: the interpreter's ``LICENSE.txt``.
3. **Native libraries** (``--bundle``): every shared library in the bundle must belong to
   a component above (it lives in that distribution's files, e.g. Qt inside PySide6) or to a
   Debian package, whose ``/usr/share/doc/<package>/copyright`` is copied.

Anything without licence text is listed and the exit status is 1: the build stops.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENDORED_DIR = HERE / "licenses"

#: distributions whose wheels carry no licence text (or only part of it): texts we ship for
#: them, from packaging/licenses/. Keys are normalized distribution names.
VENDORED: dict[str, tuple[str, ...]] = {
    "certline": ("Apache-2.0.txt",),
    "pyserial": ("pyserial-BSD-3-Clause.txt",),
    # Qt for Python and Qt: LGPL-3.0-only (chosen of "LGPL-3.0-only OR GPL-2.0-only"); the
    # LGPL-3.0 is a set of additional permissions on the GPL-3.0, so both texts go along
    "pyside6-essentials": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "shiboken6": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    # tlslite-ng's LICENSE names the LGPL v2 for parts of it without including the text
    "tlslite-ng": ("LGPL-2.1.txt",),
}

#: native libraries that a wheel bundles without their own licence text: component, version
#: source, vendored files. ICU comes inside the PySide6 wheel (Qt links it).
VENDORED_NATIVE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    r"^(lib)?icu(data|i18n|uc|dt|in|io)": ("ICU", "bundled by PySide6", ("ICU.txt",)),
}

LICENSE_NAME = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS|COPYRIGHT)([.\-_].*)?$", re.IGNORECASE)
SHARED_LIBRARY = re.compile(r"\.(so(\.\d+)*|dll|pyd|dylib)$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Component:
    name: str
    version: str
    license: str
    files: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return normalize(self.name)


# --------------------------------------------------------------------------- Python side


def runtime_distributions(root: str = "certline") -> list[Distribution]:
    """``root`` and everything it needs at run time on this platform, each once, sorted."""
    from packaging.requirements import Requirement

    seen: dict[str, Distribution] = {}
    extras_done: set[tuple[str, str]] = set()
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        raw, extras = todo.pop()
        name = normalize(raw)
        new_extras = {e for e in extras if (name, e) not in extras_done}
        if name in seen and not new_extras:
            continue
        try:
            dist = seen.get(name) or distribution(name)
        except PackageNotFoundError:
            raise SystemExit(f"licenses: {name} is required but not installed") from None
        first_visit = name not in seen
        seen[name] = dist
        extras_done.update((name, e) for e in new_extras)
        for text in dist.requires or ():
            req = Requirement(text)
            # an extra we depend on (psycopg[binary]) brings its own distributions (psycopg-binary)
            wanted = req.marker is None or (first_visit and req.marker.evaluate({"extra": ""}))
            wanted = wanted or any(req.marker.evaluate({"extra": e}) for e in new_extras)
            if wanted:
                todo.append((req.name, frozenset(req.extras)))
    return [seen[k] for k in sorted(seen)]


def license_of(dist: Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) < 80:
        return text
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or () if c.startswith("License ::")
    ]
    return "; ".join(classifiers) or "see the licence files"


def wheel_license_files(dist: Distribution) -> list[tuple[str, bytes]]:
    """The licence files a distribution installed (in its .dist-info), name and content."""
    found: dict[str, bytes] = {}
    declared = {Path(p).name for p in dist.metadata.get_all("License-File") or ()}
    for entry in dist.files or ():
        parts = Path(str(entry)).parts
        if not parts or not parts[0].endswith(".dist-info"):
            continue
        name = parts[-1]
        if name in declared or LICENSE_NAME.match(name):
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                found["/".join(parts[1:])] = path.read_bytes()
    return sorted(found.items())


def component_for(dist: Distribution, vendored_dir: Path = VENDORED_DIR) -> Component:
    name = dist.metadata["Name"]
    component = Component(name, dist.version, license_of(dist), wheel_license_files(dist))
    for file_name in VENDORED.get(normalize(name), ()):
        component.files.append((file_name, (vendored_dir / file_name).read_bytes()))
    return component


def python_component() -> Component:
    """CPython's own licence (PSF), from the interpreter that builds the bundle."""
    candidates = [
        Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt",
        Path(sys.base_prefix) / "LICENSE.txt",
    ]
    files = [("LICENSE.txt", p.read_bytes()) for p in candidates[:2] if p.is_file()][:1]
    return Component("Python", sys.version.split()[0], "PSF-2.0", files)


# --------------------------------------------------------------------------- native side


def dpkg_owner(library: str) -> str | None:
    """The Debian package that ships a file called ``library`` (None without dpkg or no owner)."""
    if not shutil.which("dpkg-query"):
        return None
    proc = subprocess.run(["dpkg-query", "-S", f"*/{library}"], capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        package, _, path = line.partition(": ")
        if Path(path.strip()).name == library:
            return package.split(":")[0].split(",")[0].strip()
    return None


def native_components(
    bundle: Path, components: Iterable[Component], owner: object = dpkg_owner
) -> tuple[list[Component], list[str]]:
    """Debian packages' copyright files for the bundle's shared libraries; unexplained ones.

    A library inside a distribution's own folder (``PySide6/Qt/lib/libQt6Core.so.6``) is
    covered by that distribution; one at the top of ``_internal`` was copied from the
    build system by PyInstaller and must come from a Debian package.
    """
    import_roots = {"pyside6": "pyside6-essentials", "shiboken6": "shiboken6"}
    known = {c.key for c in components}
    shipped_by = _files_by_basename(known)
    packages: dict[str, Component] = {}
    unexplained = []
    root = bundle.resolve()
    for path in sorted(bundle.rglob("*")):
        if not path.is_file() or not SHARED_LIBRARY.search(path.name):
            continue
        # PyInstaller links libraries of a package's folder into the top level
        # (_internal/libQt6Core.so.6 -> PySide6/Qt/lib/libQt6Core.so.6): judge the target
        real = path.resolve()
        rel = real.relative_to(root).parts if real.is_relative_to(root) else path.relative_to(bundle).parts
        inner = rel[1:] if rel and rel[0] == "_internal" else rel
        if len(inner) > 1:
            top = normalize(inner[0])
            if top.startswith("python3") or top == "lib-dynload":
                continue  # the standard library's extension modules: the Python component
            if import_roots.get(top, top) in known or top.endswith("-libs"):
                continue  # a distribution's extension module or vendored library
            dist_key = _distribution_of_top_level(inner[0])
            if dist_key in known:
                continue
        if re.match(r"^libpython3\.\d+", path.name) or path.name.startswith("python3"):
            continue  # the interpreter: the Python component
        vendored = next((v for pattern, v in VENDORED_NATIVE.items() if re.search(pattern, path.name)), None)
        if vendored is not None:
            name, version, file_names = vendored
            if name not in packages:
                files = [(f, (VENDORED_DIR / f).read_bytes()) for f in file_names]
                packages[name] = Component(name, version, "see the licence file", files)
            continue
        if path.name in shipped_by:
            continue  # a file of a bundled distribution (Qt's libraries from the PySide6 wheel, ...)
        package = owner(path.name) if callable(owner) else None
        if package is None:
            unexplained.append(str(Path(*rel)))
            continue
        if package not in packages:
            copyright_file = Path("/usr/share/doc") / package / "copyright"
            files = [("copyright", copyright_file.read_bytes())] if copyright_file.is_file() else []
            packages[package] = Component(package, _dpkg_version(package), "see copyright", files)
            if not files:
                unexplained.append(f"{Path(*rel)} (package {package} has no copyright file)")
    return list(packages.values()), unexplained


def _files_by_basename(keys: set[str]) -> set[str]:
    """Base names of every file the given (normalized) distributions installed."""
    from importlib.metadata import distributions

    names: set[str] = set()
    for dist in distributions():
        if normalize(dist.metadata["Name"] or "") in keys:
            names.update(Path(str(f)).name for f in dist.files or ())
    return names


def _distribution_of_top_level(top: str) -> str | None:
    from importlib.metadata import packages_distributions

    names = packages_distributions().get(top) or []
    return normalize(names[0]) if names else None


def _dpkg_version(package: str) -> str:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() or "?"


# --------------------------------------------------------------------------- output


def write(components: list[Component], out: Path) -> list[str]:
    """Write every component's files and the index; names of components without any text."""
    missing = [f"{c.name} {c.version}" for c in components if not c.files]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    index = [
        "Certline bundles the following components. Each one's licence texts are in the",
        "folder of the same name next to this file.",
        "",
    ]
    for component in sorted(components, key=lambda c: c.key):
        folder = out / component.key
        for name, data in component.files:
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        names = ", ".join(f"{component.key}/{n}" for n, _ in component.files) or "MISSING"
        index.append(f"{component.name} {component.version}: {component.license}\n    {names}")
    (out / "THIRD-PARTY-LICENSES.txt").write_text("\n".join(index) + "\n", encoding="utf-8")
    return missing


def collect(root: str = "certline", bundle: Path | None = None) -> tuple[list[Component], list[str]]:
    components = [component_for(d) for d in runtime_distributions(root)]
    components.append(python_component())
    problems: list[str] = []
    if bundle is not None:
        native, unexplained = native_components(bundle, components)
        components += native
        problems += [f"shared library {u}: no licence source found" for u in unexplained]
    return components, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the licence texts to (replaced)")
    parser.add_argument("--bundle", type=Path, help="the PyInstaller folder: also cover its shared libraries")
    parser.add_argument("--root", default="certline", help="the distribution whose closure is bundled")
    args = parser.parse_args(argv)
    components, problems = collect(args.root, args.bundle)
    missing = write(components, args.out)
    problems = [
        f"{m}: no licence text (add it to VENDORED in packaging/licenses.py)" for m in missing
    ] + problems
    for problem in problems:
        print(f"licenses: MISSING {problem}", file=sys.stderr)
    if problems:
        print(
            f"licenses: {len(problems)} component(s) without licence text: the build stops", file=sys.stderr
        )
        return 1
    print(f"licenses: {len(components)} components, texts in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
