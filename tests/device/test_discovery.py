"""Port discovery: profile filters over the OS listing, static ports, and hot-plug reports."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from certline.app.device.discovery import (
    FILTER_KEYS,
    FILTER_LABELS,
    HotplugWatcher,
    ListPortsSource,
    PortInfo,
    StaticPortSource,
)
from certline.app.sim.simulator import Simulator
from tests.helpers.waiting import wait_until


def _fake(device: str, vid: int | None = None, pid: int | None = None, **kw: str) -> SimpleNamespace:
    return SimpleNamespace(
        device=device,
        vid=vid,
        pid=pid,
        description=kw.get("description", "n/a"),
        serial_number=kw.get("serial_number"),
        manufacturer=kw.get("manufacturer"),
    )


LISTING = [
    _fake("/dev/ttyUSB0", 0x10C4, 0xEA60, description="CP2102 USB to UART", manufacturer="Silicon Labs"),
    _fake("/dev/ttyACM0", 0x1915, 0x9100, description="Certline CL-100", manufacturer="Certline"),
    _fake("/dev/ttyACM1", 0x1915, 0x9100, description="Certline CL-100", manufacturer="Certline"),
    _fake("/dev/ttyS0"),
]


def test_filters_by_vid_pid() -> None:
    source = ListPortsSource(vid_pid="1915:9100", lister=lambda: LISTING)
    assert [p.device for p in source.ports()] == ["/dev/ttyACM0", "/dev/ttyACM1"]
    assert source.ports()[0].vid_pid == "1915:9100"


def test_filters_by_description_and_manufacturer_regex() -> None:
    source = ListPortsSource(description="uart", manufacturer="^silicon", lister=lambda: LISTING)
    assert [p.device for p in source.ports()] == ["/dev/ttyUSB0"]


def test_several_vid_pids_and_no_filter() -> None:
    assert len(ListPortsSource(vid_pid="10c4:ea60, 1915:9100", lister=lambda: LISTING).ports()) == 3
    assert len(ListPortsSource(lister=lambda: LISTING).ports()) == 3


def test_built_in_serial_port_is_ignored_by_default_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    source = ListPortsSource.from_filters({}, include_non_usb=False)
    source._lister = lambda: LISTING
    with caplog.at_level("INFO", logger="certline.app.device.discovery"):
        for _ in range(3):  # a watcher polls every half second
            assert "/dev/ttyS0" not in [p.device for p in source.ports()]
    ignored = [r.getMessage() for r in caplog.records if "/dev/ttyS0" in r.getMessage()]
    assert len(ignored) == 1 and "not a USB serial port" in ignored[0]


def test_profile_setting_includes_non_usb_ports() -> None:
    source = ListPortsSource.from_filters({}, include_non_usb=True)
    source._lister = lambda: LISTING
    assert "/dev/ttyS0" in [p.device for p in source.ports()]


def test_every_filter_has_a_human_label() -> None:
    assert set(FILTER_LABELS) == set(FILTER_KEYS)
    assert FILTER_LABELS["vid_pid"] == "USB VID:PID"


@pytest.mark.parametrize(
    "filters", [{"vid_pid": "nonsense"}, {"description": "(unclosed"}, {"colour": "red"}]
)
def test_bad_filters_are_clear_errors(filters: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        ListPortsSource.from_filters(filters)


def test_real_os_listing_does_not_fail() -> None:
    assert isinstance(ListPortsSource().ports(), list)


def test_static_source_lists_urls_always_and_paths_while_they_exist(simulator: Simulator) -> None:
    port = simulator.ports[0]
    source = StaticPortSource([port, "socket://127.0.0.1:7000"])
    assert [p.device for p in source.ports()] == [port, "socket://127.0.0.1:7000"]
    simulator.devices[0].unplug()
    assert [p.device for p in source.ports()] == ["socket://127.0.0.1:7000"]


def test_watcher_reports_appeared_and_disappeared_ports(simulator: Simulator) -> None:
    port = simulator.ports[0]
    events: list[tuple[str, str]] = []

    def record(kind: str):
        def callback(info: PortInfo) -> None:
            events.append((kind, info.device))

        return callback

    def seen(count: int) -> Callable[[], bool]:
        return lambda: len(events) >= count

    with HotplugWatcher(StaticPortSource([port]), record("added"), record("removed"), interval=0.02):
        wait_until(seen(1), what="the unit seen plugged in")
        simulator.devices[0].unplug()
        wait_until(seen(2), what="the unplug seen")
        simulator.devices[0].replug()
        wait_until(seen(3), what="the replug seen")
    assert events == [("added", port), ("removed", port), ("added", port)]


def test_watcher_survives_a_failing_source_and_callback() -> None:
    calls = 0

    def flaky() -> list[SimpleNamespace]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("udev hiccup")
        return LISTING[:1]

    watcher = HotplugWatcher(ListPortsSource(lister=flaky), on_added=lambda _p: 1 / 0)
    assert watcher.poll_once() == ([], [])
    added, removed = watcher.poll_once()
    assert [p.device for p in added] == ["/dev/ttyUSB0"] and removed == []
    assert [p.device for p in watcher.current] == ["/dev/ttyUSB0"]
