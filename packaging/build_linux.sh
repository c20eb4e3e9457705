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
# Environment: CERTLINE_PACKAGING_OUT (default packaging/out), PYTHON (default .venv/bin/python),
# CERTLINE_ALLOW_OLD_PYTHON=1 (test builds from a Python older than the MIN_PY* floors below).
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

# The bundle carries its own Python (and with it OpenSSL, SQLite, zlib, expat): build from a
# current security release. Raise these floors when python.org publishes a new patch release.
MIN_PY311=3.11.14
MIN_PY312=3.12.12
if ! "$PY" - "$MIN_PY311" "$MIN_PY312" <<'EOF'
import sys
floors = {(3, 11): sys.argv[1], (3, 12): sys.argv[2]}
floor = floors.get(sys.version_info[:2])
have = sys.version_info[:3]
ok = floor is not None and have >= tuple(int(x) for x in floor.split("."))
print(f"build_linux: Python {'.'.join(map(str, have))}; needs 3.11 >= {sys.argv[1]} or 3.12 >= {sys.argv[2]}", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
then
    [ "${CERTLINE_ALLOW_OLD_PYTHON:-}" = "1" ] ||
        die "build from a current Python 3.11/3.12 patch release (CERTLINE_ALLOW_OLD_PYTHON=1: test builds only)"
    say "WARNING: CERTLINE_ALLOW_OLD_PYTHON=1: this build carries an outdated Python; do not ship it"
fi

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

say "dropping libraries nothing links to, checking the rest"
"$PY" packaging/check_bundle.py --drop-unlinked "$BUNDLE"

say "licence texts of every bundled component (stops when one has none)"
PYTHONPATH="$ROOT" "$PY" packaging/licenses.py "$BUNDLE/licenses" --bundle "$BUNDLE"

say "smoke test: certline --version"
got="$(env -i PATH=/usr/bin:/bin HOME="$OUT" LANG=C.UTF-8 "$BUNDLE/certline" --version)"
[ "$got" = "certline $VERSION" ] || die "certline --version said '$got', expected 'certline $VERSION'"

# libc6 (>= the newest GLIBC_x.y symbol version any bundled file needs); it also names the build
glibc="$(find "$BUNDLE" -type f \( -name '*.so*' -o -perm -u+x \) -print0 |
    xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"
[ -n "$glibc" ] || die "could not find the glibc version the bundle needs"

# The changelog's newest entry must be this version: it dates the metainfo's <release> and the man page
CHANGELOG_VERSION="$(sed -n '1s/^certline (\([^)]*\)).*/\1/p' "$LINUX/changelog")"
[ "$CHANGELOG_VERSION" = "$VERSION" ] ||
    die "packaging/linux/changelog starts with '$CHANGELOG_VERSION', not $VERSION: add an entry"
RELEASE_DATE="$(date -u -d "$(sed -n 's/^ -- .*>  //p' "$LINUX/changelog" | head -1)" +%Y-%m-%d)"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(date -u -d "$RELEASE_DATE" +%s)}"

say "man page, AppStream metainfo"
PYTHONPATH="$ROOT" "$PY" packaging/make_manpage.py "$OUT/certline.1"
METAINFO="$OUT/com.example.certline.metainfo.xml"
sed "s|<!-- @RELEASES@ -->|<release version=\"$VERSION\" date=\"$RELEASE_DATE\"/>|" \
    "$LINUX/com.example.certline.metainfo.xml" >"$METAINFO"
if command -v appstreamcli >/dev/null 2>&1; then
    appstreamcli validate --no-net "$METAINFO" >/dev/null || die "appstreamcli validate --no-net $METAINFO"
fi

# Desktop integration, shared by the tarball (share/...) and the .deb (/usr/share/...)
SHARE="$OUT/share"
rm -rf "$SHARE"
install -D -m 644 "$LINUX/certline.desktop" "$SHARE/applications/certline.desktop"
install -D -m 644 "$METAINFO" "$SHARE/metainfo/com.example.certline.metainfo.xml"
install -D -m 644 "$OUT/certline.1" "$SHARE/man/man1/certline.1"
for size in 16 24 32 48 64 128 256; do
    install -D -m 644 "$OUT/icons/certline-$size.png" "$SHARE/icons/hicolor/${size}x${size}/apps/certline.png"
done
install -D -m 644 resources/icons/certline.svg "$SHARE/icons/hicolor/scalable/apps/certline.svg"

# --- 2. .tar.gz ------------------------------------------------------------------------------
TARBALL="$OUT/certline-$VERSION-linux-$ARCH-glibc$glibc.tar.gz"
TARSTAGE="$OUT/tar/certline-$VERSION"
say "tarball $(basename "$TARBALL")"
rm -rf "$OUT/tar" "$TARBALL"
mkdir -p "$OUT/tar"
cp -a "$BUNDLE" "$TARSTAGE"
cp -a "$SHARE" "$TARSTAGE/share"
install -D -m 644 "$LINUX/60-certline-serial.rules" "$TARSTAGE/share/udev/60-certline-serial.rules"
install -m 644 README.md "$TARSTAGE/README.md"
install -m 644 "$LINUX/changelog" "$TARSTAGE/CHANGELOG"
install -m 755 "$LINUX/install-user.sh" "$TARSTAGE/install-user.sh"
chmod -R u+rwX,go+rX,go-w "$TARSTAGE"
tar --create --gzip --file "$TARBALL" --owner=0 --group=0 --numeric-owner --sort=name \
    -C "$OUT/tar" "certline-$VERSION"

# --- 3. .deb ---------------------------------------------------------------------------------
# The glibc baseline is part of the version: a build on Debian 12 (2.36) and one on Ubuntu 22.04
# (2.35) are different packages with different names, never two files called the same.
DEB_VERSION="$VERSION+glibc$glibc"
STAGE="$OUT/deb/certline_${DEB_VERSION}_$DEBARCH"
say "staging the .deb in $STAGE"
rm -rf "$STAGE"
install -d -m 755 "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share" \
    "$STAGE/usr/lib/udev/rules.d" "$STAGE/usr/share/doc/certline"
cp -a "$BUNDLE" "$STAGE/opt/certline"
ln -s /opt/certline/certline "$STAGE/usr/bin/certline"
ln -s /opt/certline/certline-gui "$STAGE/usr/bin/certline-gui"
cp -a "$SHARE/applications" "$SHARE/icons" "$SHARE/metainfo" "$SHARE/man" "$STAGE/usr/share/"
gzip -9n "$STAGE/usr/share/man/man1/certline.1"
install -m 644 "$LINUX/60-certline-serial.rules" "$STAGE/usr/lib/udev/rules.d/60-certline-serial.rules"
gzip -9n <"$LINUX/changelog" >"$STAGE/usr/share/doc/certline/changelog.gz"
PYTHON_VERSION="$("$PY" -c 'import platform; print(platform.python_version())')"
cat >"$STAGE/usr/share/doc/certline/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: certline
Comment:
 /opt/certline is a self-contained build. It bundles Python $PYTHON_VERSION, Qt 6 and
 Qt for Python (LGPL-3.0), the Python packages Certline needs and a few native
 libraries. The licence texts of all of them are in /opt/certline/licenses/, one
 folder per component; /opt/certline/licenses/THIRD-PARTY-LICENSES.txt lists them
 with their versions and licences.

Files: *
Copyright: Certline engineering
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.

Files: opt/certline/_internal/*
Copyright: see /opt/certline/licenses/THIRD-PARTY-LICENSES.txt
License: various
 See /opt/certline/licenses/.
EOF
sh packaging/linux/render_scripts.sh "$STAGE/DEBIAN"

installed_kb="$(du -sk --apparent-size "$STAGE" | cut -f1)"
sed -e "s/@VERSION@/$DEB_VERSION/" -e "s/@ARCH@/$DEBARCH/" -e "s/@INSTALLED_SIZE@/$installed_kb/" \
    -e "s/@LIBC_DEPENDS@/libc6 (>= $glibc)/" "$LINUX/control.in" >"$STAGE/DEBIAN/control"
# Debian wants root-owned files and no group/other write bits (PyInstaller keeps source modes)
chmod -R u+rwX,go+rX,go-w "$STAGE"

DEB="$OUT/certline_${DEB_VERSION}_$DEBARCH.deb"
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
