"""Keep secrets out of log lines, exception messages and reports.

Two layers, because neither alone is enough:

* **Registered secrets.** Whoever loads a secret (the keyring store, the
  ``--passcode-env`` reader) calls :func:`register_secret` once. From then on
  the exact value and the encodings it travels in -- base64 (HTTP Basic for
  DTM is ``base64(passcode)``), URL-safe base64, percent-encoding -- are
  replaced by ``[REDACTED]`` wherever :func:`scrub` runs, as whole tokens: a
  value inside a longer word or number is that word, not the secret.
* **Shapes that are always secret**, registered or not: the credential in an
  ``Authorization``/``Proxy-Authorization`` header or a ``Basic <token>``
  pair (base64 of ``user:password`` does not contain base64 of the password,
  so the registered forms cannot catch it), and PEM private key blocks.

:class:`RedactingFilter` applies :func:`scrub` to a ``logging.LogRecord``:
the formatted message (so ``%``-args are covered), the exception text and
the stack text. ``certline.app.host.log_setup`` puts it on every handler it creates; a
handler added elsewhere (the GUI's log view) must get it too -- use
``certline.app.host.log_setup.attach_handler``.

The registry is process-wide on purpose: the secret is loaded in one place
and logged (by accident) in another, often in a library we do not control.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
import traceback
import urllib.parse
from collections.abc import Iterable

REDACTED = "[REDACTED]"

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

# "Authorization: Basic abc", "'Authorization': 'Bearer abc'", "authorization=Basic abc"
_AUTH_HEADER = re.compile(
    r"""(?P<head>\b(?:Proxy-)?Authorization['"]?\s*[:=]\s*['"]?)"""
    r"""(?:(?P<scheme>[A-Za-z][A-Za-z0-9._~+-]*)\s+)?(?P<cred>[^\s'",;}\]]+)""",
    re.IGNORECASE,
)
# a bare "Basic <base64>" anywhere else (e.g. a header dict printed without its key)
_BASIC_TOKEN = re.compile(r"\b(?P<scheme>Basic)\s+(?P<token>[A-Za-z0-9+/_-]{4,}={0,2})")
# complete PEM private key blocks, and a BEGIN whose END was cut off (truncated log line)
_PEM_KEY = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*PRIVATE KEY)-----"
    r"(?:.*?-----END (?P=kind)-----|[A-Za-z0-9+/=\s\\n:,-]*)",
    re.DOTALL,
)


def register_secret(value: str | bytes | None) -> None:
    """Scrub ``value`` (and its base64/percent-encoded forms) from everything logged from now on.

    Empty and whitespace-only values are ignored: scrubbing every space would
    make logs unreadable without protecting anything.
    """
    if value is None:
        return
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if not text.strip():
        return
    forms = _encoded_forms(text)
    global _pattern
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        _pattern = None  # rebuilt lazily on the next scrub


def register_secrets(values: Iterable[str | bytes | None]) -> None:
    for value in values:
        register_secret(value)


def clear_secrets() -> None:
    """Forget every registered secret (tests; a station that locks and unloads its profile)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def _encoded_forms(text: str) -> set[str]:
    raw = text.encode("utf-8")
    forms = {text}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        token = encoded.decode("ascii")
        forms.add(token)
        forms.add(token.rstrip("="))
    quoted = urllib.parse.quote(text, safe="")
    forms.add(quoted)
    forms.add(urllib.parse.quote_plus(text, safe=""))
    # ignore degenerate forms (a 1-char secret's base64 without padding can be 2 chars)
    return {f for f in forms if len(f) >= min(len(text), 4)}


def _secret_pattern() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None and _secrets:
            # longest first so a secret that contains another is replaced whole
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(_whole_token(s) for s in ordered))
        return _pattern


def _whole_token(secret: str) -> str:
    """A regex matching ``secret`` only as a whole token, not inside a longer word or number.

    A passcode "xp" must not turn "unexpected" into "une[REDACTED]ected": where the secret
    starts (ends) with a letter or digit, the text before (after) it must not be one. An edge
    that is punctuation needs no such guard -- it already marks where the token begins.
    """
    pattern = re.escape(secret)
    if secret[:1].isalnum() or secret[:1] == "_":
        pattern = r"(?<!\w)" + pattern
    if secret[-1:].isalnum() or secret[-1:] == "_":
        pattern = pattern + r"(?!\w)"
    return pattern


def _redact_auth(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    return f"{match.group('head')}{scheme + ' ' if scheme else ''}{REDACTED}"


def _redact_basic(match: re.Match[str]) -> str:
    token = match.group("token")
    # Only a real base64 token: keeps "Basic authentication failed" readable.
    try:
        base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    if token.isalpha() and token.islower():
        return match.group(0)  # an English word, not a credential
    return f"{match.group('scheme')} {REDACTED}"


def _redact_pem(match: re.Match[str]) -> str:
    kind = match.group("kind")
    return f"-----BEGIN {kind}-----{REDACTED}-----END {kind}-----"


def scrub(text: str) -> str:
    """``text`` with registered secrets, credentials and private keys replaced by ``[REDACTED]``.

    Use it on anything that leaves the process: exception messages shown to
    the user, report files, crash reports.
    """
    if not text:
        return text
    pattern = _secret_pattern()
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if "PRIVATE KEY" in text:
        text = _PEM_KEY.sub(_redact_pem, text)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTH_HEADER.sub(_redact_auth, text)
    if "Basic" in text:
        text = _BASIC_TOKEN.sub(_redact_basic, text)
    return text


def scrub_exception(exc: BaseException) -> str:
    """The one-line ``Type: message`` for ``exc``, scrubbed -- for error dialogs and CLI errors."""
    return scrub("".join(traceback.format_exception_only(type(exc), exc)).strip())


class RedactingFilter(logging.Filter):
    """Scrub a record's message, args, exception and stack text before any handler formats it.

    The record is rewritten in place (``msg`` becomes the scrubbed, fully
    formatted message and ``args`` is emptied) so every handler downstream
    sees the same safe text. It never drops a record and never raises: a
    logging call must not fail because of redaction.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - bad %-args must not crash logging
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            # the formatted text is kept; the live traceback could be re-rendered unscrubbed
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
