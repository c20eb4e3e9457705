"""The scan-in binding rule: which plugged unit a scanned label belongs to."""

from __future__ import annotations

import threading

from app.batch.label_desk import LabelDesk, ScanResult

NEVER = threading.Event()


def take(desk: LabelDesk, port: str, serial: str):
    return desk.wait_for_label(port, serial, NEVER, timeout=0.5)


def test_a_scan_binds_to_the_first_plugged_unit_without_a_label():
    desk = LabelDesk()
    desk.plugged("/dev/ttyA")
    desk.plugged("/dev/ttyB")
    first = desk.submit("CL-1")
    assert first.result is ScanResult.BOUND and first.port == "/dev/ttyA"
    assert desk.submit("CL-2").port == "/dev/ttyB"
    assert take(desk, "/dev/ttyA", "CL-1").serial == "CL-1"
    assert take(desk, "/dev/ttyB", "CL-2").serial == "CL-2"


def test_a_scan_naming_a_waiting_unit_goes_to_that_unit_whatever_the_plug_order():
    desk = LabelDesk()
    desk.plugged("/dev/ttyA")
    desk.plugged("/dev/ttyB")
    got: dict[str, object] = {}
    waiter = threading.Thread(target=lambda: got.setdefault("b", take(desk, "/dev/ttyB", "CL-2")))
    waiter.start()
    while desk.waiting_ports() != ["/dev/ttyB"]:
        threading.Event().wait(0.01)
    outcome = desk.submit("CL-2")
    assert (
        outcome.port == "/dev/ttyB"
        and outcome.matches
        and outcome.message == "serial CL-2 → unit CL-2 on ttyB"
    )
    waiter.join(2)
    assert got["b"].serial == "CL-2"


def test_a_label_bound_to_a_unit_still_identifying_moves_to_the_unit_it_names():
    desk = LabelDesk()
    desk.plugged("/dev/ttyA")  # still identifying
    desk.plugged("/dev/ttyB")
    desk.submit("CL-2")  # bound to A by plug order: A has not said who it is yet
    assert take(desk, "/dev/ttyB", "CL-2").serial == "CL-2"  # B is CL-2: the label moves to B
    assert desk.submit("CL-1").port == "/dev/ttyA"


def test_scans_before_any_unit_wait_in_line_and_bind_in_order():
    desk = LabelDesk()
    assert desk.submit("CL-1").result is ScanResult.QUEUED
    assert desk.submit("CL-2").result is ScanResult.QUEUED
    assert desk.queued == 2
    desk.plugged("/dev/ttyA")
    assert take(desk, "/dev/ttyA", "CL-1").serial == "CL-1"
    assert desk.queued == 1


def test_a_label_its_unit_did_not_take_goes_back_to_the_head_of_the_line():
    desk = LabelDesk()
    desk.plugged("/dev/ttyA")
    desk.submit("CL-1")
    desk.ended("/dev/ttyA")  # unplugged (or not identified) before it asked for its label
    assert desk.queued == 1
    desk.plugged("/dev/ttyB")
    assert take(desk, "/dev/ttyB", "CL-1").serial == "CL-1"


def test_a_taken_label_is_never_handed_on_even_when_it_did_not_match():
    desk = LabelDesk()
    desk.plugged("/dev/ttyA")
    desk.submit("CL-9")
    assert not take(desk, "/dev/ttyA", "CL-1").matches("CL-1")
    desk.ended("/dev/ttyA")
    assert desk.queued == 0


def test_the_same_label_scanned_twice_is_ignored_and_a_misread_is_refused():
    desk = LabelDesk()
    desk.plugged("/dev/ttyA")
    desk.plugged("/dev/ttyB")
    assert desk.submit("CL-1").accepted
    again = desk.submit(" CL-1 ")
    assert again.result is ScanResult.DUPLICATE and "already scanned" in again.message
    bad = desk.submit("352656100367873")
    assert bad.result is ScanResult.UNREADABLE and "check digit" in bad.message
    assert desk.submit("CL-2").port == "/dev/ttyB"


def test_waiting_ends_on_stop_or_unplug_without_a_label():
    desk = LabelDesk()
    desk.plugged("/dev/ttyA")
    stop = threading.Event()
    stop.set()
    assert desk.wait_for_label("/dev/ttyA", "CL-1", stop, None) is None
    assert desk.wait_for_label("/dev/ttyA", "CL-1", NEVER, None, present=lambda: False) is None
    assert desk.wait_for_label("/dev/ttyA", "CL-1", NEVER, 0.05) is None


def test_a_label_bound_to_a_waiting_unit_it_does_not_name_is_said_at_once():
    desk = LabelDesk()
    desk.plugged("/dev/ttyA")
    got: dict[str, object] = {}
    waiter = threading.Thread(target=lambda: got.setdefault("a", take(desk, "/dev/ttyA", "CL-1")))
    waiter.start()
    while desk.waiting_ports() != ["/dev/ttyA"]:
        threading.Event().wait(0.01)
    outcome = desk.submit("CL-7")
    waiter.join(2)
    assert outcome.result is ScanResult.BOUND and outcome.matches is False and not outcome.accepted
    assert "does not name this unit" in outcome.message
    assert got["a"].serial == "CL-7"  # the unit takes it, compares it and fails


def test_a_unit_known_to_the_desk_before_its_wait_is_shown_gets_the_label_that_names_it():
    desk = LabelDesk()
    desk.plugged("/dev/ttyA")
    desk.plugged("/dev/ttyB")
    desk.identified("/dev/ttyB", "CL-2")  # the job tells the desk, then journals awaiting-label
    assert desk.submit("CL-2").port == "/dev/ttyB"
    assert take(desk, "/dev/ttyB", "CL-2").serial == "CL-2"
