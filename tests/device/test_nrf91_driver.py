"""The nRF91 driver against the simulated modem over real pseudo-terminals (pyserial on a pty)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certline.app.device.driver import (
    DeviceBusy,
    DeviceLost,
    DeviceMismatch,
    DeviceRefused,
    DeviceTimeout,
    DeviceUnsupported,
    KeyAlgorithm,
)
from certline.app.device.nrf91_driver import DEFAULT_SEC_TAG, SEC_TAG_ENV, DeviceBadInput, NRF91Driver
from certline.app.pki import normalise_csr_der
from certline.app.sim.faults import DeviceFaults
from certline.app.sim.flash import Flash
from certline.app.sim.nrf91_device import NRF91Options, NRF91Personality, imei_from_serial
from certline.app.sim.pty_host import PtyHost
from certline.app.sim.simulator import Simulator
from tests.helpers.certs import make_cert, new_key
from tests.helpers.sim_fixture import SimFactory

pytestmark = pytest.mark.timeout(60)


# --- a throwaway CA ------------------------------------------------------------------------------


class ThrowawayCA:
    """Root and intermediate CA, issuing leaves for CSRs (what the EST server would do)."""

    def __init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        self._now = now
        self.root_key = new_key()
        since = now - dt.timedelta(minutes=1)
        self.root = make_cert(
            "Test Root", self.root_key.public_key(), self.root_key, ca=True, not_before=since
        )
        self.int_key = new_key()
        self.intermediate = make_cert(
            "Test Issuing CA",
            self.int_key.public_key(),
            self.root_key,
            issuer=self.root,
            ca=True,
            path_length=0,
            not_before=since,
        )

    def issue(self, public_key: ec.EllipticCurvePublicKey, cn: str = "device") -> x509.Certificate:
        return make_cert(
            cn,
            public_key,
            self.int_key,
            issuer=self.intermediate,
            not_before=self._now - dt.timedelta(minutes=1),
            not_after=self._now + dt.timedelta(days=7),
        )

    def chain_pem(self, leaf: x509.Certificate, *, with_cas: bool = True) -> str:
        certs = [leaf, self.intermediate, self.root] if with_cas else [leaf]
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs)


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return ThrowawayCA()


def _csr_public_key(csr_der: bytes) -> ec.EllipticCurvePublicKey:
    key = x509.load_der_x509_csr(normalise_csr_der(csr_der)).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


# --- simulator fixtures --------------------------------------------------------------------------


@pytest.fixture
def open_driver() -> Iterator[Callable[..., NRF91Driver]]:
    """Drivers with a short busy backoff, all closed at teardown."""
    made: list[NRF91Driver] = []

    def make(port: str, **kwargs: Any) -> NRF91Driver:
        kwargs.setdefault("busy_backoff", 0.01)
        drv = NRF91Driver(port, **kwargs)
        made.append(drv)
        return drv

    yield make
    for drv in made:
        drv.close()


@pytest.fixture
def nrf91_sim(sim_factory: SimFactory) -> Callable[..., Simulator]:
    """One simulated nRF91 modem with the given ``--fault`` specs."""

    def make(*faults: str, **kwargs: Any) -> Simulator:
        return sim_factory(1, driver="nrf91", faults=faults, **kwargs)

    return make


@pytest.fixture
def sim(nrf91_sim: Callable[..., Simulator]) -> Simulator:
    return nrf91_sim()


@pytest.fixture
def driver(sim: Simulator, open_driver: Callable[..., NRF91Driver]) -> NRF91Driver:
    return open_driver(sim.ports[0])


@pytest.fixture
def host_factory(tmp_path: Path) -> Iterator:
    """A bare pty host running the nRF91 personality with explicit options."""
    hosts: list[PtyHost] = []

    def make(options: NRF91Options, faults: DeviceFaults | None = None) -> PtyHost:
        flash = Flash(tmp_path / f"flash{len(hosts)}.json")
        device_faults = faults or DeviceFaults()

        def boot(reason: str) -> NRF91Personality:
            return NRF91Personality(
                flash, "350000000000011", device_faults, 0.0, boot_reason=reason, options=options
            )

        host = PtyHost(tmp_path / f"ttyNRFX{len(hosts)}", boot, faults=device_faults)
        host.start()
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.stop()


# --- identify ------------------------------------------------------------------------------------


def test_identify_reports_imei_model_firmware_and_capabilities(sim: Simulator, driver: NRF91Driver) -> None:
    identity = driver.identify()
    assert identity.serial_number == imei_from_serial(sim.devices[0].serial_number)
    assert len(identity.serial_number) == 15 and identity.serial_number.isdigit()
    assert identity.model == "nRF9160-SICA"
    assert identity.firmware.startswith("mfw_nrf9160_")
    caps = identity.capabilities
    assert caps.key_algorithms == (KeyAlgorithm.EC_P256,)
    assert caps.on_device_keygen and caps.import_server_key
    assert not caps.can_sign and not caps.separate_keygen_and_csr


def test_identify_survives_urcs_before_every_response_and_line_noise(host_factory, open_driver) -> None:
    host = host_factory(NRF91Options(urc_every=1), DeviceFaults(["garbage=4"]))
    drv = open_driver(str(host.link))
    identity = drv.identify()
    assert identity.serial_number == "350000000000011"
    assert host.faults.fired.count("garbage") == 4


def test_driver_tolerates_an_echoing_at_host(host_factory, open_driver, ca: ThrowawayCA) -> None:
    host = host_factory(NRF91Options(echo=True, keygen_overwrites=True))
    drv = open_driver(str(host.link))
    chain = _enroll(drv, ca)  # multi-line quoted PEM echoed back line by line
    stored = drv.read_certificate_chain()
    assert stored is not None and stored.chain_pem == chain


def test_sec_tag_comes_from_argument_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SEC_TAG_ENV, raising=False)
    assert NRF91Driver("loop://").sec_tag == DEFAULT_SEC_TAG
    monkeypatch.setenv(SEC_TAG_ENV, "16842753")
    assert NRF91Driver("loop://").sec_tag == 16842753
    assert NRF91Driver("loop://", sec_tag=7).sec_tag == 7
    with pytest.raises(ValueError):
        NRF91Driver("loop://", sec_tag=2**31)


# --- key and CSR ---------------------------------------------------------------------------------


def test_csr_from_keygen_is_valid_p256_with_requested_subject(driver: NRF91Driver) -> None:
    imei = driver.identify().serial_number
    driver.generate_key(KeyAlgorithm.EC_P256)
    csr_der = driver.create_csr({"CN": imei, "O": "Acme Devices", "C": "NO"})
    csr = x509.load_der_x509_csr(normalise_csr_der(csr_der))
    assert csr.is_signature_valid
    assert isinstance(csr.public_key(), ec.EllipticCurvePublicKey)
    assert csr.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert {a.rfc4514_attribute_name: a.value for a in csr.subject} == {
        "CN": imei,
        "O": "Acme Devices",
        "C": "NO",
    }


def test_second_keygen_replaces_the_key_even_when_modem_refuses_to_overwrite(
    sim: Simulator, driver: NRF91Driver
) -> None:
    driver.identify()
    first = driver.create_csr({"CN": "a"})
    second = driver.create_csr({"CN": "a"})
    assert _csr_public_key(first).public_numbers() != _csr_public_key(second).public_numbers()


def test_keygen_while_modem_online_sets_offline_mode_first(host_factory, open_driver) -> None:
    # The modem boots online (CFUN=1) and answers 518 to credential commands until CFUN=4.
    host = host_factory(NRF91Options(initial_cfun=1, keygen_overwrites=True))
    drv = open_driver(str(host.link), busy_retries=0)
    drv.identify()
    assert x509.load_der_x509_csr(normalise_csr_der(drv.create_csr({"CN": "x"}))).is_signature_valid


def test_busy_modem_is_retried_until_it_accepts(nrf91_sim, open_driver) -> None:
    sim = nrf91_sim("busy@keygen=3")
    drv = open_driver(sim.ports[0], busy_retries=5)
    drv.identify()
    csr = drv.create_csr({"CN": "x"})
    assert x509.load_der_x509_csr(normalise_csr_der(csr)).is_signature_valid
    assert sim.devices[0].faults.fired.count("busy@keygen") == 3


def test_modem_that_stays_busy_gives_a_busy_error_that_says_why(nrf91_sim, open_driver) -> None:
    sim = nrf91_sim("busy@keygen=*")
    drv = open_driver(sim.ports[0], busy_retries=2)
    drv.identify()
    with pytest.raises(DeviceBusy) as info:
        drv.create_csr({"CN": "x"})
    assert info.value.code == "busy"
    assert "offline" in str(info.value) and "518" in str(info.value)


def test_csr_with_broken_self_signature_is_rejected(nrf91_sim, open_driver) -> None:
    sim = nrf91_sim("corrupt@csr")
    drv = open_driver(sim.ports[0])
    drv.identify()
    with pytest.raises(DeviceMismatch, match="self-signature"):
        drv.create_csr({"CN": "x"})


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda d: d.generate_key(KeyAlgorithm.EC_P384), "only EC P-256"),
        (lambda d: d.generate_key(KeyAlgorithm.RSA_2048), "only EC P-256"),
        (lambda d: d.create_csr({"CN": "x"}, challenge_password="pw"), "challengePassword"),
        (lambda d: d.create_csr({"CN": "x", "serialNumber": "1"}), "serialNumber"),
        (lambda d: d.create_csr({"CN": "a,b"}), "without ,"),
        (lambda d: d.sign_digest(b"\0" * 32), "no command to sign"),
    ],
)
def test_unsupported_requests_fail_clearly_without_touching_the_modem(call, expected: str) -> None:
    drv = NRF91Driver("/nonexistent/port")  # never opened: the refusal comes first
    with pytest.raises(DeviceUnsupported, match=expected) as info:
        call(drv)
    assert info.value.code == "unsupported"


def test_sign_digest_message_points_to_new_enrollment(driver: NRF91Driver) -> None:
    with pytest.raises(DeviceUnsupported) as info:
        driver.sign_digest(hashlib.sha256(b"x").digest())
    assert "re-enrollment" in str(info.value) and "passcode enrollment" in str(info.value)


# --- certificate chain ---------------------------------------------------------------------------


def _enroll(driver: NRF91Driver, ca: ThrowawayCA, *, with_cas: bool = True) -> str:
    driver.identify()
    driver.generate_key(KeyAlgorithm.EC_P256)
    csr = driver.create_csr({"CN": "device"})
    chain = ca.chain_pem(ca.issue(_csr_public_key(csr)), with_cas=with_cas)
    driver.write_certificate_chain(chain)
    return chain


def test_write_chain_then_read_back_matches_with_hash(driver: NRF91Driver, ca: ThrowawayCA) -> None:
    chain = _enroll(driver, ca)
    stored = driver.read_certificate_chain()
    assert stored is not None
    assert stored.chain_pem == chain
    assert stored.sha256 == hashlib.sha256(chain.encode("ascii")).digest()


def test_leaf_only_chain_reports_the_modems_own_hash(
    sim: Simulator, driver: NRF91Driver, ca: ThrowawayCA
) -> None:
    chain = _enroll(driver, ca, with_cas=False)
    stored = driver.read_certificate_chain()
    assert stored is not None and stored.chain_pem == chain
    assert stored.sha256 == hashlib.sha256(chain.encode("ascii")).digest()
    # The modem's hash is what the simulator computed over what it stored, upper-case hex on the wire.
    listed = sim.devices[0].flash.get("nrf91.cmng")
    assert listed[f"{driver.sec_tag},1"] == chain
    assert f"{driver.sec_tag},0" not in listed  # no stale CA left behind


def test_chain_for_another_key_is_refused_before_anything_is_written(
    driver: NRF91Driver, ca: ThrowawayCA
) -> None:
    driver.identify()
    driver.create_csr({"CN": "device"})
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(DeviceMismatch, match="different key"):
        driver.write_certificate_chain(ca.chain_pem(ca.issue(other)))
    assert driver.read_certificate_chain() is None


def test_crlf_or_junk_in_chain_is_refused(driver: NRF91Driver, ca: ThrowawayCA) -> None:
    driver.identify()
    leaf = ca.issue(_csr_public_key(driver.create_csr({"CN": "device"})))
    chain = ca.chain_pem(leaf)
    with pytest.raises(DeviceBadInput, match="LF line endings"):
        driver.write_certificate_chain(chain.replace("\n", "\r\n"))
    with pytest.raises(DeviceBadInput):
        driver.write_certificate_chain("hello\n" + chain)
    assert driver.read_certificate_chain() is None


def test_read_back_that_differs_from_the_modems_hash_is_a_mismatch(
    nrf91_sim, open_driver, ca: ThrowawayCA
) -> None:
    """The write is verified by the %CMNG list hash; a later reader that has to read the entry
    back (a fresh driver, e.g. after a station restart) still checks content against that hash."""
    sim = nrf91_sim("corrupt@cert-commit")
    drv = open_driver(sim.ports[0])
    _enroll(drv, ca)
    drv.close()
    fresh = open_driver(sim.ports[0])
    with pytest.raises(DeviceMismatch, match="own hash"):
        fresh.read_certificate_chain()


def test_refused_certificate_write_is_reported(nrf91_sim, open_driver, ca: ThrowawayCA) -> None:
    sim = nrf91_sim("refuse@cert-write")
    drv = open_driver(sim.ports[0])
    with pytest.raises(DeviceRefused, match="514") as info:
        _enroll(drv, ca)
    assert info.value.code == "refused"


def test_chain_survives_a_simulator_restart(nrf91_sim, open_driver, ca: ThrowawayCA) -> None:
    sim = nrf91_sim()
    drv = open_driver(sim.ports[0])
    chain = _enroll(drv, ca)
    drv.close()
    sim.stop()  # power off; the flash file stays
    sim = nrf91_sim()
    drv = open_driver(sim.ports[0])
    stored = drv.read_certificate_chain()
    assert stored is not None and stored.chain_pem == chain


def test_reboot_during_certificate_write_then_retry_succeeds(nrf91_sim, open_driver, ca: ThrowawayCA) -> None:
    sim = nrf91_sim("reboot@cert-write")
    drv = open_driver(sim.ports[0], command_timeout=2.0)
    drv.identify()
    csr = drv.create_csr({"CN": "device"})
    chain = ca.chain_pem(ca.issue(_csr_public_key(csr)))
    with pytest.raises(DeviceTimeout):
        drv.write_certificate_chain(chain)
    drv.write_certificate_chain(chain)  # the rebooted modem is online again; the driver copes
    stored = drv.read_certificate_chain()
    assert stored is not None and stored.chain_pem == chain


# --- server-generated key ------------------------------------------------------------------------


def test_imported_key_is_written_and_verified_and_never_logged(
    driver: NRF91Driver, ca: ThrowawayCA, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem_body = (
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
        .splitlines()[1]
    )
    driver.identify()
    driver.import_private_key(pkcs8)
    chain = ca.chain_pem(ca.issue(key.public_key()))
    driver.write_certificate_chain(chain)
    stored = driver.read_certificate_chain()
    assert stored is not None and stored.chain_pem == chain
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "PRIVATE KEY" not in logged and pem_body not in logged
    assert "AT%CMNG=0" in logged  # the command itself is logged, its content is not


def test_import_rejects_non_p256_keys_without_echoing_them() -> None:
    drv = NRF91Driver("/nonexistent/port")
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(DeviceUnsupported, match="P-256"):
        drv.import_private_key(p384)
    with pytest.raises(DeviceBadInput) as info:
        drv.import_private_key(b"\x30\x03secret")
    assert "secret" not in str(info.value)


# --- unplug --------------------------------------------------------------------------------------


def test_unplug_during_keygen_is_device_lost(nrf91_sim, open_driver) -> None:
    sim = nrf91_sim("unplug@keygen")
    drv = open_driver(sim.ports[0])
    drv.identify()
    with pytest.raises(DeviceLost):
        drv.create_csr({"CN": "x"})


def test_unplug_between_commands_is_device_lost(sim: Simulator, driver: NRF91Driver) -> None:
    driver.identify()
    sim.devices[0].unplug()
    with pytest.raises(DeviceLost):
        driver.read_certificate_chain()
