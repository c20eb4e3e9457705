"""Real device keys for the simulator: generation, PKCS#10 CSRs, signing, and a keygen latency model.

Simulated devices use real keys (``cryptography``) so everything downstream
(EST enrollment, chain checks, proof of possession) is exercised for real.
Real secure elements take far longer than a desktop CPU to make a key, so a
:class:`KeygenLatency` tells the device how long to *appear* busy per algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import AttributeOID

from certline.app.pki import KeyAlgorithm, key_algorithm_of, subject_from_dict

DeviceKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class KeyOperationError(ValueError):
    """A key, CSR or signing request the device cannot handle; the message is safe to show."""


@dataclass(frozen=True)
class KeygenLatency:
    """Seconds a simulated device spends generating a key of each algorithm."""

    seconds: dict[KeyAlgorithm, float] = field(
        default_factory=lambda: {
            KeyAlgorithm.EC_P256: 0.3,
            KeyAlgorithm.EC_P384: 0.5,
            KeyAlgorithm.RSA_2048: 2.0,
            KeyAlgorithm.RSA_3072: 6.0,
        }
    )

    @classmethod
    def uniform(cls, seconds: float) -> KeygenLatency:
        """The same latency for every algorithm (tests use tiny values)."""
        return cls({alg: seconds for alg in KeyAlgorithm})

    @classmethod
    def parse(cls, text: str) -> KeygenLatency:
        """``"2.5"`` (every algorithm) or ``"rsa-2048=5,ec-p256=0.1"`` (others keep their defaults)."""
        try:
            if "=" not in text:
                seconds = float(text)
                if seconds < 0:
                    raise ValueError
                return cls.uniform(seconds)
            table = dict(cls().seconds)
            for item in text.split(","):
                name, _, value = item.partition("=")
                seconds = float(value)
                if seconds < 0:
                    raise ValueError
                table[KeyAlgorithm(name.strip())] = seconds
            return cls(table)
        except ValueError:
            algs = ", ".join(a.value for a in KeyAlgorithm)
            raise ValueError(
                f"bad key generation latency {text!r}: SECONDS or ALG=SECONDS,... ({algs})"
            ) from None

    def for_algorithm(self, algorithm: KeyAlgorithm) -> float:
        return max(0.0, self.seconds.get(algorithm, 0.0))


def generate_key(algorithm: KeyAlgorithm) -> DeviceKey:
    if algorithm is KeyAlgorithm.EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm is KeyAlgorithm.EC_P384:
        return ec.generate_private_key(ec.SECP384R1())
    size = {KeyAlgorithm.RSA_2048: 2048, KeyAlgorithm.RSA_3072: 3072}[algorithm]
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def key_to_pem(key: DeviceKey) -> str:
    """PKCS#8 PEM as stored in simulated flash (a simulator has no secure element)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def key_from_pem(pem: str) -> DeviceKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    return _check_supported(key)


def key_from_pkcs8_der(der: bytes) -> DeviceKey:
    """Parse an imported key; refuses anything that is not an unencrypted supported key."""
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise KeyOperationError("not an unencrypted PKCS#8 private key") from None
    return _check_supported(key)


def _check_supported(key: PrivateKeyTypes) -> DeviceKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeyOperationError("unsupported key type")
    if algorithm_of(key) is None:
        raise KeyOperationError("unsupported curve or key size")
    return key


def algorithm_of(key: DeviceKey) -> KeyAlgorithm | None:
    return key_algorithm_of(key.public_key())


def public_der(key: DeviceKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def build_csr(key: DeviceKey, subject: dict[str, str], challenge_password: str | None = None) -> bytes:
    """DER PKCS#10 request with ``subject`` (short names) and an optional challengePassword."""
    try:
        name = subject_from_dict(subject)
    except ValueError as exc:
        raise KeyOperationError(str(exc)) from None
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    if challenge_password is not None:
        builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge_password.encode("utf-8"))
    large_ec = isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384
    csr = builder.sign(key, hashes.SHA384() if large_ec else hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER)


def sign_digest(key: DeviceKey, digest: bytes, hash_name: str, rsa_padding: str = "pkcs1") -> bytes:
    """Sign a precomputed digest: ECDSA returns DER (r, s); RSA uses PKCS#1 v1.5 or PSS."""
    try:
        algorithm = _HASHES[hash_name]()
    except KeyError:
        raise KeyOperationError(f"unsupported hash {hash_name}") from None
    if len(digest) != algorithm.digest_size:
        raise KeyOperationError(f"digest length {len(digest)} does not fit {hash_name}")
    prehashed = utils.Prehashed(algorithm)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(digest, ec.ECDSA(prehashed))
    if rsa_padding == "pss":
        pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=padding.PSS.DIGEST_LENGTH)
        return key.sign(digest, pss, prehashed)
    if rsa_padding == "pkcs1":
        return key.sign(digest, padding.PKCS1v15(), prehashed)
    raise KeyOperationError(f"unsupported padding {rsa_padding}")


def leaf_matches(chain_pem: str, key: DeviceKey | None) -> bool:
    """True when the first certificate of ``chain_pem`` carries ``key``'s public key."""
    if key is None:
        return False
    leaf = x509.load_pem_x509_certificates(chain_pem.encode("ascii"))[0]
    leaf_public = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return leaf_public == public_der(key)
