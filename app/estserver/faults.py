"""Injectable misbehaviour, switchable at runtime from a test or with ``--fault`` on the CLI.

A :class:`Fault` can be limited to one EST operation and to a number of
occurrences; :meth:`FaultConfig.take` consumes one occurrence atomically, so
concurrent requests from a batch see exactly N failures.

Spec syntax (CLI ``--fault``, :meth:`FaultConfig.add_spec`)::

    KIND[=ARGS][@OP][*TIMES]

    pending=2              2 x 202 per CSR, Retry-After 1 s, then issue
    pending=2:5:date       ... Retry-After 5 s sent as an HTTP-date
    error5xx=3:503:2       3 x 503 with Retry-After: 2
    slow=1.5@simpleenroll  every simpleenroll answers 1.5 s late
    truncate*1             one truncated body
    encoding=pem           PEM armour around the base64 body
    malformed=base64       garbage that is not even base64
    close_after_issue*1    issue the certificate, then close the connection without answering
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, replace

from certline.app.estserver.routes import Operation


class FaultKind(enum.StrEnum):
    PENDING = "pending"
    ERROR5XX = "error5xx"
    SLOW = "slow"
    TRUNCATE = "truncate"
    MALFORMED = "malformed"
    WRONG_KEY = "wrong_key"
    UNKNOWN_CA = "unknown_ca"
    TLS12_ONLY = "tls12_only"
    REJECT_PASSCODE = "reject_passcode"
    CHANGE_SUBJECT = "change_subject"
    CLOSE_AFTER_HEADERS = "close_after_headers"
    CLOSE_AFTER_ISSUE = "close_after_issue"
    """The certificate is issued (and recorded), then the connection closes without an answer."""
    RESET = "reset"
    ENCODING = "encoding"
    KEYGEN_REVERSE = "keygen_reverse"
    """serverkeygen: certificate part first, key part second."""
    KEYGEN_PKCS1 = "keygen_pkcs1"
    """serverkeygen: key part is PKCS#1/SEC1 'traditional' DER while labelled application/pkcs8."""
    KEYGEN_ENCRYPTED = "keygen_encrypted"
    """serverkeygen: key part is CMS (smime-type=server-generated-key), which Certline refuses."""


class Encoding(enum.StrEnum):
    """Body encodings for the ``encoding`` fault (all decodable by a tolerant client)."""

    NO_CTE = "no-cte"  # base64 body, no Content-Transfer-Encoding header (RFC 8951 allows)
    CRLF = "crlf"  # base64 lines end in CRLF
    LF = "lf"  # the default, for completeness
    ONELINE = "oneline"  # base64 not wrapped at all
    NUL = "nul"  # trailing NUL byte after the base64
    PEM = "pem"  # -----BEGIN PKCS7----- armour around the base64
    DER = "der"  # raw DER, no base64, no CTE header


class MalformedVariant(enum.StrEnum):
    BASE64 = "base64"  # not base64 at all
    PKCS7 = "pkcs7"  # valid base64 of bytes that are not PKCS#7


@dataclass(frozen=True)
class Fault:
    """One active fault. ``times`` None = until cleared; ``op`` None = every operation."""

    kind: FaultKind
    op: Operation | None = None
    times: int | None = None
    count: int = 1
    """pending: how many 202s each CSR gets before it is issued."""
    status: int = 503
    retry_after: float | None = None
    retry_after_date: bool = False
    seconds: float = 0.0
    variant: str = ""

    def spec(self) -> str:
        """Back to the CLI syntax (for logs and ``repr``-free messages)."""
        args = ""
        if self.kind is FaultKind.PENDING:
            ra = "" if self.retry_after is None else f":{self.retry_after:g}"
            args = f"={self.count}{ra}{':date' if self.retry_after_date else ''}"
        elif self.kind is FaultKind.ERROR5XX:
            ra = "" if self.retry_after is None else f":{self.retry_after:g}"
            args = f"={self.times if self.times is not None else ''}:{self.status}{ra}"
        elif self.kind is FaultKind.SLOW:
            args = f"={self.seconds:g}"
        elif self.variant:
            args = f"={self.variant}"
        scope = f"@{self.op.value}" if self.op else ""
        times = f"*{self.times}" if self.times is not None and self.kind is not FaultKind.ERROR5XX else ""
        return f"{self.kind.value}{args}{scope}{times}"


class FaultSpecError(ValueError):
    pass


def parse_fault_spec(spec: str) -> Fault:
    """Parse ``KIND[=ARGS][@OP][*TIMES]`` (see module docstring)."""
    text = spec.strip()
    times: int | None = None
    op: Operation | None = None
    try:
        if "*" in text:
            text, _, times_text = text.rpartition("*")
            times = int(times_text)
        if "@" in text:
            text, _, op_text = text.rpartition("@")
            op = Operation(op_text)
        kind_text, _, args = text.partition("=")
        kind = FaultKind(kind_text.strip().replace("-", "_"))
        fields = [a for a in args.split(":")] if args else []
        if kind is FaultKind.PENDING:
            count = int(fields[0]) if fields and fields[0] else 1
            retry_after = float(fields[1]) if len(fields) > 1 and fields[1] else 1.0
            as_date = len(fields) > 2 and fields[2] == "date"
            return Fault(kind, op, times, count=count, retry_after=retry_after, retry_after_date=as_date)
        if kind is FaultKind.ERROR5XX:
            n = int(fields[0]) if fields and fields[0] else times
            status = int(fields[1]) if len(fields) > 1 and fields[1] else 503
            retry_5xx = float(fields[2]) if len(fields) > 2 and fields[2] else None
            if not 500 <= status <= 599:
                raise FaultSpecError(f"error5xx status must be 5xx, got {status}")
            return Fault(kind, op, n, status=status, retry_after=retry_5xx)
        if kind is FaultKind.SLOW:
            return Fault(kind, op, times, seconds=float(fields[0]) if fields else 1.0)
        variant = fields[0] if fields else ""
        if kind is FaultKind.ENCODING:
            variant = Encoding(variant or Encoding.NO_CTE).value
        elif kind is FaultKind.MALFORMED:
            variant = MalformedVariant(variant or MalformedVariant.PKCS7).value
        elif variant:
            raise FaultSpecError(f"fault {kind.value} takes no argument")
        return Fault(kind, op, times, variant=variant)
    except FaultSpecError:
        raise
    except (ValueError, IndexError) as exc:
        raise FaultSpecError(f"bad fault spec {spec!r}: {exc}") from exc


class FaultConfig:
    """Thread-safe set of active faults, shared by every request handler of a server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._pending_seen: dict[str, int] = {}
        self.fired: list[str] = []
        """Spec of every fault occurrence that fired, in order (for assertions)."""

    def add(
        self,
        kind: FaultKind | str,
        *,
        op: Operation | str | None = None,
        times: int | None = None,
        **params: object,
    ) -> Fault:
        """Activate a fault; ``params`` are :class:`Fault` fields. ``op`` None = every operation
        (including /cacerts, so scope it when the client fetches /cacerts first).

        Examples::

            faults.add("pending", count=2, retry_after=1)             # 2 x 202 per CSR
            faults.add("error5xx", times=3, status=503, retry_after=2)
            faults.add("slow", seconds=1.5, op="simpleenroll")
            faults.add("encoding", variant="pem", times=1)
            faults.add("malformed", variant="base64", op="simpleenroll")
        """
        fault = Fault(
            FaultKind(kind),
            Operation(op) if op is not None else None,
            times,
            **params,  # type: ignore[arg-type]
        )
        if fault.kind is FaultKind.ENCODING:
            fault = replace(fault, variant=Encoding(fault.variant or Encoding.NO_CTE).value)
        if fault.kind is FaultKind.MALFORMED:
            fault = replace(fault, variant=MalformedVariant(fault.variant or "pkcs7").value)
        with self._lock:
            self._faults.append(fault)
        return fault

    def add_spec(self, spec: str) -> Fault:
        """Activate a fault from CLI syntax, e.g. ``"error5xx=2:503:1@simpleenroll"``."""
        return self.add_fault(parse_fault_spec(spec))

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self, kind: FaultKind | str | None = None) -> None:
        with self._lock:
            if kind is None:
                self._faults.clear()
                self._pending_seen.clear()
            else:
                k = FaultKind(kind)
                self._faults = [f for f in self._faults if f.kind is not k]

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, kind: FaultKind, op: Operation | None = None) -> Fault | None:
        """Consume one occurrence of the first matching fault, or None if none applies."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.kind is not kind:
                    continue
                if fault.op is not None and fault.op is not op:
                    continue
                if fault.times is not None:
                    if fault.times <= 1:
                        del self._faults[i]
                    else:
                        self._faults[i] = replace(fault, times=fault.times - 1)
                self.fired.append(fault.spec())
                return fault
            return None

    def pending_for(self, csr_digest: str, op: Operation) -> Fault | None:
        """The pending fault if this CSR still owes 202s; counts one 202 per call.

        Pending is per CSR: each distinct CSR is answered 202 ``count`` times,
        the ``count+1``-th submission of the *same* CSR is issued.
        """
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.kind is not FaultKind.PENDING:
                    continue
                if fault.op is not None and fault.op is not op:
                    continue
                seen = self._pending_seen.get(csr_digest, 0)
                if seen >= fault.count:
                    return None
                self._pending_seen[csr_digest] = seen + 1
                if seen + 1 == fault.count and fault.times is not None:
                    # ``times`` limits how many CSRs go through the pending dance
                    if fault.times <= 1:
                        del self._faults[i]
                    else:
                        self._faults[i] = replace(fault, times=fault.times - 1)
                self.fired.append(fault.spec())
                return fault
            return None
