"""Pure parsing of nRF91 AT command responses: no I/O, no threads, safe on any input.

Why a separate module: everything a modem sends is untrusted (line noise, a
different firmware, a fault-injecting simulator). Keeping the parsing pure lets
us fuzz it and lets the driver stay a thin state machine around the transport.
Every function here either returns a well-formed value or raises
:class:`AtParseError` (a ``ValueError``); nothing else escapes, whatever the bytes.

Rules that matter on a real modem (nRF91 AT command reference, see
``docs/nrf91-driver.md``):

* Final result codes (``OK``, ``ERROR``, ``+CME ERROR: <n>``, ``+CMS ERROR: <n>``)
  count only as a *whole line* and only *outside* a quoted string. A base64 CSR or
  a PEM body can contain the letters ``OK``; a ``%CMNG`` read response carries a
  multi-line quoted PEM whose lines must not be mistaken for anything.
* Lines starting with ``+`` or ``%`` that are not the expected response prefix are
  unsolicited result codes (``+CEREG: 2``, ``%XSIM: 1``) and are set aside.
* ``%CMNG`` content is "exactly what is written, including CR and LF", so the
  collector keeps raw line terminators inside quoted strings.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from dataclasses import dataclass, field

#: Longest single line we accept from the modem. A KEYGEN response for a P-256 CSR
#: with a COSE part is ~700 characters; 8 KiB leaves room for long subjects.
MAX_LINE_CHARS = 8192
#: Largest total response we accept for one command (a %CMNG read of a 3-certificate chain is ~3 KiB;
#: the modem itself limits a server chain to 4 KiB).
MAX_RESPONSE_CHARS = 64 * 1024
#: Most lines we accept for one command (URCs included).
MAX_RESPONSE_LINES = 2000

_INT_RE = re.compile(r"^[0-9]{1,10}$")
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]*$")
_HEX64_RE = re.compile(r"^[0-9A-Fa-f]{64}$")
_CME_RE = re.compile(r"^\+CM([ES]) ERROR: ?([0-9]{1,5})$")


class AtParseError(ValueError):
    """The modem's answer does not have the shape the AT reference gives. Message is safe to show."""


class FinalKind(enum.Enum):
    """How a command ended."""

    OK = "ok"
    ERROR = "error"  # plain ERROR (CME reporting off, or a syntax error)
    CME = "cme"  # +CME ERROR: <n>
    CMS = "cms"  # +CMS ERROR: <n>


@dataclass(frozen=True)
class FinalResult:
    """The final result code of one command."""

    kind: FinalKind
    code: int | None = None


@dataclass(frozen=True)
class AtResponse:
    """One complete command response.

    ``lines`` are the information lines that belong to the command (responses with
    the expected prefix, or, for commands without one, any line that is not a URC).
    A multi-line quoted string is joined into one entry with its raw line breaks.
    ``urcs`` are the unsolicited lines that arrived meanwhile (kept for diagnostics).
    """

    final: FinalResult
    lines: tuple[str, ...]
    urcs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.final.kind is FinalKind.OK


# --- CME error codes ---------------------------------------------------------------------------

#: +CME ERROR codes the nRF91 security commands document, with the reference's meaning
#: turned into something a technician can act on.
CME_MESSAGES: dict[int, str] = {
    513: "the modem has no credential of that type in this security tag (not found)",
    514: "the modem does not allow this access (for example reading a private key, or a "
    "protected security tag)",
    515: "the modem's credential storage is full; delete unused security tags",
    518: "the modem must be offline (AT+CFUN=4) for this command; it is still active",
    519: "a credential already exists in this security tag",
    520: "the modem rejected the command's authentication",
    523: "the modem failed to generate the key",
    527: "the modem rejected the certificate content (not a valid PEM certificate)",
    528: "the modem is in a power-off warning state (low supply voltage); fix the power supply and retry",
}

#: Codes after which retrying the same command may succeed (the driver sets CFUN=4 and retries).
RETRYABLE_CME = frozenset({518, 528})


def cme_message(code: int | None) -> str:
    """Technician-readable meaning of a +CME ERROR code."""
    if code is None:
        return "the modem answered ERROR without a reason (error reporting may be off)"
    text = CME_MESSAGES.get(code)
    if text is None:
        return f"the modem reported error {code}"
    return f"{text} (+CME ERROR: {code})"


# --- line classification -----------------------------------------------------------------------


def parse_final(line: str) -> FinalResult | None:
    """Return the final result if ``line`` (terminator-stripped) is one as a whole line, else None."""
    text = line.strip()
    if text == "OK":
        return FinalResult(FinalKind.OK)
    if text == "ERROR":
        return FinalResult(FinalKind.ERROR)
    match = _CME_RE.match(text)
    if match:
        kind = FinalKind.CME if match.group(1) == "E" else FinalKind.CMS
        return FinalResult(kind, int(match.group(2)))
    return None


def is_urc_like(line: str) -> bool:
    """True for lines that look like result codes (``+XXX``/``%XXX``): URCs unless expected."""
    text = line.lstrip()
    return text[:1] in ("+", "%")


def _strip_eol(line: str) -> str:
    return line.rstrip("\r\n")


class ResponseCollector:
    """Feeds on modem lines for one command and says when the response is complete.

    ``prefix`` is the response prefix the command produces (``"%KEYGEN:"``) or None
    for commands that answer with bare text (``AT+CGSN``, ``AT+CGMM``). ``echo`` is
    the command text: if the modem echoes it, that line is skipped.
    Lines may be passed with or without terminators; terminators are kept only
    inside quoted strings, where they are part of the content.
    """

    def __init__(
        self,
        prefix: str | None,
        *,
        echo: str | None = None,
        max_line_chars: int = MAX_LINE_CHARS,
        max_response_chars: int = MAX_RESPONSE_CHARS,
        max_lines: int = MAX_RESPONSE_LINES,
    ) -> None:
        self._prefix = prefix
        self._echo = echo.strip() if echo else None
        self._max_line = max_line_chars
        self._max_total = max_response_chars
        self._max_lines = max_lines
        self._lines: list[str] = []
        self._urcs: list[str] = []
        self._open: list[str] | None = None  # pieces of an info line inside an open quoted string
        self._quotes = 0  # double quotes seen so far in the open line
        self._total = 0
        self._count = 0
        self.result: AtResponse | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    @property
    def in_quoted_string(self) -> bool:
        return self._open is not None

    def feed(self, raw_line: str) -> AtResponse | None:
        """Consume one line. Returns the response once the final result code arrives."""
        if self.result is not None:
            raise AtParseError("the modem sent more lines after the final result code")
        self._count += 1
        self._total += len(raw_line)
        if self._count > self._max_lines or self._total > self._max_total:
            raise AtParseError("the modem's response is larger than any valid answer")
        if len(_strip_eol(raw_line)) > self._max_line:
            raise AtParseError(f"the modem sent a line longer than {self._max_line} characters")

        if self._open is not None:
            self._open.append(raw_line if raw_line.endswith("\n") else raw_line + "\n")
            self._quotes += raw_line.count('"')
            if self._quotes % 2 == 0:  # the quoted string closed on this line
                joined = "".join(self._open)
                self._open = None
                self._lines.append(_strip_eol(joined))
            return None

        text = _strip_eol(raw_line)
        stripped = text.strip()
        if not stripped:
            return None
        final = parse_final(stripped)
        if final is not None:
            self.result = AtResponse(final, tuple(self._lines), tuple(self._urcs))
            return self.result
        if self._echo is not None and stripped == self._echo:
            return None
        if self._prefix is not None:
            if not stripped.startswith(self._prefix):
                # With a prefix, everything else is unsolicited (URC or stray text).
                self._urcs.append(stripped)
                return None
        elif is_urc_like(stripped):
            self._urcs.append(stripped)
            return None
        if text.count('"') % 2 == 1:
            self._quotes = text.count('"')
            self._open = [raw_line if raw_line.endswith("\n") else raw_line + "\n"]
            return None
        self._lines.append(stripped)
        return None


def collect(lines: list[str], prefix: str | None, *, echo: str | None = None) -> AtResponse:
    """Run a whole list of lines through a :class:`ResponseCollector` (tests, offline parsing)."""
    collector = ResponseCollector(prefix, echo=echo)
    for line in lines:
        result = collector.feed(line)
        if result is not None:
            return result
    raise AtParseError("the modem's response ended without OK or ERROR")


# --- parameter tokenizing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One AT parameter: its text and whether it was a quoted string."""

    value: str
    quoted: bool


def split_params(text: str) -> list[Param]:
    """Split ``a,"b,c",d`` into parameters, honouring double quotes (no escapes, as on the nRF91)."""
    params: list[Param] = []
    i = 0
    n = len(text)
    while True:
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise AtParseError("a quoted value in the modem's answer is not closed")
            params.append(Param(text[i + 1 : end], True))
            i = end + 1
            while i < n and text[i] == " ":
                i += 1
            if i < n and text[i] != ",":
                raise AtParseError("unexpected text after a quoted value in the modem's answer")
        else:
            end = text.find(",", i)
            if end < 0:
                end = n
            params.append(Param(text[i:end].strip(), False))
            i = end
        if i >= n:
            return params
        i += 1  # skip the comma


def _payload(line: str, prefix: str) -> str:
    if not line.startswith(prefix):
        raise AtParseError(f"expected a {prefix} line from the modem")
    return line[len(prefix) :].strip()


def _int_param(param: Param, what: str) -> int:
    if param.quoted or not _INT_RE.match(param.value):
        raise AtParseError(f"the modem's {what} is not a number")
    return int(param.value)


# --- identity ----------------------------------------------------------------------------------


def parse_imei(resp: AtResponse) -> str:
    """IMEI from ``AT+CGSN`` (bare digits) or ``AT+CGSN=1`` (``+CGSN: "<imei>"``)."""
    if len(resp.lines) != 1:
        raise AtParseError("the modem did not answer AT+CGSN with exactly one line")
    line = resp.lines[0]
    if line.startswith("+CGSN:"):
        params = split_params(_payload(line, "+CGSN:"))
        if len(params) != 1 or not params[0].quoted:
            raise AtParseError("the modem's +CGSN answer is malformed")
        line = params[0].value
    imei = line.strip()
    if not re.fullmatch(r"[0-9]{15}", imei):
        raise AtParseError("the modem's IMEI is not 15 digits")
    return imei


def parse_text_line(resp: AtResponse, what: str, max_chars: int = 128) -> str:
    """Single bare-text answer (``AT+CGMM``, ``AT+CGMR``) as printable ASCII."""
    if len(resp.lines) != 1:
        raise AtParseError(f"the modem did not answer the {what} query with exactly one line")
    text = resp.lines[0].strip()
    if not text or len(text) > max_chars or not text.isascii() or not text.isprintable():
        raise AtParseError(f"the modem's {what} is empty or not printable text")
    return text


def parse_cfun(resp: AtResponse) -> int:
    """Functional mode from ``AT+CFUN?`` (``+CFUN: <fun>``)."""
    if len(resp.lines) != 1:
        raise AtParseError("the modem did not answer AT+CFUN? with exactly one line")
    params = split_params(_payload(resp.lines[0], "+CFUN:"))
    if len(params) != 1:
        raise AtParseError("the modem's +CFUN answer is malformed")
    return _int_param(params[0], "functional mode")


# --- %KEYGEN -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeygenResult:
    """Decoded ``%KEYGEN`` answer: the DER CSR and the raw COSE_Sign1 bytes (may be empty)."""

    csr_der: bytes
    cose: bytes = field(default=b"", repr=False)


def b64url_decode(text: str, what: str, max_bytes: int = 16384) -> bytes:
    """Strict base64url (RFC 4648 section 5) without padding, as the modem sends it."""
    if not text or not _B64URL_RE.match(text):
        raise AtParseError(f"the modem's {what} is not base64url")
    if len(text) % 4 == 1 or len(text) * 3 // 4 > max_bytes:
        raise AtParseError(f"the modem's {what} has an impossible length")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise AtParseError(f"the modem's {what} is not base64url") from exc


def b64url_encode(data: bytes) -> str:
    """base64url without padding (the modem's encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_keygen(resp: AtResponse) -> KeygenResult:
    """``%KEYGEN: "<base64url CSR DER>.<base64url COSE_Sign1>"`` -> :class:`KeygenResult`."""
    lines = [line for line in resp.lines if line.startswith("%KEYGEN:")]
    if len(lines) != 1:
        raise AtParseError("the modem did not return exactly one %KEYGEN line")
    params = split_params(_payload(lines[0], "%KEYGEN:"))
    if len(params) != 1 or not params[0].quoted:
        raise AtParseError("the modem's %KEYGEN answer is not one quoted value")
    parts = params[0].value.split(".")
    if len(parts) > 2:
        raise AtParseError("the modem's %KEYGEN answer has more than two parts")
    csr = b64url_decode(parts[0], "CSR")
    cose = b64url_decode(parts[1], "COSE signature") if len(parts) == 2 else b""
    if csr[:1] != b"\x30":
        raise AtParseError("the modem's CSR is not DER (does not start with a SEQUENCE)")
    return KeygenResult(csr, cose)


# --- %CMNG -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CmngEntry:
    """One credential as ``%CMNG`` reports it. ``content`` only for a read, and never a private key."""

    sec_tag: int
    cred_type: int
    sha256: bytes | None
    content: str | None = field(default=None, repr=False)


def parse_cmng_line(line: str) -> CmngEntry:
    """``%CMNG: <sec_tag>,<type>[,<sha>[,"<content>"]]`` (list or read)."""
    params = split_params(_payload(line, "%CMNG:"))
    if not 2 <= len(params) <= 4:
        raise AtParseError("the modem's %CMNG answer has the wrong number of fields")
    sec_tag = _int_param(params[0], "security tag")
    cred_type = _int_param(params[1], "credential type")
    sha: bytes | None = None
    if len(params) >= 3:
        if not _HEX64_RE.match(params[2].value):
            raise AtParseError("the modem's credential hash is not 64 hex digits")
        sha = bytes.fromhex(params[2].value)
    content: str | None = None
    if len(params) == 4:
        if not params[3].quoted:
            raise AtParseError("the modem's credential content is not a quoted string")
        content = params[3].value
    return CmngEntry(sec_tag, cred_type, sha, content)


def parse_cmng_list(resp: AtResponse) -> list[CmngEntry]:
    """All ``%CMNG:`` lines of a list operation (``AT%CMNG=1[,<sec_tag>[,<type>]]``)."""
    return [parse_cmng_line(line) for line in resp.lines if line.startswith("%CMNG:")]


def parse_cmng_read(resp: AtResponse, sec_tag: int, cred_type: int) -> CmngEntry:
    """The single entry of a read (``AT%CMNG=2,<sec_tag>,<type>``), checked against what we asked."""
    entries = parse_cmng_list(resp)
    if len(entries) != 1:
        raise AtParseError("the modem did not return exactly one credential for the read")
    entry = entries[0]
    if entry.sec_tag != sec_tag or entry.cred_type != cred_type:
        raise AtParseError("the modem returned a different credential than the one asked for")
    if entry.content is None or entry.sha256 is None:
        raise AtParseError("the modem's read answer lacks the content or its hash")
    return entry


# --- building commands -------------------------------------------------------------------------


def quote_at_string(value: str, what: str) -> str:
    """Wrap ``value`` in double quotes for an AT command; the nRF91 has no escape for ``"``."""
    if '"' in value or "\x00" in value:
        raise ValueError(f"the {what} cannot contain a double quote or NUL for the modem")
    if not value.isascii():
        raise ValueError(f"the {what} must be ASCII for the modem")
    return f'"{value}"'
