#!/usr/bin/env bash
# Build Certline for Linux: the frozen one-folder bundle, a .tar.gz of it and a .deb.
#
#   packaging/build_linux.sh [--skip-pyinstaller]
#
# Output (all under packaging/out/, which git ignores):
#   dist/certline/                         the bundle: certline (CLI), certline-gui, _internal/
#   certline-VERSION-linux-ARCH.tar.gz     the bundle as certline-VERSION/ (run ./certline-gui)
#   certline_VERSION_DEBARCH.deb           /opt/certline, /usr/bin/certline, menu entry, icon, udev rule
#
# Needs: the repo's .venv (scripts/setup.sh creates it; this installs the 'packaging' extra
# into it), binutils (PyInstaller), dpkg-deb. --skip-pyinstaller re-packs an existing bundle.
# Test the result with packaging/test_linux_package.sh.
# Environment: CERTLINE_PACKAGING_OUT (default packaging/out), PYTHON (default .venv/bin/python).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${CERTLINE_PACKAGING_OUT:-$ROOT/packaging/out}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
LINUX="$ROOT/packaging/linux"

say() { echo "build_linux: $*" >&2; }
die() { echo "build_linux: error: $*" >&2; exit 1; }
elapsed() { echo "$(($(date +%s) - START))s"; }

SKIP_PYI=
case "${1:-}" in
    --skip-pyinstaller) SKIP_PYI=1 ;;
    "") ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
esac

[ -x "$PY" ] || die "no Python at $PY: run 'scripts/setup.sh test' first (or set PYTHON=)"
for tool in dpkg-deb objdump readelf tar; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (apt-get install dpkg binutils tar)"
done

START=$(date +%s)
VERSION="$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
ARCH="$(uname -m)"
DEBARCH="$(dpkg --print-architecture)"
BUNDLE="$OUT/dist/certline"
mkdir -p "$OUT"
say "Certline $VERSION for $ARCH"

# --- 1. the bundle ------------------------------------------------------------------------
if [ -z "$SKIP_PYI" ]; then
    if ! "$PY" -c 'import PyInstaller' >/dev/null 2>&1 ||
        [ "$("$PY" -c 'from importlib.metadata import version; print(version("certline"))')" != "$VERSION" ]; then
        say "installing certline with the packaging extra (PyInstaller) into the venv"
        "$PY" -m pip install -q --disable-pip-version-check -e '.[packaging]'
    fi
    say "icons"
    "$PY" packaging/make_icons.py "$OUT/icons" >/dev/null
    say "PyInstaller (one folder, certline + certline-gui)"
    CERTLINE_PACKAGING_OUT="$OUT" "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
        --distpath "$OUT/dist" --workpath "$OUT/build" packaging/certline.spec
fi
[ -x "$BUNDLE/certline" ] && [ -x "$BUNDLE/certline-gui" ] || die "no bundle in $BUNDLE"
[ -f "$OUT/icons/certline-256.png" ] || "$PY" packaging/make_icons.py "$OUT/icons" >/dev/null

say "checking the bundle's shared libraries"
"$PY" packaging/check_bundle.py "$BUNDLE"

say "smoke test: certline --version"
got="$(env -i PATH=/usr/bin:/bin HOME="$OUT" LANG=C.UTF-8 "$BUNDLE/certline" --version)"
[ "$got" = "certline $VERSION" ] || die "certline --version said '$got', expected 'certline $VERSION'"

# --- 2. .tar.gz ------------------------------------------------------------------------------
TARBALL="$OUT/certline-$VERSION-linux-$ARCH.tar.gz"
say "tarball $(basename "$TARBALL")"
rm -f "$TARBALL"
tar --create --gzip --file "$TARBALL" --owner=0 --group=0 --numeric-owner --sort=name \
    -C "$OUT/dist" --transform "s,^certline,certline-$VERSION," certline

# --- 3. .deb ---------------------------------------------------------------------------------
STAGE="$OUT/deb/certline_${VERSION}_$DEBARCH"
say "staging the .deb in $STAGE"
rm -rf "$STAGE"
install -d -m 755 "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
    "$STAGE/lib/udev/rules.d" "$STAGE/usr/share/doc/certline"
cp -a "$BUNDLE" "$STAGE/opt/certline"
ln -s /opt/certline/certline "$STAGE/usr/bin/certline"
ln -s /opt/certline/certline-gui "$STAGE/usr/bin/certline-gui"
install -m 644 "$LINUX/certline.desktop" "$STAGE/usr/share/applications/certline.desktop"
install -m 644 "$LINUX/60-certline-serial.rules" "$STAGE/lib/udev/rules.d/60-certline-serial.rules"
for size in 16 24 32 48 64 128 256; do
    install -D -m 644 "$OUT/icons/certline-$size.png" \
        "$STAGE/usr/share/icons/hicolor/${size}x${size}/apps/certline.png"
done
install -D -m 644 resources/icons/certline.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/certline.svg"
cat >"$STAGE/usr/share/doc/certline/copyright" <<EOF
Certline $VERSION -- Apache License 2.0 (/usr/share/common-licenses/Apache-2.0).
/opt/certline bundles Python, Qt 6 / PySide6 (LGPLv3) and the Python packages listed in
/opt/certline/_internal/*.dist-info, each under its own license.
EOF
install -m 755 "$LINUX/postinst" "$LINUX/postrm" "$STAGE/DEBIAN/"

# libc6 (>= the newest GLIBC_x.y symbol version any bundled file needs)
glibc="$(find "$BUNDLE" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
    xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
[ -n "$glibc" ] || die "could not find the glibc version the bundle needs"
installed_kb="$(du -sk --apparent-size "$STAGE" | cut -f1)"
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$DEBARCH/" -e "s/@INSTALLED_SIZE@/$installed_kb/" \
    -e "s/@LIBC_DEPENDS@/libc6 (>= $glibc)/" "$LINUX/control.in" >"$STAGE/DEBIAN/control"
# Debian wants root-owned files and no group/other write bits (PyInstaller keeps source modes)
chmod -R u+rwX,go+rX,go-w "$STAGE"

DEB="$OUT/certline_${VERSION}_$DEBARCH.deb"
say "dpkg-deb --build $(basename "$DEB")"
rm -f "$DEB"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
dpkg-deb --info "$DEB" >/dev/null

bundle_mb="$(du -sm "$BUNDLE" | cut -f1)"
say "done in $(elapsed): bundle ${bundle_mb} MB, $(basename "$TARBALL") $(du -sh "$TARBALL" | cut -f1)," \
    "$(basename "$DEB") $(du -sh "$DEB" | cut -f1) (needs glibc >= $glibc)"
if [ "$bundle_mb" -ge 200 ]; then
    die "the bundle is ${bundle_mb} MB: over the 200 MB budget (see DROP_PATTERNS in packaging/certline.spec)"
fi
echo "$DEB"
echo "$TARBALL"
