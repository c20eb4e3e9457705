"""Static check of a frozen Linux bundle: every shared library it needs is either in the
bundle or provided by a package the .deb depends on.

    python3 packaging/check_bundle.py packaging/out/dist/certline

Reads each ELF file's NEEDED entries with ``readelf -d`` (binutils). A NEEDED name that
is neither bundled nor in SYSTEM_LIBS means the spec pruned too much (or the .deb's
Depends misses a package): the program or one of Qt's plugins would fail to load on a
clean machine. Exit status 1 then, with the culprits listed.
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
}


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


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    bundle = Path(argv[0])
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
