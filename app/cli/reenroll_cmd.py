"""``certline reenroll``: renew one unit's certificate before it expires.

With ``--port`` the unit signs the TLS handshake itself (the key never leaves
it); with ``--cert/--key`` or ``--p12`` the credential comes from files, like
the DTM documentation's curl example.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from certline.app.batch.journal_api import JournalBackend, JournalError
from certline.app.cli.journal_args import add_journal_arguments, journal_from_args
from certline.app.cli.secret_args import SecretMissing, add_secret_arguments, credentials_for
from certline.app.config.profile import AuthStyle, Profile
from certline.app.device.driver import DeviceError
from certline.app.est.credentials import Credentials
from certline.app.est.errors import EstError
from certline.app.reenroll import CertificateView, CurrentCredential, ReenrollError, load_file_credential
from certline.app.station.credential_source import CredentialSource
from certline.app.station.renewal import renew_unit

if TYPE_CHECKING:
    from certline.app.est.client import EstClient


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reenroll",
        help="renew one unit's certificate (simplereenroll)",
        description="Show a unit's certificate and renew it with /simplereenroll, authenticated by the "
        "certificate being renewed.",
    )
    parser.add_argument("--profile", required=True, help="profile name")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--port", metavar="PATH", help="serial port of the unit (key stays on the unit)")
    source.add_argument("--cert", metavar="FILE", help="current certificate (PEM) when the key is in a file")
    source.add_argument("--p12", metavar="FILE", help="current certificate and key as PKCS#12")
    parser.add_argument("--key", metavar="FILE", help="current private key (PEM), with --cert")
    parser.add_argument("--rekey", action="store_true", help="generate a new key for the new certificate")
    parser.add_argument("--show", action="store_true", help="only show the current certificate")
    parser.add_argument("--out", type=Path, metavar="FILE", help="files mode: write the new chain here")
    parser.add_argument("--key-out", type=Path, metavar="FILE", help="files mode, --rekey: new key (0600)")
    parser.add_argument("--operator", metavar="NAME", help="recorded in the journal")
    add_secret_arguments(parser)
    add_journal_arguments(parser)
    parser.set_defaults(func=run)


def describe(view: CertificateView, title: str) -> str:
    san = ", ".join(view.san) or "-"
    valid = f"{view.not_before:%Y-%m-%d %H:%M} .. {view.not_after:%Y-%m-%d %H:%M} UTC"
    return (
        f"{title}\n  subject  {view.subject}\n  SAN      {san}\n  issuer   {view.issuer}\n"
        f"  serial   {view.serial}\n  valid    {valid}\n"
        f"  left     {round(view.days_left())} days ({view.urgency()})\n  SHA-256  {view.fingerprint}"
    )


def run(args: argparse.Namespace) -> int:
    from certline.app.config.profile_store import ProfileStore
    from certline.app.est.client import EstClient

    try:
        profile = ProfileStore().load(args.profile)
        credentials = _credentials(profile, args)
    except (SecretMissing, OSError, ValueError, LookupError) as exc:
        print(f"certline reenroll: {exc}", file=sys.stderr)
        return 2
    try:
        journal = journal_from_args(args)
    except JournalError as exc:
        print(f"certline reenroll: {exc}", file=sys.stderr)
        return 2
    try:
        with EstClient(profile, credentials, pool_size=1) as client:
            if args.port:
                return _renew_unit(args, profile, client, journal)
            return _renew_files(args, profile, client, journal, credentials.p12_password)
    except (ReenrollError, DeviceError, EstError, JournalError) as exc:
        print(f"certline reenroll: {exc}", file=sys.stderr)
        return 1
    finally:
        journal.close()


def _credentials(profile: Profile, args: argparse.Namespace) -> Credentials:
    """Re-enrollment authenticates with the certificate being renewed: no passcode is needed.

    Only a PKCS#12 file needs a secret (its password), from --p12-password-env or the keyring;
    a variable named with --passcode-env is read (and must be set) for the fallback.
    """
    if not args.p12:
        if getattr(args, "passcode_env", None):
            # named, so read it: an unset variable is a typing mistake to report, not to ignore;
            # the passcode is used only by a profile's new-enrollment fallback
            source = CredentialSource(basic_env=args.passcode_env, use_keyring=False)
            return source.credentials(profile, strict=False)
        return Credentials()
    with_p12 = dataclasses.replace(profile, client_p12_file=args.p12, auth_style=AuthStyle.CLIENT_CERT)
    return credentials_for(with_p12, args)


def _renew_unit(
    args: argparse.Namespace, profile: Profile, client: EstClient, journal: JournalBackend
) -> int:
    def show_current(current: CurrentCredential) -> bool:
        title = f"Unit {current.identity.serial_number} on {args.port}, current certificate"
        print(describe(current.view, title))
        return not args.show

    outcome = renew_unit(
        journal,
        profile,
        args.port,
        rekey=args.rekey,
        operator=args.operator,
        client=client,
        proceed=show_current,
    )
    if outcome is None:
        return 0
    print(describe(outcome.new, "Renewed certificate (written to the unit and verified)"))
    print(_KEY_SAID[outcome.new_key])
    for warning in outcome.warnings:
        print(f"WARNING: {warning}")
    return 0


#: what happened to the unit's key, read off the old and new certificates (a continued renewal
#: may have been started with or without --rekey)
_KEY_SAID = {
    True: "Key: new (re-key): the unit made a new key pair for this certificate; the old key is not used any more",
    False: "Key: unchanged: the unit kept its key (use --rekey for a new one)",
}


def _renew_files(
    args: argparse.Namespace,
    profile: Profile,
    client: EstClient,
    journal: JournalBackend,
    p12_password: str | None,
) -> int:
    from certline.app.reenroll import renew_with_files

    if args.cert and not args.key:
        print("certline reenroll: --cert needs --key", file=sys.stderr)
        return 2
    if args.rekey and not args.key_out and not args.show:
        print("certline reenroll: --rekey in files mode needs --key-out for the new key", file=sys.stderr)
        return 2
    chain, key = load_file_credential(
        cert_file=args.cert, key_file=args.key, p12_file=args.p12, password=p12_password
    )
    print(describe(CertificateView.of(chain[0]), "Current certificate"), file=sys.stderr)
    if args.show:
        return 0
    outcome = renew_with_files(
        journal=journal,
        profile=profile,
        client=client,
        chain=chain,
        key=key,
        rekey=args.rekey,
        operator=args.operator,
    )
    if outcome.new_key_pem is not None:
        fd = os.open(args.key_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(outcome.new_key_pem)
    if args.out:
        args.out.write_text(outcome.chain_pem, encoding="ascii")
    else:
        sys.stdout.write(outcome.chain_pem)
    print(describe(outcome.result.new, "Renewed certificate"), file=sys.stderr)
    for warning in outcome.result.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    return 0
