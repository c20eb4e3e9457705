"""The error a MES delivery channel raises (its own module, so the delivery loop and the window
can name it without importing the HTTP stack: ``requests`` loads only when a station posts)."""

from __future__ import annotations


class MesDeliveryError(Exception):
    """A POST did not deliver the record. ``transient``: the MES is down or busy (wait and retry
    every record later); otherwise it refused this record (retried too, but later records go on)."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
