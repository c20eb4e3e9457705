"""TLS client authentication signed by an external signer (the device), over real sockets.

The server is the standard library's ``ssl`` with ``CERT_REQUIRED``: it only completes a
handshake when the client's CertificateVerify checks out against the certificate it sent,
so "the request arrived and the peer certificate is ours" proves the external signature.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certline.app.device.registry import open_driver
from certline.app.est.device_key_https import post_with_external_key, signer_from_private_key
from certline.app.est.device_key_tlslite import external_key_for
from certline.app.est.errors import EstConnectionError, EstResponseError, EstTlsError
from certline.app.est.server_chain_check import cert_fingerprint, verify_server_chain
from certline.app.estserver import EstTestServer
from certline.app.estserver.faults import FaultKind
from certline.app.pki import KeyAlgorithm
from tests.helpers.certs import make_cert
from tests.helpers.sim_fixture import SimFactory, sim_factory  # noqa: F401 - fixture

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
NOW = dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- certificates


@dataclass
class Issued:
    key: PrivateKey
    cert: x509.Certificate


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str, parent: Issued | None = None) -> Issued:
    """A root CA, or an intermediate under ``parent``."""
    key = ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    signer_key = parent.key if parent else key
    aki_ski = x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key())  # type: ignore[arg-type]
    cert = make_cert(
        cn,
        key.public_key(),
        signer_key,
        issuer=parent.cert if parent else None,
        ca=True,
        key_usage=x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        ),
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=30),
        extensions=[
            (ski, False),
            (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(aki_ski), False),
        ],
    )
    return Issued(key, cert)


def issue(ca: Issued, cn: str, key: PrivateKey, *, server: bool, sans: list[x509.GeneralName]) -> Issued:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            False,
        ),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False),  # type: ignore[arg-type]
    ]
    if sans:
        extensions.append((x509.SubjectAlternativeName(sans), False))
    cert = make_cert(
        cn,
        key.public_key(),
        ca.key,
        issuer=ca.cert,
        ca=False,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=30),
        extensions=extensions,
    )
    return Issued(key, cert)


LOOPBACK_SAN: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


@dataclass
class Pki:
    server_ca: Issued
    client_ca: Issued
    server: Issued
    other_ca: Issued
    clients: dict[str, Issued] = field(default_factory=dict)


_CLIENT_KEYS: dict[str, Callable[[], PrivateKey]] = {
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "rsa2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
}


@pytest.fixture(scope="module")
def pki() -> Pki:
    server_ca = make_ca("Test EST Server CA")
    client_ca = make_ca("Test Device CA")
    server = issue(
        server_ca, "127.0.0.1", ec.generate_private_key(ec.SECP256R1()), server=True, sans=LOOPBACK_SAN
    )
    result = Pki(server_ca=server_ca, client_ca=client_ca, server=server, other_ca=make_ca("Someone Else CA"))
    for kind, gen in _CLIENT_KEYS.items():
        result.clients[kind] = issue(client_ca, f"device-{kind}", gen(), server=False, sans=[])
    return result


# --------------------------------------------------------------------------- server


RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Test: yes\r\n\r\nhello"


@dataclass
class Seen:
    peer_cert: bytes | None = None
    request: bytes = b""
    tls_version: str | None = None
    error: str | None = None


class TlsServer:
    """One-connection-at-a-time stdlib TLS server on 127.0.0.1 that records what it saw."""

    def __init__(
        self,
        tmp: Path,
        server: Issued,
        client_ca: x509.Certificate,
        *,
        max_version: ssl.TLSVersion | None = None,
        response: bytes = RESPONSE,
        extra_chain: tuple[x509.Certificate, ...] = (),
        request_cert: bool = True,
    ) -> None:
        cert_path, key_path = tmp / "server.pem", tmp / "server.key"
        cert_path.write_bytes(
            b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (server.cert, *extra_chain))
        )
        key_path.write_bytes(
            server.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert_path, key_path)
        self.ctx.verify_mode = ssl.CERT_REQUIRED if request_cert else ssl.CERT_NONE
        self.ctx.load_verify_locations(cadata=client_ca.public_bytes(serialization.Encoding.PEM).decode())
        if max_version is not None:
            self.ctx.maximum_version = max_version
        self.response = response
        self.seen: list[Seen] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}/.well-known/est/simplereenroll"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            seen = Seen()
            self.seen.append(seen)
            raw.settimeout(10)
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as tls:
                    seen.peer_cert = tls.getpeercert(binary_form=True)
                    seen.tls_version = tls.version()
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    while len(body) < length:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        body += chunk
                    seen.request = head + b"\r\n\r\n" + body if data else b""
                    tls.sendall(self.response)
            except (OSError, ssl.SSLError) as exc:
                seen.error = str(exc)
            finally:
                raw.close()

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self.listener.close()
        self._thread.join(timeout=10)


@pytest.fixture
def make_server(tmp_path: Path, pki: Pki) -> Iterator[Callable[..., TlsServer]]:
    servers: list[TlsServer] = []

    def make(**kwargs: object) -> TlsServer:
        server_cert = kwargs.pop("server_cert", pki.server)
        client_ca = kwargs.pop("client_ca", pki.client_ca.cert)
        server = TlsServer(tmp_path, server_cert, client_ca, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


class CountingSigner:
    """Device-like signer: sees only digests, counts calls, never hands tlslite a private key."""

    def __init__(self, key: PrivateKey) -> None:
        self._sign = signer_from_private_key(key)
        self.calls: list[tuple[int, str, str]] = []

    def __call__(self, digest: bytes, hash_name: str, rsa_padding: str) -> bytes:
        self.calls.append((len(digest), hash_name, rsa_padding))
        return self._sign(digest, hash_name, rsa_padding)


def _post(
    server: TlsServer,
    client: Issued,
    signer: Callable[[bytes, str, str], bytes],
    anchors: list[x509.Certificate],
):
    return post_with_external_key(
        server.url,
        {"Content-Type": "application/pkcs10"},
        b"CSRBODY",
        client_chain=[client.cert],
        signer=signer,
        trust_anchors=anchors,
        timeout=10.0,
    )


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("kind", ["p256", "p384", "rsa2048"])
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_client_auth_signed_by_external_signer(
    make_server: Callable[..., TlsServer], pki: Pki, kind: str, version: ssl.TLSVersion
) -> None:
    server = make_server(max_version=version)
    client = pki.clients[kind]
    signer = CountingSigner(client.key)

    status, headers, body = _post(server, client, signer, [pki.server_ca.cert])

    assert (status, body) == (200, b"hello")
    assert headers["x-test"] == "yes" and headers["content-type"] == "text/plain"
    assert len(signer.calls) == 1
    (seen,) = server.seen
    assert seen.error is None
    assert seen.tls_version == ("TLSv1.3" if version is ssl.TLSVersion.TLSv1_3 else "TLSv1.2")
    assert seen.peer_cert == client.cert.public_bytes(serialization.Encoding.DER)
    assert seen.request.startswith(b"POST /.well-known/est/simplereenroll HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in seen.request
    assert b"Content-Length: 7\r\n" in seen.request and b"Connection: close\r\n" in seen.request
    assert seen.request.endswith(b"\r\n\r\nCSRBODY")


@pytest.mark.parametrize(
    ("kind", "version", "expected"),
    [
        ("p256", ssl.TLSVersion.TLSv1_3, (32, "sha256", "pkcs1v15")),
        ("p384", ssl.TLSVersion.TLSv1_3, (48, "sha384", "pkcs1v15")),
        ("p384", ssl.TLSVersion.TLSv1_2, (48, "sha384", "pkcs1v15")),
        ("rsa2048", ssl.TLSVersion.TLSv1_2, (32, "sha256", "pkcs1v15")),
        ("rsa2048", ssl.TLSVersion.TLSv1_3, (32, "sha256", "pss")),
    ],
)
def test_signer_gets_a_digest_matching_key_and_version(
    make_server: Callable[..., TlsServer], pki: Pki, kind: str, version: ssl.TLSVersion, expected: tuple
) -> None:
    """The device is asked for what it can do: the curve's hash for ECDSA, PKCS#1 in 1.2, PSS in 1.3."""
    server = make_server(max_version=version)
    signer = CountingSigner(pki.clients[kind].key)
    _post(server, pki.clients[kind], signer, [pki.server_ca.cert])
    assert signer.calls == [expected]


def test_private_key_is_never_given_to_tlslite(
    make_server: Callable[..., TlsServer], pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What tlslite gets as ``privateKey`` holds only the public key and a signer."""
    from tlslite import TLSConnection

    captured: list[object] = []
    original = TLSConnection.handshakeClientCert

    def spy(self, certChain=None, privateKey=None, **kwargs):
        captured.append(privateKey)
        return original(self, certChain, privateKey, **kwargs)

    monkeypatch.setattr(TLSConnection, "handshakeClientCert", spy)
    server = make_server()
    client = pki.clients["p256"]
    _post(server, client, CountingSigner(client.key), [pki.server_ca.cert])

    (key,) = captured
    assert type(key).__name__ == "ExternalECDSAKey"
    secret = client.key.private_numbers().private_value  # type: ignore[union-attr]
    assert all(getattr(v, "private_value", None) != secret and v != secret for v in vars(key).values())
    assert str(secret) not in repr(key)
    with pytest.raises(ValueError, match="cannot be exported"):
        key.write()  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["p256", "rsa2048"])
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_wrong_signature_fails_clearly_and_sends_nothing(
    make_server: Callable[..., TlsServer], pki: Pki, kind: str, version: ssl.TLSVersion
) -> None:
    """A device whose active key is not the certificate's key: clear error, no request."""
    server = make_server(max_version=version)
    other_key = _CLIENT_KEYS[kind]()
    signer = CountingSigner(other_key)

    with pytest.raises(EstTlsError, match="active key is not this certificate's key"):
        _post(server, pki.clients[kind], signer, [pki.server_ca.cert])

    assert len(signer.calls) == 1
    server.close()
    assert [s.request for s in server.seen] == [b""]


def test_garbage_signature_fails_clearly(make_server: Callable[..., TlsServer], pki: Pki) -> None:
    server = make_server()
    with pytest.raises(EstTlsError, match="does not verify"):
        _post(server, pki.clients["p256"], lambda d, h, p: b"\x30\x00", [pki.server_ca.cert])


def test_signer_exception_propagates_unchanged(make_server: Callable[..., TlsServer], pki: Pki) -> None:
    class DeviceGone(Exception):
        pass

    def signer(digest: bytes, hash_name: str, rsa_padding: str) -> bytes:
        raise DeviceGone("unplugged")

    server = make_server()
    with pytest.raises(DeviceGone):
        _post(server, pki.clients["p256"], signer, [pki.server_ca.cert])
    server.close()
    assert [s.request for s in server.seen] == [b""]


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_untrusted_server_is_refused_before_signing_or_sending(
    make_server: Callable[..., TlsServer], pki: Pki, version: ssl.TLSVersion
) -> None:
    server = make_server(max_version=version)
    signer = CountingSigner(pki.clients["p256"].key)

    with pytest.raises(EstTlsError) as info:
        _post(server, pki.clients["p256"], signer, [pki.other_ca.cert])

    fingerprint = cert_fingerprint(pki.server.cert)
    assert info.value.fingerprint == fingerprint
    assert fingerprint in str(info.value)
    assert "not trusted" in str(info.value)
    assert signer.calls == []  # the device never signed for an unknown server
    server.close()
    assert len(server.seen) == 1 and server.seen[0].request == b"" and server.seen[0].peer_cert is None


def test_hostname_mismatch_is_refused(make_server: Callable[..., TlsServer], pki: Pki) -> None:
    wrong_name = issue(
        pki.server_ca,
        "est.example.com",
        ec.generate_private_key(ec.SECP256R1()),
        server=True,
        sans=[x509.DNSName("est.example.com")],
    )
    server = make_server(server_cert=wrong_name)
    signer = CountingSigner(pki.clients["p256"].key)

    with pytest.raises(EstTlsError, match=r"est\.example\.com, not 127\.0\.0\.1") as info:
        _post(server, pki.clients["p256"], signer, [pki.server_ca.cert])

    assert info.value.fingerprint == cert_fingerprint(wrong_name.cert)
    assert signer.calls == []
    server.close()
    assert server.seen[0].request == b""


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_server_rejecting_client_certificate_is_a_clear_tls_error(
    make_server: Callable[..., TlsServer], pki: Pki, version: ssl.TLSVersion
) -> None:
    stranger = issue(pki.other_ca, "stranger", ec.generate_private_key(ec.SECP256R1()), server=False, sans=[])
    server = make_server(max_version=version)
    with pytest.raises(EstTlsError, match="rejected our client certificate"):
        _post(server, stranger, CountingSigner(stranger.key), [pki.server_ca.cert])


def test_connection_refused_is_a_connection_error(pki: Pki) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(EstConnectionError):
        post_with_external_key(
            f"https://127.0.0.1:{port}/x",
            {},
            b"",
            client_chain=[pki.clients["p256"].cert],
            signer=CountingSigner(pki.clients["p256"].key),
            trust_anchors=[pki.server_ca.cert],
            timeout=5.0,
        )


def test_silent_server_times_out_as_connection_error(pki: Pki) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        with pytest.raises(EstConnectionError, match="timed out"):
            post_with_external_key(
                f"https://127.0.0.1:{port}/x",
                {},
                b"",
                client_chain=[pki.clients["p256"].cert],
                signer=CountingSigner(pki.clients["p256"].key),
                trust_anchors=[pki.server_ca.cert],
                timeout=0.3,
            )


def test_chunked_response_is_reassembled(make_server: Callable[..., TlsServer], pki: Pki) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/pkcs7-mime\r\n\r\n"
        b"4\r\nMIIB\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    server = make_server(response=chunked)
    status, headers, body = _post(
        server, pki.clients["p256"], CountingSigner(pki.clients["p256"].key), [pki.server_ca.cert]
    )
    assert (status, body) == (200, b"MIIBabc")
    assert headers["content-type"] == "application/pkcs7-mime"


def test_body_until_close_and_error_status_are_returned(
    make_server: Callable[..., TlsServer], pki: Pki
) -> None:
    server = make_server(response=b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nnot in hours")
    status, _, body = _post(
        server, pki.clients["p256"], CountingSigner(pki.clients["p256"].key), [pki.server_ca.cert]
    )
    assert (status, body) == (403, b"not in hours")


def test_oversized_response_is_refused(make_server: Callable[..., TlsServer], pki: Pki) -> None:
    server = make_server(response=b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n")
    with pytest.raises(EstResponseError, match="larger than"):
        _post(server, pki.clients["p256"], CountingSigner(pki.clients["p256"].key), [pki.server_ca.cert])


def test_header_injection_is_refused_without_echoing_the_value(pki: Pki) -> None:
    with pytest.raises(ValueError) as info:
        post_with_external_key(
            "https://127.0.0.1:1/x",
            {"Authorization": "Basic c2VjcmV0\r\nX-Evil: 1"},
            b"",
            client_chain=[pki.clients["p256"].cert],
            signer=CountingSigner(pki.clients["p256"].key),
            trust_anchors=[pki.server_ca.cert],
        )
    assert "c2VjcmV0" not in str(info.value)


def test_intermediates_on_both_sides(make_server: Callable[..., TlsServer], pki: Pki) -> None:
    """Server sends leaf + intermediate and we trust only its root; we send ours the same way."""
    server_sub = make_ca("Server Issuing CA", parent=pki.server_ca)
    server_leaf = issue(
        server_sub, "est", ec.generate_private_key(ec.SECP256R1()), server=True, sans=LOOPBACK_SAN
    )
    client_sub = make_ca("Device Issuing CA", parent=pki.client_ca)
    client_leaf = issue(
        client_sub, "device-sub", ec.generate_private_key(ec.SECP384R1()), server=False, sans=[]
    )
    server = make_server(server_cert=server_leaf, extra_chain=(server_sub.cert,))

    status, _, _ = post_with_external_key(
        server.url,
        {},
        b"x",
        client_chain=[client_leaf.cert, client_sub.cert],
        signer=CountingSigner(client_leaf.key),
        trust_anchors=[pki.server_ca.cert],
        timeout=10.0,
    )

    assert status == 200
    assert server.seen[0].peer_cert == client_leaf.cert.public_bytes(serialization.Encoding.DER)


def test_dns_name_is_checked_and_sent_as_sni(make_server: Callable[..., TlsServer], pki: Pki) -> None:
    named = issue(
        pki.server_ca,
        "localhost",
        ec.generate_private_key(ec.SECP256R1()),
        server=True,
        sans=[x509.DNSName("localhost")],
    )
    server = make_server(server_cert=named)
    sni: list[str | None] = []
    server.ctx.sni_callback = lambda sock, name, ctx: sni.append(name)  # type: ignore[assignment,func-returns-value]
    client = pki.clients["p256"]

    status, _, _ = post_with_external_key(
        f"https://localhost:{server.port}/x",
        {},
        b"",
        client_chain=[client.cert],
        signer=CountingSigner(client.key),
        trust_anchors=[pki.server_ca.cert],
        timeout=10.0,
    )

    assert status == 200
    assert sni == ["localhost"]
    assert f"Host: localhost:{server.port}\r\n".encode() in server.seen[0].request


def test_server_without_x25519_gets_a_retried_key_share(
    make_server: Callable[..., TlsServer], pki: Pki
) -> None:
    """TLS 1.3 HelloRetryRequest: we offer an x25519 share first; a P-256-only server asks again."""
    server = make_server()
    server.ctx.set_ecdh_curve("prime256v1")
    client = pki.clients["p256"]
    status, _, _ = _post(server, client, CountingSigner(client.key), [pki.server_ca.cert])
    assert status == 200 and server.seen[0].tls_version == "TLSv1.3"


def test_server_not_asking_for_a_certificate_never_calls_the_signer(
    make_server: Callable[..., TlsServer], pki: Pki
) -> None:
    server = make_server(request_cert=False)
    signer = CountingSigner(pki.clients["p256"].key)
    status, _, _ = _post(server, pki.clients["p256"], signer, [pki.server_ca.cert])
    assert status == 200 and signer.calls == []
    assert server.seen[0].peer_cert is None


def test_unsupported_client_key_is_a_clear_error(pki: Pki) -> None:
    p521 = issue(pki.client_ca, "p521", ec.generate_private_key(ec.SECP521R1()), server=False, sans=[])
    with pytest.raises(EstTlsError, match="secp521r1"):
        post_with_external_key(
            "https://127.0.0.1:1/x",
            {},
            b"",
            client_chain=[p521.cert],
            signer=CountingSigner(p521.key),
            trust_anchors=[pki.server_ca.cert],
        )


def test_tls12_digest_cut_to_curve_length_is_signed_as_that_hash(pki: Pki) -> None:
    """tlslite cuts a TLS 1.2 SHA-384 digest to 32 bytes for P-256; the device gets it labelled sha256,
    which yields the same ECDSA signature (only the leftmost 256 bits are ever used)."""
    client = pki.clients["p256"]
    signer = CountingSigner(client.key)
    key = external_key_for(client.cert, signer)
    cut = hashlib.sha384(b"handshake").digest()[:32]

    signature = key.sign(bytearray(cut), None, "sha384", None)

    assert signer.calls == [(32, "sha256", "pkcs1v15")]
    assert key.verify(signature, bytearray(cut), None, "sha384", None)
    client.cert.public_key().verify(  # type: ignore[call-arg,union-attr]
        bytes(signature), b"handshake", ec.ECDSA(hashes.SHA384())
    )


def test_rsa_pkcs1_digest_info_is_unwrapped_for_the_signer(pki: Pki) -> None:
    """TLS 1.2 hands the key a DER DigestInfo; the device gets the bare digest and its hash name."""
    client = pki.clients["rsa2048"]
    signer = CountingSigner(client.key)
    key = external_key_for(client.cert, signer)
    digest = hashlib.sha384(b"handshake").digest()
    digest_info = bytes.fromhex("3041300d060960864801650304020205000430") + digest

    signature = key.sign(bytearray(digest_info), "pkcs1", None, 0)

    assert signer.calls == [(48, "sha384", "pkcs1v15")]
    assert key.verify(signature, bytearray(digest_info), "pkcs1", None, 0)
    assert not key.verify(signature, bytearray(digest_info[:-1] + b"\0"), "pkcs1", None, 0)
    with pytest.raises(ValueError, match="salt length"):
        key.sign(bytearray(digest), "pss", "sha384", 20)


def test_expired_server_certificate_is_refused_with_fingerprint(pki: Pki) -> None:
    later = NOW + dt.timedelta(days=60)
    with pytest.raises(EstTlsError, match="not trusted") as info:
        verify_server_chain([pki.server.cert], "127.0.0.1", [pki.server_ca.cert], now=later)
    assert info.value.fingerprint == cert_fingerprint(pki.server.cert)


def test_no_trust_anchors_means_no_trust(pki: Pki) -> None:
    with pytest.raises(EstTlsError, match="no trust anchors") as info:
        verify_server_chain([pki.server.cert], "127.0.0.1", [])
    assert info.value.fingerprint == cert_fingerprint(pki.server.cert)


# --------------------------------------------------------------------------- end to end


@pytest.mark.parametrize(
    ("algorithm", "tls12_only"),
    [(KeyAlgorithm.EC_P256, False), (KeyAlgorithm.EC_P384, True), (KeyAlgorithm.RSA_2048, True)],
)
def test_simplereenroll_through_est_server_signed_by_simulated_device(
    sim_factory: SimFactory,  # noqa: F811 - the imported fixture
    tmp_path: Path,
    algorithm: KeyAlgorithm,
    tls12_only: bool,
) -> None:
    """DTM-style renewal: the key being renewed is on a device behind a real pty; only the
    device can sign the handshake, and the EST server's clientauth listener accepts it."""
    simulator = sim_factory(1)
    driver = open_driver("certline", simulator.ports[0])
    with EstTestServer(tmp_path / "est", auto_passcode=False) as est:
        try:
            driver.identify()
            driver.generate_key(algorithm)
            first_csr = x509.load_der_x509_csr(driver.create_csr({"CN": "device-200"}))
            old_cert = est.issue_client_certificate(
                "device-200",
                first_csr.public_key(),  # type: ignore[arg-type]
                dns_names=("device-200.local",),
            )
            driver.write_certificate_chain(
                old_cert.public_bytes(serialization.Encoding.PEM).decode() + est.chain_pem
            )
            driver.generate_key(algorithm)  # the new key waits in the pending slot
            new_csr = x509.load_der_x509_csr(driver.create_csr({"CN": "ignored-by-dtm"}))
            if tls12_only:
                est.faults.add(FaultKind.TLS12_ONLY, times=1)
            anchors = [x509.load_pem_x509_certificate(est.ca_pem.encode())]

            status, headers, body = post_with_external_key(
                est.est_url(
                    "simplereenroll", "cps/IOT_33fd0b45-3188-45ed-9458-6cedc8ccf509", clientauth=True
                ),
                {"Content-Type": "text/plain"},
                new_csr.public_bytes(serialization.Encoding.PEM),
                client_chain=[old_cert],
                signer=driver.sign_digest,
                trust_anchors=anchors,
                timeout=20.0,
            )
        finally:
            driver.close()

        assert status == 200, body
        assert headers["content-type"].startswith("application/pkcs7-mime")
        certs = pkcs7.load_der_pkcs7_certificates(base64.b64decode(b"".join(body.split())))
        renewed = next(c for c in certs if c.public_key() == new_csr.public_key())
        assert renewed.subject == old_cert.subject
        record = est.requests[-1]
        assert (record.listener, record.auth_style) == ("clientauth", "client-cert")
        assert record.client_cert_subject == "CN=device-200"
        assert record.tls_version == ("TLSv1.2" if tls12_only else "TLSv1.3")
