"""Less travelled paths of the Certline driver and device: damaged COMMIT answers, damaged
requests, refusals that must reach the technician with the right error class."""

from __future__ import annotations

import base64
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certline.app.device.certline_driver import CertlineDriver, DeviceBadInput
from certline.app.device.certline_protocol import Frame, format_frame, parse_frame
from certline.app.device.driver import Capabilities, DeviceRefused, DeviceUnsupported
from certline.app.pki import KeyAlgorithm
from certline.app.sim.certline_device import CertlineDevice
from certline.app.sim.faults import DeviceFaults
from certline.app.sim.flash import Flash
from certline.app.sim.keys import KeygenLatency
from certline.app.sim.pty_host import PtyHost
from certline.app.sim.simulator import DeviceContext, Simulator
from tests.helpers.sim_fixture import ThrowawayCA


class DamagedCommitDevice(CertlineDevice):
    """Commits for real but the first COMMIT answer reaches the host cut in half."""

    damage_left = 1

    def _commit_cert(self, rid: str, data: bytes) -> None:
        if DamagedCommitDevice.damage_left <= 0:
            return super()._commit_cert(rid, data)
        DamagedCommitDevice.damage_left -= 1
        real_send = self._send

        def cut(rid_: str, verb: str, *args: str) -> None:
            line = format_frame(rid_, verb, *args)
            self._write(line[: len(line) // 2] + b"\r\n")

        self._send = cut  # type: ignore[method-assign]
        try:
            super()._commit_cert(rid, data)
        finally:
            self._send = real_send  # type: ignore[method-assign]


@pytest.fixture
def damaged_commit_port(tmp_path: Path) -> Iterator[str]:
    context = DeviceContext(0, "CL-000042", Flash(None), DeviceFaults(), KeygenLatency.uniform(0.0), 115200)
    DamagedCommitDevice.damage_left = 1
    host = PtyHost(tmp_path / "ttyDAMAGED", lambda reason: DamagedCommitDevice(context, reason))
    yield host.start()
    host.stop()


def test_a_damaged_commit_answer_is_settled_by_reading_back(
    damaged_commit_port: str, throwaway_ca: ThrowawayCA
) -> None:
    driver = CertlineDriver(damaged_commit_port)
    driver.generate_key(KeyAlgorithm.EC_P256)
    chain = throwaway_ca.chain_pem(throwaway_ca.sign_csr(driver.create_csr({"CN": "x"})))
    driver.write_certificate_chain(chain)  # COMMIT answer damaged, repeat says NOSTAGE, READ confirms
    stored = driver.read_certificate_chain()
    assert stored is not None and stored.chain_pem == chain
    assert DamagedCommitDevice.damage_left == 0
    driver.close()


def raw_exchange(port_path: str, request: bytes) -> Frame | None:
    """Send one raw line with pyserial and return the first frame that comes back."""
    with serial.serial_for_url(port_path, timeout=0.05) as port:
        port.reset_input_buffer()
        port.write(request)
        deadline = time.monotonic() + 5
        buffer = b""
        while b"\n" not in buffer and time.monotonic() < deadline:
            buffer += port.read(256)
    return parse_frame(buffer.strip())


def test_a_damaged_request_is_answered_with_err_check(simulator: Simulator) -> None:
    request = format_frame("5", "STATUS").replace(b"STATUS", b"STATVS")  # one bit flipped on the wire
    frame = raw_exchange(simulator.ports[0], request)
    assert frame is not None and frame.req_id == "5"
    assert (frame.verb, frame.args[0]) == ("ERR", "CHECK")


def test_csr_or_sign_without_a_key_is_refused(simulator: Simulator) -> None:
    driver = CertlineDriver(simulator.ports[0])
    with pytest.raises(DeviceRefused, match="no key"):
        driver.create_csr({"CN": "x"})
    with pytest.raises(DeviceRefused, match="no key"):
        driver.sign_digest(b"\x00" * 32)
    driver.close()


def test_sign_uses_the_active_key_not_the_pending_one(
    simulator: Simulator, throwaway_ca: ThrowawayCA
) -> None:
    driver = CertlineDriver(simulator.ports[0])
    driver.generate_key(KeyAlgorithm.EC_P256)
    with pytest.raises(DeviceRefused, match="no key"):  # pending only: nothing proven yet
        driver.sign_digest(b"\x00" * 32)
    driver.close()


def test_requests_the_protocol_cannot_carry_fail_before_touching_the_device(simulator: Simulator) -> None:
    driver = CertlineDriver(simulator.ports[0])
    with pytest.raises(DeviceBadInput):
        driver.sign_digest(b"\x00" * 31)
    with pytest.raises(DeviceUnsupported):
        driver.sign_digest(b"\x00" * 32, rsa_padding="oaep")
    with pytest.raises(DeviceBadInput):
        driver.create_csr({"CN": "x", "emailAddress": "a@b"})
    with pytest.raises(DeviceBadInput):
        driver.write_certificate_chain("not a certificate")
    driver.close()


def test_device_rejects_a_key_it_cannot_use(simulator: Simulator) -> None:
    driver = CertlineDriver(simulator.ports[0])
    with pytest.raises(DeviceRefused, match="rejected the private key"):
        driver.import_private_key(b"\x30\x03\x02\x01\x00" * 10)
    p521 = ec.generate_private_key(ec.SECP521R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(DeviceRefused):
        driver.import_private_key(p521)
    assert driver.status()["pending"] == "none"
    driver.close()


def test_keygen_for_an_undeclared_algorithm_is_unsupported(simulator: Simulator) -> None:
    driver = CertlineDriver(simulator.ports[0])
    identity = driver.identify()
    driver._identity = dataclasses.replace(identity, capabilities=Capabilities())  # declares P-256 only
    with pytest.raises(DeviceUnsupported, match="rsa-2048"):
        driver.generate_key(KeyAlgorithm.RSA_2048)
    driver.close()


def test_reset_drops_a_staged_upload_but_keeps_keys(simulator: Simulator) -> None:
    driver = CertlineDriver(simulator.ports[0])
    driver.generate_key(KeyAlgorithm.EC_P256)
    driver._upload("CERT", b"-----BEGIN CERTIFICATE-----\n")
    assert driver.status()["staged"] == "cert"
    driver.reset()
    status = driver.status()
    assert status["staged"] == "none" and status["pending"] == "ec-p256"
    driver.close()


def test_private_key_material_never_appears_in_debug_logs(
    simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    caplog.set_level("DEBUG")
    driver = CertlineDriver(simulator.ports[0])
    driver.import_private_key(der)
    driver.create_csr({"CN": "x"}, challenge_password="hunter2-secret")
    driver.close()
    text = caplog.text
    assert base64.b64encode(der[:48]).decode()[:32] not in text
    assert "hunter2" not in text


def test_device_refuses_a_host_speaking_another_major_version(simulator: Simulator) -> None:
    frame = raw_exchange(simulator.ports[0], format_frame("8", "HELLO", "2"))
    assert frame is not None and (frame.verb, frame.args[0]) == ("ERR", "VERSION")
