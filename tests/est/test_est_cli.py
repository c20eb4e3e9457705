"""``certline est``: one EST operation from the command line, secrets only from the environment."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certline.app.cli.main import main
from certline.app.est.issued_chain_check import spki
from certline.app.estserver import EstTestServer
from tests.est.helpers import last
from tests.helpers.estserver_fixture import (
    DTM_LABEL,
    TEST_PASSCODE,
    csr_pem,
    make_csr,
    make_key,
    write_client_identity,
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EST_PASSCODE", TEST_PASSCODE)


@pytest.fixture
def ca_file(est_server: EstTestServer, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text(est_server.ca_pem)
    return path


def write_csr(
    tmp_path: Path, cn: str = "cli-dev", *, der: bool = False
) -> tuple[Path, x509.CertificateSigningRequest, ec.EllipticCurvePrivateKey]:
    csr, key = make_csr(cn)
    path = tmp_path / f"{cn}.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.DER) if der else csr_pem(csr))
    return path, csr, key


def test_enroll_prints_pem_leaf_first(
    est_server: EstTestServer, ca_file: Path, tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    csr_file, csr, key = write_csr(tmp_path, der=True)
    url = est_server.est_url("simpleenroll", DTM_LABEL, "grp-1")
    code = main(
        [
            "est",
            "enroll",
            str(csr_file),
            "--url",
            url,
            "--ca",
            str(ca_file),
            "--passcode-env",
            "EST_PASSCODE",
            "--csr-format",
            "pem-text",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    chain = x509.load_pem_x509_certificates(out.encode())
    assert spki(chain[0].public_key()) == spki(key.public_key()) and len(chain) == 2
    req = last(est_server, "simpleenroll")
    assert req.content_type == "text/plain" and req.device_group == "grp-1"
    assert TEST_PASSCODE not in out + err


def test_cacerts_to_out_file(est_server: EstTestServer, ca_file: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "cas.pem"
    assert (
        main(["est", "cacerts", "--url", est_server.url, "--ca", str(ca_file), "--out", str(out_file)]) == 0
    )
    assert len(x509.load_pem_x509_certificates(out_file.read_bytes())) == 2


def test_csrattrs_json(
    est_server: EstTestServer, ca_file: Path, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from certline.app.estserver.csrattrs import PRESETS

    est_server.config.csrattrs = PRESETS["rfc7030"]()
    code = main(
        ["est", "csrattrs", "--url", est_server.url, "--ca", str(ca_file), "--passcode-env", "EST_PASSCODE"]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    assert '"key_algorithm": "ec-p384"' in out and '"challenge_password_required": true' in out


def test_bootstrap_with_confirmation_on_stdin_saves_the_bundle(
    est_server: EstTestServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ca_path = tmp_path / "pinned.pem"
    monkeypatch.setattr("sys.stdin", io.StringIO(est_server.ca_fingerprint + "\n"))
    code = main(["est", "cacerts", "--url", est_server.url, "--bootstrap", "--ca", str(ca_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert est_server.ca_fingerprint in err and "UNVERIFIED" in err
    assert len(x509.load_pem_x509_certificates(ca_path.read_bytes())) == 2
    assert len(x509.load_pem_x509_certificates(out.encode())) == 2


def test_bootstrap_aborts_without_confirmation(
    est_server: EstTestServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ca_path = tmp_path / "pinned.pem"
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["est", "cacerts", "--url", est_server.url, "--bootstrap", "--ca", str(ca_path)]) == 1
    assert "aborted" in capsys.readouterr().err and not ca_path.exists()


def test_bootstrap_wrong_fingerprint_saves_nothing(
    est_server: EstTestServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_path = tmp_path / "pinned.pem"
    code = main(
        [
            "est",
            "cacerts",
            "--url",
            est_server.url,
            "--bootstrap",
            "--ca",
            str(ca_path),
            "--yes-fingerprint",
            "00" * 32,
        ]
    )
    assert code == 1 and not ca_path.exists()
    assert "none of the CA" in capsys.readouterr().err


def test_serverkeygen_writes_the_key_only_when_asked(
    est_server: EstTestServer, ca_file: Path, tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    csr_file, _csr, _key = write_csr(tmp_path)
    base = [
        "est",
        "serverkeygen",
        str(csr_file),
        "--url",
        est_server.url,
        "--ca",
        str(ca_file),
        "--passcode-env",
        "EST_PASSCODE",
    ]
    key_file = tmp_path / "server.key"
    assert main(base + ["--key-out", str(key_file)]) == 1
    assert "--write-private-key" in capsys.readouterr().err
    assert not [r for r in est_server.requests if r.op == "serverkeygen"]  # nothing issued for nothing

    assert main(base + ["--key-out", str(key_file), "--write-private-key"]) == 0
    out, err = capsys.readouterr()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    leaf = x509.load_pem_x509_certificates(out.encode())[0]
    assert spki(leaf.public_key()) == spki(key.public_key())
    assert "PRIVATE KEY" not in out + err

    assert main(base + ["--key-out", str(key_file), "--write-private-key"]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err


def test_reenroll_with_client_cert_files(
    est_server: EstTestServer, ca_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = make_key()
    current = est_server.issue_client_certificate("cli-renew", key.public_key())
    cert_file, key_file = write_client_identity(tmp_path, current, key)
    csr_file, _csr, _ = write_csr(tmp_path, "whatever")
    code = main(
        [
            "est",
            "reenroll",
            str(csr_file),
            "--url",
            est_server.clientauth_url,
            "--ca",
            str(ca_file),
            "--client-cert",
            cert_file,
            "--client-key",
            key_file,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert x509.load_pem_x509_certificates(out.encode())[0].subject == current.subject


def test_failures_are_one_line_with_nonzero_exit(
    est_server: EstTestServer,
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EST_PASSCODE", "wrong-one")
    csr_file, _csr, _ = write_csr(tmp_path)
    code = main(
        [
            "est",
            "enroll",
            str(csr_file),
            "--url",
            est_server.url,
            "--ca",
            str(ca_file),
            "--passcode-env",
            "EST_PASSCODE",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "401" in err and "wrong-one" not in err


def test_pending_has_its_own_exit_status(
    est_server: EstTestServer, ca_file: Path, tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    est_server.faults.add_spec("pending=1:30")
    csr_file, _csr, _ = write_csr(tmp_path)
    code = main(
        [
            "est",
            "enroll",
            str(csr_file),
            "--url",
            est_server.url,
            "--ca",
            str(ca_file),
            "--passcode-env",
            "EST_PASSCODE",
        ]
    )
    assert code == 75 and "pending" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ([], "no trust anchors"),
        (["--ca", "CA", "--passcode-env", "UNSET_VAR_XYZ"], "UNSET_VAR_XYZ"),
    ],
)
def test_usage_problems(
    est_server: EstTestServer, ca_file: Path, capsys: pytest.CaptureFixture[str], extra: list[str], why: str
) -> None:
    extra = [str(ca_file) if e == "CA" else e for e in extra]
    assert main(["est", "cacerts", "--url", est_server.url, *extra]) == 1
    assert why in capsys.readouterr().err


def test_untrusted_server_shows_fingerprint(
    est_server: EstTestServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.est import pki

    other = tmp_path / "other.pem"
    other.write_bytes(pki.make_pki().root.public_bytes(serialization.Encoding.PEM))
    assert main(["est", "cacerts", "--url", est_server.url, "--ca", str(other), "--retries", "0"]) == 1
    assert "SHA-256" in capsys.readouterr().err


def test_bootstrap_never_replaces_an_existing_bundle(
    est_server: EstTestServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """First contact writes a new file only. Found from outside: on a locked station a technician
    ran ``est cacerts --bootstrap --ca <the file a profile trusted>`` against another server and
    its CA replaced the trusted one, with no engineer PIN asked."""
    trusted = tmp_path / "trusted.pem"
    trusted.write_text("the bundle a profile or a script trusts\n", encoding="ascii")
    code = main(
        [
            "est", "cacerts", "--url", est_server.url, "--bootstrap", "--ca", str(trusted),
            "--yes-fingerprint", est_server.ca_fingerprint,
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "exists" in err and "nothing fetched" in err and "profile edit" in err
    assert trusted.read_text(encoding="ascii") == "the bundle a profile or a script trusts\n"


def test_cacerts_out_never_replaces_an_existing_file(
    est_server: EstTestServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found in review: '--out' wrote over any file, a CA bundle a profile named included."""
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(est_server.ca_pem, encoding="ascii")
    trusted = tmp_path / "trusted.pem"
    trusted.write_text("the bundle something trusts\n", encoding="ascii")
    assert main(["est", "cacerts", "--url", est_server.url, "--ca", str(ca_file), "--out", str(trusted)]) == 1
    assert "exists; nothing written" in capsys.readouterr().err
    assert trusted.read_text(encoding="ascii") == "the bundle something trusts\n"
