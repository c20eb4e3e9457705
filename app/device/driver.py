"""The driver interface: what a provisioning step needs from a device.

The batch engine and re-enrollment speak only to :class:`DeviceDriver`. Each
concrete driver (the Certline serial protocol, the nRF91 AT command set)
translates these calls into its wire protocol and declares in
:class:`Capabilities` what it can do, so the engine adapts (server-side key
generation for a device that cannot generate keys, a clear refusal when a
device cannot sign a TLS handshake) instead of failing half way.

Key slots: every device has an *active* credential (key + certificate chain)
and may hold one *pending* key. ``generate_key`` and ``import_private_key``
fill the pending slot; ``create_csr`` signs with the pending key when there is
one, else with the active key; ``write_certificate_chain`` stages the chain
and commits it atomically, promoting the pending key when the leaf matches it.
So a reset or unplug before the commit leaves the previous credential intact.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from certline.app.pki import KeyAlgorithm


@dataclass(frozen=True)
class Capabilities:
    """What a device (through its driver) can do."""

    key_algorithms: tuple[KeyAlgorithm, ...] = (KeyAlgorithm.EC_P256,)
    on_device_keygen: bool = True
    import_server_key: bool = False
    can_sign: bool = False
    separate_keygen_and_csr: bool = True
    """False when the device makes a new key every time it makes a CSR (nRF91 %KEYGEN)."""


@dataclass(frozen=True)
class DeviceIdentity:
    """What a device says about itself. A unit is identified by ``serial_number``, never by port."""

    serial_number: str
    model: str
    firmware: str
    protocol_version: str
    capabilities: Capabilities = field(default_factory=Capabilities)


@dataclass(frozen=True)
class StoredCredential:
    """What the device reports it holds: the chain exactly as stored and the device's own hash of it."""

    chain_pem: str
    sha256: bytes


class DeviceError(Exception):
    """A device said or did something that stops the current step. Safe to show to a technician.

    ``code`` is a short stable identifier for reports and tests (``lost``, ``timeout``,
    ``protocol``, ``refused``, ``busy``, ``unsupported``, ``mismatch``, ``bad-input``).
    Messages never contain secrets.
    """

    code = "device"

    def __init__(self, message: str, *, port: str | None = None) -> None:
        super().__init__(message)
        self.port = port


class DeviceLost(DeviceError):
    """The port went away (unplugged, powered off) or stopped answering entirely."""

    code = "lost"


class DeviceTimeout(DeviceError):
    """A command missed its deadline."""

    code = "timeout"


class DeviceProtocolError(DeviceError):
    """The device answered something we cannot parse or that violates the protocol."""

    code = "protocol"


class DeviceRefused(DeviceError):
    """The device answered with an explicit error (ERR / +CME ERROR)."""

    code = "refused"


class DeviceBusy(DeviceRefused):
    """The device is temporarily unable (e.g. modem not in offline mode); retrying may help."""

    code = "busy"


class DeviceUnsupported(DeviceError):
    """The driver or device cannot do what was asked (checked against Capabilities)."""

    code = "unsupported"


class DeviceBadInput(DeviceError):
    """The station asked for something the device or protocol cannot take as given (a digest of
    the wrong length, an oversized chain, CRLF in a PEM): a station-side problem, not the unit's."""

    code = "bad-input"


class DeviceMismatch(DeviceError):
    """A read-back, hash or signature check failed: what the device holds is not what we wrote."""

    code = "mismatch"


class DeviceDriver(ABC):
    """One device on one port. Methods block (with deadlines); call them from a worker thread.

    Implementations must never block forever, must map every failure to a
    :class:`DeviceError` subclass, and must not log key material.
    """

    #: short name used in profiles and on the command line (``certline``, ``nrf91``)
    name: str = ""

    @property
    @abstractmethod
    def port(self) -> str:
        """The port path or pyserial URL this driver talks through."""

    @abstractmethod
    def identify(self) -> DeviceIdentity:
        """Handshake and read identity and capabilities."""

    @abstractmethod
    def generate_key(self, algorithm: KeyAlgorithm) -> None:
        """Generate a new key into the pending slot (may take tens of seconds)."""

    @abstractmethod
    def create_csr(self, subject: dict[str, str], challenge_password: str | None = None) -> bytes:
        """Return a DER PKCS#10 CSR signed by the pending key (or the active key if none is pending).

        ``subject`` maps short attribute names (CN, O, OU, C, L, ST, serialNumber) to values.
        """

    @abstractmethod
    def import_private_key(self, pkcs8_der: bytes) -> None:
        """Load a server-generated private key into the pending slot. Caller drops its copy after."""

    @abstractmethod
    def write_certificate_chain(self, chain_pem: str) -> None:
        """Stage the chain (leaf first, PEM, LF line endings) and commit it atomically."""

    @abstractmethod
    def read_certificate_chain(self) -> StoredCredential | None:
        """Return the committed chain and the device's SHA-256 over it, or None if it holds none."""

    @abstractmethod
    def sign_digest(self, digest: bytes, hash_name: str = "sha256", rsa_padding: str = "pkcs1v15") -> bytes:
        """Sign a precomputed digest with the *active* key. ECDSA returns DER (r, s)."""

    def credential_at_risk(self) -> StoredCredential | None:
        """The working credential that a new-key job would end up replacing, or None.

        Every driver that can tell returns what the unit holds, so the station can refuse
        (``already-provisioned``), or journal it before the operator-requested replacement.
        A driver whose key generation overwrites the credential in place (nRF91 ``%KEYGEN``)
        must also refuse to do so until :meth:`allow_replacing`; one with a pending slot
        (Certline) loses the credential only at the certificate commit. Read-only on the device.
        The default (None) is for drivers that cannot read their credential.
        """
        return None

    def allow_replacing(self, credential: StoredCredential) -> None:  # noqa: B027 - optional hook
        """The operator asked to replace ``credential`` and the station journaled it first.

        Until this is called, a driver that reports a credential at risk must refuse to
        destroy it.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the port."""
