""" "Test connection" in the profile editor: ``/cacerts`` and ``/csrattrs``, and exactly what worked.

Runs in a worker with the profile as it is on screen. Each operation is
reported on its own, with the server's answer in words, so an engineer can
tell a wrong URL (404) from an untrusted server (TLS, with the fingerprint)
from a closed port. Neither operation proves the passcode: servers answer
both without authentication, and the report says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication

from certline.app.config.profile import Profile
from certline.app.est.credentials import Credentials
from certline.app.est.results import CsrAttributes

translate = QCoreApplication.translate  # lupdate finds translate("Context", "text") calls

ClientFactory = Callable[[Profile, Credentials], Any]


@dataclass(frozen=True)
class CheckResult:
    operation: str
    ok: bool | None
    """True worked, False failed, None not checked."""
    detail: str
    tls_untrusted: bool = False
    """The server's certificate is not trusted yet: offer the bootstrap dialog."""


def default_client_factory(profile: Profile, credentials: Credentials) -> Any:
    from certline.app.est.client import EstClient

    return EstClient(profile, credentials, pool_size=1, timeout=15.0, retries=0)


def describe_attrs(attrs: CsrAttributes) -> str:
    parts = []
    if attrs.key_algorithm is not None:
        parts.append(translate("ConnectionTest", "key algorithm %1").replace("%1", attrs.key_algorithm.value))
    if attrs.challenge_password_required:
        parts.append(translate("ConnectionTest", "challenge password required"))
    if attrs.template_subject:
        parts.append(
            translate("ConnectionTest", "subject %1").replace(
                "%1", ", ".join(f"{k}={v}" for k, v in attrs.template_subject.items())
            )
        )
    if attrs.extension_oids:
        parts.append(
            translate("ConnectionTest", "extensions %1").replace("%1", ", ".join(attrs.extension_oids))
        )
    return "; ".join(parts) or translate("ConnectionTest", "no requirements")


def _failure(operation: str, exc: Exception) -> CheckResult:
    from certline.app.est.errors import EstTlsError

    return CheckResult(
        operation, False, str(exc) or type(exc).__name__, tls_untrusted=isinstance(exc, EstTlsError)
    )


def run_connection_test(
    profile: Profile, credentials: Credentials, client_factory: ClientFactory = default_client_factory
) -> list[CheckResult]:
    """Blocking: build a client, call ``/cacerts`` then ``/csrattrs``; never raises."""
    try:
        client = client_factory(profile, credentials)
    except Exception as exc:  # noqa: BLE001 - a bad profile is a result to show, not a crash
        return [CheckResult(translate("ConnectionTest", "EST client"), False, str(exc))]
    results: list[CheckResult] = []
    try:
        try:
            cas = client.cacerts()
            names = "; ".join(c.subject.rfc4514_string() for c in cas[:3])
            results.append(
                CheckResult(
                    "/cacerts",
                    True,
                    translate("ConnectionTest", "%1 CA certificate(s), verified against the trust anchor: %2")
                    .replace("%1", str(len(cas)))
                    .replace("%2", names),
                )
            )
        except Exception as exc:  # noqa: BLE001 - reported per operation
            results.append(_failure("/cacerts", exc))
        try:
            results.append(CheckResult("/csrattrs", True, describe_attrs(client.csrattrs())))
        except Exception as exc:  # noqa: BLE001 - reported per operation
            results.append(_failure("/csrattrs", exc))
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()
    results.append(
        CheckResult(
            translate("ConnectionTest", "Passcode"),
            None,
            translate(
                "ConnectionTest",
                "servers answer these requests without authentication; the first enrollment proves it",
            ),
        )
    )
    return results
