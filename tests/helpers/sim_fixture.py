"""Simulated devices on real pseudo-terminals for tests, plus a throwaway CA to sign their CSRs.

Use from a test module (fixtures are plain pytest fixtures; import them)::

    from tests.helpers.sim_fixture import sim_factory, throwaway_ca  # noqa: F401

    def test_x(sim_factory):
        sim = sim_factory(count=2, faults=["dev1:garbage"])
        ports = sim.ports

Every simulator made by ``sim_factory`` is stopped after the test, so no pty,
symlink or thread outlives it. Key generation latency defaults to 10 ms.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certline.app.sim.simulator import Simulator
from tests.helpers.certs import make_cert, new_key

FAST_KEYGEN = 0.01

SimFactory = Callable[..., Simulator]


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[SimFactory]:
    """Start simulators in ``tmp_path/sim`` (or a given ``state_dir``); all stopped at teardown."""
    made: list[Simulator] = []

    def make(count: int = 1, **kwargs: Any) -> Simulator:
        kwargs.setdefault("keygen_latency", FAST_KEYGEN)
        state_dir = kwargs.pop("state_dir", tmp_path / "sim")
        sim = Simulator(state_dir, count, **kwargs)
        made.append(sim)
        sim.start()
        return sim

    yield make
    for sim in made:
        sim.stop()


@pytest.fixture
def simulator(sim_factory: SimFactory) -> Simulator:
    """One Certline device, started."""
    return sim_factory(1)


@dataclass
class ThrowawayCA:
    """A root CA that signs CSRs into certificates; chains are leaf-first PEM with LF endings."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, name: str = "Certline Test Root") -> ThrowawayCA:
        key = new_key()
        now = datetime.datetime.now(datetime.UTC)
        cert = make_cert(name, key.public_key(), key, ca=True, not_before=now - datetime.timedelta(minutes=5))
        return cls(key, cert)

    def sign_csr(self, csr_der: bytes) -> x509.Certificate:
        csr = x509.load_der_x509_csr(csr_der)
        now = datetime.datetime.now(datetime.UTC)
        return make_cert(
            csr.subject,
            csr.public_key(),
            self.key,
            issuer=self.cert,
            not_before=now - datetime.timedelta(minutes=5),
        )

    def chain_pem(self, leaf: x509.Certificate) -> str:
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in (leaf, self.cert))


@pytest.fixture(scope="session")
def throwaway_ca() -> ThrowawayCA:
    return ThrowawayCA.create()
