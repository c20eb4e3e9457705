"""What EST operations return to the rest of Certline."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509

from certline.app.pki import KeyAlgorithm


@dataclass(frozen=True)
class EnrollResult:
    """A verified certificate: leaf first, chain checked against the trust anchors and the CSR key."""

    chain: tuple[x509.Certificate, ...]
    warnings: tuple[str, ...] = ()

    @property
    def leaf(self) -> x509.Certificate:
        return self.chain[0]


@dataclass(frozen=True, repr=False)
class ServerKeygenResult(EnrollResult):
    """Certificate plus a server-generated private key (PKCS#8 DER), held in memory only.

    ``repr`` is disabled so the key never reaches a log line or a traceback's locals by accident.
    """

    private_key_pkcs8: bytes = b""

    def __repr__(self) -> str:
        return f"ServerKeygenResult(leaf={self.leaf.serial_number:x}, key=<redacted>)"


@dataclass(frozen=True)
class CsrAttributes:
    """What /csrattrs asks the device to put in its CSR. Empty means "no requirements"."""

    key_algorithm: KeyAlgorithm | None = None
    challenge_password_required: bool = False
    extension_oids: tuple[str, ...] = ()
    other_oids: tuple[str, ...] = ()
    template_subject: dict[str, str] = field(default_factory=dict)
    unsupported_key: str | None = None
    """A key type the server asks for that Certline cannot make (e.g. "RSA 4096 bits");
    set only when no supported alternative was offered, so the caller can fail clearly."""
