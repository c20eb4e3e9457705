"""The scan-in binding rule: which plugged unit a scanned label belongs to."""

from __future__ import annotations

import threading

from certline.app.batch.label_desk import LabelDesk, ScanResult

NEVER = threading.Event()


def take(desk: LabelDesk, port: str, serial: str):
    return desk.wait_for_label(port, serial, NEVER, timeout=0.5)


def bench(*units: tuple[str, str | None]) -> LabelDesk:
    """Units plugged in this order; those with a serial have said who they are."""
    desk = LabelDesk()
    for port, _serial in units:
        desk.plugged(port)
    for port, serial in units:
        if serial is not None:
            desk.identified(port, serial)
    return desk


def test_a_scan_naming_a_waiting_unit_goes_to_that_unit_whatever_the_plug_order():
    desk = bench(("/dev/ttyA", "CL-1"), ("/dev/ttyB", "CL-2"))
    outcome = desk.submit("CL-2")
    assert outcome.result is ScanResult.BOUND and outcome.port == "/dev/ttyB" and outcome.matches
    assert outcome.message == "serial CL-2 → unit CL-2 on ttyB"
    assert take(desk, "/dev/ttyB", "CL-2").serial == "CL-2"
    assert desk.waiting_ports() == ["/dev/ttyA"]


def test_a_label_naming_no_unit_goes_to_the_unit_plugged_in_first_which_it_fails():
    desk = bench(("/dev/ttyA", "CL-1"), ("/dev/ttyB", "CL-2"))
    outcome = desk.submit("CL-9")
    assert outcome.port == "/dev/ttyA" and outcome.matches is False and not outcome.accepted
    assert "does not name this unit" in outcome.message
    assert not take(desk, "/dev/ttyA", "CL-1").matches("CL-1")  # taken: compared, then it fails


def test_while_a_unit_is_still_identifying_a_label_naming_no_known_unit_waits_for_it():
    desk = bench(("/dev/ttyA", "CL-1"), ("/dev/ttyB", None))
    early = desk.submit("CL-2")  # B's label, scanned while B still answers its identify command
    assert early.result is ScanResult.QUEUED and "being identified" in early.message
    wrong = desk.submit("CL-9")
    assert wrong.result is ScanResult.QUEUED
    desk.identified("/dev/ttyB", "CL-2")
    assert take(desk, "/dev/ttyB", "CL-2").serial == "CL-2"  # by name
    assert take(desk, "/dev/ttyA", "CL-1").serial == "CL-9"  # then the wrong one, by plug order


def test_scans_before_any_unit_wait_and_bind_when_their_units_say_who_they_are():
    desk = LabelDesk()
    assert desk.submit("CL-2").result is ScanResult.QUEUED
    assert desk.submit("CL-1").result is ScanResult.QUEUED
    assert desk.queued == 2
    desk.plugged("/dev/ttyA")
    desk.identified("/dev/ttyA", "CL-1")
    assert take(desk, "/dev/ttyA", "CL-1").serial == "CL-1"
    assert desk.queued == 1


def test_a_label_its_unit_left_without_waits_for_that_unit_alone():
    desk = bench(("/dev/ttyA", "CL-1"), ("/dev/ttyB", "CL-2"))
    desk.submit("CL-1")
    desk.ended("/dev/ttyA")  # unplugged before its job took the label
    assert desk.queued == 1 and desk.waiting_ports() == ["/dev/ttyB"]  # not handed to B
    desk.plugged("/dev/ttyA")
    desk.identified("/dev/ttyA", "CL-1")
    assert take(desk, "/dev/ttyA", "CL-1").serial == "CL-1"


def test_a_label_bound_by_plug_order_to_a_unit_that_left_goes_back_to_the_head_of_the_line():
    desk = bench(("/dev/ttyA", "CL-1"))
    desk.submit("CL-9")
    desk.ended("/dev/ttyA")
    assert desk.queued == 1
    desk.plugged("/dev/ttyB")
    desk.identified("/dev/ttyB", "CL-2")
    assert take(desk, "/dev/ttyB", "CL-2").serial == "CL-9"


def test_a_taken_label_is_never_handed_on():
    desk = bench(("/dev/ttyA", "CL-1"))
    desk.submit("CL-9")
    take(desk, "/dev/ttyA", "CL-1")
    desk.ended("/dev/ttyA")
    assert desk.queued == 0


def test_the_same_label_scanned_twice_is_ignored_and_a_misread_is_refused():
    desk = bench(("/dev/ttyA", "CL-1"), ("/dev/ttyB", "CL-2"))
    assert desk.submit("CL-1").accepted
    again = desk.submit(" CL-1 ")
    assert again.result is ScanResult.DUPLICATE and "already scanned" in again.message
    assert desk.submit('{"serial": "cl-1"}').result is ScanResult.DUPLICATE  # same unit, other form
    bad = desk.submit("352656100367873")
    assert bad.result is ScanResult.UNREADABLE and "check digit" in bad.message
    assert desk.submit("CL-2").port == "/dev/ttyB"


def test_a_waiting_unit_wakes_when_its_label_is_scanned():
    desk = bench(("/dev/ttyA", None))
    got: dict[str, object] = {}
    waiter = threading.Thread(target=lambda: got.setdefault("a", take(desk, "/dev/ttyA", "CL-1")))
    waiter.start()
    while desk.waiting_ports() != ["/dev/ttyA"]:
        threading.Event().wait(0.01)
    desk.submit("CL-1")
    waiter.join(2)
    assert got["a"].serial == "CL-1"


def test_waiting_ends_on_stop_or_unplug_without_a_label():
    desk = bench(("/dev/ttyA", "CL-1"))
    stop = threading.Event()
    stop.set()
    assert desk.wait_for_label("/dev/ttyA", "CL-1", stop, None) is None
    assert desk.wait_for_label("/dev/ttyA", "CL-1", NEVER, None, present=lambda: False) is None
    assert desk.wait_for_label("/dev/ttyA", "CL-1", NEVER, 0.05) is None
