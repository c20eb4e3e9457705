"""The EST client against the real test server: request shapes, auth styles, verified results."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from certline.app.config.profile import AuthStyle, CsrFormat
from certline.app.est.client import EstClient
from certline.app.est.credentials import Credentials
from certline.app.est.errors import EstAuthError, EstNotFound
from certline.app.est.issued_chain_check import spki
from certline.app.estserver import EstTestServer
from tests.est.helpers import last, posts
from tests.helpers.estserver_fixture import (
    DTM_LABEL,
    TEST_PASSCODE,
    TEST_PASSWORD,
    TEST_USER,
    csr_pem,
    make_csr,
    write_client_identity,
)
from tests.helpers.waiting import wait_until

MakeClient = Callable[..., EstClient]


def test_cacerts_returns_issuing_ca_then_root(make_client: MakeClient, est_server: EstTestServer) -> None:
    certs = make_client().cacerts()
    assert certs == x509.load_pem_x509_certificates(est_server.chain_pem.encode())
    assert certs[-1].subject == certs[-1].issuer  # root last


def test_simpleenroll_rfc7030_request_shape_and_verified_chain(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    csr, key = make_csr("device-0001")
    result = make_client().simpleenroll(csr_pem(csr))
    assert spki(result.leaf.public_key()) == spki(key.public_key())
    assert result.leaf.subject == csr.subject
    assert result.chain[1:] == tuple(x509.load_pem_x509_certificates(est_server.chain_pem.encode())[:1])
    assert result.warnings == ()

    req = last(est_server, "simpleenroll")
    assert req.path == "/.well-known/est/simpleenroll"
    assert req.authorization == "Basic " + base64.b64encode(TEST_PASSCODE.encode()).decode()
    assert req.content_type == "application/pkcs10"
    assert req.header("Content-Transfer-Encoding") == "base64"
    der = csr.public_bytes(serialization.Encoding.DER)
    b64 = base64.b64encode(der)
    assert req.body == b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64)) + b"\n"


def test_dtm_request_shape_byte_for_byte(make_client: MakeClient, est_server: EstTestServer) -> None:
    """Label path, device group after the operation, Basic base64(passcode), PEM as text/plain."""
    url = est_server.est_url("simpleenroll", DTM_LABEL, "0f3c9d1e-group")
    client = make_client(enroll_url=url, csr_format=CsrFormat.PEM_TEXT)
    csr, _key = make_csr("CN-001")
    client.simpleenroll(csr.public_bytes(serialization.Encoding.DER))
    req = last(est_server, "simpleenroll")
    assert req.method == "POST"
    assert req.path == f"/.well-known/est/{DTM_LABEL}/simpleenroll/0f3c9d1e-group"
    assert req.label == DTM_LABEL and req.device_group == "0f3c9d1e-group"
    assert req.authorization == "Basic d1R2UXRrVUdjVTgxQWhWbW9kR0U="  # the DTM doc's sample token
    assert req.content_type == "text/plain"
    assert req.header("Content-Transfer-Encoding") is None
    assert req.body == csr_pem(csr)


def test_dtm_seed_csr_enrolls_in_pem_text_mode(
    make_client: MakeClient, est_server: EstTestServer, data_dir: Path
) -> None:
    seed = (data_dir / "dtm_seed_csr.pem").read_bytes()
    client = make_client(enroll_url=est_server.url, label=DTM_LABEL, csr_format=CsrFormat.PEM_TEXT)
    result = client.simpleenroll(seed)
    csr = x509.load_pem_x509_csr(seed)
    assert spki(result.leaf.public_key()) == spki(csr.public_key())
    assert result.leaf.subject.rfc4514_string() == "CN=CN-001,OU=IoT,O=DC,C=US"
    req = last(est_server, "simpleenroll")
    assert req.label == DTM_LABEL and req.content_type == "text/plain"
    assert x509.load_pem_x509_csr(req.body) == csr


def test_device_group_from_profile_is_used_for_every_operation(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    client = make_client(label=DTM_LABEL, device_group="grp-7")
    client.cacerts()
    csr, _ = make_csr("dev")
    client.simpleenroll(csr_pem(csr))
    wait_until(lambda: len(est_server.requests) >= 2, what="both requests recorded")
    assert {r.device_group for r in est_server.requests} == {"grp-7"}


def test_user_password_style(make_client: MakeClient, est_server: EstTestServer) -> None:
    client = make_client(
        Credentials(password=TEST_PASSWORD), auth_style=AuthStyle.USER_PASSWORD, username=TEST_USER
    )
    csr, _ = make_csr("dev-up")
    client.simpleenroll(csr_pem(csr))
    req = last(est_server, "simpleenroll")
    assert req.authorization == "Basic " + base64.b64encode(f"{TEST_USER}:{TEST_PASSWORD}".encode()).decode()
    assert req.auth_style == "user-password"


def test_wrong_passcode_is_an_auth_error_and_not_retried(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    client = make_client(Credentials(passcode="definitely-wrong"), retries=3)
    csr, _ = make_csr("dev")
    with pytest.raises(EstAuthError) as info:
        client.simpleenroll(csr_pem(csr))
    assert info.value.status == 401
    assert "missing or wrong credentials" in str(info.value)
    assert "definitely-wrong" not in str(info.value)
    assert len(posts(est_server, "simpleenroll")) == 1


def test_missing_passcode_fails_before_sending(make_client: MakeClient, est_server: EstTestServer) -> None:
    client = make_client(Credentials())
    csr, _ = make_csr("dev")
    with pytest.raises(EstAuthError, match="no passcode"):
        client.simpleenroll(csr_pem(csr))
    assert not [r for r in est_server.requests if r.op == "simpleenroll"]


def test_unknown_label_is_not_found(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.config.labels = frozenset({DTM_LABEL})
    client = make_client(label="cps/IOT_other")
    csr, _ = make_csr("dev")
    with pytest.raises(EstNotFound, match="unknown EST label"):
        client.simpleenroll(csr_pem(csr))


def test_client_certificate_from_pem_files(
    make_client: MakeClient, est_server: EstTestServer, tmp_path: Path
) -> None:
    csr, key = make_csr("bootstrap-id")
    cert = est_server.issue_client_certificate("bootstrap-id", key.public_key())
    cert_file, key_file = write_client_identity(tmp_path, cert, key)
    client = make_client(
        Credentials(),
        enroll_url=est_server.clientauth_url,
        auth_style=AuthStyle.CLIENT_CERT,
        client_cert_file=cert_file,
        client_key_file=key_file,
    )
    new_csr, _ = make_csr("op-cert")
    client.simpleenroll(csr_pem(new_csr))
    req = last(est_server, "simpleenroll")
    assert req.listener == "clientauth" and req.auth_style == "client-cert"
    assert req.authorization is None
    assert req.client_cert_subject and "bootstrap-id" in req.client_cert_subject


def test_client_certificate_from_pkcs12_leaves_no_key_file_behind(
    make_client: MakeClient, est_server: EstTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csr, key = make_csr("p12-id")
    cert = est_server.issue_client_certificate("p12-id", key.public_key())
    p12_file = tmp_path / "id.p12"
    p12_file.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"id", key, cert, None, serialization.BestAvailableEncryption(b"p12-pass")
        )
    )
    import tempfile

    from certline.app.est import tls_context as tls

    created: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args: object, **kwargs: object) -> str:
        path = real_mkdtemp(*args, **kwargs)  # type: ignore[call-overload]
        created.append(Path(path))
        return path

    monkeypatch.setattr(tls.tempfile, "mkdtemp", recording_mkdtemp)
    client = make_client(
        Credentials(p12_password="p12-pass"),
        enroll_url=est_server.clientauth_url,
        auth_style=AuthStyle.CLIENT_CERT,
        client_p12_file=str(p12_file),
    )
    assert created and not any(p.exists() for p in created)
    new_csr, _ = make_csr("op")
    client.simpleenroll(csr_pem(new_csr))
    assert last(est_server, "simpleenroll").auth_style == "client-cert"


def test_wrong_pkcs12_password_is_a_clear_error(est_server: EstTestServer, tmp_path: Path) -> None:
    from certline.app.config.profile import Profile
    from certline.app.est.tls_context import ClientCredentialError

    _, key = make_csr("x")
    cert = est_server.issue_client_certificate("x", key.public_key())
    p12_file = tmp_path / "id.p12"
    p12_file.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"id", key, cert, None, serialization.BestAvailableEncryption(b"right")
        )
    )
    profile = Profile(
        name="p",
        enroll_url=est_server.url,
        ca_bundle_pem=est_server.ca_pem,
        auth_style=AuthStyle.CLIENT_CERT,
        client_p12_file=str(p12_file),
    )
    with pytest.raises(ClientCredentialError, match="wrong password") as info:
        EstClient(profile, Credentials(p12_password="Zq9-not-this-one"))
    assert "Zq9" not in str(info.value)


def test_concurrent_enrollments_share_one_pooled_session(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    client = make_client(pool_size=4)
    csrs = [make_csr(f"dev-{i:03d}") for i in range(12)]
    results: dict[int, x509.Certificate] = {}
    errors: list[BaseException] = []

    def work(indices: list[int]) -> None:
        for i in indices:
            try:
                results[i] = client.simpleenroll(csr_pem(csrs[i][0])).leaf
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=work, args=([i for i in range(12) if i % 4 == t],)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i, (csr, key) in enumerate(csrs):
        assert results[i].subject == csr.subject
        assert spki(results[i].public_key()) == spki(key.public_key())
    # keep-alive: far fewer TLS connections than requests
    assert est_server.connection_count() <= 8


def test_sequential_requests_reuse_one_keep_alive_connection(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    client = make_client()
    client.cacerts()
    for i in range(4):
        csr, _ = make_csr(f"seq-{i}")
        client.simpleenroll(csr_pem(csr))
    assert est_server.connection_count() == 1
