#!/usr/bin/env bash
# Set up Certline from a fresh checkout and run it:
#
#   scripts/setup.sh demo [args...]   system packages for Qt, .venv with Certline and its runtime
#                                     dependencies only, then `certline demo`
#   scripts/setup.sh test [pytest args...]
#                                     + Xvfb/D-Bus/gnome-keyring and the test tools (pytest, mypy,
#                                     ruff, ...), lint, then the test suite
#                                     (scripts/test.sh: Xvfb + D-Bus session + unlocked keyring)
#   scripts/setup.sh link [DIR]       put `certline` and `certline-gui` on your PATH: symlinks in
#                                     DIR (default ~/.local/bin) to the ones in .venv/bin
#
# Works on Debian 12 or newer and Ubuntu 24.04 or newer (they ship Python 3.11+; Ubuntu 22.04
# has 3.10, which is too old). Elsewhere: PYTHON=/path/to/python3.11-or-newer.
# The commands are installed in .venv/bin: run `. .venv/bin/activate` in a shell (or
# `scripts/setup.sh link` once) and the README's commands work as written.
#
# System packages (Debian/Ubuntu): checked with dpkg; as root the missing ones are installed
# with apt-get, otherwise the exact `sudo apt-get update && sudo apt-get install ...` line is
# printed and the script exits 1. Other systems: the list is printed and the script carries on.
# Environment: PYTHON (interpreter for the venv, default python3), CERTLINE_SKIP_LINT=1,
# CERTLINE_SETUP_CHECK_ONLY=1 (install nothing: exit 3 if anything would be installed).
# .ci/run is `scripts/setup.sh test` (root, fresh Debian 12, no stdin).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"

CHECK_ONLY="${CERTLINE_SETUP_CHECK_ONLY:-0}"

say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }
# CERTLINE_SETUP_CHECK_ONLY=1: stop instead of installing (tests run the README's command this way)
would_install() {
    [ "$CHECK_ONLY" = 1 ] || return 0
    say "check only: would install $*"
    exit 3
}

SUPPORTED="Debian 12 or newer, Ubuntu 24.04 or newer"

usage() {
    sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

MODE="${1:-}"
case "$MODE" in
    demo | test | link) shift ;;
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
# label tests: zbar decodes QR codes, poppler rasterises PDFs, CUPS + cups-pdf is a real print queue
LABEL_TEST=(libzbar0 poppler-utils cups printer-driver-cups-pdf)

case "$MODE" in
    demo) WANTED=("${QT_OFFSCREEN[@]}" "${QT_X11[@]}" "${TOOLS[@]}") ;;
    test) WANTED=("${QT_OFFSCREEN[@]}" "${QT_X11[@]}" "${XVFB[@]}" "${KEYRING[@]}" "${TOOLS[@]}"
        "${DATABASE[@]}" "${LABEL_TEST[@]}") ;;
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
    would_install "system packages: ${missing[*]//|/ or }"
    if [ "$(id -u)" -ne 0 ]; then
        local names=()
        local entry
        for entry in "${missing[@]}"; do names+=("$(candidate "$entry")"); done
        say "missing system packages; install them and run this again:"
        # update first: on a fresh image the package lists are empty ("Unable to locate package")
        echo "sudo apt-get update && sudo apt-get install -y --no-install-recommends ${names[*]}" >&2
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

# --- python ----------------------------------------------------------------------------
# Checked before anything is installed: on Ubuntu 22.04 (Python 3.10) nothing else would help.
ensure_python() {
    [ -x "$VENV/bin/python" ] && return
    command -v "$PYTHON" >/dev/null 2>&1 ||
        die "$PYTHON not found: Certline needs Python 3.11 or newer ($SUPPORTED ship it; elsewhere set PYTHON=/path/to/python3.11)"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "$PYTHON is $("$PYTHON" -V 2>&1); Certline needs Python 3.11 or newer. $SUPPORTED ship it; on an older release install a python3.11 (or newer) and run again with PYTHON=/path/to/it"
}

# --- virtual environment ---------------------------------------------------------------
# demo: Certline and its runtime dependencies only; test: plus the [test] extra (~400 MB of
# pytest, mypy, ruff, hypothesis, ... that a station does not need).
ensure_venv() {
    local extras="$1"
    if [ ! -x "$VENV/bin/python" ]; then
        would_install "a virtual environment in $VENV"
        say "creating $VENV with $("$PYTHON" -V 2>&1)"
        "$PYTHON" -m venv "$VENV"
    fi
    # Re-install only when pyproject.toml changed, the entry point is missing, or the test tools
    # are wanted and not there yet: fast re-runs. The stamp holds the pyproject hash, then the
    # extras ("runtime" or "test"); an older stamp without that line was written by a full install.
    local stamp="$VENV/.certline-installed"
    local want have_hash have_extras
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ -x "$VENV/bin/certline" ] && [ -f "$stamp" ]; then
        have_hash="$(sed -n 1p "$stamp")"
        have_extras="$(sed -n 2p "$stamp")"
        have_extras="${have_extras:-test}"
        if [ "$have_hash" = "$want" ] && { [ "$extras" = runtime ] || [ "$have_extras" = test ]; }; then
            say "python packages: up to date"
            return
        fi
    fi
    local target=.
    local what="certline and its runtime dependencies"
    if [ "$extras" = test ]; then
        target='.[test]'
        what="certline, its runtime dependencies and the test tools"
    fi
    would_install "python packages: $what"
    say "installing $what into $VENV (pip shows its progress; a few minutes on a slow link)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$target"
    printf '%s\n%s\n' "$want" "$extras" >"$stamp"
}

# How to get the README's commands (they live in .venv/bin, which is not on PATH).
print_command_hint() {
    if command -v certline >/dev/null 2>&1 && [ "$(command -v certline)" -ef "$VENV/bin/certline" ]; then
        return
    fi
    say "the commands (certline, certline-gui) are in $VENV/bin. To type them as the README does:"
    say "  . $VENV/bin/activate          (this shell only), or"
    say "  scripts/setup.sh link          (symlinks in ~/.local/bin, every new shell)"
}

# --- link: the commands on PATH without activating ----------------------------------------
link_commands() {
    local dir="${1:-$HOME/.local/bin}"
    [ -x "$VENV/bin/certline" ] || die "no $VENV/bin/certline yet: run 'scripts/setup.sh demo' first"
    mkdir -p "$dir"
    local name
    for name in certline certline-gui; do
        [ -x "$VENV/bin/$name" ] || die "$VENV/bin/$name is missing: run 'scripts/setup.sh demo' again"
        if [ -e "$dir/$name" ] && [ ! -L "$dir/$name" ]; then
            die "$dir/$name exists and is not a link; remove it or choose another directory"
        fi
        ln -sfn "$VENV/bin/$name" "$dir/$name"
        say "linked $dir/$name -> $VENV/bin/$name"
    done
    case ":$PATH:" in
        *":$dir:"*) say "done: 'certline --help' works in this shell" ;;
        *) say "$dir is not on your PATH yet: log in again (Debian/Ubuntu add ~/.local/bin then), or add" \
            "'export PATH=\"$dir:\$PATH\"' to ~/.profile" ;;
    esac
}

# --- modes -----------------------------------------------------------------------------
run_lint() {
    local status=0
    # mypy (mypy_path) and lint-imports (PYTHONPATH) read this checkout's code as certline.app /
    # certline.ui from the links in build/import-root (see scripts/import_root.py)
    local import_root
    import_root="$("$VENV/bin/python" "$ROOT/scripts/import_root.py")" || return 1
    say "lint: ruff"
    "$VENV/bin/ruff" check app ui tests || status=1
    say "lint: ruff format"
    "$VENV/bin/ruff" format --check app ui tests || status=1
    say "lint: mypy"
    "$VENV/bin/mypy" || status=1
    say "lint: import contracts"
    PYTHONPATH="$import_root" "$VENV/bin/lint-imports" || status=1
    return $status
}

if [ "$MODE" = link ]; then
    link_commands "$@"
    exit 0
fi

ensure_python
ensure_system_packages

case "$MODE" in
    demo)
        ensure_venv runtime
        print_command_hint
        exec "$VENV/bin/certline" demo "$@"
        ;;
    test)
        ensure_venv test
        print_command_hint
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
