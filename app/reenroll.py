"""Field re-enrollment: renew one unit's certificate, the TLS handshake signed by the unit itself.

DTM and RFC 7030 servers authenticate ``/simplereenroll`` with the certificate
being renewed, so the station presents the unit's current certificate and lets
the unit sign the handshake over serial (``DeviceDriver.sign_digest``, through
``app/est/device_key_https.py``). The private key never leaves the unit. With
``rekey`` the unit makes a new pending key for the CSR while the handshake is
still signed by the old one; the unit keeps its old credential until the new
chain is written, committed and verified.

The steps run through the same journaled :class:`~certline.app.batch.pipeline.DeviceJob`
as a batch, so a renewal is resumable and audited like any provisioning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certline.app import pki
from certline.app.batch.events import DeviceSnapshot, EventBus
from certline.app.batch.journal_api import JournalBackend, JournalError
from certline.app.batch.pipeline import DeviceJob, JobControl, StepFailed, issued_expired
from certline.app.batch.states import DeviceState
from certline.app.batch.unfinished_renewal import REENROLL_KIND, supersede_renewal
from certline.app.config.profile import KeyGeneration, Profile
from certline.app.device.driver import DeviceDriver, DeviceIdentity, DeviceLost
from certline.app.est.client import EstClient
from certline.app.est.errors import EstError
from certline.app.est.results import EnrollResult

log = logging.getLogger(__name__)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class ReenrollError(Exception):
    """Renewal cannot go ahead; the message tells the field engineer what to do instead."""


class SigningUnsupported(ReenrollError):
    """The unit cannot sign a TLS handshake (e.g. nRF91 AT). Never downgraded silently."""


def urgency_for(days_left: float) -> str:
    """How close expiry is, one scale for every view: ``expired``, ``critical`` (< 7 days),
    ``soon`` (< 30 days) or ``ok``."""
    if days_left < 0:
        return "expired"
    if days_left < 7:
        return "critical"
    if days_left < 30:
        return "soon"
    return "ok"


@dataclass(frozen=True)
class CertificateView:
    """What a field engineer needs to see of a certificate."""

    subject: str
    san: tuple[str, ...]
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    fingerprint: str

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertificateView:
        try:
            ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            san = tuple(str(getattr(name, "value", name)) for name in ext)
        except x509.ExtensionNotFound:
            san = ()
        return cls(
            subject=cert.subject.rfc4514_string(),
            san=san,
            issuer=cert.issuer.rfc4514_string(),
            serial=pki.cert_serial_hex(cert),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            fingerprint=pki.fingerprint(cert),
        )

    def days_left(self, now: datetime | None = None) -> float:
        return (self.not_after - (now or datetime.now(UTC))).total_seconds() / 86400

    def urgency(self, now: datetime | None = None) -> str:
        """``expired``, ``critical`` (< 7 days), ``soon`` (< 30 days) or ``ok``: drives the colour."""
        return urgency_for(self.days_left(now))


@dataclass(frozen=True)
class CurrentCredential:
    identity: DeviceIdentity
    chain: tuple[x509.Certificate, ...]

    @property
    def view(self) -> CertificateView:
        return CertificateView.of(self.chain[0])


@dataclass(frozen=True)
class RenewalResult:
    device_id: int
    old: CertificateView
    new: CertificateView
    warnings: tuple[str, ...]
    new_key: bool = False
    """The new certificate certifies another key than the old (a re-key), read off the two
    certificates: a continued renewal may have been started in the other mode."""


def read_current(driver: DeviceDriver) -> CurrentCredential:
    """Identify the unit and read the certificate it holds now."""
    identity = driver.identify()
    stored = driver.read_certificate_chain()
    if stored is None:
        raise ReenrollError(
            f"unit {identity.serial_number} holds no certificate; provision it with a batch instead"
        )
    chain = tuple(pki.pem_to_chain(stored.chain_pem))
    if not chain:
        raise ReenrollError(f"unit {identity.serial_number} returned an empty certificate chain")
    return CurrentCredential(identity, chain)


@dataclass(frozen=True)
class _RenewalRow:
    """The journal row a renewal runs on, the certificate it renews, and the CSR a continued
    renewal journaled (None for a new one)."""

    device_id: int
    batch_id: int
    started_from: x509.Certificate
    journaled_csr: bytes | None


class Reenrollment:
    """Renews the certificate of the unit on one driver, journaled as a one-device batch."""

    def __init__(
        self,
        *,
        journal: JournalBackend,
        profile: Profile,
        client: EstClient,
        driver: DeviceDriver,
        bus: EventBus | None = None,
    ) -> None:
        self.journal = journal
        self.profile = profile
        self.client = client
        self.driver = driver
        self.bus = bus or EventBus()

    def renew(
        self,
        current: CurrentCredential,
        *,
        rekey: bool = False,
        work_order: str | None = None,
        operator: str | None = None,
        on_update: Callable[[DeviceSnapshot], None] | None = None,
    ) -> RenewalResult:
        identity = current.identity
        if not identity.capabilities.can_sign:
            raise SigningUnsupported(
                f"unit {identity.serial_number} ({self.driver.name} driver) cannot sign the TLS handshake "
                "that re-enrollment needs, so its key cannot stay on the unit; "
                + new_enrollment_instead(self.profile, self.driver.port)
            )
        publish = self._publisher(on_update)
        row = self._journal_row(current, publish, work_order=work_order, operator=operator)
        device_id, batch_id, old_leaf = row.device_id, row.batch_id, row.started_from
        warnings: list[str] = []

        def reenroll(
            csr_der: bytes, *, on_wait: Callable[[str], None], cancel: object = None
        ) -> EnrollResult:
            # a CSR journaled by the renewal being continued is sent again as it is (whichever
            # mode made it); a fresh one must carry the old key unless a re-key was asked for
            if not rekey and csr_der != row.journaled_csr:
                csr = x509.load_der_x509_csr(csr_der)
                if pki.public_key_der(csr.public_key()) != pki.public_key_der(old_leaf.public_key()):
                    raise ReenrollError(
                        "the unit signed the CSR with a different key than its certificate's "
                        "(a pending key from an interrupted re-key?); run again with --rekey"
                    )
            try:
                result = self.client.simplereenroll(
                    csr_der,
                    current.chain[0],
                    signer=self.driver.sign_digest,
                    client_chain=list(current.chain),
                )
            except EstError as exc:
                _add_expiry_advice(exc, current, self.profile, self.driver.port)
                raise
            warnings.extend(result.warnings)
            return result

        job = DeviceJob(
            journal=self.journal,
            profile=_device_keygen(self.profile),
            gateway=None,
            driver=self.driver,
            identity=identity,
            device_id=device_id,
            control=_always_running(),
            publish=publish,
            enroll_op=reenroll,
            operation="simplereenroll",
            new_key=rekey,
            expected_subject=pki.subject_to_dict(old_leaf.subject),
        )
        self._run(job, device_id, batch_id, publish)
        new_leaf = pki.pem_to_chain(self.journal.device_row(device_id)["chain_pem"])[0]
        if new_leaf.serial_number == old_leaf.serial_number:
            warnings.append("the server returned the same serial number as the old certificate")
        if new_leaf.not_valid_after_utc < old_leaf.not_valid_after_utc:
            # a renewal that shortens the unit's life is rarely meant (found by a field engineer:
            # a 365-day certificate "renewed" with a 2-minute one said only "critical")
            warnings.append(
                f"the new certificate expires before the old one did ({new_leaf.not_valid_after_utc:%Y-%m-%d %H:%M} "
                f"against {old_leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC): check the validity the EST "
                "server's profile gives"
            )
        new_key = pki.public_key_der(new_leaf.public_key()) != pki.public_key_der(old_leaf.public_key())
        return RenewalResult(
            device_id, CertificateView.of(old_leaf), CertificateView.of(new_leaf), tuple(warnings), new_key
        )

    def _journal_row(
        self,
        current: CurrentCredential,
        publish: Callable[[DeviceSnapshot], None],
        *,
        work_order: str | None,
        operator: str | None,
    ) -> _RenewalRow:
        """The journal row this renewal runs on: the unit's unfinished re-enrollment if it has
        one (one job per unit: the same CSR is sent again, or a certificate already issued is
        written, none requested twice), else a new one-device batch holding the certificate
        being renewed (``replaced_chain_pem``: reports show what was renewed).

        Refused: a unit whose *batch* provisioning is unfinished (that job is the batch's to
        finish), and a renewal started under another profile (its CSR or certificate belongs to
        that profile's server). An unfinished renewal whose unit now holds neither the
        certificate it started from nor the one it issued (renewed or re-provisioned elsewhere)
        is stale: it ends failed, and this renewal starts afresh rather than write its
        certificate over a newer one."""
        serial = current.identity.serial_number
        pending = self.journal.find_unfinished_by_serial(serial)
        if pending is not None and pending.kind != REENROLL_KIND:
            raise ReenrollError(
                f"unit {serial} has an unfinished provisioning in batch {pending.batch_id} "
                f"({pending.step}); finish it first with 'certline batch resume --batch "
                f"{pending.batch_id} --port {self.driver.port}'"
            )
        if pending is not None:
            continued = self._continue(pending, current, publish)
            if continued is not None:
                return continued
        batch_id = self.journal.create_batch(
            profile_name=self.profile.name,
            profile_json=self.profile.to_json(),
            work_order=work_order or "field re-enrollment",
            operator=operator,
        )
        started_from = current.chain[0]
        snap = self.journal.add_device(
            batch_id,
            self.driver.port,
            kind=REENROLL_KIND,
            serial_number=serial,
            model=current.identity.model,
            firmware=current.identity.firmware,
            replaced_chain_pem=pki.chain_to_pem(list(current.chain)),
        )
        publish(
            self.journal.transition(
                snap.device_id,
                DeviceState.IDENTIFIED,
                f"renewing certificate serial {pki.cert_serial_hex(started_from)}",
            )
        )
        return _RenewalRow(snap.device_id, batch_id, started_from, None)

    def _continue(
        self, pending: DeviceSnapshot, current: CurrentCredential, publish: Callable[[DeviceSnapshot], None]
    ) -> _RenewalRow | None:
        """``pending`` (the unit's unfinished renewal) to continue, or None when it is stale."""
        serial = current.identity.serial_number
        journaled = self.journal.batch(pending.batch_id)
        if journaled.profile_name != self.profile.name:
            raise ReenrollError(
                f"unit {serial} has an unfinished re-enrollment under profile {journaled.profile_name!r} "
                f"(batch {pending.batch_id}: {pending.step}); finish it with that profile: 'certline "
                f"reenroll --profile {journaled.profile_name} --port {self.driver.port}'"
            )
        row = self.journal.device_row(pending.device_id)
        started_from_pem: str | None = row.get("replaced_chain_pem")
        started_from = pki.pem_to_chain(started_from_pem)[0] if started_from_pem else current.chain[0]
        known = {pki.fingerprint(started_from)}
        if row.get("chain_pem"):
            known.add(pki.fingerprint(pki.pem_to_chain(row["chain_pem"])[0]))
        held = current.chain[0]
        reason = None
        if pki.fingerprint(held) not in known:
            reason = (
                f"stale: unit {serial} now holds certificate serial {pki.cert_serial_hex(held)}, neither "
                "the one this renewal started from nor the one it was issued; a new renewal starts"
            )
        elif row.get("chain_pem") and pki.fingerprint(held) == pki.fingerprint(started_from):
            expired = issued_expired(row["chain_pem"])  # not written yet, and dead (found from outside)
            reason = f"stale: {expired}; a new renewal starts" if expired else None
        if reason is not None:
            supersede_renewal(self.journal, pending, reason)
            return None
        if journaled.ended_at is not None:
            self.journal.reopen_batch(pending.batch_id)
        publish(
            self.journal.set_step(pending.device_id, f"continuing the re-enrollment on {self.driver.port}")
        )
        return _RenewalRow(pending.device_id, pending.batch_id, started_from, row.get("csr_der"))

    def _run(
        self, job: DeviceJob, device_id: int, batch_id: int, publish: Callable[[DeviceSnapshot], None]
    ) -> None:
        """Run the job and journal how it ended, as the batch engine does for its units.

        Done: the batch is closed. The unit lost (unplugged, powered off) once its request may
        have reached the server: the row stays unfinished at its journaled step, for the next
        re-enrollment of this unit to continue (the same CSR is sent again, or a certificate
        already issued is written: none is requested twice); nothing else continues it
        (app/batch/unfinished_renewal.py). Lost before that, or any other error: the unit FAILED
        with the reason, and the batch is closed; its old credential is untouched unless the new
        one was written and verified. (A failure after the certificate was issued, the unit
        refusing the write, ends failed too: the next renewal requests a new certificate, since
        one the unit would not take may not be writable at all.)"""
        try:
            job.run()
        except DeviceLost as exc:
            if self.journal.device(device_id).state in _NOTHING_REQUESTED:
                # nothing was asked of the server: nothing to finish, the unit keeps its certificate
                exc.args = (f"{exc}; nothing was requested and the unit keeps its certificate",)
                self._fail(device_id, batch_id, exc, publish)
                raise
            lost = f"{exc}; plug it in again and re-enroll it to finish"
            publish(self.journal.set_step(device_id, lost))
            # both views show the exception: it says the same, and that nothing is issued twice
            exc.args = (f"{lost} (a certificate already issued is written then, none is requested twice)",)
            raise
        except StepFailed as exc:
            # a step the unit or the pipeline refused (a rejected CSR, an unusable answer): the
            # views know a renewal's refusals as ReenrollError, not the pipeline's own class
            self._fail(device_id, batch_id, exc, publish)
            raise ReenrollError(str(exc)) from exc
        except Exception as exc:
            self._fail(device_id, batch_id, exc, publish)
            raise
        self.journal.end_batch(batch_id)

    def _fail(
        self, device_id: int, batch_id: int, exc: Exception, publish: Callable[[DeviceSnapshot], None]
    ) -> None:
        """Journal ``exc`` as the unit's failure and close its batch. A journal that cannot take
        that is logged and added to ``exc``'s message, which the caller raises: the reason the renewal
        stopped is never replaced by the journal's."""
        message = str(exc) or type(exc).__name__
        try:
            step = self.journal.device(device_id).step
            publish(
                self.journal.transition(
                    device_id,
                    DeviceState.FAILED,
                    f"failed: {message}",
                    error=message,
                    error_code=getattr(exc, "code", None) or "reenroll",
                    failed_step=step,
                )
            )
            self.journal.end_batch(batch_id)
        except JournalError as journal_exc:
            log.error(
                "re-enrollment of device %s: the journal could not record its failure: %s",
                device_id,
                journal_exc,
            )
            exc.args = (f"{exc} (and the journal could not record this failure: {journal_exc})",)

    def _publisher(self, extra: Callable[[DeviceSnapshot], None] | None) -> Callable[[DeviceSnapshot], None]:
        def publish(snap: DeviceSnapshot) -> None:
            self.bus.publish(snap)
            if extra is not None:
                extra(snap)

        return publish


#: states in which the renewal has not asked the server for anything yet
_NOTHING_REQUESTED = frozenset(
    {DeviceState.DETECTED, DeviceState.IDENTIFIED, DeviceState.KEY_READY, DeviceState.CSR_READY}
)


def _add_expiry_advice(exc: EstError, current: CurrentCredential, profile: Profile, port: str) -> None:
    """Add to ``exc`` what to do when the certificate being renewed has expired: EST
    servers do not renew an expired certificate (re-enrollment is authenticated by it), so the
    way out is a new enrollment with the passcode, which the operator must ask for. The
    exception keeps its type and code (the message is its only argument that changes)."""
    view = current.view
    if view.days_left() >= 0:
        return
    expired = view.not_after.strftime("%Y-%m-%d %H:%M UTC")
    exc.args = (
        f"{exc}; the certificate being renewed expired on {expired} and cannot be renewed; "
        + new_enrollment_instead(profile, port),
    )


def new_enrollment_instead(profile: Profile, port: str) -> str:
    """The way out when a unit cannot be re-enrolled: a new enrollment with the passcode, which
    replaces its credential and so must be asked for (``--reprovision``), if the profile allows it."""
    if profile.allow_new_enrollment_fallback:
        return (
            "the profile allows a new enrollment with the passcode instead: provision the unit again "
            f"with 'certline batch run --profile {profile.name} --port {port} --reprovision'"
        )
    return "this profile does not allow a new enrollment instead; ask the engineer who owns it"


def _device_keygen(profile: Profile) -> Profile:
    """Re-enrollment keeps (or re-makes) the key on the unit whatever the batch profile says."""
    import dataclasses

    return dataclasses.replace(profile, key_generation=KeyGeneration.DEVICE)


def _always_running() -> JobControl:
    import threading

    running = threading.Event()
    running.set()
    # Re-enrolling is the operator's explicit request to replace the unit's credential.
    return JobControl(stop=threading.Event(), running=running, reprovision=True)


@dataclass(frozen=True, repr=False)
class FileRenewal:
    """Outcome of a renewal with the credential in files. ``new_key_pem`` only with ``rekey``."""

    result: RenewalResult
    chain_pem: str
    new_key_pem: bytes | None

    def __repr__(self) -> str:
        return (
            f"FileRenewal(new={self.result.new.serial}, new_key={'<redacted>' if self.new_key_pem else None})"
        )


def load_file_credential(
    *, cert_file: str | None, key_file: str | None, p12_file: str | None, password: str | None
) -> tuple[tuple[x509.Certificate, ...], PrivateKey]:
    """Read the certificate being renewed and its key from PEM files or a PKCS#12 file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    secret = password.encode() if password else None
    try:
        if p12_file:
            key, cert, extra = pkcs12.load_key_and_certificates(Path(p12_file).read_bytes(), secret)
            if key is None or cert is None:
                raise ReenrollError(f"{p12_file} does not hold both a certificate and its key")
            chain: tuple[x509.Certificate, ...] = (cert, *extra)
        elif cert_file and key_file:
            chain = tuple(pki.pem_to_chain(Path(cert_file).read_text(encoding="ascii")))
            key = serialization.load_pem_private_key(Path(key_file).read_bytes(), secret)
        else:
            raise ReenrollError(
                "give the current certificate and key (--cert and --key) or a PKCS#12 file (--p12)"
            )
    except (OSError, ValueError, TypeError) as exc:
        raise ReenrollError(f"cannot read the current credential: {type(exc).__name__}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ReenrollError("only EC and RSA keys can be renewed")
    if pki.public_key_der(key.public_key()) != pki.public_key_der(chain[0].public_key()):
        raise ReenrollError("the key file does not belong to the certificate")
    return chain, key


def renew_with_files(
    *,
    journal: JournalBackend,
    profile: Profile,
    client: EstClient,
    chain: tuple[x509.Certificate, ...],
    key: PrivateKey,
    rekey: bool = False,
    operator: str | None = None,
) -> FileRenewal:
    """Renew a credential kept in files, like the DTM documentation's curl example.

    The TLS handshake is signed with the current key (in memory, through the same external-key
    TLS path a unit uses); with ``rekey`` the CSR carries a new key of the same type.
    """
    from cryptography.hazmat.primitives import hashes, serialization

    from certline.app.est.device_key_tlslite import signer_from_private_key

    old_leaf = chain[0]
    new_key: PrivateKey = key
    if rekey:
        new_key = (
            ec.generate_private_key(key.curve)
            if isinstance(key, ec.EllipticCurvePrivateKey)
            else rsa.generate_private_key(65537, key.key_size)
        )
    csr = (
        x509.CertificateSigningRequestBuilder().subject_name(old_leaf.subject).sign(new_key, hashes.SHA256())
    )
    csr_der = csr.public_bytes(serialization.Encoding.DER)
    serial = _common_name(old_leaf) or pki.cert_serial_hex(old_leaf)
    batch_id = journal.create_batch(
        profile_name=profile.name,
        profile_json=profile.to_json(),
        work_order="field re-enrollment (files)",
        operator=operator,
    )
    device_id = journal.add_device(batch_id, "files", kind=REENROLL_KIND, serial_number=serial).device_id
    journal.transition(
        device_id, DeviceState.IDENTIFIED, f"renewing certificate serial {pki.cert_serial_hex(old_leaf)}"
    )
    journal.transition(device_id, DeviceState.CSR_READY, "CSR ready", csr_der=csr_der)
    journal.transition(device_id, DeviceState.ENROLLING, "re-enrolling with the EST server")
    try:
        outcome = client.simplereenroll(
            csr_der, old_leaf, signer=signer_from_private_key(key), client_chain=list(chain)
        )
    except Exception as exc:
        journal.transition(
            device_id,
            DeviceState.FAILED,
            f"failed: {exc}",
            error=str(exc),
            error_code=getattr(exc, "code", "est"),
            failed_step="enrolling",
        )
        journal.end_batch(batch_id)  # nothing is left to continue: the request failed, nothing issued
        raise
    new_leaf = outcome.leaf
    chain_pem = pki.chain_to_pem(outcome.chain)
    journal.record_certificate(
        device_id,
        operation="simplereenroll",
        chain_pem=chain_pem,
        cert_serial=pki.cert_serial_hex(new_leaf),
        fingerprint=pki.fingerprint(new_leaf),
        not_before=new_leaf.not_valid_before_utc,
        not_after=new_leaf.not_valid_after_utc,
        issuer=new_leaf.issuer.rfc4514_string(),
        subject=new_leaf.subject.rfc4514_string(),
    )
    journal.transition(
        device_id,
        DeviceState.ISSUED,
        "certificate issued and verified",
        chain_pem=chain_pem,
        cert_serial=pki.cert_serial_hex(new_leaf),
        cert_fingerprint=pki.fingerprint(new_leaf),
        not_before=new_leaf.not_valid_before_utc.isoformat(),
        not_after=new_leaf.not_valid_after_utc.isoformat(),
        issuer=new_leaf.issuer.rfc4514_string(),
    )
    journal.end_batch(batch_id)
    key_pem = (
        new_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        if rekey
        else None
    )
    result = RenewalResult(
        device_id, CertificateView.of(old_leaf), CertificateView.of(new_leaf), outcome.warnings
    )
    return FileRenewal(result, chain_pem, key_pem)


def _common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else None
