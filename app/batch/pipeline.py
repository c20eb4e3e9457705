"""The provisioning steps of one device, each journaled before and after its side effect.

``DeviceJob.run`` takes a device that has been identified and a journal row,
and walks it from wherever the journal says it is to DONE (or FAILED with the
step and reason). Resuming is the same code path as a first run: the journal
state decides which steps are still needed, so a crash, an unplug or an
operator's retry all continue safely:

- before the CSR was sent: a fresh key and CSR;
- sent but no answer journaled (ENROLLING/PENDING): the *same* CSR is sent again
  (RFC 7030 4.2.3 retransmission), never a new one;
- certificate journaled (ISSUED and later): that certificate is written, no new enrollment.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certline.app import pki
from certline.app.batch import server_key
from certline.app.batch.est_gateway import CsrFactory, EstGateway
from certline.app.batch.events import DeviceSnapshot
from certline.app.batch.journal_api import JournalBackend, StepChange
from certline.app.batch.label_desk import LabelDesk
from certline.app.batch.passcode_quota import PasscodeQuota, QuotaWaitStopped
from certline.app.batch.scan_label import UnreadableLabel
from certline.app.batch.states import DeviceState
from certline.app.config.profile import KeyGeneration, Profile, ScanIn
from certline.app.device.driver import (
    DeviceDriver,
    DeviceError,
    DeviceIdentity,
    DeviceLost,
    DeviceMismatch,
    DeviceUnsupported,
    KeyAlgorithm,
    StoredCredential,
)
from certline.app.est.errors import EstAuthError, EstError, EstPending
from certline.app.est.results import CsrAttributes, EnrollResult

log = logging.getLogger(__name__)

READING_CSR = "reading CSR from the device"
PROVING = "reading back and proving the key"
WRITING_CHAIN = "writing the certificate chain to the device"

S = DeviceState


class StepFailed(Exception):
    """A step failed for this device only; ``code`` and message go to the journal and the UI."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class JobInterrupted(Exception):
    """The batch was stopped or the device vanished; the journal already says where we were."""


class AwaitingApproval(JobInterrupted):
    """The EST server answered 202 and asks to come back later than the batch is willing to wait.

    The unit stays PENDING_APPROVAL with ``retry_at`` journaled (the time the server asked for);
    "Retry pending" or ``certline batch resume`` re-sends the journaled CSR byte for byte.
    """

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(
            f"pending approval on the EST server; it asks to retry at {format_retry_at(retry_at)}"
        )
        self.retry_at = retry_at


def issued_expired(chain_pem: str) -> str | None:
    """Why the journaled certificate may not be written (it has expired), or None."""
    leaf = pki.pem_to_chain(chain_pem)[0]
    if leaf.not_valid_after_utc > datetime.now(UTC):
        return None
    return (
        f"the certificate issued for this unit (serial {pki.cert_serial_hex(leaf)}) expired on "
        f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC before it could be written"
    )


def format_retry_at(when: datetime) -> str:
    """The server's retry time as operators read it everywhere (CLI, GUI row, report): UTC."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


POP_PENDING = (
    "the EST server answered 202 (pending approval) to a CSR bound to its TLS connection by "
    "proof-of-possession; re-sending it on a new connection cannot match, and a fresh CSR would be "
    "a second request for this unit, so Certline stops here. Reject the pending request on the "
    "server, then either turn off manual approval for this policy or enroll without PoP, and "
    "retry the unit"
)


@dataclass
class JobControl:
    """Shared switches a job checks between steps (set by the engine on pause/stop)."""

    stop: threading.Event
    running: threading.Event  # cleared while paused
    offline: bool = False
    pending_max_wait: float = 24 * 3600.0
    reprovision: bool = False
    """The operator asked to replace a credential a unit already holds (``--reprovision``)."""
    quota: PasscodeQuota | None = None
    """The passcode gate of a first enrollment (None: a re-enrollment, client-cert auth)."""

    def checkpoint(self, before_waiting: Callable[[], None] | None = None) -> None:
        """Return at once while the batch runs; wait while it is paused; raise when it stops.
        ``before_waiting`` runs once when the pause is seen (within 0.2 s), before the wait goes on."""
        while not self.running.wait(0.2):
            if before_waiting is not None:
                before_waiting()
                before_waiting = None
            if self.stop.is_set():
                raise JobInterrupted("batch stopped")
        if self.stop.is_set():
            raise JobInterrupted("batch stopped")


@dataclass(frozen=True)
class LabelBinding:
    """Scan-in for one job: the batch's label desk, the port the unit is on (its place in plug
    order) and whether the unit is still plugged in (checked while it waits)."""

    desk: LabelDesk
    port: str
    present: Callable[[], bool]


Publish = Callable[[DeviceSnapshot], None]
EnrollOp = Callable[..., EnrollResult]
"""``(csr, *, on_wait, cancel) -> EnrollResult``: the gateway's enroll, or a re-enrollment call."""


class DeviceJob:
    """Runs the remaining steps for one journaled device on one connected driver."""

    def __init__(
        self,
        *,
        journal: JournalBackend,
        profile: Profile,
        gateway: EstGateway | None,
        driver: DeviceDriver,
        identity: DeviceIdentity,
        device_id: int,
        control: JobControl,
        publish: Publish,
        enroll_op: EnrollOp | None = None,
        operation: str = "simpleenroll",
        new_key: bool = True,
        expected_subject: dict[str, str] | None = None,
        labels: LabelBinding | None = None,
    ) -> None:
        self.journal = journal
        self.profile = profile
        self.gateway = gateway
        self.driver = driver
        self.identity = identity
        self.device_id = device_id
        self.control = control
        self._publish = publish
        self._subject = expected_subject or profile.render_subject(identity.serial_number)
        if enroll_op is None:
            if gateway is None:
                raise ValueError("a DeviceJob needs a gateway or an enroll operation")
            enroll_op = gateway.enroll
        self._enroll_op: EnrollOp = enroll_op
        self._operation = operation
        self._new_key = new_key
        self._labels = labels
        self._writing_announced = False
        """WRITING was journaled with the certificate just enrolled (:meth:`_enroll`)."""
        self._unsaved: list[StepChange] = []
        """Changes made since the last durable write with no side effect after them (the CSR
        just read): saved with the next write, which always comes before the next side effect,
        or when the job ends early (:meth:`run`)."""

    # -- journal + events ---------------------------------------------------------------------
    def _to(self, state: DeviceState, step: str, **fields: object) -> None:
        if self._unsaved:
            self._to_then(StepChange(state, step, fields))
        else:
            self._publish(self.journal.transition(self.device_id, state, step, **fields))

    def _step(self, step: str, **fields: object) -> None:
        if self._unsaved:
            self._to_then(StepChange(None, step, fields))
        else:
            self._publish(self.journal.set_step(self.device_id, step, **fields))

    def _to_then(self, *changes: StepChange) -> None:
        """Consecutive changes with no side effect between them, as one durable write (a state
        and the step that starts right after it): the unit waits for the journal once, not
        twice, and each change is still its own transition in the history. Unsaved changes
        go first."""
        unsaved = self._take_unsaved()
        try:
            snapshots = self.journal.advance(self.device_id, (*unsaved, *changes))
        except BaseException:
            self._keep_unsaved(unsaved)
            raise
        self._publish_each(snapshots)

    def _publish_each(self, snapshots: list[DeviceSnapshot]) -> None:
        """Every state of a write of several changes reaches the views, in order."""
        for snapshot in snapshots:
            self._publish(snapshot)

    def _take_unsaved(self) -> list[StepChange]:
        unsaved, self._unsaved = self._unsaved, []
        return unsaved

    def _keep_unsaved(self, unsaved: list[StepChange]) -> None:
        """A write meant to carry ``unsaved`` did not: they wait for the next one (or the way out)."""
        self._unsaved = [*unsaved, *self._unsaved]

    def _save_unsaved(self) -> None:
        """The job ends or waits before its next write (stopped, paused, an error, a passcode
        that cannot pay): what it learnt since its last write (the CSR) is journaled now, so a
        resume sends that CSR. A failure here is logged, never raised over the job's own."""
        if not self._unsaved:
            return
        try:
            self._to_then()
        except Exception:  # noqa: BLE001 - the job's own exception (or wait) goes on
            log.exception("device %s: the journal could not take the unit's CSR", self.device_id)

    # -- driver -------------------------------------------------------------------------------
    def run(self) -> None:
        """Advance the device to DONE. Raises StepFailed/DeviceError/EstError for the engine to record."""
        try:
            self._run()
        except BaseException:
            self._save_unsaved()
            raise

    def _run(self) -> None:
        row = self.journal.device_row(self.device_id)
        state = DeviceState(row["state"])
        if state == S.FAILED:
            state = self._retry_point()
        chain_pem: str | None = row["chain_pem"]
        if state in (S.DETECTED, S.IDENTIFIED, S.AWAITING_LABEL):
            self._bind_label()  # scan-in: before the first side effect
        else:
            self._no_label_needed()
        pop = self._needs_pop(state)
        csr: bytes | CsrFactory
        if state in (S.DETECTED, S.IDENTIFIED, S.AWAITING_LABEL, S.KEY_READY):
            csr = self._prepare_csr(pop)
            state = S.CSR_READY
        else:
            if pop and state == S.PENDING_APPROVAL:
                raise StepFailed(POP_PENDING, code="pop-pending")
            csr = self._pop_csr_factory() if pop else row["csr_der"]
        if state in (S.CSR_READY, S.ENROLLING, S.PENDING_APPROVAL):
            if self.profile.key_generation == KeyGeneration.SERVER:
                assert isinstance(csr, bytes)
                chain_pem = self._enroll_server_keygen(csr)
            else:
                if self.control.offline and not pop:
                    self._step("CSR collected; enrolls when the station is back online")
                    raise JobInterrupted("offline mode: CSR collected")
                chain_pem = self._enroll(csr, write_next=True)
            state = S.ISSUED
        if chain_pem is None:
            raise StepFailed("the journal has no certificate for this device", code="journal")
        if state in (S.ISSUED, S.WRITING):
            self._write(chain_pem, announced=self._writing_announced)
            self._verify(chain_pem, announce=False)
        elif state in (S.WRITTEN, S.VERIFIED):
            self._verify(chain_pem, announce=True)
        else:
            self._to(S.DONE, "done")

    def enroll_only(self) -> None:
        """Enroll a CSR collected earlier (offline mode) without the device being connected.

        The certificate is journaled as ISSUED and written when the unit is plugged in again.
        """
        row = self.journal.device_row(self.device_id)
        state = DeviceState(row["state"])
        if state not in (S.CSR_READY, S.ENROLLING, S.PENDING_APPROVAL) or not row["csr_der"]:
            return
        if self.profile.key_generation == KeyGeneration.SERVER:
            return  # a server-generated key must go straight to a connected device
        self._enroll(row["csr_der"])
        self._step("certificate issued; plug the unit in to write it")

    def _retry_point(self) -> DeviceState:
        """Where an operator's retry of a FAILED device safely resumes, from its history."""
        history = [t.state for t in self.journal.history(self.device_id) if t.state != S.FAILED]
        last = history[-1] if history else S.IDENTIFIED
        journaled_chain = self.journal.device_row(self.device_id)["chain_pem"]
        if (
            last in (S.ISSUED, S.WRITING, S.WRITTEN, S.VERIFIED)
            and self.profile.key_generation == KeyGeneration.DEVICE
            and not (journaled_chain and issued_expired(journaled_chain))
        ):
            resume = S.ISSUED
        elif last in (S.ENROLLING, S.PENDING_APPROVAL, S.CSR_READY):
            resume = S.CSR_READY if self.journal.device_row(self.device_id)["csr_der"] else S.IDENTIFIED
        else:
            resume = S.IDENTIFIED
        self._to(resume, f"retrying from {resume.value}", error=None, error_code=None, failed_step=None)
        return resume

    def _bind_label(self) -> None:
        """Scan-in: hold the unit until its label is scanned, then compare the label with the
        identity the unit reported. A mismatch fails this unit with both values and nothing
        written to it; a label journaled earlier that matches (a resume) is not asked again."""
        if self._labels is None or self.profile.scan_in != ScanIn.REQUIRED:
            return
        serial = self.identity.serial_number
        desk = self._labels.desk
        journaled = self.journal.device_row(self.device_id).get("scanned_label")
        if journaled:
            try:
                earlier = desk.parse(journaled)
            except UnreadableLabel:
                earlier = None
            if earlier is not None and earlier.matches(serial):
                self._no_label_needed()
                self._step(f"label {earlier.describe()} matches the unit (scanned before)")
                return
        desk.identified(self._labels.port, serial)  # before the screen says "scan its label"
        self._to(S.AWAITING_LABEL, "waiting for its label to be scanned")
        limit = self.profile.scan_in_timeout or None
        label = desk.wait_for_label(
            self._labels.port, serial, self.control.stop, limit, present=self._labels.present
        )
        if label is None:
            if self.control.stop.is_set():
                raise JobInterrupted("batch stopped while the unit waited for its label")
            if not self._labels.present():
                raise DeviceLost("unplugged while it waited for its label")
            raise StepFailed(
                f"no label was scanned for this unit within {limit:g} s; scan its label and retry it",
                code="no-label",
            )
        self._step("comparing the scanned label with the unit", scanned_label=label.text)
        if not label.matches(serial):
            raise StepFailed(
                f"label mismatch: the scanned label says {label.describe()}, the unit reports "
                f"{serial}; nothing was written to the unit",
                code="label-mismatch",
            )
        self._step(f"label {label.describe()} matches the unit")

    def _no_label_needed(self) -> None:
        """This unit was bound to its label before (a resume): a label scanned now is for the
        next unit, not held until this job ends."""
        if self._labels is not None:
            self._labels.desk.ended(self._labels.port)

    def _requirements(self) -> CsrAttributes:
        """The server's /csrattrs for a device-made key (nothing to ask for server keygen)."""
        if self.gateway is None or self.profile.key_generation == KeyGeneration.SERVER:
            return CsrAttributes()
        return self.gateway.requirements()

    def _needs_pop(self, state: DeviceState) -> bool:
        """Proof-of-possession (RFC 7030 3.5): the CSR carries the TLS connection's tls-unique."""
        if self.profile.key_generation == KeyGeneration.SERVER or not self._new_key:
            return False
        if state not in (
            S.DETECTED, S.IDENTIFIED, S.AWAITING_LABEL, S.KEY_READY, S.CSR_READY, S.ENROLLING,
            S.PENDING_APPROVAL,
        ):  # fmt: skip
            return False
        return self.profile.require_pop or self._requirements().challenge_password_required

    def _algorithm(self) -> KeyAlgorithm:
        """The profile's key type unless the server's /csrattrs asks for another one."""
        reqs = self._requirements()
        if reqs.unsupported_key:
            raise StepFailed(
                f"the EST server's /csrattrs asks for {reqs.unsupported_key}, which Certline cannot "
                "have a device generate; change the server policy or use server-side key generation",
                code="unsupported",
            )
        if reqs.key_algorithm is not None and reqs.key_algorithm != self.profile.key_algorithm:
            log.info(
                "server /csrattrs asks for %s instead of the profile's %s",
                reqs.key_algorithm.value,
                self.profile.key_algorithm.value,
            )
            return reqs.key_algorithm
        return self.profile.key_algorithm

    def _pop_csr_factory(self) -> CsrFactory:
        """A CSR made by the device inside the TLS connection, with base64(tls-unique) as its
        challengePassword. Never a static password. Journaled before it is sent."""
        algorithm = self._algorithm()

        def make(tls_unique: bytes | None) -> bytes:
            if tls_unique is None:
                raise StepFailed(
                    "the server wants proof-of-possession but the connection is TLS 1.3, which has "
                    "no tls-unique; the server must allow TLS 1.2 for this policy",
                    code="pop-unavailable",
                )
            self._step("making a CSR bound to this TLS connection (proof-of-possession)")
            challenge = base64.b64encode(tls_unique).decode("ascii")
            received = self.driver.create_csr(self._subject, challenge_password=challenge)
            csr_der = self._check_csr(received, algorithm)
            self._to(S.CSR_READY, "channel-bound CSR ready", **_csr_fields(csr_der, received))
            self._to(S.ENROLLING, "enrolling with the EST server (proof-of-possession)")
            return csr_der

        return make

    def _check_csr(self, received: bytes, algorithm: KeyAlgorithm | None) -> bytes:
        """Validate the device's CSR; return the normalised DER that goes to the EST server."""
        try:
            csr = pki.check_device_csr(received, expected_subject=self._subject, expected_algorithm=algorithm)
        except pki.CsrRejected as exc:
            raise StepFailed(f"CSR from the device rejected: {exc}", code="bad-csr") from None
        return csr.public_bytes(serialization.Encoding.DER)

    def _guard_existing_credential(self) -> None:
        """Never destroy a working credential by surprise (the unit may be in the field already).

        A driver whose key generation overwrites the unit's credential in place (nRF91) reports
        what it would destroy. Without the operator's ``reprovision`` the unit is left untouched;
        with it, the old certificate (public) is journaled *before* the driver may delete it.
        A retry after this station already replaced it (same hash journaled) goes on, and so
        does a retry of this job after it wrote its own chain (the chain journaled for this
        row): neither is a credential the station did not put there itself in this job.
        """
        at_risk = self.driver.credential_at_risk()
        if at_risk is None:
            return
        digest = at_risk.sha256.hex()
        own_chain = self.journal.device_row(self.device_id).get("chain_pem")
        if own_chain and hashlib.sha256(own_chain.encode("ascii")).digest() == at_risk.sha256:
            self.driver.allow_replacing(at_risk)
            return
        described = _describe_credential(at_risk)
        if self.journal.device_row(self.device_id).get("replaced_sha256") != digest:
            if not self.control.reprovision:
                raise StepFailed(
                    f"the unit already holds a certificate ({described}); it was left untouched. "
                    "Re-provision it explicitly (--reprovision) to replace it",
                    code="already-provisioned",
                )
            self._step(
                f"re-provisioning: journaled the certificate being replaced ({described})",
                replaced_chain_pem=at_risk.chain_pem or None,
                replaced_sha256=digest,
            )
        self.driver.allow_replacing(at_risk)

    def _prepare_csr(self, pop: bool = False) -> bytes | CsrFactory:
        """Key on the device, then the CSR (or, with proof-of-possession, a factory that makes the
        CSR once the TLS connection exists)."""
        self.control.checkpoint()
        if self._new_key:
            self._guard_existing_credential()
        if self.profile.key_generation == KeyGeneration.SERVER:
            csr_der = _ephemeral_csr(self._subject)
            self._to(S.CSR_READY, "CSR ready (server will generate the key)", **_csr_fields(csr_der))
            return csr_der
        caps = self.identity.capabilities
        if not caps.on_device_keygen:
            raise StepFailed(
                "this device cannot generate keys; set the profile to server-side key generation",
                code="unsupported",
            )
        algorithm = self._algorithm() if self._new_key else self.profile.key_algorithm
        if self._new_key and algorithm not in caps.key_algorithms:
            offered = ", ".join(a.value for a in caps.key_algorithms)
            raise StepFailed(
                f"device cannot make a {algorithm.value} key (it offers {offered})", code="unsupported"
            )
        if not self._new_key:
            self._step("using the key already on the device")
        elif caps.separate_keygen_and_csr:
            self._step(f"generating {algorithm.value} key on the device")
            self.driver.generate_key(algorithm)
            if not pop:
                self._to_then(
                    StepChange(S.KEY_READY, "key generated on the device"),
                    StepChange(None, READING_CSR),
                )
                self.control.checkpoint()
                return self._read_csr(algorithm)
            self._to(S.KEY_READY, "key generated on the device")
        else:
            self.driver.generate_key(algorithm)
        self.control.checkpoint()
        if pop:
            return self._pop_csr_factory()
        self._step(READING_CSR)
        return self._read_csr(algorithm)

    def _read_csr(self, algorithm: KeyAlgorithm) -> bytes:
        """Read the device's CSR (its step already journaled) and check it. CSR_READY is
        journaled with the next write, the step into ENROLLING and its passcode use: nothing
        happens to the unit or the server in between, and one durable write is saved."""
        received = self.driver.create_csr(self._subject)
        csr_der = self._check_csr(received, algorithm if self._new_key else None)
        self._unsaved.append(StepChange(S.CSR_READY, "CSR ready", _csr_fields(csr_der, received)))
        return csr_der

    def _enroll(self, csr: bytes | CsrFactory, *, write_next: bool = False) -> str:
        """Enroll and journal the certificate. ``write_next``: the unit is connected and its
        certificate is written next; unless the batch is pausing or stopping, the step into
        WRITING is journaled with the certificate (one durable write; nothing happens between)."""
        result, use = self._post_until_issued(csr, self._enroll_op)
        writing = write_next and self.control.running.is_set() and not self.control.stop.is_set()
        chain_pem = self._record_issued(result, self._operation, paid_use=use, writing=writing)
        self._writing_announced = writing
        return chain_pem

    def _enroll_server_keygen(self, csr_der: bytes) -> str:
        if self.gateway is None:
            raise StepFailed("server-side key generation needs the batch's EST gateway", code="unsupported")
        if not self.identity.capabilities.import_server_key:
            raise StepFailed("this device cannot import a server-generated key", code="unsupported")
        gateway = self.gateway
        while True:
            self.control.checkpoint()
            use = self._reserve_passcode_use()
            self._to(S.ENROLLING, "requesting a server-generated key and certificate")
            try:
                result = gateway.serverkeygen(csr_der, on_wait=self._step, cancel=self.control.stop)
            except EstError as exc:
                if self._passcode_refused(use, exc):
                    continue
                raise
            self._passcode_paid(use)
            break
        try:  # before anything is written: can this unit take the key the server chose?
            key = server_key.key_for_unit(
                result.private_key_pkcs8,
                self.identity.capabilities.key_algorithms,
                self.identity.serial_number,
            )
        except server_key.ServerKeyUnusable as exc:
            issued = server_key.record_not_installed(self.journal, self.device_id, result)
            raise StepFailed(f"{exc}; {issued}", code=exc.code) from None
        chain_pem = self._record_issued(result, "serverkeygen")
        self._to(S.WRITING, "loading the server-generated key into the device")
        self.driver.import_private_key(key)
        del result, key  # the key lives in memory only as long as the import takes
        return chain_pem

    def _post_until_issued(
        self, csr: bytes | CsrFactory, post: Callable[..., EnrollResult]
    ) -> tuple[EnrollResult, str | None]:
        """Post until the server issues; the result and the passcode use it spent (reserved,
        settled as paid by the caller together with the certificate)."""
        deadline: float | None = None
        while True:
            self.control.checkpoint(before_waiting=self._save_unsaved)  # a pause may be long
            use = self._start_enrolling()
            try:
                result = post(csr, on_wait=self._step, cancel=self.control.stop)
            except EstPending as pending:
                if not isinstance(csr, bytes):
                    # the CSR was bound to the TLS connection that just closed (proof-of-possession)
                    self._to(S.PENDING_APPROVAL, "pending approval of a proof-of-possession CSR")
                    raise StepFailed(POP_PENDING, code="pop-pending") from None
                now = datetime.now(UTC)
                wait = max(1.0, (pending.retry_at - now).total_seconds())
                deadline = (
                    deadline if deadline is not None else time.monotonic() + self.control.pending_max_wait
                )
                if time.monotonic() + wait > deadline:
                    parked = AwaitingApproval(pending.retry_at)
                    self._to(S.PENDING_APPROVAL, str(parked), retry_at=pending.retry_at.isoformat())
                    raise parked from None
                self._to(
                    S.PENDING_APPROVAL,
                    f"waiting for approval on the EST server (asking again at "
                    f"{format_retry_at(pending.retry_at)})",
                    retry_at=pending.retry_at.isoformat(),
                )
                if self.control.stop.wait(wait):
                    raise JobInterrupted("batch stopped while pending") from None
            except EstError as exc:
                if self._passcode_refused(use, exc):
                    continue
                raise
            except StepFailed:
                # only the proof-of-possession CSR factory fails a step here, before the POST
                if use is not None and self.control.quota is not None:
                    self.control.quota.not_used(use, self.device_id)
                raise
            else:
                return result, use

    def _start_enrolling(self) -> str | None:
        """Journal the unsaved CSR and the step into ENROLLING with the passcode use the request
        will spend: one durable write when the passcode can pay at once. Otherwise the CSR is
        journaled first, then the unit waits at the passcode gate as :meth:`_reserve_passcode_use`
        says (the order of the writes before this change). Returns the use reserved (None: no
        passcode gate)."""
        attempts = self.journal.device_row(self.device_id)["enroll_attempts"] + 1
        enrolling = StepChange(S.ENROLLING, "enrolling with the EST server", {"enroll_attempts": attempts})
        quota = self.control.quota
        if quota is not None:
            unsaved = self._take_unsaved()
            try:
                reserved = quota.reserve_with(self.device_id, [*unsaved, enrolling])
            except BaseException:
                self._keep_unsaved(unsaved)
                raise
            if reserved is not None:
                self._publish_each(reserved[1])
                return reserved[0]
            self._keep_unsaved(unsaved)
            self._save_unsaved()  # journaled before the unit waits, or a use is reserved for it
        waited = self._reserve_passcode_use()
        self._to_then(enrolling)
        return waited

    # -- passcode uses (see app/batch/passcode_quota.py) ------------------------------------------
    def _reserve_passcode_use(self) -> str | None:
        """Reserve a use of the passcode (journaled) before the request; waits while the passcode
        cannot pay for it, with the unit at its journaled step (its CSR kept). None: no gate."""
        quota = self.control.quota
        if quota is None:
            return None
        try:
            return quota.reserve(self.device_id, on_wait=self._step, stop=self.control.stop)
        except QuotaWaitStopped as exc:
            raise JobInterrupted(str(exc)) from None

    def _passcode_paid(self, use: str | None) -> None:
        if use is not None and self.control.quota is not None:
            self.control.quota.paid(use, self.device_id)

    def _passcode_refused(self, use: str | None, exc: EstError) -> bool:
        """After an error: give the use back when the server answered (no certificate, so the
        passcode paid nothing); keep it when the answer was lost (the CA may have counted it).
        True when a 401 means the passcode is spent: the unit waits for a new one and sends again."""
        quota = self.control.quota
        if use is None or quota is None:
            return False
        if isinstance(exc, EstAuthError):
            message = quota.refused(use, self.device_id)
            if message is None:
                return False
            self._step(message)
            return True
        if exc.status is not None and not isinstance(exc, EstPending):
            quota.not_used(use, self.device_id)
        return False

    def _record_issued(
        self, result: EnrollResult, operation: str, *, paid_use: str | None = None, writing: bool = False
    ) -> str:
        """Journal the certificate, ISSUED and the passcode use it spent in one transaction;
        ``writing``: and the step into WRITING that follows at once."""
        leaf = result.leaf
        chain_pem = pki.chain_to_pem(result.chain)
        serial, fp, issuer = pki.cert_serial_hex(leaf), pki.fingerprint(leaf), leaf.issuer.rfc4514_string()
        issued = StepChange(
            S.ISSUED,
            "certificate issued and verified",
            {
                "cert_serial": serial,
                "cert_fingerprint": fp,
                "not_before": leaf.not_valid_before_utc.isoformat(),
                "not_after": leaf.not_valid_after_utc.isoformat(),
                "issuer": issuer,
                "chain_pem": chain_pem,
                "retry_at": None,
            },
        )
        for warning in result.warnings:
            log.warning("device %s: %s", self.identity.serial_number, warning)
        # the certificate and the ISSUED state in one transaction: one durable write
        snapshots = self.journal.record_certificate(
            self.device_id,
            operation=operation,
            chain_pem=chain_pem,
            cert_serial=serial,
            fingerprint=fp,
            not_before=leaf.not_valid_before_utc,
            not_after=leaf.not_valid_after_utc,
            issuer=issuer,
            subject=leaf.subject.rfc4514_string(),
            then=[issued, StepChange(S.WRITING, WRITING_CHAIN)] if writing else [issued],
            passcode_paid=paid_use if self.control.quota is not None else None,
        )
        self._publish_each(snapshots)
        return chain_pem

    def _write(self, chain_pem: str, *, announced: bool = False) -> None:
        """Write the chain; the journal then says WRITTEN and that verification starts.
        ``announced``: WRITING was journaled with the certificate (the pause and stop check
        was made then)."""
        expired = issued_expired(chain_pem)
        if expired:
            # a certificate that expired while it waited (a unit cut off and plugged in later, a
            # short validity) would replace a working credential with a dead one
            raise StepFailed(
                f"{expired}; nothing was written. Retry to enroll the unit anew", code="issued-expired"
            )
        if not announced:
            self.control.checkpoint()
            self._to(S.WRITING, WRITING_CHAIN)
        self.driver.write_certificate_chain(chain_pem)
        self._to_then(StepChange(S.WRITTEN, "certificate written and committed"), StepChange(None, PROVING))

    def _verify(self, chain_pem: str, *, announce: bool) -> None:
        """Read back and prove the key; journal VERIFIED and DONE together (nothing happens
        between them). ``announce``: journal the step first (not already done by :meth:`_write`)."""
        if announce:
            self._step(PROVING)
        stored = self.driver.read_certificate_chain()
        if stored is None:
            raise DeviceMismatch("the device reports no certificate after the write")
        expected_hash = hashlib.sha256(chain_pem.encode("ascii")).digest()
        if _normalise(stored.chain_pem) != _normalise(chain_pem) or stored.sha256 != expected_hash:
            raise DeviceMismatch("the certificate read back differs from the one written")
        leaf = pki.pem_to_chain(chain_pem)[0]
        if self.identity.capabilities.can_sign:
            nonce = os.urandom(32)
            digest = hashlib.sha256(nonce).digest()
            signature = self.driver.sign_digest(digest, "sha256")
            if not pki.verify_digest_signature(leaf, digest, signature):
                raise DeviceMismatch("the device's signature does not verify with the new certificate")
            proof = "read-back hash matches; device signed a fresh nonce with the certified key"
        else:
            proof = "read-back hash matches (device cannot sign; key match checked at enrollment)"
        self._to_then(StepChange(S.VERIFIED, proof), StepChange(S.DONE, "done"))


def _normalise(pem: str) -> str:
    return pem.replace("\r\n", "\n").strip()


def _csr_fields(csr_der: bytes, received: bytes | None = None) -> dict[str, object]:
    """Journal fields for a CSR: what is posted, and what the device sent (they differ when a
    modem quirk was normalised, see :func:`certline.app.pki.normalise_csr_der`)."""
    received = csr_der if received is None else received
    return {
        "csr_der": csr_der,
        "csr_sha256": hashlib.sha256(csr_der).hexdigest(),
        "csr_received_der": received,
        "csr_received_sha256": hashlib.sha256(received).hexdigest(),
    }


def _describe_credential(stored: StoredCredential) -> str:
    """Subject, expiry and the device's hash of a stored certificate, for the technician."""
    text = f"device SHA-256 {stored.sha256.hex().upper()[:16]}…"
    try:
        leaf = pki.pem_to_chain(stored.chain_pem)[0]
    except (ValueError, IndexError):
        return text
    return f"{leaf.subject.rfc4514_string()}, valid until {leaf.not_valid_after_utc:%Y-%m-%d}, {text}"


def _ephemeral_csr(subject: dict[str, str]) -> bytes:
    """CSR for /serverkeygen: the server makes the real key; this throwaway key only signs the request."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(pki.subject_from_dict(subject))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)


__all__ = [
    "AwaitingApproval",
    "DeviceJob",
    "JobControl",
    "JobInterrupted",
    "StepFailed",
    "DeviceError",
    "DeviceUnsupported",
    "EstError",
]
