"""Shared helpers for the Certline benchmarks (not a test suite; CI never runs these).

* :func:`machine_info` names the machine and the versions a result was measured with.
* :class:`EstServerProcess` / :class:`SimProcess` run ``certline est-server`` and
  ``certline sim`` as *separate processes*, so the station code under test never
  shares a GIL with them (as in production, where they are a remote server and
  real hardware).
* :func:`save_result` writes ``bench/results/<name>.json``; ``bench/report.py``
  turns every result file into ``docs/benchmarks.md``.

Every loop here is bounded in count and in time.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import select
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
DOCS = ROOT / "docs"
VENV_BIN = Path(sys.executable).parent
CERTLINE = str(VENV_BIN / "certline") if (VENV_BIN / "certline").exists() else "certline"
PASSCODE_ENV = "CERTLINE_BENCH_PASSCODE"
#: DTM-style policy label, so URLs look like the reference server's
LABEL = "cps/IOT_33fd0b45-3188-45ed-9458-6cedc8ccf509"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- machine / versions


def _first_line(cmd: Sequence[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return 0.0


def _git_commit() -> str | None:
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(ROOT), "status", "--porcelain", "--", "app", "ui"])
    return f"{commit}, with uncommitted changes in app/ui" if commit and dirty else commit


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: hardware, OS and every relevant version."""
    from certline import app

    try:
        import PySide6

        pyside = PySide6.__version__
    except ImportError:
        pyside = None
    try:
        import cryptography

        crypto = cryptography.__version__
    except ImportError:
        crypto = None
    curl = _first_line(["curl", "--version"]) if shutil.which("curl") else None
    wrk = _first_line(["wrk", "-v"]) if shutil.which("wrk") else None
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gib": round(_ram_gib(), 1),
        "os": f"{platform.system()} {platform.release()}",
        "distro": _os_release(),
        "python": platform.python_version(),
        "certline": f"{app.__version__} ({_git_commit() or 'no git'})",
        "openssl_cli": _first_line(["openssl", "version"]) if shutil.which("openssl") else None,
        "python_ssl": ssl.OPENSSL_VERSION,
        "curl": " ".join(curl.split()[:2]) if curl else None,
        "wrk": " ".join(wrk.split()[:2]) if wrk else None,
        "pyside6": pyside,
        "cryptography": crypto,
        "python_loop_ms": python_loop_ms(),
    }


def python_loop_ms(repeats: int = 5) -> float:
    """How long this machine takes, now, for a fixed pure-Python loop (median of ``repeats``).

    The shared VM's speed varies from day to day (the same batch code measured 1.55 s and 1.97 s
    on two days), and a ratio to a physical bound inflates with it; this figure, saved with
    every result, says how fast the machine was when the result was taken.
    """
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i * i
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1)


def _os_release() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no data."""
    if not values:
        return float("nan")
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def latency_summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(seconds, 50) * 1000,
        "p90_ms": percentile(seconds, 90) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": (max(seconds) if seconds else float("nan")) * 1000,
    }


# --------------------------------------------------------------------------- machine load


def system_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / CLK_TCK, total / CLK_TCK


def wait_for_quiet(max_wait_s: float = 90.0, threshold: float = 0.25, sample_s: float = 2.0) -> float:
    """Wait (bounded) until the machine is mostly idle: other engineers run test suites on it.

    Returns the busy fraction of the last sample; proceeds anyway after ``max_wait_s``.
    """
    deadline = time.monotonic() + max_wait_s
    busy = 1.0
    while True:
        b0, t0 = system_cpu_seconds()
        time.sleep(sample_s)
        b1, t1 = system_cpu_seconds()
        busy = (b1 - b0) / max(1e-9, t1 - t0)
        if busy <= threshold or time.monotonic() >= deadline:
            if busy > threshold:
                print(
                    f"  machine still {busy:.0%} busy after {max_wait_s:.0f} s; measuring anyway", flush=True
                )
            return busy
        print(f"  machine {busy:.0%} busy (other processes); waiting ...", flush=True)


class ForeignLoad:
    """Measures how much CPU *other* processes used during a block (in cores, 0..nproc)."""

    def __init__(self, own_cpu: callable) -> None:  # type: ignore[valid-type]
        self._own = own_cpu

    def __enter__(self) -> ForeignLoad:
        self.busy0, _ = system_cpu_seconds()
        self.own0 = self._own()
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        busy1, _ = system_cpu_seconds()
        wall = max(1e-9, time.monotonic() - self.t0)
        own = self._own() - self.own0
        self.cores = max(0.0, (busy1 - self.busy0) - own) / wall
        self.own_cores = own / wall


# --------------------------------------------------------------------------- processes


def process_cpu_seconds(pid: int) -> float:
    """user+system CPU time of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the comm field: state is fields[0]; utime is field 14 overall -> index 11 here
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _read_lines(
    proc: subprocess.Popen[str], until: re.Pattern[str] | None, count: int | None, timeout: float, what: str
) -> list[str]:
    """Read stdout lines until ``until`` matches or ``count`` lines arrived (bounded by ``timeout``)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    buf = b""
    while time.monotonic() < deadline:
        if proc.poll() is not None and not buf:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}: {err.strip()[-500:]}")
        readable, _, _ = select.select([fd], [], [], 0.2)
        if not readable:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            continue
        buf += chunk
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.decode("utf-8", "replace").rstrip()
            lines.append(line)
            if until is not None and until.search(line):
                return lines
            if count is not None and len(lines) >= count:
                return lines
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s (got {lines[-5:]})")


def _stop(proc: subprocess.Popen[str] | None, timeout: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the benchmark process dies, even by abort()."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if extra:
        env.update(extra)
    return env


@dataclass
class EstServerProcess:
    """``certline est-server`` in its own process, with a DTM-style label and a random passcode."""

    state_dir: Path
    passcode: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    label: str = LABEL
    proc: subprocess.Popen[str] | None = None
    enroll_url: str = ""
    est_base: str = ""
    ca_file: Path = Path()

    def start(self) -> EstServerProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            CERTLINE,
            "est-server",
            "--port",
            "0",
            "--passcode-env",
            PASSCODE_ENV,
            "--state-dir",
            str(self.state_dir),
            "--label",
            self.label,
        ]
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_die_with_parent,
            env=_bench_env({PASSCODE_ENV: self.passcode}),
        )
        lines = _read_lines(self.proc, re.compile(r"^Serving;"), None, 60, "certline est-server")
        for line in lines:
            key, _, value = line.strip().partition(":")
            value = value.strip()
            if key == "enroll URL":
                self.enroll_url = value
            elif key == "EST base":
                self.est_base = value
            elif key == "CA certificate":
                self.ca_file = Path(value)
        if not (self.enroll_url and self.est_base and self.ca_file.is_file()):
            self.stop()
            raise RuntimeError(f"could not parse est-server banner: {lines}")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def issued_count(self) -> int:
        path = self.state_dir / "issued.jsonl"
        try:
            with path.open("rb") as fh:
                return sum(1 for _ in fh)
        except FileNotFoundError:
            return 0

    def stop(self) -> None:
        _stop(self.proc)

    def __enter__(self) -> EstServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class SimProcess:
    """``certline sim --devices N`` in its own process; :attr:`ports` are the pty symlinks."""

    state_dir: Path
    devices: int
    baud: int = 115200
    keygen_latency: str | None = None
    driver: str = "certline"
    """Device personality (``certline sim --driver``): ``certline`` or ``nrf91``."""
    first_serial: int = 1
    """``certline sim --first-serial``: several simulators of one run bring distinct units."""
    proc: subprocess.Popen[str] | None = None
    ports: list[str] = field(default_factory=list)

    def start(self) -> SimProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            CERTLINE,
            "sim",
            "--devices",
            str(self.devices),
            "--state-dir",
            str(self.state_dir),
            "--baud",
            str(self.baud),
            "--driver",
            self.driver,
            "--first-serial",
            str(self.first_serial),
        ]
        if self.keygen_latency is not None:
            cmd += ["--keygen-latency", self.keygen_latency]
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_die_with_parent,
            env=_bench_env(),
        )
        self.ports = _read_lines(self.proc, None, self.devices, 120, "certline sim")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def stop(self) -> None:
        _stop(self.proc)

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- CSRs


def make_csrs(count: int, prefix: str = "BENCH") -> list[bytes]:
    """``count`` distinct EC P-256 CSRs (DER), as a device would send them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    out = []
    for i in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"{prefix}-{i:06d}"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Certline Bench"),
            ]
        )
        csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
        out.append(csr.public_bytes(serialization.Encoding.DER))
    return out


def der_to_pem(der: bytes, label: str = "CERTIFICATE REQUEST") -> bytes:
    import base64

    b64 = base64.b64encode(der)
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return b"".join(
        [
            f"-----BEGIN {label}-----\n".encode(),
            *(line + b"\n" for line in lines),
            f"-----END {label}-----\n".encode(),
        ]
    )


def bench_profile(server: EstServerProcess, *, concurrency: int = 4, baud: int = 115200, name: str = "bench"):  # noqa: ANN201 - certline.app.config.profile.Profile
    from certline.app.config.profile import AuthStyle, Profile

    return Profile(
        name=name,
        enroll_url=server.est_base,
        auth_style=AuthStyle.PASSCODE_ONLY,
        ca_bundle_pem=server.ca_file.read_text(encoding="ascii"),
        concurrency=concurrency,
        driver="certline",
        baud=baud,
        subject_template={"CN": "{serial}", "O": "Certline Bench"},
    )


# --------------------------------------------------------------------------- results


@contextmanager
def est_server_for_batches(prefix: str) -> Iterator[tuple[EstServerProcess, Path]]:
    """A running ``certline est-server`` and a scratch folder for a benchmark's batches, on a
    machine found idle first; both gone afterwards, whatever happened."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    server = EstServerProcess(work / "est")
    try:
        server.start()
        wait_for_quiet()
        yield server, work
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def stored_by_units(name: str) -> dict[str, Any]:
    """The stored results of ``bench/results/<name>.json`` by batch size, for a benchmark run one
    size at a time (read before the runs: a file this cannot read is said at once, not after
    minutes of batches)."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return {}
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        results = stored["results"]
        if results.get("by_units"):
            return dict(results["by_units"])
        return {str(results["units"]): {**results, "machine": stored["machine"]}}  # the first format
    except (ValueError, KeyError, TypeError) as exc:
        print(f"{path}: not a result this can extend ({exc!r}); it will hold only this run", flush=True)
        return {}


def with_earlier_units(earlier: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """The stored results of other batch sizes, and this one's (replacing an older one of the
    same size); each keeps the machine line and date of its own run."""
    by_units = {**earlier, str(entry["units"]): {**entry, "machine": machine_info()}}
    return dict(sorted(by_units.items(), key=lambda item: int(item[0])))


def save_result(name: str, results: dict[str, Any], *, render: bool = True) -> Path:
    """Write ``bench/results/<name>.json`` (with machine info) and regenerate docs/benchmarks.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine_info(), "results": results}
    path.write_text(json.dumps(payload, indent=1, sort_keys=False, default=str) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")
    if render:
        from bench import report  # noqa: PLC0415 - bench is run as scripts from the repo root

        report.write_docs()
    return path


def ensure_repo_on_path() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
