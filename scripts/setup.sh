#!/usr/bin/env bash
# Set up Certline from a fresh checkout and run it:
#
#   scripts/setup.sh demo [args...]   system packages for Qt, .venv, then `certline demo`
#   scripts/setup.sh test [pytest args...]
#                                     + Xvfb/D-Bus/gnome-keyring, lint, then the test suite
#                                     (scripts/test.sh: Xvfb + D-Bus session + unlocked keyring)
#
# System packages (Debian/Ubuntu): checked with dpkg; as root the missing ones are installed
# with apt-get, otherwise the exact `sudo apt-get install ...` line is printed and the script
# exits 1. Other systems: the list is printed and the script carries on.
# Environment: PYTHON (interpreter for the venv, default python3), CERTLINE_SKIP_LINT=1.
# .ci/run is `scripts/setup.sh test` (root, fresh Debian 12, no stdin).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

MODE="${1:-}"
case "$MODE" in
    demo | test) shift ;;
    -h | --help) usage ;;
    *) usage ;;
esac

# --- system packages ------------------------------------------------------------------
# "a|b" means either package will do (b is the name on newer releases, e.g. Ubuntu 24.04's t64).
QT_OFFSCREEN=(libglib2.0-0\|libglib2.0-0t64 libgl1 libegl1 libxkbcommon0 libfontconfig1
    libfreetype6 libdbus-1-3 fonts-dejavu-core)
QT_X11=(libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
    libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libx11-xcb1 libxcb-randr0 libxcb-render0
    libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-util1\|libxcb-util0)
XVFB=(xvfb xauth)
# dbus-run-session is in dbus-daemon (Debian 12+) or dbus (older); dbus-x11 satisfies
# gnome-keyring's session-bus dependency without pulling in a systemd user session.
KEYRING=(gnome-keyring dbus-daemon\|dbus dbus-x11)
TOOLS=(openssl curl ca-certificates)
# The shared-journal tests start a throwaway PostgreSQL cluster with these binaries.
DATABASE=(postgresql)

case "$MODE" in
    demo) WANTED=("${QT_OFFSCREEN[@]}" "${QT_X11[@]}" "${TOOLS[@]}") ;;
    test) WANTED=("${QT_OFFSCREEN[@]}" "${QT_X11[@]}" "${XVFB[@]}" "${KEYRING[@]}" "${TOOLS[@]}"
        "${DATABASE[@]}") ;;
esac

is_debian() {
    command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1
}

installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# The first alternative apt knows about (for names that differ between releases).
candidate() {
    local alt
    for alt in ${1//|/ }; do
        if apt-cache show "$alt" >/dev/null 2>&1; then
            echo "$alt"
            return
        fi
    done
    echo "${1%%|*}"
}

missing_packages() {
    local entry alt ok
    for entry in "$@"; do
        ok=
        for alt in ${entry//|/ }; do
            if installed "$alt"; then ok=1; break; fi
        done
        [ -n "$ok" ] || echo "$entry"
    done
}

python_needs_venv_package() {
    # Debian's own python3 ships venv/ensurepip separately (python3-venv).
    [ -x "$VENV/bin/python" ] && return 1
    command -v "$PYTHON" >/dev/null 2>&1 || return 1
    ! "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1
}

ensure_system_packages() {
    if ! is_debian; then
        say "not a Debian/Ubuntu system: make sure the equivalents of these are installed:"
        say "  ${WANTED[*]//|/ or }"
        return
    fi
    local wanted=("${WANTED[@]}")
    if python_needs_venv_package; then wanted+=(python3-venv); fi
    local missing
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    if [ "${#missing[@]}" -eq 0 ]; then
        say "system packages: all present"
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        local names=()
        local entry
        for entry in "${missing[@]}"; do names+=("$(candidate "$entry")"); done
        say "missing system packages; install them and run this again:"
        echo "sudo apt-get install -y --no-install-recommends ${names[*]}" >&2
        exit 1
    fi
    say "installing system packages: ${missing[*]//|/ or }"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    local names=()
    local entry
    for entry in "${missing[@]}"; do names+=("$(candidate "$entry")"); done
    apt-get install -y -q --no-install-recommends "${names[@]}"
    local still
    mapfile -t still < <(missing_packages "${wanted[@]}")
    [ "${#still[@]}" -eq 0 ] || die "still missing after apt-get install: ${still[*]}"
}

# --- virtual environment ---------------------------------------------------------------
ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON=/path/to/python3.11+)"
        "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
            die "$PYTHON is $("$PYTHON" -V 2>&1); Certline needs Python 3.11 or newer (set PYTHON=...)"
        say "creating $VENV with $("$PYTHON" -V 2>&1)"
        "$PYTHON" -m venv "$VENV"
    fi
    # Re-install only when pyproject.toml changed (or the entry point is missing): fast re-runs.
    local stamp="$VENV/.certline-installed"
    local want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ -x "$VENV/bin/certline" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        say "python packages: up to date"
        return
    fi
    say "installing certline and its test tools into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --progress-bar off -e '.[test]'
    echo "$want" >"$stamp"
}

# --- modes -----------------------------------------------------------------------------
run_lint() {
    local status=0
    say "lint: ruff"
    "$VENV/bin/ruff" check app ui tests || status=1
    say "lint: mypy"
    "$VENV/bin/mypy" || status=1
    say "lint: import contracts"
    "$VENV/bin/lint-imports" || status=1
    return $status
}

ensure_system_packages
ensure_venv

case "$MODE" in
    demo)
        exec "$VENV/bin/certline" demo "$@"
        ;;
    test)
        lint_status=0
        if [ "${CERTLINE_SKIP_LINT:-0}" != 1 ]; then
            run_lint || lint_status=$?
        fi
        test_status=0
        bash "$ROOT/scripts/test.sh" "$@" || test_status=$?
        if [ "$lint_status" -ne 0 ]; then
            say "FAILED: lint (ruff/mypy/lint-imports) reported problems above"
        fi
        if [ "$test_status" -ne 0 ]; then
            say "FAILED: tests (exit $test_status)"
            exit "$test_status"
        fi
        exit "$lint_status"
        ;;
esac
