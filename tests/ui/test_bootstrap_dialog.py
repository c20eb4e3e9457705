"""Bootstrap trust: the CA to pin must be confirmed, and no pasted value may contradict what was fetched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certline.app.est.bootstrap import BootstrapResult, cert_fingerprint
from certline.app.est.errors import EstConnectionError
from certline.ui.profiles.bootstrap_dialog import BootstrapDialog
from tests.batch.fakes import FakeCA
from tests.helpers.certs import make_cert, new_key


def server_cert(ca: FakeCA) -> x509.Certificate:
    key = new_key()
    now = datetime.now(UTC)
    return make_cert(
        "est.example.test", key.public_key(), ca.key, issuer=ca.cert, not_before=now - timedelta(minutes=1)
    )


@pytest.fixture
def result() -> BootstrapResult:
    ca = FakeCA()
    server = server_cert(ca)
    return BootstrapResult(
        url="https://est.example.test/.well-known/est/cacerts",
        server_certificate=server,
        server_fingerprint=cert_fingerprint(server),
        ca_certs=(ca.cert,),
        ca_fingerprints=(cert_fingerprint(ca.cert),),
        server_issued_by_ca=True,
    )


@pytest.fixture
def dialog(qtbot, result):
    dlg = BootstrapDialog(lambda: result)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: len(dlg.rows) == 2)
    return dlg


def test_pin_stays_disabled_until_the_anchor_is_confirmed(dialog):
    server_row, ca_row = dialog.rows
    assert "to pin" in ca_row.title() and "to pin" not in server_row.title()
    assert not dialog.pin_button.isEnabled()
    server_row.ticked.setChecked(True)
    assert not dialog.pin_button.isEnabled()  # the server's certificate is not what gets trusted
    server_row.ticked.setChecked(False)
    ca_row.ticked.setChecked(True)
    assert dialog.pin_button.isEnabled()  # the one value an administrator (or est-server) gives


def test_a_wrong_value_pasted_for_any_certificate_blocks_pinning(dialog):
    server_row, ca_row = dialog.rows
    ca_row.ticked.setChecked(True)
    server_row.pasted.setText("AA:" * 31 + "AA")
    assert not dialog.pin_button.isEnabled()
    assert "NOT match" in server_row.verdict.text()
    server_row.pasted.clear()
    assert dialog.pin_button.isEnabled()


def test_a_pasted_fingerprint_must_match_and_a_mismatch_blocks_pinning(dialog, result):
    server_row, ca_row = dialog.rows
    server_row.ticked.setChecked(True)
    wrong = "AA:" * 31 + "AA"
    ca_row.pasted.setText(wrong)
    ca_row.ticked.setChecked(True)  # ticking does not override a value that does not match
    assert not dialog.pin_button.isEnabled()
    assert "NOT match" in ca_row.verdict.text()
    ca_row.pasted.setText(result.ca_fingerprints[0].replace(":", "").lower())  # any usual spelling
    assert "Confirmed" in ca_row.verdict.text()
    assert dialog.pin_button.isEnabled()


def test_pinning_returns_the_confirmed_ca_as_pem(dialog, result):
    for row in dialog.rows:
        row.ticked.setChecked(True)
    dialog.pin_button.click()
    assert dialog.result() == BootstrapDialog.DialogCode.Accepted
    pinned = x509.load_pem_x509_certificates(dialog.pinned_pem.encode())
    assert [c.public_bytes(serialization.Encoding.DER) for c in pinned] == [
        result.ca_certs[0].public_bytes(serialization.Encoding.DER)
    ]


def test_fetch_failure_is_shown_and_nothing_can_be_pinned(qtbot):
    def fail() -> BootstrapResult:
        raise EstConnectionError("bootstrap: cannot reach est.example.test:443: ConnectionRefusedError")

    dlg = BootstrapDialog(fail)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: "cannot reach" in dlg.status.text())
    assert not dlg.pin_button.isEnabled() and dlg.pinned_pem is None
