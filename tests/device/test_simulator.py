"""The simulator itself: pacing, lifecycle (no leaked threads, descriptors or links), faults parsing."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import serial

from certline.app.device.certline_driver import CertlineDriver
from certline.app.device.certline_protocol import format_frame, transmit_seconds
from certline.app.sim.faults import DeviceFaults, FaultSpec, SimReboot, parse_fault
from certline.app.sim.personality import SimUnplugged
from certline.app.sim.pty_host import pacing_plan
from certline.app.sim.simulator import Simulator, UnknownPersonality
from tests.helpers.sim_fixture import SimFactory


def test_pacing_plan_follows_ten_bit_times_per_byte() -> None:
    plan = pacing_plan(1152, 115200, slice_seconds=0.01)
    assert sum(length for length, _ in plan) == 1152
    assert all(length <= 115 for length, _ in plan)  # ~10 ms of line time per slice
    sent = 0
    for length, offset in plan:  # every slice starts when the bytes before it have left the wire
        assert offset == pytest.approx(transmit_seconds(sent, 115200))
        sent += length
    assert transmit_seconds(1152, 115200) == pytest.approx(0.1)


def test_pacing_plan_at_slow_baud_sends_single_bytes() -> None:
    plan = pacing_plan(3, 300, slice_seconds=0.01)
    assert [length for length, _ in plan] == [1, 1, 1]
    assert [offset for _, offset in plan] == pytest.approx([0.0, 1 / 30, 2 / 30])


def test_output_is_not_faster_than_the_baud_rate(sim_factory: SimFactory) -> None:
    sim = sim_factory(1, baud=4800)
    with serial.serial_for_url(sim.ports[0], timeout=0.05) as port:
        port.reset_input_buffer()
        request = format_frame("7", "HELLO", "1")
        started = time.monotonic()
        port.write(request)
        reply = b""
        while not reply.endswith(b"\n") and time.monotonic() - started < 10:
            reply += port.read(256)
        elapsed = time.monotonic() - started
    assert reply.startswith(b"@7 OK")
    # a generous lower bound only: the reply cannot arrive faster than its wire time
    assert elapsed >= 0.8 * transmit_seconds(len(reply), 4800)


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_stop_releases_threads_descriptors_and_links(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    fds_before = _fds()
    with Simulator(tmp_path / "sim", count=3, keygen_latency=0.01) as sim:
        ports = sim.start()
        assert all(Path(p).is_symlink() for p in ports)
        driver = CertlineDriver(ports[1])
        driver.identify()
        driver.close()
        sim.devices[2].unplug()
        sim.devices[2].replug()
    assert not any(Path(p).exists() or Path(p).is_symlink() for p in ports)
    assert set(threading.enumerate()) <= threads_before
    assert _fds() <= fds_before


def test_unplug_removes_the_link_and_replug_can_use_a_new_path(simulator: Simulator) -> None:
    device = simulator.devices[0]
    old = Path(device.port)
    device.unplug()
    assert not old.exists() and not device.is_plugged
    new = device.replug(new_path=True)
    assert new != str(old) and Path(new).is_symlink() and device.is_plugged
    driver = CertlineDriver(new)
    assert driver.identify().serial_number == device.serial_number
    driver.close()


def test_serial_numbers_are_stable_per_state_dir(tmp_path: Path) -> None:
    with Simulator(tmp_path, count=2, keygen_latency=0.01) as sim:
        sim.start()
        first = [d.serial_number for d in sim.devices]
    with Simulator(tmp_path, count=2, keygen_latency=0.01) as sim:
        sim.start()
        assert [d.serial_number for d in sim.devices] == first == ["CL-000001", "CL-000002"]


def test_unknown_personality_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UnknownPersonality, match="known: certline"):
        Simulator(tmp_path, driver="zigbee")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dev1:unplug@cert-write", FaultSpec("unplug", 1, "cert-write", 1)),
        ("unplug", FaultSpec("unplug", None, "cert-write", 1)),
        ("corrupt=3", FaultSpec("corrupt", None, None, 3)),
        ("garbage=*", FaultSpec("garbage", None, None, None)),
        ("slow=1.5", FaultSpec("slow", None, None, None, seconds=1.5)),
        ("dev2:dup-serial=CL-000009", FaultSpec("dup-serial", 2, None, None, text="CL-000009")),
        ("refuse", FaultSpec("refuse", None, "cert-write", None)),
    ],
)
def test_fault_specs_parse(text: str, expected: FaultSpec) -> None:
    assert parse_fault(text) == expected


@pytest.mark.parametrize("text", ["explode", "unplug@moon", "corrupt=0", "slow=fast", "dev:busy", ""])
def test_bad_fault_specs_are_rejected_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="fault"):
        parse_fault(text)


def test_fault_counts_run_down_and_checkpoints_fire() -> None:
    unplugged = []
    faults = DeviceFaults([parse_fault("busy=2"), parse_fault("reboot@csr"), parse_fault("unplug@sign")])
    faults.on_unplug = lambda: unplugged.append(True)
    assert faults.take("busy") and faults.take("busy") and not faults.take("busy")
    faults.checkpoint("keygen")  # nothing armed there
    with pytest.raises(SimReboot):
        faults.checkpoint("csr")
    faults.checkpoint("csr")  # used up
    with pytest.raises(SimUnplugged):
        faults.checkpoint("sign")
    assert unplugged == [True]
    assert faults.fired == ["busy", "busy", "reboot@csr", "unplug@sign"]


def test_keygen_latency_per_algorithm_or_for_all() -> None:
    from certline.app.pki import KeyAlgorithm
    from certline.app.sim.keys import KeygenLatency

    assert KeygenLatency().for_algorithm(KeyAlgorithm.RSA_2048) > KeygenLatency().for_algorithm(
        KeyAlgorithm.EC_P256
    )
    assert KeygenLatency.parse("0.05").for_algorithm(KeyAlgorithm.RSA_3072) == 0.05
    mixed = KeygenLatency.parse("rsa-2048=5,ec-p256=0.1")
    assert mixed.for_algorithm(KeyAlgorithm.RSA_2048) == 5.0
    assert mixed.for_algorithm(KeyAlgorithm.EC_P256) == 0.1
    assert mixed.for_algorithm(KeyAlgorithm.EC_P384) == KeygenLatency().for_algorithm(KeyAlgorithm.EC_P384)
    for bad in ("fast", "-1", "dsa=1", "rsa-2048=x"):
        with pytest.raises(ValueError, match="latency"):
            KeygenLatency.parse(bad)
