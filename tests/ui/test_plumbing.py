"""GUI-thread rules: blocking work runs in workers; results and engine events arrive on the main thread."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject

from certline.app.batch.events import BatchSnapshot, EventBus, LogEvent
from certline.app.host.log_setup import attach_handler
from certline.app.security.redaction import register_secret
from certline.ui.plumbing.worker import pending_tasks, run_in_background
from certline.ui.station.event_bridge import BridgeLogHandler, EventBridge


def test_background_result_and_failure_arrive_on_the_main_thread(qtbot):
    main = threading.current_thread()
    seen: list[tuple[str, object, threading.Thread]] = []
    worker_threads: list[threading.Thread] = []

    def work() -> int:
        worker_threads.append(threading.current_thread())
        return 42

    def broken() -> int:
        raise ValueError("the port vanished")

    run_in_background(work, lambda r: seen.append(("ok", r, threading.current_thread())))
    run_in_background(broken, None, lambda e: seen.append(("err", str(e), threading.current_thread())))
    qtbot.waitUntil(lambda: len(seen) == 2)
    assert worker_threads[0] is not main
    assert {(kind, value) for kind, value, _ in seen} == {("ok", 42), ("err", "the port vanished")}
    assert all(thread is main for *_, thread in seen)


def test_callbacks_are_dropped_when_their_owner_is_gone(qtbot):
    release = threading.Event()
    owner = QObject()
    called: list[object] = []
    run_in_background(lambda: release.wait(5), called.append, called.append, owner=owner)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not _alive(owner))
    release.set()
    qtbot.waitUntil(lambda: pending_tasks() == 0)
    assert called == []


def _alive(obj: QObject) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)


def test_bridge_reemits_events_published_on_worker_threads_in_the_main_thread(qtbot):
    bus = EventBus()
    bridge = EventBridge(bus)
    received: list[tuple[object, threading.Thread]] = []
    bridge.batch_changed.connect(lambda snap: received.append((snap, threading.current_thread())))
    snap = BatchSnapshot(
        batch_id=7,
        done=1,
        in_progress=0,
        failed=0,
        pending_approval=0,
        expected_remaining=None,
        finished=True,
    )
    publisher = threading.Thread(target=bus.publish, args=(snap,))
    with qtbot.waitSignal(bridge.batch_changed):
        publisher.start()
    publisher.join()
    assert received == [(snap, threading.main_thread())]
    bridge.close()
    bus.publish(snap)  # unsubscribed: nothing more arrives
    qtbot.wait(50)
    assert len(received) == 1


def test_log_records_reach_the_panel_scrubbed(qtbot):
    bridge = EventBridge(EventBus())
    handler = BridgeLogHandler(bridge)
    attach_handler(handler)
    register_secret("hunter2-passcode")
    lines: list[LogEvent] = []
    bridge.log_event.connect(lines.append)
    try:
        with qtbot.waitSignal(bridge.log_event):
            logging.getLogger("certline.app.est.client").warning("server echoed %s", "hunter2-passcode")
    finally:
        logging.getLogger().removeHandler(handler)
    assert lines[0].level == logging.WARNING
    assert "hunter2" not in lines[0].message and "[REDACTED]" in lines[0].message


def test_bridge_hands_on_one_frame_newest_device_first_then_logs_then_the_batch(qtbot):
    from datetime import UTC, datetime

    from certline.app.batch.events import DeviceSnapshot
    from certline.app.batch.states import DeviceState, progress_of

    bus = EventBus()
    bridge = EventBridge(bus)
    order: list[object] = []
    bridge.devices_changed.connect(
        lambda snaps: order.append(("devices", [(s.device_id, s.state) for s in snaps]))
    )
    bridge.log_events.connect(lambda lines: order.append(("logs", [line.message for line in lines])))
    bridge.batch_changed.connect(lambda snap: order.append(("batch", snap.done)))
    now = datetime.now(UTC)

    def device(device_id: int, state: DeviceState) -> DeviceSnapshot:
        return DeviceSnapshot(
            device_id=device_id, batch_id=7, port="p", serial_number=None, model=None, state=state,
            step=state.value, progress=progress_of(state), started_at=now, updated_at=now,
        )  # fmt: skip

    def batch(done: int) -> BatchSnapshot:
        return BatchSnapshot(
            batch_id=7, done=done, in_progress=0, failed=0, pending_approval=0,
            expected_remaining=None, finished=done == 2,
        )  # fmt: skip

    def publish() -> None:  # one worker's burst, all within one frame
        bus.publish(device(1, DeviceState.IDENTIFIED))
        bus.publish(batch(1))
        bus.publish(device(2, DeviceState.DONE))
        bus.publish(LogEvent(logging.INFO, "one"))
        bus.publish(device(1, DeviceState.DONE))
        bus.publish(batch(2))
        bus.publish(LogEvent(logging.INFO, "two"))

    publisher = threading.Thread(target=publish)
    publisher.start()
    publisher.join()  # the GUI thread handles no event meanwhile: the whole burst is one frame
    qtbot.waitUntil(lambda: bool(order) and order[-1][0] == "batch")
    assert order == [
        ("devices", [(1, DeviceState.DONE), (2, DeviceState.DONE)]),
        ("logs", ["one", "two"]),
        ("batch", 2),
    ]
    bridge.close()


def test_bridge_hands_a_finished_batch_on_at_once_not_at_the_end_of_the_frame(qtbot):
    bus = EventBus()
    bridge = EventBridge(bus, frame_ms=60_000)  # a frame that never ends within this test
    seen: list[tuple[int, bool]] = []
    bridge.batch_changed.connect(lambda snap: seen.append((snap.done, snap.finished)))

    def batch(done: int, finished: bool) -> BatchSnapshot:
        return BatchSnapshot(
            batch_id=3, done=done, in_progress=2 - done, failed=0, pending_approval=0,
            expected_remaining=None, finished=finished,
        )  # fmt: skip

    worker = threading.Thread(target=lambda: bus.publish(batch(1, False)))
    worker.start()
    worker.join()
    qtbot.wait(50)
    assert seen == []  # counters wait for the frame
    worker = threading.Thread(target=lambda: bus.publish(batch(2, True)))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(seen), timeout=2000)  # the summary must not wait for it
    assert seen == [(2, True)]
    bridge.close()
