"""Each simulator fault against the Certline driver: a specific error, recovery where possible,
and never a half-written credential."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from certline.app.device.certline_driver import CertlineDriver, DeviceRebooted, Timeouts
from certline.app.device.driver import (
    DeviceBusy,
    DeviceError,
    DeviceLost,
    DeviceRefused,
    DeviceTimeout,
    KeyAlgorithm,
)
from certline.app.sim.simulator import Simulator
from tests.helpers.sim_fixture import SimFactory, ThrowawayCA

#: timeouts no test should ever reach: a test that passes proves no deadline was needed
PATIENT = Timeouts(silence=60.0, command=120.0, keygen=120.0)


@pytest.fixture
def sim(sim_factory: SimFactory) -> Simulator:
    return sim_factory(1)


@pytest.fixture
def driver(sim: Simulator) -> Iterator[CertlineDriver]:
    drv = CertlineDriver(sim.ports[0])
    yield drv
    drv.close()


def provision(driver: CertlineDriver, ca: ThrowawayCA, cn: str = "unit") -> str:
    """Keygen + CSR + write; returns the chain written."""
    driver.generate_key(KeyAlgorithm.EC_P256)
    chain = ca.chain_pem(ca.sign_csr(driver.create_csr({"CN": cn})))
    driver.write_certificate_chain(chain)
    return chain


def stored_chain(driver: CertlineDriver) -> str | None:
    stored = driver.read_certificate_chain()
    return stored.chain_pem if stored else None


def test_garbage_on_the_line_is_skipped(
    sim: Simulator, driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    sim.devices[0].set_fault("garbage=12")
    chain = provision(driver, throwaway_ca)
    assert stored_chain(driver) == chain
    assert sim.devices[0].faults.fired.count("garbage") == 12


def test_corrupted_outgoing_chunks_are_fetched_again(
    sim: Simulator, driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    driver.generate_key(KeyAlgorithm.EC_P256)
    sim.devices[0].set_fault("corrupt=2")
    csr = driver.create_csr({"CN": "unit"})
    assert throwaway_ca.sign_csr(csr)  # a valid CSR despite the damaged first answer
    assert sim.devices[0].faults.fired.count("corrupt") == 2


def test_corrupted_incoming_chunks_are_resent(
    sim: Simulator, driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    driver.generate_key(KeyAlgorithm.EC_P256)
    chain = throwaway_ca.chain_pem(throwaway_ca.sign_csr(driver.create_csr({"CN": "unit"})))
    sim.devices[0].set_fault("corrupt=2")
    driver.write_certificate_chain(chain)
    assert stored_chain(driver) == chain
    assert sim.devices[0].faults.fired.count("corrupt") == 2


def test_a_hopelessly_noisy_line_fails_the_write_and_keeps_the_old_chain(
    sim: Simulator, driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    first = provision(driver, throwaway_ca, "first")
    driver.generate_key(KeyAlgorithm.EC_P256)
    second = throwaway_ca.chain_pem(throwaway_ca.sign_csr(driver.create_csr({"CN": "second"})))
    sim.devices[0].set_fault("corrupt=*")
    with pytest.raises(DeviceError, match="chunk 0"):
        driver.write_certificate_chain(second)
    sim.devices[0].clear_faults()
    assert stored_chain(driver) == first


def test_truncated_lines_are_detected_and_the_command_repeated(
    sim: Simulator, driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    chain = provision(driver, throwaway_ca)
    sim.devices[0].set_fault("truncate=2")
    assert driver.identify().serial_number == "CL-000001"
    assert stored_chain(driver) == chain
    assert sim.devices[0].faults.fired.count("truncate") == 2


def test_mangled_line_endings_are_accepted(
    sim: Simulator, driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    sim.devices[0].set_fault("crlf")
    chain = provision(driver, throwaway_ca)
    assert stored_chain(driver) == chain
    assert "crlf" in sim.devices[0].faults.fired


def test_reboot_during_certificate_write_is_retried_once(
    sim: Simulator, driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    sim.devices[0].set_fault("reboot@cert-write")
    chain = provision(driver, throwaway_ca)
    assert stored_chain(driver) == chain
    assert sim.devices[0].faults.fired == ["reboot@cert-write"]


@pytest.mark.parametrize("point", ["cert-write", "cert-commit"])
def test_repeated_reboots_during_write_keep_the_previous_credential(
    point: str, sim: Simulator, driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    first = provision(driver, throwaway_ca, "first")
    active_before = sim.devices[0].snapshot()["active_key"]
    driver.generate_key(KeyAlgorithm.EC_P256)
    second = throwaway_ca.chain_pem(throwaway_ca.sign_csr(driver.create_csr({"CN": "second"})))

    sim.devices[0].set_fault(f"reboot@{point}=*")
    with pytest.raises(DeviceRebooted, match="previous certificate is intact"):
        driver.write_certificate_chain(second)
    sim.devices[0].clear_faults()

    assert stored_chain(driver) == first
    flash = sim.devices[0].snapshot()
    assert flash["active_key"] == active_before
    assert "pending_key" in flash  # the new key survives, so the write can simply be repeated
    driver.write_certificate_chain(second)
    assert stored_chain(driver) == second


@pytest.mark.timeout(30)
def test_unplug_during_certificate_write_is_device_lost_not_a_hang(
    sim: Simulator, throwaway_ca: ThrowawayCA
) -> None:
    driver = CertlineDriver(sim.ports[0], timeouts=PATIENT)
    first = provision(driver, throwaway_ca, "first")
    driver.generate_key(KeyAlgorithm.EC_P256)
    second = throwaway_ca.chain_pem(throwaway_ca.sign_csr(driver.create_csr({"CN": "second"})))

    sim.devices[0].set_fault("unplug@cert-write")
    with pytest.raises(DeviceLost):
        driver.write_certificate_chain(second)
    driver.close()
    assert not sim.devices[0].is_plugged

    port = sim.devices[0].replug(new_path=True)
    assert port != sim.ports[0] or True  # identity is by serial number, never by port
    again = CertlineDriver(port, timeouts=PATIENT)
    assert again.identify().serial_number == "CL-000001"
    assert stored_chain(again) == first
    again.write_certificate_chain(second)  # the pending key is still there
    assert stored_chain(again) == second
    again.close()


@pytest.mark.timeout(30)
def test_unplug_while_idle_then_next_command_is_device_lost(sim: Simulator) -> None:
    driver = CertlineDriver(sim.ports[0], timeouts=PATIENT)
    driver.identify()
    sim.devices[0].unplug()
    with pytest.raises(DeviceLost):
        driver.identify()
    driver.close()


@pytest.mark.timeout(30)
def test_unplug_during_keygen_is_device_lost(sim_factory: SimFactory) -> None:
    sim = sim_factory(1, keygen_latency=30.0)
    driver = CertlineDriver(sim.ports[0], timeouts=PATIENT)
    sim.devices[0].set_fault("unplug@keygen")
    with pytest.raises(DeviceLost):
        driver.generate_key(KeyAlgorithm.RSA_2048)
    driver.close()


def test_opening_a_missing_port_is_device_lost(tmp_path) -> None:
    driver = CertlineDriver(str(tmp_path / "ttyNOPE"))
    with pytest.raises(DeviceLost, match="cannot open"):
        driver.identify()


def test_busy_device_reports_busy_then_works(sim: Simulator, driver: CertlineDriver) -> None:
    sim.devices[0].set_fault("busy")
    with pytest.raises(DeviceBusy):
        driver.identify()
    assert driver.identify().serial_number == "CL-000001"


def test_refused_certificate_write_keeps_old_chain(
    sim: Simulator, driver: CertlineDriver, throwaway_ca: ThrowawayCA
) -> None:
    first = provision(driver, throwaway_ca, "first")
    driver.generate_key(KeyAlgorithm.EC_P256)
    second = throwaway_ca.chain_pem(throwaway_ca.sign_csr(driver.create_csr({"CN": "second"})))
    sim.devices[0].set_fault("refuse@cert-write")
    with pytest.raises(DeviceRefused, match="refused") as info:
        driver.write_certificate_chain(second)
    assert info.value.code == "refused"
    assert stored_chain(driver) == first


def test_slow_device_times_out_and_late_answers_do_not_confuse_the_next_command(sim: Simulator) -> None:
    driver = CertlineDriver(sim.ports[0], timeouts=Timeouts(silence=0.2, command=0.5))
    sim.devices[0].set_fault("slow=0.6")
    with pytest.raises(DeviceTimeout):
        driver.identify()
    sim.devices[0].clear_faults()
    # the late HELLO answer arrives now; it carries the old id and must be skipped
    assert driver.status()["cert"] == "no"
    driver.close()


def test_long_keygen_is_kept_alive_by_wait_lines(sim_factory: SimFactory) -> None:
    sim = sim_factory(1, keygen_latency=1.2)
    driver = CertlineDriver(sim.ports[0], timeouts=Timeouts(silence=0.8, command=5.0, keygen=10.0))
    driver.generate_key(KeyAlgorithm.EC_P384)
    assert driver.status()["pending"] == "ec-p384"
    driver.close()


def test_duplicate_serial_numbers_are_reported_as_such(sim_factory: SimFactory) -> None:
    sim = sim_factory(2, faults=["dev1:dup-serial"])
    serials = []
    for port in sim.ports:
        drv = CertlineDriver(port)
        serials.append(drv.identify().serial_number)
        drv.close()
    assert serials == ["CL-000001", "CL-000001"]
    assert sim.devices[1].flash.get("serial") == "CL-000002"  # only what it reports is duplicated


def test_read_back_hash_matches_what_was_written(driver: CertlineDriver, throwaway_ca: ThrowawayCA) -> None:
    chain = provision(driver, throwaway_ca)
    stored = driver.read_certificate_chain()
    assert stored is not None
    assert stored.sha256 == hashlib.sha256(chain.encode()).digest()
