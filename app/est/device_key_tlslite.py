"""tlslite-ng key objects whose private operation is done by someone else (the device).

Python's :mod:`ssl` cannot sign a TLS handshake with a key it does not hold, so
re-enrollment uses tlslite-ng, which asks its key object to sign. These
classes hold only the *public* key (taken from the certificate being renewed)
and forward each signing request to a :data:`Signer`, normally
``DeviceDriver.sign_digest``.

What tlslite-ng 0.8 hands to ``sign`` (read from ``keyexchange.py``
``makeCertificateVerify`` and ``tlsconnection.py`` TLS 1.3 client path):

* TLS 1.2 RSA PKCS#1 v1.5: the DER ``DigestInfo`` (prefix + digest),
  ``padding="pkcs1"``, ``hashAlg=None`` - we strip the prefix back off.
* RSA-PSS (TLS 1.2 and 1.3): the digest, ``padding="pss"``, the hash name and
  ``saltLen`` = digest length.
* ECDSA: the digest and its hash name; in TLS 1.2 tlslite first truncates it
  to the curve's byte length (``private_key.curve.baselen``), so that
  attribute must exist. The signature must be DER ``(r, s)``, which is what
  devices return.

tlslite verifies every signature with ``verify`` right after ``sign``; we do
that with the certificate's public key, so a device answering with the wrong
key fails here, with a clear message, instead of as an opaque server alert.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

with warnings.catch_warnings():
    # tlslite-ng's package __init__ imports its asyncore integration, which we never use;
    # on 3.11 that warns (DeprecationWarning) on every import.
    warnings.filterwarnings(
        "ignore", message="The asyncore module is deprecated", category=DeprecationWarning
    )
    from tlslite.utils.ecdsakey import ECDSAKey
    from tlslite.utils.rsakey import RSAKey

Signer = Callable[[bytes, str, str], bytes]
"""``(digest, hash_name, rsa_padding) -> signature``; same contract as ``DeviceDriver.sign_digest``.

``hash_name`` is ``sha256``/``sha384``/``sha512``; ``rsa_padding`` is ``pkcs1v15`` or
``pss`` (salt length = digest length) and is ignored for ECDSA, whose signature is DER.
"""

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
_HASH_BY_LENGTH = {algo.digest_size: name for name, algo in _HASHES.items()}

# DER DigestInfo prefixes (RFC 8017 9.2 note 1), the same bytes tlslite prepends.
_DIGEST_INFO_PREFIXES: dict[bytes, str] = {
    bytes.fromhex("3031300d060960864801650304020105000420"): "sha256",
    bytes.fromhex("3041300d060960864801650304020205000430"): "sha384",
    bytes.fromhex("3051300d060960864801650304020305000440"): "sha512",
}

# cryptography curve name -> (python-ecdsa name tlslite expects in curve_name, byte length,
# hash bound to the curve in TLS 1.3).
_CURVES: dict[str, tuple[str, int, str]] = {
    "secp256r1": ("NIST256p", 32, "sha256"),
    "secp384r1": ("NIST384p", 48, "sha384"),
}


class ExternalKeyError(ValueError):
    """The certificate's key cannot be used with an external signer (type, curve or size)."""


def _split_digest_info(data: bytes) -> tuple[str, bytes]:
    for prefix, name in _DIGEST_INFO_PREFIXES.items():
        if data.startswith(prefix) and len(data) == len(prefix) + _HASHES[name].digest_size:
            return name, data[len(prefix) :]
    raise ExternalKeyError("tlslite asked for a PKCS#1 v1.5 signature over an unsupported hash")


def _check_digest(digest: bytes, hash_name: str) -> None:
    algo = _HASHES.get(hash_name)
    if algo is None:
        raise ExternalKeyError(f"unsupported hash for an external signature: {hash_name}")
    if len(digest) != algo.digest_size:
        raise ExternalKeyError(f"digest length {len(digest)} does not match {hash_name}")


class _SignerCalls:
    """Bookkeeping shared by both key types, so the caller can explain a failure afterwards."""

    def _init_calls(self, signer: Signer) -> None:
        self._signer = signer
        self.sign_calls = 0
        self.signature_rejected = False
        """True once a signature from the signer failed verification with the certificate's key."""
        self.signer_error: Exception | None = None
        """What the signer raised (e.g. a DeviceError), so it reaches the caller unchanged."""

    def _call_signer(self, digest: bytes, hash_name: str, rsa_padding: str) -> bytearray:
        self.sign_calls += 1
        try:
            signature = self._signer(bytes(digest), hash_name, rsa_padding)
        except Exception as exc:
            self.signer_error = exc
            raise
        return bytearray(signature)

    def _record_verdict(self, ok: bool) -> bool:
        if not ok:
            self.signature_rejected = True
        return ok


class ExternalRSAKey(_SignerCalls, RSAKey):
    """RSA (rsaEncryption) key: public part from the certificate, signatures from the signer."""

    def __init__(self, public_key: rsa.RSAPublicKey, signer: Signer) -> None:
        # RSAKey.__init__ raises NotImplementedError by design; set its attributes ourselves.
        numbers = public_key.public_numbers()
        self.n = numbers.n
        self.e = numbers.e
        self.key_type = "rsa"
        self._key_hash = None
        self._public_key = public_key
        self._init_calls(signer)

    def __repr__(self) -> str:
        return f"ExternalRSAKey(bits={self._public_key.key_size})"

    def hasPrivateKey(self) -> bool:
        # True: tlslite must treat this as a signing key; the private part lives on the device.
        return True

    def acceptsPassword(self) -> bool:
        return False

    def write(self, password: str | None = None) -> str:
        raise ExternalKeyError("an external key cannot be exported")

    def decrypt(self, encBytes: Any) -> Any:
        # Only a TLS server decrypts with its key (RSA key exchange); we are always the client.
        raise ExternalKeyError("an external key is used for signatures only")

    def sign(
        self, data: Any, padding: str = "pkcs1", hashAlg: str | None = None, saltLen: int | None = None
    ) -> bytearray:
        """Forward to the signer; tlslite's keyword names (``padding``, ``hashAlg``) are kept."""
        mode = (padding or "pkcs1").lower()
        data = bytes(data)
        if mode == "pkcs1":
            if hashAlg is None:
                hash_name, digest = _split_digest_info(data)
            else:
                hash_name, digest = hashAlg.lower(), data
            _check_digest(digest, hash_name)
            return self._call_signer(digest, hash_name, "pkcs1v15")
        if mode == "pss":
            if hashAlg is None:
                raise ExternalKeyError("RSA-PSS signature requested without a hash")
            hash_name = hashAlg.lower()
            _check_digest(data, hash_name)
            if saltLen is not None and saltLen != _HASHES[hash_name].digest_size:
                # Devices implement the TLS convention (salt = digest length) only.
                raise ExternalKeyError(f"RSA-PSS salt length {saltLen} is not supported by the signer")
            return self._call_signer(data, hash_name, "pss")
        raise ExternalKeyError(f"unsupported RSA padding: {padding}")

    def verify(
        self,
        signature: Any,
        data: Any,
        padding: str = "pkcs1",
        hashAlg: str | None = None,
        saltLen: int | None = None,
    ) -> bool:
        """Check a signature with the certificate's public key (tlslite does this after every sign)."""
        try:
            mode = (padding or "pkcs1").lower()
            data = bytes(data)
            pad: asym_padding.AsymmetricPadding
            if mode == "pkcs1":
                if hashAlg is None:
                    hash_name, digest = _split_digest_info(data)
                else:
                    hash_name, digest = hashAlg.lower(), data
                pad = asym_padding.PKCS1v15()
            else:
                hash_name, digest = (hashAlg or "").lower(), data
                _check_digest(digest, hash_name)
                salt = saltLen if saltLen is not None else _HASHES[hash_name].digest_size
                pad = _pss(hash_name, salt)
            _check_digest(digest, hash_name)
            self._public_key.verify(bytes(signature), digest, pad, Prehashed(_HASHES[hash_name]))
        except (InvalidSignature, ExternalKeyError, KeyError):
            return self._record_verdict(False)
        return self._record_verdict(True)


class _CurveInfo:
    """Stands in for python-ecdsa's curve: tlslite reads ``private_key.curve.baselen`` in TLS 1.2."""

    def __init__(self, baselen: int) -> None:
        self.baselen = baselen


@dataclass(frozen=True)
class _NoPrivateKey:
    """Placeholder for tlslite's ``private_key`` attribute: carries the curve, never a secret."""

    curve: _CurveInfo


class ExternalECDSAKey(_SignerCalls, ECDSAKey):
    """ECDSA P-256/P-384 key: public part from the certificate, signatures from the signer."""

    def __init__(self, public_key: ec.EllipticCurvePublicKey, signer: Signer) -> None:
        # ECDSAKey.__init__ raises NotImplementedError by design; set its attributes ourselves.
        spec = _CURVES.get(public_key.curve.name)
        if spec is None:
            raise ExternalKeyError(f"unsupported curve for an external key: {public_key.curve.name}")
        self.curve_name, baselen, self.tls13_hash = spec
        self.key_type = "ecdsa"
        self.private_key = _NoPrivateKey(_CurveInfo(baselen))
        self.public_key = public_key
        self._init_calls(signer)

    def __repr__(self) -> str:
        return f"ExternalECDSAKey(curve={self.public_key.curve.name})"

    def __len__(self) -> int:
        return int(self.public_key.curve.key_size)

    def hasPrivateKey(self) -> bool:
        return True

    def acceptsPassword(self) -> bool:
        return False

    def write(self, password: str | None = None) -> str:
        raise ExternalKeyError("an external key cannot be exported")

    def _digest_name(self, data: bytes, hash_alg: str | None) -> str:
        """Name the digest for the signer.

        In TLS 1.2 tlslite cuts the digest to the curve length (SHA-384 on P-256 arrives as 32
        bytes). ECDSA only ever uses that many leftmost bits of the hash (FIPS 186-4 6.4), so
        signing the cut digest as the hash of that length gives the identical signature.
        """
        name = (hash_alg or "").lower()
        if name in _HASHES and len(data) == _HASHES[name].digest_size:
            return name
        by_length = _HASH_BY_LENGTH.get(len(data))
        if by_length is None:
            raise ExternalKeyError(f"cannot sign a {len(data)}-byte ECDSA digest externally")
        return by_length

    def sign(
        self, data: Any, padding: str | None = None, hashAlg: str = "sha1", saltLen: int | None = None
    ) -> bytearray:
        """Forward the digest to the signer; the signer answers DER ``(r, s)`` like tlslite expects."""
        data = bytes(data)
        return self._call_signer(data, self._digest_name(data, hashAlg), "pkcs1v15")

    def verify(
        self,
        signature: Any,
        data: Any,
        padding: str | None = None,
        hashAlg: str | None = None,
        saltLen: int | None = None,
    ) -> bool:
        """Check a DER signature with the certificate's public key."""
        try:
            data = bytes(data)
            algo = _HASHES[self._digest_name(data, hashAlg)]
            self.public_key.verify(bytes(signature), data, ec.ECDSA(Prehashed(algo)))
        except (InvalidSignature, ExternalKeyError, ValueError):
            return self._record_verdict(False)
        return self._record_verdict(True)


ExternalKey = ExternalRSAKey | ExternalECDSAKey


def _pss(hash_name: str, salt_length: int) -> asym_padding.AsymmetricPadding:
    return asym_padding.PSS(mgf=asym_padding.MGF1(_HASHES[hash_name]), salt_length=salt_length)


def external_key_for(certificate: x509.Certificate, signer: Signer) -> ExternalKey:
    """Build the tlslite key for ``certificate``'s public key, signing through ``signer``."""
    public_key = certificate.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise ExternalKeyError(f"RSA key of {public_key.key_size} bits is too small")
        return ExternalRSAKey(public_key, signer)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return ExternalECDSAKey(public_key, signer)
    raise ExternalKeyError(f"unsupported key type for an external signer: {type(public_key).__name__}")


def signer_from_private_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> Signer:
    """A :data:`Signer` over a key held in memory: for tests and for keys kept in files.

    Behaves like a device: signs a precomputed digest, DER for ECDSA, salt = digest length for PSS.
    """

    def sign(digest: bytes, hash_name: str, rsa_padding: str) -> bytes:
        _check_digest(digest, hash_name)
        prehashed = Prehashed(_HASHES[hash_name])
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(digest, ec.ECDSA(prehashed))
        if rsa_padding == "pkcs1v15":
            return key.sign(digest, asym_padding.PKCS1v15(), prehashed)
        if rsa_padding == "pss":
            return key.sign(digest, _pss(hash_name, _HASHES[hash_name].digest_size), prehashed)
        raise ExternalKeyError(f"unsupported RSA padding: {rsa_padding}")

    return sign
