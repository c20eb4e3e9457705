"""A field re-enrollment that did not finish belongs to re-enrollment alone.

Its request is authenticated by the unit's own certificate (``/simplereenroll``, the handshake
signed by the unit), which a batch never presents. A batch that took over such a unit would
enroll it anew with the passcode, replacing a working credential nobody asked to replace, and
spending a passcode use; a batch resuming one after its certificate was issued could write that
certificate over a newer one made since (both found by a field engineer walking the product).
So the batch engine and ``batch resume`` leave such a unit alone and say how to finish it:
``certline reenroll`` (or the window's Re-enroll dialog) continues the same journal row, writing
a certificate already issued instead of requesting another. Only the operator's explicit
re-provisioning (``--reprovision``) ends such a renewal and enrolls the unit anew: the way out
for a unit that no longer holds a certificate to renew with.
"""

from __future__ import annotations

from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.journal_api import JournalBackend
from certline.app.batch.states import DeviceState

#: the journal's ``devices.kind`` of a field re-enrollment's unit (a batch's units: ``enroll``)
REENROLL_KIND = "reenroll"


def unfinished_renewal_advice(unit: DeviceSnapshot, profile_name: str, port: str | None = None) -> str:
    """Why a batch leaves ``unit`` alone, the command that finishes its re-enrollment (on
    ``port``, where the unit is now, when known), and the way to enroll it anew instead."""
    return (
        f"unit {unit.serial_number or unit.port} has an unfinished field re-enrollment (batch "
        f"{unit.batch_id}: {unit.step}); a batch does not continue it, since re-enrollment is "
        "authenticated by the unit's own certificate. Finish it with 'certline reenroll --profile "
        f"{profile_name} --port {port or 'PORT'}' or Station > Re-enroll a unit...: a certificate "
        "already issued is written, none is requested twice. To enroll the unit anew instead, "
        "re-provision it (batch run --reprovision, or Re-provision selected unit... in the window)"
    )


def supersede_renewal(journal: JournalBackend, unit: DeviceSnapshot, reason: str) -> None:
    """End ``unit``'s unfinished renewal as failed (``superseded``, with ``reason``) and close its
    one-unit batch: the operator re-provisions the unit, or the unit no longer holds what the
    renewal could finish. A certificate it was issued stays in the journal."""
    journal.transition(
        unit.device_id,
        DeviceState.FAILED,
        f"failed: {reason}",
        error=reason,
        error_code="superseded",
        failed_step=unit.step,
    )
    journal.end_batch(unit.batch_id)
