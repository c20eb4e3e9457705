"""Certline firmware personality: the reference implementation of docs/device-protocol.md.

Flash layout (survives reboots and simulator restarts): ``serial``, ``active_key``/
``active_alg``, ``pending_key``/``pending_alg``, ``chain_pem``. The staging area of
an upload lives in RAM only, so a reset or power loss before COMMIT loses the
staged data and nothing else, and COMMIT changes flash in one atomic write.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from certline.app.device.certline_protocol import (
    DEFAULT_CHUNK_SIZE,
    EVENT_ID,
    MAX_FRAME_LINE,
    MAX_PAYLOAD,
    PROTOCOL_MAJOR,
    PROTOCOL_VERSION,
    Chunk,
    ChunkError,
    Frame,
    FrameError,
    crc32_hex,
    format_frame,
    is_valid_verb,
    parse_chunk,
    parse_frame,
    parse_pairs,
    split_chunks,
)
from certline.app.pki import KeyAlgorithm
from certline.app.sim import keys
from certline.app.sim.faults import SimReboot
from certline.app.sim.personality import Personality, SimPort

if TYPE_CHECKING:
    from certline.app.sim.simulator import DeviceContext

MODEL = "CL-100"
FIRMWARE = "1.4.2"
SUBJECT_KEYS = ("CN", "O", "OU", "C", "L", "ST", "serialNumber")
KEEPALIVE_SECONDS = 0.5


class _Reply(Exception):  # noqa: N818 - carries an ERR answer out of a handler
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass
class _Staging:
    """An upload in progress (RAM only)."""

    kind: str
    total_len: int
    total_crc: str
    data: bytearray = field(default_factory=bytearray, repr=False)  # may be a private key
    next_seq: int = 0
    last: Chunk | None = field(default=None, repr=False)


class CertlineDevice(Personality):
    """One boot of a Certline device. A new instance is made for every boot (RAM is fresh)."""

    def __init__(self, context: DeviceContext, boot_reason: str = "power") -> None:
        self.ctx = context
        self.flash = context.flash
        self.faults = context.faults
        self.boot_reason = boot_reason
        self._port: SimPort | None = None
        self._staging: _Staging | None = None

    # -- main loop ---------------------------------------------------------------
    def run(self, port: SimPort) -> None:
        self._port = port
        self._banner()
        while True:
            line = port.read_line(timeout=None)
            if line is None:
                continue
            frame = parse_frame(line)
            if frame is None or frame.req_id == EVENT_ID or len(line) > MAX_FRAME_LINE:
                continue  # not addressed to us: ignore, like any line noise
            self._handle(frame)

    def _banner(self) -> None:
        banner = f"\r\nCertline boot ROM 2.1\r\n{MODEL} firmware {FIRMWARE} starting ({self.boot_reason})\r\n"
        self._write(
            banner.encode("ascii")
            + format_frame(EVENT_ID, "BOOT", f"reason={self.boot_reason}", f"fw={FIRMWARE}")
        )

    def _handle(self, frame: Frame) -> None:
        if not frame.intact:
            self._send(frame.req_id, "ERR", "CHECK", "request", "arrived", "damaged")
            return
        handler = getattr(self, f"_cmd_{frame.verb.lower()}", None) if is_valid_verb(frame.verb) else None
        try:
            if handler is None:
                raise _Reply("UNKNOWN", f"unknown command {frame.verb[:16]}")
            if frame.verb != "CHUNK" and self.faults.take("busy"):
                raise _Reply("BUSY", "device busy, try again")
            handler(frame.req_id, frame.args)
        except _Reply as reply:
            words = [
                w.replace("@", "_").replace("*", "_")
                for w in reply.text.split()
                if w.isascii() and w.isprintable()
            ]
            self._send(frame.req_id, "ERR", reply.code, *words)
        except FrameError:
            self._send(frame.req_id, "ERR", "SYNTAX", "malformed", "arguments")

    # -- identity ----------------------------------------------------------------
    def _cmd_hello(self, rid: str, args: tuple[str, ...]) -> None:
        self.faults.checkpoint("hello")
        if args and (not args[0].isdigit() or int(args[0]) != PROTOCOL_MAJOR):
            raise _Reply("VERSION", f"protocol {PROTOCOL_MAJOR} required")
        algs = ",".join(a.value for a in KeyAlgorithm)
        self._send(
            rid, "OK", f"proto={PROTOCOL_VERSION}", f"serial={self.ctx.serial_number}", f"model={MODEL}",
            f"fw={FIRMWARE}", f"algs={algs}", "caps=keygen,import,sign,prove",
            f"maxchunk={DEFAULT_CHUNK_SIZE}", f"maxline={MAX_FRAME_LINE}",
        )  # fmt: skip

    def _cmd_status(self, rid: str, args: tuple[str, ...]) -> None:
        staged = self._staging.kind if self._staging else "none"
        self._send(
            rid, "OK", f"active={self.flash.get('active_alg') or 'none'}",
            f"pending={self.flash.get('pending_alg') or 'none'}",
            f"cert={'yes' if self.flash.get('chain_pem') else 'no'}", f"staged={staged}",
        )  # fmt: skip

    def _cmd_reset(self, rid: str, args: tuple[str, ...]) -> None:
        self._send(rid, "OK")
        raise SimReboot("RESET command")

    # -- keys ----------------------------------------------------------------------
    def _cmd_keygen(self, rid: str, args: tuple[str, ...]) -> None:
        if len(args) != 1:
            raise _Reply("SYNTAX", "usage: KEYGEN <alg>")
        try:
            algorithm = KeyAlgorithm(args[0])
        except ValueError:
            raise _Reply("ALG", f"unsupported algorithm {args[0][:16]}") from None
        latency = self.ctx.keygen_latency.for_algorithm(algorithm)
        self._send(rid, "WAIT", str(int(latency * 1000)))
        started = time.monotonic()
        self.faults.checkpoint("keygen")
        key = keys.generate_key(algorithm)
        self._busy_wait(rid, started + latency)
        self.flash.update(pending_key=keys.key_to_pem(key), pending_alg=algorithm.value)
        self._send(rid, "OK", f"alg={algorithm.value}", f"keyid={_key_id(key)}")

    def _busy_wait(self, rid: str, until: float) -> None:
        """Model slow hardware, sending WAIT keep-alives so the host knows we are alive."""
        assert self._port is not None
        while (remaining := until - time.monotonic()) > 0:
            self._port.sleep(min(remaining, KEEPALIVE_SECONDS))
            if until - time.monotonic() > 0:
                self._send(rid, "WAIT", str(int((until - time.monotonic()) * 1000)))

    def _cmd_csr(self, rid: str, args: tuple[str, ...]) -> None:
        pairs = parse_pairs(args)
        challenge = pairs.pop("cp", None)
        unknown = [k for k in pairs if k not in SUBJECT_KEYS]
        if unknown or not pairs:
            raise _Reply("SYNTAX", "subject needs CN/O/OU/C/L/ST/serialNumber fields")
        slot, key = self._signing_key(prefer_pending=True)
        self.faults.checkpoint("csr")
        try:
            der = keys.build_csr(key, pairs, challenge)
        except (keys.KeyOperationError, ValueError):
            raise _Reply("SYNTAX", "subject value rejected") from None
        self._send_payload(rid, der, f"key={slot}")

    def _signing_key(self, *, prefer_pending: bool) -> tuple[str, keys.DeviceKey]:
        slots = ("pending", "active") if prefer_pending else ("active",)
        for slot in slots:
            pem = self.flash.get(f"{slot}_key")
            if pem:
                return slot, keys.key_from_pem(pem)
        raise _Reply("NOKEY", "no key on device")

    def _cmd_sign(self, rid: str, args: tuple[str, ...]) -> None:
        if len(args) not in (2, 3):
            raise _Reply("SYNTAX", "usage: SIGN <hash> <digest-hex> [pss|pkcs1]")
        try:
            digest = bytes.fromhex(args[1])
        except ValueError:
            raise _Reply("SYNTAX", "digest is not hex") from None
        self._sign(rid, args[0], digest, args[2] if len(args) == 3 else "pkcs1")

    def _cmd_prove(self, rid: str, args: tuple[str, ...]) -> None:
        try:
            nonce = bytes.fromhex(args[0]) if len(args) == 1 else b""
        except ValueError:
            nonce = b""
        if not 16 <= len(nonce) <= 64:
            raise _Reply("SYNTAX", "usage: PROVE <nonce-hex 16..64 bytes>")
        self._sign(rid, "sha256", hashlib.sha256(nonce).digest(), "pkcs1")

    def _sign(self, rid: str, hash_name: str, digest: bytes, padding_name: str) -> None:
        _, key = self._signing_key(prefer_pending=False)
        self.faults.checkpoint("sign")
        try:
            signature = keys.sign_digest(key, digest, hash_name, padding_name)
        except keys.KeyOperationError as exc:
            raise _Reply("ALG", str(exc)) from None
        kind = "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ecdsa"
        self._send_payload(rid, signature, f"alg={kind}")

    # -- uploads -------------------------------------------------------------------
    def _cmd_keyimport(self, rid: str, args: tuple[str, ...]) -> None:
        if args[:1] == ("COMMIT",):
            der = bytes(self._finish_upload("key"))
            try:
                key = keys.key_from_pkcs8_der(der)
            except keys.KeyOperationError:
                raise _Reply("BADKEY", "not a supported unencrypted PKCS#8 key") from None
            self.faults.checkpoint("key-import")
            alg = keys.algorithm_of(key)
            assert alg is not None
            self.flash.update(pending_key=keys.key_to_pem(key), pending_alg=alg.value)
            self._send(rid, "OK", f"alg={alg.value}", f"keyid={_key_id(key)}")
        else:
            self._begin_upload(rid, "key", args)

    def _cmd_cert(self, rid: str, args: tuple[str, ...]) -> None:
        sub = args[0] if args else ""
        if sub == "BEGIN":
            if self.faults.take("refuse", "cert-write"):
                raise _Reply("REFUSED", "certificate store locked")
            self._begin_upload(rid, "cert", args)
        elif sub == "COMMIT":
            self._commit_cert(rid, bytes(self._finish_upload("cert")))
        elif sub == "ABORT":
            self._staging = None
            self._send(rid, "OK")
        elif sub == "READ":
            chain = self.flash.get("chain_pem")
            if not chain:
                raise _Reply("NOCERT", "no certificate stored")
            data = chain.encode("ascii")
            self._send_payload(rid, data, f"sha256={hashlib.sha256(data).hexdigest()}")
        else:
            raise _Reply("SYNTAX", "usage: CERT BEGIN|COMMIT|ABORT|READ")

    def _begin_upload(self, rid: str, kind: str, args: tuple[str, ...]) -> None:
        if len(args) != 3 or args[0] != "BEGIN" or not args[1].isdigit() or len(args[2]) != 8:
            raise _Reply("SYNTAX", "usage: BEGIN <len> <crc32>")
        total = int(args[1])
        if not 0 < total <= MAX_PAYLOAD:
            raise _Reply("TOOBIG", f"payload must be 1..{MAX_PAYLOAD} bytes")
        self._staging = _Staging(kind, total, args[2].lower())
        self._send(rid, "OK", f"maxchunk={DEFAULT_CHUNK_SIZE}")

    def _cmd_chunk(self, rid: str, args: tuple[str, ...]) -> None:
        staging = self._staging
        if staging is None:
            raise _Reply("NOSTAGE", "no upload in progress")
        try:
            chunk = parse_chunk(args)
        except ChunkError as exc:
            self._send(rid, "NAK", str(exc.seq if exc.seq is not None else -1), exc.reason)
            return
        if self.faults.take("corrupt"):
            self._send(rid, "NAK", str(chunk.seq), "crc")
            return
        if chunk.seq == staging.next_seq - 1 and staging.last == chunk:
            self._send(rid, "ACK", str(chunk.seq))  # a repeat after a lost ACK
            return
        if chunk.seq != staging.next_seq:
            self._send(rid, "NAK", str(chunk.seq), "seq", f"expect={staging.next_seq}")
            return
        if len(staging.data) + len(chunk.data) > staging.total_len:
            self._send(rid, "NAK", str(chunk.seq), "size")
            return
        staging.data += chunk.data
        staging.next_seq += 1
        staging.last = chunk
        if staging.kind == "cert":
            self.faults.checkpoint("cert-write")
        self._send(rid, "ACK", str(chunk.seq))

    def _finish_upload(self, kind: str) -> bytearray:
        staging, self._staging = self._staging, None
        if staging is None or staging.kind != kind:
            raise _Reply("NOSTAGE", "no upload in progress")
        if len(staging.data) != staging.total_len or crc32_hex(bytes(staging.data)) != staging.total_crc:
            raise _Reply("INCOMPLETE", "upload length or CRC mismatch")
        return staging.data

    def _commit_cert(self, rid: str, data: bytes) -> None:
        try:
            pem = data.decode("ascii")
            chain = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise _Reply("BADCERT", "not a PEM certificate chain") from None
        if not chain:
            raise _Reply("BADCERT", "empty chain")
        self.faults.checkpoint("cert-commit")
        pending = self.flash.get("pending_key")
        active = self.flash.get("active_key")
        if pending and keys.leaf_matches(pem, keys.key_from_pem(pending)):
            self.flash.update(
                active_key=pending, active_alg=self.flash.get("pending_alg"),
                pending_key=None, pending_alg=None, chain_pem=pem,
            )  # fmt: skip
            slot = "pending"
        elif active and keys.leaf_matches(pem, keys.key_from_pem(active)):
            self.flash.update(chain_pem=pem)
            slot = "active"
        else:
            raise _Reply("NOMATCH", "certificate matches neither pending nor active key")
        self._send(rid, "OK", f"sha256={hashlib.sha256(data).hexdigest()}", f"key={slot}")

    # -- output --------------------------------------------------------------------
    def _send_payload(self, rid: str, payload: bytes, *extra: str) -> None:
        """DATA chunks then ``OK len=<n> crc=<crc32> ...``, handed to the port as one paced stream.

        One write keeps the line busy back to back, as a UART with a deep FIFO would; frame by
        frame, each frame's last partial slice and the next frame's first went out as separate
        writes (and wake-ups of the station's reader) a few milliseconds apart.
        """
        frames = []
        for chunk in split_chunks(payload, DEFAULT_CHUNK_SIZE):
            seq, length, crc, b64 = chunk.args()
            if self.faults.take("corrupt"):
                b64 = ("B" if b64[0] == "A" else "A") + b64[1:]  # CRC now fails on the host
            frames.append(format_frame(rid, "DATA", seq, length, crc, b64))
        frames.append(format_frame(rid, "OK", f"len={len(payload)}", f"crc={crc32_hex(payload)}", *extra))
        self._write(b"".join(frames))

    def _send(self, rid: str, verb: str, *args: str) -> None:
        self._write(format_frame(rid, verb, *args))

    def _write(self, data: bytes) -> None:
        assert self._port is not None
        self._port.write(data)


def _key_id(key: keys.DeviceKey) -> str:
    """First 8 bytes of SHA-256 over the SubjectPublicKeyInfo: lets the host tell keys apart."""
    return hashlib.sha256(keys.public_der(key)).hexdigest()[:16]
