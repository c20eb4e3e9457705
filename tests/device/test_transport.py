"""The serial line transport: line splitting, deadlines and a vanished port."""

from __future__ import annotations

import os
import time
import tty
from typing import Any

import pytest
import serial

from certline.app.device import transport as transport_module
from certline.app.device.driver import DeviceLost, DeviceTimeout
from certline.app.device.transport import LineSplitter, SerialTransport


def split(*pieces: bytes, max_line: int = 8192) -> list[bytes]:
    splitter = LineSplitter(max_line)
    for piece in pieces:
        splitter.feed(piece)
    lines = []
    while (line := splitter.pop()) is not None:
        lines.append(line)
    return lines


def test_cr_lf_and_crlf_all_end_lines_and_empty_lines_vanish() -> None:
    assert split(b"a\rb\nc\r\nd\n\r\r\ne") == [b"a", b"b", b"c", b"d"]


def test_a_line_split_across_reads_is_joined() -> None:
    assert split(b"@1 O", b"K *1234", b"abcd\r", b"\n") == [b"@1 OK *1234abcd"]


def test_oversized_lines_are_dropped_and_the_next_line_survives() -> None:
    splitter = LineSplitter(max_line=16)
    splitter.feed(b"x" * 100 + b"\n@1 OK\n")
    assert splitter.pop() == b"@1 OK"
    assert splitter.pop() is None
    assert splitter.oversized == 1


def test_many_lines_in_one_read_with_an_oversized_one_among_them() -> None:
    splitter = LineSplitter(max_line=8)
    splitter.feed(b"tail\r\none\r\n" + b"y" * 9 + b"\ntwo\r\rthr")
    splitter.feed(bytearray(b"ee\n"))
    lines = []
    while (line := splitter.pop()) is not None:
        lines.append(line)
    assert lines == [b"tail", b"one", b"two", b"three"]
    assert all(type(line) is bytes for line in lines)
    assert splitter.oversized == 1


def test_loop_url_round_trip_and_deadline() -> None:
    transport = SerialTransport("loop://", 115200)
    transport.open()
    transport.write_line(b"@1 HELLO 1\r\n")
    assert transport.read_line(time.monotonic() + 5) == b"@1 HELLO 1"
    assert transport.read_line(time.monotonic() + 0.1) is None  # returns at the deadline, no hang
    transport.close()


@pytest.mark.timeout(20)
def test_closed_pty_is_device_lost_not_a_hang() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    transport = SerialTransport(path, 115200)
    transport.open()
    os.write(master, b"hello\r\n")
    assert transport.read_line(time.monotonic() + 5) == b"hello"
    os.close(master)
    os.close(slave)
    with pytest.raises(DeviceLost, match="lost connection"):
        transport.read_line(time.monotonic() + 60)
    assert not transport.is_open


@pytest.mark.timeout(20)
def test_a_port_held_by_another_program_says_so() -> None:
    """Found from outside: a second renewal started on the same unit failed with pyserial's
    "Could not exclusively lock port ... [Errno 11] Resource temporarily unavailable"."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    first = SerialTransport(path, 115200)
    first.open()
    try:
        with pytest.raises(DeviceLost, match=f"cannot open {path}: {path} is in use by another program"):
            SerialTransport(path, 115200).open()
    finally:
        first.close()
        os.close(master)
        os.close(slave)


def test_missing_port_is_device_lost(tmp_path) -> None:
    with pytest.raises(DeviceLost, match="cannot open"):
        SerialTransport(str(tmp_path / "ttyGONE")).open()


class _CountingSerial:
    """A wrapper like bench/batch_bound.py's: every byte must pass through its ``read``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.received = 0

    def read(self, size: int = 1) -> bytes:
        data = self._inner.read(size)
        self.received += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.timeout(20)
def test_a_wrapped_port_is_read_through_its_read_method() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    wrappers: list[_CountingSerial] = []

    def factory(*args: Any, **kwargs: Any) -> _CountingSerial:
        wrappers.append(_CountingSerial(serial.serial_for_url(*args, **kwargs)))
        return wrappers[-1]

    transport = SerialTransport(os.ttyname(slave), 115200, serial_factory=factory)
    transport.open()
    try:
        os.write(master, b"@1 OK a\r\n@1 OK b\r\n")
        assert transport.read_line(time.monotonic() + 5) == b"@1 OK a"
        assert transport.read_line(time.monotonic() + 5) == b"@1 OK b"
        assert wrappers[0].received == 18
    finally:
        transport.close()
        os.close(master)
        os.close(slave)


@pytest.mark.timeout(20)
def test_a_port_that_stops_taking_data_is_a_timeout_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    monkeypatch.setattr(transport_module, "WRITE_TIMEOUT_SECONDS", 0.3)
    transport = SerialTransport(os.ttyname(slave), 115200)
    transport.open()
    try:
        transport.write_line(b"@1 HELLO 1\r\n")
        assert os.read(master, 100) == b"@1 HELLO 1\r\n"
        with pytest.raises(DeviceTimeout, match="did not accept data"):
            for _ in range(10_000):  # nobody reads the master: the pty buffer fills up
                transport.write_line(b"x" * 1024)
    finally:
        transport.close()
        os.close(master)
        os.close(slave)
