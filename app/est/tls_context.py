"""TLS contexts for the EST client: explicit trust anchors, TLS 1.2 minimum, client certificates.

Trust comes only from the profile's pinned bundle (``cadata``): never the system
store, never certifi, never ``REQUESTS_CA_BUNDLE``. Every certificate in the
bundle is an anchor (``VERIFY_X509_PARTIAL_CHAIN``), matching :mod:`certline.app.est.issued_chain_check`.

Client credentials: PEM files are loaded by OpenSSL straight from the user's
files. A PKCS#12 file is opened in memory with cryptography; because Python's
``ssl`` can only load a key from a file, the key is re-encrypted under a random
one-time passphrase, written to a 0600 file inside a fresh 0700 temporary
directory, loaded, and both are removed at once (``finally``) -- so no plaintext
key ever touches the disk and nothing is left behind even on error.

The only unverified context lives in :func:`insecure_context_for_bootstrap_only`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from certline.app.est.encoding import certs_to_pem
from certline.app.est.errors import EstError, EstTlsError


class ClientCredentialError(EstError):
    """The configured TLS client certificate or key cannot be loaded (local problem)."""

    code = "client-credential"


@dataclass(frozen=True)
class ClientCertFiles:
    """Where the TLS client credential comes from: PEM cert+key files or one PKCS#12 file."""

    cert_file: str | None = None
    key_file: str | None = None
    p12_file: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.p12_file or self.cert_file)


def fingerprint_sha256(der_cert: bytes) -> str:
    """Colon-separated upper-case hex SHA-256 of a DER certificate."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der_cert)
    return digest.finalize().hex(":").upper()


def _base_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION
    return ctx


def verified_context(
    trust_anchors: Sequence[x509.Certificate],
    client: ClientCertFiles | None = None,
    *,
    key_password: str | None = None,
) -> ssl.SSLContext:
    """A verifying context trusting exactly ``trust_anchors`` (hostname checked)."""
    if not trust_anchors:
        raise EstTlsError(
            "no trust anchors configured: bootstrap the EST CA first "
            "(certline est cacerts --bootstrap) or give a CA bundle"
        )
    ctx = _base_context()
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.load_verify_locations(cadata=certs_to_pem(list(trust_anchors)))
    if client is not None and client.configured:
        load_client_credential(ctx, client, key_password=key_password)
    return ctx


def insecure_context_for_bootstrap_only() -> ssl.SSLContext:
    """An UNVERIFIED TLS context. Only for RFC 7030 4.1.1 bootstrap and for showing the
    fingerprint of a server that failed verification; nothing fetched through it is trusted
    until an operator confirmed a fingerprint out of band."""
    ctx = _base_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _refuse_prompt() -> str:
    # Without a password callback OpenSSL would prompt on the terminal and block a worker.
    raise ClientCredentialError("the client key is encrypted and no key password was given")


def load_client_credential(ctx: ssl.SSLContext, client: ClientCertFiles, *, key_password: str | None) -> None:
    """Load the client certificate (and chain) and key into ``ctx``."""
    if client.p12_file:
        _load_p12(ctx, client.p12_file, key_password)
        return
    if not client.cert_file:
        return
    for label, path in (("certificate", client.cert_file), ("key", client.key_file)):
        if path and not Path(path).is_file():
            raise ClientCredentialError(f"the client {label} file {path} does not exist")
    password = (lambda: key_password) if key_password else _refuse_prompt
    try:
        ctx.load_cert_chain(client.cert_file, client.key_file, password=password)
    except ssl.SSLError as exc:
        raise ClientCredentialError(
            f"cannot load the client certificate/key ({exc.reason or 'OpenSSL error'}); "
            "check that the key matches the certificate and the key password"
        ) from None


def _load_p12(ctx: ssl.SSLContext, p12_file: str, password: str | None) -> None:
    try:
        data = Path(p12_file).read_bytes()
    except OSError as exc:
        raise ClientCredentialError(f"cannot read the PKCS#12 file {p12_file}: {exc.strerror}") from None
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(
            data, password.encode("utf-8") if password else None
        )
    except (ValueError, TypeError):
        raise ClientCredentialError(
            f"cannot open the PKCS#12 file {p12_file}: wrong password or not PKCS#12"
        ) from None
    if key is None or cert is None:
        raise ClientCredentialError(f"the PKCS#12 file {p12_file} lacks a key or a certificate")
    load_key_and_chain(ctx, key, [cert, *extra])


def load_key_and_chain(ctx: ssl.SSLContext, key: object, chain: Sequence[x509.Certificate]) -> None:
    """Load an in-memory key and certificate chain into ``ctx`` (see module doc for why a file)."""
    one_time = secrets.token_urlsafe(32)
    key_pem = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time.encode("ascii")),
    )
    tmpdir = tempfile.mkdtemp(prefix="certline-tls-")
    try:
        os.chmod(tmpdir, 0o700)
        path = os.path.join(tmpdir, "client.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(certs_to_pem(list(chain)).encode("ascii"))
            fh.write(key_pem)
        try:
            ctx.load_cert_chain(path, password=lambda: one_time)
        except ssl.SSLError as exc:
            raise ClientCredentialError(
                f"cannot use the client credential ({exc.reason or 'OpenSSL error'})"
            ) from None
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def fetch_server_certificate_unverified(
    host: str, port: int, *, timeout: float = 10.0
) -> x509.Certificate | None:
    """The server's TLS certificate, fetched WITHOUT verification -- for display only
    (the fingerprint in an "untrusted server" error). Returns None when it cannot be had.

    ``timeout`` is an overall deadline (:mod:`certline.app.est.deadline`): a server dripping its
    handshake cannot hold the error report."""
    from certline.app.est.deadline import Deadline, bind

    ctx = insecure_context_for_bootstrap_only()
    try:
        with (
            bind(Deadline(timeout, f"{host}:{port}")) as deadline,
            socket.create_connection((host, port), timeout=timeout) as sock,
        ):
            deadline.watch(sock)
            with ctx.wrap_socket(sock, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    if not der:
        return None
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None
