"""End to end: ``certline demo --headless`` over real pseudo-terminals and a real TLS socket.

The report is checked field by field, and every issued certificate is verified independently:
its chain against the EST server's root CA, and its public key against the private key the
simulated device holds in its flash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from certline.app.pki import public_key_der


def run_demo(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return subprocess.run(
        [sys.executable, "-m", "certline.app.cli.main", "demo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_headless_demo_provisions_every_device_and_reports_verifiable_certificates(tmp_path):
    state = tmp_path / "state"
    report_path = tmp_path / "report.json"
    result = run_demo(
        "--headless", "--devices", "3", "--report", str(report_path), "--state-dir", str(state), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr

    report = json.loads(report_path.read_text())
    devices = report["devices"]
    assert len(devices) == 3
    assert {d["serial_number"] for d in devices} == {"CL-000001", "CL-000002", "CL-000003"}

    root = x509.load_pem_x509_certificate((state / "est-server" / "ca" / "root.pem").read_bytes())
    assert report["batch"]["trust_anchor_sha256"] == [root.fingerprint(hashes.SHA256()).hex(":").upper()]
    flashes = {
        json.loads(p.read_text())["serial"]: json.loads(p.read_text())
        for p in (state / "sim").glob("*.flash.json")
    }
    for entry in devices:
        assert entry["state"] == "done" and entry["error"] is None
        assert entry["port"].startswith(str(state / "sim"))
        chain = x509.load_pem_x509_certificates(entry["chain_pem"].encode())
        leaf = x509.load_pem_x509_certificate(entry["certificate_pem"].encode())
        assert leaf == chain[0]
        # whole bytes, leading zero kept, as openssl x509 -serial prints it
        assert int(entry["certificate_serial"], 16) == leaf.serial_number
        assert len(entry["certificate_serial"]) % 2 == 0
        assert entry["sha256_fingerprint"] == leaf.fingerprint(hashes.SHA256()).hex(":").upper()
        assert entry["not_after"] == leaf.not_valid_after_utc.isoformat()
        # independent chain check: each certificate signed by the next, the last by the root
        for child, parent in zip(chain, [*chain[1:], root], strict=True):
            child.verify_directly_issued_by(parent)
        # the certificate is for the key the device holds, and the device stores exactly this chain
        flash = flashes[entry["serial_number"]]
        device_key = serialization.load_pem_private_key(flash["active_key"].encode(), password=None)
        assert public_key_der(device_key.public_key()) == public_key_der(leaf.public_key())
        assert flash["chain_pem"] == entry["chain_pem"]

    issued = [json.loads(line) for line in (state / "est-server" / "issued.jsonl").read_text().splitlines()]
    assert len(issued) == 3, "exactly one certificate per device"
    assert "Totals: 3 device(s): 3 done" in result.stdout


def test_demo_without_display_says_so_and_runs_headless(tmp_path):
    result = run_demo("--devices", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no display available" in result.stdout
    assert "Totals: 1 device(s): 1 done" in result.stdout


def test_demo_leaves_no_temporary_files_or_processes(tmp_path):
    tmp_root = tmp_path / "tmp"
    tmp_root.mkdir()
    env_tmp = {"TMPDIR": str(tmp_root)}
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run(
        [sys.executable, "-m", "certline.app.cli.main", "demo", "--headless", "--devices", "2"],
        cwd=tmp_path,
        env={**env, **env_tmp},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(tmp_root.iterdir()) == []
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_root)], capture_output=True, text=True, check=False)
    assert leftovers.stdout.strip() == ""
