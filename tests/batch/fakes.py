"""In-memory stand-ins for a device and an EST server, for fast unit tests of the engine logic.

Integration tests use the real simulator and the real EST test server; these fakes exist so the
state machine, resume rules and duplicate guards can be tested in milliseconds.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from certline.app import pki
from certline.app.device.driver import (
    Capabilities,
    DeviceDriver,
    DeviceIdentity,
    DeviceLost,
    KeyAlgorithm,
    StoredCredential,
)
from certline.app.est.errors import EstConnectionError, EstPending
from certline.app.est.results import CsrAttributes, EnrollResult
from tests.helpers.certs import make_cert, new_key


class FakeCA:
    def __init__(self) -> None:
        self.key = new_key()
        now = datetime.now(UTC)
        self.cert = make_cert(
            "Fake CA",
            self.key.public_key(),
            self.key,
            ca=True,
            not_before=now - timedelta(minutes=1),
            not_after=now + timedelta(days=3650),
        )

    def issue(self, csr: x509.CertificateSigningRequest) -> x509.Certificate:
        now = datetime.now(UTC)
        return make_cert(
            csr.subject,
            csr.public_key(),
            self.key,
            issuer=self.cert,
            not_before=now - timedelta(minutes=1),
            not_after=now + timedelta(days=365),
        )


class FakeEst:
    """Issues for any CSR; counts issuance per public key; can be switched down or to 202."""

    def __init__(self, ca: FakeCA) -> None:
        self.ca = ca
        self.down = False
        self.pending_times = 0
        self.pending_retry_after = 0.0
        """Retry-After of the 202s (0: ask again at once; 3600: manual approval)."""
        self.issued: list[x509.Certificate] = []
        self.calls = 0
        self._lock = threading.Lock()

    def cacerts(self) -> list[x509.Certificate]:
        if self.down:
            raise EstConnectionError("connection refused")
        return [self.ca.cert]

    def csrattrs(self) -> CsrAttributes:
        return CsrAttributes()

    def simpleenroll(self, csr: bytes) -> EnrollResult:
        with self._lock:
            self.calls += 1
            if self.down:
                raise EstConnectionError("connection refused")
            if self.pending_times > 0:
                self.pending_times -= 1
                retry_at = datetime.now(UTC) + timedelta(seconds=self.pending_retry_after)
                raise EstPending("pending", retry_at=retry_at, retry_after=self.pending_retry_after)
            cert = self.ca.issue(x509.load_der_x509_csr(csr))
            self.issued.append(cert)
            return EnrollResult(chain=(cert, self.ca.cert))

    def serverkeygen(self, csr: bytes):  # pragma: no cover - not used by these tests
        raise NotImplementedError


class FakeDevice(DeviceDriver):
    """A device with real keys; ``unplug_at`` names a method that raises DeviceLost once."""

    name = "fake"

    def __init__(self, port: str, serial: str, *, can_sign: bool = True) -> None:
        self._port = port
        self.serial = serial
        self.can_sign = can_sign
        self.active_key: ec.EllipticCurvePrivateKey | None = None
        self.pending_key: ec.EllipticCurvePrivateKey | None = None
        self.chain_pem: str | None = None
        self.unplug_at: str | None = None
        self.writes = 0

    @property
    def port(self) -> str:
        return self._port

    def _maybe_unplug(self, where: str) -> None:
        if self.unplug_at == where:
            self.unplug_at = None
            raise DeviceLost("unplugged")

    def identify(self) -> DeviceIdentity:
        return DeviceIdentity(
            self.serial,
            "FAKE-1",
            "1.0",
            "1",
            Capabilities(key_algorithms=(KeyAlgorithm.EC_P256,), can_sign=self.can_sign),
        )

    def generate_key(self, algorithm: KeyAlgorithm) -> None:
        self._maybe_unplug("generate_key")
        self.pending_key = ec.generate_private_key(ec.SECP256R1())

    def create_csr(self, subject: dict[str, str], challenge_password: str | None = None) -> bytes:
        key = self.pending_key or self.active_key
        assert key is not None
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(pki.subject_from_dict(subject))
            .sign(key, hashes.SHA256())
        )
        return csr.public_bytes(serialization.Encoding.DER)

    def import_private_key(self, pkcs8_der: bytes) -> None:
        raise NotImplementedError

    def write_certificate_chain(self, chain_pem: str) -> None:
        self._maybe_unplug("write_certificate_chain")
        leaf = pki.pem_to_chain(chain_pem)[0]
        leaf_key = pki.public_key_der(leaf.public_key())
        if self.pending_key is not None and pki.public_key_der(self.pending_key.public_key()) == leaf_key:
            self.active_key, self.pending_key = self.pending_key, None
        elif self.active_key is None or pki.public_key_der(self.active_key.public_key()) != leaf_key:
            from certline.app.device.driver import DeviceRefused

            raise DeviceRefused("certificate does not match any key on the device")
        self.chain_pem = chain_pem
        self.writes += 1

    def read_certificate_chain(self) -> StoredCredential | None:
        if self.chain_pem is None:
            return None
        return StoredCredential(self.chain_pem, hashlib.sha256(self.chain_pem.encode()).digest())

    def sign_digest(self, digest: bytes, hash_name: str = "sha256", rsa_padding: str = "pkcs1v15") -> bytes:
        assert self.active_key is not None
        return self.active_key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
