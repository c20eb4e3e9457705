"""Shared fixtures: every test gets a private station home and cannot touch the real OS keyring.

* ``CERTLINE_HOME`` points at a fresh temporary directory for every test
  (autouse), so profiles, settings, logs and the journal never leak between
  tests or into the developer's own station.
* The OS keyring is replaced by a guard that fails loudly (autouse): a unit
  test uses ``memory_keyring``; a test of the real Secret Service is marked
  ``keyring_real`` and uses ``real_keyring``.
* Registered secrets (``certline.app.security.redaction``) and the handlers ``certline.app.host.log_setup``
  installed are reset after every test.
* Qt runs offscreen unless there is a display (``scripts/test.sh`` provides
  one with Xvfb).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.compat import properties

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Test this checkout's code: stop at once if certline.app is another checkout's (a shared venv)."""
    import certline.app

    here = (Path(__file__).resolve().parents[1] / "app").resolve()
    found = Path(certline.app.__file__).resolve().parent
    if found != here:
        pytest.exit(
            f"certline.app is imported from {found}, not from {here}: run scripts/test.sh, or put "
            "this checkout's build/import-root (python3 scripts/import_root.py) first on PYTHONPATH",
            returncode=4,
        )


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


class MemoryKeyring(KeyringBackend):
    """A keyring in a dict, for unit tests. ``entries`` maps ``(service, username)`` to the value."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("test-only backend; never auto-selected")

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such entry")


class _GuardKeyring(KeyringBackend):
    """Installed by default: a test that reaches the OS keyring without asking for it fails."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("test-only backend; never auto-selected")

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError(
            "this test used the OS keyring: request the memory_keyring fixture, "
            "or mark it keyring_real and request real_keyring"
        )

    set_password = delete_password = get_password  # type: ignore[assignment]


@pytest.fixture(autouse=True)
def certline_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private, empty station home (``CERTLINE_HOME``) for this test."""
    home = tmp_path / "certline-home"
    monkeypatch.setenv("CERTLINE_HOME", str(home))
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", _GuardKeyring())
    yield home
    from certline.app.host.log_setup import reset_logging
    from certline.app.security.redaction import clear_secrets

    reset_logging()
    clear_secrets()


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    """An in-memory keyring installed as the process default (what ``SecretStore()`` uses)."""
    backend = MemoryKeyring()
    monkeypatch.setattr(keyring.core, "_keyring_backend", backend)
    return backend


@pytest.fixture
def real_keyring(monkeypatch: pytest.MonkeyPatch) -> KeyringBackend:
    """The backend ``keyring`` detects in this D-Bus session (tests marked ``keyring_real``).

    Skips without a D-Bus session -- except in CI, where it fails: CI must prove the
    Secret Service path works (``scripts/test.sh`` provides the session).
    """
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        reason = (
            "needs a D-Bus session with an unlocked gnome-keyring "
            "(DBUS_SESSION_BUS_ADDRESS is not set); run scripts/test.sh"
        )
        if running_in_ci():
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    return keyring.get_keyring()


# ``pytest --hypothesis-profile=long``: the stateful engine test (and the fuzzers) run far more
# programs; for benchmarks and release checks, not CI (see tests/integration/test_engine_stateful.py).
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile(
    "long",
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
