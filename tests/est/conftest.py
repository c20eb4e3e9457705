"""Fixtures for EST client tests: a real EST test server over TLS on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from certline.app.config.profile import Profile
from certline.app.est.client import EstClient
from certline.app.est.credentials import Credentials
from certline.app.estserver import EstTestServer
from tests.helpers.estserver_fixture import TEST_PASSCODE, est_server  # noqa: F401 - fixture


@pytest.fixture
def make_client(est_server: EstTestServer) -> Iterator[Callable[..., EstClient]]:  # noqa: F811
    """Build clients for ``est_server`` (closed at teardown); kwargs go to Profile / EstClient."""
    clients: list[EstClient] = []
    client_kwargs = {"pool_size", "timeout", "retries", "backoff", "max_retry_after"}

    def make(credentials: Credentials | None = None, **kwargs: Any) -> EstClient:
        ck = {k: kwargs.pop(k) for k in list(kwargs) if k in client_kwargs}
        ck.setdefault("backoff", 0.01)
        ck.setdefault("timeout", 10.0)
        profile_kwargs: dict[str, Any] = {
            "name": "test",
            "enroll_url": est_server.url,
            "ca_bundle_pem": est_server.ca_pem,
        }
        profile_kwargs.update(kwargs)
        client = EstClient(
            Profile(**profile_kwargs), credentials or Credentials(passcode=TEST_PASSCODE), **ck
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).parent / "data"
