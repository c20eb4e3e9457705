"""DeviceDriver for the Certline serial protocol (docs/device-protocol.md).

Robustness rules, in the order they act:

* every request has a fresh id; lines with another id (stale replies), no frame
  (banners, logs, garbage) are skipped, so the link resynchronises by itself;
* a reply that arrives damaged (bad chunk CRC, truncated or unknown line for our
  id) is retried a bounded number of times — every command is idempotent or
  made safe to repeat (KEYGEN replaces the pending key, CHUNK repeats are ACKed,
  a damaged COMMIT answer is settled by reading the stored hash back);
* a ``@0 BOOT`` event during a command means the device rebooted and forgot it:
  :class:`DeviceRebooted` (retrying the step is safe, the old credential is intact);
* deadlines: a silence limit between lines (the device sends WAIT keep-alives
  during long work) and an overall limit per command.

Arguments of CHUNK (key material) and of CSR (challenge password) are never logged.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from certline.app.device.certline_protocol import (
    DEFAULT_CHUNK_SIZE,
    EVENT_ID,
    MAX_PAYLOAD,
    PROTOCOL_MAJOR,
    ChunkError,
    Frame,
    FrameError,
    crc32_hex,
    encode_pairs,
    encode_value,
    format_frame,
    next_request_id,
    parse_chunk,
    parse_frame,
    parse_pairs,
    split_chunks,
    transmit_seconds,
)
from certline.app.device.driver import (
    Capabilities,
    DeviceBadInput,
    DeviceBusy,
    DeviceDriver,
    DeviceError,
    DeviceIdentity,
    DeviceMismatch,
    DeviceProtocolError,
    DeviceRefused,
    DeviceTimeout,
    DeviceUnsupported,
    KeyAlgorithm,
    StoredCredential,
)
from certline.app.device.transport import SerialTransport

log = logging.getLogger(__name__)

SUBJECT_KEYS = frozenset({"CN", "O", "OU", "C", "L", "ST", "serialNumber"})
_HASH_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
_PADDINGS = {"pkcs1v15": "pkcs1", "pkcs1": "pkcs1", "pss": "pss"}


class DeviceRebooted(DeviceBusy):
    """The device rebooted during a command (``@0 BOOT``); staged data is lost, the old credential kept."""


#: ERR code -> (exception class, technician-readable explanation)
ERROR_CODES: dict[str, tuple[type[DeviceError], str]] = {
    "BUSY": (DeviceBusy, "the device is busy; try again in a moment"),
    "UNKNOWN": (DeviceUnsupported, "the device firmware does not know this command (firmware too old?)"),
    "ALG": (DeviceUnsupported, "the device does not support this key algorithm, hash or padding"),
    "VERSION": (DeviceUnsupported, "the device speaks an incompatible protocol version"),
    "SYNTAX": (DeviceProtocolError, "the device rejected the command as malformed"),
    "NOSTAGE": (DeviceProtocolError, "the device has no upload in progress (was it reset?)"),
    "INCOMPLETE": (DeviceMismatch, "the device received the upload damaged (length or CRC mismatch)"),
    "NOKEY": (DeviceRefused, "the device holds no key for this operation"),
    "BADKEY": (DeviceRefused, "the device rejected the private key"),
    "BADCERT": (DeviceRefused, "the device could not read the certificate chain"),
    "NOMATCH": (
        DeviceMismatch,
        "the certificate belongs to neither the device's new key nor its current key",
    ),
    "TOOBIG": (DeviceRefused, "the data is too large for the device's storage"),
    "REFUSED": (DeviceRefused, "the device refused the operation"),
    "FLASH": (DeviceRefused, "the device could not write its storage (flash failure)"),
    "NOCERT": (DeviceRefused, "the device holds no certificate"),
    "INTERNAL": (DeviceRefused, "the device reported an internal error"),
    "CHECK": (DeviceProtocolError, "the device kept receiving our requests damaged"),
}


@dataclass(frozen=True)
class Timeouts:
    """Deadlines in seconds. Payload transfer time at the configured baud is added on top."""

    silence: float = 3.0
    """Longest gap between two lines of one reply (devices send WAIT at least every second)."""
    command: float = 10.0
    keygen: float = 120.0


class _Damaged(Exception):  # noqa: N818 - internal retry signal, never escapes the driver
    """A reply line for our request arrived damaged; the request may be repeated."""


@dataclass(frozen=True)
class _Reply:
    final: Frame
    pairs: dict[str, str]
    payload: bytes


class CertlineDriver(DeviceDriver):
    """One Certline device on one serial port."""

    name = "certline"

    def __init__(
        self,
        port: str,
        baud: int = 115200,
        *,
        timeouts: Timeouts | None = None,
        retries: int = 3,
        transport: SerialTransport | None = None,
    ) -> None:
        self._transport = transport or SerialTransport(port, baud)
        self._port = port
        self._baud = baud
        self.timeouts = timeouts or Timeouts()
        self.retries = retries
        self._last_id = 0
        self._chunk_size = DEFAULT_CHUNK_SIZE
        self._identity: DeviceIdentity | None = None

    # -- DeviceDriver ----------------------------------------------------------------------
    @property
    def port(self) -> str:
        return self._port

    def open(self) -> None:
        """Open the port, end any half-sent line on the device side and drop stale input."""
        if self._transport.is_open:
            return
        self._transport.open()
        self._transport.write_line(b"\r\n")

    def close(self) -> None:
        self._transport.close()

    def identify(self) -> DeviceIdentity:
        reply = self._request("HELLO", str(PROTOCOL_MAJOR))
        pairs = reply.pairs
        try:
            proto, serial = pairs["proto"], pairs["serial"]
            model, firmware = pairs["model"], pairs["fw"]
        except KeyError as exc:
            raise DeviceProtocolError(
                f"{self._port}: HELLO answer lacks {exc.args[0]}", port=self._port
            ) from None
        if proto.split(".")[0] != str(PROTOCOL_MAJOR):
            raise DeviceUnsupported(
                f"{self._port}: device speaks protocol {proto}, this station speaks {PROTOCOL_MAJOR}.x",
                port=self._port,
            )
        if not serial or not serial.isprintable() or len(serial) > 64:
            raise DeviceProtocolError(
                f"{self._port}: device reported an unusable serial number", port=self._port
            )
        caps = set(pairs.get("caps", "").split(","))
        algorithms = tuple(a for a in KeyAlgorithm if a.value in pairs.get("algs", "").split(","))
        maxchunk = pairs.get("maxchunk", "")
        if maxchunk.isdigit() and int(maxchunk) > 0:
            self._chunk_size = min(DEFAULT_CHUNK_SIZE, int(maxchunk))
        self._identity = DeviceIdentity(
            serial_number=serial,
            model=model,
            firmware=firmware,
            protocol_version=proto,
            capabilities=Capabilities(
                key_algorithms=algorithms,
                on_device_keygen="keygen" in caps,
                import_server_key="import" in caps,
                can_sign="sign" in caps,
                separate_keygen_and_csr=True,
            ),
        )
        return self._identity

    def generate_key(self, algorithm: KeyAlgorithm) -> None:
        if self._identity and algorithm not in self._identity.capabilities.key_algorithms:
            raise DeviceUnsupported(
                f"{self._where()}: device cannot generate {algorithm.value} keys", port=self._port
            )
        self._request("KEYGEN", algorithm.value, deadline=self.timeouts.keygen)

    def create_csr(self, subject: dict[str, str], challenge_password: str | None = None) -> bytes:
        unknown = sorted(set(subject) - SUBJECT_KEYS)
        if unknown or not subject:
            raise DeviceBadInput(f"subject attributes {unknown or 'missing'} cannot be sent", port=self._port)
        args = encode_pairs(subject)
        if challenge_password is not None:
            args += (f"cp={encode_value(challenge_password)}",)
        reply = self._request("CSR", *args, payload=True)
        try:
            x509.load_der_x509_csr(reply.payload)
        except (ValueError, x509.InvalidVersion):
            raise DeviceProtocolError(
                f"{self._where()}: device sent a CSR that does not parse", port=self._port
            ) from None
        return reply.payload

    def import_private_key(self, pkcs8_der: bytes) -> None:
        def once() -> None:
            self._upload("KEYIMPORT", pkcs8_der)
            self._request("KEYIMPORT", "COMMIT")

        self._restart_after_reboot("key import", once)

    def write_certificate_chain(self, chain_pem: str) -> None:
        if not chain_pem.isascii() or "-----BEGIN CERTIFICATE-----" not in chain_pem:
            raise DeviceBadInput("the chain to write is not PEM", port=self._port)
        data = chain_pem.encode("ascii")
        self._restart_after_reboot("certificate write", lambda: self._write_chain_once(data))

    def _write_chain_once(self, data: bytes) -> None:
        expected = hashlib.sha256(data).hexdigest()
        self._upload("CERT", data)
        reply: _Reply | None
        try:
            reply = self._exchange_once("CERT", ("COMMIT",), self.timeouts.command)
        except _Damaged:
            reply = self._settle_damaged_commit(expected)
        if reply is not None and reply.pairs.get("sha256", "").lower() != expected:
            raise DeviceMismatch(
                f"{self._where()}: the device stored a chain whose SHA-256 differs from what was sent",
                port=self._port,
            )

    def read_certificate_chain(self) -> StoredCredential | None:
        try:
            reply = self._request("CERT", "READ", payload=True)
        except DeviceRefused as exc:
            if getattr(exc, "device_code", "") == "NOCERT":
                return None
            raise
        try:
            chain_pem = reply.payload.decode("ascii")
            stored_hash = bytes.fromhex(reply.pairs["sha256"])
        except (UnicodeDecodeError, KeyError, ValueError):
            raise DeviceProtocolError(
                f"{self._where()}: unreadable CERT READ answer", port=self._port
            ) from None
        if hashlib.sha256(reply.payload).digest() != stored_hash:
            raise DeviceMismatch(
                f"{self._where()}: stored chain does not match the device's own hash", port=self._port
            )
        return StoredCredential(chain_pem=chain_pem, sha256=stored_hash)

    def credential_at_risk(self) -> StoredCredential | None:
        """The chain in the active slot (``CERT READ``, read-only), or None on a blank unit.

        KEYGEN/KEYIMPORT only fill the pending slot, but the job they start ends in a
        ``CERT COMMIT`` that replaces the active credential: a unit that already holds a
        certificate (issued by another station, or in the field) must be refused unless the
        operator asked to replace it. A failed read fails the unit rather than guessing.
        Nothing needs to be unlocked afterwards (the default :meth:`allow_replacing`): the old
        credential stays intact until the commit, which the station reaches only after its guard.
        """
        return self.read_certificate_chain()

    def sign_digest(self, digest: bytes, hash_name: str = "sha256", rsa_padding: str = "pkcs1v15") -> bytes:
        if _HASH_SIZES.get(hash_name) != len(digest):
            raise DeviceBadInput(
                f"a {hash_name} digest of {len(digest)} bytes cannot be signed", port=self._port
            )
        padding = _PADDINGS.get(rsa_padding)
        if padding is None:
            raise DeviceUnsupported(f"RSA padding {rsa_padding!r} is not supported", port=self._port)
        reply = self._request("SIGN", hash_name, digest.hex(), padding, payload=True)
        if not reply.payload:
            raise DeviceProtocolError(f"{self._where()}: device returned an empty signature", port=self._port)
        return reply.payload

    # -- extras (not in the contract) ----------------------------------------------------------
    def status(self) -> dict[str, str]:
        """Key slots and staging state (``active``, ``pending``, ``cert``, ``staged``); for diagnostics."""
        return self._request("STATUS").pairs

    def reset(self) -> None:
        """Ask the device to reboot (RAM state, including staged uploads, is dropped)."""
        self._request("RESET")

    # -- uploads ------------------------------------------------------------------------------
    def _restart_after_reboot(self, what: str, step: Callable[[], None]) -> None:
        """Run a staged upload; if the device reboots mid-way (staging lost), start over once."""
        try:
            step()
        except DeviceRebooted:
            log.warning("%s: device rebooted during the %s; starting it over", self._port, what)
            step()

    def _upload(self, verb: str, data: bytes) -> None:
        if not data or len(data) > MAX_PAYLOAD:
            raise DeviceBadInput(f"{len(data)} bytes cannot be sent (limit {MAX_PAYLOAD})", port=self._port)
        reply = self._request(verb, "BEGIN", str(len(data)), crc32_hex(data))
        size = self._chunk_size
        offered = reply.pairs.get("maxchunk", "")
        if offered.isdigit() and int(offered) > 0:
            size = min(size, int(offered))
        for chunk in split_chunks(data, size):
            self._send_chunk(chunk.seq, chunk.args())

    def _send_chunk(self, seq: int, args: tuple[str, ...]) -> None:
        problem = "no answer"
        for _attempt in range(self.retries + 1):
            try:
                reply = self._exchange_once("CHUNK", args, self.timeouts.command, quiet=True)
            except _Damaged:
                problem = "damaged acknowledgement"
                continue
            seq_ok = reply.final.args[:1] == (str(seq),)
            if reply.final.verb == "ACK" and seq_ok:
                return
            reason = reply.final.args[1] if reply.final.verb == "NAK" and len(reply.final.args) > 1 else "?"
            if reason not in ("crc", "len", "b64"):
                raise DeviceProtocolError(
                    f"{self._where()}: device rejected chunk {seq} ({reason}); upload abandoned",
                    port=self._port,
                )
            problem = f"rejected ({reason})"
            log.info("%s: chunk %d %s, sending it again", self._port, seq, problem)
        raise DeviceMismatch(
            f"{self._where()}: chunk {seq} {problem} after {self.retries + 1} attempts; line too noisy",
            port=self._port,
        )

    def _settle_damaged_commit(self, expected: str) -> _Reply | None:
        """The COMMIT answer was damaged: commit again, or prove from the stored hash that it took."""
        try:
            return self._exchange_once("CERT", ("COMMIT",), self.timeouts.command)
        except (_Damaged, DeviceProtocolError):
            pass  # NOSTAGE: the first COMMIT went through (or the staging is lost); check what is stored
        stored = self.read_certificate_chain()
        if stored is None or stored.sha256.hex() != expected:
            raise DeviceMismatch(
                f"{self._where()}: could not confirm the certificate write; the previous credential is kept",
                port=self._port,
            )
        return None

    # -- request/reply ----------------------------------------------------------------------
    def _request(self, verb: str, *args: str, deadline: float | None = None, payload: bool = False) -> _Reply:
        """Send a request and return its OK reply, repeating it when the reply arrives damaged.

        A single request is also repeated once after a device reboot: each one is
        self-contained (the pending key is in flash), and a port opened while the
        device boots sees a BOOT event that may come after the first request.
        """
        limit = deadline if deadline is not None else self.timeouts.command
        if payload:
            limit += 2 * transmit_seconds(MAX_PAYLOAD * 4 // 3, self._baud)
        reboots = 0
        for attempt in range(self.retries + 1):
            try:
                return self._exchange_once(verb, args, limit)
            except _Damaged:
                log.info("%s: damaged answer to %s (attempt %d), asking again", self._port, verb, attempt + 1)
            except DeviceRebooted:
                reboots += 1
                if reboots > 1:
                    raise
        raise DeviceProtocolError(
            f"{self._where()}: answers to {verb} kept arriving damaged ({self.retries + 1} attempts)",
            port=self._port,
        )

    def _exchange_once(
        self, verb: str, args: tuple[str, ...], limit: float, *, quiet: bool = False
    ) -> _Reply:
        self.open()
        self._last_id = next_request_id(self._last_id)
        rid = str(self._last_id)
        if quiet:
            log.debug("%s -> @%s %s [%d args]", self._port, rid, verb, len(args))
        else:
            log.debug("%s -> @%s %s %s", self._port, rid, verb, " ".join(a.split("=")[0] for a in args))
        self._transport.write_line(format_frame(rid, verb, *args))
        return self._collect(rid, verb, limit)

    def _collect(self, rid: str, verb: str, limit: float) -> _Reply:
        start = time.monotonic()
        end = start + limit
        silence = self.timeouts.silence + transmit_seconds(2048, self._baud)
        last_line = start
        chunks: list[bytes] = []
        while True:
            line = self._transport.read_line(min(end, last_line + silence))
            now = time.monotonic()
            # checked for every line: a unit that never stops talking (log spam, endless WAIT)
            # must not keep us here past the command's limit
            if now >= end:
                raise DeviceTimeout(
                    f"{self._where()}: {verb} not finished within {limit:.0f} s", port=self._port
                )
            if line is None:
                raise DeviceTimeout(
                    f"{self._where()}: device stopped answering during {verb} (silent {silence:.0f} s)",
                    port=self._port,
                )
            frame = parse_frame(line)
            if frame is None:
                log.debug("%s: ignored %d-byte non-frame line", self._port, len(line))
                continue
            if frame.req_id == EVENT_ID:
                self._on_event(frame, verb)
                continue
            if frame.req_id != rid:
                continue  # a late answer to an earlier request
            last_line = now
            if not frame.intact:
                raise _Damaged(f"{frame.verb[:16]!r} line failed its check")
            if frame.verb == "WAIT":
                continue
            if frame.verb == "DATA":
                chunks.append(self._data_chunk(frame, len(chunks)))
                if sum(map(len, chunks)) > MAX_PAYLOAD * 2:
                    raise DeviceProtocolError(
                        f"{self._where()}: {verb} answer is implausibly large", port=self._port
                    )
                continue
            if frame.verb == "ERR":
                if frame.args[:1] == ("CHECK",):
                    raise _Damaged("the device received our request damaged")
                raise self._error(frame, verb)
            if frame.verb in ("ACK", "NAK"):
                return _Reply(frame, {}, b"")
            if frame.verb == "OK":
                return self._ok(frame, b"".join(chunks))
            raise _Damaged(f"unexpected verb {frame.verb[:16]!r}")

    def _on_event(self, frame: Frame, verb: str) -> None:
        if frame.verb == "BOOT":
            raise DeviceRebooted(
                f"{self._where()}: device rebooted during {verb}; anything staged is lost, "
                "the previous certificate is intact — retry the step",
                port=self._port,
            )

    @staticmethod
    def _data_chunk(frame: Frame, expected_seq: int) -> bytes:
        try:
            chunk = parse_chunk(frame.args)
        except ChunkError as exc:
            raise _Damaged(str(exc)) from None
        if chunk.seq != expected_seq:
            raise _Damaged(f"chunk {chunk.seq} where {expected_seq} was due")
        if not chunk.data:  # carries nothing: an endless run of them would never reach the size limit
            raise _Damaged(f"chunk {chunk.seq} is empty")
        return chunk.data

    @staticmethod
    def _ok(frame: Frame, payload: bytes) -> _Reply:
        try:
            pairs = parse_pairs(frame.args)
        except FrameError:
            raise _Damaged("malformed OK") from None
        if "len" in pairs or "crc" in pairs or payload:
            if pairs.get("len") != str(len(payload)) or pairs.get("crc", "").lower() != crc32_hex(payload):
                raise _Damaged("payload length or CRC does not match the OK line")
        return _Reply(frame, pairs, payload)

    def _error(self, frame: Frame, verb: str) -> DeviceError:
        code = frame.args[0] if frame.args else "?"
        text = " ".join(frame.args[1:])
        text = "".join(ch for ch in text if ch.isprintable())[:120]
        cls, meaning = ERROR_CODES.get(code, (DeviceRefused, "the device refused the command"))
        shown_code = code if code.isalnum() and len(code) <= 16 else "?"
        error = cls(f"{self._where()}: {verb}: {meaning} (device said {shown_code}: {text})", port=self._port)
        error.device_code = shown_code  # type: ignore[attr-defined]
        return error

    def _where(self) -> str:
        return self._identity.serial_number if self._identity else self._port
