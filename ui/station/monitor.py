"""Background checks behind the station bar: EST server, trust anchor, keyring entry.

Each check may block (a TLS handshake, a D-Bus keyring call, reading a CA
file), so each runs through :func:`certline.ui.plumbing.worker.run_in_background` and reports
by signal. The server is re-checked on a timer while no batch runs; during a
batch the engine's own ``BatchSnapshot.server_reachable`` is fresher and is
fed in with :meth:`StationMonitor.note_server`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from PySide6.QtCore import QObject, QTimer, Signal

from certline.app import pki
from certline.app.config.profile import Profile
from certline.app.station import StationSession
from certline.ui.plumbing.worker import run_in_background

log = logging.getLogger(__name__)

SERVER_CHECK_INTERVAL_MS = 30_000


class SecretState(enum.Enum):
    PRESENT = "present"
    MISSING = "missing"
    NOT_NEEDED = "not-needed"
    UNAVAILABLE = "unavailable"
    SUPPLIED = "supplied"
    """The session was given its secret some other way (environment, demo)."""


@dataclass(frozen=True)
class SecretStatus:
    state: SecretState
    detail: str = ""


def trust_anchor_certs(profile: Profile) -> list[x509.Certificate]:
    """The profile's pinned CA certificates (PEM in the profile, else the bundle file)."""
    if profile.ca_bundle_pem:
        return pki.pem_to_chain(profile.ca_bundle_pem)
    if profile.ca_bundle_file:
        return pki.pem_to_chain(Path(profile.ca_bundle_file).read_text(encoding="ascii"))
    return []


def trust_anchor_fingerprints(profile: Profile) -> list[str]:
    return [pki.fingerprint(cert) for cert in trust_anchor_certs(profile)]


def keyring_secret_status(profile: Profile) -> SecretStatus:
    """Whether the keyring holds what the profile's auth style needs (never reads it out)."""
    from certline.app.security.secret_needs import required_purposes
    from certline.app.security.secret_store import KeyringUnavailable, SecretStore

    purposes = required_purposes(profile)
    if not purposes:
        return SecretStatus(SecretState.NOT_NEEDED)
    store = SecretStore()
    try:
        missing = [p.value for p in purposes if not store.has(profile, p)]
    except KeyringUnavailable as exc:
        return SecretStatus(SecretState.UNAVAILABLE, str(exc))
    if missing:
        return SecretStatus(SecretState.MISSING, ", ".join(missing))
    return SecretStatus(SecretState.PRESENT)


class StationMonitor(QObject):
    """Runs the station bar's checks off the GUI thread.

    Signals:
        server_status(object): True reachable, False unreachable, None still checking.
        trust_anchor(object): list of SHA-256 fingerprints, or an error message (str).
        secret_status(object): a :class:`SecretStatus`.
    """

    server_status = Signal(object)
    trust_anchor = Signal(object)
    secret_status = Signal(object)

    def __init__(
        self,
        session: StationSession,
        parent: QObject | None = None,
        *,
        interval_ms: int = SERVER_CHECK_INTERVAL_MS,
        secret_check: Callable[[Profile], SecretStatus] | None = keyring_secret_status,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._secret_check = secret_check
        self._server_check_running = False
        self.batch_running = False
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self._on_timer)

    def start(self) -> None:
        self.refresh_trust_anchor()
        self.refresh_secret()
        self.check_server()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def note_server(self, reachable: bool | None) -> None:
        """The engine's view of the server (from ``BatchSnapshot.server_reachable``)."""
        if reachable is not None:
            self.server_status.emit(reachable)

    def _on_timer(self) -> None:
        if not self.batch_running:
            self.check_server()

    def check_server(self) -> None:
        if self._server_check_running:
            return
        self._server_check_running = True
        self.server_status.emit(None)
        run_in_background(self._session.check_server, self._server_done, self._server_failed, owner=self)

    def _server_done(self, reachable: bool) -> None:
        self._server_check_running = False
        self.server_status.emit(bool(reachable))

    def _server_failed(self, exc: BaseException) -> None:
        self._server_check_running = False
        log.warning("EST server check failed: %s", exc)
        self.server_status.emit(False)

    def refresh_trust_anchor(self) -> None:
        profile = self._session.profile
        run_in_background(
            lambda: trust_anchor_fingerprints(profile),
            self.trust_anchor.emit,
            lambda exc: self.trust_anchor.emit(str(exc)),
            owner=self,
        )

    def refresh_secret(self) -> None:
        check = self._secret_check
        if check is None:
            self.secret_status.emit(SecretStatus(SecretState.SUPPLIED))
            return
        profile = self._session.profile
        run_in_background(
            lambda: check(profile),
            self.secret_status.emit,
            lambda exc: self.secret_status.emit(SecretStatus(SecretState.UNAVAILABLE, str(exc))),
            owner=self,
        )
