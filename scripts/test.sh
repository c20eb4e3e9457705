#!/usr/bin/env bash
# Run pytest the way CI does: under Xvfb (a real X server for Qt), inside a private
# D-Bus session with an unlocked gnome-keyring, so the Secret Service tests run for real.
#
#   scripts/test.sh [pytest args...]      e.g.  scripts/test.sh tests/secrets -x
#
# Needs the system packages and .venv that `scripts/setup.sh test` installs.
# The keyring lives in a throw-away directory (password "test"), never in your own
# ~/.local/share/keyrings, and the session (dbus-daemon, gnome-keyring-daemon) ends with the run.
# Exit status is pytest's; "no tests collected" (pytest exit 5) is reported as a failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"

die() { echo "scripts/test.sh: $*" >&2; exit 1; }

[ -x "$PY" ] || die "no .venv here: run 'scripts/setup.sh test' first"
for tool in xvfb-run xauth dbus-run-session gnome-keyring-daemon; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: run 'scripts/setup.sh test' (it installs the system packages)"
done

# Some tests reach the local EST test server as https://localhost:PORT (its certificate names
# localhost). Minimal container images sometimes lack the /etc/hosts entry: say so now instead of
# failing a few tests after a 60 s resolver timeout.
if ! "$PY" - <<'PYEOF'
import ipaddress
import socket
import sys

try:
    infos = socket.getaddrinfo("localhost", 443, type=socket.SOCK_STREAM)
except OSError as exc:
    print(f"scripts/test.sh: 'localhost' does not resolve: {exc}", file=sys.stderr)
    sys.exit(1)
strays = sorted({i[4][0] for i in infos if not ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback})
if strays:
    print(f"scripts/test.sh: 'localhost' resolves to {', '.join(strays)}, not to a loopback address", file=sys.stderr)
    sys.exit(1)
PYEOF
then
    die "the tests need 'localhost' to resolve to 127.0.0.1 (or ::1): add the line '127.0.0.1 localhost' to /etc/hosts"
fi

# The code under test is this checkout's, imported as certline.app / certline.ui (also in the
# subprocesses tests start): build/import-root links the names to app/, ui/, resources/ and comes
# first on the path, ahead of whatever checkout a (shared) venv's editable install points at.
IMPORT_ROOT="$("$PY" "$ROOT/scripts/import_root.py")"
export PYTHONPATH="$IMPORT_ROOT${PYTHONPATH:+:$PYTHONPATH}"

SESSION_DIR="$(mktemp -d "${TMPDIR:-/tmp}/certline-test-session.XXXXXX")"
trap 'rm -rf "$SESSION_DIR"' EXIT
mkdir -m 700 "$SESSION_DIR/keyrings-data" "$SESSION_DIR/runtime"
export CERTLINE_TEST_SESSION_DIR="$SESSION_DIR"

# Runs inside xvfb-run + dbus-run-session. $1.. are pytest's arguments.
# shellcheck disable=SC2016  # expanded by the inner shell
INNER='
set -u
d="$CERTLINE_TEST_SESSION_DIR"
# --unlock reads the password on stdin, creates the "login" keyring (the default
# collection) on first use, and returns once the daemon answers on the bus.
if ! printf %s test | env XDG_DATA_HOME="$d/keyrings-data" XDG_RUNTIME_DIR="$d/runtime" \
        gnome-keyring-daemon --unlock --components=secrets >"$d/gnome-keyring.out" 2>&1; then
    echo "scripts/test.sh: gnome-keyring-daemon did not start:" >&2
    cat "$d/gnome-keyring.out" >&2
    exit 1
fi
# Fail fast with a clear message if the keyring is not usable (instead of failing tests later).
if ! CERTLINE_HOME="$d/preflight-home" "$PY" -c "
from certline.app.security.secret_store import SecretStore
store = SecretStore()
store.check_backend()
store.set(\"certline-preflight\", \"passcode\", \"preflight\")
assert store.get(\"certline-preflight\", \"passcode\") == \"preflight\"
store.delete_all(\"certline-preflight\")
print(\"scripts/test.sh: keyring OK:\", store.describe_backend())
"; then
    echo "scripts/test.sh: the Secret Service in the test session does not work (see above)" >&2
    exit 1
fi
"$PY" -m pytest "$@"
'

set +e
PY="$PY" xvfb-run -a \
    dbus-run-session -- sh -c "$INNER" sh "$@"
status=$?
set -e

case $status in
    0) ;;
    5) echo "scripts/test.sh: pytest collected no tests (exit 5) -- treating that as a failure" >&2 ;;
    *) echo "scripts/test.sh: tests failed (exit $status)" >&2 ;;
esac
exit $status
