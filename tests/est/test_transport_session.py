"""The EST client's HTTP session: pool sized for the batch, environment read once per server."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest
import requests

from certline.app.est.client import EstClient
from certline.app.estserver import EstTestServer, FaultKind

MakeClient = Callable[..., EstClient]


def test_concurrency_plus_probe_and_csrattrs_never_fill_the_pool(
    make_client: MakeClient, est_server: EstTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A batch of concurrency 4 has 4 enrollments in flight plus the reachability probe and
    /csrattrs outside the gateway's slots: six connections at once, none discarded."""
    est_server.faults.add(FaultKind.SLOW, op="cacerts", seconds=0.3)
    client = make_client(pool_size=4)
    caplog.set_level(logging.WARNING, logger="urllib3")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            barrier.wait(5)
            client.cacerts()
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


def test_proxy_environment_is_resolved_once_per_server(
    make_client: MakeClient, est_server: EstTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = requests.utils.get_environ_proxies

    def counting(url: str, no_proxy: str | None = None) -> dict[str, str]:
        calls.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.utils, "get_environ_proxies", counting)
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting, raising=False)
    client = make_client()
    for _ in range(5):
        client.cacerts()
    assert len(calls) == 1


def test_ca_bundle_variables_add_no_trust(
    make_client: MakeClient, est_server: EstTestServer, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE pointing at an empty bundle change nothing: the
    profile's pinned anchors alone decide trust, and verification stays on."""
    from pathlib import Path

    empty = Path(str(tmp_path)) / "empty.pem"
    empty.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(empty))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(empty))
    assert make_client().cacerts()


def test_no_proxy_still_bypasses_the_proxy(
    make_client: MakeClient, est_server: EstTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.est.proxy import ConnectProxy

    with ConnectProxy().running() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("https_proxy", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        make_client().cacerts()
        assert proxy.tunnels == []
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.delenv("no_proxy")
        make_client().cacerts()  # a new client reads the environment afresh
        assert f"127.0.0.1:{est_server.port}" in proxy.tunnels


def test_closing_the_client_closes_its_keep_alive_connections(
    make_client: MakeClient, est_server: EstTestServer
) -> None:
    """The client keeps its pools (one lookup per URL, not per request); closing it must still
    hang up every keep-alive connection, so a closed station leaves nothing open at the server."""
    client = make_client(pool_size=2)
    for _ in range(3):
        client.cacerts()
    listener = est_server._listener("passcode")  # noqa: SLF001 - live connections, server side
    assert listener._connections  # noqa: SLF001 - the keep-alive connection is open
    client.close()
    deadline = time.monotonic() + 5
    while listener._connections and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.02)
    assert not listener._connections  # noqa: SLF001
