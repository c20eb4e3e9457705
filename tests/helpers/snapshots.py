"""A unit's snapshot as the engine publishes it, for view and model tests that need rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.states import DeviceState, progress_of

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def snapshot(device_id: int, state: DeviceState = DeviceState.IDENTIFIED, **fields: object) -> DeviceSnapshot:
    """Unit ``device_id`` of batch 1 in ``state``, 75 s after it started; ``fields`` override."""
    values: dict[str, object] = dict(
        device_id=device_id,
        batch_id=1,
        port=f"/dev/ttyACM{device_id}",
        serial_number=f"SN-{device_id}",
        model="FAKE-1",
        state=state,
        step=state.value,
        progress=progress_of(state),
        started_at=T0,
        updated_at=T0 + timedelta(seconds=75),
    )
    values.update(fields)
    return DeviceSnapshot(**values)  # type: ignore[arg-type]
