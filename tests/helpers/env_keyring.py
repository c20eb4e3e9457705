"""A keyring for a station started as a child process by a test: the secrets come in its environment.

``PYTHON_KEYRING_BACKEND=tests.helpers.env_keyring.EnvKeyring`` with
``CERTLINE_TEST_SECRETS`` holding ``{"<service>/<username>": "<secret>"}`` as JSON. Nothing
is written to disk and the developer's own keyring is never touched.
"""

from __future__ import annotations

import json
import os

from keyring.backend import KeyringBackend
from keyring.compat import properties

VARIABLE = "CERTLINE_TEST_SECRETS"


class EnvKeyring(KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:
        # keyring's chainer offers every imported backend class that is viable: once a test has
        # imported this module, it would join the real Secret Service chain of later tests.
        # Named explicitly through PYTHON_KEYRING_BACKEND it is used without asking this.
        if VARIABLE not in os.environ:
            raise RuntimeError(f"only for a test's child process (needs {VARIABLE})")
        return 0.1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, str] = json.loads(os.environ.get(VARIABLE, "{}"))

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[f"{service}/{username}"] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop(f"{service}/{username}", None)


def environment(secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The variables that give a child process these ``(service, username) -> secret`` entries."""
    return {
        "PYTHON_KEYRING_BACKEND": f"{__name__}.EnvKeyring",
        VARIABLE: json.dumps({f"{service}/{user}": value for (service, user), value in secrets.items()}),
    }
