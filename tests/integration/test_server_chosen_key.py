"""Server-side key generation against a server that picks the key type itself.

Some real servers answer /serverkeygen with a key of their own choosing (one returns RSA-4096
as PKCS#1 under an application/pkcs8 label) whatever key the CSR carries. Certline must check
the key against what the unit declares before writing anything, say what happened, and keep
the issued certificate on record as not installed.
"""

from __future__ import annotations

import json
import logging

from cryptography.hazmat.primitives import serialization

from certline.app.batch.report import build_json_report
from certline.app.batch.server_key import NOT_INSTALLED_OPERATION
from certline.app.batch.states import DeviceState
from certline.app.config.profile import KeyGeneration
from certline.app.estserver import FaultKind, service
from tests.hardening.test_no_secret_leaks import everything_written, find_leaks, private_key_needles

from .conftest import start_sim


def test_rsa4096_pkcs1_key_the_unit_cannot_take_fails_before_anything_is_written(
    line, sims, tmp_path, monkeypatch, caplog
):
    made: list[object] = []

    def recording_key_of_type(name: str) -> object:
        made.append(service.key_of_type.__wrapped__(name))  # type: ignore[attr-defined]
        return made[-1]

    recording_key_of_type.__wrapped__ = service.key_of_type  # type: ignore[attr-defined]
    monkeypatch.setattr(service, "key_of_type", recording_key_of_type)
    caplog.set_level(logging.DEBUG)
    line.server.config.serverkeygen_key = "rsa-4096"
    line.server.faults.add(FaultKind.KEYGEN_PKCS1)  # PKCS#1 bytes labelled application/pkcs8
    sim = start_sim(sims, tmp_path, 1)
    session = line.provision(sim.ports, key_generation=KeyGeneration.SERVER)
    try:
        (snap,) = session.engine.devices()
        unit = sim.devices[0]
        assert snap.state == DeviceState.FAILED
        row = session.journal.device_row(snap.device_id)
        accepted = ", ".join(a.value for a in unit_algorithms())
        assert row["error"].startswith(
            f"the EST server generated an RSA-4096 key; unit {unit.serial_number} accepts {accepted}"
        ), row["error"]
        assert "which was not installed" in row["error"]
        assert row["error_code"] == "server-key-unusable"
        # nothing reached the unit
        flash = unit.flash.snapshot()
        assert not flash.get("pending_key") and not flash.get("chain_pem")
        # the certificate the server issued is on record, marked as not installed
        (issued,) = line.server.issued
        (cert,) = session.journal.certificates_for(unit.serial_number)
        assert cert["operation"] == NOT_INSTALLED_OPERATION
        assert int(cert["cert_serial"], 16) == issued.serial
        report = build_json_report(session.journal, session.engine.batch_id)
        (entry,) = report["devices"]
        assert "issued certificate" in entry["error"] and "not installed" in entry["error"]
        assert session.journal.audit.verify().ok
    finally:
        session.close()
    # the key the server made never landed in the journal, the report, an error or a log line
    (key,) = made
    pem = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    needles = private_key_needles("server key", pem)
    blobs = everything_written(line.root / "station")
    blobs["report"] = json.dumps(report).encode()
    blobs["log"] = "\n".join(r.getMessage() for r in caplog.records).encode()
    assert any("journal" in name for name in blobs)  # the search is not vacuous
    assert not find_leaks(blobs, needles), find_leaks(blobs, needles)


def test_server_chosen_key_the_unit_declares_is_installed_whatever_its_encoding(line, sims, tmp_path):
    """The profile asks for ec-p256; the server sends an EC P-384 key as SEC1 under a PKCS#8 label."""
    line.server.config.serverkeygen_key = "ec-p384"
    line.server.faults.add(FaultKind.KEYGEN_PKCS1)
    sim = start_sim(sims, tmp_path, 1)
    session = line.provision(sim.ports, key_generation=KeyGeneration.SERVER)
    try:
        (snap,) = session.engine.devices()
        assert snap.state == DeviceState.DONE, snap.error
        flash = sim.devices[0].flash.snapshot()
        assert flash["active_alg"] == "ec-p384"
    finally:
        session.close()


def unit_algorithms() -> list[object]:
    """What the simulated certline unit declares (every KeyAlgorithm, in declaration order)."""
    from certline.app.device.driver import KeyAlgorithm

    return list(KeyAlgorithm)
