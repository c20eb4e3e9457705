"""Simulated nRF91-series modem: the AT commands Certline's nRF91 driver uses, answered like the modem.

Why faithful rather than convenient: the driver has to survive a real modem, so
the simulator keeps the modem's inconvenient habits — CRLF line endings,
``+CME ERROR: 518`` when credentials are touched while the modem is online,
plain ``ERROR`` until ``AT+CMEE=1``, unsolicited ``+CEREG``/``%XSIM`` lines in the
middle of responses, a multi-line quoted PEM in a ``%CMNG`` read, and no way to
read a private key back. Behaviour and formats follow the nRF91 AT command
reference; see ``docs/nrf91-driver.md`` for what is modelled and what is not.

Credentials live in :class:`~certline.app.sim.flash.Flash` under ``nrf91.cmng`` as
``"<sec_tag>,<type>" -> content`` so a restarted simulator still has them.
``%KEYGEN`` makes real EC P-256 keys and real PKCS#10 CSRs; its COSE part is a
structurally valid COSE_Sign1 signed with a per-device simulated identity key,
but its payload is our own, not Nordic's attestation format.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from certline.app.device.at_parser import AtParseError, Param, b64url_encode, split_params
from certline.app.pki import KeyAlgorithm
from certline.app.sim.faults import DeviceFaults
from certline.app.sim.flash import Flash
from certline.app.sim.keys import KeygenLatency
from certline.app.sim.personality import Personality, SimPort

if TYPE_CHECKING:
    from certline.app.sim.simulator import DeviceContext

log = logging.getLogger(__name__)

MODEL = "nRF9160-SICA"
FIRMWARE = "mfw_nrf9160_1.3.5"
#: Longest AT command line the lenient simulated AT host accepts (quoted PEM included).
MAX_COMMAND_CHARS = 8192
#: What the real AT host keeps per command, terminator included (nRF Connect SDK AT host / Serial
#: LTE Modem: 4096 bytes); a longer command wedges it until reset.
REAL_MAX_COMMAND_BYTES = 4096
#: Real answers are cut at about this many characters.
REAL_MAX_ANSWER_CHARS = 4096
#: DER of ``SEQUENCE { ecdsa-with-SHA256 }`` as cryptography writes it, and the same with the explicit
#: NULL parameter real modems put there (see ``tests/device/fixtures/README.md``).
_ECDSA_SHA256_ALG = bytes.fromhex("300a06082a8648ce3d040302")
_ECDSA_SHA256_ALG_NULL = bytes.fromhex("300c06082a8648ce3d0403020500")
#: Number of credentials the simulated storage holds before answering 515 (memory full).
MAX_CREDENTIALS = 32
#: Credential types: 0 root CA, 1 client certificate, 2 client private key.
CRED_CA, CRED_CERT, CRED_KEY = 0, 1, 2
_SUPPORTED_TYPES = {CRED_CA, CRED_CERT, CRED_KEY, 3, 4}
#: KEYGEN subject attribute names (lower case on the wire) and their OIDs.
_SUBJECT_OIDS: dict[str, x509.ObjectIdentifier] = {
    "c": NameOID.COUNTRY_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME,
    "l": NameOID.LOCALITY_NAME,
    "o": NameOID.ORGANIZATION_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "cn": NameOID.COMMON_NAME,
}
#: Key usage the simulated modem puts in a CSR when the command gives none (matches CSRs seen from
#: real modems: digitalSignature, nonRepudiation, keyEncipherment, keyAgreement).
DEFAULT_KEY_USAGE = "111010000"
_FLASH_CMNG = "nrf91.cmng"
_FLASH_UUID = "nrf91.uuid"
_FLASH_IDENTITY = "nrf91.identity_key"
_IDLE_POLL = 0.5
#: An idle, online modem reports a registration change about every this many idle polls.
_IDLE_URC_POLLS = 10


@dataclass(frozen=True)
class NRF91Options:
    """Behaviour switches of the simulated modem that are not faults."""

    urc_every: int = 3
    """An unsolicited line (``+CEREG``/``%XSIM``) before every Nth response; 0 disables."""
    keygen_overwrites: bool = False
    """KEYGEN over an existing client key: overwrite it (True) or answer 519 (False)."""
    initial_cfun: int = 1
    """Functional mode at boot: the application firmware normally brings the modem online."""
    echo: bool = False
    """Echo every received line back (a terminal-style AT host); the nRF91 AT host does not."""
    real_firmware: bool = True
    """Answer as real modem firmware behind the AT host does (the default): CSRs with the NULL
    parameter in their signature AlgorithmIdentifier, +CSCON/%XTIME among the URCs, a 4096-byte
    command limit that wedges the host until reset when exceeded, answers cut at ~4 KB. False
    gives the older, lenient model (8 KiB commands, strictly DER CSRs)."""


def imei_from_serial(serial_number: str) -> str:
    """A 15-digit IMEI with a valid Luhn digit: the serial itself when it already is one."""
    if re.fullmatch(r"[0-9]{15}", serial_number):
        return serial_number
    digest = hashlib.sha256(serial_number.encode("utf-8")).digest()
    body = "35" + "".join(str(b % 10) for b in digest[:12])
    return body + _luhn_digit(body)


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


# --- minimal CBOR for the COSE_Sign1 part ------------------------------------------------------


def _cbor_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    if n < 0x100:
        return bytes([major << 5 | 24, n])
    if n < 0x10000:
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
    return bytes([major << 5 | 26]) + n.to_bytes(4, "big")


def _cbor(value: object) -> bytes:
    if isinstance(value, bool):
        raise TypeError("bool not needed")
    if isinstance(value, int):
        return _cbor_head(0, value) if value >= 0 else _cbor_head(1, -1 - value)
    if isinstance(value, bytes):
        return _cbor_head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _cbor_head(3, len(raw)) + raw
    if isinstance(value, list):
        return _cbor_head(4, len(value)) + b"".join(_cbor(v) for v in value)
    if isinstance(value, dict):
        return _cbor_head(5, len(value)) + b"".join(_cbor(k) + _cbor(v) for k, v in value.items())
    raise TypeError(f"cannot CBOR-encode {type(value).__name__}")


def cose_sign1(payload: bytes, key: ec.EllipticCurvePrivateKey, kid: bytes) -> bytes:
    """COSE_Sign1 (RFC 9052, tag 18) with ES256: the shape of the modem's KEYGEN signature part."""
    protected = _cbor({1: -7})
    to_sign = _cbor(["Signature1", protected, b"", payload])
    der = key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return _cbor_head(6, 18) + _cbor([protected, {4: kid}, payload, signature])


class _CmeError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Error(Exception):
    """Plain ERROR (syntax, unknown command)."""


class NRF91Personality(Personality):
    """Firmware of one simulated nRF91 modem behind an AT host (echo off, CRLF, CMEE off at boot)."""

    def __init__(
        self,
        flash: Flash,
        serial_number: str,
        faults: DeviceFaults | None = None,
        keygen_latency: float | KeygenLatency = 0.0,
        *,
        boot_reason: str = "power",
        options: NRF91Options | None = None,
    ) -> None:
        """``faults`` are the simulator's per-device switches (busy, refuse, corrupt, garbage,
        unplug/reboot at a point); RAM state (CFUN, CMEE, echo) starts fresh on every boot."""
        self._flash = flash
        self._imei = imei_from_serial(serial_number)
        self._faults = faults or DeviceFaults()
        self._options = options or NRF91Options()
        if isinstance(keygen_latency, KeygenLatency):
            self._keygen_latency = keygen_latency.for_algorithm(KeyAlgorithm.EC_P256)
        else:
            self._keygen_latency = max(0.0, float(keygen_latency))
        self._boot_reason = boot_reason
        self._cfun = self._options.initial_cfun
        self._cmee = 0
        self._echo = self._options.echo
        self._responses = 0
        self._idle_polls = 0
        self._urc_toggle = False
        self._urc_index = 0
        self._wedged = False
        self._port: SimPort | None = None
        if flash.get(_FLASH_UUID) is None:
            flash.update(**{_FLASH_UUID: str(uuid.uuid4())})

    @property
    def imei(self) -> str:
        return self._imei

    # --- main loop -----------------------------------------------------------------------------

    def run(self, port: SimPort) -> None:
        self._port = port
        if self._boot_reason != "power":
            # What the application core prints after a reset, before the AT host is ready.
            self._write_line("*** Booting nRF Connect SDK ***")
            self._write_line("Ready")
        pending: list[str] | None = None
        pending_len = 0
        while True:
            raw = port.read_line(timeout=_IDLE_POLL)
            if raw is None:
                if pending is not None:  # an unterminated quoted string: give up on it, like a timeout
                    pending = None
                    self._reply_error()
                    continue
                self._idle_polls += 1
                if self._cfun == 1 and self._options.urc_every and self._idle_polls % _IDLE_URC_POLLS == 0:
                    self._write_line(self._next_urc())
                continue
            if self._wedged:
                continue  # the real AT host lost the command's end; only a reset brings it back
            text = raw.decode("ascii", errors="replace")
            if self._options.real_firmware and self._overflows(pending, text):
                log.warning(
                    "simulated AT host: command over %d bytes, host wedged until reset",
                    REAL_MAX_COMMAND_BYTES,
                )
                self._wedged = True
                pending = None
                continue
            if self._echo and text.strip():
                self._write_line(text)
            if pending is None:
                if not text.strip():
                    continue
                if text.count('"') % 2 == 1:
                    pending, pending_len = [text], len(text)
                    continue
                self._dispatch(text.strip())
                continue
            pending.append(text)
            pending_len += len(text) + 1
            if pending_len > MAX_COMMAND_CHARS * 2:
                pending = None  # runaway input; drop it
                self._reply_error()
                continue
            if "\n".join(pending).count('"') % 2 == 0:
                command = "\n".join(pending)
                pending = None
                self._dispatch(command.strip())

    # --- output helpers ------------------------------------------------------------------------

    @staticmethod
    def _overflows(pending: list[str] | None, text: str) -> bool:
        """Would this line make the command longer than the real AT host keeps (CRLF included)?"""
        size = sum(len(line) + 1 for line in pending or []) + len(text.rstrip("\r\n")) + 2
        return size > REAL_MAX_COMMAND_BYTES

    def _write_line(self, text: str) -> None:
        assert self._port is not None
        self._port.write(self._encode_line(text))

    def _encode_line(self, text: str) -> bytes:
        if self._options.real_firmware and len(text) > REAL_MAX_ANSWER_CHARS:
            text = text[:REAL_MAX_ANSWER_CHARS]  # cut like the real host: the closing quote is lost
        return text.encode("ascii", errors="replace") + b"\r\n"

    def _next_urc(self) -> str:
        if self._options.real_firmware:
            # As printed by an nRF9151 (mfw 2.0.4) while attaching; see tests/device/fixtures/README.md.
            self._urc_index += 1
            return _REAL_URCS[self._urc_index % len(_REAL_URCS)]
        self._urc_toggle = not self._urc_toggle
        if self._urc_toggle:
            return '+CEREG: 5,"4E5A","0138A12F",7'
        return "%XSIM: 1"

    def _preamble(self) -> None:
        """Noise and URCs that come before a response (the host applies ``slow`` itself)."""
        assert self._port is not None
        if self._faults.take("garbage"):
            # The host only mangles Certline frames, so line noise on an AT line is made here.
            self._port.write(b"\x00\xfe#!~OK~ERROR~\xff\r\n")
        self._responses += 1
        every = self._options.urc_every
        if every and self._responses % every == 0:
            self._write_line(self._next_urc())

    def _reply(self, lines: list[str]) -> None:
        """The response lines and the final OK as one paced write (a PEM is dozens of lines;
        line by line, each went out as its own write and woke the station's reader)."""
        assert self._port is not None
        self._preamble()
        self._port.write(b"".join(self._encode_line(line) for line in [*lines, "OK"]))

    def _reply_error(self) -> None:
        self._preamble()
        self._write_line("ERROR")

    def _reply_cme(self, code: int) -> None:
        self._preamble()
        self._write_line(f"+CME ERROR: {code}" if self._cmee else "ERROR")

    # --- dispatch ------------------------------------------------------------------------------

    def _dispatch(self, command: str) -> None:
        if len(command) > MAX_COMMAND_CHARS:
            self._reply_error()
            return
        head, sep, rest = command.partition("=")
        name = head.strip().upper()
        if not sep and name.endswith("?"):
            name, rest = name[:-1], "?"
        elif sep and rest.strip() == "?":
            name, rest = name + "=?", ""
        handlers = {
            "AT": self._cmd_at,
            "ATE0": self._cmd_echo_off,
            "ATE1": self._cmd_echo_on,
            "AT+CMEE": self._cmd_cmee,
            "AT+CFUN": self._cmd_cfun,
            "AT+CGSN": self._cmd_cgsn,
            "AT+CGMM": self._cmd_cgmm,
            "AT+CGMR": self._cmd_cgmr,
            "AT%KEYGEN": self._cmd_keygen,
            "AT%CMNG": self._cmd_cmng,
        }
        handler = handlers.get(name)
        try:
            if handler is None:
                raise _Error
            lines = handler(rest if sep or rest == "?" else None)
        except _CmeError as exc:
            self._reply_cme(exc.code)
        except (_Error, AtParseError, ValueError):
            self._reply_error()
        else:
            self._reply(lines)
            if name == "AT+CFUN" and self._cfun == 4 and self._options.urc_every:
                self._write_line("+CEREG: 0")

    def _params(self, arg: str | None, minimum: int, maximum: int) -> list[Param]:
        if arg is None:
            raise _Error
        params = split_params(arg)
        if not minimum <= len(params) <= maximum:
            raise _Error
        return params

    @staticmethod
    def _int(param: Param, low: int = 0, high: int = 2147483647) -> int:
        if param.quoted or not re.fullmatch(r"[0-9]{1,10}", param.value):
            raise _Error
        value = int(param.value)
        if not low <= value <= high:
            raise _Error
        return value

    # --- simple commands -----------------------------------------------------------------------

    def _cmd_at(self, arg: str | None) -> list[str]:
        if arg is not None:
            raise _Error
        return []

    def _cmd_echo_off(self, arg: str | None) -> list[str]:
        self._echo = False
        return []

    def _cmd_echo_on(self, arg: str | None) -> list[str]:
        self._echo = True
        return []

    def _cmd_cmee(self, arg: str | None) -> list[str]:
        if arg == "?":
            return [f"+CMEE: {self._cmee}"]
        (param,) = self._params(arg, 1, 1)
        self._cmee = self._int(param, 0, 1)
        return []

    def _cmd_cfun(self, arg: str | None) -> list[str]:
        if arg == "?":
            return [f"+CFUN: {self._cfun}"]
        (param,) = self._params(arg, 1, 1)
        mode = self._int(param, 0, 44)
        if mode not in (0, 1, 2, 4, 20, 21, 30, 31, 40, 41, 44):
            raise _Error
        self._cfun = 4 if mode >= 20 else mode
        return []

    def _cmd_cgsn(self, arg: str | None) -> list[str]:
        if arg is None:
            return [self._imei]
        (param,) = self._params(arg, 1, 1)
        if self._int(param, 0, 3) != 1:
            raise _Error
        return [f'+CGSN: "{self._imei}"']

    def _cmd_cgmm(self, arg: str | None) -> list[str]:
        if arg is not None:
            raise _Error
        return [MODEL]

    def _cmd_cgmr(self, arg: str | None) -> list[str]:
        if arg is not None:
            raise _Error
        return [FIRMWARE]

    # --- credential storage --------------------------------------------------------------------

    def _store(self) -> dict[str, str]:
        return dict(self._flash.get(_FLASH_CMNG, {}))

    def _guard_credential_command(self, modifies: bool, point: str | None) -> None:
        """Faults and the offline rule shared by %KEYGEN and %CMNG."""
        if self._faults.take("refuse", point):
            raise _CmeError(514)
        if self._faults.take("busy", point):
            raise _CmeError(518)
        if modifies and self._cfun not in (0, 4):
            raise _CmeError(518)

    def _cmd_cmng(self, arg: str | None) -> list[str]:
        params = self._params(arg, 1, 5)
        opcode = self._int(params[0], 0, 3)
        if opcode == 1:
            return self._cmng_list(params[1:])
        if len(params) < 3:
            raise _Error
        sec_tag = self._int(params[1])
        cred_type = self._int(params[2], 0, 11)
        if cred_type not in _SUPPORTED_TYPES:
            raise _Error
        key = f"{sec_tag},{cred_type}"
        if opcode == 0:
            if len(params) < 4 or not params[3].quoted or not params[3].value:
                raise _Error
            point = "key-import" if cred_type == CRED_KEY else "cert-write"
            self._guard_credential_command(modifies=True, point=point)
            return self._cmng_write(key, cred_type, params[3].value, point)
        if len(params) != 3:
            raise _Error
        self._guard_credential_command(modifies=opcode == 3, point=None)
        store = self._store()
        if key not in store:
            raise _CmeError(513)
        if opcode == 2:
            if cred_type == CRED_KEY:
                raise _CmeError(514)
            content = store[key]
            sha = _sha_hex(content)
            if self._faults.take("corrupt", "cert-commit"):
                content = _flip_one_base64_char(content)  # what a flaky flash read would return
            return [f'%CMNG: {sec_tag},{cred_type},"{sha}","{content}"']
        del store[key]
        self._flash.update(**{_FLASH_CMNG: store})
        return []

    def _cmng_list(self, params: list[Param]) -> list[str]:
        tag_filter = self._int(params[0]) if len(params) >= 1 else None
        type_filter = self._int(params[1], 0, 11) if len(params) >= 2 else None
        lines = []
        for key, content in sorted(self._store().items(), key=lambda kv: _key_order(kv[0])):
            tag, ctype = _key_order(key)
            if tag_filter is not None and tag != tag_filter:
                continue
            if type_filter is not None and ctype != type_filter:
                continue
            lines.append(f'%CMNG: {tag},{ctype},"{_sha_hex(content)}"')
        return lines

    def _cmng_write(self, key: str, cred_type: int, content: str, point: str) -> list[str]:
        data = content.encode("ascii", errors="replace")
        if cred_type in (CRED_CA, CRED_CERT):
            try:
                x509.load_pem_x509_certificates(data)
            except ValueError:
                raise _CmeError(527) from None
        elif cred_type == CRED_KEY:
            try:
                serialization.load_pem_private_key(data, password=None)
            except (ValueError, TypeError):
                raise _CmeError(527) from None
        store = self._store()
        if key not in store and len(store) >= MAX_CREDENTIALS:
            raise _CmeError(515)
        self._faults.checkpoint(point)  # unplug/reboot before the write reaches flash
        store[key] = content
        self._flash.update(**{_FLASH_CMNG: store})
        if cred_type == CRED_CERT:
            self._faults.checkpoint("cert-commit")  # written, but the OK never arrives
        return []

    # --- key generation ------------------------------------------------------------------------

    def _cmd_keygen(self, arg: str | None) -> list[str]:
        params = self._params(arg, 2, 5)
        sec_tag = self._int(params[0])
        key_type = self._int(params[1], 0, 11)
        content_kind = self._int(params[2], 0, 1) if len(params) >= 3 and params[2].value else 0
        attributes = params[3] if len(params) >= 4 and (params[3].quoted or params[3].value) else None
        key_usage = params[4] if len(params) >= 5 and (params[4].quoted or params[4].value) else None
        if key_type != CRED_KEY or content_kind != 0:
            raise _Error  # only client key + CSR is modelled
        if attributes is not None and not attributes.quoted:
            raise _Error
        if key_usage is not None and (
            not key_usage.quoted or not re.fullmatch(r"[01]{1,9}", key_usage.value)
        ):
            raise _Error
        subject = self._subject(attributes.value if attributes else None)
        self._guard_credential_command(modifies=True, point="keygen")
        key_slot = f"{sec_tag},{CRED_KEY}"
        store = self._store()
        if key_slot in store and not self._options.keygen_overwrites:
            raise _CmeError(519)
        if key_slot not in store and len(store) >= MAX_CREDENTIALS:
            raise _CmeError(515)
        assert self._port is not None
        self._faults.checkpoint("keygen")
        if self._keygen_latency:
            self._port.sleep(self._keygen_latency)
        private_key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(subject)
            .add_extension(_key_usage(key_usage.value if key_usage else DEFAULT_KEY_USAGE), False)
            .sign(private_key, hashes.SHA256())
        )
        csr_der = csr.public_bytes(serialization.Encoding.DER)
        if self._options.real_firmware:
            csr_der = with_null_signature_parameter(csr_der)
        store[key_slot] = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        self._flash.update(**{_FLASH_CMNG: store})
        self._faults.checkpoint("csr")  # the old key is already replaced, the CSR never arrives
        cose = self._cose_for(csr_der)
        if self._faults.take("corrupt", "csr"):
            csr_der = csr_der[:-1] + bytes([csr_der[-1] ^ 0x01])  # breaks the self-signature
        return [f'%KEYGEN: "{b64url_encode(csr_der)}.{b64url_encode(cose)}"']

    def _subject(self, attributes: str | None) -> x509.Name:
        if attributes is None or not attributes:
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self._flash.get(_FLASH_UUID))])
        names = []
        for part in attributes.split(","):
            attr, eq, value = part.partition("=")
            oid = _SUBJECT_OIDS.get(attr.strip().lower())
            if not eq or oid is None or not value:
                raise _Error
            try:
                names.append(x509.NameAttribute(oid, value))
            except ValueError:  # e.g. a country name that is not two letters
                raise _Error from None
        return x509.Name(names)

    def _cose_for(self, csr_der: bytes) -> bytes:
        pem = self._flash.get(_FLASH_IDENTITY)
        if pem is None:
            identity = ec.generate_private_key(ec.SECP256R1())
            pem = identity.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii")
            self._flash.update(**{_FLASH_IDENTITY: pem})
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        device_uuid = str(self._flash.get(_FLASH_UUID))
        payload = _cbor([1, device_uuid, hashlib.sha256(csr_der).digest()])
        kid = hashlib.sha256(device_uuid.encode("ascii")).digest()[:8]
        return cose_sign1(payload, key, kid)


class Nrf91Device(NRF91Personality):
    """The simulator registry's entry point: built as ``Nrf91Device(context, boot_reason)`` at every boot.

    The modem reports an IMEI as its serial number; the simulator's serial
    (``NRF-000001``) is turned into a stable, Luhn-valid IMEI by :func:`imei_from_serial`.
    """

    def __init__(self, context: DeviceContext, boot_reason: str = "power") -> None:
        super().__init__(
            context.flash,
            context.serial_number,
            context.faults,
            context.keygen_latency,
            boot_reason=boot_reason,
        )


_REAL_URCS = (
    '+CEREG: 2,"1D23","0D70394B",9',
    "+CSCON: 1",
    '+CEREG: 1,"1D23","0D70394B",9,,,"11100000","11100000"',
    '%XTIME: "23","62608190603323","00"',
    "+CSCON: 0",
)


def with_null_signature_parameter(csr_der: bytes) -> bytes:
    """Re-encode a CSR's outer ``ecdsa-with-SHA256`` AlgorithmIdentifier with an explicit NULL, as
    nRF91 modem firmware 1.3.x/2.0.x does. The signed CertificationRequestInfo is unchanged, so the
    signature stays valid; only strict DER parsers (cryptography 49+) refuse the result."""
    tail = csr_der.rfind(_ECDSA_SHA256_ALG)
    if tail < 0 or csr_der[0] != 0x30:
        return csr_der
    length_bytes = 1 if csr_der[1] < 0x80 else 1 + (csr_der[1] & 0x7F)
    body = csr_der[1 + length_bytes :]
    tail -= 1 + length_bytes
    body = body[:tail] + _ECDSA_SHA256_ALG_NULL + body[tail + len(_ECDSA_SHA256_ALG) :]
    if len(body) < 0x80:
        return b"\x30" + bytes([len(body)]) + body
    raw = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(raw)]) + raw + body


def _sha_hex(content: str) -> str:
    return hashlib.sha256(content.encode("ascii", errors="replace")).hexdigest().upper()


def _flip_one_base64_char(pem: str) -> str:
    """Change one character of the base64 body (PEM armour intact), as a bad flash read would."""
    lines = pem.split("\n")
    for i, line in enumerate(lines):
        if line and not line.startswith("-----"):
            swapped = "B" if line[0] != "B" else "C"
            lines[i] = swapped + line[1:]
            break
    return "\n".join(lines)


def _key_order(key: str) -> tuple[int, int]:
    tag, _, ctype = key.partition(",")
    return int(tag), int(ctype)


def _key_usage(bits: str) -> x509.KeyUsage:
    flags = [c == "1" for c in bits.ljust(9, "0")]
    return x509.KeyUsage(
        digital_signature=flags[0],
        content_commitment=flags[1],
        key_encipherment=flags[2],
        data_encipherment=flags[3],
        key_agreement=flags[4],
        key_cert_sign=flags[5],
        crl_sign=flags[6],
        encipher_only=flags[7] and flags[4],
        decipher_only=flags[8] and flags[4],
    )
