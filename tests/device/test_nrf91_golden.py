"""The nRF91 driver against golden modem output (tests/device/fixtures/README.md names each source).

A replayed modem answers each expected command with published bytes; any command the
driver sends that the script does not expect fails the test, so these tests also prove
what the driver does *not* send (no delete, no other sec_tag, nothing after a refusal).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from certline.app import pki
from certline.app.device import at_parser as at
from certline.app.device.driver import (
    DeviceBadInput,
    DeviceError,
    DeviceMismatch,
    DeviceRefused,
    StoredCredential,
)
from certline.app.device.nrf91_driver import MAX_COMMAND_BYTES, NRF91Driver

FIXTURES = Path(__file__).parent / "fixtures"
NRF_CLOUD_TAG = 16842753


def fixture_lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text(encoding="ascii").splitlines()


KEYGEN_ANSWER = fixture_lines("keygen_16842753_mfw_nrf9160_1.3.5.txt")
LIST_ANSWER = fixture_lines("cmng_list_16842753_mfw_nrf9160_1.3.5.txt")
URCS = fixture_lines("urcs_nrf9151_mfw_nrf91x1_2.0.4.txt")
LEAF_PEM = (FIXTURES / "nrfcloud_dev_cert_16842753.pem").read_text(encoding="ascii")
ROOT_PEM = (FIXTURES / "amazon_root_ca1.pem").read_text(encoding="ascii")
#: The unit's CSR subject: without attributes the modem uses its device UUID as CN.
UNIT_UUID = "50503642-3239-4f86-80c4-06122e299623"

Answer = list[str] | Callable[[str], list[str]]


class ReplayModem:
    """A transport that answers a fixed script of (command pattern, answer lines)."""

    baud = 115200

    def __init__(self, script: list[tuple[str, Answer]]) -> None:
        self.script = list(script)
        self.sent: list[str] = []
        self._out: list[bytes] = []
        self.is_open = False

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def flush_input(self) -> None:
        self._out.clear()

    def write_line(self, data: bytes) -> None:
        command = data.decode("ascii").rstrip("\r\n")
        self.sent.append(command)
        if not self.script:
            raise AssertionError(f"the driver sent an unexpected command: {command[:60]!r}")
        pattern, answer = self.script.pop(0)
        if not re.fullmatch(pattern, command, flags=re.DOTALL):
            raise AssertionError(f"expected {pattern!r}, the driver sent {command[:80]!r}")
        lines = answer(command) if callable(answer) else answer
        self._out.extend(line.encode("ascii") + b"\r\n" for line in lines)

    def read_line(self, deadline: float) -> bytes | None:
        return self._out.pop(0) if self._out else None

    def assert_done(self) -> None:
        assert not self.script, f"the driver stopped before {self.script[0][0]!r}"


def driver_for(modem: ReplayModem, sec_tag: int = NRF_CLOUD_TAG) -> NRF91Driver:
    return NRF91Driver("replay", sec_tag=sec_tag, transport=modem, command_timeout=0.2, sleep=lambda _s: None)  # type: ignore[arg-type]


OK = ["OK"]
CMEE = (r"AT\+CMEE=1", OK)
ONLINE = (r"AT\+CFUN\?", ['+CEREG: 1,"1D23","0D70394B",9,,,"11100000","11100000"', "+CFUN: 1", "OK"])
OFFLINE = (r"AT\+CFUN=4", [URCS[10], "OK", "+CEREG: 0"])
BACK_ONLINE = (r"AT\+CFUN=1", ["OK", URCS[4]])
EMPTY_TAG = (rf"AT%CMNG=1,{NRF_CLOUD_TAG}", OK)


def keygen_with_urcs(_command: str) -> list[str]:
    """The published %KEYGEN answer with the published URCs around it (+CSCON, %XTIME, +CEREG)."""
    return [URCS[4], URCS[9], KEYGEN_ANSWER[0], URCS[8], "OK"]


def keygen_script() -> list[tuple[str, Answer]]:
    return [
        CMEE,
        EMPTY_TAG,
        ONLINE,
        OFFLINE,
        (rf"AT%KEYGEN={NRF_CLOUD_TAG},2,0", keygen_with_urcs),
        BACK_ONLINE,
    ]


def received_csr() -> bytes:
    return at.parse_keygen(at.collect(KEYGEN_ANSWER, "%KEYGEN:")).csr_der


# --- item 1: real %KEYGEN CSRs --------------------------------------------------------------------


def test_published_keygen_csr_is_accepted_after_normalising_and_keeps_its_received_hash() -> None:
    received = received_csr()
    with pytest.raises(ValueError, match="signature_alg|ExtraData|parsing"):
        x509.load_der_x509_csr(received)  # what made every real unit fail
    csr = pki.check_device_csr(received, expected_subject={"CN": UNIT_UUID}, expected_algorithm=None)
    normalised = csr.public_bytes(pki.serialization.Encoding.DER)
    assert normalised == pki.normalise_csr_der(received) != received
    assert normalised[-72:] == received[-72:]  # the signature itself is untouched
    # The received bytes are what the modem attested: its COSE digest is their SHA-256.
    assert hashlib.sha256(received).hexdigest() == (
        "8138b643c184d8baa3094a6a3eca226048ef1ed3d9e8211b340af2f25de172e4"
    )


def test_nrf_cloud_utils_test_csr_is_accepted_too() -> None:
    payload = fixture_lines("keygen_17_nrfcloud_utils_test_data.txt")[0]
    resp = at.collect([f'%KEYGEN: "{payload}"', "OK"], "%KEYGEN:")
    received = at.parse_keygen(resp).csr_der
    csr = pki.check_device_csr(
        received, expected_subject={"CN": "50363154-3931-44f0-8022-121b6401627d"}, expected_algorithm=None
    )
    assert csr.is_signature_valid


def test_csr_whose_signature_does_not_verify_is_still_rejected() -> None:
    received = bytearray(received_csr())
    received[-1] ^= 0x01  # last byte of the ECDSA signature
    with pytest.raises(pki.CsrRejected, match="self-signature is invalid"):
        pki.check_device_csr(bytes(received), expected_subject={"CN": UNIT_UUID}, expected_algorithm=None)


def test_driver_returns_the_csr_as_received_with_urcs_around_it_ignored() -> None:
    modem = ReplayModem(keygen_script())
    drv = driver_for(modem)
    csr = drv.create_csr({})
    assert csr == received_csr()
    modem.assert_done()


# --- item 3: limits, verification by list hash ---------------------------------------------------


def test_golden_chain_is_written_and_verified_by_the_modems_list_hashes() -> None:
    written: list[str] = []

    def write(command: str) -> list[str]:
        written.append(command)
        return OK

    modem = ReplayModem(
        [
            *keygen_script(),
            CMEE,
            ONLINE,
            OFFLINE,
            (rf'AT%CMNG=0,{NRF_CLOUD_TAG},0,".*"', write),
            (rf'AT%CMNG=0,{NRF_CLOUD_TAG},1,".*"', write),
            BACK_ONLINE,
            (rf"AT%CMNG=1,{NRF_CLOUD_TAG}", [URCS[1], *LIST_ANSWER]),
        ]
    )
    drv = driver_for(modem)
    drv.create_csr({})
    drv.write_certificate_chain(LEAF_PEM + ROOT_PEM)
    modem.assert_done()
    assert written == [
        f'AT%CMNG=0,{NRF_CLOUD_TAG},0,"{ROOT_PEM}"',
        f'AT%CMNG=0,{NRF_CLOUD_TAG},1,"{LEAF_PEM}"',
    ]
    assert not any(c.startswith(("AT%CMNG=2", "AT%CMNG=3")) for c in modem.sent)  # no read-back, no delete


def test_hash_that_differs_from_what_was_written_is_a_mismatch() -> None:
    tampered = [line.replace("C5B83285", "C5B83286") for line in LIST_ANSWER]
    modem = ReplayModem(
        [
            *keygen_script(),
            CMEE,
            ONLINE,
            OFFLINE,
            (rf'AT%CMNG=0,{NRF_CLOUD_TAG},0,".*"', OK),
            (rf'AT%CMNG=0,{NRF_CLOUD_TAG},1,".*"', OK),
            BACK_ONLINE,
            (rf"AT%CMNG=1,{NRF_CLOUD_TAG}", tampered),
        ]
    )
    drv = driver_for(modem)
    drv.create_csr({})
    with pytest.raises(DeviceMismatch, match="client certificate"):
        drv.write_certificate_chain(LEAF_PEM + ROOT_PEM)


def test_part_too_large_for_the_at_host_is_refused_by_name_and_size_before_anything_is_sent() -> None:
    modem = ReplayModem(keygen_script())
    drv = driver_for(modem)
    drv.create_csr({})
    sent_before = len(modem.sent)
    big_ca = ROOT_PEM * 4  # four 1.2 KB certificates share the one CA entry of the tag
    with pytest.raises(DeviceBadInput) as info:
        drv.write_certificate_chain(LEAF_PEM + big_ca)
    message = str(info.value)
    assert "CA certificates" in message and "Amazon Root CA 1" in message
    assert f"at most {MAX_COMMAND_BYTES} bytes" in message
    size = len(f'AT%CMNG=0,{NRF_CLOUD_TAG},0,"{big_ca}"') + 2
    assert f"{size}-byte" in message
    assert len(modem.sent) == sent_before  # the unit was not touched


def test_every_command_the_driver_sends_fits_the_at_host() -> None:
    modem = ReplayModem(
        [
            *keygen_script(),
            CMEE,
            ONLINE,
            OFFLINE,
            (rf'AT%CMNG=0,{NRF_CLOUD_TAG},0,".*"', OK),
            (rf'AT%CMNG=0,{NRF_CLOUD_TAG},1,".*"', OK),
            BACK_ONLINE,
            (rf"AT%CMNG=1,{NRF_CLOUD_TAG}", LIST_ANSWER),
        ]
    )
    drv = driver_for(modem)
    drv.create_csr({})
    drv.write_certificate_chain(LEAF_PEM + ROOT_PEM)
    assert max(len(c) + 2 for c in modem.sent) <= 4096


# --- item 4: never destroy a working credential ---------------------------------------------------


def provisioned_tag() -> tuple[str, Answer]:
    return (rf"AT%CMNG=1,{NRF_CLOUD_TAG}", LIST_ANSWER)


def test_provisioned_tag_is_refused_and_nothing_is_deleted_or_generated() -> None:
    modem = ReplayModem([CMEE, provisioned_tag()])
    drv = driver_for(modem)
    with pytest.raises(DeviceRefused, match="already holds a client certificate.*left untouched"):
        drv.create_csr({})
    modem.assert_done()  # no CFUN change, no %KEYGEN, no delete


def test_credential_at_risk_reports_the_stored_leaf_with_the_modems_hash() -> None:
    read_answer = [f'%CMNG: {NRF_CLOUD_TAG},1,"{LIST_ANSWER[1][-65:-1]}","{LEAF_PEM}"', "OK"]
    modem = ReplayModem([CMEE, provisioned_tag(), (rf"AT%CMNG=2,{NRF_CLOUD_TAG},1", read_answer)])
    at_risk = driver_for(modem).credential_at_risk()
    assert at_risk == StoredCredential(chain_pem=LEAF_PEM, sha256=hashlib.sha256(LEAF_PEM.encode()).digest())


def test_allowed_replacement_generates_only_after_the_station_said_so() -> None:
    held = StoredCredential(chain_pem=LEAF_PEM, sha256=hashlib.sha256(LEAF_PEM.encode()).digest())
    modem = ReplayModem(
        [
            CMEE,
            provisioned_tag(),
            ONLINE,
            OFFLINE,
            (rf"AT%KEYGEN={NRF_CLOUD_TAG},2,0", ["+CME ERROR: 519"]),
            (rf"AT%CMNG=3,{NRF_CLOUD_TAG},2", OK),  # the key only; the certificate stays until rewritten
            (rf"AT%KEYGEN={NRF_CLOUD_TAG},2,0", keygen_with_urcs),
            BACK_ONLINE,
        ]
    )
    drv = driver_for(modem)
    drv.allow_replacing(held)
    assert drv.create_csr({}) == received_csr()
    modem.assert_done()


# --- item 5: modem state as found -----------------------------------------------------------------


def test_found_mode_is_restored_after_a_failed_keygen() -> None:
    modem = ReplayModem(
        [
            CMEE,
            EMPTY_TAG,
            ONLINE,
            OFFLINE,
            (rf"AT%KEYGEN={NRF_CLOUD_TAG},2,0", [URCS[9], "+CME ERROR: 523"]),
            BACK_ONLINE,
        ]
    )
    with pytest.raises(DeviceRefused, match="523"):
        driver_for(modem).create_csr({})
    modem.assert_done()


def test_modem_found_offline_is_left_offline() -> None:
    modem = ReplayModem(
        [
            CMEE,
            EMPTY_TAG,
            (r"AT\+CFUN\?", ["+CFUN: 4", "OK"]),
            (rf"AT%KEYGEN={NRF_CLOUD_TAG},2,0", keygen_with_urcs),
        ]
    )
    driver_for(modem).create_csr({})
    modem.assert_done()


def test_bare_error_after_a_reset_turns_error_codes_back_on_and_retries() -> None:
    modem = ReplayModem(
        [
            CMEE,
            EMPTY_TAG,
            ONLINE,
            OFFLINE,
            (rf"AT%KEYGEN={NRF_CLOUD_TAG},2,0", ["ERROR"]),  # CMEE=0 again after a modem reset
            CMEE,
            (rf"AT%KEYGEN={NRF_CLOUD_TAG},2,0", ["+CME ERROR: 518"]),
            (r"AT\+CFUN=4", OK),
            (rf"AT%KEYGEN={NRF_CLOUD_TAG},2,0", keygen_with_urcs),
            BACK_ONLINE,
        ]
    )
    assert driver_for(modem).create_csr({}) == received_csr()
    modem.assert_done()


def test_identity_of_the_published_unit_with_urcs_in_between() -> None:
    identity = fixture_lines("identity_mfw_nrf9160_1.3.5.txt")
    modem = ReplayModem(
        [
            (r"AT", [URCS[2], "OK"]),
            CMEE,
            (r"AT\+CGSN=1", [URCS[4], f'+CGSN: "{identity[1]}"', "OK"]),
            (r"AT\+CGMM", [URCS[9], "nRF9160-SICA", "OK"]),
            (r"AT\+CGMR", [URCS[8], identity[4], URCS[10], "OK"]),
        ]
    )
    ident = driver_for(modem).identify()
    assert (ident.serial_number, ident.firmware) == ("352656109480783", "mfw_nrf9160_1.3.5")


@pytest.mark.parametrize("urc", URCS)
def test_no_published_urc_ends_up_in_a_csr_or_breaks_the_parser(urc: str) -> None:
    resp = at.collect([urc, KEYGEN_ANSWER[0], urc, "OK"], "%KEYGEN:")
    assert at.parse_keygen(resp).csr_der == received_csr()
    assert resp.urcs == (urc, urc)


def test_published_cme_error_is_a_final_result_with_its_meaning() -> None:
    command, answer = fixture_lines("cme_error_cmng_read_missing.txt")
    resp = at.collect([answer], "%CMNG:", echo=command)
    assert resp.final == at.FinalResult(at.FinalKind.CME, 513)
    assert "not found" in at.cme_message(resp.final.code)


def test_read_of_a_credential_cut_at_the_answer_limit_is_a_protocol_error_not_a_hang() -> None:
    """A real AT host cuts answers at ~4 KB and loses the closing quote: the OK then sits inside the
    open quoted string and the command times out with a clear error instead of returning garbage."""
    cut = f'%CMNG: {NRF_CLOUD_TAG},0,"{LIST_ANSWER[0][-65:-1]}","{ROOT_PEM * 4}'[:4096]
    modem = ReplayModem(
        [
            CMEE,
            (rf"AT%CMNG=1,{NRF_CLOUD_TAG}", LIST_ANSWER),
            (
                rf"AT%CMNG=2,{NRF_CLOUD_TAG},1",
                [f'%CMNG: {NRF_CLOUD_TAG},1,"{LIST_ANSWER[1][-65:-1]}","{LEAF_PEM}"', "OK"],
            ),
            (rf"AT%CMNG=2,{NRF_CLOUD_TAG},0", [cut, "OK"]),
        ]
    )
    with pytest.raises(DeviceError) as info:
        driver_for(modem).read_certificate_chain()
    assert info.value.code in ("timeout", "protocol")
