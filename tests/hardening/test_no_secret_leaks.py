"""No secret leaves the station: not in a file Certline writes, not in anything it prints.

The big test runs the real ``certline`` command line (a subprocess, ``-v -v`` debug logging)
against the real EST test server and simulated units: a batch with device-made keys, a batch
with server-generated keys, a run with a wrong passcode (401), a crash report, report exports
and the support bundle. Then every byte under ``CERTLINE_HOME`` (config, profiles, journal
with its WAL, logs, reports, crash report, the support bundle's members) and everything
printed is searched for the passcodes in every encoding they travel in, the Authorization
header value, and every private key in PEM, DER, base64 and as the bare scalar.

The server-generated keys are read back from the simulated units' flash: the unit is allowed
to hold its key, so the simulator's state directory (outside ``CERTLINE_HOME``) is not searched.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import subprocess
import sys
import threading
import traceback
import urllib.parse
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certline.app.batch.journal import Journal
from certline.app.config.paths import station_paths
from certline.app.config.profile import AuthStyle, KeyGeneration, Profile
from certline.app.config.profile_store import ProfileStore
from certline.app.est.client import EstClient
from certline.app.est.credentials import Credentials
from certline.app.est.errors import EstConnectionError, EstError
from certline.app.estserver import EstTestServer
from certline.app.host.log_setup import attach_handler, configure_cli_logging, log_file_path
from certline.app.security.redaction import REDACTED, RedactingFilter, register_secret
from certline.app.sim.simulator import Simulator

from .conftest import start_sim

PASSCODE = "hX9#leak-canary/Pass+code=42"  # a test value, not a secret
WRONG_PASSCODE = "wr0ng#canary/Guess+99"  # noqa: S105 - a test value
LABEL = "cps/IOT_5eb1e5a2-6d4c-4f0e-9a57-0c1ea4ca7ed0"
CLI = [sys.executable, "-m", "certline.app.cli.main"]

CRASH_SCRIPT = """
import argparse, base64, logging, sys
from certline.app.cli.secret_args import credentials_for
from certline.app.host.log_setup import configure_cli_logging, install_cli_excepthook
from certline.app.config.profile_store import ProfileStore

args = argparse.Namespace(passcode_env="LEAK_PASSCODE")
credentials = credentials_for(ProfileStore().load("leak-dev"), args)
configure_cli_logging(2)
install_cli_excepthook()
passcode = credentials.passcode
token = base64.b64encode(passcode.encode()).decode()
logging.getLogger("urllib3.connectionpool").debug("send: headers {'Authorization': 'Basic %s'}", token)
logging.getLogger("certline.est").info("passcode in use: %s", passcode)


def enroll(headers):
    raise RuntimeError(f"server said: bad request with Authorization: Basic {token} for {passcode!r}")


enroll({"Authorization": "Basic " + token})
"""


# ------------------------------------------------------------------------------ needles


def passcode_needles(passcode: str) -> dict[str, bytes]:
    raw = passcode.encode()
    b64 = base64.b64encode(raw).decode()
    return {
        "passcode": raw,
        "passcode base64": b64.encode(),
        "passcode base64 unpadded": b64.rstrip("=").encode(),
        "passcode url-safe base64": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "passcode percent-encoded": urllib.parse.quote(passcode, safe="").encode(),
        "passcode form-encoded": urllib.parse.quote_plus(passcode, safe="").encode(),
        "Authorization header value": f"Basic {b64}".encode(),
    }


def private_key_needles(name: str, pem: str) -> dict[str, bytes]:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    nothing = serialization.NoEncryption()
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, nothing)
    traditional = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, nothing
    )
    if isinstance(key, ec.EllipticCurvePrivateKey):
        scalar = key.private_numbers().private_value.to_bytes((key.curve.key_size + 7) // 8, "big")
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        d = key.private_numbers().d
        scalar = d.to_bytes((d.bit_length() + 7) // 8, "big")
    body = "".join(pem.strip().splitlines()[1:-1])
    return {
        f"{name} PEM": pem.strip().encode(),
        f"{name} PEM first line": pem.strip().splitlines()[1].encode(),
        f"{name} PKCS#8 DER": pkcs8,
        f"{name} SEC1/PKCS#1 DER": traditional,
        f"{name} PKCS#8 base64": base64.b64encode(pkcs8),
        f"{name} PEM body joined": body.encode(),
        f"{name} SEC1/PKCS#1 base64": base64.b64encode(traditional),
        f"{name} private scalar": scalar,
        f"{name} private scalar hex": scalar.hex().encode(),
        f"{name} private scalar HEX": scalar.hex().upper().encode(),
    }


def everything_written(home: Path) -> dict[str, bytes]:
    """Every file under ``home`` (zip members unpacked, since deflate hides plain text)."""
    found: dict[str, bytes] = {}
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        found[str(path.relative_to(home))] = data
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as bundle:
                for member in bundle.namelist():
                    found[f"{path.relative_to(home)}!{member}"] = bundle.read(member)
    return found


def find_leaks(blobs: dict[str, bytes], needles: dict[str, bytes]) -> list[str]:
    return [f"{what} in {where}" for where, data in blobs.items() for what, n in needles.items() if n in data]


# ------------------------------------------------------------------------------ the station


class Station:
    """Runs ``certline -v -v ...`` like an operator would, keeping what it printed and every
    state of the journal's write-ahead log seen while it ran."""

    def __init__(self, home: Path, out_dir: Path) -> None:
        self.home = home
        self.out_dir = out_dir
        self.printed: dict[str, bytes] = {}
        self.wal_seen: dict[str, bytes] = {}

    def run(self, *args: str, passcode: str = PASSCODE, script: str | None = None) -> tuple[int, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env["LEAK_PASSCODE"] = passcode
        n = len(self.printed) // 2
        out, err = self.out_dir / f"run{n}.out", self.out_dir / f"run{n}.err"
        command = [sys.executable, "-c", script] if script else [*CLI, "-v", "-v", *args]
        wal = station_paths().journal.with_name("journal.sqlite3-wal")
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
            stopped = threading.Event()
            while not stopped.wait(0.02):  # copy the WAL as it grows; it is gone after the last close
                if wal.exists():
                    try:
                        self.wal_seen[f"journal WAL during run {n} ({wal.stat().st_size})"] = wal.read_bytes()
                    except OSError:
                        pass
                if proc.poll() is not None:
                    stopped.set()
            proc.wait(timeout=120)
        self.printed[f"stdout of run {n} ({' '.join(args)[:60]})"] = out.read_bytes()
        self.printed[f"stderr of run {n} ({' '.join(args)[:60]})"] = err.read_bytes()
        return proc.returncode, out.read_text("utf-8", "replace") + err.read_text("utf-8", "replace")


def port_args(sim: Simulator) -> list[str]:
    return [arg for port in sim.ports for arg in ("--port", port)]


def test_a_whole_station_run_leaves_no_secret_anywhere(tmp_path, certline_home, sims):
    server = EstTestServer(state_dir=tmp_path / "est", passcode=PASSCODE)
    with server:
        store = ProfileStore()
        device_keys = Profile(
            name="leak-dev",
            enroll_url=server.est_base(LABEL),
            auth_style=AuthStyle.PASSCODE_ONLY,
            ca_bundle_pem=server.ca_pem,
            subject_template={"CN": "{serial}", "O": "Certline Leak Test"},
        )
        store.save(device_keys)
        store.save(replace(device_keys, name="leak-srv", key_generation=KeyGeneration.SERVER))
        # three simulators would all number their units CL-000001...: give two of them other serials
        device_sim = start_sim(sims, tmp_path, 2)
        server_sim = start_sim(
            sims, tmp_path, 2, faults=["dev0:dup-serial=SK-000001", "dev1:dup-serial=SK-000002"]
        )
        refused_sim = start_sim(sims, tmp_path, 1, faults=["dup-serial=RF-000001"])
        station = Station(certline_home, tmp_path)
        secret = ("--passcode-env", "LEAK_PASSCODE")

        rc, text = station.run("batch", "run", "--profile", "leak-dev", *port_args(device_sim), *secret)
        assert rc == 0, text
        rc, text = station.run("batch", "run", "--profile", "leak-srv", *port_args(server_sim), *secret)
        assert rc == 0, text
        rc, text = station.run(
            "batch", "run", "--profile", "leak-dev", *port_args(refused_sim), *secret, passcode=WRONG_PASSCODE
        )
        assert rc == 1 and "HTTP 401" in text, text
        rc, text = station.run(script=CRASH_SCRIPT)
        assert rc == 1 and "crash report:" in text, text

        reports = certline_home / "data" / "reports"
        for batch in ("1", "2", "3"):
            for fmt in ("json", "csv"):
                out = str(reports / f"batch-{batch}.{fmt}")
                rc, text = station.run("report", "export", "--batch", batch, "--format", fmt, "--out", out)
                assert rc == 0, text
        assert station.run("report", "export", "--batch", "2")[0] == 0
        for command in (
            ("batch", "status"),
            ("batch", "status", "--batch", "3"),
            ("audit", "verify"),
            ("expiry",),
        ):
            rc, text = station.run(*command)
            assert rc == 0, text

        journal = Journal(station_paths().journal)
        try:
            bundle = support_bundle(certline_home, journal, store.load("leak-srv"))
            rows = {r["serial_number"]: r for b in (1, 2, 3) for r in journal.device_rows(b)}
        finally:
            journal.close()

    # what must never appear
    needles = passcode_needles(PASSCODE)
    needles |= {f"wrong {k}": v for k, v in passcode_needles(WRONG_PASSCODE).items()}
    server_made = 0
    for sim in (device_sim, server_sim, refused_sim):
        for device in sim.devices:
            flash = device.flash.snapshot()
            for slot in ("active_key", "pending_key"):
                if flash.get(slot):
                    needles |= private_key_needles(f"{device.serial_number} {slot}", flash[slot])
            if sim is server_sim:  # the unit's key is the one the server generated and sent
                key = serialization.load_pem_private_key(flash["active_key"].encode(), password=None)
                leaf = x509.load_pem_x509_certificate(rows[device.serial_number]["chain_pem"].encode())
                assert leaf.public_key() == key.public_key()
                server_made += 1
    assert server_made == 2

    blobs = everything_written(certline_home) | station.wal_seen | station.printed
    assert not find_leaks(blobs, needles), find_leaks(blobs, needles)

    # ...and the search was not vacuous: the files hold what they should
    names = set(blobs)
    for expected in ("data/journal.sqlite3", "logs/certline.log", "config/profiles/leak-srv.json"):
        assert expected in names, sorted(names)
    assert any(n.startswith("logs/crash-") for n in names), sorted(names)
    assert any("journal WAL" in n for n in names), "the journal's WAL was never seen"
    if bundle is not None:
        assert any(n.startswith(f"{bundle.name}!logs/") for n in names), sorted(names)
    done = [r for r in rows.values() if r["state"] == "done"]
    assert len(done) == 4
    for row in done:  # public material is recorded: journal, the batch's reports, what was printed
        serial = row["cert_serial"].encode()
        assert serial in blobs["data/journal.sqlite3"]
        assert serial in blobs[f"data/reports/batch-{row['batch_id']}.json"]
        assert serial in blobs[f"data/reports/batch-{row['batch_id']}.csv"]
        assert any(serial in text for text in station.printed.values())
    refused = rows["RF-000001"]
    assert refused["state"] == "failed" and refused["error_code"] == "unauthorized"
    assert refused_sim.devices[0].flash.snapshot().get("chain_pem") is None
    log_text = blobs["logs/certline.log"]
    assert b"DEBUG" in log_text and b"EST POST" in log_text and b"serverkeygen" in log_text
    crash = next(data for name, data in blobs.items() if name.startswith("logs/crash-"))
    assert b"RuntimeError" in crash and REDACTED.encode() in crash


def support_bundle(home: Path, journal: Journal, profile: Profile) -> Path | None:
    """The GUI's support bundle (Qt-free code in ui/), written like the window does; None when
    this build has no GUI package."""
    try:
        from certline.app.station.support_bundle import write_support_bundle
    except ImportError:
        return None
    return write_support_bundle(
        home / "support.zip", logs_dir=station_paths().logs, journal=journal, profile=profile, batch_id=2
    )


# ------------------------------------------------------------------------------ log records


def test_every_log_handler_scrubs_records_from_any_library(certline_home):
    """Whatever logs the secret -- Certline, urllib3, a traceback -- the file and stderr get the
    scrubbed text, and a handler added later through attach_handler is scrubbed too."""
    root = logging.getLogger()
    before = set(root.handlers)  # pytest's own capture handlers
    path = configure_cli_logging(2)
    assert path == log_file_path()
    extra: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            extra.append(self.format(record))

    attach_handler(Keep())
    ours = [h for h in root.handlers if h not in before]
    assert len(ours) == 3  # the file, stderr, and the extra view
    assert all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in ours)
    register_secret(PASSCODE)
    token = base64.b64encode(PASSCODE.encode()).decode()
    unregistered = base64.b64encode(b"someone:else-password").decode()
    logging.getLogger("urllib3.connectionpool").debug("headers=%r", {"Authorization": f"Basic {token}"})
    logging.getLogger("requests").warning("proxy said Proxy-Authorization: Basic %s", unregistered)
    try:
        raise ValueError(f"passcode {PASSCODE} refused")
    except ValueError:
        logging.getLogger("certline.app.batch.engine").exception("unexpected")
    written = path.read_text() if path else ""
    for text in (written, "\n".join(extra)):
        assert PASSCODE not in text and token not in text and unregistered not in text
        assert text.count(REDACTED) >= 3 and "passcode [REDACTED] refused" in text


# ------------------------------------------------------------------------------ exceptions


def _exception_text(exc: BaseException) -> str:
    """Everything an exception could show: message, repr, args, and the whole chain."""
    return "".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.args)


@pytest.mark.parametrize("fault", ["reset", "close_after_headers", "truncate"])
@pytest.mark.parametrize("style", [AuthStyle.PASSCODE_ONLY, AuthStyle.USER_PASSWORD])
def test_broken_connections_never_carry_the_authorization_header_into_an_error(tmp_path, fault, style):
    """requests' exceptions hold the prepared request (headers included); Certline's error must
    not, neither in its message nor in a chained cause or context."""
    server = EstTestServer(state_dir=tmp_path / "est", passcode=PASSCODE, users={"operator": PASSCODE})
    with server:
        server.faults.add(fault, op="simpleenroll")
        profile = Profile(
            name="p",
            enroll_url=server.est_base(LABEL),
            ca_bundle_pem=server.ca_pem,
            auth_style=style,
            username="operator" if style == AuthStyle.USER_PASSWORD else None,
        )
        with EstClient(profile, Credentials(passcode=PASSCODE), retries=1, backoff=0.01, timeout=5) as client:
            with pytest.raises(EstError) as info:
                client.simpleenroll(_csr_der())
        assert any(r.path.endswith("/simpleenroll") for r in server.requests), "the header was sent"
    exc = info.value
    text = _exception_text(exc)
    tokens = [
        base64.b64encode(PASSCODE.encode()).decode(),
        base64.b64encode(f"operator:{PASSCODE}".encode()).decode(),
    ]
    assert PASSCODE not in text and not any(t in text for t in tokens), text
    assert "Authorization" not in text
    assert exc.__cause__ is None and (exc.__context__ is None or isinstance(exc.__context__, EstError))


def test_a_port_that_resets_gives_a_clean_connection_error(tmp_path):
    """A listener that accepts and resets at once (no TLS at all)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def reset_everything() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()

    thread = threading.Thread(target=reset_everything, daemon=True)
    thread.start()
    server = EstTestServer(state_dir=tmp_path / "est", passcode=PASSCODE)  # only for a CA bundle
    try:
        profile = Profile(
            name="p", enroll_url=f"https://127.0.0.1:{port}/.well-known/est", ca_bundle_pem=server.ca_pem
        )
        with EstClient(profile, Credentials(passcode=PASSCODE), retries=1, backoff=0.01, timeout=5) as client:
            with pytest.raises(EstConnectionError) as info:
                client.simpleenroll(_csr_der())
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        server.close()
    text = _exception_text(info.value)
    assert "cannot reach the EST server" in text
    assert PASSCODE not in text and base64.b64encode(PASSCODE.encode()).decode() not in text
    assert "Authorization" not in text and info.value.__context__ is None


def _csr_der() -> bytes:
    from cryptography.hazmat.primitives import hashes

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "CL-1")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)
