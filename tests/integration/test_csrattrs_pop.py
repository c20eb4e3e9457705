"""What the server's /csrattrs asks for reaches the device: key type, and proof-of-possession.

RFC 7030 3.5: with challengePassword requested, the device puts base64(tls-unique) of the very
TLS connection into its CSR and the station posts it on that connection; the EST test server
checks the binding. On TLS 1.3 (no tls-unique) the unit fails with a clear reason.
"""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certline.app.batch.engine import BatchOptions
from certline.app.batch.states import DeviceState
from certline.app.estserver.csrattrs import PRESETS

from .conftest import start_sim


def run_batch(line, ports):
    session = line.session()
    engine = session.start_batch(BatchOptions(), ports)
    assert engine.wait(60)
    return session, engine


def test_proof_of_possession_binds_each_csr_to_its_tls_connection(line, sims, tmp_path):
    line.server.config.csrattrs = PRESETS["pop"]()
    line.server.config.require_pop = True
    line.server.faults.add("tls12_only")
    sim = start_sim(sims, tmp_path, 2)
    session, engine = run_batch(line, sim.ports)
    try:
        assert engine.all_verified(), [s.error for s in engine.devices()]
        passwords = []
        for snap in engine.devices():
            csr = x509.load_der_x509_csr(session.journal.device_row(snap.device_id)["csr_der"])
            value = csr.attributes.get_attribute_for_oid(x509.oid.AttributeOID.CHALLENGE_PASSWORD).value
            passwords.append(value)
            assert len(base64.b64decode(value)) == 12, "tls-unique of TLS 1.2 is the 12-byte Finished"
        assert len(set(passwords)) == 2, "each CSR is bound to its own connection, never a static password"
        assert len(line.server.issued) == 2
    finally:
        session.close()


def test_proof_of_possession_on_tls13_fails_the_unit_clearly(line, sims, tmp_path):
    line.server.config.csrattrs = PRESETS["pop"]()
    line.server.config.require_pop = True
    sim = start_sim(sims, tmp_path, 1)
    session, engine = run_batch(line, sim.ports)
    try:
        (snap,) = engine.devices()
        assert snap.state == DeviceState.FAILED
        assert snap.error_code in ("pop-unavailable",), snap.error
        assert "TLSv1.3" in (snap.error or "") and "TLS 1.2" in (snap.error or "")
        assert line.server.issued == []
    finally:
        session.close()


def test_key_type_requested_by_csrattrs_is_generated_on_the_device(line, sims, tmp_path):
    line.server.config.csrattrs = PRESETS["ec-p384"]()
    sim = start_sim(sims, tmp_path, 1)
    session, engine = run_batch(line, sim.ports)
    try:
        assert engine.all_verified(), [s.error for s in engine.devices()]
        (snap,) = engine.devices()
        leaf = x509.load_pem_x509_certificate(
            session.journal.device_row(snap.device_id)["chain_pem"].encode()
        )
        key = leaf.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"
    finally:
        session.close()
