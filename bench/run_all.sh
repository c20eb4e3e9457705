#!/bin/sh
# Run every Certline benchmark once, one after the other (about 30 minutes on an idle 2-core machine,
# most of it the 2,000-unit soak). Results: bench/results/*.json, docs/benchmarks.md, docs/bench-*.png.
# Not run by CI. SOAK_UNITS=300 bench/run_all.sh for a shorter soak.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
for tool in curl openssl wrk; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y $tool" >&2; exit 2; }
done
"$PY" -c 'import matplotlib' 2>/dev/null || echo "note: no matplotlib in the venv, plots are skipped (.venv/bin/pip install -e '.[bench]')" >&2
for bench in est_throughput batch_bound gui_stall startup scale nrf91_path soak; do
    echo "=== $bench"
    case "$bench" in
        gui_stall) set -- --repeats 5 ;;
        scale) set -- --repeats 2 ;;
        soak) set -- --units "${SOAK_UNITS:-2000}" ;;
        *) set -- ;;
    esac
    timeout 3600 "$PY" "bench/$bench.py" "$@"
done
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then
    echo "=== shared_journal"
    timeout 1800 "$PY" bench/shared_journal.py
else
    echo "note: no PostgreSQL server binaries (apt-get install postgresql), shared_journal skipped" >&2
fi
"$PY" bench/pyside_none_leak.py || echo "note: this PySide6 leaks references to None (see docs/benchmarks.md section 6)"
