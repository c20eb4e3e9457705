"""The per-device provisioning state machine.

Each device walks these states in order; ``FAILED`` can be entered from any
non-terminal state and records the step it failed in. The journal persists a
transition *before* the side effect it announces (``ENROLLING`` before the
POST) and *after* it completes (``ISSUED`` with the certificate), so after a
crash the last journaled state says exactly what may or may not have happened.
"""

from __future__ import annotations

import enum


class DeviceState(enum.StrEnum):
    DETECTED = "detected"
    IDENTIFIED = "identified"
    AWAITING_LABEL = "awaiting-label"
    """Scan-in: held before any side effect until the unit's label is scanned and compared."""
    KEY_READY = "key-ready"
    CSR_READY = "csr-ready"
    ENROLLING = "enrolling"
    PENDING_APPROVAL = "pending-approval"
    ISSUED = "issued"
    WRITING = "writing"
    WRITTEN = "written"
    VERIFIED = "verified"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


#: Order of the happy path, used for progress bars (fraction of steps done).
HAPPY_PATH: tuple[DeviceState, ...] = (
    DeviceState.DETECTED,
    DeviceState.IDENTIFIED,
    DeviceState.KEY_READY,
    DeviceState.CSR_READY,
    DeviceState.ENROLLING,
    DeviceState.ISSUED,
    DeviceState.WRITING,
    DeviceState.WRITTEN,
    DeviceState.VERIFIED,
    DeviceState.DONE,
)

TERMINAL: frozenset[DeviceState] = frozenset({DeviceState.DONE, DeviceState.FAILED, DeviceState.SKIPPED})

_ALLOWED: dict[DeviceState, frozenset[DeviceState]] = {
    DeviceState.DETECTED: frozenset({DeviceState.IDENTIFIED}),
    DeviceState.IDENTIFIED: frozenset(
        {
            DeviceState.AWAITING_LABEL,
            DeviceState.KEY_READY,
            DeviceState.CSR_READY,
            DeviceState.ENROLLING,
            DeviceState.ISSUED,
            DeviceState.DONE,
        }
    ),
    # the label matched: on to the first side effect, exactly as from IDENTIFIED
    DeviceState.AWAITING_LABEL: frozenset(
        {DeviceState.KEY_READY, DeviceState.CSR_READY, DeviceState.ENROLLING}
    ),
    # KEY_READY -> ENROLLING: with proof-of-possession the CSR is made inside the TLS connection
    DeviceState.KEY_READY: frozenset({DeviceState.CSR_READY, DeviceState.ENROLLING}),
    DeviceState.CSR_READY: frozenset({DeviceState.ENROLLING}),
    DeviceState.ENROLLING: frozenset(
        {DeviceState.PENDING_APPROVAL, DeviceState.ISSUED, DeviceState.CSR_READY}
    ),
    DeviceState.PENDING_APPROVAL: frozenset({DeviceState.ENROLLING, DeviceState.ISSUED}),
    DeviceState.ISSUED: frozenset({DeviceState.WRITING}),
    DeviceState.WRITING: frozenset({DeviceState.WRITTEN}),
    DeviceState.WRITTEN: frozenset({DeviceState.VERIFIED}),
    DeviceState.VERIFIED: frozenset({DeviceState.DONE}),
    DeviceState.DONE: frozenset(),
    DeviceState.FAILED: frozenset(),
    DeviceState.SKIPPED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A bug: the engine tried to move a device along an edge the state machine does not have."""


def check_transition(current: DeviceState, new: DeviceState) -> None:
    """Raise unless ``current -> new`` is an edge.

    FAILED/SKIPPED are reachable from any live state; a FAILED device may be retried into any
    live state; any state may be re-entered after a resume (the engine re-announces the step).
    """
    if new in (DeviceState.FAILED, DeviceState.SKIPPED) and current not in TERMINAL:
        return
    if current == DeviceState.FAILED and new not in TERMINAL:
        return  # an operator's retry resumes the failed device at the step it can safely redo
    if new == current:
        return
    if new not in _ALLOWED[current]:
        raise IllegalTransition(f"{current.value} -> {new.value} is not a valid transition")


def progress_of(state: DeviceState) -> float:
    """Fraction of the happy path completed, for progress bars (terminal states: 1.0)."""
    if state in TERMINAL:
        return 1.0
    if state == DeviceState.PENDING_APPROVAL:
        state = DeviceState.ENROLLING
    if state == DeviceState.AWAITING_LABEL:
        state = DeviceState.IDENTIFIED
    return HAPPY_PATH.index(state) / (len(HAPPY_PATH) - 1)
