#!/usr/bin/env bash
# Compile the Windows installer script (packaging/windows/certline.nsi) on Linux against a
# placeholder bundle, so a broken .nsi is found here and not only on the Windows runner.
#
#   packaging/check_nsis.sh
#
# Needs makensis (apt-get install nsis). The placeholder has the bundle's layout
# (certline.exe, certline-gui.exe, _internal\...) with dummy files; the result is a real
# NSIS installer (checked: a PE file, the expected size order) that is then deleted.
# Exit status 0 when makensis compiled the script without warnings.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
die() { echo "check_nsis: FAIL: $*" >&2; exit 1; }

command -v makensis >/dev/null 2>&1 || die "makensis is missing (apt-get install nsis)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/certline-nsis.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

VERSION="$("$PY" -c 'import tomllib; print(tomllib.load(open("'"$ROOT"'/pyproject.toml", "rb"))["project"]["version"])')"
BUNDLE="$WORK/dist/certline"
mkdir -p "$BUNDLE/_internal/PySide6/plugins/platforms" "$BUNDLE/_internal/certline/resources/icons"
printf 'MZ placeholder console exe' >"$BUNDLE/certline.exe"
printf 'MZ placeholder windowed exe' >"$BUNDLE/certline-gui.exe"
printf 'placeholder' >"$BUNDLE/_internal/python311.dll"
printf 'placeholder' >"$BUNDLE/_internal/base_library.zip"
printf 'placeholder' >"$BUNDLE/_internal/PySide6/plugins/platforms/qwindows.dll"
cp "$ROOT/resources/icons/certline.svg" "$BUNDLE/_internal/certline/resources/icons/"
mkdir -p "$BUNDLE/licenses/pyside6-essentials"
printf 'placeholder' >"$BUNDLE/licenses/THIRD-PARTY-LICENSES.txt"
printf 'placeholder' >"$BUNDLE/licenses/pyside6-essentials/LGPL-3.0.txt"
ICON="$ROOT/packaging/out/icons/certline.ico"
[ -f "$ICON" ] || "$PY" "$ROOT/packaging/make_icons.py" "$(dirname "$ICON")" >/dev/null

OUTFILE="$WORK/certline-$VERSION-windows-x64-setup.exe"
# VIProductVersion wants four numbers: 0.1.0 -> 0.1.0.0, 1.2rc1 -> 1.2.0.0
NUMERIC="$("$PY" -c 'import re, sys; m = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", sys.argv[1]); print(".".join(g or "0" for g in m.groups()) + ".0")' "$VERSION")"
# -WX: warnings are errors; -V2: warnings and errors only
makensis -WX -V2 -DVERSION="$VERSION" -DVERSION_NUMERIC="$NUMERIC" \
    -DBUNDLE="$BUNDLE" -DICON="$ICON" -DOUTFILE="$OUTFILE" "$ROOT/packaging/windows/certline.nsi" ||
    die "makensis could not compile packaging/windows/certline.nsi (above)"
[ -f "$OUTFILE" ] || die "makensis wrote no $OUTFILE"
[ "$(head -c 2 "$OUTFILE")" = "MZ" ] || die "$OUTFILE is not a Windows executable"
if command -v 7z >/dev/null 2>&1; then  # p7zip-full reads NSIS installers: check the payload
    7z l "$OUTFILE" >"$WORK/listing" || die "7z cannot read the installer"
    for f in certline.exe.new certline-gui.exe.new _internal.new/base_library.zip \
        _internal.new/PySide6/plugins/platforms/qwindows.dll licenses.new/THIRD-PARTY-LICENSES.txt uninstall.exe; do
        grep -q "${f//\//.}" "$WORK/listing" || { cat "$WORK/listing" >&2; die "$f is not in the installer"; }
    done
fi
echo "check_nsis: OK, packaging/windows/certline.nsi compiles with makensis $(makensis -VERSION)" \
    "($(du -k "$OUTFILE" | cut -f1) KB installer for a placeholder bundle)"
