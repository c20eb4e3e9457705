"""``certline est``: run one EST operation by hand (field engineers, support, scripting).

Examples::

    certline est cacerts --url https://est.example.com --bootstrap --ca ca.pem
    certline est enroll device.csr --url 'https://HOST/.well-known/est/cps/IOT_x/simpleenroll/GROUP' \\
        --ca ca.pem --passcode-env EST_PASSCODE --csr-format pem-text --out device.pem
    certline est reenroll new.csr --url https://clientauth.HOST/... --ca ca.pem \\
        --client-cert current.pem --client-key current.key

Secrets come only from environment variables named on the command line, never
from argv. Certificates are printed as PEM, leaf first. A server-generated
private key is written only to ``--key-out`` (mode 0600, never overwritten) and
only with ``--write-private-key``. Exit status: 0 success, 1 failure, 75 the
server has the request pending (poll later), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certline.app.config.est_urls import EstUrlError
from certline.app.config.profile import AuthStyle, CsrFormat, Profile
from certline.app.est.bootstrap import BootstrapResult, fetch_cacerts_unverified, normalise_fingerprint, pin
from certline.app.est.client import EstClient
from certline.app.est.credentials import Credentials
from certline.app.est.encoding import CsrInputError, certs_to_pem, parse_certs
from certline.app.est.errors import EstError, EstPending
from certline.app.station.credential_source import CredentialSource, SecretMissing

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_PENDING = 75  # EX_TEMPFAIL: try again later

OPS_WITH_CSR = ("enroll", "reenroll", "serverkeygen")


class CliError(Exception):
    """A problem with the command line or local files; printed as one line."""


def register(subparsers: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", required=True, help="EST URL in any form (server root, base, or operation URL)"
    )
    common.add_argument("--label", help="EST label path when the URL has none (DTM: cps/IOT_<policy-id>)")
    common.add_argument("--device-group", help="device-group ID appended after the operation")
    common.add_argument(
        "--ca", metavar="BUNDLE", help="PEM trust anchors (written by --bootstrap, to a new file only)"
    )
    common.add_argument(
        "--bootstrap",
        action="store_true",
        help="first contact: fetch /cacerts without trust, confirm a fingerprint, save the CA to --ca",
    )
    common.add_argument(
        "--yes-fingerprint", metavar="SHA256", help="confirm this CA fingerprint without asking (--bootstrap)"
    )
    auth = common.add_argument_group("authentication (secrets only through environment variables)")
    auth.add_argument(
        "--passcode-env", metavar="VAR", help="variable holding the passcode (or password with --user)"
    )
    auth.add_argument("--user", help="user name: Basic user:password instead of the DTM passcode-only token")
    auth.add_argument("--client-cert", metavar="FILE", help="TLS client certificate (PEM, may include chain)")
    auth.add_argument("--client-key", metavar="FILE", help="TLS client key (PEM)")
    auth.add_argument("--client-p12", metavar="FILE", help="TLS client credential as PKCS#12")
    auth.add_argument("--p12-password-env", metavar="VAR", help="variable holding the PKCS#12 password")
    common.add_argument(
        "--out", metavar="FILE", help="write the certificates to this new file instead of stdout"
    )
    common.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="overall deadline of each request in seconds: connect, TLS, request and the whole "
        "answer (default 30)",
    )
    common.add_argument(
        "--retries",
        type=int,
        default=3,
        help="retries on 5xx/connection errors (default 3); all attempts together end within "
        "about TIMEOUT x (RETRIES + 2)",
    )

    parser = subparsers.add_parser(
        "est",
        help="run one EST operation (cacerts, csrattrs, enroll, reenroll, serverkeygen)",
        description="Run one EST (RFC 7030) operation against a server and print the result.",
    )
    ops = parser.add_subparsers(dest="est_op", metavar="OP", required=True)
    ops.add_parser(
        "cacerts",
        parents=[common],
        help="fetch the CA certificates",
        description="Fetch the server's CA certificates (/cacerts) and print them as PEM. On first "
        "contact use --bootstrap --ca FILE: the CAs are shown with their SHA-256 fingerprints and "
        "saved to FILE only after you confirm one.",
    )
    ops.add_parser(
        "csrattrs",
        parents=[common],
        help="show what the server wants in a CSR (JSON)",
        description="Ask the server what it wants in a CSR (/csrattrs): key type, extensions, "
        "challenge password. Printed as JSON.",
    )
    for op, text, description in (
        (
            "enroll",
            "enroll a CSR (/simpleenroll)",
            "Send a CSR to /simpleenroll and print the issued certificate chain as PEM, leaf first.",
        ),
        (
            "reenroll",
            "renew the --client-cert certificate (/simplereenroll)",
            "Renew a certificate with /simplereenroll. The TLS client certificate (--client-cert or "
            "--client-p12) is the certificate being renewed; prints the new chain as PEM.",
        ),
        (
            "serverkeygen",
            "certificate with a server-generated key (/serverkeygen)",
            "Have the server generate the key (/serverkeygen). The key is written only to --key-out "
            "(mode 0600, never overwritten) and only with --write-private-key; the chain is printed.",
        ),
    ):
        sub = ops.add_parser(op, parents=[common], help=text, description=description)
        sub.add_argument("csr_file", metavar="CSR_FILE", help="the CSR (PEM or DER)")
        sub.add_argument(
            "--csr-format",
            choices=[f.value for f in CsrFormat],
            default=CsrFormat.RFC7030.value,
            help="rfc7030 (base64 DER, application/pkcs10) or pem-text (DTM: PEM as text/plain)",
        )
        if op == "serverkeygen":
            sub.add_argument("--key-out", metavar="FILE", help="write the private key here (PEM, mode 0600)")
            sub.add_argument(
                "--write-private-key",
                action="store_true",
                help="required to confirm writing a private key to disk",
            )
    parser.set_defaults(func=run)


# ---------------------------------------------------------------------------- running


def run(args: argparse.Namespace, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Entry point for ``certline est``; returns the exit status."""
    out = stdout or sys.stdout
    try:
        return _run(args, stdin or sys.stdin, out)
    except EstPending as exc:
        _fail(f"pending: {exc}")
        return EXIT_PENDING
    except (EstError, EstUrlError, CliError, CsrInputError, NotImplementedError) as exc:
        _fail(str(exc))
        return EXIT_FAIL


def _fail(message: str) -> None:
    print("certline est: " + " ".join(message.split()), file=sys.stderr)


def _run(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    op: str = args.est_op
    key_out = getattr(args, "key_out", None)
    if op == "serverkeygen" and not (key_out and args.write_private_key):
        raise CliError(
            "serverkeygen needs --key-out FILE and --write-private-key (the key exists nowhere else)"
        )
    if key_out and Path(key_out).exists():
        raise CliError(f"{key_out} exists; refusing to overwrite a private key file")
    if key_out and not Path(key_out).resolve().parent.is_dir():
        raise CliError(f"the directory for {key_out} does not exist")
    if args.yes_fingerprint and not args.bootstrap:
        raise CliError("--yes-fingerprint only applies with --bootstrap")
    csr = _read_csr(args.csr_file) if op in OPS_WITH_CSR else None
    credentials = _credentials(args)

    ca_pem: str | None = None
    if args.bootstrap:
        ca_pem = _bootstrap(args, stdin)
    elif not args.ca:
        raise CliError("no trust anchors: give --ca BUNDLE, or --bootstrap --ca BUNDLE on first contact")

    profile = _profile(args, ca_pem)
    with EstClient(profile, credentials, pool_size=1, timeout=args.timeout, retries=args.retries) as client:
        if op == "cacerts":
            _write_certs(args, out, client.cacerts())
        elif op == "csrattrs":
            attrs = client.csrattrs()
            data = {
                "key_algorithm": attrs.key_algorithm.value if attrs.key_algorithm else None,
                "unsupported_key": attrs.unsupported_key,
                "challenge_password_required": attrs.challenge_password_required,
                "extension_oids": list(attrs.extension_oids),
                "other_oids": list(attrs.other_oids),
                "template_subject": attrs.template_subject,
            }
            out.write(json.dumps(data, indent=2) + "\n")
        elif op == "enroll":
            assert csr is not None
            result = client.simpleenroll(csr)
            _warn(result.warnings)
            _write_certs(args, out, list(result.chain))
        elif op == "reenroll":
            assert csr is not None
            result = client.simplereenroll(csr, _current_cert(args, credentials.p12_password))
            _warn(result.warnings)
            _write_certs(args, out, list(result.chain))
        elif op == "serverkeygen":
            assert csr is not None and key_out
            keygen = client.serverkeygen(csr)
            _warn(keygen.warnings)
            _write_private_key(Path(key_out), keygen.private_key_pkcs8)
            _write_certs(args, out, list(keygen.chain))
    return EXIT_OK


def _read_csr(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read the CSR {path}: {exc.strerror}") from None


def _credentials(args: argparse.Namespace) -> Credentials:
    """Secrets only from the variables named on the command line (this command never uses a keyring)."""
    source = CredentialSource(basic_env=args.passcode_env, p12_env=args.p12_password_env, use_keyring=False)
    try:
        return source.credentials(_profile(args, None), strict=False)
    except SecretMissing as exc:
        raise CliError(str(exc)) from None


def _profile(args: argparse.Namespace, ca_pem: str | None) -> Profile:
    if args.client_key and not args.client_cert:
        raise CliError("--client-key needs --client-cert")
    if args.client_cert and args.client_p12:
        raise CliError("give either --client-cert/--client-key or --client-p12, not both")
    client_cert = bool(args.client_cert or args.client_p12)
    if args.user:
        style = AuthStyle.USER_PASSWORD
    elif args.passcode_env or not client_cert:
        style = AuthStyle.PASSCODE_ONLY
    else:
        style = AuthStyle.CLIENT_CERT
    return Profile(
        name="cli",
        enroll_url=args.url,
        reenroll_url=args.url,
        label=args.label,
        device_group=args.device_group,
        auth_style=style,
        username=args.user,
        client_cert_file=args.client_cert,
        client_key_file=args.client_key or (args.client_cert if args.client_cert else None),
        client_p12_file=args.client_p12,
        ca_bundle_file=None if ca_pem else args.ca,
        ca_bundle_pem=ca_pem,
        # cacerts/csrattrs send no CSR and have no --csr-format
        csr_format=CsrFormat(getattr(args, "csr_format", CsrFormat.RFC7030.value)),
    )


def _current_cert(args: argparse.Namespace, p12_password: str | None) -> x509.Certificate:
    """The certificate being renewed: the TLS client certificate."""
    if args.client_cert:
        try:
            return parse_certs(Path(args.client_cert).read_bytes(), "client certificate")[0]
        except OSError as exc:
            raise CliError(f"cannot read {args.client_cert}: {exc.strerror}") from None
    if args.client_p12:
        from cryptography.hazmat.primitives.serialization import pkcs12

        try:
            bundle = pkcs12.load_pkcs12(
                Path(args.client_p12).read_bytes(), p12_password.encode() if p12_password else None
            )
        except (OSError, ValueError):
            raise CliError(f"cannot open {args.client_p12}") from None
        if bundle.cert is None:
            raise CliError(f"{args.client_p12} holds no certificate")
        return bundle.cert.certificate
    raise CliError("reenroll needs the current certificate: --client-cert/--client-key or --client-p12")


def _bootstrap(args: argparse.Namespace, stdin: TextIO) -> str:
    if not args.ca:
        raise CliError("--bootstrap needs --ca FILE to save the confirmed CA bundle")
    if Path(args.ca).exists():  # said before the server is asked; the write below checks again
        raise CliError(f"bootstrap: {args.ca} exists; nothing fetched ({_REPLACE_BUNDLE})")
    result = fetch_cacerts_unverified(
        args.url, label=args.label, device_group=args.device_group, timeout=args.timeout
    )
    _show_bootstrap(result)
    if args.yes_fingerprint:
        confirmed = args.yes_fingerprint
    else:
        print("Compare with a fingerprint obtained out of band (e.g. from the CA operator).", file=sys.stderr)
        print("Type the SHA-256 fingerprint of the CA to trust (empty = abort): ", end="", file=sys.stderr)
        sys.stderr.flush()
        confirmed = stdin.readline().strip()
        if not confirmed:
            raise CliError("bootstrap aborted: no fingerprint confirmed, nothing saved")
    try:
        normalise_fingerprint(confirmed)
        bundle = pin(result, confirmed)
    except ValueError as exc:
        raise CliError(f"bootstrap: {exc}; nothing saved") from None
    path = Path(args.ca)
    try:  # a new file only: replacing a bundle a profile or a script trusts would change its trust
        with open(path, "x", encoding="ascii") as bundle_file:
            bundle_file.write(bundle)
    except FileExistsError:
        raise CliError(f"bootstrap: {path} exists; nothing saved ({_REPLACE_BUNDLE})") from None
    except OSError as exc:
        raise CliError(f"bootstrap: cannot create {path}: {exc.strerror}; nothing saved") from None
    print(f"saved the confirmed CA bundle to {path}", file=sys.stderr)
    return bundle


_REPLACE_BUNDLE = (
    "first contact saves to a new file; to replace trust anchors, bootstrap into a new file and pin "
    "it with 'certline profile edit NAME --ca FILE', which needs the engineer role on a locked station"
)


def _show_bootstrap(result: BootstrapResult) -> None:
    err = sys.stderr
    print(f"UNVERIFIED /cacerts from {result.url}", file=err)
    print(f"  server TLS certificate: {result.server_certificate.subject.rfc4514_string()}", file=err)
    print(f"    SHA-256 {result.server_fingerprint}", file=err)
    for cert, fp in zip(result.ca_certs, result.ca_fingerprints, strict=True):
        kind = "root" if cert.subject == cert.issuer else "CA"
        print(f"  {kind}: {cert.subject.rfc4514_string()}", file=err)
        print(f"    SHA-256 {fp}", file=err)
    if not result.server_issued_by_ca:
        print(
            "  note: the server's TLS certificate is not issued by these CAs; add its CA to the bundle",
            file=err,
        )


def _warn(warnings: Sequence[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _write_certs(args: argparse.Namespace, out: TextIO, certs: Sequence[x509.Certificate]) -> None:
    pem = certs_to_pem(list(certs))
    if args.out:
        try:  # a new file only, like --bootstrap --ca: never over a bundle something trusts
            with open(args.out, "x", encoding="ascii") as handle:
                handle.write(pem)
        except FileExistsError:
            raise CliError(f"--out: {args.out} exists; nothing written (choose a new file)") from None
        except OSError as exc:
            raise CliError(f"--out: cannot create {args.out}: {exc.strerror}") from None
    else:
        out.write(pem)


def _write_private_key(path: Path, pkcs8_der: bytes) -> None:
    """Write the key as PEM to a new 0600 file (never overwrite; never via a temp copy)."""
    key = serialization.load_der_private_key(pkcs8_der, password=None)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CliError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
