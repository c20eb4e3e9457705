"""The one place Certline gets a profile's secrets: a typed secret, an environment variable, the keyring.

:class:`CredentialSource` is what the CLI (``--passcode-env VAR``,
``--p12-password-env VAR``), the GUI station and the profile editor's
connection test use to turn a profile into :class:`~certline.app.est.credentials.Credentials`.
Which secrets it looks for, and which ones must be there, is the rule in
``app/security/secret_needs.py``. For each wanted secret it takes, in this order:

1. the secret just typed (profile editor), for the purpose the editor's field holds;
2. the environment variable named for it on the command line;
3. the OS keyring (``app/security/secret_store.py``), only when 1 and 2 left something wanted unfilled,
   so a run that names its variables never touches a keyring.

Every value it returns is registered with ``certline.app.security.redaction`` first. Secrets are
never read from argv or files. :func:`secret_from_env` is the only reader of a
secret from the environment. Keyring calls may block on D-Bus: call this from a
worker thread, never from the GUI thread.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping

from certline.app.config.profile import Profile
from certline.app.est.credentials import Credentials
from certline.app.security.redaction import register_secret
from certline.app.security.secret_needs import Need, need_for, typed_secret_purpose, wanted_purposes
from certline.app.security.secret_store import KeyringUnavailable, Purpose, SecretStore, SecretStoreError

log = logging.getLogger(__name__)

#: the command line option that names a variable for each secret (used in hints)
ENV_OPTION = {
    Purpose.PASSCODE: "--passcode-env",
    Purpose.USER_PASSWORD: "--passcode-env",
    Purpose.P12_PASSWORD: "--p12-password-env",
}


class SecretMissing(SecretStoreError):
    """A required secret could not be found; the message says where we looked and how to fix it."""


class SecretFromEnvError(SecretMissing):
    """``--passcode-env VAR`` (or similar) named a variable that is unset or empty."""


def secret_from_env(var_name: str, environ: Mapping[str, str] | None = None, *, register: bool = True) -> str:
    """The secret in environment variable ``var_name``, registered for redaction.

    ``register=False`` is for a value that is validated before use (``profile set-passcode``):
    a refused value such as ``short`` would otherwise be scrubbed out of the very words of the
    refusal; the caller registers it once it is accepted. Errors name the variable, never a value.
    """
    value = (os.environ if environ is None else environ).get(var_name)
    if value is None:
        raise SecretFromEnvError(f"environment variable {var_name} is not set")
    if not value:
        raise SecretFromEnvError(f"environment variable {var_name} is empty")
    if register:
        register_secret(value)
    return value


def _missing_message(profile: Profile, purpose: Purpose, *, keyring_used: bool) -> str:
    option = ENV_OPTION[purpose]
    if not keyring_used:
        return f"no {purpose.value} given for profile {profile.name!r}: name a variable with {option}"
    store_it = f"certline profile set-passcode {profile.name}"
    if purpose is not Purpose.PASSCODE:
        store_it += f" --purpose {purpose.value}"
    return (
        f"no {purpose.value} for profile {profile.name!r} in the keyring; store it with "
        f"'{store_it}' or name a variable with {option}"
    )


class CredentialSource:
    """Where one run takes its secrets from (see the module docstring for the order).

    ``basic_env``: variable holding the HTTP Basic secret -- the passcode, or the
    password of the ``user-password`` style. ``p12_env``: variable holding the
    PKCS#12 (or encrypted PEM key) password. ``typed``: the secret just typed in
    the profile editor. ``use_keyring``: False for ``certline est``, which takes
    secrets only from the environment. ``store_factory`` makes the keyring store
    (tests pass one backed by a memory keyring).
    """

    def __init__(
        self,
        *,
        basic_env: str | None = None,
        p12_env: str | None = None,
        typed: str | None = None,
        use_keyring: bool = True,
        store_factory: Callable[[], SecretStore] = SecretStore,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._basic_env = basic_env
        self._p12_env = p12_env
        self._typed = typed or None
        self._use_keyring = use_keyring
        self._store_factory = store_factory
        self._environ = environ

    def credentials(self, profile: Profile, *, strict: bool = True) -> Credentials:
        """The secrets ``profile`` uses, from the first source that has each.

        ``strict`` (the command line): a required secret that cannot be found, or an
        unusable keyring when a required secret had to come from it, raises
        :class:`SecretMissing`. Not strict (the GUI, which shows a missing secret in its
        station bar instead): what cannot be found is left out, and an unusable keyring
        is logged. A variable that is named but unset or empty always raises
        :class:`SecretFromEnvError`: that is a typing mistake, not a missing secret.
        """
        found = self._from_env()
        wanted = wanted_purposes(profile)
        if self._typed is not None:
            found[typed_secret_purpose(profile)] = self._typed
        values = {p: v for p, v in found.items() if p in wanted}
        unfilled = [p for p in wanted if p not in values]
        if unfilled and self._use_keyring:
            values.update(self._from_keyring(profile, unfilled, strict=strict))
        if strict:
            for purpose in wanted:
                if need_for(profile, purpose) is Need.REQUIRED and not values.get(purpose):
                    raise SecretMissing(_missing_message(profile, purpose, keyring_used=self._use_keyring))
        for value in values.values():
            register_secret(value)
        return Credentials(
            passcode=values.get(Purpose.PASSCODE),
            password=values.get(Purpose.USER_PASSWORD),
            p12_password=values.get(Purpose.P12_PASSWORD),
        )

    def _from_env(self) -> dict[Purpose, str]:
        """Every named variable is read (so a typo fails loudly), by purpose."""
        found: dict[Purpose, str] = {}
        if self._basic_env:
            basic = secret_from_env(self._basic_env, self._environ)
            found[Purpose.PASSCODE] = found[Purpose.USER_PASSWORD] = basic
        if self._p12_env:
            found[Purpose.P12_PASSWORD] = secret_from_env(self._p12_env, self._environ)
        return found

    def _from_keyring(self, profile: Profile, purposes: list[Purpose], *, strict: bool) -> dict[Purpose, str]:
        try:
            store = self._store_factory()
            stored = {p: store.get(profile, p) for p in purposes}
        except KeyringUnavailable as exc:
            required = [p for p in purposes if need_for(profile, p) is Need.REQUIRED]
            if strict and required:  # the command line: its own way round the keyring
                options = " and ".join(sorted({ENV_OPTION[p] for p in required}))
                raise SecretMissing(
                    f"{exc} Or name a variable holding the secret with {options} VAR."
                ) from None
            log.warning("keyring unavailable, continuing without the profile's secret: %s", exc)
            return {}
        return {p: v for p, v in stored.items() if v}


def mes_token(
    env_var: str | None = None,
    *,
    use_keyring: bool = True,
    store_factory: Callable[[], SecretStore] = SecretStore,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """The MES endpoint's bearer token: the named environment variable, else the keyring entry
    stored by ``certline mes set-token``, else None (an MES that wants none). Registered for
    redaction. Blocking (keyring): never on the GUI thread."""
    if env_var:
        return secret_from_env(env_var, environ)
    if not use_keyring:
        return None
    try:
        token = store_factory().get_mes_token()
    except KeyringUnavailable as exc:
        log.warning("keyring unavailable, posting to the MES without a token: %s", exc)
        return None
    register_secret(token)
    return token
