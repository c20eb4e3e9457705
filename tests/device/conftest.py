"""Fixtures for device tests: simulated devices on real pseudo-terminals and a throwaway CA."""

from tests.helpers.sim_fixture import sim_factory, simulator, throwaway_ca  # noqa: F401
