"""A provisioning profile: everything a station needs to enroll a kind of device, minus secrets.

Profiles are stored and exported as JSON. Secrets (passcode, PKCS#12
password) are never fields here: they live in the OS keyring under names
derived from the profile name (see ``app/security/secret_store.py``) or arrive through an
environment variable named on the command line.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from certline.app.pki import KeyAlgorithm


class AuthStyle(enum.StrEnum):
    """How the station authenticates to the EST server for a first enrollment."""

    PASSCODE_ONLY = "passcode-only"  # DTM: Basic token = base64(passcode)
    USER_PASSWORD = "user-password"  # noqa: S105 - a style name, not a secret. RFC 7617: Basic token = base64(user:password)
    CLIENT_CERT = "client-cert"  # TLS client certificate from PEM files or PKCS#12


class CsrFormat(enum.StrEnum):
    RFC7030 = "rfc7030"  # application/pkcs10, base64 of DER wrapped at 64 columns
    PEM_TEXT = "pem-text"  # DTM: PEM CSR as text/plain


class KeyGeneration(enum.StrEnum):
    DEVICE = "device"
    SERVER = "server"


class ScanIn(enum.StrEnum):
    """Whether each unit must be bound to its scanned label before anything is done to it."""

    OFF = "off"
    REQUIRED = "required"


DEFAULT_SUBJECT_TEMPLATE: dict[str, str] = {"CN": "{serial}"}


def parse_passcode_expiry(text: str) -> datetime:
    """A passcode's expiry as an aware UTC instant.

    A bare date means the passcode works through that whole day (UTC), as a CA's portal shows a
    validity end date; a date-time without a zone is taken as UTC. Raises ``ValueError``.
    """
    value = text.strip()
    if len(value) == 10:
        day = date.fromisoformat(value)
        return datetime.combine(day, time.max, tzinfo=UTC)
    when = datetime.fromisoformat(value)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass
class Profile:
    """EST connection and provisioning settings. Field names are the JSON keys."""

    name: str
    enroll_url: str
    reenroll_url: str | None = None
    label: str | None = None
    device_group: str | None = None
    auth_style: AuthStyle = AuthStyle.PASSCODE_ONLY
    username: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    client_p12_file: str | None = None
    ca_bundle_file: str | None = None
    ca_bundle_pem: str | None = None
    """Pinned trust anchors (PEM); preferred over ``ca_bundle_file`` once bootstrapped."""
    csr_format: CsrFormat = CsrFormat.RFC7030
    key_generation: KeyGeneration = KeyGeneration.DEVICE
    key_algorithm: KeyAlgorithm = KeyAlgorithm.EC_P256
    subject_template: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SUBJECT_TEMPLATE))
    require_pop: bool = False
    concurrency: int = 4
    request_timeout: float = 30.0
    """Overall deadline of one EST request in seconds: connect, TLS, request and the whole answer."""
    driver: str = "certline"
    baud: int = 115200
    port_filters: dict[str, str] = field(default_factory=dict)
    include_non_usb_ports: bool = False
    """Automatic port discovery also takes serial ports without a USB VID:PID (built-in UARTs)."""
    allow_new_enrollment_fallback: bool = False
    """Re-enrollment: allow a fresh passcode enrollment when the device cannot sign (never silent)."""
    label_printing: dict[str, Any] | None = None
    """Unit labels after DONE: template, output, target (see ``app/labels/settings.py``); None = none."""
    scan_in: ScanIn = ScanIn.OFF
    """``required``: each unit waits, before any side effect, for its label to be scanned and
    fails when the label names another unit (see ``app/batch/label_desk.py``)."""
    scan_in_timeout: float = 600.0
    """Seconds a unit waits for its label before it fails as ``no-label``; 0 waits without limit."""
    passcode_id: str | None = None
    """Non-secret name of the passcode now in use (a new one each time the passcode is set, or the
    name the CA gave it): the journal counts enrollments per ``passcode_id``, never per passcode."""
    passcode_max_uses: int | None = None
    """How many enrollments the passcode allows (DTM usage limit); None = no limit known."""
    passcode_expires: str | None = None
    """When the passcode stops working, ISO 8601 (``2026-12-31`` = end of that day, UTC); None = never."""
    max_enrollments_per_minute: float | None = None
    """Enrollment requests per minute this station sends for the profile, at most (a token bucket
    shared by every worker), so a CA's throttle is never tripped; None = no limit."""

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, enum.Enum):
                data[key] = value.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown profile fields: {', '.join(sorted(unknown))}")
        values = dict(data)
        for key, enum_type in (
            ("auth_style", AuthStyle),
            ("csr_format", CsrFormat),
            ("key_generation", KeyGeneration),
            ("key_algorithm", KeyAlgorithm),
            ("scan_in", ScanIn),
        ):
            if key in values and values[key] is not None:
                values[key] = enum_type(values[key])
        return cls(**values)

    def render_subject(self, serial_number: str) -> dict[str, str]:
        """Fill the subject template from what the device reported."""
        return {attr: value.format(serial=serial_number) for attr, value in self.subject_template.items()}
