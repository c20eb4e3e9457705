"""Secrets stay out of errors and logs; odd server answers become specific errors (scripted server)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certline.app.config.profile import AuthStyle, Profile
from certline.app.est.client import EstClient
from certline.app.est.credentials import Credentials
from certline.app.est.errors import (
    EstAuthError,
    EstBadRequest,
    EstError,
    EstForbidden,
    EstPending,
    EstResponseError,
    EstServerError,
)
from certline.app.est.issued_chain_check import spki
from tests.est import pki
from tests.est.fakeserver import FakeEst, Reply, Seen, fake_est

PASSCODE = "Sup3r-Secret-Passcode"
TOKEN = base64.b64encode(PASSCODE.encode()).decode()

Run = Callable[..., tuple[FakeEst, EstClient]]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    stack: list[object] = []

    def start(script: Callable[[Seen], Reply], **profile: object) -> tuple[FakeEst, EstClient]:
        cm = fake_est(script, str(tmp_path))
        server = cm.__enter__()
        stack.append(cm)
        client = EstClient(
            Profile(name="fake", enroll_url=server.url, ca_bundle_pem=server.ca_pem, **profile),  # type: ignore[arg-type]
            Credentials(passcode=PASSCODE),
            retries=1,
            backoff=0.01,
            timeout=5,
        )
        stack.append(client)
        return server, client

    yield start
    for item in reversed(stack):
        if isinstance(item, EstClient):
            item.close()
        else:
            item.__exit__(None, None, None)  # type: ignore[attr-defined]


def csr_pem() -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    key = pki.key()
    return pki.csr_for(key).public_bytes(serialization.Encoding.PEM), key


def assert_clean(exc: BaseException) -> None:
    text = f"{exc} {exc!r} {getattr(exc, 'server_text', '')} {exc.args}"
    assert PASSCODE not in text and TOKEN not in text
    assert exc.__context__ is None or isinstance(exc.__context__, EstError)


def echo(status: int) -> Callable[[Seen], Reply]:
    def script(req: Seen) -> Reply:
        return Reply(
            status,
            {"Content-Type": "text/plain"},
            f"denied: {req.headers.get('Authorization')} / {PASSCODE}".encode(),
        )

    return script


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [(401, EstAuthError), (403, EstForbidden), (400, EstBadRequest), (500, EstServerError)],
)
def test_echoed_credentials_are_scrubbed_from_errors(run: Run, status: int, exc_type: type[EstError]) -> None:
    _server, client = run(echo(status))
    with pytest.raises(exc_type) as info:
        client.simpleenroll(csr_pem()[0])
    assert_clean(info.value)
    assert "denied" in str(info.value) and info.value.status == status


def test_logs_never_contain_the_passcode(run: Run, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _server, client = run(echo(401))
    with pytest.raises(EstAuthError):
        client.simpleenroll(csr_pem()[0])
    assert PASSCODE not in caplog.text and TOKEN not in caplog.text


def test_reprs_hide_secrets(run: Run) -> None:
    _server, client = run(echo(401))
    assert PASSCODE not in repr(client)
    creds = Credentials(passcode=PASSCODE, password="pw-x1", p12_password="p12-x2")
    for text in (repr(creds), str(creds)):
        assert PASSCODE not in text and "pw-x1" not in text and "p12-x2" not in text
        assert "<set>" in text


def test_html_error_page_is_reduced_to_one_bounded_line(run: Run) -> None:
    page = (
        b"<html><head><style>p{}</style></head><body><h1>Policy</h1><p>outside operational hours</p>"
        + b"x" * 5000
        + b"</body></html>"
    )
    _server, client = run(lambda _r: Reply(403, {"Content-Type": "text/html"}, page))
    with pytest.raises(EstForbidden) as info:
        client.simpleenroll(csr_pem()[0])
    text = info.value.server_text or ""
    assert text.startswith("Policy outside operational hours")
    assert len(text) <= 300 and "<" not in text and "\n" not in str(info.value)


def test_redirects_are_not_followed(run: Run) -> None:
    server, client = run(lambda _r: Reply(302, {"Location": "https://elsewhere.example/est"}))
    with pytest.raises(EstBadRequest, match="redirected to https://elsewhere.example/est"):
        client.cacerts()
    assert len(server.seen) == 1


def test_202_without_retry_after_uses_a_default(run: Run) -> None:
    _server, client = run(lambda _r: Reply(202, {"Connection": "close"}))
    with pytest.raises(EstPending) as info:
        client.simpleenroll(csr_pem()[0])
    assert info.value.retry_after == 60


def test_204_on_enroll_is_a_response_error(run: Run) -> None:
    _server, client = run(lambda _r: Reply(204))
    with pytest.raises(EstResponseError, match="204"):
        client.simpleenroll(csr_pem()[0])


def test_csrattrs_200_with_empty_body_means_no_attributes(run: Run) -> None:
    _server, client = run(lambda _r: Reply(200, {"Content-Type": "application/csrattrs"}, b"\r\n"))
    assert client.csrattrs().extension_oids == ()


def test_oversized_response_is_refused(run: Run) -> None:
    _server, client = run(lambda _r: Reply(200, {}, b"A" * (2 << 20)))
    with pytest.raises(EstError, match="larger than"):
        client.cacerts()


def _keygen_reply(server_pki: pki.Pki, *, labelled: bool, key_pem: bool) -> Callable[[Seen], Reply]:
    key = pki.key()
    leaf = server_pki.issue(key.public_key())
    certs = base64.encodebytes(pki.pkcs7_der([leaf, server_pki.intermediate]))
    if key_pem:
        key_body = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    else:
        key_body = base64.encodebytes(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    key_type = b"Content-Type: application/pkcs8\n" if labelled else b""
    cert_type = b"Content-Type: application/pkcs7-mime; smime-type=certs-only\n" if labelled else b""
    body = b"--XyZ\n" + cert_type + b"\n" + certs + b"--XyZ\n" + key_type + b"\n" + key_body + b"--XyZ--\n"

    def script(_r: Seen) -> Reply:
        return Reply(200, {"Content-Type": "multipart/mixed; boundary=XyZ"}, body)

    script.key = key  # type: ignore[attr-defined]
    return script


@pytest.mark.parametrize("labelled", [True, False])
@pytest.mark.parametrize("key_pem", [True, False])
def test_serverkeygen_unlabelled_or_pem_parts(
    run: Run, tmp_path: Path, labelled: bool, key_pem: bool
) -> None:
    holder: dict[str, Callable[[Seen], Reply]] = {}

    def script(req: Seen) -> Reply:
        return holder["s"](req)

    server, client = run(script)
    holder["s"] = _keygen_reply(server.pki, labelled=labelled, key_pem=key_pem)
    result = client.serverkeygen(csr_pem()[0])
    key = holder["s"].key  # type: ignore[attr-defined]
    assert spki(result.leaf.public_key()) == spki(key.public_key())


def test_user_password_without_username_is_a_clear_error(run: Run) -> None:
    _server, client = run(echo(401), auth_style=AuthStyle.USER_PASSWORD)
    with pytest.raises(EstAuthError, match="user name"):
        client.simpleenroll(csr_pem()[0])


def test_csrattrs_501_means_no_attributes_and_is_not_retried(run: Run) -> None:
    server, client = run(lambda _r: Reply(501, {}, b"not implemented"))
    assert client.csrattrs().key_algorithm is None
    assert len(server.seen) == 1


def test_broken_csrattrs_does_not_block_a_factory_enrollment(run: Run) -> None:
    """/csrattrs answering 400 is taken as "no PoP requirement"; the CSR goes out unbound."""
    made: list[bytes | None] = []
    holder: dict[str, FakeEst] = {}

    def script(req: Seen) -> Reply:
        if req.path.endswith("/csrattrs"):
            return Reply(400, {}, b"bad")
        p = holder["server"].pki
        from cryptography import x509 as _x509

        csr = _x509.load_pem_x509_csr(req.body)
        leaf = p.issue(csr.public_key())
        return Reply(
            200,
            {"Content-Type": "application/pkcs7-mime"},
            base64.encodebytes(pki.pkcs7_der([leaf, p.intermediate])),
        )

    server, client = run(script, csr_format="pem-text")
    holder["server"] = server
    key = pki.key()

    def factory(tls_unique: bytes | None) -> bytes:
        made.append(tls_unique)
        return pki.csr_for(key).public_bytes(serialization.Encoding.PEM)

    result = client.simpleenroll(factory)
    assert made == [None] and spki(result.leaf.public_key()) == spki(key.public_key())
