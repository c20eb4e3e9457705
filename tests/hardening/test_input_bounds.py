"""Every input from a unit or a server is bounded and checked; a bad one fails that unit only.

Device side: payload size, chunk count, the serial number a unit reports, and the CSR it
hands over (DER parse, size, self-signature, subject against the profile's
template filled with the reported serial, key type). Server side: how many certificates a
response may carry, how big one may be, how long the chain may be. (Line length is bounded by
the transport: tests/device/test_transport.py.) Batch-level cases run on
the real line (simulator + EST server) and check that the other units of the batch end done
and that nothing reached the faulty unit's flash.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import certline.app.sim.keys
from certline.app.batch.engine import BatchOptions
from certline.app.batch.states import DeviceState
from certline.app.device.certline_driver import CertlineDriver, Timeouts
from certline.app.device.certline_protocol import (
    MAX_PAYLOAD,
    crc32_hex,
    format_frame,
    parse_frame,
    split_chunks,
)
from certline.app.device.driver import DeviceProtocolError, DeviceTimeout
from certline.app.est import encoding
from certline.app.est.errors import EstResponseError
from certline.app.est.issued_chain_check import (
    MAX_CERT_BYTES,
    MAX_CERTS,
    MAX_PATH,
    build_chain,
    order_ca_certs,
    spki,
)
from certline.app.est.transport import MAX_RESPONSE
from certline.app.estserver import wire
from certline.app.estserver.service import EstRequest, Response
from tests.est import pki

from .conftest import by_serial, chain_on, start_sim

S = DeviceState

# ------------------------------------------------------------------------------ a scripted unit


class ScriptedUnit:
    """Stands in for the serial transport: every request line gets the lines ``answer`` yields
    (possibly endless); ``consumed`` counts the lines the driver actually read."""

    is_open = True

    def __init__(self, answer: Callable[[str, str], Iterable[bytes]]) -> None:
        self._answer = answer
        self._lines: Iterator[bytes] = iter(())
        self._queued: deque[bytes] = deque()
        self.consumed = 0

    def open(self) -> None: ...

    def close(self) -> None: ...

    def write_line(self, line: bytes) -> None:
        frame = parse_frame(line.strip())
        assert frame is not None
        self._lines = iter(self._answer(frame.req_id, frame.verb))

    def read_line(self, deadline: float) -> bytes | None:
        line = next(self._lines, None)
        if line is not None:
            self.consumed += 1
        return line


def raw_frame(text: str) -> bytes:
    """A frame with a valid check token, even with arguments ``format_frame`` would refuse."""
    return f"{text} *{crc32_hex(text.encode())}".encode()


def hello(rid: str, serial: str = "CL-000001") -> bytes:
    return raw_frame(
        f"@{rid} OK proto=1.0 serial={serial} model=CL-100 fw=1.4.2 algs=ec-p256 caps=keygen,sign"
    )


def scripted_driver(answer: Callable[[str, str], Iterable[bytes]]) -> tuple[CertlineDriver, ScriptedUnit]:
    unit = ScriptedUnit(answer)
    driver = CertlineDriver("scripted", transport=unit, timeouts=Timeouts(silence=1, command=2))  # type: ignore[arg-type]
    return driver, unit


SPAM: dict[str, Callable[[str, int], bytes]] = {
    "log output": lambda rid, i: b"[app] sensor %d ok" % i,
    "keep-alives forever": lambda rid, i: format_frame(rid, "WAIT", "500").strip(),
    "answers to other requests": lambda rid, i: format_frame(str(int(rid) + 7), "OK").strip(),
}


@pytest.mark.parametrize("spam", SPAM)
def test_a_unit_that_never_stops_talking_is_cut_off_at_the_command_limit(spam):
    make = SPAM[spam]

    def answer(rid: str, verb: str) -> Iterator[bytes]:
        for i in itertools.count():
            if i > 3_000_000:
                raise AssertionError("the driver kept reading and never applied its deadline")
            yield make(rid, i)

    unit = ScriptedUnit(answer)
    driver = CertlineDriver("scripted", transport=unit, timeouts=Timeouts(silence=0.2, command=0.3))  # type: ignore[arg-type]
    with pytest.raises(DeviceTimeout, match="not finished within"):
        driver.identify()


def test_an_endless_run_of_empty_data_chunks_is_cut_off():
    def answer(rid: str, verb: str) -> Iterable[bytes]:
        if verb == "HELLO":
            return [hello(rid)]
        return (raw_frame(f"@{rid} DATA {seq} 0 00000000 ") for seq in itertools.count())

    driver, unit = scripted_driver(answer)
    driver.identify()
    with pytest.raises(DeviceProtocolError, match="kept arriving damaged"):
        driver.create_csr({"CN": "CL-000001"})
    assert unit.consumed < 20, "each attempt stops at the first empty chunk"


def test_a_reply_larger_than_any_payload_is_refused():
    chunk = next(split_chunks(b"\x30" * 192))

    def answer(rid: str, verb: str) -> Iterable[bytes]:
        if verb == "HELLO":
            return [hello(rid)]
        return (format_frame(rid, "DATA", str(seq), *chunk.args()[1:]).strip() for seq in itertools.count())

    driver, unit = scripted_driver(answer)
    driver.identify()
    with pytest.raises(DeviceProtocolError, match="implausibly large"):
        driver.create_csr({"CN": "CL-000001"})
    assert unit.consumed <= 2 * MAX_PAYLOAD // 192 + 3


@pytest.mark.parametrize("serial", ["", "CL-" + "9" * 70, "CL-\x07bell", "CL-%00"])
def test_a_unit_reporting_an_unusable_serial_number_is_refused(serial):
    driver, _ = scripted_driver(lambda rid, verb: [hello(rid, serial)])
    with pytest.raises(DeviceProtocolError, match="unusable serial number"):
        driver.identify()


# ------------------------------------------------------------------------------ CSRs from units


def _csr(key: object, subject: dict[str, str], extensions: Iterable[x509.ExtensionType] = ()) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(_OIDS[k], v) for k, v in subject.items()])
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)  # type: ignore[arg-type]


_OIDS = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME}


def _flip_last_byte(der: bytes) -> bytes:
    return der[:-1] + bytes([der[-1] ^ 0x01])


def _point_off_the_curve(key: object, subject: dict[str, str], der: bytes) -> bytes:
    """The CSR's EC public key with one coordinate byte changed: no longer a point on P-256."""
    point = key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    at = der.index(point) + len(point) - 1
    return der[:at] + bytes([der[at] ^ 0x01]) + der[at + 1 :]


def _csr_version(der: bytes, version: int) -> bytes:
    """The CSR with a version number PKCS#10 does not define (only 0 exists)."""
    at = der.index(b"\x02\x01\x00") + 2
    return der[:at] + bytes([version]) + der[at + 1 :]


CsrMutation = Callable[[object, dict[str, str], bytes], bytes]

BAD_CSRS: dict[str, tuple[CsrMutation, str, str]] = {
    # the unit ignores the subject it was given and names another unit
    "CN is not the reported serial": (
        lambda key, subject, der: _csr(key, {**subject, "CN": "CL-999999"}),
        "bad-csr",
        "differs from the profile's",
    ),
    "extra subject field": (
        lambda key, subject, der: _csr(key, {**subject, "OU": "injected"}),
        "bad-csr",
        "differs from the profile's",
    ),
    "broken self-signature": (lambda key, subject, der: _flip_last_byte(der), "bad-csr", "self-signature"),
    "public key not on the curve": (_point_off_the_curve, "bad-csr", "public key"),
    "key of another type": (
        lambda key, subject, der: _csr(
            rsa.generate_private_key(public_exponent=65537, key_size=2048), subject
        ),
        "bad-csr",
        "the profile asks for ec-p256",
    ),
    "oversized CSR": (
        lambda key, subject, der: _csr(
            key,
            subject,
            [x509.SubjectAlternativeName([x509.DNSName(f"n{i:05d}.example") for i in range(1100)])],
        ),
        "bad-csr",
        "CSR size",
    ),
    "undefined CSR version": (lambda key, subject, der: _csr_version(der, 10), "protocol", "does not parse"),
    "not DER at all": (lambda key, subject, der: b"\x30\x82" + b"\xa5" * 900, "protocol", "does not parse"),
}


@pytest.mark.parametrize("case", BAD_CSRS)
def test_a_bad_csr_from_one_unit_fails_that_unit_only(line, sims, tmp_path, monkeypatch, case):
    mutate, code, message = BAD_CSRS[case]
    sim = start_sim(sims, tmp_path, 3)
    victim = sim.devices[1].serial_number
    real_build_csr = certline.app.sim.keys.build_csr

    def unit_firmware(key: object, subject: dict[str, str], challenge: str | None = None) -> bytes:
        der = real_build_csr(key, subject, challenge)  # type: ignore[arg-type]
        return mutate(key, subject, der) if subject.get("CN") == victim else der

    monkeypatch.setattr(certline.app.sim.keys, "build_csr", unit_firmware)
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        snaps = by_serial(engine)
        failed = snaps[victim]
        assert failed.state == S.FAILED and failed.error_code == code, failed
        assert message in (failed.error or "") and "reading CSR" in (failed.failed_step or "")
        assert [s.state for k, s in snaps.items() if k != victim] == [S.DONE, S.DONE]
        assert all(victim not in r.subject for r in line.server.issued), "the bad CSR was never sent"
        assert len(line.server.issued) == 2
        assert chain_on(sim, 1) is None
        assert session.journal.audit.verify().ok
    finally:
        session.close()


# ------------------------------------------------------------------------------ server answers


def test_a_response_with_too_many_certificates_fails_that_unit_only(line, sims, tmp_path, monkeypatch):
    service = line.server.service
    real_issue = service._issue
    padded: list[str] = []

    def issue_padded(req: EstRequest) -> Response:
        resp = real_issue(req)
        if padded or resp.status != 200:
            return resp
        csr, _ = wire.load_csr(req.body)
        padded.append(csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)  # type: ignore[arg-type]
        certs = encoding.parse_certs(resp.body)
        extra = [x509.load_der_x509_certificate(pki.der(line.server.ca.root_cert)) for _ in range(MAX_CERTS)]
        return Response(200, wire.b64_lines(wire.certs_only_der(certs + extra)), resp.headers)

    monkeypatch.setattr(service, "_issue", issue_padded)
    sim = start_sim(sims, tmp_path, 3)
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60)
        (victim,) = padded
        snaps = by_serial(engine)
        assert snaps[victim].state == S.FAILED and snaps[victim].error_code == "bad-response"
        assert "is not a certificate chain" in (snaps[victim].error or "")
        assert sorted(s.state for k, s in snaps.items() if k != victim) == [S.DONE, S.DONE]
        index = next(i for i, d in enumerate(sim.devices) if d.serial_number == victim)
        assert chain_on(sim, index) is None
        assert session.journal.audit.verify().ok
    finally:
        session.close()


def test_a_response_over_the_size_limit_fails_that_unit_only(line, sims, tmp_path, monkeypatch):
    """Not mistaken for an unreachable server (the batch would wait for it forever)."""
    service = line.server.service
    real_issue = service._issue
    oversized: list[str] = []

    def issue_oversized(req: EstRequest) -> Response:  # every answer for the first unit that asks
        resp = real_issue(req)
        csr, _ = wire.load_csr(req.body)
        unit = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        if not oversized:
            oversized.append(unit)  # type: ignore[arg-type]
        if unit != oversized[0] or resp.status != 200:
            return resp
        return Response(200, b"A" * (MAX_RESPONSE + 1024), resp.headers)

    monkeypatch.setattr(service, "_issue", issue_oversized)
    sim = start_sim(sims, tmp_path, 3)
    session = line.session()
    try:
        engine = session.start_batch(BatchOptions(), sim.ports)
        assert engine.wait(60), "the batch kept waiting"
        (victim,) = oversized
        snaps = by_serial(engine)
        assert snaps[victim].state == S.FAILED and snaps[victim].error_code == "bad-response"
        assert "larger than" in (snaps[victim].error or "")
        assert sorted(s.state for k, s in snaps.items() if k != victim) == [S.DONE, S.DONE]
        assert engine.gateway.reachable
    finally:
        session.close()


def _distinct(cert: x509.Certificate, n: int) -> list[x509.Certificate]:
    """``n`` separate objects of the same certificate (the checks compare objects, not bytes)."""
    return [x509.load_der_x509_certificate(pki.der(cert)) for _ in range(n)]


def test_cacerts_with_hundreds_of_certificates_is_refused_before_any_path_work():
    p = pki.make_pki()
    with pytest.raises(EstResponseError, match="not a certificate chain"):
        order_ca_certs(_distinct(p.root, 1500))  # unbounded, ordering these takes minutes
    assert len(order_ca_certs(_distinct(p.root, 2) + [p.intermediate])) == 3


def test_an_oversized_certificate_is_refused():
    p = pki.make_pki()
    key = pki.key()
    names = [f"host{i:05d}.devices.example" for i in range(MAX_CERT_BYTES // 24)]
    leaf = p.issue(key.public_key(), san=names)
    assert len(pki.der(leaf)) > MAX_CERT_BYTES
    with pytest.raises(EstResponseError, match=f"limit is {MAX_CERT_BYTES} bytes"):
        build_chain([leaf, p.intermediate], spki(key.public_key()), [p.root])


@pytest.mark.parametrize("form", ["pem", "base64", "der"])
def test_a_certificate_with_an_undefined_version_is_a_response_error(form):
    import base64

    der = pki.der(pki.make_pki().root)
    at = der.index(bytes.fromhex("a003020102")) + 4
    bad = der[:at] + b"\x05" + der[at + 1 :]
    body = {
        "pem": b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bad) + b"-----END CERTIFICATE-----\n",
        "base64": base64.encodebytes(bad),
        "der": bad,
    }[form]
    with pytest.raises(EstResponseError):
        encoding.parse_certs(body, "/cacerts")


def test_a_chain_longer_than_the_path_limit_is_refused():
    root_key = pki.key()
    root = pki.cert("Deep Root", root_key.public_key(), None, root_key, ca=True)
    issuer, issuer_key = root, root_key
    chain: list[x509.Certificate] = []
    for depth in range(MAX_PATH + 1):
        next_key = pki.key()
        ca = pki.cert(f"Level {depth}", next_key.public_key(), (issuer, issuer_key), issuer_key, ca=True)
        chain.insert(0, ca)
        issuer, issuer_key = ca, next_key
    leaf_key = pki.key()
    leaf = pki.cert("device", leaf_key.public_key(), (issuer, issuer_key), issuer_key, ca=False)
    with pytest.raises(EstResponseError, match="too long"):
        build_chain([leaf, *chain], spki(leaf_key.public_key()), [root])
    # the same chain verifies when the pinned anchor is close enough to the leaf
    path, _ = build_chain([leaf, *chain], spki(leaf_key.public_key()), [chain[3]])
    assert path == (leaf, *chain[:4])


def test_a_csr_given_to_the_client_is_bounded_and_must_be_self_signed():
    key = pki.key()
    good = _csr(key, {"CN": "x"})
    with pytest.raises(encoding.CsrInputError, match="out of range"):
        encoding.load_csr(b"0" * (64 * 1024 + 1))
    with pytest.raises(encoding.CsrInputError, match="self-signature"):
        encoding.load_csr(_flip_last_byte(good))
    with pytest.raises(encoding.CsrInputError, match="public key"):
        encoding.load_csr(_point_off_the_curve(key, {}, good))
    with pytest.raises(encoding.CsrInputError, match="not a valid PKCS#10"):
        encoding.load_csr(_csr_version(good, 10))
    armour = b"-----BEGIN CERTIFICATE REQUEST-----\n%%%%\n-----END CERTIFICATE REQUEST-----\n"
    with pytest.raises(encoding.CsrInputError, match="not valid base64"):
        encoding.load_csr(armour)
    assert encoding.load_csr(good).is_signature_valid


def test_nrf91_csr_with_a_public_key_off_the_curve_is_a_device_error():
    from certline.app.device.nrf91_driver import NRF91Driver

    key = pki.key()
    bad = _point_off_the_curve(key, {}, _csr(key, {"CN": "352656100367872"}))
    with pytest.raises(DeviceProtocolError, match="public key"):
        NRF91Driver("unused")._check_csr(bad, {"CN": "352656100367872"})
