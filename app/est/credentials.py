"""Secrets the EST client needs, kept apart from the (secret-free) profile.

Callers build a :class:`Credentials` from the OS keyring or from an environment
variable named on the command line -- never from argv or a config file. The
object's ``repr``/``str`` never shows a value, so it is safe in a traceback's
locals or a debug log line by accident.
"""

from __future__ import annotations

import os
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

    @classmethod
    def from_env(
        cls,
        *,
        passcode_var: str | None = None,
        password_var: str | None = None,
        p12_password_var: str | None = None,
    ) -> Credentials:
        """Read secrets from the named environment variables (unset or empty -> None).

        Raises ``KeyError`` naming the *variable* (never its value) when a named one is unset.
        """

        def read(var: str | None) -> str | None:
            if not var:
                return None
            value = os.environ.get(var)
            if value is None:
                raise KeyError(f"environment variable {var} is not set")
            return value or None

        return cls(
            passcode=read(passcode_var),
            password=read(password_var),
            p12_password=read(p12_password_var),
        )
