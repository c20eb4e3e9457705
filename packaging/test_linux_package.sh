#!/usr/bin/env bash
# Test the Linux packages the way a technician's machine would see them.
#
#   packaging/test_linux_package.sh [--build] [--no-chroot]
#
#   --build      run packaging/build_linux.sh first (default: only when there is no .deb yet)
#   --no-chroot  skip the clean-root install (step 3) even when debootstrap is available
#
# 1. The .deb's contents: /opt/certline, the /usr/bin/certline symlink, menu entry, icons,
#    udev rule (/usr/lib/udev), metainfo, man page, changelog, licence texts, maintainer
#    scripts; the tarball's contents; the bundle's shared libraries (check_bundle.py).
# 2. The .deb unpacked (dpkg -x) into an empty directory and run from there with a
#    minimal environment (env -i PATH=/usr/bin:/bin HOME=<empty> LANG=C.UTF-8):
#    `certline --version [--verbose]` (with LD_DEBUG: no Qt library loaded), `certline selftest`
#    (offscreen Qt), `certline-gui --selftest`;
#    under Xvfb (xcb platform) and inside a D-Bus session with an unlocked gnome-keyring
#    (keyring check must PASS) when those tools are installed.
# 3. As root with debootstrap installed: a minimal Debian 12 root (debootstrap --variant=minbase,
#    cached as packaging/out/chroot-bookworm.tar), `apt-get install ./certline_*.deb` in it
#    (so Depends is complete), then `certline --version` and `certline selftest` in the chroot;
#    with xvfb-run: the station window of a user runs while the package is reinstalled
#    (refused; forced, the window notices, pauses and asks for a restart); removal keeps /opt.
#
# Every program run must exit 0 and print nothing unexpected on stderr (like qutebrowser's
# frozen-build test): an unexpected line fails the test and is shown. Takes 1-2 min without
# the chroot, ~5 min with a fresh one (the download), ~2 min with the cached one.
# Environment: CERTLINE_PACKAGING_OUT (default packaging/out), DEBIAN_MIRROR (default
# http://deb.debian.org/debian).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${CERTLINE_PACKAGING_OUT:-$ROOT/packaging/out}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

say() { echo "test_linux_package: $*" >&2; }
die() { echo "test_linux_package: FAIL: $*" >&2; exit 1; }

BUILD= CHROOT=1
for arg in "$@"; do
    case "$arg" in
        --build) BUILD=1 ;;
        --no-chroot) CHROOT= ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $arg (try --help)" ;;
    esac
done

VERSION="$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
# the newest build of this version (the name carries the glibc baseline: certline_V+glibcX.Y_ARCH.deb)
find_deb() { ls -t "$OUT"/certline_"$VERSION"+glibc*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -1; }
DEB="$(find_deb)"
if [ -n "$BUILD" ] || [ -z "$DEB" ]; then
    bash "$ROOT/packaging/build_linux.sh" >/dev/null
    DEB="$(find_deb)"
fi
[ -n "$DEB" ] && [ -f "$DEB" ] || die "no certline_${VERSION}+glibc*.deb in $OUT"
DEB_VERSION="$(dpkg-deb --field "$DEB" Version)"
GLIBC="${DEB_VERSION##*+glibc}"
TARBALL="$OUT/certline-$VERSION-linux-$(uname -m)-glibc$GLIBC.tar.gz"
[ -f "$TARBALL" ] || die "no $TARBALL next to $DEB"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/certline-pkgtest.XXXXXX")"
MOUNTS=()
GUI_PID=
cleanup() {
    local m
    # the station window of step 3 and its Xvfb: their own process group (setsid below)
    [ -z "$GUI_PID" ] || kill -- "-$GUI_PID" 2>/dev/null || true
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Lines a healthy run may print on stderr (extended regular expressions, one per line).
ALLOWED_STDERR='^$'
ALLOWED_STDERR_CHROOT="$ALLOWED_STDERR"

# run_checked NAME EXPECT_STDOUT_REGEX COMMAND...: exit 0, stdout matches, stderr clean
run_checked() {
    local name="$1" expect="$2"
    shift 2
    local out="$WORK/$name.out" err="$WORK/$name.err" status=0
    "$@" >"$out" 2>"$err" </dev/null || status=$?
    local unexpected
    unexpected="$(grep -Ev -e "${ALLOWED:-$ALLOWED_STDERR}" "$err" || true)"
    if [ "$status" -ne 0 ] || [ -n "$unexpected" ] || ! grep -Eq -e "$expect" "$out"; then
        echo "---- $name: exit $status; stdout:" >&2
        cat "$out" >&2
        echo "---- $name: stderr:" >&2
        cat "$err" >&2
        [ "$status" -eq 0 ] || die "$name exited with $status"
        [ -z "$unexpected" ] || die "$name printed unexpected lines on stderr (above)"
        die "$name: stdout does not match /$expect/"
    fi
    say "ok: $name"
}

# --- 1. contents ---------------------------------------------------------------------------
say "1. contents of $(basename "$DEB") ($(du -h "$DEB" | cut -f1))"
dpkg-deb --contents "$DEB" >"$WORK/contents"
for path in ./opt/certline/certline ./opt/certline/certline-gui ./usr/share/applications/certline.desktop \
    ./usr/lib/udev/rules.d/60-certline-serial.rules ./usr/share/icons/hicolor/256x256/apps/certline.png \
    ./usr/share/icons/hicolor/scalable/apps/certline.svg ./usr/share/metainfo/com.example.certline.metainfo.xml \
    ./usr/share/man/man1/certline.1.gz ./usr/share/doc/certline/changelog.gz ./usr/share/doc/certline/copyright \
    ./opt/certline/licenses/THIRD-PARTY-LICENSES.txt ./opt/certline/licenses/pyside6-essentials/LGPL-3.0.txt \
    ./opt/certline/licenses/tlslite-ng/LGPL-2.1.txt ./opt/certline/licenses/python/LICENSE.txt; do
    grep -q " $path\$" "$WORK/contents" || die "$path is not in the package"
done
! grep -q ' ./lib/udev/' "$WORK/contents" || die "the udev rule belongs under /usr/lib/udev/rules.d"
grep -q ' ./usr/bin/certline -> /opt/certline/certline$' "$WORK/contents" ||
    die "/usr/bin/certline is not a symlink to /opt/certline/certline"
# (no "producer | grep -q" below: with pipefail, grep -q quitting early kills the producer)
bad_modes="$(grep -Ev '^(l[-rwx]{9}|[-d]r[-w][-x]r-[-x]r-[-x]) root/root ' "$WORK/contents" || true)"
[ -z "$bad_modes" ] || { echo "$bad_modes" | head >&2; die "files not owned by root or writable by group/others (above)"; }
[[ "$(dpkg-deb --field "$DEB" Depends)" == *libxcb-cursor0* ]] || die "Depends lacks the Qt xcb libraries"
[[ "$(dpkg-deb --field "$DEB" Recommends)" == *gnome-keyring* ]] || die "Recommends lacks gnome-keyring"
mkdir "$WORK/control"
dpkg-deb --control "$DEB" "$WORK/control"
for script in preinst prerm postinst postrm; do
    [ -x "$WORK/control/$script" ] || die "no executable $script"
done
grep -q 'usermod -aG dialout' "$WORK/control/postinst" || die "postinst does not tell how to join dialout"
grep -q '^refuse_if_running()' "$WORK/control/preinst" || die "preinst does not check for a running Certline"

# the tarball: bundle, licences, desktop integration, README, per-user install script
tar -tzf "$TARBALL" >"$WORK/tar-contents"
for path in certline certline-gui install-user.sh README.md CHANGELOG licenses/THIRD-PARTY-LICENSES.txt \
    share/applications/certline.desktop share/icons/hicolor/scalable/apps/certline.svg \
    share/udev/60-certline-serial.rules share/man/man1/certline.1 share/metainfo/com.example.certline.metainfo.xml; do
    grep -qx "certline-$VERSION/$path" "$WORK/tar-contents" || die "$path is not in $(basename "$TARBALL")"
done
if command -v desktop-file-validate >/dev/null 2>&1; then
    desktop-file-validate "$ROOT/packaging/linux/certline.desktop" || die "desktop-file-validate"
fi

# --- 2. unpacked into an empty directory ------------------------------------------------------
say "2. dpkg -x into an empty directory, minimal environment"
UNPACK="$WORK/unpacked"
dpkg-deb -x "$DEB" "$UNPACK"
"$PY" "$ROOT/packaging/check_bundle.py" "$UNPACK/opt/certline" >/dev/null || die "check_bundle (above)"
HOME_DIR="$WORK/home"
RUNTIME="$WORK/runtime"
mkdir -m 700 -p "$HOME_DIR" "$RUNTIME"
MINIMAL=(env -i PATH=/usr/bin:/bin HOME="$HOME_DIR" LANG=C.UTF-8 XDG_RUNTIME_DIR="$RUNTIME")
BIN="$UNPACK/opt/certline"

run_checked version "^certline $VERSION\$" "${MINIMAL[@]}" "$BIN/certline" --version
run_checked version-verbose '^  sqlite ' "${MINIMAL[@]}" "$BIN/certline" --version --verbose
grep -q '^  qt .*(not loaded)' "$WORK/version-verbose.out" || die "--version --verbose loaded Qt or lacks it"
# The CLI must not load QtCore (nor ICU with it): glibc's loader lists every library it maps
"${MINIMAL[@]}" LD_DEBUG=files "$BIN/certline" --version 2>"$WORK/ld-debug.err" >/dev/null
! grep -Eq 'file=[^ ]*(libQt6Core|libicu)' "$WORK/ld-debug.err" ||
    die "certline --version loaded $(grep -Eo 'file=[^ ]*(libQt6Core|libicu)[^ ]*' "$WORK/ld-debug.err" | sort -u | tr '\n' ' ')"
say "ok: the CLI loads no Qt library"
# (no keyring in this minimal environment: the keyring round trip is tested in its D-Bus session below)
run_checked selftest '^selftest: OK' "${MINIMAL[@]}" QT_QPA_PLATFORM=offscreen "$BIN/certline" selftest --no-keyring
grep -q '^PASS gui: ' "$WORK/selftest.out" || die "selftest did not run the Qt check"
run_checked gui-probe '^Qt .* on offscreen: ' "${MINIMAL[@]}" QT_QPA_PLATFORM=offscreen \
    "$BIN/certline-gui" --selftest
run_checked help '^usage: certline' "${MINIMAL[@]}" "$BIN/certline" --help
# Nothing may have been written next to the program (it is read-only once installed)
[ -z "$(find "$UNPACK" -newer "$DEB" -name '*.pyc' -print -quit)" ] || die "the bundle wrote .pyc files"

if command -v xvfb-run >/dev/null 2>&1 && command -v xauth >/dev/null 2>&1; then
    # xvfb-run needs xauth and sh on PATH; Qt picks the xcb platform from DISPLAY
    run_checked gui-probe-xcb '^Qt .* on xcb: ' "${MINIMAL[@]}" \
        xvfb-run -a "$BIN/certline-gui" --selftest
else
    say "skipped: the xcb platform under Xvfb (apt-get install xvfb xauth)"
fi

if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then
    mkdir -m 700 -p "$WORK/keyring-data"
    # (dbus-daemon itself may say it cannot raise its fd limit when not run by systemd)
    # shellcheck disable=SC2016 # expanded by the inner shell
    ALLOWED="$ALLOWED_STDERR|^dbus-daemon\[[0-9]+\]: .*Failed to set fd limit" run_checked selftest-keyring '^PASS keyring: stored, read back and deleted a test secret \(keyring.backends.SecretService' \
        "${MINIMAL[@]}" XDG_DATA_HOME="$WORK/keyring-data" QT_QPA_PLATFORM=offscreen \
        dbus-run-session -- sh -c 'printf %s test | gnome-keyring-daemon --unlock --components=secrets \
            >/dev/null 2>&1 && exec "$0" selftest --no-gui' "$BIN/certline"
else
    say "skipped: the keyring check in a D-Bus session (apt-get install dbus-daemon gnome-keyring)"
fi

# --- 3. installed with apt in a clean Debian root --------------------------------------------
if [ -z "$CHROOT" ]; then
    say "3. skipped (--no-chroot)"
elif [ "$(id -u)" -ne 0 ] || ! command -v debootstrap >/dev/null 2>&1; then
    say "3. skipped: the clean-root install needs root and debootstrap (apt-get install debootstrap)"
else
    CACHE="$OUT/chroot-bookworm.tar"
    CROOT="$WORK/chroot"
    if [ ! -f "$CACHE" ]; then
        say "3. debootstrap --variant=minbase bookworm (cached as $CACHE for next time)"
        debootstrap --variant=minbase bookworm "$WORK/bootstrap" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
            { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
        tar -C "$WORK/bootstrap" -cf "$CACHE.part" . && mv "$CACHE.part" "$CACHE"
        rm -rf "$WORK/bootstrap"
    else
        say "3. clean Debian 12 root from $CACHE"
    fi
    mkdir -p "$CROOT"
    tar -C "$CROOT" -xf "$CACHE"
    cp /etc/resolv.conf "$CROOT/etc/resolv.conf"
    for fs in proc dev dev/pts; do
        mount --bind "/$fs" "$CROOT/$fs"
        MOUNTS+=("$CROOT/$fs")
    done
    cp "$DEB" "$CROOT/tmp/"
    in_chroot() { chroot "$CROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
    in_chroot sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends /tmp/$(basename "$DEB")" >"$WORK/apt.log" 2>&1 ||
        { tail -30 "$WORK/apt.log" >&2; die "apt-get install of the .deb in a clean root failed"; }
    grep -q 'usermod -aG dialout' "$WORK/apt.log" || die "the post-install note was not shown"
    in_chroot test -L /usr/bin/certline || die "no /usr/bin/certline in the clean root"
    in_chroot test -f /usr/lib/udev/rules.d/60-certline-serial.rules || die "no udev rule in the clean root"
    chroot "$CROOT" useradd -m tech
    CHROOT_ENV=(chroot --userspec=tech:tech "$CROOT" env -i PATH=/usr/bin:/bin HOME=/home/tech LANG=C.UTF-8)
    ALLOWED="$ALLOWED_STDERR_CHROOT" run_checked chroot-version "^certline $VERSION\$" \
        "${CHROOT_ENV[@]}" certline --version
    ALLOWED="$ALLOWED_STDERR_CHROOT" run_checked chroot-selftest '^selftest: OK' \
        "${CHROOT_ENV[@]}" QT_QPA_PLATFORM=offscreen certline selftest --no-keyring
    cat "$WORK/chroot-selftest.out" >&2

    # Upgrade while Certline runs: a real station window (Xvfb) of the tech user, then a
    # reinstall (dpkg runs "preinst upgrade" for it): refused; forced: the window pauses and
    # asks for a restart (its log says so) and keeps running.
    if command -v xvfb-run >/dev/null 2>&1 && command -v xauth >/dev/null 2>&1; then
        # Xvfb's socket directory, shared with the root (created the way X creates it)
        [ -d /tmp/.X11-unix ] || install -d -m 1777 /tmp/.X11-unix
        mkdir -p "$CROOT/tmp/.X11-unix"
        mount --bind /tmp/.X11-unix "$CROOT/tmp/.X11-unix" || die "cannot bind /tmp/.X11-unix into the root"
        MOUNTS+=("$CROOT/tmp/.X11-unix")
        chroot --userspec=tech:tech "$CROOT" env -i PATH=/usr/bin:/bin HOME=/home/tech LANG=C.UTF-8 \
            certline profile add line-1 --url https://est.example.test/.well-known/est >"$WORK/profile.log" 2>&1 ||
            { cat "$WORK/profile.log" >&2; die "certline profile add in the clean root"; }
        touch "$CROOT/tmp/certline.xauth" && chmod 644 "$CROOT/tmp/certline.xauth"
        # shellcheck disable=SC2016 # expanded by the inner shell
        setsid xvfb-run -a -f "$CROOT/tmp/certline.xauth" sh -c 'chmod 644 "$1/tmp/certline.xauth";
            exec chroot --userspec=tech:tech "$1" env -i PATH=/usr/bin:/bin HOME=/home/tech LANG=C.UTF-8 \
                DISPLAY="$DISPLAY" XAUTHORITY=/tmp/certline.xauth /opt/certline/certline-gui' sh "$CROOT" \
            >"$WORK/gui.out" 2>&1 &
        GUI_PID=$!
        WINDOW_PID=
        for _ in $(seq 60); do
            # shellcheck disable=SC2016 # expanded by the inner shell
            WINDOW_PID="$(in_chroot sh -c 'for e in /proc/[0-9]*/exe; do
                [ "$(readlink "$e")" = /opt/certline/certline-gui ] && { p="${e#/proc/}"; echo "${p%/exe}"; }
            done; true')"
            [ -n "$WINDOW_PID" ] && break
            sleep 1
        done
        [ -n "$WINDOW_PID" ] || { cat "$WORK/gui.out" >&2; die "the station window did not start in the clean root"; }
        sleep 5  # let the window come up (the program-file watch starts with it)
        if in_chroot sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall /tmp/$(basename "$DEB")" \
            >"$WORK/upgrade-refused.log" 2>&1; then
            cat "$WORK/upgrade-refused.log" >&2
            die "the package was replaced under a running Certline window"
        fi
        grep -q 'Certline is running and cannot be upgraded safely' "$WORK/upgrade-refused.log" ||
            { cat "$WORK/upgrade-refused.log" >&2; die "the refusal does not say why"; }
        say "ok: upgrade refused while the window is open"
        in_chroot sh -c "CERTLINE_UPGRADE_WHILE_RUNNING=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --reinstall /tmp/$(basename "$DEB")" >"$WORK/upgrade-forced.log" 2>&1 ||
            { tail -30 "$WORK/upgrade-forced.log" >&2; die "forced upgrade failed"; }
        found=
        for _ in $(seq 30); do
            if grep -rqs 'program files replaced while running' "$CROOT/home/tech" 2>/dev/null; then found=1; break; fi
            sleep 1
        done
        kill -0 $WINDOW_PID 2>/dev/null || { cat "$WORK/gui.out" >&2; die "the window crashed after the upgrade"; }
        [ -n "$found" ] || { cat "$WORK/gui.out" >&2; die "the window did not notice the upgrade (no log line)"; }
        say "ok: forced upgrade under the window: it noticed, paused and asked for a restart"
        kill -- "-$GUI_PID" 2>/dev/null || true
        wait "$GUI_PID" 2>/dev/null || true
        GUI_PID=
    else
        say "skipped: upgrade under a running window (apt-get install xvfb xauth)"
    fi
    in_chroot sh -c "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q certline" >"$WORK/remove.log" 2>&1 ||
        { tail -20 "$WORK/remove.log" >&2; die "apt-get remove certline failed"; }
    [ ! -e "$CROOT/opt/certline" ] && [ ! -e "$CROOT/usr/bin/certline" ] || die "files left after removal"
    [ -d "$CROOT/opt" ] || die "removing Certline deleted /opt"
    say "ok: installed, run and removed in a clean Debian 12 root"
fi

say "PASS ($(basename "$DEB"))"
