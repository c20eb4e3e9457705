"""Proxy environment variables are honoured, and TLS still verifies the EST server through the tunnel."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from certline.app.est.client import EstClient
from certline.app.estserver import EstTestServer, FaultKind
from certline.app.estserver.csrattrs import PRESETS
from tests.est.helpers import pop_factory
from tests.est.proxy import ConnectProxy
from tests.helpers.estserver_fixture import csr_pem, make_csr, make_key

MakeClient = Callable[..., EstClient]


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectProxy]:
    for var in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with ConnectProxy().running() as p:
        monkeypatch.setenv("HTTPS_PROXY", p.url)
        monkeypatch.setenv("https_proxy", p.url)
        yield p


def test_pooled_requests_go_through_the_proxy(
    proxy: ConnectProxy, make_client: MakeClient, est_server: EstTestServer
) -> None:
    csr, _ = make_csr("via-proxy")
    make_client().simpleenroll(csr_pem(csr))
    assert f"127.0.0.1:{est_server.port}" in proxy.tunnels


def test_channel_bound_post_goes_through_the_proxy(
    proxy: ConnectProxy, make_client: MakeClient, est_server: EstTestServer
) -> None:
    est_server.config.require_pop = True
    est_server.config.csrattrs = PRESETS["pop"]()
    est_server.faults.add(FaultKind.TLS12_ONLY)
    made: list[bytes | None] = []
    make_client().simpleenroll(pop_factory(make_key(), made))
    assert made[-1] is not None
    assert proxy.tunnels.count(f"127.0.0.1:{est_server.port}") >= 2  # csrattrs + the bound POST
