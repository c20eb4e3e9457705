"""Re-enrollment, server-side key generation, /csrattrs and proof-of-possession against the test server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certline.app.est.client import EstClient
from certline.app.est.errors import EstAuthError, EstPopUnavailable, EstResponseError
from certline.app.est.issued_chain_check import spki
from certline.app.estserver import EstTestServer, FaultKind
from certline.app.estserver.csrattrs import PRESETS
from certline.app.pki import KeyAlgorithm
from tests.est.helpers import last, pop_factory, posts
from tests.helpers.estserver_fixture import DTM_LABEL, csr_pem, make_csr, make_key, write_client_identity

MakeClient = Callable[..., EstClient]


def current_identity(
    server: EstTestServer, tmp_path: Path, cn: str = "dev-42"
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, str, str]:
    key = make_key()
    cert = server.issue_client_certificate(cn, key.public_key(), dns_names=(f"{cn}.example",))
    cert_file, key_file = write_client_identity(tmp_path, cert, key)
    return cert, key, cert_file, key_file


# ------------------------------------------------------------------ re-enrollment


def test_reenroll_with_key_in_files_on_the_clientauth_host(
    make_client: MakeClient, est_server: EstTestServer, tmp_path: Path
) -> None:
    cert, _key, cert_file, key_file = current_identity(est_server, tmp_path)
    client = make_client(
        reenroll_url=est_server.est_url("simplereenroll", DTM_LABEL, "grp", clientauth=True),
        client_cert_file=cert_file,
        client_key_file=key_file,
    )
    csr, new_key = make_csr("ignored-by-server")
    result = client.simplereenroll(csr_pem(csr), cert)
    assert spki(result.leaf.public_key()) == spki(new_key.public_key())
    assert result.leaf.subject == cert.subject  # DTM keeps the identity
    assert result.warnings == ()
    req = last(est_server, "simplereenroll")
    assert req.listener == "clientauth" and req.auth_style == "client-cert"
    assert req.authorization is None  # the passcode is not sent to the client-auth host
    assert req.path == f"/.well-known/est/{DTM_LABEL}/simplereenroll/grp"


def test_reenroll_warns_when_the_server_changes_the_identity(
    make_client: MakeClient, est_server: EstTestServer, tmp_path: Path
) -> None:
    cert, key, cert_file, key_file = current_identity(est_server, tmp_path)
    est_server.faults.add(FaultKind.CHANGE_SUBJECT, op="simplereenroll")
    client = make_client(
        reenroll_url=est_server.clientauth_url, client_cert_file=cert_file, client_key_file=key_file
    )
    csr, _ = make_csr("dev-42", key)
    result = client.simplereenroll(csr_pem(csr), cert)
    assert any("changed the subject" in w for w in result.warnings)


def test_reenroll_with_device_held_key_via_signer(
    make_client: MakeClient, est_server: EstTestServer, tmp_path: Path
) -> None:
    from certline.app.est.device_key_https import signer_from_private_key

    cert, key, _cf, _kf = current_identity(est_server, tmp_path)
    client = make_client(reenroll_url=est_server.clientauth_url)
    csr, _ = make_csr("dev-42", key)  # renew with the same key
    result = client.simplereenroll(csr_pem(csr), cert, signer=signer_from_private_key(key))
    assert spki(result.leaf.public_key()) == spki(key.public_key())
    assert result.leaf.subject == cert.subject and result.leaf.serial_number != cert.serial_number
    req = last(est_server, "simplereenroll")
    assert req.auth_style == "client-cert" and req.authorization is None
    assert req.client_cert_subject == cert.subject.rfc4514_string()


def test_reenroll_without_client_certificate_is_refused_by_the_server(
    make_client: MakeClient, est_server: EstTestServer, tmp_path: Path
) -> None:
    cert, key, _cf, _kf = current_identity(est_server, tmp_path)
    csr, _ = make_csr("dev-42", key)
    with pytest.raises(EstAuthError, match="client certificate"):
        make_client().simplereenroll(csr_pem(csr), cert)


# ------------------------------------------------------------------ serverkeygen


@pytest.mark.parametrize("fault", [None, FaultKind.KEYGEN_REVERSE, FaultKind.KEYGEN_PKCS1])
def test_serverkeygen_returns_a_matching_pkcs8_key(
    make_client: MakeClient, est_server: EstTestServer, fault: FaultKind | None
) -> None:
    if fault is not None:
        est_server.faults.add(fault)
    csr, csr_key = make_csr("keygen-dev")
    result = make_client().serverkeygen(csr_pem(csr))
    key = serialization.load_der_private_key(result.private_key_pkcs8, password=None)
    assert result.private_key_pkcs8 == key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert spki(result.leaf.public_key()) == spki(key.public_key())
    assert spki(key.public_key()) != spki(csr_key.public_key())
    assert result.leaf.subject == csr.subject
    assert "redacted" in repr(result) and "PRIVATE" not in repr(result)


def test_serverkeygen_encrypted_key_is_not_supported(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    est_server.faults.add(FaultKind.KEYGEN_ENCRYPTED)
    csr, _ = make_csr("keygen-dev")
    with pytest.raises(EstResponseError, match="not supported"):
        make_client().serverkeygen(csr_pem(csr))


def test_serverkeygen_certificate_for_another_key_is_refused(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    est_server.faults.add(FaultKind.WRONG_KEY, op="serverkeygen")
    csr, _ = make_csr("keygen-dev")
    with pytest.raises(EstResponseError, match="public key"):
        make_client().serverkeygen(csr_pem(csr))


# ------------------------------------------------------------------ csrattrs


@pytest.mark.parametrize("preset", ["none", "empty"])
def test_csrattrs_none_and_empty_mean_no_attributes(
    make_client: MakeClient, est_server: EstTestServer, preset: str
) -> None:
    est_server.config.csrattrs = PRESETS[preset]()
    attrs = make_client().csrattrs()
    assert attrs.key_algorithm is None and not attrs.challenge_password_required
    assert attrs.extension_oids == () and attrs.other_oids == ()


def test_csrattrs_404_means_no_attributes(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.config.labels = frozenset({DTM_LABEL})
    assert make_client(label="cps/IOT_unknown").csrattrs().key_algorithm is None


def test_csrattrs_rfc7030_example_over_the_wire(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.config.csrattrs = PRESETS["rfc7030"]()
    attrs = make_client().csrattrs()
    assert attrs.challenge_password_required
    assert attrs.key_algorithm is KeyAlgorithm.EC_P384


def test_csrattrs_template_over_the_wire(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.config.csrattrs = PRESETS["template"]()
    attrs = make_client().csrattrs()
    assert attrs.key_algorithm is KeyAlgorithm.EC_P256
    assert attrs.template_subject == {"CN": "", "O": "Certline"}


# ------------------------------------------------------------------ proof of possession


def test_pop_links_the_csr_to_the_tls12_connection(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    est_server.config.require_pop = True
    est_server.config.csrattrs = PRESETS["pop"]()
    est_server.faults.add(FaultKind.TLS12_ONLY)  # every connection negotiates TLS 1.2
    key = make_key()
    made: list[bytes | None] = []
    result = make_client().simpleenroll(pop_factory(key, made))
    assert spki(result.leaf.public_key()) == spki(key.public_key())
    assert len(made) == 1 and made[0] is not None and len(made[0]) >= 12
    req = last(est_server, "simpleenroll")
    assert req.tls_version == "TLSv1.2" and req.status == 200


def test_pop_required_by_profile_without_csrattrs(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.config.require_pop = True
    est_server.faults.add(FaultKind.TLS12_ONLY)
    made: list[bytes | None] = []
    make_client(require_pop=True).simpleenroll(pop_factory(make_key(), made))
    assert made[0] is not None
    assert not [r for r in est_server.requests if r.op == "csrattrs"]


def test_pop_on_tls13_is_unavailable(make_client: MakeClient, est_server: EstTestServer) -> None:
    est_server.config.csrattrs = PRESETS["pop"]()
    made: list[bytes | None] = []
    with pytest.raises(EstPopUnavailable, match="TLS 1.2"):
        make_client().simpleenroll(pop_factory(make_key(), made))
    assert made == []  # the device was never asked for a CSR it could not bind


def test_pop_with_a_fixed_csr_is_refused(make_client: MakeClient) -> None:
    csr, _ = make_csr("dev")
    with pytest.raises(EstPopUnavailable, match="factory"):
        make_client(require_pop=True).simpleenroll(csr_pem(csr))


def test_factory_gets_none_when_no_pop_is_needed(make_client: MakeClient, est_server: EstTestServer) -> None:
    made: list[bytes | None] = []
    make_client().simpleenroll(pop_factory(make_key(), made))
    assert made == [None]
    assert len(posts(est_server, "csrattrs")) == 1  # asked once whether the server wants PoP
