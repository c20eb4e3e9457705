"""Field re-enrollment against the EST test server's client-certificate listener.

The unit signs the TLS handshake over its serial port; the server must see the certificate
being renewed as the client certificate. Runs over real pseudo-terminals and real TLS.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization

from certline.app import pki
from certline.app.batch.engine import BatchOptions
from certline.app.batch.journal import Journal
from certline.app.batch.states import DeviceState
from certline.app.cli.main import build_parser
from certline.app.device.driver import DeviceLost
from certline.app.device.registry import open_driver
from certline.app.est.client import EstClient
from certline.app.est.errors import EstError
from certline.app.reenroll import ReenrollError, Reenrollment, SigningUnsupported, read_current
from certline.app.station.resume_choice import ResumeRefused, choose_batch_to_resume

from .conftest import start_sim


def provisioned_unit(line, sims, tmp_path, **sim_kwargs):
    sim = start_sim(sims, tmp_path, 1, **sim_kwargs)
    session = line.provision(sim.ports)
    assert session.engine.all_verified()
    return sim, session


def renew(line, session, port, *, rekey=False, driver="certline", **profile_changes):
    profile = line.profile(**profile_changes)
    with EstClient(profile, line.credentials()) as client:
        drv = open_driver(driver, port)
        try:
            current = read_current(drv)
            result = Reenrollment(journal=session.journal, profile=profile, client=client, driver=drv).renew(
                current, rekey=rekey
            )
            stored = drv.read_certificate_chain()
        finally:
            drv.close()
    return current, result, stored


def test_renewal_with_the_key_on_the_device(line, sims, tmp_path):
    sim, session = provisioned_unit(line, sims, tmp_path)
    try:
        current, result, stored = renew(line, session, sim.ports[0])
    finally:
        session.close()
    old_leaf = current.chain[0]
    new_leaf = pki.pem_to_chain(stored.chain_pem)[0]
    # the server authenticated the TLS client with the certificate being renewed
    record = [r for r in line.server.issued if r.op == "simplereenroll"]
    assert len(record) == 1 and record[0].listener == "clientauth"
    assert result.old.serial == pki.cert_serial_hex(old_leaf)
    assert result.new.serial == pki.cert_serial_hex(new_leaf) != result.old.serial
    assert result.new.subject == result.old.subject and result.new.san == result.old.san
    assert result.new.not_before >= result.old.not_before and result.new.not_after >= result.old.not_after
    # key kept on the device: the new certificate certifies the same key
    assert pki.public_key_der(new_leaf.public_key()) == pki.public_key_der(old_leaf.public_key())
    assert stored.sha256 == hashlib.sha256(stored.chain_pem.encode()).digest()
    assert result.warnings == ()


def test_renewal_is_journaled_and_audited(line, sims, tmp_path):
    sim, session = provisioned_unit(line, sims, tmp_path)
    try:
        _current, result, _stored = renew(line, session, sim.ports[0])
        row = session.journal.device_row(result.device_id)
        certs = session.journal.certificates_for(row["serial_number"])
        assert row["kind"] == "reenroll" and row["state"] == DeviceState.DONE.value
        assert [c["operation"] for c in certs] == ["simpleenroll", "simplereenroll"]
        assert session.journal.audit.verify().ok
        kinds = [r["kind"] for r in session.journal.audit.records()]
        assert "certificate-simplereenroll" in kinds
    finally:
        session.close()


def test_rekey_makes_a_new_device_key_but_the_handshake_uses_the_old_one(line, sims, tmp_path):
    sim, session = provisioned_unit(line, sims, tmp_path)
    try:
        current, result, stored = renew(line, session, sim.ports[0], rekey=True)
    finally:
        session.close()
    new_leaf = pki.pem_to_chain(stored.chain_pem)[0]
    assert pki.public_key_der(new_leaf.public_key()) != pki.public_key_der(current.chain[0].public_key())
    flash = sim.devices[0].flash.snapshot()
    device_key = serialization.load_pem_private_key(flash["active_key"].encode(), password=None)
    assert pki.public_key_der(device_key.public_key()) == pki.public_key_der(new_leaf.public_key())
    assert result.new.subject == result.old.subject


def test_unplug_during_renewal_leaves_the_old_credential_working(line, sims, tmp_path):
    sim, session = provisioned_unit(line, sims, tmp_path)
    before = sim.devices[0].flash.snapshot()
    sim.devices[0].set_fault("unplug@cert-write")
    try:
        with pytest.raises(DeviceLost):
            renew(line, session, sim.ports[0], rekey=True)
    finally:
        session.close()
    port = sim.devices[0].replug()
    drv = open_driver("certline", port)
    try:
        current = read_current(drv)
        assert pki.chain_to_pem(current.chain) == before["chain_pem"]
        digest = hashlib.sha256(b"still works").digest()
        assert pki.verify_digest_signature(current.chain[0], digest, drv.sign_digest(digest))
    finally:
        drv.close()


def test_server_that_changes_the_subject_is_reported(line, sims, tmp_path):
    sim, session = provisioned_unit(line, sims, tmp_path)
    line.server.faults.add("change_subject", op="simplereenroll", times=1)
    try:
        _current, result, _stored = renew(line, session, sim.ports[0])
    finally:
        session.close()
    assert result.new.subject != result.old.subject
    assert any("subject" in w.lower() for w in result.warnings)


def test_device_that_cannot_sign_gets_a_clear_message_not_a_downgrade(line, sims, tmp_path):
    sim = start_sim(sims, tmp_path, 1, driver="nrf91")
    session = line.provision(sim.ports, driver="nrf91")
    try:
        assert session.engine.all_verified()
        issued_before = len(line.server.issued)
        with pytest.raises(SigningUnsupported, match="cannot sign the TLS handshake") as info:
            renew(line, session, sim.ports[0], driver="nrf91", allow_new_enrollment_fallback=True)
        assert len(line.server.issued) == issued_before
        # the way out it names is a command that exists
        suggested = re.search(r"'certline (batch run [^']+)'", str(info.value))
        assert suggested is not None, str(info.value)
        args = build_parser().parse_args(suggested.group(1).split())
        assert args.reprovision and args.profile == line.profile().name and args.port == [sim.ports[0]]
    finally:
        session.close()


# --- a renewal that does not finish belongs to re-enrollment alone (found by a field engineer) ---


def provisioned_with_fault(line, sims, tmp_path, fault):
    """A provisioned unit, the chain it holds, and ``fault`` armed on it for the renewal."""
    sim, session = provisioned_unit(line, sims, tmp_path)
    held = sim.devices[0].flash.snapshot()["chain_pem"]
    sim.devices[0].set_fault(fault)
    return sim, session, held


def reenroll_posts(line) -> int:
    return sum(1 for r in line.server.issued if r.op == "simplereenroll")


def enroll_posts(line) -> int:
    return sum(1 for r in line.server.issued if r.op == "simpleenroll")


def test_a_renewal_refused_by_the_server_fails_the_unit_and_no_batch_takes_it_over(line, sims, tmp_path):
    """Found from outside: a renewal the server refused stayed an unfinished batch; the next
    ``batch run`` on the unit continued it as a new enrollment with the passcode and replaced
    the unit's working certificate, unasked and without journaling the old one."""
    line.server.config.answer_retransmissions = False  # every POST that is answered issues
    sim, session = provisioned_unit(line, sims, tmp_path)
    before = sim.devices[0].flash.snapshot()["chain_pem"]
    line.server.faults.add("error5xx", op="simplereenroll", status=500)
    try:
        with pytest.raises(EstError):
            renew(line, session, sim.ports[0])
        row = next(r for r in session.journal.device_rows(session.journal.batches()[0].id))
        assert row["kind"] == "reenroll" and row["state"] == DeviceState.FAILED.value
        assert "HTTP 500" in row["error"]
        assert session.journal.batch(row["batch_id"]).ended_at is not None
        assert choose_batch_to_resume(session.journal) is None

        line.server.faults.clear()
        posts = enroll_posts(line)
        engine = session.start_batch(BatchOptions(work_order="WO-NEXT"), sim.ports)
        assert engine.wait(60)
        unit = session.journal.devices(engine.batch_id)[0]
        assert unit.state == DeviceState.SKIPPED and "already provisioned" in unit.step
    finally:
        session.close()
    assert enroll_posts(line) == posts  # nothing was enrolled anew
    assert sim.devices[0].flash.snapshot()["chain_pem"] == before


def test_a_unit_lost_before_anything_was_requested_fails_and_keeps_its_certificate(line, sims, tmp_path):
    """Nothing asked of the server means nothing to finish: the renewal ends failed (not an
    unfinished job that a later batch on this unit would have to refuse)."""
    sim, session, old = provisioned_with_fault(line, sims, tmp_path, "unplug@csr")
    try:
        with pytest.raises(DeviceLost, match="nothing was requested and the unit keeps its certificate"):
            renew(line, session, sim.ports[0])
        assert session.journal.find_unfinished_by_serial(sim.devices[0].serial_number) is None
        row = session.journal.device_rows(session.journal.batches()[0].id)[0]
        assert row["kind"] == "reenroll" and row["state"] == DeviceState.FAILED.value
        assert session.journal.batch(row["batch_id"]).ended_at is not None
    finally:
        session.close()
    assert reenroll_posts(line) == 0
    sim.devices[0].replug()
    assert sim.devices[0].flash.snapshot()["chain_pem"] == old


def test_a_renewal_cut_off_after_issue_is_finished_by_the_next_renewal_only(line, sims, tmp_path):
    """Found from outside: after a unit was unplugged while its renewed certificate was being
    written, a second renewal issued another certificate, and ``batch resume`` then wrote the
    first one over the newer one. The cut-off renewal stays the unit's one job: a batch leaves it
    alone and says so, and the next renewal writes the certificate already issued."""
    line.server.config.answer_retransmissions = False
    sim, session, old = provisioned_with_fault(line, sims, tmp_path, "unplug@cert-write")
    try:
        with pytest.raises(DeviceLost, match="plug it in again and re-enroll it to finish"):
            renew(line, session, sim.ports[0])
        assert reenroll_posts(line) == 1
        pending = session.journal.find_unfinished_by_serial(sim.devices[0].serial_number)
        assert pending is not None and pending.kind == "reenroll" and pending.cert_serial
        issued_serial = pending.cert_serial

        # neither 'batch resume' nor a batch on the unit's port continues it
        assert choose_batch_to_resume(session.journal) is None
        with pytest.raises(ResumeRefused, match="certline reenroll --profile line --port PORT"):
            choose_batch_to_resume(session.journal, batch_id=pending.batch_id)
        port = sim.devices[0].replug()
        engine = session.start_batch(BatchOptions(work_order="WO-NEXT"), [port])
        assert engine.wait(60)
        refused = session.journal.devices(engine.batch_id)[0]
        assert refused.state == DeviceState.FAILED and refused.error_code == "reenroll-unfinished"
        assert "unfinished field re-enrollment" in (refused.error or "")
        assert sim.devices[0].flash.snapshot()["chain_pem"] == old
        assert enroll_posts(line) == 1 and reenroll_posts(line) == 1

        # the next renewal finishes the same row with the certificate already issued
        _current, result, stored = renew(line, session, port)
        assert result.device_id == pending.device_id and result.new.serial == issued_serial
        assert pki.cert_serial_hex(pki.pem_to_chain(stored.chain_pem)[0]) == issued_serial
        assert session.journal.device(pending.device_id).state == DeviceState.DONE
        assert session.journal.batch(pending.batch_id).ended_at is not None
        operations = [c["operation"] for c in session.journal.certificates_for(sim.devices[0].serial_number)]
        assert operations == ["simpleenroll", "simplereenroll"]
    finally:
        session.close()
    assert reenroll_posts(line) == 1  # issued once


def test_a_renewal_that_shortens_the_certificate_s_life_is_a_warning(line, sims, tmp_path):
    """Found from outside: a 365-day certificate renewed with one that expired in minutes said
    nothing but "critical"."""
    sim, session = provisioned_unit(line, sims, tmp_path)
    line.server.config.validity_days = 1.0
    try:
        _current, result, _stored = renew(line, session, sim.ports[0])
    finally:
        session.close()
    assert result.new.not_after < result.old.not_after
    assert any("expires before the old one did" in w for w in result.warnings), result.warnings


def _cut_off_renewal(line, sims, tmp_path):
    """A provisioned unit whose renewal was cut off while its new certificate was being written:
    the unit back on a fresh port, the renewal unfinished with a certificate issued."""
    line.server.config.answer_retransmissions = False
    sim, session, held = provisioned_with_fault(line, sims, tmp_path, "unplug@cert-write")
    with pytest.raises(DeviceLost):
        renew(line, session, sim.ports[0])
    pending = session.journal.find_unfinished_by_serial(sim.devices[0].serial_number)
    assert pending is not None and pending.cert_serial
    return sim, session, held, pending, sim.devices[0].replug()


def test_a_cut_off_renewal_is_not_continued_under_another_profile(line, sims, tmp_path):
    """Found in review: the window renews with its own profile; continuing another profile's
    renewal would send that profile's CSR to this one's server, or write another CA's chain."""
    sim, session, held, pending, port = _cut_off_renewal(line, sims, tmp_path)
    try:
        with pytest.raises(
            ReenrollError, match="under profile 'line'.*'certline reenroll --profile line --port"
        ):
            renew(line, session, port, name="other-line")
        assert session.journal.find_unfinished_by_serial(sim.devices[0].serial_number) == pending
    finally:
        session.close()
    assert reenroll_posts(line) == 1
    assert sim.devices[0].flash.snapshot()["chain_pem"] == held


def test_reprovisioning_ends_a_cut_off_renewal_and_enrolls_the_unit_anew(line, sims, tmp_path):
    """Found in review: a unit with an unfinished renewal that no longer holds a certificate could
    be neither renewed (nothing to renew with) nor provisioned (the batch refused it). The
    operator's explicit re-provisioning is the way out: it ends the renewal, then enrolls."""
    sim, session, _held, pending, port = _cut_off_renewal(line, sims, tmp_path)
    try:
        enrolled_before = enroll_posts(line)
        engine = session.start_batch(BatchOptions(work_order="WO-RMA", reprovision=True), [port])
        assert engine.wait(60)
        unit = session.journal.devices(engine.batch_id)[0]
        assert unit.state == DeviceState.DONE, unit.step
        renewal = session.journal.device(pending.device_id)
        assert renewal.state == DeviceState.FAILED and renewal.error_code == "superseded"
        assert session.journal.batch(pending.batch_id).ended_at is not None
    finally:
        session.close()
    assert enroll_posts(line) == enrolled_before + 1 and reenroll_posts(line) == 1
    held_now = pki.pem_to_chain(sim.devices[0].flash.snapshot()["chain_pem"])[0]
    assert pki.cert_serial_hex(held_now) == unit.cert_serial


def test_a_stale_cut_off_renewal_never_writes_its_certificate_over_a_newer_one(line, sims, tmp_path):
    """Found in review: a renewal continued without checking what the unit holds now. Renewed
    meanwhile at another station (its own journal), the unit holds a newer certificate; the stale
    renewal ends failed and a new one starts from what the unit holds."""
    sim, session, _held, pending, port = _cut_off_renewal(line, sims, tmp_path)
    other = Journal(tmp_path / "other-station.sqlite")
    try:
        _current, elsewhere, _stored = renew(line, SimpleNamespace(journal=other), port)
        _current, result, stored = renew(line, session, port)
        stale = session.journal.device(pending.device_id)
        assert stale.state == DeviceState.FAILED and stale.error_code == "superseded"
        assert result.device_id != pending.device_id
        assert result.old.serial == elsewhere.new.serial  # renewed from what the unit held
        assert result.new.serial not in (pending.cert_serial, elsewhere.new.serial)
        assert pki.cert_serial_hex(pki.pem_to_chain(stored.chain_pem)[0]) == result.new.serial
    finally:
        other.close()
        session.close()
    assert reenroll_posts(line) == 3  # the cut-off one, the other station's, this one: none written twice


def test_a_certificate_that_expired_before_it_was_written_is_never_written(line, sims, tmp_path):
    """Found from outside: a renewal cut off during the write, finished after its certificate had
    expired, wrote the dead certificate over the unit's valid one. Neither a renewal nor a batch
    writes an expired certificate; the renewal starts afresh from what the unit holds."""
    line.server.config.answer_retransmissions = False
    sim, session, held = provisioned_with_fault(line, sims, tmp_path, "unplug@cert-write")
    line.server.config.validity_days = 2 / 86400  # the renewed certificate lives 2 s
    try:
        with pytest.raises(DeviceLost):
            renew(line, session, sim.ports[0])
        pending = session.journal.find_unfinished_by_serial(sim.devices[0].serial_number)
        assert pending is not None and pending.cert_not_after is not None
        port = sim.devices[0].replug()
        time.sleep(max(0.0, (pending.cert_not_after - datetime.now(UTC)).total_seconds()) + 0.5)
        line.server.config.validity_days = 365.0

        _current, result, stored = renew(line, session, port)
        stale = session.journal.device(pending.device_id)
        assert stale.state == DeviceState.FAILED and stale.error_code == "superseded"
        assert "expired" in (stale.error or "") and "before it could be written" in (stale.error or "")
        assert result.device_id != pending.device_id and result.new.serial != pending.cert_serial
        assert result.old.serial == pki.cert_serial_hex(pki.pem_to_chain(held)[0])
        assert result.new.not_after > datetime.now(UTC) + timedelta(days=300)
        assert pki.cert_serial_hex(pki.pem_to_chain(stored.chain_pem)[0]) == result.new.serial
    finally:
        session.close()
