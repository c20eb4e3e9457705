"""Static check of a frozen Linux bundle: every shared library it needs is either in the
bundle or provided by a package the .deb depends on.

    python3 packaging/check_bundle.py packaging/out/dist/certline
    python3 packaging/check_bundle.py --drop-unlinked packaging/out/dist/certline

Reads each ELF file's NEEDED entries with ``readelf -d`` (binutils). A NEEDED name that
is neither bundled nor in SYSTEM_LIBS means the spec pruned too much (or the .deb's
Depends misses a package): the program or one of Qt's plugins would fail to load on a
clean machine. Exit status 1 then, with the culprits listed.

``--drop-unlinked`` first deletes the shared libraries nothing loads: a ``lib*.so*`` that
no ELF file of the bundle lists as NEEDED and that is neither a Python extension module
nor a Qt plugin (both are loaded by path, not by NEEDED) nor in :data:`DLOPENED`. PyInstaller
collects some libraries "just in case" (about 5 MB). Repeats until nothing more goes,
since a dropped library may have been the only user of another one. The packaged
selftest (Qt offscreen and xcb, keyring, serial, TLS) proves nothing needed went.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

#: sonames the bundle may leave to the system: glibc, and the libraries of the packages
#: in the .deb's Depends (packaging/linux/control.in). Keep the two lists in step.
SYSTEM_LIBS = {
    # libc6
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
    "libc.so.6",
    "libdl.so.2",
    "libm.so.6",
    "libpthread.so.0",
    "libresolv.so.2",
    "librt.so.1",
    "libutil.so.1",
    # libgl1, libegl1, libopengl0
    "libGL.so.1",
    "libEGL.so.1",
    "libOpenGL.so.0",
    # libxcb1, libx11-6 etc.
    "libxcb.so.1",
    # libwayland-client0, libwayland-cursor0, libwayland-egl1
    "libwayland-client.so.0",
    "libwayland-cursor.so.0",
    "libwayland-egl.so.1",
    # Libraries with frequent security fixes come from the system, so apt's security updates
    # reach Certline (docs/packaging.md, "Native libraries and security updates"). The spec
    # leaves PyInstaller's copies of these out of the bundle.
    # libssl3 (Ubuntu 24.04: libssl3t64): OpenSSL for Python's ssl and hashlib
    "libssl.so.3",
    "libcrypto.so.3",
    # libsqlite3-0, zlib1g; libexpat1 (fontconfig's; Python's pyexpat has expat built in)
    "libsqlite3.so.0",
    "libz.so.1",
    "libexpat.so.1",
    # libfreetype6, libfontconfig1 (fonts for Qt), libdbus-1-3
    "libfreetype.so.6",
    "libfontconfig.so.1",
    "libdbus-1.so.3",
    # libxkbcommon0, libxkbcommon-x11-0 and the xcb libraries Qt's xcb platform needs
    "libxkbcommon.so.0",
    "libxkbcommon-x11.so.0",
    "libX11-xcb.so.1",
    "libxcb-cursor.so.0",
    "libxcb-icccm.so.4",
    "libxcb-image.so.0",
    "libxcb-keysyms.so.1",
    "libxcb-randr.so.0",
    "libxcb-render-util.so.0",
    "libxcb-render.so.0",
    "libxcb-shape.so.0",
    "libxcb-shm.so.0",
    "libxcb-sync.so.1",
    "libxcb-util.so.1",
    "libxcb-xfixes.so.0",
    "libxcb-xkb.so.1",
}


#: libraries loaded with dlopen() by name (never NEEDED), which must stay even when unlinked
DLOPENED = {
    "libxcb-cursor.so.0",  # Qt's xcb platform plugin dlopens the cursor library
}

#: where a file is loaded by path: Python extension modules and Qt plugins
LOADED_BY_PATH = re.compile(r"(\.cpython-[^/]*\.so|\.abi3\.so)$|(^|/)plugins/")


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def needed(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=False).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def check(bundle: Path) -> list[str]:
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)]
    bundled = {p.name for p in bundle.rglob("*") if p.is_file() or p.is_symlink()}
    problems = []
    for path in sorted(files):
        missing = [name for name in needed(path) if name not in bundled and name not in SYSTEM_LIBS]
        if missing:
            problems.append(f"{path.relative_to(bundle)}: {', '.join(missing)}")
    return problems


def unlinked(bundle: Path) -> list[Path]:
    """Shared libraries in the bundle that nothing NEEDs and nothing loads by path."""
    elves = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p)]
    wanted = {name for path in elves for name in needed(path)}
    result = []
    for path in elves:
        rel = path.relative_to(bundle).as_posix()
        if not re.match(r"^lib.*\.so(\.\d+)*$", path.name) or LOADED_BY_PATH.search(rel):
            continue
        if path.name in wanted or path.name in DLOPENED or path.name.startswith("libpython"):
            continue  # (the PyInstaller bootloader dlopens libpython)
        # symlinks in the bundle that name this file (libfoo.so.1 -> libfoo.so.1.2.3) count too
        aliases = {p.name for p in path.parent.iterdir() if p.is_symlink() and p.resolve() == path.resolve()}
        if aliases & (wanted | DLOPENED):
            continue
        result.append(path)
    return sorted(result)


def drop_unlinked(bundle: Path) -> list[tuple[str, int]]:
    """Delete :func:`unlinked` libraries until none is left; ``(path, bytes)`` of each."""
    dropped: list[tuple[str, int]] = []
    while victims := unlinked(bundle):
        for path in victims:
            dropped.append((str(path.relative_to(bundle)), path.stat().st_size))
            path.unlink()
    for link in [p for p in bundle.rglob("*") if p.is_symlink() and not p.exists()]:
        link.unlink()  # aliases of what was dropped
    return dropped


def main(argv: list[str]) -> int:
    drop = "--drop-unlinked" in argv
    argv = [a for a in argv if a != "--drop-unlinked"]
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    bundle = Path(argv[0])
    if drop:
        dropped = drop_unlinked(bundle)
        for name, size in dropped:
            print(f"check_bundle: dropped {name} ({size // 1024} KB): nothing links to it")
        total = sum(size for _, size in dropped)
        print(f"check_bundle: dropped {len(dropped)} unlinked librar(ies), {total / 1e6:.1f} MB")
    problems = check(bundle)
    for problem in problems:
        print(f"check_bundle: needs a library that is neither bundled nor a dependency: {problem}")
    if problems:
        return 1
    count = sum(1 for p in bundle.rglob("*") if p.is_file() and is_elf(p))
    print(f"check_bundle: OK, {count} ELF files, every NEEDED library is bundled or in Depends")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
