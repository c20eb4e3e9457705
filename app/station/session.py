"""A station session: the journal, the event bus and one profile, ready to run batches.

The CLI (``certline batch run``, ``certline demo``) and the GUI both build a
:class:`StationSession` and start batches through it, so a batch behaves the
same whichever view drives it. Building the EST client and opening drivers
happens here, not in the views.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from certline.app.batch.engine import BatchEngine, BatchOptions
from certline.app.batch.est_gateway import EnrollmentClient, EstGateway
from certline.app.batch.events import EventBus, LogEvent
from certline.app.batch.journal import Journal
from certline.app.batch.journal_api import JournalBackend
from certline.app.batch.passcode_quota import PasscodePolicy, PasscodeQuota
from certline.app.batch.rate_limit import station_bucket
from certline.app.config.paths import StationPaths, ensure_private_dir, station_paths
from certline.app.config.profile import Profile
from certline.app.device.driver import DeviceDriver
from certline.app.device.driver_host import DriverHosts, default_host_count
from certline.app.est.credentials import Credentials
from certline.app.security.roles import RoleGate
from certline.app.security.secret_needs import Need, need_for
from certline.app.security.secret_store import Purpose
from certline.app.security.station_lock import StationLock

log = logging.getLogger(__name__)

ClientFactory = Callable[[Profile, Credentials, int], EnrollmentClient]
DriverFactory = Callable[[str], DeviceDriver]


def default_client_factory(profile: Profile, credentials: Credentials, pool_size: int) -> EnrollmentClient:
    from certline.app.est.client import EstClient

    return EstClient(profile, credentials, pool_size=pool_size, timeout=profile.request_timeout)


def default_driver_factory(profile: Profile) -> DriverFactory:
    """The profile's driver, in this process (one thread per port runs its serial I/O)."""
    from certline.app.device.registry import open_driver

    return lambda port: open_driver(profile.driver, port, profile.baud)


def hosted_driver_factory(profile: Profile, hosts: DriverHosts) -> DriverFactory:
    """The profile's driver, in one of the station's device host processes (see
    :mod:`certline.app.device.driver_host`)."""
    return lambda port: hosts.open_driver(profile.driver, port, profile.baud)


class StationSession:
    """Owns the journal and bus for the life of the station process; one engine per batch."""

    def __init__(
        self,
        profile: Profile,
        credentials: Credentials,
        *,
        paths: StationPaths | None = None,
        journal: JournalBackend | None = None,
        client_factory: ClientFactory = default_client_factory,
        driver_factory: DriverFactory | None = None,
        roles: RoleGate | None = None,
        device_hosts: int | None = None,
    ) -> None:
        """``driver_factory`` replaces the profile's drivers (tests, benchmarks); without one, the
        drivers run in ``device_hosts`` device host processes (None: :func:`default_host_count`,
        ``CERTLINE_DEVICE_HOSTS``; 0: in this process)."""
        self.paths = paths or station_paths()
        #: who acts now and what their role may do (asked by every guarded use case)
        self.roles = roles or RoleGate.for_station(StationLock.for_config_dir(self.paths.config))
        ensure_private_dir(self.paths.data)
        self.journal: JournalBackend = journal or Journal(self.paths.journal)
        self.bus = EventBus()
        if self.journal.shared and hasattr(self.journal, "on_reachable"):
            setattr(self.journal, "on_reachable", self._journal_reachability)  # noqa: B010 - PG only
        self.profile = profile
        self._credentials = credentials
        self._client_factory = client_factory
        self.device_hosts: DriverHosts | None = None
        """The processes that run the serial drivers (None: they run in this process)."""
        self.workers_yield_to_window = False
        """Set by the station window: the port workers of the batches started from now on run
        below normal priority, so the window's thread comes first (docs/benchmarks.md §3)."""
        if driver_factory is None:
            count = default_host_count() if device_hosts is None else device_hosts
            if count > 0:
                self.device_hosts = DriverHosts(count)
        self._driver_factory = driver_factory or self._profile_drivers(profile)
        self._client: EnrollmentClient | None = None
        self._batch_clients: dict[str, EnrollmentClient] = {}
        self._batch_profiles: dict[str, Profile] = {}
        self._lock = threading.Lock()
        self.engine: BatchEngine | None = None

    @property
    def client(self) -> EnrollmentClient:
        """The profile's EST client (one keep-alive session), created on first use."""
        with self._lock:
            if self._client is None:
                self._client = self._client_factory(self.profile, self._credentials, self.profile.concurrency)
            return self._client

    def start_batch(
        self, options: BatchOptions, ports: list[str] | None = None, *, resume_batch: int | None = None
    ) -> BatchEngine:
        """Create (or resume) a batch and start workers on ``ports``. Returns immediately.

        A resumed batch runs under the profile journaled when it started (see
        :mod:`certline.app.station.resume_choice`), even if the profile was edited since.
        """
        if self.engine is not None:
            self.engine.stop()
        self.prepare_devices()
        profile = self.profile
        if resume_batch is not None:
            profile = Profile.from_json(self.journal.batch(resume_batch).profile_json)
        # the passcode in use and the enrollment rate are today's (the profile as saved now),
        # also for a batch resumed under its journaled profile: a new passcode set since counts
        quota_profile = self.profile if self.profile.name == profile.name else profile
        policy = PasscodePolicy.of(quota_profile)
        gateway = EstGateway(
            self._client_for(profile),
            concurrency=profile.concurrency,
            rate=station_bucket(profile.name, quota_profile.max_enrollments_per_minute),
        )
        self.engine = BatchEngine(
            quota=PasscodeQuota(self.journal, policy) if policy is not None else None,
            journal=self.journal,
            profile=profile,
            gateway=gateway,
            open_driver=self._driver_factory if profile == self.profile else self._profile_drivers(profile),
            bus=self.bus,
            options=options,
            batch_id=resume_batch,
            workers_yield=self.workers_yield_to_window,
        )
        if ports:
            self.engine.add_ports(ports)
        return self.engine

    def _profile_drivers(self, profile: Profile) -> DriverFactory:
        if self.device_hosts is not None:
            return hosted_driver_factory(profile, self.device_hosts)
        return default_driver_factory(profile)

    def prepare_devices(self, wait: float | None = None) -> None:
        """Start the device host processes now rather than at the first unit (each takes a few
        hundred ms to start). Returns at once, or, with ``wait``, when every host answers (at
        most ``wait`` s)."""
        if self.device_hosts is not None:
            self.device_hosts.start()
            if wait is not None:
                self.device_hosts.wait_ready(wait)

    def _client_for(self, profile: Profile) -> EnrollmentClient:
        """The session's client, or for a batch journaled under an older profile, one of its own."""
        if profile == self.profile:
            return self.client
        with self._lock:
            client = self._batch_clients.get(profile.name)
            if client is None or self._batch_profiles.get(profile.name) != profile:
                if client is not None and hasattr(client, "close"):
                    client.close()
                client = self._client_factory(profile, self._credentials, profile.concurrency)
                self._batch_clients[profile.name] = client
                self._batch_profiles[profile.name] = profile
            return client

    def missing_secrets(self) -> list[Purpose]:
        """The secrets the profile requires that this session holds none of (a window opened while
        the OS keyring was unusable, or a profile whose passcode was never stored)."""
        with self._lock:
            profile, credentials = self.profile, self._credentials
        held = {
            Purpose.PASSCODE: credentials.passcode,
            Purpose.USER_PASSWORD: credentials.password or credentials.passcode,
            Purpose.P12_PASSWORD: credentials.p12_password,
        }
        return [p for p in Purpose if need_for(profile, p) is Need.REQUIRED and not held[p]]

    def use_passcode(self, profile: Profile, credentials: Credentials) -> None:
        """A new passcode (and the profile that names it): every EST client of this session sends
        it from its next request, and the running batch's units charge their uses to it."""
        with self._lock:
            self.profile = profile
            self._credentials = credentials
            clients = [self._client, *self._batch_clients.values()]
        for client in clients:
            use = getattr(client, "use_credentials", None)
            if use is not None:
                use(credentials)
        engine = self.engine
        policy = PasscodePolicy.of(profile)
        if engine is not None and engine.quota is not None and policy is not None:
            engine.quota.replace(policy)
        if engine is not None:
            rate = station_bucket(profile.name, profile.max_enrollments_per_minute)
            engine.gateway.set_rate(rate)

    def abort_requests(self) -> None:
        """End EST requests still in flight now (closing the client; a later batch gets a new one).

        For a batch that was told to stop and whose units are stuck in a request to a slow
        server: the journal already says where each unit is, and resuming re-sends the same CSR.
        """
        with self._lock:
            clients = [self._client, *self._batch_clients.values()]
            self._client = None
            self._batch_clients.clear()
            self._batch_profiles.clear()
        for client in clients:
            if client is not None and hasattr(client, "close"):
                client.close()

    def check_server(self) -> bool:
        """Blocking reachability check (``/cacerts``); call from a worker thread, never the GUI thread."""
        from certline.app.est.errors import EstError

        try:
            self.client.cacerts()
        except EstError as exc:
            log.info("EST server check failed: %s", exc)
            return False
        return True

    def _journal_reachability(self, reachable: bool) -> None:
        """Say on the bus (log pane, CLI progress) when the shared journal goes and comes back:
        units wait at their last journaled step meanwhile."""
        if reachable:
            message = f"shared journal {self.journal.describe()} is reachable again; units continue"
            self.bus.publish(LogEvent(logging.WARNING, message))
        else:
            message = (
                f"shared journal {self.journal.describe()} is unreachable; units wait at their last "
                "journaled step and continue by themselves when it is back"
            )
            self.bus.publish(LogEvent(logging.ERROR, message))

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()
            self.engine.wait(10)
        for client in [self._client, *self._batch_clients.values()]:
            if client is not None and hasattr(client, "close"):
                client.close()
        if self.device_hosts is not None:
            self.device_hosts.close()
        self.journal.close()
