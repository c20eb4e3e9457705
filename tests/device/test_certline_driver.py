"""The Certline driver against the simulated device over real pseudo-terminals: a whole provisioning step."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import AttributeOID

from certline.app.device.certline_driver import CertlineDriver
from certline.app.device.driver import DeviceMismatch
from certline.app.device.registry import open_driver
from certline.app.pki import KeyAlgorithm
from certline.app.sim.simulator import Simulator
from tests.helpers.sim_fixture import SimFactory, ThrowawayCA


@pytest.fixture
def driver(simulator: Simulator):
    drv = open_driver("certline", simulator.ports[0])
    yield drv
    drv.close()


def _public_der(key: object) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]


def test_identify_reports_serial_model_and_capabilities(driver: CertlineDriver, simulator: Simulator) -> None:
    identity = driver.identify()
    assert identity.serial_number == simulator.devices[0].serial_number == "CL-000001"
    assert identity.protocol_version.startswith("1.")
    assert KeyAlgorithm.EC_P256 in identity.capabilities.key_algorithms
    assert identity.capabilities.on_device_keygen and identity.capabilities.can_sign
    assert identity.capabilities.import_server_key


def test_full_provisioning_step(driver: CertlineDriver, throwaway_ca: ThrowawayCA) -> None:
    driver.identify()
    assert driver.read_certificate_chain() is None

    driver.generate_key(KeyAlgorithm.EC_P256)
    csr_der = driver.create_csr(
        {"CN": "sensor 042", "O": "Acme & Co", "serialNumber": "CL-000001"}, "one-time pw"
    )
    csr = x509.load_der_x509_csr(csr_der)
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "sensor 042"
    assert csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value == b"one-time pw"

    leaf = throwaway_ca.sign_csr(csr_der)
    chain = throwaway_ca.chain_pem(leaf)
    driver.write_certificate_chain(chain)

    stored = driver.read_certificate_chain()
    assert stored is not None
    assert stored.chain_pem == chain
    assert stored.sha256 == hashlib.sha256(chain.encode("ascii")).digest()

    nonce_digest = hashlib.sha256(os.urandom(32)).digest()
    signature = driver.sign_digest(nonce_digest)
    public = leaf.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, nonce_digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))


def test_rsa_key_signs_with_pkcs1_and_pss(driver: CertlineDriver, throwaway_ca: ThrowawayCA) -> None:
    driver.generate_key(KeyAlgorithm.RSA_2048)
    leaf = throwaway_ca.sign_csr(driver.create_csr({"CN": "rsa unit"}))
    driver.write_certificate_chain(throwaway_ca.chain_pem(leaf))
    public = leaf.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    digest = hashlib.sha256(b"nonce").digest()
    prehashed = utils.Prehashed(hashes.SHA256())
    public.verify(driver.sign_digest(digest), digest, padding.PKCS1v15(), prehashed)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    public.verify(driver.sign_digest(digest, rsa_padding="pss"), digest, pss, prehashed)


def test_imported_server_key_becomes_active_with_its_certificate(
    driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    server_key = ec.generate_private_key(ec.SECP384R1())
    pkcs8 = server_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    driver.import_private_key(pkcs8)
    csr = x509.load_der_x509_csr(driver.create_csr({"CN": "imported"}))
    assert _public_der(csr.public_key()) == _public_der(server_key.public_key())

    leaf = throwaway_ca.sign_csr(csr.public_bytes(serialization.Encoding.DER))
    driver.write_certificate_chain(throwaway_ca.chain_pem(leaf))
    digest = hashlib.sha384(b"proof").digest()
    signature = driver.sign_digest(digest, "sha384")
    server_key.public_key().verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA384())))


def test_chain_for_a_foreign_key_is_refused_and_old_chain_kept(
    driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    driver.generate_key(KeyAlgorithm.EC_P256)
    first = throwaway_ca.chain_pem(throwaway_ca.sign_csr(driver.create_csr({"CN": "unit"})))
    driver.write_certificate_chain(first)

    stranger = ec.generate_private_key(ec.SECP256R1())
    stranger_csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "stranger")]))
        .sign(stranger, hashes.SHA256())
    )
    foreign = throwaway_ca.chain_pem(
        throwaway_ca.sign_csr(stranger_csr.public_bytes(serialization.Encoding.DER))
    )
    with pytest.raises(DeviceMismatch, match="neither"):
        driver.write_certificate_chain(foreign)
    stored = driver.read_certificate_chain()
    assert stored is not None and stored.chain_pem == first


def test_renewal_keeps_active_key_until_new_chain_commits(
    driver: CertlineDriver, throwaway_ca: ThrowawayCA, simulator: Simulator
) -> None:
    driver.generate_key(KeyAlgorithm.EC_P256)
    driver.write_certificate_chain(
        throwaway_ca.chain_pem(throwaway_ca.sign_csr(driver.create_csr({"CN": "u"})))
    )
    old_active = simulator.devices[0].snapshot()["active_key"]

    driver.generate_key(KeyAlgorithm.EC_P256)
    renewal_csr = driver.create_csr({"CN": "u"})
    assert simulator.devices[0].snapshot()["active_key"] == old_active  # pending only, nothing promoted yet

    driver.write_certificate_chain(throwaway_ca.chain_pem(throwaway_ca.sign_csr(renewal_csr)))
    flash = simulator.devices[0].snapshot()
    assert flash["active_key"] != old_active
    assert "pending_key" not in flash


def test_flash_survives_a_simulator_restart(
    sim_factory: SimFactory, tmp_path, throwaway_ca: ThrowawayCA
) -> None:
    state = tmp_path / "bench"
    sim = sim_factory(1, state_dir=state)
    drv = CertlineDriver(sim.ports[0])
    drv.generate_key(KeyAlgorithm.EC_P256)
    chain = throwaway_ca.chain_pem(throwaway_ca.sign_csr(drv.create_csr({"CN": "persist"})))
    drv.write_certificate_chain(chain)
    drv.close()
    sim.stop()

    again = sim_factory(1, state_dir=state)
    drv = CertlineDriver(again.ports[0])
    assert drv.identify().serial_number == "CL-000001"
    stored = drv.read_certificate_chain()
    assert stored is not None and stored.chain_pem == chain
    drv.close()


def test_each_device_has_its_own_serial_and_port(sim_factory: SimFactory) -> None:
    sim = sim_factory(3)
    serials = set()
    for port in sim.ports:
        drv = CertlineDriver(port)
        serials.add(drv.identify().serial_number)
        drv.close()
    assert serials == {"CL-000001", "CL-000002", "CL-000003"}
