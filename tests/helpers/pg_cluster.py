"""A throwaway PostgreSQL cluster for tests: Debian's binaries, a temp dir, an unprivileged user.

PostgreSQL refuses to run as root (and CI runs the suite as root), so when we are root the
cluster belongs to ``nobody`` and is started with ``runuser``. It listens on 127.0.0.1 on a free
port with password (SCRAM) authentication, so the tests exercise the real password path, and
on a unix socket in its own directory. One cluster per test session; each test gets its own
database.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SUPERUSER = "certline"


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    bindir: Path
    root: Path
    port: int
    password: str = field(repr=False)
    _user: str | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        self.socket_dir.mkdir()
        if self._user:
            subprocess.run(["chown", "-R", self._user, str(self.root)], check=True)
        self._run(
            "initdb", "-D", str(self.datadir), "-U", SUPERUSER, f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()

    def start(self, *, durable: bool = False) -> None:
        """``durable``: fsync on (benchmarks); tests run without it, a crash of the test machine
        loses nothing they need."""
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.socket_dir}"
            f" -c fsync={'on' if durable else 'off'} -c max_connections=100 -c shared_buffers=16MB"
        )
        log = str(self.root / "log")
        self._run("pg_ctl", "-D", str(self.datadir), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")

    def url(self, dbname: str, user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url("postgres"), password=self.password, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return name


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="certline-pg-"))
    os.chmod(root, 0o755)
    cluster = PgCluster(bindir, root, _free_port(), secrets.token_urlsafe(16))
    if os.geteuid() == 0:
        cluster._user = "nobody"
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, empty database in the session's cluster."""
    return pg_cluster.url(pg_cluster.create_database())
