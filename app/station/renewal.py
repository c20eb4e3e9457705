"""Renew one unit's certificate on its port: the use case behind ``certline reenroll --port``
and the station window's "Re-enroll a unit…".

The unit signs the TLS handshake itself (its key never leaves it) and re-enrollment
authenticates with the certificate being renewed, so no passcode is involved. The work is
:class:`certline.app.reenroll.Reenrollment`; this module only opens and closes the unit and the EST
client the same way for both views.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from certline.app.batch.journal_api import JournalBackend
from certline.app.config.profile import Profile
from certline.app.reenroll import CurrentCredential, Reenrollment, RenewalResult, read_current

if TYPE_CHECKING:
    from certline.app.est.client import EstClient


def read_unit(profile: Profile, port: str) -> CurrentCredential:
    """Open the unit on ``port``, read the credential it holds, close it (blocking: a worker's job)."""
    from certline.app.device.registry import open_driver

    driver = open_driver(profile.driver, port, profile.baud)
    try:
        return read_current(driver)
    finally:
        driver.close()


def renew_unit(
    journal: JournalBackend,
    profile: Profile,
    port: str,
    *,
    rekey: bool = False,
    operator: str | None = None,
    client: EstClient | None = None,
    proceed: Callable[[CurrentCredential], bool] | None = None,
) -> RenewalResult | None:
    """Read the unit's certificate and renew it; journaled and audited like a batch step.

    ``proceed`` sees the current credential first and may stop there (``certline reenroll
    --show``), in which case nothing is renewed and None is returned. Without ``client`` a
    one-connection client with no passcode is made and closed here.
    """
    from certline.app.device.registry import open_driver

    if client is None:
        from certline.app.est.client import EstClient
        from certline.app.est.credentials import Credentials

        with EstClient(profile, Credentials(), pool_size=1) as own_client:
            return renew_unit(
                journal, profile, port, rekey=rekey, operator=operator, client=own_client, proceed=proceed
            )
    driver = open_driver(profile.driver, port, profile.baud)
    try:
        current = read_current(driver)
        if proceed is not None and not proceed(current):
            return None
        renewal = Reenrollment(journal=journal, profile=profile, client=client, driver=driver)
        return renewal.renew(current, rekey=rekey, operator=operator)
    finally:
        driver.close()
