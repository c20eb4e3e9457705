"""RFC 7030 4.1.1 bootstrap: fetch without trust, show fingerprints, pin only what was confirmed."""

from __future__ import annotations

import pytest
from cryptography import x509

from certline.app.config.profile import Profile
from certline.app.est.bootstrap import fetch_cacerts_unverified, normalise_fingerprint, pin
from certline.app.est.client import EstClient
from certline.app.est.credentials import Credentials
from certline.app.estserver import EstTestServer
from tests.est.helpers import posts, ssl_peer_fingerprint
from tests.helpers.estserver_fixture import DTM_LABEL, TEST_PASSCODE, csr_pem, make_csr


def test_fetch_shows_server_and_ca_fingerprints(est_server: EstTestServer) -> None:
    result = fetch_cacerts_unverified(est_server.url, label=DTM_LABEL)
    assert result.url == est_server.est_url("cacerts", DTM_LABEL)
    assert est_server.ca_fingerprint in result.ca_fingerprints
    assert result.server_fingerprint == ssl_peer_fingerprint(est_server)
    assert result.server_issued_by_ca
    req = posts(est_server, "cacerts")[-1]
    assert req.authorization is None  # no credential on an unverified connection


def test_pin_confirmed_root_then_enroll(est_server: EstTestServer) -> None:
    result = fetch_cacerts_unverified(est_server.url)
    bundle = pin(result, est_server.ca_fingerprint_hex.lower())
    pinned = x509.load_pem_x509_certificates(bundle.encode())
    assert {c.subject for c in pinned} == {c.subject for c in result.ca_certs}
    profile = Profile(name="p", enroll_url=est_server.url, ca_bundle_pem=bundle)
    with EstClient(profile, Credentials(passcode=TEST_PASSCODE)) as client:
        csr, _ = make_csr("after-bootstrap")
        client.simpleenroll(csr_pem(csr))


def test_pin_refuses_unconfirmed_or_server_fingerprints(est_server: EstTestServer) -> None:
    result = fetch_cacerts_unverified(est_server.url)
    with pytest.raises(ValueError, match="none of the CA"):
        pin(result, "AA" * 32)
    with pytest.raises(ValueError, match="TLS certificate"):
        pin(result, result.server_fingerprint)
    with pytest.raises(ValueError, match="64 hex"):
        pin(result, "not a fingerprint")


def test_pin_only_trusts_what_chains_to_the_confirmed_cert(est_server: EstTestServer) -> None:
    result = fetch_cacerts_unverified(est_server.url)
    issuing = result.ca_certs[0]
    assert issuing.subject != issuing.issuer
    bundle = pin(result, result.ca_fingerprints[0])  # confirm the issuing CA only
    assert [c.subject for c in x509.load_pem_x509_certificates(bundle.encode())] == [issuing.subject]


@pytest.mark.parametrize(
    "text",
    [
        "ab" * 32,
        ":".join(["AB"] * 32),
        "SHA256:" + "ab" * 32,
        "sha256 Fingerprint=" + ":".join(["ab"] * 32),
        " " + "AB " * 32,
    ],
)
def test_fingerprint_forms(text: str) -> None:
    assert normalise_fingerprint(text) == ":".join(["AB"] * 32)
