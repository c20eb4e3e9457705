"""Benchmark 1: EST enrollment throughput, Certline vs curl vs openssl scripting vs the server's ceiling.

Run: ``.venv/bin/python bench/est_throughput.py`` (about a minute). Writes
``bench/results/est_throughput.json``, ``docs/bench-est-latency.png`` and docs/benchmarks.md.

All methods talk to the *same* ``certline est-server`` process (own process, own GIL) in the
same run, each with its own fresh, distinct EC P-256 CSRs generated beforehand (a byte-identical
CSR would be answered from the server's retransmission cache). Every method posts the CSR as
PEM ``text/plain`` with DTM-style Basic auth (base64 of the passcode alone).

* certline: ``EstClient`` (one keep-alive pool of 4), 4 worker threads = profile concurrency 4;
  every answer is fully verified (PKCS#7 parsed, key == CSR key, chain to the pinned anchor).
* curl loop: one ``curl`` process per unit, exactly the DTM documentation's command line
  (``--location -X POST URL --header 'Authorization: Basic ...' --header 'Content-Type:
  text/plain' --data @csr.pem --cacert ca.pem``) plus ``-s -o FILE -w %{http_code}``
  to keep the answer and the status. Sequential, like a shell for-loop.
* curl x4: the same command, four loops in parallel (``xargs -P4``-style).
* openssl s_client: one ``openssl s_client -quiet`` process per unit carrying a hand-written
  HTTP/1.1 request with ``Connection: close`` (no certificate extraction).
* openssl pipeline: the same, then ``sed | openssl base64 -d | openssl pkcs7 -print_certs``
  so the script ends with a PEM certificate, which is the least a script must do.
* ceiling: ``wrk`` (C, epoll) with a Lua script, keep-alive, 4 and 16 connections, distinct CSRs,
  nothing done with the answers. That is the most the server process can issue on this machine.

Cores (``--cores``). On a line the EST server is remote and never shares the station's CPU; on
the benchmark machine it does, so the client's CPU is taken from the server's cores and the
ratio partly measures the machine. With two or more CPUs the ceiling and Certline runs are
therefore measured twice, alternately, in the same run: "shared" (every process may run on every
CPU, as before; the result keys are unchanged) and "separate" (the server process, every thread
of it, pinned to one CPU; the client side - the benchmark process with the Certline client's
threads, or ``wrk`` with its threads - pinned to another; keys ``*_sep*``). Each row records its
mode and the CPUs each side was allowed and seen on; the 80 % target is checked for both.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BENCH,
    DOCS,
    EstServerProcess,
    bench_profile,
    der_to_pem,
    latency_summary_ms,
    make_csrs,
    save_result,
    system_cpu_seconds,
    wait_for_quiet,
)

WORKERS = 4
REPEATS = 3
#: a run during which other processes used more CPU than this (cores) is measured again ...
FOREIGN_LIMIT = 0.3
#: ... at most this many times in all (the last attempt is kept, with its foreign load shown)
MAX_ATTEMPTS = 4


# ----------------------------------------------------------------------------- cores

#: the CPUs this benchmark may use at all (what "shared" means, and what pinning is undone to)
ALL_CPUS: frozenset[int] = frozenset(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Cores:
    """Which CPUs the server process and the client side may run on during a run."""

    mode: str
    """"shared": every process on every CPU (the machine decides); "separate": one CPU each."""
    server: frozenset[int]
    client: frozenset[int]

    @property
    def suffix(self) -> str:
        """Result-key suffix: none for shared (the keys bench/report.py reads), ``_sep`` else."""
        return "" if self.mode == "shared" else "_sep"

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "server_cpus": sorted(self.server), "client_cpus": sorted(self.client)}


def core_layouts(choice: str, cpus: set[int]) -> list[Cores]:
    """Shared always (nothing hidden); separate too when asked for and the machine has 2+ CPUs."""
    every = frozenset(cpus)
    layouts = [Cores("shared", every, every)]
    if choice == "both" and len(cpus) >= 2:
        first, second = sorted(cpus)[:2]
        layouts.append(Cores("separate", frozenset({first}), frozenset({second})))
    return layouts


def _tasks(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def _children(pid: int) -> list[int]:
    """Child processes of ``pid`` (any of its threads), from /proc (wrk, curl, openssl)."""
    kids: list[int] = []
    for tid in _tasks(pid):
        try:
            kids += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return kids


def pin_process(pid: int, cpus: frozenset[int]) -> None:
    """Every thread of ``pid`` on ``cpus``; threads started later inherit their creator's mask
    (the server's connection threads are started by its pinned accept thread)."""
    for tid in _tasks(pid):
        try:
            os.sched_setaffinity(tid, cpus)
        except OSError:  # a thread that ended meanwhile
            continue


@contextmanager
def pinned(server: EstServerProcess, cores: Cores) -> Iterator[None]:
    """Pin the server and this process (whose threads and children are the client side)."""
    pin_process(server.pid, cores.server)
    pin_process(os.getpid(), cores.client)
    try:
        yield
    finally:
        pin_process(os.getpid(), ALL_CPUS)
        pin_process(server.pid, ALL_CPUS)


def _thread_cpu(pids: list[int]) -> dict[tuple[int, int], tuple[int, int, frozenset[int]]]:
    """Per thread of ``pids``: (CPU ticks so far, CPU it last ran on, CPUs it may run on)."""
    out = {}
    for pid in pids:
        for tid in _tasks(pid):
            try:
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
                # after pid and comm: utime, stime are fields 14, 15; "processor" is field 39
                ticks, cpu = int(stat[11]) + int(stat[12]), int(stat[36])
                out[(pid, tid)] = (ticks, cpu, frozenset(os.sched_getaffinity(tid)))
            except (OSError, ValueError, IndexError):
                continue
    return out


class CoreSampler:
    """Looks, a moment into a run, at where the server's and the client side's threads may run
    (affinity) and on which CPU each thread that used CPU during the run last ran, so the JSON
    shows the pinning held for the threads that did the work (the client side is this process
    and its children other than the server, e.g. wrk with its threads)."""

    def __init__(self, server_pid: int, after_s: float = 0.5) -> None:
        self.server_pid = server_pid
        self.after_s = after_s
        self.seen: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-core-sampler", daemon=True)
        self._before = {**_thread_cpu([server_pid]), **_thread_cpu(self._client_pids())}

    def _client_pids(self) -> list[int]:
        me = os.getpid()
        return [me, *(pid for pid in _children(me) if pid != self.server_pid)]  # the server is ours too

    def _side(self, pids: list[int]) -> dict[str, list[int]]:
        now = _thread_cpu(pids)
        busy = [t for key, t in now.items() if key not in self._before or t[0] > self._before[key][0]]
        return {
            "allowed": sorted(frozenset().union(*(t[2] for t in now.values()))),
            "busy_threads_ran_on": sorted({t[1] for t in busy}),
        }

    def _run(self) -> None:
        if self._stop.wait(self.after_s):
            return
        self.seen = {"server": self._side([self.server_pid]), "client": self._side(self._client_pids())}

    def __enter__(self) -> CoreSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _median_run(results: dict[str, Any], prefix: str) -> dict[str, Any]:
    runs = sorted((v for k, v in results.items() if k.startswith(prefix)), key=lambda r: r["per_s"])
    median = dict(runs[len(runs) // 2])
    median["runs_per_s"] = [r["per_s"] for r in runs]
    return median


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Meter:
    """Counts issued certificates and CPU on both sides around one method's run."""

    def __init__(self, server: EstServerProcess) -> None:
        self.server = server

    def __enter__(self) -> Meter:
        self.issued0 = self.server.issued_count()
        self.busy0, _ = system_cpu_seconds()
        self.server_cpu0 = self.server.cpu_seconds()
        self.client_cpu0 = _self_cpu() + _children_cpu()
        self.sampler = CoreSampler(self.server.pid).__enter__()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.sampler.__exit__()
        self.server_cpu = self.server.cpu_seconds() - self.server_cpu0
        self.client_cpu = _self_cpu() + _children_cpu() - self.client_cpu0
        self.issued = self.server.issued_count() - self.issued0
        busy = system_cpu_seconds()[0] - self.busy0
        self.foreign_cores = max(0.0, busy - self.server_cpu - self.client_cpu) / max(1e-9, self.wall)

    def summary(self, ok: int, latencies: list[float], *, wall: float | None = None) -> dict[str, Any]:
        wall = wall if wall is not None else self.wall
        return {
            "units": ok,
            "issued_by_server": self.issued,
            "wall_s": wall,
            "per_s": ok / wall if wall > 0 else 0.0,
            **latency_summary_ms(latencies),
            "server_cpu_ms_per_unit": 1000 * self.server_cpu / max(1, self.issued),
            "client_cpu_ms_per_unit": 1000 * self.client_cpu / max(1, ok),
            "foreign_cpu_cores": self.foreign_cores,
            "cpus_seen": self.sampler.seen,
        }


# ----------------------------------------------------------------------------- certline


def run_certline(server: EstServerProcess, csrs: list[bytes], deadline_s: float) -> dict[str, Any]:
    from certline.app.config.profile import CsrFormat
    from certline.app.est.client import EstClient
    from certline.app.est.credentials import Credentials

    profile = bench_profile(server, concurrency=WORKERS)
    profile = type(profile)(**{**profile.__dict__, "csr_format": CsrFormat.PEM_TEXT})
    client = EstClient(profile, Credentials(passcode=server.passcode), pool_size=WORKERS)
    queue = deque(csrs)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.monotonic() + deadline_s

    def worker() -> None:
        while time.monotonic() < stop_at:
            with lock:
                if not queue:
                    return
                csr = queue.popleft()
            t0 = time.perf_counter()
            try:
                result = client.simpleenroll(csr)
                assert result.chain, "empty chain"
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)

    threads = [threading.Thread(target=worker, name=f"bench-est-{i}") for i in range(WORKERS)]
    try:
        with Meter(server) as meter:
            for t in threads:
                t.start()
            for t in threads:
                t.join(deadline_s + 30)
    finally:
        client.close()
    out = meter.summary(len(latencies), latencies)
    out["errors"] = len(errors)
    out["error_samples"] = errors[:3]
    out["connections"] = f"keep-alive pool of {WORKERS}"
    out["_latencies"] = latencies
    return out


# ----------------------------------------------------------------------------- subprocess loops


def _run_loop(
    server: EstServerProcess,
    commands: list[
        Callable[[], tuple[list[str], bytes | None, Callable[[subprocess.CompletedProcess[bytes]], bool]]]
    ],
    parallel: int,
    deadline_s: float,
    shell: bool = False,
) -> dict[str, Any]:
    """Run one process (or shell pipeline) per unit, ``parallel`` loops at a time."""
    queue = deque(commands)
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    stop_at = time.monotonic() + deadline_s

    def loop() -> None:
        while time.monotonic() < stop_at:
            with lock:
                if not queue:
                    return
                make = queue.popleft()
            argv, stdin, check = make()
            t0 = time.perf_counter()
            proc = subprocess.run(
                argv, input=stdin, capture_output=True, timeout=30, check=False, shell=shell
            )  # noqa: S602 - fixed bench pipeline
            dt = time.perf_counter() - t0
            ok = check(proc)
            with lock:
                if ok:
                    latencies.append(dt)
                else:
                    failures.append((proc.stderr or proc.stdout)[-200:].decode("utf-8", "replace"))

    threads = [threading.Thread(target=loop) for _ in range(parallel)]
    with Meter(server) as meter:
        for t in threads:
            t.start()
        for t in threads:
            t.join(deadline_s + 60)
    out = meter.summary(len(latencies), latencies)
    out["errors"] = len(failures)
    out["error_samples"] = failures[:3]
    out["connections"] = "one process, one TCP connection and one TLS handshake per unit"
    out["_latencies"] = latencies
    return out


def curl_commands(server: EstServerProcess, files: list[Path], outdir: Path) -> list[Any]:
    outdir = Path(tempfile.mkdtemp(dir=outdir))  # fresh per run: no answer left over from another
    token = base64.b64encode(server.passcode.encode()).decode()
    cmds = []
    for i, path in enumerate(files):
        out = outdir / f"curl-{i}.p7"

        def make(path: Path = path, out: Path = out) -> Any:
            argv = [
                "curl",
                "--location",
                "-X",
                "POST",
                server.enroll_url,
                "--header",
                f"Authorization: Basic {token}",
                "--header",
                "Content-Type: text/plain",
                "--data",
                f"@{path}",
                "--cacert",
                str(server.ca_file),
                "-s",
                "-o",
                str(out),
                "-w",
                "%{http_code}",
            ]
            return argv, None, lambda p: p.returncode == 0 and p.stdout.strip() == b"200"

        cmds.append(make)
    return cmds


def bash_curl_loop(
    server: EstServerProcess, files: list[Path], outdir: Path, deadline_s: float
) -> dict[str, Any]:
    """Cross-check without Python in the loop: a plain bash for-loop of the same curl command."""
    token = base64.b64encode(server.passcode.encode()).decode()
    script = (
        'url="$1"; ca="$2"; tok="$3"; out="$4"; shift 4; n=0; '
        'for f in "$@"; do n=$((n+1)); '
        'curl --location -X POST "$url" --header "Authorization: Basic $tok" '
        '--header \'Content-Type: text/plain\' --data @"$f" --cacert "$ca" -s -o "$out/bash-$n.p7" '
        "|| echo FAIL; done"
    )
    with Meter(server) as meter:
        proc = subprocess.run(
            [
                "bash",
                "-c",
                script,
                "bench",
                server.enroll_url,
                str(server.ca_file),
                token,
                str(outdir),
                *map(str, files),
            ],
            capture_output=True,
            timeout=deadline_s + 60,
            check=False,
        )
    ok = len(files) - proc.stdout.count(b"FAIL")
    out = meter.summary(ok, [])
    out.update({"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None})
    out["connections"] = "bash for-loop, one curl per unit"
    out["errors"] = len(files) - ok
    return out


def _http_request(server: EstServerProcess, pem: bytes) -> bytes:
    m = re.match(r"https://([^/]+)(/.*)", server.enroll_url)
    assert m
    host, path = m.group(1), m.group(2)
    token = base64.b64encode(server.passcode.encode()).decode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {token}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(pem)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + pem


def openssl_commands(
    server: EstServerProcess, pems: list[bytes], outdir: Path, *, pipeline: bool
) -> list[Any]:
    outdir = Path(tempfile.mkdtemp(dir=outdir))  # fresh per run: no certificate left over
    m = re.match(r"https://([^/:]+):(\d+)", server.enroll_url)
    assert m
    host, port = m.group(1), m.group(2)
    sclient = (
        f"openssl s_client -quiet -connect {host}:{port} -CAfile {server.ca_file} "
        f"-verify_return_error -verify_ip {host}"
    )
    cmds = []
    for i, pem in enumerate(pems):
        req = outdir / f"req-{i}.http"
        req.write_bytes(_http_request(server, pem))
        cert = outdir / f"cert-{i}.pem"
        if pipeline:
            # headers end at the first empty (CR-only) line; the body is base64 DER (certs-only)
            line = (
                f"{sclient} < {req} 2>/dev/null | sed '1,/^\\r$/d' | openssl base64 -d "
                f"| openssl pkcs7 -inform DER -print_certs -out {cert}"
            )

            def make(line: str = line, cert: Path = cert) -> Any:
                return (
                    line,
                    None,
                    lambda p, cert=cert: (
                        p.returncode == 0 and cert.exists() and b"BEGIN CERTIFICATE" in cert.read_bytes()
                    ),
                )
        else:
            line = f"{sclient} < {req} 2>/dev/null"

            def make(line: str = line) -> Any:
                return (
                    line,
                    None,
                    lambda p: p.stdout.startswith(b"HTTP/1.1 200") or p.stdout.startswith(b"HTTP/1.0 200"),
                )

        cmds.append(make)
    return cmds


# ----------------------------------------------------------------------------- ceiling


def run_wrk(
    server: EstServerProcess, pems: list[bytes], connections: int, seconds: float, workdir: Path
) -> dict[str, Any]:
    csr_file = workdir / f"wrk-csrs-{connections}.txt"
    csr_file.write_bytes(b"".join(p.replace(b"\n", b"|") + b"\n" for p in pems))
    threads = 2
    env = {"BENCH_BASIC_TOKEN": base64.b64encode(server.passcode.encode()).decode(), "PATH": "/usr/bin:/bin"}
    argv = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "wrk_enroll.lua"),
        server.enroll_url,
        "--",
        str(threads),
        str(csr_file),
    ]
    with Meter(server) as meter:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, env=env, check=False
        )
    m = re.search(r"^BENCH (.*)$", proc.stdout, re.M)
    if not m:
        raise RuntimeError(f"wrk failed: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    fields = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    errors = sum(
        fields[k] for k in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    duration = fields["duration_us"] / 1e6
    ok = fields["requests"] - fields["status_errors"]
    return {
        "units": ok,
        "issued_by_server": meter.issued,
        "wall_s": duration,
        "per_s": ok / duration,
        "p50_ms": fields["p50_us"] / 1000,
        "p90_ms": fields["p90_us"] / 1000,
        "p99_ms": fields["p99_us"] / 1000,
        "max_ms": fields["max_us"] / 1000,
        "server_cpu_ms_per_unit": 1000 * meter.server_cpu / max(1, meter.issued),
        "client_cpu_ms_per_unit": 1000 * meter.client_cpu / max(1, ok),
        "foreign_cpu_cores": meter.foreign_cores,
        "cpus_seen": meter.sampler.seen,
        "errors": errors,
        "csrs_available": len(pems),
        "connections": f"keep-alive, {connections} connections, {threads} wrk threads",
    }


# ----------------------------------------------------------------------------- verdict


def ceiling_verdict(results: dict[str, Any], cores: Cores) -> dict[str, Any]:
    """The 80 % target for one core layout: the median Certline run against the best ceiling run
    of the same layout (4 or 16 connections), plus each Certline run against the ceiling run
    measured just before it on the same server."""
    sfx = cores.suffix
    runs = [k for k in results if re.fullmatch(rf"ceiling_c(4{sfx}_run\d+|16{sfx})", k)]
    ceiling_key = max(runs, key=lambda k: results[k]["per_s"])
    ceiling = results[ceiling_key]["per_s"]
    certline = results[f"certline{sfx}"]
    paired = []
    for rep in range(1, 100):
        cl, ce = results.get(f"certline{sfx}_run{rep}"), results.get(f"ceiling_c4{sfx}_run{rep}")
        if not cl or not ce:
            break
        paired.append(cl["per_s"] / ce["per_s"] if ce["per_s"] else 0.0)
    return {
        **cores.describe(),
        "ceiling_per_s": ceiling,
        "ceiling_run": ceiling_key,
        "certline_per_s": certline["per_s"],
        "fraction_of_ceiling": certline["per_s"] / ceiling,
        "target_within_20pct_of_ceiling": certline["per_s"] >= 0.8 * ceiling,
        "paired_fractions": paired,
        "server_cpu_ms_per_enrollment_ceiling_run": results[ceiling_key]["server_cpu_ms_per_unit"],
        "client_cpu_ms_per_enrollment_certline": certline["client_cpu_ms_per_unit"],
        "server_cpu_ms_per_enrollment_certline": certline["server_cpu_ms_per_unit"],
    }


# ----------------------------------------------------------------------------- plot


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed; no plot")
        return False
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    for key, label in (
        ("certline", "Certline (keep-alive pool, 4 workers)"),
        ("curl_loop", "curl loop (DTM doc command)"),
        ("curl_x4", "curl, 4 loops in parallel"),
        ("openssl_sclient", "openssl s_client per unit"),
        ("openssl_pipeline", "openssl s_client + pkcs7 pipeline"),
    ):
        lat = sorted(results.get(key, {}).get("_latencies") or [])
        if not lat:
            continue
        ys = [(i + 1) / len(lat) for i in range(len(lat))]
        ax.step([v * 1000 for v in lat], ys, where="post", label=f"{label} (n={len(lat)})")
    ceiling = results.get("ceiling_c4")
    if ceiling:
        ax.axvline(ceiling["p50_ms"], color="grey", ls=":", lw=1, label="wrk c=4 median (ceiling run)")
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    ax.xaxis.set_major_locator(FixedLocator([1, 2, 3, 5, 10, 20, 30, 50, 100, 200]))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("per-enrollment latency, ms (log scale)")
    ax.set_ylabel("fraction of enrollments")
    ax.set_title("EST /simpleenroll latency against the same local test server")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path}")
    return True


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certline-units", type=int, default=1000, help="units per Certline run")
    parser.add_argument("--loop-units", type=int, default=120, help="units per curl/openssl method")
    parser.add_argument("--wrk-seconds", type=float, default=4.0)
    parser.add_argument("--deadline", type=float, default=60.0, help="time limit per method (s)")
    parser.add_argument(
        "--cores",
        choices=("both", "shared"),
        default="both" if len(ALL_CPUS) >= 2 else "shared",
        help="both (default with 2+ CPUs): ceiling and Certline measured with the server and the "
        "client side on separate CPUs as well as on shared ones; shared: the latter only",
    )
    parser.add_argument("--repeats", type=int, default=REPEATS, help="alternations per core layout")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    for tool in ("curl", "openssl", "wrk"):
        if not shutil.which(tool):
            print(f"{tool} is required (apt-get install -y {tool})", file=sys.stderr)
            return 2

    work = Path(tempfile.mkdtemp(prefix="certline-bench-est-"))
    server = EstServerProcess(work / "est")
    try:
        n_loop = args.loop_units
        wrk_csrs = int(args.wrk_seconds * 1600)  # > the ceiling rate, so no CSR is sent twice
        serial = iter(range(10**9))

        def fresh(n: int) -> list[bytes]:
            """n new distinct PEM CSRs (made outside any timed block)."""
            return [der_to_pem(d) for d in make_csrs(n, prefix=f"BENCH{next(serial)}")]

        server.start()
        print(f"est-server pid {server.pid}: {server.enroll_url}", flush=True)
        results: dict[str, Any] = {}
        csr_dir = work / "csr"
        csr_dir.mkdir()
        out_dir = work / "out"
        out_dir.mkdir()

        def files(pems: list[bytes]) -> list[Path]:
            paths = []
            for pem in pems:
                path = csr_dir / f"csr-{len(list(csr_dir.iterdir()))}.pem"
                path.write_bytes(pem)
                paths.append(path)
            return paths

        def measured(label: str, run: Any) -> dict[str, Any]:
            """Run ``run()`` on an idle machine; measure again (bounded) if others disturbed it."""
            discarded = []
            for attempt in range(1, MAX_ATTEMPTS + 1):
                wait_for_quiet()
                print(f"{label} ...", flush=True)
                res = run()
                if res["foreign_cpu_cores"] <= FOREIGN_LIMIT or attempt == MAX_ATTEMPTS:
                    res["discarded_disturbed_runs"] = discarded
                    return res
                print(
                    f"  other processes used {res['foreign_cpu_cores']:.2f} cores during it "
                    f"({res['per_s']:.0f}/s); measuring again",
                    flush=True,
                )
                discarded.append(round(res["per_s"], 1))
            raise AssertionError("unreachable")

        # The machine is a shared VM (run-to-run noise of +-15 %) and the server's state grows with
        # every issuance: Certline and the wrk ceiling are measured alternately, REPEATS times each,
        # on the same server; the table shows the median, the target uses the best ceiling run.
        # With --cores both, each repetition measures the shared layout, then the separate one.
        layouts = core_layouts(args.cores, set(ALL_CPUS))
        for rep in range(1, args.repeats + 1):
            for cores in layouts:
                sfx, tag = cores.suffix, f", {cores.mode} cores"
                with pinned(server, cores):
                    results[f"ceiling_c4{sfx}_run{rep}"] = measured(
                        f"wrk ceiling, 4 connections (run {rep}{tag})",
                        lambda: run_wrk(server, fresh(wrk_csrs), 4, args.wrk_seconds, work),
                    )
                    results[f"ceiling_c4{sfx}_run{rep}"]["cores"] = cores.describe()
                    results[f"certline{sfx}_run{rep}"] = measured(
                        f"certline (run {rep}{tag})",
                        lambda: run_certline(server, fresh(args.certline_units), args.deadline),
                    )
                    results[f"certline{sfx}_run{rep}"]["cores"] = cores.describe()
        for cores in layouts:
            sfx = cores.suffix
            results[f"certline{sfx}"] = _median_run(results, f"certline{sfx}_run")
            results[f"ceiling_c4{sfx}"] = _median_run(results, f"ceiling_c4{sfx}_run")

        results["curl_loop"] = measured(
            "curl loop",
            lambda: _run_loop(server, curl_commands(server, files(fresh(n_loop)), out_dir), 1, args.deadline),
        )
        results["curl_loop_bash"] = measured(
            "curl loop in bash (cross-check)",
            lambda: bash_curl_loop(server, files(fresh(n_loop)), out_dir, args.deadline),
        )
        results["curl_x4"] = measured(
            "curl x4",
            lambda: _run_loop(server, curl_commands(server, files(fresh(n_loop)), out_dir), 4, args.deadline),
        )
        results["openssl_sclient"] = measured(
            "openssl s_client",
            lambda: _run_loop(
                server,
                openssl_commands(server, fresh(n_loop), out_dir, pipeline=False),
                1,
                args.deadline,
                shell=True,
            ),
        )
        results["openssl_pipeline"] = measured(
            "openssl pipeline",
            lambda: _run_loop(
                server,
                openssl_commands(server, fresh(n_loop), out_dir, pipeline=True),
                1,
                args.deadline,
                shell=True,
            ),
        )
        for cores in layouts:
            with pinned(server, cores):
                results[f"ceiling_c16{cores.suffix}"] = measured(
                    f"wrk ceiling, 16 connections ({cores.mode} cores)",
                    lambda: run_wrk(server, fresh(wrk_csrs), 16, args.wrk_seconds, work),
                )
                results[f"ceiling_c16{cores.suffix}"]["cores"] = cores.describe()
        for res in results.values():
            res.setdefault("cores", layouts[0].describe())  # the curl/openssl loops: shared
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    modes = {cores.mode: ceiling_verdict(results, cores) for cores in layouts}
    shared = modes["shared"]
    cl = results["certline"]["per_s"]
    results["summary"] = {
        "ceiling_per_s": shared["ceiling_per_s"],
        "certline_per_s": cl,
        "x_curl_loop": cl / results["curl_loop"]["per_s"],
        "x_curl_loop_bash": cl / results["curl_loop_bash"]["per_s"],
        "fraction_of_ceiling": shared["fraction_of_ceiling"],
        "target_5x_curl": cl >= 5 * results["curl_loop"]["per_s"],
        "target_within_20pct_of_ceiling": shared["target_within_20pct_of_ceiling"],
        "ceiling_run": shared["ceiling_run"],
        "server_cpu_ms_per_enrollment_ceiling_run": shared["server_cpu_ms_per_enrollment_ceiling_run"],
        "cores_modes": modes,
    }
    if "separate" in modes:
        sep = modes["separate"]
        results["summary"]["fraction_of_ceiling_separate_cores"] = sep["fraction_of_ceiling"]
        results["summary"]["target_within_20pct_of_ceiling_separate_cores"] = sep[
            "target_within_20pct_of_ceiling"
        ]
    for key, res in results.items():
        if key == "summary":
            continue
        print(
            f"{key:20s} {res['per_s']:8.1f}/s  p50 {res['p50_ms'] or float('nan'):7.1f} ms  "
            f"p99 {res['p99_ms'] or float('nan'):7.1f} ms  errors {res.get('errors', 0)}  "
            f"issued {res['issued_by_server']}/{res['units']}  "
            f"srv-cpu {res['server_cpu_ms_per_unit']:.2f} ms  "
            f"cli-cpu {res['client_cpu_ms_per_unit']:.2f} ms  foreign {res['foreign_cpu_cores']:.2f} cores"
        )
    for mode, verdict in modes.items():
        print(
            f"{mode} cores: Certline {verdict['certline_per_s']:.0f}/s = "
            f"{100 * verdict['fraction_of_ceiling']:.0f} % of the best ceiling run "
            f"({verdict['ceiling_per_s']:.0f}/s, {verdict['ceiling_run']}); each run against the "
            f"ceiling run before it: {', '.join(f'{100 * p:.0f} %' for p in verdict['paired_fractions'])}"
        )
    print({k: v for k, v in results["summary"].items() if k != "cores_modes"})
    plotted = not args.no_save and plot(results, DOCS / "bench-est-latency.png")  # --no-save: docs untouched
    for key in [k for k in results if "_run" in k and k.startswith("certline")]:
        results[key].pop("_latencies", None)
    for res in results.values():
        res.pop("_latencies", None)
    results["plot"] = "bench-est-latency.png" if plotted else None
    if not args.no_save:
        save_result("est_throughput", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
