"""Driver for nRF91-series modems (nRF9160/nRF9161/nRF9151) over their AT command interface.

Why it looks the way it does (details and references in ``docs/nrf91-driver.md``):

* ``%KEYGEN`` makes a new EC P-256 key *and* its CSR in one command and stores the
  key straight into the security tag (``sec_tag``) the application uses. There is
  no pending slot and no atomic commit on the modem, so ``generate_key`` only
  records the request and ``create_csr`` does the work; the old key is gone from
  that moment. A tag that already holds a client certificate is therefore a
  working credential at risk (:meth:`credential_at_risk`): the driver refuses to
  touch it until the station, on the operator's request, journaled it and called
  :meth:`allow_replacing`.
* Credential writes and ``%KEYGEN`` need the modem offline. The driver asks for
  the functional mode it finds (``AT+CFUN?``), switches to CFUN=4 only when the
  modem is online and restores the found mode afterwards, also after a failure.
  A modem still attaching answers ``+CME ERROR: 518``: CFUN=4 again and a
  bounded number of retries.
* The AT host keeps at most 4096 bytes per command, terminator included, and cuts
  answers at about 4 KB. Every ``%CMNG`` write is checked against that before
  the unit is touched, and writes are verified with the ``%CMNG`` list hash,
  never by reading a large object back.
* The modem cannot sign arbitrary data over AT, so ``can_sign`` is False.
* ``%CMNG`` hashes exactly the bytes written, so PEM goes out with LF line
  endings and the driver compares the modem's SHA-256 with its own after writing.

Key material never reaches a log line or an exception message: commands are
logged up to their first double quote only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certline.app.device import at_parser as at
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
from certline.app.pki import normalise_csr_der

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Default security tag. Chosen outside the tags Nordic's samples and nRF Cloud use
#: (nRF Cloud: 16842753) so a station never silently replaces another service's
#: credentials; set the tag your application firmware opens TLS with via the
#: constructor or ``CERTLINE_NRF91_SEC_TAG``.
DEFAULT_SEC_TAG = 17228  # 0x434C, "CL"
SEC_TAG_ENV = "CERTLINE_NRF91_SEC_TAG"
MAX_SEC_TAG = 2147483647

CRED_ROOT_CA = 0
CRED_CLIENT_CERT = 1
CRED_CLIENT_KEY = 2

#: Longest command the AT host keeps, terminator included: 4096 bytes. The nRF Connect SDK AT host
#: library reads a command into one buffer of ``CONFIG_AT_HOST_CMD_MAX_LEN`` bytes (``AT_BUF_SIZE``
#: in ``at_host.c``); the Serial LTE Modem's is ``SLM_AT_MAX_CMD_LEN 4096``. Beyond that the host
#: drops the rest, loses the closing quote and stays wedged until reset, so nothing longer is sent.
MAX_COMMAND_BYTES = 4096
#: What the driver appends to every command.
TERMINATOR = b"\r\n"
#: Answers are cut at about 4 KB; a ``%CMNG`` read whose answer could be longer is never relied on.
MAX_ANSWER_BYTES = 4096
#: Functional modes in which credentials may be written (0 = powered off, 4 = offline).
_OFFLINE_MODES = frozenset({0, 4})

CAPABILITIES = Capabilities(
    key_algorithms=(KeyAlgorithm.EC_P256,),
    on_device_keygen=True,
    import_server_key=True,
    can_sign=False,
    separate_keygen_and_csr=False,
)

#: CSR subject attributes %KEYGEN accepts, in the order the driver sends them.
_SUBJECT_ORDER = ("C", "ST", "L", "O", "OU", "CN")
_PEM_BLOCK_RE = re.compile(r"-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n")


def _part_name(kind: str, pem: str) -> str:
    """``the client certificate (CN=…, 812 bytes)`` / ``the CA certificates (CN=…, CN=…, 3100 bytes)``."""
    names = []
    for block in _PEM_BLOCK_RE.findall(pem):
        try:
            names.append(x509.load_pem_x509_certificate(block.encode("ascii")).subject.rfc4514_string())
        except ValueError:
            names.append("unreadable certificate")
    label = "the client certificate" if kind == "leaf" else "the CA certificates"
    return f"{label} ({'; '.join(names)}, {len(pem)} bytes)"


def _describe(command: str) -> str:
    """The command up to its first quoted argument: safe to log whatever follows."""
    head = command.split('"', 1)[0]
    return head + ('"…"' if '"' in command else "")


def _resolve_sec_tag(sec_tag: int | None) -> int:
    if sec_tag is None:
        env = os.environ.get(SEC_TAG_ENV, "").strip()
        if not env:
            return DEFAULT_SEC_TAG
        if not env.isdigit():
            raise ValueError(f"{SEC_TAG_ENV} must be a number 0..{MAX_SEC_TAG}")
        sec_tag = int(env)
    if not 0 <= sec_tag <= MAX_SEC_TAG:
        raise ValueError(f"the nRF91 security tag must be 0..{MAX_SEC_TAG}")
    return sec_tag


class NRF91Driver(DeviceDriver):
    """One nRF91 modem on one serial port, spoken to with AT commands."""

    name = "nrf91"

    def __init__(
        self,
        port: str,
        baud: int = 115200,
        *,
        sec_tag: int | None = None,
        transport: SerialTransport | None = None,
        command_timeout: float = 5.0,
        offline_timeout: float = 15.0,
        keygen_timeout: float = 60.0,
        busy_retries: int = 5,
        busy_backoff: float = 0.3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._port = port
        self._transport = transport or SerialTransport(port, baud)
        self.sec_tag = _resolve_sec_tag(sec_tag)
        self._command_timeout = command_timeout
        self._offline_timeout = offline_timeout
        self._keygen_timeout = keygen_timeout
        self._busy_retries = max(0, busy_retries)
        self._busy_backoff = max(0.0, busy_backoff)
        self._sleep = sleep
        self._requested: KeyAlgorithm | None = None
        self._pending_public_der: bytes | None = None
        """SubjectPublicKeyInfo of the key KEYGEN/import put into the tag, to check the leaf against."""
        self._replace_allowed: bytes | None = None
        """Modem hash of the client certificate the station journaled and may now replace."""
        self._written: dict[int, str] = {}
        """Content this driver wrote and verified by the modem's hash, per credential type."""

    # --- DeviceDriver --------------------------------------------------------------------------

    @property
    def port(self) -> str:
        return self._port

    def identify(self) -> DeviceIdentity:
        self._open()
        # A partial line left in the modem's input (noise, a half-typed command) turns the
        # first AT into an ERROR; the second one starts on a clean line.
        first = self._command("AT")
        if not first.ok:
            self._expect_ok(self._command("AT"), "the modem did not answer AT")
        self._expect_ok(self._command("AT+CMEE=1"), "enabling error codes (AT+CMEE=1)")
        imei = self._query("AT+CGSN=1", "+CGSN:", at.parse_imei)
        model = self._query("AT+CGMM", None, lambda r: at.parse_text_line(r, "model"))
        firmware = self._query("AT+CGMR", None, lambda r: at.parse_text_line(r, "firmware version"))
        log.info("%s: nRF91 modem %s, firmware %s", self._port, model, firmware)
        return DeviceIdentity(
            serial_number=imei,
            model=model,
            firmware=firmware,
            protocol_version="nrf91-at",
            capabilities=CAPABILITIES,
        )

    def generate_key(self, algorithm: KeyAlgorithm) -> None:
        """Record the request only: %KEYGEN makes the key together with the CSR (see module doc)."""
        if algorithm is not KeyAlgorithm.EC_P256:
            raise DeviceUnsupported(
                f"the nRF91 modem generates only EC P-256 keys, not {algorithm.value}",
                port=self._port,
            )
        self._requested = algorithm

    def credential_at_risk(self) -> StoredCredential | None:
        """The client certificate the tag holds (with the modem's hash), or None.

        Only the ``%CMNG`` list and a read of the leaf (well below the answer limit) are
        used; nothing on the unit changes.
        """
        self._open()
        self._enable_error_codes()
        listed = self._list_hashes()
        if CRED_CLIENT_CERT not in listed:
            return None
        leaf_pem = ""
        try:
            entry = self._read_entry(CRED_CLIENT_CERT)
        except (DeviceProtocolError, DeviceTimeout, DeviceMismatch) as exc:
            log.warning("%s: could not read the existing client certificate back (%s)", self._port, exc)
            entry = None
        if entry is not None:
            leaf_pem = entry[0]
        return StoredCredential(chain_pem=leaf_pem, sha256=listed[CRED_CLIENT_CERT])

    def allow_replacing(self, credential: StoredCredential) -> None:
        self._replace_allowed = credential.sha256

    def create_csr(self, subject: dict[str, str], challenge_password: str | None = None) -> bytes:
        """%KEYGEN into the tag; returns the CSR exactly as the modem sent it.

        Real modems encode the signature AlgorithmIdentifier with an explicit NULL; the
        self-signature and key are checked on the normalised form (:func:`certline.app.pki.normalise_csr_der`),
        and the station posts that form. Everything that can be checked is checked before the
        modem is touched; a tag holding a client certificate is refused unless replacing it
        was allowed.
        """
        if challenge_password:
            raise DeviceUnsupported(
                "the nRF91 %KEYGEN command cannot put a challengePassword into the CSR; "
                "use a profile without one",
                port=self._port,
            )
        attributes = self._attributes(subject)
        command = f"AT%KEYGEN={self.sec_tag},{CRED_CLIENT_KEY},0"
        if attributes:
            command += "," + at.quote_at_string(attributes, "certificate subject")
        self._check_fits(command, "the %KEYGEN command")
        self._open()
        self._enable_error_codes()
        self._refuse_unless_replaceable()
        with self._offline():
            resp = self._credential_command(command, "%KEYGEN:", self._keygen_timeout, "generating the key")
            if resp.final == at.FinalResult(at.FinalKind.CME, 519):
                # Older modem firmware refuses to overwrite a client key: delete it, then generate
                # at once (the shortest window the modem allows).
                log.info("%s: replacing the existing key in security tag %d", self._port, self.sec_tag)
                self._delete(CRED_CLIENT_KEY)
                resp = self._credential_command(
                    command, "%KEYGEN:", self._keygen_timeout, "generating the key"
                )
            self._expect_ok(resp, "generating the key (%KEYGEN)")
        if resp.urcs:
            log.debug("%s: %d unsolicited lines around %%KEYGEN ignored", self._port, len(resp.urcs))
        try:
            csr_der = at.parse_keygen(resp).csr_der
        except at.AtParseError as exc:
            raise DeviceProtocolError(f"%KEYGEN answer: {exc}", port=self._port) from None
        self._pending_public_der = self._check_csr(csr_der, subject)
        return csr_der

    def import_private_key(self, pkcs8_der: bytes) -> None:
        try:
            key = serialization.load_der_private_key(pkcs8_der, password=None)
        except (ValueError, TypeError):
            raise DeviceBadInput(
                "the server-generated key is not an unencrypted PKCS#8 key", port=self._port
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise DeviceUnsupported("the nRF91 modem accepts only EC P-256 keys", port=self._port)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        public_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        del key
        try:
            self._check_fits(self._write_command(CRED_CLIENT_KEY, pem, "the private key"), "the private key")
            self._open()
            self._enable_error_codes()
            self._refuse_unless_replaceable()
            with self._offline():
                self._write_credential(CRED_CLIENT_KEY, pem, "the private key")
            expected = hashlib.sha256(pem.encode("ascii")).digest()
        finally:
            del pem  # do not keep the key alive in a traceback's frame
        listed = self._list_hashes()
        if listed.get(CRED_CLIENT_KEY) != expected:
            raise DeviceMismatch(
                "the modem's hash of the private key differs from what was written", port=self._port
            )
        self._pending_public_der = public_der

    def write_certificate_chain(self, chain_pem: str) -> None:
        leaf_pem, ca_pem = self._split_chain(chain_pem)
        leaf = x509.load_pem_x509_certificate(leaf_pem.encode("ascii"))
        leaf_public = leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if self._pending_public_der is not None and leaf_public != self._pending_public_der:
            raise DeviceMismatch(
                "the certificate is for a different key than the one in the modem; nothing written",
                port=self._port,
            )
        # Every part is checked against the AT host's limit before the unit is touched.
        self._check_fits(self._write_command(CRED_CLIENT_CERT, leaf_pem, "x"), _part_name("leaf", leaf_pem))
        if ca_pem:
            self._check_fits(
                self._write_command(CRED_ROOT_CA, ca_pem, "x"), _part_name("CA", ca_pem), parts=ca_pem
            )
        self._open()
        self._enable_error_codes()
        with self._offline():
            # CA first, client certificate last: the tag's key already changed at %KEYGEN time, and
            # the leaf is the write that makes the credential usable again.
            if ca_pem:
                self._write_credential(CRED_ROOT_CA, ca_pem, "the CA certificates")
            else:
                self._delete(CRED_ROOT_CA)
            self._write_credential(CRED_CLIENT_CERT, leaf_pem, "the client certificate")
        # Verify with the modem's own hashes (%CMNG list), never by reading back large objects.
        listed = self._list_hashes()
        for cred_type, content, what in (
            (CRED_CLIENT_CERT, leaf_pem, "client certificate"),
            (CRED_ROOT_CA, ca_pem, "CA certificates"),
        ):
            if not content:
                continue
            if listed.get(cred_type) != hashlib.sha256(content.encode("ascii")).digest():
                raise DeviceMismatch(
                    f"the modem's hash of the {what} differs from what was written", port=self._port
                )
            self._written[cred_type] = content
        self._pending_public_der = None
        self._requested = None
        self._replace_allowed = None

    def read_certificate_chain(self) -> StoredCredential | None:
        """Client certificate (type 1) then CA certificates (type 0) of the tag, each hash-checked.

        The modem hashes each entry separately (``%CMNG`` list). An entry this driver wrote is
        recognised by that hash and not read back: a large CA chain would exceed the AT
        host's ~4 KB answer limit. Other entries are read (``%CMNG`` read) and their content
        checked against the modem's hash. With a leaf only, the returned hash is the modem's
        own; with CA certificates too, it is the SHA-256 of the concatenation.
        """
        self._open()
        self._enable_error_codes()
        listed = self._list_hashes()
        if CRED_CLIENT_CERT not in listed:
            return None
        leaf = self._known_or_read(CRED_CLIENT_CERT, listed)
        if leaf is None:
            return None
        ca = self._known_or_read(CRED_ROOT_CA, listed) if CRED_ROOT_CA in listed else None
        if ca is None:
            return StoredCredential(chain_pem=leaf[0], sha256=leaf[1])
        chain = leaf[0] + ca[0]
        return StoredCredential(chain_pem=chain, sha256=hashlib.sha256(chain.encode("ascii")).digest())

    def sign_digest(self, digest: bytes, hash_name: str = "sha256", rsa_padding: str = "pkcs1v15") -> bytes:
        raise DeviceUnsupported(
            "the nRF91 AT interface has no command to sign with the stored key, so re-enrollment "
            "with the key on the device is not possible; the profile may allow a new passcode "
            "enrollment instead",
            port=self._port,
        )

    def close(self) -> None:
        self._transport.close()

    # --- AT plumbing ---------------------------------------------------------------------------

    def open(self) -> None:
        """Open the port now (the registry calls this so a bad port fails before any step)."""
        self._open()

    def _open(self) -> None:
        if not self._transport.is_open:
            self._transport.open()

    def _flush_input(self) -> None:
        self._transport.flush_input()  # raises DeviceLost on a vanished port

    def _check_fits(self, command: str, what: str, parts: str | None = None) -> None:
        """Refuse, before anything is sent, a command the modem's AT host cannot hold."""
        size = len(command.encode("ascii", errors="replace")) + len(TERMINATOR)
        if size <= MAX_COMMAND_BYTES:
            return
        detail = ""
        if parts:
            sizes = [len(block) for block in _PEM_BLOCK_RE.findall(parts)]
            detail = f" ({len(sizes)} certificates of {', '.join(map(str, sizes))} bytes share one entry)"
        raise DeviceBadInput(
            f"{what} would make a {size}-byte AT command{detail}; the modem's AT host keeps at most "
            f"{MAX_COMMAND_BYTES} bytes including the terminator, so nothing was written to the unit",
            port=self._port,
        )

    def _command(
        self, command: str, prefix: str | None = None, timeout: float | None = None
    ) -> at.AtResponse:
        """Send one command and collect its response until the final result code or the deadline."""
        data = command.encode("ascii") + TERMINATOR
        if len(data) > MAX_COMMAND_BYTES:
            raise DeviceBadInput(
                f"{_describe(command)} would be {len(data)} bytes; the modem's AT host keeps at most "
                f"{MAX_COMMAND_BYTES}",
                port=self._port,
            )
        deadline = time.monotonic() + (timeout if timeout is not None else self._command_timeout)
        self._flush_input()
        log.debug("%s -> %s", self._port, _describe(command))
        self._transport.write_line(data)
        collector = at.ResponseCollector(prefix, echo=command.split("\n", 1)[0])
        while True:
            raw = self._transport.read_line(deadline)
            if raw is None:
                raise DeviceTimeout(f"the modem did not finish {_describe(command)} in time", port=self._port)
            try:
                result = collector.feed(raw.decode("ascii", errors="replace"))
            except at.AtParseError as exc:
                raise DeviceProtocolError(f"{_describe(command)}: {exc}", port=self._port) from None
            if result is not None:
                log.debug("%s <- %s (%d URCs ignored)", self._port, result.final.kind.value, len(result.urcs))
                return result

    def _query(self, command: str, prefix: str | None, parse: Callable[[at.AtResponse], T]) -> T:
        """An idempotent query, asked twice if line noise spoiled the first answer."""
        for attempt in (1, 2):
            resp = self._command(command, prefix)
            self._expect_ok(resp, command)
            try:
                return parse(resp)
            except at.AtParseError as exc:
                if attempt == 2:
                    raise DeviceProtocolError(f"{command}: {exc}", port=self._port) from None
        raise AssertionError("unreachable")

    def _expect_ok(self, resp: at.AtResponse, what: str) -> None:
        if resp.ok:
            return
        final = resp.final
        code = final.code if final.kind in (at.FinalKind.CME, at.FinalKind.CMS) else None
        message = f"{what}: {at.cme_message(code)}"
        if code in at.RETRYABLE_CME:
            raise DeviceBusy(message, port=self._port)
        raise DeviceRefused(message, port=self._port)

    def _bulk_timeout(self, nbytes: int) -> float:
        """Deadline for a command moving ``nbytes`` of PEM: twice its wire time on top of the usual.

        At 9600 baud a 4 KiB chain alone takes over 4 s on the wire.
        """
        baud = getattr(self._transport, "baud", 115200) or 115200
        return self._command_timeout + 2.0 * nbytes * 10.0 / baud

    def _enable_error_codes(self) -> None:
        """``AT+CMEE=1``: a modem boots (and resets) with error codes off, answering a bare ERROR."""
        self._expect_ok(self._command("AT+CMEE=1"), "enabling error codes (AT+CMEE=1)")

    def _functional_mode(self) -> int:
        return self._query("AT+CFUN?", "+CFUN:", at.parse_cfun)

    def _go_offline(self) -> None:
        """CFUN=4 (offline, SIM kept): required for %KEYGEN and credential writes."""
        self._expect_ok(
            self._command("AT+CFUN=4", timeout=self._offline_timeout),
            "switching the modem offline (AT+CFUN=4)",
        )

    @contextmanager
    def _offline(self) -> Iterator[None]:
        """Offline only as far as needed, for the block; the mode found is restored afterwards.

        A modem found offline (CFUN=0/4) is left as it is. One found online (CFUN=1, attached)
        gets CFUN=4 and, when the block ends - also by an exception - its mode back, so a
        unit in the field is not left off the network by a provisioning attempt.
        """
        found = self._functional_mode()
        if found in _OFFLINE_MODES:
            yield
            return
        self._go_offline()
        try:
            yield
        finally:
            try:
                self._expect_ok(
                    self._command(f"AT+CFUN={found}", timeout=self._offline_timeout),
                    f"restoring the modem's functional mode (AT+CFUN={found})",
                )
            except DeviceError as exc:  # never hide the error that ended the block
                log.warning("%s: could not restore functional mode %d: %s", self._port, found, exc)

    def _refuse_unless_replaceable(self) -> None:
        """Stop before touching a tag that holds a client certificate nobody allowed to replace."""
        listed = self._list_hashes()
        held = listed.get(CRED_CLIENT_CERT)
        if held is not None and held != self._replace_allowed:
            raise DeviceRefused(
                f"security tag {self.sec_tag} already holds a client certificate (modem SHA-256 "
                f"{held.hex().upper()[:16]}…): the unit is already provisioned and was left untouched; "
                "re-provision it explicitly to replace it",
                port=self._port,
            )

    def _credential_command(
        self, command: str, prefix: str | None, timeout: float, what: str
    ) -> at.AtResponse:
        """Run a command that needs the modem offline, retrying while it answers 518/528.

        Returns the last response (OK or a non-retryable error) for the caller to judge.
        """
        delay = self._busy_backoff
        for attempt in range(self._busy_retries + 1):
            resp = self._command(command, prefix, timeout)
            if resp.final.kind is at.FinalKind.ERROR:
                # A bare ERROR: the modem reset and error codes are off again (CMEE=0). Turn them
                # on and ask once more, so the technician gets the reason and 518 gets retried.
                self._enable_error_codes()
                resp = self._command(command, prefix, timeout)
            if resp.final.kind is not at.FinalKind.CME or resp.final.code not in at.RETRYABLE_CME:
                return resp
            if attempt == self._busy_retries:
                break
            log.info("%s: modem busy while %s (CME %s); retrying", self._port, what, resp.final.code)
            self._sleep(delay)
            delay = min(delay * 2, 2.0)
            if resp.final.code == 518:
                self._go_offline()
        self._expect_ok(resp, f"{what} (tried {self._busy_retries + 1} times)")
        return resp

    def _write_command(self, cred_type: int, content: str, what: str) -> str:
        try:
            quoted = at.quote_at_string(content, what)
        except ValueError as exc:
            raise DeviceBadInput(str(exc), port=self._port) from None
        return f"AT%CMNG=0,{self.sec_tag},{cred_type},{quoted}"

    def _write_credential(self, cred_type: int, content: str, what: str) -> None:
        """``AT%CMNG=0`` with busy retries; a modem that refuses to overwrite gets a delete first,
        right before the write, so the entry is missing for as short a time as the modem allows."""
        command = self._write_command(cred_type, content, what)
        resp = self._credential_command(
            command, "%CMNG:", self._bulk_timeout(len(command)), f"writing {what}"
        )
        if resp.final == at.FinalResult(at.FinalKind.CME, 519):
            self._delete(cred_type)
            resp = self._credential_command(
                command, "%CMNG:", self._bulk_timeout(len(command)), f"writing {what}"
            )
        self._expect_ok(resp, f"writing {what}")

    def _delete(self, cred_type: int) -> None:
        """``AT%CMNG=3``; a credential that is not there (513) is already deleted."""
        resp = self._credential_command(
            f"AT%CMNG=3,{self.sec_tag},{cred_type}", None, self._command_timeout, "deleting a credential"
        )
        if resp.final == at.FinalResult(at.FinalKind.CME, 513):
            return
        self._expect_ok(resp, "deleting a credential")

    def _list_hashes(self) -> dict[int, bytes]:
        resp = self._credential_command(
            f"AT%CMNG=1,{self.sec_tag}", "%CMNG:", self._command_timeout, "listing credentials"
        )
        self._expect_ok(resp, "listing credentials")
        try:
            entries = at.parse_cmng_list(resp)
        except at.AtParseError as exc:
            raise DeviceProtocolError(f"%CMNG list: {exc}", port=self._port) from None
        return {e.cred_type: e.sha256 for e in entries if e.sec_tag == self.sec_tag and e.sha256}

    def _known_or_read(self, cred_type: int, listed: dict[int, bytes]) -> tuple[str, bytes] | None:
        """An entry's content: what this driver wrote when the modem's hash still matches it,
        otherwise a ``%CMNG`` read."""
        known = self._written.get(cred_type)
        if known is not None and hashlib.sha256(known.encode("ascii")).digest() == listed.get(cred_type):
            return known, listed[cred_type]
        return self._read_entry(cred_type)

    def _read_entry(self, cred_type: int) -> tuple[str, bytes] | None:
        resp = self._credential_command(
            f"AT%CMNG=2,{self.sec_tag},{cred_type}",
            "%CMNG:",
            self._bulk_timeout(MAX_ANSWER_BYTES),
            "reading a certificate",
        )
        if resp.final == at.FinalResult(at.FinalKind.CME, 513):
            return None
        self._expect_ok(resp, "reading a certificate")
        try:
            entry = at.parse_cmng_read(resp, self.sec_tag, cred_type)
        except at.AtParseError as exc:
            raise DeviceProtocolError(f"%CMNG read: {exc}", port=self._port) from None
        assert entry.content is not None and entry.sha256 is not None
        if hashlib.sha256(entry.content.encode("ascii", errors="replace")).digest() != entry.sha256:
            raise DeviceMismatch(
                "the certificate the modem returned does not match the modem's own hash of it",
                port=self._port,
            )
        return entry.content, entry.sha256

    # --- checks --------------------------------------------------------------------------------

    def _attributes(self, subject: dict[str, str]) -> str:
        """Subject dict -> the %KEYGEN attribute string ``C=..,O=..,CN=..``."""
        unknown = sorted(set(subject) - set(_SUBJECT_ORDER))
        if unknown:
            raise DeviceUnsupported(
                f"the nRF91 %KEYGEN command cannot put {', '.join(unknown)} into the CSR subject; "
                f"it supports {', '.join(_SUBJECT_ORDER)}",
                port=self._port,
            )
        parts = []
        for name in _SUBJECT_ORDER:
            if name not in subject:
                continue
            value = subject[name]
            if not value or not value.isascii() or not value.isprintable() or any(c in value for c in ',"='):
                raise DeviceUnsupported(
                    f"the subject's {name} must be non-empty printable ASCII without , \" or = "
                    "to be passed to %KEYGEN",
                    port=self._port,
                )
            parts.append(f"{name}={value}")
        return ",".join(parts)

    def _check_csr(self, csr_der: bytes, subject: dict[str, str]) -> bytes:
        """Check the modem's CSR (normalised form), its self-signature, key type, subject; return its SPKI."""
        try:
            csr = x509.load_der_x509_csr(normalise_csr_der(csr_der))
        except (ValueError, x509.InvalidVersion):
            raise DeviceProtocolError("the modem's CSR is not valid DER PKCS#10", port=self._port) from None
        try:
            valid = csr.is_signature_valid
        except (ValueError, UnsupportedAlgorithm):  # the public key itself is unusable
            raise DeviceProtocolError(
                "the modem's CSR carries a malformed or unsupported public key", port=self._port
            ) from None
        if not valid:
            raise DeviceMismatch("the modem's CSR self-signature does not verify", port=self._port)
        key = csr.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise DeviceProtocolError("the modem's CSR does not carry an EC P-256 key", port=self._port)
        if subject:
            got = {attr.rfc4514_attribute_name.upper(): str(attr.value) for attr in csr.subject}
            want = {k.upper(): v for k, v in subject.items()}
            if got != want:
                raise DeviceMismatch(
                    "the modem's CSR subject differs from the one requested", port=self._port
                )
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def _split_chain(self, chain_pem: str) -> tuple[str, str]:
        """Leaf PEM and the rest, exactly as given; refuse anything the modem would hash differently."""
        if "\r" in chain_pem:
            raise DeviceBadInput(
                "the certificate chain must use LF line endings (CRLF changes the modem's hash)",
                port=self._port,
            )
        if not chain_pem.isascii():
            raise DeviceBadInput("the certificate chain is not ASCII PEM", port=self._port)
        blocks = _PEM_BLOCK_RE.findall(chain_pem)
        if not blocks or "".join(blocks) != chain_pem:
            raise DeviceBadInput(
                "the certificate chain must be PEM certificates only, each ending in a newline",
                port=self._port,
            )
        try:
            for block in blocks:
                x509.load_pem_x509_certificate(block.encode("ascii"))
        except ValueError:
            raise DeviceBadInput(
                "the certificate chain contains an unreadable certificate", port=self._port
            ) from None
        return blocks[0], "".join(blocks[1:])
