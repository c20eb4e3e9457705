"""``certline profile``: create, inspect, move and delete provisioning profiles and their passcodes.

Secrets never come from argv (it is visible in ``ps`` and shell history):
``set-passcode`` reads a hidden prompt or an environment variable named with
``--from-env``, and ``show`` only says whether a secret is stored.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import getpass
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from certline.app.cli.journal_args import add_journal_arguments
from certline.app.cli.role_args import add_engineer_pin_option, authorise
from certline.app.config.profile import (
    DEFAULT_SUBJECT_TEMPLATE,
    AuthStyle,
    CsrFormat,
    KeyGeneration,
    Profile,
    ScanIn,
)
from certline.app.config.profile_store import MAX_CONCURRENCY, ProfileError, ProfileStore
from certline.app.pki import KeyAlgorithm
from certline.app.security.redaction import register_secret, scrub
from certline.app.security.roles import Action
from certline.app.security.secret_needs import required_purposes, wanted_purposes
from certline.app.security.secret_store import (
    MIN_PASSCODE_LENGTH,
    KeyringUnavailable,
    Purpose,
    SecretStore,
    SecretStoreError,
    passcode_problem,
)
from certline.app.station.credential_source import secret_from_env
from certline.app.station.passcode_change import PasscodeRefused, new_passcode_id, set_new_passcode
from certline.app.station.profile_save import import_profile, trust_anchors_pem

log = logging.getLogger(__name__)

DRIVERS = ("certline", "nrf91")

#: what the user sees in prompts and messages for each keyring entry
_PURPOSE_LABEL = {
    Purpose.PASSCODE: "passcode",
    Purpose.USER_PASSWORD: "password",
    Purpose.P12_PASSWORD: "client credential (PKCS#12/key) password",
}


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="manage provisioning profiles and their passcodes",
        description="Manage provisioning profiles. Passcodes are kept in the OS keyring.",
    )
    sub = parser.add_subparsers(dest="profile_command", metavar="ACTION", required=True)

    add = sub.add_parser(
        "add",
        help="create (or with --force replace) a profile",
        description="Create a profile: which EST server to enroll with, how to authenticate, what kind "
        "of key and CSR the units make, and how to talk to them. Store its passcode afterwards with "
        "'certline profile set-passcode NAME'.",
    )
    add.add_argument("name", help="profile name, used with --profile by the other commands")
    _add_profile_options(add, edit=False)
    add.add_argument("--force", action="store_true", help="replace an existing profile of that name")
    add_engineer_pin_option(add)
    add.set_defaults(func=cmd_add)

    edit = sub.add_parser(
        "edit",
        help="change some settings of a profile (the others stay as they are)",
        description="Change only the options given; every other setting of the profile stays. The "
        "switches have --no-... forms; an empty value (e.g. --reenroll-url '') clears an optional "
        "setting. The profile is checked as a whole before it is saved. Its passcode stays in the "
        "keyring (change it with 'certline profile set-passcode').",
    )
    edit.add_argument("name", help="the profile to change")
    _add_profile_options(edit, edit=True)
    add_engineer_pin_option(edit)
    edit.set_defaults(func=cmd_edit)

    lst = sub.add_parser(
        "list", help="list profiles", description="List the profiles of this station: name, auth, URL."
    )
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    lst.set_defaults(func=cmd_list)

    show = sub.add_parser(
        "show",
        help="print a profile and whether its secrets are stored",
        description="Print a profile as JSON and say for each secret it needs whether the keyring holds "
        "it. Secrets themselves are never printed.",
    )
    show.add_argument("name", help="profile name")
    show.set_defaults(func=cmd_show)

    export = sub.add_parser(
        "export",
        help="write a profile to a JSON file (never includes secrets)",
        description="Write a profile to a JSON file, to set up another station the same way. "
        "Passcodes and passwords are not included.",
    )
    export.add_argument("name", help="profile name")
    export.add_argument("file", help="destination file, or - for stdout")
    export.set_defaults(func=cmd_export)

    imp = sub.add_parser(
        "import",
        help="add a profile from an exported JSON file",
        description="Add a profile from a file written by 'certline profile export'. A CA bundle file "
        "the profile names is copied into it (it must be on this station). Store its passcode "
        "afterwards with 'certline profile set-passcode NAME'.",
    )
    imp.add_argument("file", type=Path, help="the exported JSON file")
    imp.add_argument("--name", help="store it under this name instead")
    imp.add_argument("--force", action="store_true", help="replace an existing profile of that name")
    add_engineer_pin_option(imp)
    imp.set_defaults(func=cmd_import)

    setp = sub.add_parser(
        "set-passcode",
        # no abbreviations: "--passcode SECRET" must be refused, not taken for --passcode-name
        allow_abbrev=False,
        help="store a profile's passcode (or password) in the OS keyring",
        description="Reads the secret from a hidden prompt, or from the environment variable "
        "named by --from-env. It is never accepted on the command line. A passcode or password "
        f"shorter than {MIN_PASSCODE_LENGTH} characters is refused.",
    )
    setp.add_argument("name", help="profile name")
    setp.add_argument("--from-env", metavar="VAR", help="read the secret from environment variable VAR")
    setp.add_argument(
        "--purpose",
        choices=[p.value for p in Purpose],
        help="which secret (default: what the profile's auth style needs)",
    )
    add_engineer_pin_option(setp)
    _add_passcode_limit_arguments(setp)
    setp.add_argument(
        "--passcode-name",
        metavar="NAME",
        help="a name for this passcode (e.g. its name on the CA's portal): stations of a line that "
        "give the same passcode the same name count its uses together on the shared journal "
        "(default: a new random name)",
    )
    add_journal_arguments(setp)
    setp.set_defaults(func=cmd_set_passcode)

    quota = sub.add_parser(
        "set-limits",
        allow_abbrev=False,
        help="record the passcode's usage limit and expiry, or the enrollment rate",
        description="Change what the profile records about the passcode in use (uses allowed, expiry) "
        "and the station's enrollment rate, without changing the passcode. Counting goes on under the "
        "same passcode name. Use 'set-passcode' when the passcode itself changes.",
    )
    quota.add_argument("name", help="profile name")
    _add_passcode_limit_arguments(quota)
    quota.add_argument(
        "--passcode-name",
        metavar="NAME",
        help="name the passcode in use (its uses are counted under this name from now on)",
    )
    quota.add_argument(
        "--max-per-minute",
        metavar="R",
        help="enrollment requests per minute at most; 'none' removes the limit",
    )
    add_engineer_pin_option(quota)
    quota.set_defaults(func=cmd_set_limits)

    delete = sub.add_parser(
        "delete",
        help="delete a profile and its keyring entries",
        description="Delete a profile and (unless --keep-secrets) its passcodes in the OS keyring. "
        "Journals and reports of past batches are kept.",
    )
    delete.add_argument("name", help="profile name")
    delete.add_argument("--keep-secrets", action="store_true", help="leave its keyring entries")
    add_engineer_pin_option(delete)
    delete.set_defaults(func=cmd_delete)


def _add_profile_options(p: argparse.ArgumentParser, *, edit: bool) -> None:
    """The profile's options, shared by ``add`` (with defaults) and ``edit`` (only what is given
    changes: no defaults, ``--no-…`` forms for the switches, an empty value clears a text field)."""

    def d(value: object) -> object:
        return argparse.SUPPRESS if edit else value

    flag: Any = argparse.BooleanOptionalAction if edit else "store_true"
    p.add_argument(
        "--url", required=not edit, default=d(None), help="EST base URL for enrollment (https://...)"
    )
    p.add_argument(
        "--reenroll-url", default=d(None), help="EST base URL for re-enrollment (e.g. DTM clientauth host)"
    )
    p.add_argument("--label", default=d(None), help="EST label (DTM: IOT_<uuid>) if not part of --url")
    p.add_argument("--device-group", default=d(None), help="DTM device group ID appended after the operation")
    p.add_argument(
        "--auth",
        choices=[a.value for a in AuthStyle],
        default=d(AuthStyle.PASSCODE_ONLY.value),
        help="how the station authenticates to the EST server: the DTM enrollment passcode alone, "
        "a user name and password, or a TLS client certificate",
    )
    p.add_argument("--user", default=d(None), help="user name for --auth user-password")
    p.add_argument(
        "--client-cert", default=d(None), metavar="FILE", help="client certificate PEM for --auth client-cert"
    )
    p.add_argument(
        "--client-key", default=d(None), metavar="FILE", help="client private key PEM for --auth client-cert"
    )
    p.add_argument(
        "--client-p12",
        default=d(None),
        metavar="FILE",
        help="PKCS#12 client credential for --auth client-cert",
    )
    p.add_argument(
        "--ca",
        default=d(None),
        metavar="FILE",
        help="PEM file with the EST server's trust anchor(s); its certificates are copied into the "
        "profile (changing the file later changes nothing; an empty value removes them)",
    )
    p.add_argument(
        "--csr-format",
        choices=[c.value for c in CsrFormat],
        default=d(CsrFormat.RFC7030.value),
        help="how the CSR is posted: rfc7030 (base64 DER, application/pkcs10) or pem-text "
        "(PEM as text/plain, what DigiCert DTM expects)",
    )
    p.add_argument(
        "--keygen",
        choices=[k.value for k in KeyGeneration],
        default=d(KeyGeneration.DEVICE.value),
        help="where the private key is generated: on the unit, or by the EST server (/serverkeygen)",
    )
    p.add_argument(
        "--key-alg",
        choices=[k.value for k in KeyAlgorithm],
        default=d(KeyAlgorithm.EC_P256.value),
        help="type of the unit's key",
    )
    p.add_argument(
        "--subject",
        default=d(None),
        help="subject template, e.g. 'CN={serial},O=ACME' ({serial} is the device serial; \\, for a comma)",
    )
    p.add_argument(
        "--driver",
        choices=DRIVERS,
        default=d("certline"),
        help="the units' serial protocol: certline (Certline firmware) or nrf91 (Nordic AT commands)",
    )
    p.add_argument("--baud", type=int, default=d(115200), help="serial line speed of the units")
    p.add_argument(
        "--max-per-minute",
        type=float,
        default=d(None),
        metavar="R",
        help="send at most R enrollment requests per minute from this station (stay under the CA's "
        "throttle; default: no limit)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=d(4),
        help=f"units provisioned at the same time (1-{MAX_CONCURRENCY})",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=d(30.0),
        metavar="SECONDS",
        help="overall deadline of each EST request: connect, TLS, request and whole answer (default 30)",
    )
    p.add_argument(
        "--require-pop", action=flag, default=d(False), help="require proof-of-possession (tls-unique)"
    )
    p.add_argument(
        "--allow-new-enrollment-fallback",
        action=flag,
        default=d(False),
        help="re-enroll: allow a fresh passcode enrollment when the device cannot sign",
    )
    p.add_argument(
        "--scan-in",
        choices=[s.value for s in ScanIn],
        default=d(ScanIn.OFF.value),
        help="required: each unit waits, before anything is done to it, until its label is scanned "
        "and must match it (default off; see docs/scan-in.md)",
    )
    p.add_argument(
        "--scan-in-timeout",
        type=float,
        default=d(600.0),
        metavar="SECONDS",
        help="how long a unit waits for its label before it fails as no-label (0: no limit; default 600)",
    )


Command = Callable[[argparse.Namespace], int]


def _cli_errors(func: Command) -> Command:
    """Turn expected failures into one scrubbed line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except BrokenPipeError:
            raise  # the reader of our output went away: certline.app.cli.main ends quietly
        except (CliError, ProfileError, SecretStoreError, OSError) as exc:
            print(f"certline profile: error: {scrub(str(exc))}", file=sys.stderr)
            return 1

    return wrapper


def parse_subject(text: str) -> dict[str, str]:
    """``CN={serial},O=ACME`` -> ``{"CN": "{serial}", "O": "ACME"}``; ``\\,`` is a literal comma."""
    parts: list[str] = []
    current = ""
    escaped = False
    for char in text:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    template: dict[str, str] = {}
    for part in parts:
        attr, sep, value = part.partition("=")
        attr = attr.strip()
        if not sep or not attr or not value:
            raise CliError(f"--subject: expected ATTR=VALUE pairs separated by commas, got {part!r}")
        if attr in template:
            raise CliError(f"--subject: {attr} given twice")
        template[attr] = value
    return template


def _existing_file(path: Path | None, option: str) -> str | None:
    if path is None:
        return None
    resolved = path.expanduser().resolve()
    if not resolved.is_file():
        raise CliError(f"{option}: no such file: {path}")
    return str(resolved)


def _ca_pem(path: Path | None) -> str | None:
    """The trust anchors of ``--ca FILE`` as PEM, pinned into the profile itself (copied, not
    referenced: see :func:`certline.app.station.profile_save.trust_anchors_pem`)."""
    resolved = _existing_file(path, "--ca")
    if resolved is None:
        return None
    try:
        return trust_anchors_pem(Path(resolved))
    except ValueError as exc:
        raise CliError(f"--ca: {exc}") from None


def _profile_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The profile fields of the options present in ``args``: every one for ``add`` (its
    defaults), only those given for ``edit``. An empty value clears an optional text setting."""
    given = vars(args)
    fields: dict[str, Any] = {}

    def optional(option: str, field: str) -> None:
        if option in given:
            fields[field] = given[option] or None

    def path(option: str, field: str, check: Callable[[Path | None, str], str | None]) -> None:
        if option in given:
            fields[field] = check(
                Path(given[option]) if given[option] else None, "--" + option.replace("_", "-")
            )

    if "url" in given:
        fields["enroll_url"] = given["url"]
    optional("reenroll_url", "reenroll_url")
    optional("label", "label")
    optional("device_group", "device_group")
    optional("user", "username")
    path("client_cert", "client_cert_file", _existing_file)
    path("client_key", "client_key_file", _existing_file)
    path("client_p12", "client_p12_file", _existing_file)
    if "ca" in given:  # pinned into the profile (see _ca_pem); a file named by older profiles is dropped
        fields["ca_bundle_pem"] = _ca_pem(Path(given["ca"]) if given["ca"] else None)
        fields["ca_bundle_file"] = None
    converters: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "auth": ("auth_style", AuthStyle),
        "csr_format": ("csr_format", CsrFormat),
        "keygen": ("key_generation", KeyGeneration),
        "key_alg": ("key_algorithm", KeyAlgorithm),
        "subject": ("subject_template", lambda v: parse_subject(v) if v else dict(DEFAULT_SUBJECT_TEMPLATE)),
        "driver": ("driver", str),
        "baud": ("baud", int),
        "concurrency": ("concurrency", int),
        "request_timeout": ("request_timeout", float),
        "require_pop": ("require_pop", bool),
        "allow_new_enrollment_fallback": ("allow_new_enrollment_fallback", bool),
        "scan_in": ("scan_in", ScanIn),
        "max_per_minute": ("max_enrollments_per_minute", lambda v: float(v) if v is not None else None),
        "scan_in_timeout": ("scan_in_timeout", float),
    }
    for option, (field, convert) in converters.items():
        if option in given:
            fields[field] = convert(given[option])
    return fields


@_cli_errors
def cmd_add(args: argparse.Namespace) -> int:
    authorise(args, Action.EDIT_PROFILES, *([Action.PIN_TRUST_ANCHOR] if args.ca else []))
    store = ProfileStore()
    profile = Profile(name=args.name, **_profile_fields(args))
    path = store.save(profile, overwrite=args.force)
    log.info("profile %s saved to %s", profile.name, path)
    print(f"saved profile {profile.name} to {path}")
    needed = required_purposes(profile)
    if needed:
        print(f"next: certline profile set-passcode {profile.name}")
    return 0


@_cli_errors
def cmd_edit(args: argparse.Namespace) -> int:
    authorise(args, Action.EDIT_PROFILES, *([Action.PIN_TRUST_ANCHOR] if getattr(args, "ca", None) else []))
    store = ProfileStore()
    profile = store.load(args.name)
    changes = _profile_fields(args)
    if not changes:
        raise CliError("nothing to change: name the settings to change (certline profile edit --help)")
    updated = dataclasses.replace(profile, **changes)
    # what really differs: a value given again (or an unset option cleared) is no change to report
    changed = sorted(field for field, value in changes.items() if getattr(profile, field) != value)
    if not changed:
        print(f"profile {profile.name} unchanged: {', '.join(sorted(changes))} already had those values")
        return 0
    path = store.save(updated, overwrite=True)
    log.info("profile %s changed (%s) in %s", updated.name, ", ".join(changed), path)
    print(f"saved profile {updated.name}: changed {', '.join(changed)}")
    if required_purposes(updated) != required_purposes(profile):
        print(f"next: certline profile set-passcode {updated.name}")
    return 0


@_cli_errors
def cmd_list(args: argparse.Namespace) -> int:
    profiles, errors = ProfileStore().load_all()
    for error in errors:
        print(f"certline profile: warning: {scrub(str(error))}", file=sys.stderr)
    if args.json:
        print(json.dumps([p.to_json() for p in profiles], indent=2))
        return 0
    if not profiles:
        print("no profiles (create one with: certline profile add NAME --url https://...)")
        return 0
    width = max(len(p.name) for p in profiles)
    for p in profiles:
        label = f"  {p.label}" if p.label else ""
        print(f"{p.name:<{width}}  {p.auth_style.value:<13}  {p.enroll_url}{label}")
    return 0


def _secret_status(store: SecretStore, profile: Profile, purpose: Purpose) -> str:
    try:
        stored = store.has(profile, purpose)
    except KeyringUnavailable as exc:
        return f"unknown, keyring unavailable: {exc}"
    if stored:
        return "stored in keyring"
    return f"missing (certline profile set-passcode {profile.name} --purpose {purpose.value})"


@_cli_errors
def cmd_show(args: argparse.Namespace) -> int:
    profile = ProfileStore().load(args.name)
    print(json.dumps(profile.to_json(), indent=2))
    store = SecretStore()
    for purpose in wanted_purposes(profile):
        print(f"{purpose.value}: {_secret_status(store, profile, purpose)}")
    return 0


@_cli_errors
def cmd_export(args: argparse.Namespace) -> int:
    store = ProfileStore()
    if args.file == "-":
        print(json.dumps(store.load(args.name).to_json(), indent=2))
        return 0
    path = store.export_file(args.name, Path(args.file))
    print(f"exported profile {args.name} to {path} (secrets are not exported)", file=sys.stderr)
    return 0


@_cli_errors
def cmd_import(args: argparse.Namespace) -> int:
    authorise(args, Action.EDIT_PROFILES, Action.PIN_TRUST_ANCHOR)
    profile = import_profile(ProfileStore(), args.file, name=args.name, overwrite=args.force)
    log.info("profile %s imported from %s", profile.name, args.file)
    print(f"imported profile {profile.name}")
    if required_purposes(profile):
        print(f"next: certline profile set-passcode {profile.name}")
    return 0


def _prompt_secret(label: str, name: str) -> str:
    if not sys.stdin.isatty():
        raise CliError(
            f"no terminal to prompt for the {label}: run interactively, or put it in an "
            f"environment variable and use --from-env VAR"
        )
    first = getpass.getpass(f"{label} for profile {name}: ")
    if not first:
        raise CliError(f"empty {label}; nothing stored")
    second = getpass.getpass(f"repeat {label}: ")
    if first != second:
        raise CliError("the two entries differ; nothing stored")
    return first


def _add_passcode_limit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uses",
        metavar="N",
        help="how many enrollments the passcode allows (its usage limit on the CA); 'none' = no limit",
    )
    parser.add_argument(
        "--expires",
        metavar="DATE",
        help="when the passcode stops working: 2026-12-31 (end of that day, UTC) or an ISO 8601 "
        "date-time; 'none' = never",
    )


_UNSET = object()


def _optional_number(value: str | None, option: str, kind: type) -> Any:
    """``_UNSET`` when the option was not given, None for 'none', else the number."""
    if value is None:
        return _UNSET
    if value.strip().lower() == "none":
        return None
    try:
        return kind(value)
    except ValueError:
        raise CliError(f"{option} takes a number or 'none', not {value!r}") from None


def _optional_text(value: str | None) -> Any:
    if value is None:
        return _UNSET
    return None if value.strip().lower() == "none" else value.strip()


@_cli_errors
def cmd_set_limits(args: argparse.Namespace) -> int:
    authorise(args, Action.EDIT_PROFILES)
    store = ProfileStore()
    profile = store.load(args.name)
    changes: dict[str, Any] = {}
    for field_name, value in (
        ("passcode_max_uses", _optional_number(args.uses, "--uses", int)),
        ("passcode_expires", _optional_text(args.expires)),
        ("max_enrollments_per_minute", _optional_number(args.max_per_minute, "--max-per-minute", float)),
    ):
        if value is not _UNSET:
            changes[field_name] = value
    if args.passcode_name is not None:
        changes["passcode_id"] = args.passcode_name.strip() or None
    if not changes:
        raise CliError("nothing to change: give --uses, --expires, --passcode-name or --max-per-minute")
    if (
        profile.passcode_id is None
        and "passcode_id" not in changes
        and ("passcode_max_uses" in changes or "passcode_expires" in changes)
    ):
        changes["passcode_id"] = new_passcode_id()
    updated = dataclasses.replace(profile, **changes)
    store.save(updated)
    print(f"profile {updated.name}: " + ", ".join(f"{k} = {v}" for k, v in changes.items()))
    return 0


@_cli_errors
def cmd_set_passcode(args: argparse.Namespace) -> int:
    authorise(args, Action.CHANGE_SECRETS)
    profile = ProfileStore().load(args.name)
    if args.purpose:
        purpose = Purpose(args.purpose)
    else:
        needed = required_purposes(profile)
        purpose = needed[0] if needed else Purpose.P12_PASSWORD
    label = _PURPOSE_LABEL[purpose]
    store = SecretStore()
    store.check_backend()  # before asking: do not make anyone type a secret for nothing
    # validated before it is registered for redaction: a refused value ("short") must not be
    # scrubbed out of the words of its refusal; the message never contains the value itself
    if args.from_env:
        value = secret_from_env(args.from_env, register=False)
    else:
        value = _prompt_secret(label, profile.name)
    if purpose is Purpose.PASSCODE:
        uses = _optional_number(args.uses, "--uses", int)
        expires = _optional_text(args.expires)
        journal = _journal_for_audit(args)
        try:
            updated = set_new_passcode(
                profile,
                value,
                max_uses=None if uses is _UNSET else uses,
                expires=None if expires is _UNSET else expires,
                passcode_id=args.passcode_name,
                store=store,
                journal=journal,
            )
        except PasscodeRefused as exc:
            raise CliError(str(exc)) from None
        finally:
            if journal is not None:
                journal.close()
        log.info("stored passcode of profile %s in %s", profile.name, store.describe_backend())
        print(f"stored the {label} of profile {profile.name} in the keyring ({store.describe_backend()})")
        print(f"its uses are counted as passcode {updated.passcode_id!r}" + _limits_text(updated))
        return 0
    if args.uses is not None or args.expires is not None or args.passcode_name is not None:
        raise CliError("--uses, --expires and --passcode-name describe an enrollment passcode only")
    problem = passcode_problem(value, purpose)
    if problem:
        raise CliError(f"{problem}; nothing stored")
    register_secret(value)
    store.set(profile, purpose, value)
    log.info("stored %s of profile %s in %s", purpose.value, profile.name, store.describe_backend())
    print(f"stored the {label} of profile {profile.name} in the keyring ({store.describe_backend()})")
    return 0


def _limits_text(profile: Profile) -> str:
    uses = f"{profile.passcode_max_uses} uses" if profile.passcode_max_uses is not None else "no usage limit"
    expires = f"expires {profile.passcode_expires}" if profile.passcode_expires else "no expiry"
    return f" ({uses}, {expires})"


def _journal_for_audit(args: argparse.Namespace) -> Any:
    """The station's journal, to record the change in its audit (best effort: a profile change on
    a PC without a journal yet is still a change)."""
    from certline.app.batch.journal_api import JournalError
    from certline.app.cli.journal_args import journal_from_args

    try:
        return journal_from_args(args)
    except (JournalError, OSError) as exc:
        log.warning("passcode change not recorded in the journal's audit: %s", exc)
        return None


@_cli_errors
def cmd_delete(args: argparse.Namespace) -> int:
    authorise(args, Action.EDIT_PROFILES)
    profile_name = args.name
    ProfileStore().delete(profile_name)
    log.info("profile %s deleted", profile_name)
    print(f"deleted profile {profile_name}")
    if args.keep_secrets:
        return 0
    try:
        removed = SecretStore().delete_all(profile_name)
    except KeyringUnavailable as exc:
        print(f"certline profile: warning: keyring entries not removed: {exc}", file=sys.stderr)
        return 0
    if removed:
        print("removed from the keyring: " + ", ".join(p.value for p in removed))
    return 0
