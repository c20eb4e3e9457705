"""Random and mutated input into every parser of unit and server answers: typed errors only, no hang.

Already fuzzed elsewhere (not repeated): certificate and private-key decoding and multipart with
random bytes (tests/est/test_fuzz_decoders.py), /csrattrs with random bytes and one replaced byte
(tests/est/test_der_csrattrs.py), the AT response collector and %CMNG line parser with random
text (tests/device/test_nrf91_parser.py).

New here: the Certline frame, chunk and pair parsers; the Certline *driver* reading a mutated
byte stream (frames cut, glued, flipped, lines lost or doubled) through identify / CSR / certificate
read-back / signing; the AT parsers on mutated valid modem answers; EST body, CSR and PEM
decoding; a mutated /serverkeygen multipart answer through the client's own splitter; /csrattrs
with bytes inserted and deleted. The mutated-valid-input strategy starts from a correct message
and flips, inserts, deletes or truncates bytes, which reaches much deeper than random bytes.

"No hang": inputs are bounded, every example has a generous deadline, and the scripted unit
answers instantly and then falls silent, so any wait in the driver would show as a timeout.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certline.app.device import at_parser as at
from certline.app.device.certline_driver import CertlineDriver, Timeouts
from certline.app.device.certline_protocol import (
    ChunkError,
    FrameError,
    crc32_hex,
    decode_value,
    format_frame,
    parse_chunk,
    parse_frame,
    parse_pairs,
    split_chunks,
)
from certline.app.device.driver import DeviceError
from certline.app.est import encoding
from certline.app.est.client import _split_keygen
from certline.app.est.csrattrs import parse_csrattrs
from certline.app.est.errors import EstResponseError
from certline.app.est.multipart import boundary_of, parse_multipart
from certline.app.est.transport import HttpResponse
from certline.app.estserver import csrattrs as presets
from certline.app.estserver import wire
from certline.app.pki import KeyAlgorithm, normalise_csr_der
from tests.est import pki

FUZZ = settings(
    max_examples=200,
    deadline=timedelta(seconds=5),  # generous: a loaded CI machine must not make this flaky
    suppress_health_check=[HealthCheck.too_slow],
)

# ------------------------------------------------------------------------------ mutation strategy

Op = tuple[str, int, int]

OPS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 16), st.integers(1, 255)),
    st.tuples(
        st.just("insert"), st.integers(0, 1 << 16), st.sampled_from([0, 10, 13, 32, 42, 64, 0xFF, 0x41])
    ),
    st.tuples(st.just("delete"), st.integers(0, 1 << 16), st.integers(1, 16)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16), st.just(0)),
    st.tuples(st.just("repeat"), st.integers(0, 1 << 16), st.integers(1, 64)),
)
MUTATIONS = st.lists(OPS, min_size=1, max_size=4)


def mutate(data: bytes, ops: Iterable[Op]) -> bytes:
    buf = bytearray(data)
    for kind, pos, value in ops:
        at_ = pos % (len(buf) + 1)
        if kind == "flip" and buf:
            buf[at_ % len(buf)] ^= value
        elif kind == "insert":
            buf[at_:at_] = bytes([value])
        elif kind == "delete":
            del buf[at_ : at_ + value]
        elif kind == "truncate":
            del buf[at_:]
        elif kind == "repeat":  # a piece of the stream arrives twice
            buf[at_:at_] = buf[at_ : at_ + value]
    return bytes(buf)


def lines_of(stream: bytes) -> list[bytes]:
    """What the transport hands the driver: CR, LF and CRLF end lines, empty lines vanish."""
    return [line for line in stream.replace(b"\r", b"\n").split(b"\n") if line]


# ------------------------------------------------------------------------------ valid material

_KEY = ec.generate_private_key(ec.SECP256R1())
_CSR = (
    x509.CertificateSigningRequestBuilder()
    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CL-000001")]))
    .sign(_KEY, hashes.SHA256())
    .public_bytes(serialization.Encoding.DER)
)
_PKI = pki.make_pki()
_LEAF = _PKI.issue(_KEY.public_key(), cn="CL-000001")
_CHAIN_PEM = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in (_LEAF, _PKI.intermediate))
_SIGNATURE = _KEY.sign(b"nonce", ec.ECDSA(hashes.SHA256()))


def _payload_reply(rid: str, payload: bytes, *extra: str) -> list[bytes]:
    lines = [format_frame(rid, "DATA", *chunk.args()) for chunk in split_chunks(payload, 192)]
    lines.append(format_frame(rid, "OK", f"len={len(payload)}", f"crc={crc32_hex(payload)}", *extra))
    return lines


def _valid_reply(rid: str, verb: str, args: tuple[str, ...]) -> list[bytes]:
    if verb == "HELLO":
        return [
            b"Certline boot ROM 2.1\r\n",
            format_frame(
                rid, "OK", "proto=1.0", "serial=CL-000001", "model=CL-100", "fw=1.4.2",
                "algs=ec-p256,rsa-2048", "caps=keygen,import,sign", "maxchunk=192", "maxline=1024",
            ),
        ]  # fmt: skip
    if verb == "KEYGEN":
        return [format_frame(rid, "WAIT", "10"), format_frame(rid, "OK", "alg=ec-p256", "keyid=00ff")]
    if verb == "CSR":
        return _payload_reply(rid, _CSR, "key=pending")
    if verb == "CERT" and args[:1] == ("READ",):
        data = _CHAIN_PEM.encode()
        return _payload_reply(rid, data, f"sha256={hashlib.sha256(data).hexdigest()}")
    if verb == "SIGN":
        return _payload_reply(rid, _SIGNATURE, "alg=ecdsa")
    return [format_frame(rid, "ERR", "UNKNOWN", "unknown", "command")]


class NoisyUnit:
    """A unit whose every answer crosses a noisy line: attempt ``n`` is damaged by ``plans[n]``
    (cycling), then the line goes quiet so the driver's reads end at once."""

    is_open = True

    def __init__(self, plans: list[list[Op]], events: list[bytes]) -> None:
        self._plans = plans
        self._events = events  # unsolicited lines (BOOT events, log output) glued in front
        self._attempt = 0
        self._lines: Iterator[bytes] = iter(())

    def open(self) -> None: ...

    def close(self) -> None: ...

    def write_line(self, line: bytes) -> None:
        frame = parse_frame(line.strip())
        assert frame is not None and frame.intact, "the driver sent a malformed request"
        reply = b"".join(self._valid(frame.req_id, frame.verb, frame.args))
        plan = self._plans[self._attempt % len(self._plans)]
        event = self._events[self._attempt % len(self._events)] if self._events else b""
        self._attempt += 1
        self._lines = iter(lines_of(event + mutate(reply, plan)))

    def _valid(self, rid: str, verb: str, args: tuple[str, ...]) -> list[bytes]:
        return _valid_reply(rid, verb, args)

    def read_line(self, deadline: float) -> bytes | None:
        return next(self._lines, None)


DRIVER_STEPS = ("identify", "keygen", "csr", "read", "sign")
EVENTS = st.lists(
    st.sampled_from(
        [b"", b"@0 BOOT reason=crash fw=1.4.2 *00000000\r\n", format_frame("0", "BOOT", "reason=power"),
         b"\x00\xff\xfe garbage @@ 12\r\n", b"[app] log line with * and @ inside\n"]
    ),
    max_size=3,
)  # fmt: skip


@FUZZ
@given(st.lists(MUTATIONS, min_size=1, max_size=5), EVENTS, st.sampled_from(DRIVER_STEPS))
def test_driver_reading_a_noisy_line_raises_only_device_errors(plans, events, step):
    unit = NoisyUnit(plans, events)
    driver = CertlineDriver("noisy", transport=unit, timeouts=Timeouts(silence=0.5, command=2))  # type: ignore[arg-type]
    try:
        if step == "identify":
            identity = driver.identify()
            assert identity.serial_number and identity.serial_number.isprintable()
        elif step == "keygen":
            driver.generate_key(KeyAlgorithm.EC_P256)
        elif step == "csr":
            csr = driver.create_csr({"CN": "CL-000001"})
            assert x509.load_der_x509_csr(normalise_csr_der(csr)).subject
        elif step == "read":
            stored = driver.read_certificate_chain()
            assert stored is not None and hashlib.sha256(stored.chain_pem.encode()).digest() == stored.sha256
        else:
            assert driver.sign_digest(b"\x01" * 32)
    except DeviceError:
        pass


# ------------------------------------------------------------------------------ Certline frames

_FRAMES = [
    format_frame("17", "OK", "proto=1.0", "serial=CL-000001", "caps=keygen,sign"),
    *_payload_reply("9", _CSR[:400]),
    format_frame("3", "ERR", "BUSY", "device", "busy"),
    format_frame("0", "BOOT", "reason=power", "fw=1.4.2"),
    format_frame("4", "NAK", "2", "crc"),
]
FRAME_SEEDS = st.sampled_from(_FRAMES)


@FUZZ
@given(st.one_of(st.binary(max_size=1200), st.builds(mutate, FRAME_SEEDS, MUTATIONS)))
def test_frame_chunk_and_pair_parsers_raise_only_their_typed_errors(line):
    frame = parse_frame(line.strip(b"\r\n"))
    if frame is None:
        return
    assert frame.req_id.isdigit() and isinstance(frame.args, tuple)
    try:
        parse_chunk(frame.args)
    except ChunkError:
        pass
    try:
        parse_pairs(frame.args)
    except FrameError:
        pass
    for arg in frame.args:
        try:
            decode_value(arg)
        except FrameError:
            pass


# ------------------------------------------------------------------------------ AT answers (nRF91)

_B64 = at.b64url_encode
_PEM = _CHAIN_PEM
_COSE = bytes.fromhex("d28443a10126")
_AT_ANSWERS: list[tuple[str | None, bytes, str]] = [
    ("%KEYGEN:", f'%KEYGEN: "{_B64(_CSR)}.{_B64(_COSE)}"\r\nOK\r\n'.encode(), "keygen"),
    (
        "%CMNG:",
        f'%CMNG: 42,1,"{hashlib.sha256(_PEM.encode()).hexdigest().upper()}","{_PEM}"\r\nOK\r\n'.encode(),
        "cmng-read",
    ),
    (
        "%CMNG:",
        b'%CMNG: 42,0,"' + b"0A" * 32 + b'"\r\n%CMNG: 42,1,"' + b"0B" * 32 + b'"\r\nOK\r\n',
        "cmng-list",
    ),
    ("+CGSN:", b'+CEREG: 2,"4E5A","0138A12F",7\r\n+CGSN: "352656100367872"\r\nOK\r\n', "imei"),
    ("+CFUN:", b"+CFUN: 4\r\nOK\r\n", "cfun"),
    (None, b"nRF9160-SICA\r\nOK\r\n", "text"),
    (None, b"+CME ERROR: 518\r\n", "text"),
]


@FUZZ
@given(st.sampled_from(_AT_ANSWERS), MUTATIONS)
def test_at_parsers_on_mutated_modem_answers_raise_only_parse_errors(answer, ops):
    prefix, raw, kind = answer
    lines = [line.decode("ascii", "replace") for line in lines_of(mutate(raw, ops))]
    try:
        resp = at.collect(lines, prefix)
        if kind == "keygen":
            result = at.parse_keygen(resp)
            assert result.csr_der[:1] == b"\x30"
        elif kind == "cmng-read":
            assert at.parse_cmng_read(resp, 42, 1).content is not None
        elif kind == "cmng-list":
            at.parse_cmng_list(resp)
        elif kind == "imei":
            assert len(at.parse_imei(resp)) == 15
        elif kind == "cfun":
            at.parse_cfun(resp)
        else:
            at.parse_text_line(resp, "model")
    except at.AtParseError:
        pass


@FUZZ
@given(st.text(max_size=400))
def test_base64url_decoding_of_modem_payloads_raises_only_parse_errors(text):
    try:
        at.b64url_decode(text, "CSR")
    except at.AtParseError:
        pass


# ------------------------------------------------------------------------------ EST bodies

_CERTS_DER = wire.certs_only_der([_LEAF, _PKI.intermediate])
_BODIES = [
    wire.b64_lines(_CERTS_DER),
    _CERTS_DER,
    b"-----BEGIN PKCS7-----\n" + wire.b64_lines(_CERTS_DER) + b"-----END PKCS7-----\n",
    _CHAIN_PEM.encode(),
    wire.b64_lines(_CERTS_DER, newline=b"\r\n") + b"\x00",
]
BODY_SEEDS = st.sampled_from(_BODIES)
CSR_SEEDS = st.sampled_from(
    [
        _CSR,
        encoding.wrap_base64(_CSR),
        x509.load_der_x509_csr(_CSR).public_bytes(serialization.Encoding.PEM),
    ]
)


@FUZZ
@given(st.one_of(st.binary(max_size=800), st.builds(mutate, BODY_SEEDS, MUTATIONS)))
def test_est_body_certificate_and_pem_decoding_raise_only_response_errors(body):
    try:
        encoding.decode_body(body, "fuzz")
    except EstResponseError:
        pass
    try:
        encoding.pem_blocks(body)
    except EstResponseError:
        pass
    try:
        encoding.b64decode_tolerant(body)
    except ValueError:
        pass
    try:
        assert encoding.parse_certs(body, "fuzz")
    except EstResponseError:
        pass


@FUZZ
@given(st.one_of(st.binary(max_size=800), st.builds(mutate, CSR_SEEDS, MUTATIONS)))
def test_csr_loading_raises_only_csr_input_errors(data):
    try:
        csr = encoding.load_csr(data)
    except encoding.CsrInputError:
        return
    assert csr.is_signature_valid


def _keygen_body(reverse: bool) -> tuple[bytes, str]:
    key_der = _KEY.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    parts = [(wire.PKCS8, wire.b64_lines(key_der)), (wire.CERTS_ONLY, wire.b64_lines(_CERTS_DER))]
    boundary = "certline-fuzz-boundary"
    return wire.multipart(parts[::-1] if reverse else parts, boundary), boundary


_KEYGEN = [_keygen_body(False), _keygen_body(True)]


@FUZZ
@given(st.sampled_from(_KEYGEN), MUTATIONS, st.booleans())
def test_serverkeygen_answer_splitting_raises_only_response_errors(seed, ops, mangle_type):
    body, boundary = seed
    content_type = f"multipart/mixed; boundary={boundary}"
    if mangle_type:
        content_type = mutate(content_type.encode(), ops).decode("latin-1")
    response = HttpResponse(status=200, headers={"Content-Type": content_type}, body=mutate(body, ops))
    try:
        key, certs = _split_keygen(response)
    except EstResponseError:
        return
    assert key and certs
    try:
        boundary_of(content_type)
        parse_multipart(response.body, content_type)
    except EstResponseError:
        pass


_CSRATTRS = [blob for blob in (presets.PRESETS[name]() for name in presets.PRESETS) if blob]


@FUZZ
@given(st.sampled_from(_CSRATTRS), MUTATIONS, st.booleans())
def test_csrattrs_with_inserted_and_deleted_bytes_raise_only_response_errors(blob, ops, as_base64):
    data = mutate(blob, ops)
    try:
        parse_csrattrs(encoding.decode_body(base64.b64encode(data), "/csrattrs") if as_base64 else data)
    except EstResponseError:
        pass
