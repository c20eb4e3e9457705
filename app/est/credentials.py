"""Secrets the EST client needs, kept apart from the (secret-free) profile.

``certline.app.station.credential_source.CredentialSource`` builds a :class:`Credentials` from a typed
secret, an environment variable named on the command line or the OS keyring --
never from argv or a config file. The object's ``repr``/``str`` never shows a
value, so it is safe in a traceback's locals or a debug log line by accident.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, repr=False)
class Credentials:
    """EST secrets.

    ``passcode``: the enrollment passcode (DTM Basic token = base64(passcode)) or, for the
    ``user-password`` style, the password half of ``user:password`` when ``password`` is unset.
    ``password``: the HTTP Basic password for ``user-password`` (falls back to ``passcode``).
    ``p12_password``: opens the PKCS#12 client credential, or an encrypted PEM client key.
    """

    passcode: str | None = None
    password: str | None = None
    p12_password: str | None = None

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={'<set>' if getattr(self, name) else None}"
            for name in ("passcode", "password", "p12_password")
        )
        return f"Credentials({shown})"

    __str__ = __repr__

    @property
    def basic_secret(self) -> str | None:
        """The secret that goes into HTTP Basic (password preferred, then passcode)."""
        return self.password or self.passcode

    def secrets(self) -> tuple[str, ...]:
        """Every non-empty secret, so error text from a server can be scrubbed of echoes."""
        return tuple(s for s in (self.passcode, self.password, self.p12_password) if s)
